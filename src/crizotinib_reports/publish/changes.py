"""What changed between two runs: the data edits first, then the report numbers that moved with them.

A run keeps a copy of the data it read (`runs/<id>/data/`) and every report writes its tables
as CSV (`<report>/tables/<table>.csv`). Two runs are compared in that order:

1. the data files, row by row on each table's key from schema.yaml, so an edit reads as
   "outcomes.csv, PROFILE 1014 · crizotinib · ORR · primary: value 74 -> 75";
2. the report tables, rows matched on their identifying columns (`trial_id`, `arm`, ...), one
   line per changed row with its changed columns: what moved because of the edits.

The overview's own tables restate numbers of the section reports and are built after this
summary (the overview shows it), so they are not compared: every place that shows the summary
(the overview, the mail, changes.md, the combined PDF's cover) shows the same counts.

Everything a summary line carries from the data passes through `plain_text.visible` (no
terminal escapes or bidi controls reach a terminal or a mail), and changes.md escapes every
Markdown character (`plain_text.markdown_escaped`), so a viewer shows it and never runs it. Standard library (and PyYAML for the schema's keys) only: a run compares without pandas.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..plain_text import markdown_escaped, visible

MAX_LINES = 40  # a summary is read in a mail body; the JSON keeps every change
PER_ROW = 4  # changed columns shown per row line
KEY_NAMES = {"arm", "endpoint", "analysis", "agency", "measure", "mechanism", "topic", "pattern", "label"}
NOT_KEYS = {"source_id", "denominator_source_id", "primary_source_id", "verified_in_id"}  # who reports, not which row
DATA = "data"  # Change.source of an edit to a data file; "report" for a report table
NOT_COMPARED = ("overview",)  # reports whose tables restate the others' (see the module docstring)


@dataclass(frozen=True)
class Change:
    kind: str  # "changed", "added row", "removed row", "added table", "removed table"
    report: str  # the report folder; empty for a data file
    table: str  # the report table, or the data file's name
    row: str = ""
    column: str = ""
    before: str = ""
    after: str = ""
    source: str = "report"  # "data" (an edit to data/) or "report" (a number in a report table)

    @property
    def where(self) -> str:
        return self.table if self.source == DATA else f"{self.report} / {self.table}"

    def line(self) -> str:
        if self.kind == "changed":
            return visible(f"{self.where}, {self.row}: {self.column} {_shown(self.before)} -> {_shown(self.after)}")
        if self.kind in ("added row", "removed row"):
            return visible(f"{self.where}: {self.kind} {self.row}")
        return visible(f"{self.where}: {self.kind}")


@dataclass
class ChangeSummary:
    previous_run: str | None
    changes: list[Change] = field(default_factory=list)
    tables_compared: int = 0

    @property
    def data_changes(self) -> list[Change]:
        return [c for c in self.changes if c.source == DATA]

    @property
    def report_changes(self) -> list[Change]:
        return [c for c in self.changes if c.source != DATA]

    @property
    def changed(self) -> bool:
        """Whether a reader has anything new: a first run, or any change at all."""
        return self.previous_run is None or bool(self.changes)

    @property
    def headline(self) -> str:
        if self.previous_run is None:
            return "first run: nothing to compare with"
        if not self.changes:
            return f"no change in the data or in the {self.tables_compared} report tables since run {self.previous_run}"
        parts = []
        if self.data_changes:
            files = sorted({c.table for c in self.data_changes})
            parts.append(f"data: {_counts(self.data_changes)} in {', '.join(files)}")
        else:
            parts.append("data: unchanged")
        if self.report_changes:
            tables = {(c.report, c.table) for c in self.report_changes}
            parts.append(f"reports: {_counts(self.report_changes)} in {len(tables)} "
                         f"table{'s' if len(tables) != 1 else ''}")
        else:
            parts.append("reports: no number moved")
        return visible(f"since run {self.previous_run}: " + "; ".join(parts))

    def lines(self, limit: int = MAX_LINES) -> list[str]:
        """The data edits, one a line; then the report rows that moved, one a line; at most `limit` lines."""
        shown = [c.line() for c in self.data_changes]
        rows: dict[tuple[str, str, str, str], list[Change]] = {}
        for change in self.report_changes:
            rows.setdefault((change.kind, change.report, change.table, change.row), []).append(change)
        for (kind, _report, _table, row), changes in rows.items():
            if kind != "changed":
                shown += [c.line() for c in changes]
                continue
            columns = "; ".join(f"{c.column} {_shown(c.before)} -> {_shown(c.after)}" for c in changes[:PER_ROW])
            more = f"; and {len(changes) - PER_ROW} more" if len(changes) > PER_ROW else ""
            shown.append(visible(f"{changes[0].where}, {row}: {columns}{more}"))
        if len(shown) > limit:
            shown = shown[:limit] + [f"... and more (see changes.json: {len(self.changes)} changes in all)"]
        return shown

    def as_markdown(self) -> str:
        """changes.md: the same text, with Markdown and HTML in it escaped (a viewer shows, never runs, it)."""
        return "\n".join([markdown_escaped(self.headline), "",
                          *[f"- {markdown_escaped(line)}" for line in self.lines()]]) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {"previous_run": self.previous_run, "headline": self.headline,
                "tables_compared": self.tables_compared, "changes": [asdict(c) for c in self.changes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ChangeSummary":
        return cls(data.get("previous_run"), [Change(**c) for c in data.get("changes", [])],
                   data.get("tables_compared", 0))


def _counts(changes: list[Change]) -> str:
    labels = {"changed": ("changed value", "changed values"), "added row": ("added row", "added rows"),
              "removed row": ("removed row", "removed rows"), "added table": ("added table", "added tables"),
              "removed table": ("removed table", "removed tables")}
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
    return ", ".join(f"{n} {labels[kind][n != 1]}" for kind, n in counts.items())


# --- reading two runs -------------------------------------------------------------------------------

def read_table_csvs(run_dir: Path, reports: list[str]) -> dict[tuple[str, str], str]:
    """(report folder, table name) -> CSV text for the given report folders of a run."""
    found = {}
    for report in reports:
        for path in sorted((run_dir / report / "tables").glob("*.csv")):
            found[(report, path.stem)] = path.read_text(encoding="utf-8")
    return found


def read_data_csvs(data_dir: Path) -> dict[str, str]:
    """File name -> text of a data folder's CSV tables (a run's copy of the data it read)."""
    return {path.name: path.read_text(encoding="utf-8-sig") for path in sorted(Path(data_dir).glob("*.csv"))}


def schema_keys(schema_file: Path) -> dict[str, list[str]]:
    """Data file name -> its key columns, from schema.yaml (empty when it cannot be read)."""
    import yaml

    try:
        tables = yaml.safe_load(Path(schema_file).read_text(encoding="utf-8"))["tables"]
        return {f"{name}.csv": [str(c) for c in spec.get("key", [])] for name, spec in tables.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError):
        return {}


def compare_data(previous: dict[str, str], current: dict[str, str], keys: dict[str, list[str]]) -> list[Change]:
    """Every edit between two copies of the data, rows on their schema keys, trials named as people know them."""
    names = trial_names(previous, current)
    changes = []
    for name in sorted(set(previous) | set(current)):
        if name not in previous:
            changes.append(Change("added table", "", name, source=DATA))
        elif name not in current:
            changes.append(Change("removed table", "", name, source=DATA))
        else:
            changes += _compare(previous[name], current[name], "", name, DATA, keys.get(name), names)
    return changes


def trial_names(*data: dict[str, str]) -> dict[str, str]:
    """trial_id -> trial_name from the trials.csv of one or more copies of the data (the last wins)."""
    names: dict[str, str] = {}
    for files in data:
        names.update({row["trial_id"]: row["trial_name"] for row in _rows(files.get("trials.csv", ""))[1]
                      if row.get("trial_id") and row.get("trial_name")})
    return names


def compare_runs(previous: dict[tuple[str, str], str] | None, current: dict[tuple[str, str], str],
                 previous_run: str | None, data_changes: list[Change] = (),
                 names: dict[str, str] | None = None) -> ChangeSummary:
    """The data edits, then every added, removed and changed value between two runs' report tables."""
    summary = ChangeSummary(previous_run)
    if previous is None:
        return summary
    summary.changes += data_changes
    for key in sorted(set(previous) | set(current)):
        report, table = key
        if report in NOT_COMPARED:
            continue
        if key not in previous:
            summary.changes.append(Change("added table", report, table))
        elif key not in current:
            summary.changes.append(Change("removed table", report, table))
        else:
            summary.tables_compared += 1
            summary.changes.extend(compare_tables(report, table, previous[key], current[key], names or {}))
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


