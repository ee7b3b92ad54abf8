"""The publisher: how the reports are built, printed, compared and sent.

The portfolio read from the notebooks, parameter sets, the build (snapshot, kernels, render workers,
the output folder), the HTML and PDF exporters, the combined PDF, scheduled runs, what changed, mail.
"""
