"""Errors people read. Each carries the exit code the CLI returns for it."""

from __future__ import annotations


class CrizotinibReportsError(Exception):
    """Base class: the message is one line saying what, where and how to mend it."""

    exit_code = 1


class UsageError(CrizotinibReportsError):
    """Bad command line: unknown report, format or parameter, or a bad value."""

    exit_code = 2


class DataValidationError(CrizotinibReportsError):
    """One or more data files break the contract in data/schema.yaml."""

    exit_code = 2

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"invalid data: {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  {p}" for p in self.problems))


class ReportFailed(CrizotinibReportsError):
    """A report's notebook raised, or its rendering failed."""

    exit_code = 1


class OutputLocked(CrizotinibReportsError):
    """Another build holds the output folder and the caller asked not to wait."""

    exit_code = 1