def _unique(columns: list[str], tables: tuple[list[dict[str, str]], ...]) -> bool:
    return all(len({tuple(row.get(c) for c in columns) for row in table}) == len(table) for table in tables)


def _key_columns(columns: list[str], *tables: list[dict[str, str]]) -> list[str]:
    """Identifying columns if they tell each table's rows apart; else the fewest leading text columns that do."""
    rows = [row for table in tables for row in table]
    text = [c for c in columns if c not in NOT_KEYS and any(row.get(c) and not _is_number(row[c]) for row in rows)]
    named = [c for c in text if c.endswith("_id") or c in KEY_NAMES]
    if named and _unique(named, tables):
        return named
    for size in range(1, len(text) + 1):
        if _unique(text[:size], tables):
            return text[:size]
    return text


def _keyed(rows: list[dict[str, str]], key_columns: list[str],
           names: dict[str, str]) -> dict[str, dict[str, str]]:
    """Rows by the text of their key columns (a trial id shown as its name); by position when that fails."""
    keys = [" · ".join(names.get(row.get(c, ""), row.get(c, "")) if c == "trial_id" else row.get(c, "")
                       for c in key_columns if row.get(c, "")) for row in rows]
    if not key_columns or len(set(keys)) < len(keys) or not all(keys):
        keys = [f"row {i}" for i in range(1, len(rows) + 1)]
    return dict(zip(keys, rows))


