"""The evidence: what the reports say.

The data and their contract, the statistics, the numbers behind every table and figure, the tables,
figures and prose, and who reports each figure. Nothing here knows how reports are built, printed,
compared or sent: this wing imports nothing from `crizotinib_reports.publish`.
"""
