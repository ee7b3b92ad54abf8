"""What changed between two runs: the numbers behind every report table, compared value by value.

Each report writes its tables as CSV (`<report>/tables/<table>.csv`). Two runs are compared
table by table; rows are matched on their identifying columns (`trial_id`, `arm`, `endpoint`, ...;
else on every text column), so a changed number reads as
"clinical_activity / efficacy, phase1 · crizotinib: orr_pct 61 -> 62" rather than as a removed
and an added row. Within a table, changes are listed column by column, so a changed input
(`orr_pct`) comes before what is derived from it (intervals, pooled estimates). Standard library
only: a scheduled run compares without pandas.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MAX_LINES = 40  # a summary is read in a mail body; the JSON keeps every change
PER_TABLE = 4  # detail lines per table in the summary
KEY_NAMES = {"arm", "endpoint", "analysis", "agency", "measure", "mechanism", "topic", "pattern", "label"}
NOT_KEYS = {"source_id", "denominator_source_id"}
LABELS = {"changed": ("changed value", "changed values"), "added row": ("added row", "added rows"),
          "removed row": ("removed row", "removed rows"), "added table": ("added table", "added tables"),
          "removed table": ("removed table", "removed tables")}


@dataclass(frozen=True)
class Change:
    kind: str  # "changed", "added row", "removed row", "added table", "removed table"
    report: str
    table: str
    row: str = ""
    column: str = ""
    before: str = ""
    after: str = ""

    def line(self) -> str:
        where = f"{self.report} / {self.table}"
        if self.kind == "changed":
            return f"{where}, {self.row}: {self.column} {_shown(self.before)} -> {_shown(self.after)}"
        if self.kind in ("added row", "removed row"):
            return f"{where}: {self.kind} {self.row}"
        return f"{where}: {self.kind}"


@dataclass
class ChangeSummary:
    previous_run: str | None
    changes: list[Change] = field(default_factory=list)
    tables_compared: int = 0

    @property
    def headline(self) -> str:
        if self.previous_run is None:
            return "first run: nothing to compare with"
        if not self.changes:
            return f"no change in the {self.tables_compared} report tables since run {self.previous_run}"
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change.kind] = counts.get(change.kind, 0) + 1
        parts = ", ".join(f"{n} {LABELS[kind][n != 1]}" for kind, n in counts.items())
        return f"since run {self.previous_run}: {parts}"

    def lines(self, limit: int = MAX_LINES) -> list[str]:
        """Up to PER_TABLE changes of each table, then how many more; at most `limit` lines."""
        shown: list[str] = []
        tables: dict[tuple[str, str], list[Change]] = {}
        for change in self.changes:
            tables.setdefault((change.report, change.table), []).append(change)
        for (report, table), changes in tables.items():
            shown += [c.line() for c in changes[:PER_TABLE]]
            if len(changes) > PER_TABLE:
                shown.append(f"{report} / {table}: and {len(changes) - PER_TABLE} more changes in this table")
        if len(shown) > limit:
            shown = shown[:limit] + [f"... and more (see changes.json: {len(self.changes)} changes in all)"]
        return shown

    def as_markdown(self) -> str:
        return "\n".join([self.headline, *[f"- {line}" for line in self.lines()]]) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {"previous_run": self.previous_run, "headline": self.headline,
                "tables_compared": self.tables_compared, "changes": [asdict(c) for c in self.changes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ChangeSummary":
        return cls(data.get("previous_run"), [Change(**c) for c in data.get("changes", [])],
                   data.get("tables_compared", 0))


def read_table_csvs(run_dir: Path, reports: list[str]) -> dict[tuple[str, str], str]:
    """(report folder, table name) -> CSV text for the given report folders of a run."""
    found = {}
    for report in reports:
        for path in sorted((run_dir / report / "tables").glob("*.csv")):
            found[(report, path.stem)] = path.read_text(encoding="utf-8")
    return found


def compare_runs(previous: dict[tuple[str, str], str] | None, current: dict[tuple[str, str], str],
                 previous_run: str | None) -> ChangeSummary:
    """Every added, removed and changed value between two runs' report tables."""
    summary = ChangeSummary(previous_run)
    if previous is None:
        return summary
    for key in sorted(set(previous) | set(current)):
        report, table = key
        if key not in previous:
            summary.changes.append(Change("added table", report, table))
        elif key not in current:
            summary.changes.append(Change("removed table", report, table))
        else:
            summary.tables_compared += 1
            summary.changes.extend(compare_tables(report, table, previous[key], current[key]))
    return summary


def _is_number(text: str) -> bool:
    try:
        return not math.isnan(float(text))
    except ValueError:
        return False


def _rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def _shown(text: str) -> str:
    """A number as people read it (4 significant digits); the JSON keeps the full text."""
    return f"{float(text):.4g}" if _is_number(text) else text


def _key_columns(columns: list[str], *tables: list[dict[str, str]]) -> list[str]:
    """Identifying columns (ids, arm, endpoint, ...) if they tell each table's rows apart, else every text column."""
    rows = [row for table in tables for row in table]
    text = [c for c in columns if c not in NOT_KEYS and any(row.get(c) and not _is_number(row[c]) for row in rows)]
    named = [c for c in text if c.endswith("_id") or c in KEY_NAMES]
    if named and all(len({tuple(row.get(c) for c in named) for row in table}) == len(table) for table in tables):
        return named
    return text


def _keyed(rows: list[dict[str, str]], key_columns: list[str]) -> dict[str, dict[str, str]]:
    """Rows by the text of their key columns; by position when that text does not tell rows apart."""
    keys = [" · ".join(row.get(c, "") for c in key_columns if row.get(c, "")) for row in rows]
    if not key_columns or len(set(keys)) < len(keys) or not all(keys):
        keys = [f"row {i}" for i in range(1, len(rows) + 1)]
    return dict(zip(keys, rows))


def compare_tables(report: str, table: str, before_text: str, after_text: str) -> list[Change]:
    if before_text == after_text:
        return []
    before_columns, before_rows = _rows(before_text)
    after_columns, after_rows = _rows(after_text)
    columns = [c for c in after_columns if c in before_columns]
    key_columns = _key_columns(columns, before_rows, after_rows)
    before, after = _keyed(before_rows, key_columns), _keyed(after_rows, key_columns)
    changes = [Change("removed row", report, table, row=k) for k in before if k not in after]
    changes += [Change("added row", report, table, row=k) for k in after if k not in before]
    for column in after_columns:  # column by column: inputs come before the columns derived from them
        for key in (k for k in after if k in before):
            old, new = before[key].get(column), after[key].get(column)
            if old != new and not (old is not None and new is not None and _same_number(old, new)):
                changes.append(Change("changed", report, table, row=key, column=column,
                                      before="(none)" if old is None else old or "(empty)",
                                      after="(none)" if new is None else new or "(empty)"))
    return changes


def _same_number(a: str, b: str) -> bool:
    return _is_number(a) and _is_number(b) and float(a) == float(b)