def compare_tables(report: str, table: str, before_text: str, after_text: str,
                   names: dict[str, str] | None = None) -> list[Change]:
    return _compare(before_text, after_text, report, table, "report", None, names or {})


def _compare(before_text: str, after_text: str, report: str, table: str, source: str,
             key_columns: list[str] | None, names: dict[str, str]) -> list[Change]:
    if before_text == after_text:
        return []
    before_columns, before_rows = _rows(before_text)
    after_columns, after_rows = _rows(after_text)
    columns = [c for c in after_columns if c in before_columns]
    if not key_columns or not all(c in columns for c in key_columns):
        key_columns = _key_columns(columns, before_rows, after_rows)
    before, after = _keyed(before_rows, key_columns, names), _keyed(after_rows, key_columns, names)
    changes = [Change("removed row", report, table, row=k, source=source) for k in before if k not in after]
    changes += [Change("added row", report, table, row=k, source=source) for k in after if k not in before]
    for key in (k for k in after if k in before):  # row by row, columns in table order: inputs before derived
        for column in after_columns:
            old, new = before[key].get(column), after[key].get(column)
            if old != new and not (old is not None and new is not None and _same_number(old, new)):
                changes.append(Change("changed", report, table, row=key, column=column,
                                      before="(none)" if old is None else old or "(empty)",
                                      after="(none)" if new is None else new or "(empty)", source=source))
    return changes


def _same_number(a: str, b: str) -> bool:
    return _is_number(a) and _is_number(b) and float(a) == float(b)
