"""Cited clinical evidence on crizotinib in ALK-positive NSCLC, as notebook reports.

Nothing here does I/O at import: notebooks and the CLI call the functions they need.
"""

__version__ = "0.1.0"
