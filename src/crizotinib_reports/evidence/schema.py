"""The data contract: data/schema.yaml turned into pandera schemas, plus the checks that
span tables (references) or rows (rules). Every problem becomes one readable line."""

from __future__ import annotations

import csv
import functools
import io
import math
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa
import regex

from ..exceptions import DataValidationError
from ..input_files import (DATA_FILE_LIMIT, SCHEMA_FILE_LIMIT, InputFileError, check_data_dir, parse_input_yaml,
                          read_input_text)
from ..paths import SCHEMA_FILE_NAME, display_path
from ..plain_text import is_invisible_control, visible

COLUMN_TYPES = {"str": "string", "int": "Int64", "float": "Float64", "date": "datetime64[ns]"}
#: Time one column's cells may spend matching its pattern, in all: a pattern with nested repeats
#: such as (a+)+ takes exponential time on a long cell, and stops here with a problem instead.
PATTERN_SECONDS_PER_COLUMN = 1.0


@dataclass(frozen=True)
class Problem:
    """One broken rule, located for a person: file, CSV line (header is line 1) or schema table, column."""

    file: str
    rule: str
    line: int | None = None
    column: str | None = None
    value: Any = None
    table: str | None = None  # for a problem in schema.yaml: the table it is in

    def __str__(self) -> str:
        where = self.file
        if self.table is not None:
            where += f", table '{self.table}'"
        if self.line is not None:
            where += f", line {self.line}"
        if self.column is not None:
            where += f", column '{self.column}'"
        got = "" if self.value is None else f" (got {_plain(self.value)!r})"
        # Names and values come from the files: a control character in them is shown, never obeyed.
        return visible(f"{where}: {self.rule}{got}")


def _plain(value: Any) -> Any:
    """numpy scalars and whole floats as people write them: 161 rather than np.float64(161.0)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    required: bool = True
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    references: str | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]
    rules: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"


TABLE_KEYS = tuple(f.name for f in fields(TableSpec) if f.name != "name")
COLUMN_KEYS = tuple(f.name for f in fields(ColumnSpec) if f.name != "name")


def read_schema(data_dir: Path, tables: tuple[str, ...]) -> dict[str, TableSpec]:
    """Parse and check schema.yaml against the tables the package reads; each fault one line."""
    path = Path(data_dir) / SCHEMA_FILE_NAME
    shown = display_path(path)
    if not path.exists():
        raise DataValidationError([str(Problem(shown, "schema file not found; restore it from git"))])
    try:
        text = read_input_text(path, limit=SCHEMA_FILE_LIMIT, what="schema file")
    except InputFileError as exc:
        raise DataValidationError([str(Problem(exc.shown, exc.reason, line=exc.line))]) from None
    try:
        specs, problems = _parsed_schema(text, tables)
    except InputFileError as exc:  # parsed under a stand-in name (the cache is the text's): this file's name
        raise DataValidationError([str(Problem(shown, exc.reason, line=exc.line))]) from None
    if problems:
        raise DataValidationError([str(replace(p, file=shown)) for p in problems])
    return dict(specs)


def forget_schema_caches() -> None:
    """Empty the caches of parsed schemas and checked tables, for a process that outlives a change to this
    module's code (a test runner that forks per mutant would otherwise hand every mutant its parent's results)."""
    _parsed_schema.cache_clear()
    pandera_schema.cache_clear()
    _checked_table_cached.cache_clear()


@functools.lru_cache(maxsize=8)
def _parsed_schema(text: str, tables: tuple[str, ...]) -> tuple[dict[str, TableSpec], tuple[Problem, ...]]:
    """The schema's specs from its text, parsed once per text wherever the file lies (its problems name the
    file as SCHEMA_FILE_NAME; `read_schema` names the real one): the specs are immutable, and YAML parsing in
    pure Python is a fifth of a validation (a build validates once; tests validate copies often)."""
    specs, problems = _schema_from_yaml(parse_input_yaml(text, SCHEMA_FILE_NAME, what="schema file"),
                                        SCHEMA_FILE_NAME, tables)
    return specs, tuple(problems)


class _SchemaProblems(list):
    """The problems found in schema.yaml, each located by table and column."""

    def __init__(self, shown: str):
        super().__init__()
        self.shown = shown

    def add(self, rule: str, table: Any = None, column: Any = None) -> None:
        self.append(Problem(self.shown, rule, table=None if table is None else str(table),
                            column=None if column is None else str(column)))


def _schema_from_yaml(raw: Any, shown: str, table_names: tuple[str, ...]) -> tuple[dict[str, TableSpec], list[Problem]]:
    problems = _SchemaProblems(shown)
    if not isinstance(raw, dict) or not isinstance(raw.get("tables"), dict):
        problems.add("expected 'tables:' holding one mapping a table; restore the file from git")
        return {}, problems
    for key in raw:
        if key != "tables":
            problems.add(f"unknown key '{key}' at the top level (known: tables)")
    declared = raw["tables"]
    for name in table_names:
        if name not in declared:
            problems.add(f"table '{name}' is missing; restore it from git")
    tables = {}
    for name, table in declared.items():
        if name not in table_names:
            problems.add(f"not a table the package reads (known: {', '.join(table_names)}); remove it", table=name)
            continue
        spec = _table_spec(name, table, problems)
        if spec is not None:
            tables[name] = spec
    _check_references(tables, problems)
    return tables, problems


def _is_text_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _table_spec(name: str, table: Any, problems: _SchemaProblems) -> TableSpec | None:
    if not isinstance(table, dict):
        problems.add(f"expected a mapping of {', '.join(TABLE_KEYS)}", table=name)
        return None
    for key in table:
        if key not in TABLE_KEYS:
            problems.add(f"unknown key '{key}' (known: {', '.join(TABLE_KEYS)})", table=name)
    description = table.get("description", "")
    if not isinstance(description, str):
        problems.add("description must be text", table=name)
    raw_columns = table.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        problems.add("needs 'columns:', a mapping of each column's name to its keys", table=name)
        return None
    columns = tuple(spec for col_name, col in raw_columns.items()
                    if (spec := _column_spec(name, col_name, col, problems)) is not None)
    types = {c.name: c.type for c in columns}
    key = table.get("key", [])
    if not _is_text_list(key):
        problems.add("key must be a list of column names, e.g. [trial_id]", table=name)
        key = []
    for column in key:
        if column not in raw_columns:
            problems.add(f"key names column '{column}', which is not declared under columns", table=name)
    rules = table.get("rules", [])
    if not _is_text_list(rules):
        problems.add(f"rules must be a list of rule names (known: {', '.join(ROW_RULES)})", table=name)
        rules = []
    for rule_name in rules:
        if rule_name not in ROW_RULES:
            problems.add(f"unknown rule '{rule_name}' (known: {', '.join(ROW_RULES)})", table=name)
            continue
        for group in ROW_RULES[rule_name].needs:
            present = [c for c in group if c in raw_columns]
            if not present:
                problems.add(f"rule '{rule_name}' needs column {' or '.join(repr(c) for c in group)}; declare it "
                             f"or drop the rule", table=name)
            for column in present:
                if column in ROW_RULES[rule_name].numbers and types.get(column) not in ("int", "float"):
                    problems.add(f"rule '{rule_name}' compares this column as a number; declare it int or float",
                                 table=name, column=column)
    return TableSpec(name=name, description=description if isinstance(description, str) else "",
                     key=tuple(key), columns=columns, rules=tuple(rules))


def _column_spec(table: str, name: Any, col: Any, problems: _SchemaProblems) -> ColumnSpec | None:
    def add(rule: str) -> None:
        problems.add(rule, table=table, column=name)

    if not isinstance(name, str):
        add("a column name must be text; put it in quotes")
        return None
    if not isinstance(col, dict):
        add("expected a mapping such as {type: str}")
        return None
    before = len(problems)
    for key in col:
        if key not in COLUMN_KEYS:
            add(f"unknown key '{key}' (known: {', '.join(COLUMN_KEYS)})")
    kind = col.get("type")
    if kind not in COLUMN_TYPES:
        add(f"unknown type {kind!r} (known: {', '.join(COLUMN_TYPES)})" if "type" in col
            else f"needs a type (one of {', '.join(COLUMN_TYPES)})")
    for flag in ("required", "nullable"):
        if flag in col and not isinstance(col[flag], bool):
            add(f"{flag} must be true or false, got {col[flag]!r}")
    for bound in ("min", "max"):
        if bound in col and not _is_number(col[bound]):
            add(f"{bound} must be a number, got {col[bound]!r}")
        elif bound in col and kind not in ("int", "float"):
            add(f"{bound} applies only to int and float columns")
    if _is_number(col.get("min")) and _is_number(col.get("max")) and col["min"] > col["max"]:
        add(f"min ({col['min']}) is above max ({col['max']})")
    if "choices" in col and (not _is_text_list(col["choices"]) or not col["choices"]):
        add("choices must be a list of text values, e.g. [first-line, second-line] (quote numbers)")
    if "pattern" in col:
        if not isinstance(col["pattern"], str):
            add(f"pattern must be a regular expression in quotes, got {col['pattern']!r}")
        else:
            try:
                _compiled_pattern(col["pattern"])
            except regex.error as exc:
                add(f"pattern {col['pattern']} does not compile ({exc}); write a valid regular expression")
    if "references" in col and not isinstance(col["references"], str):
        add(f"references must be TABLE.COLUMN, got {col['references']!r}")
    for key in ("choices", "pattern", "references"):
        if key in col and kind != "str":
            add(f"{key} applies only to str columns")
    if len(problems) > before:
        return None
    return ColumnSpec(name=name, type=kind, required=col.get("required", True), nullable=col.get("nullable", False),
                      min=col.get("min"), max=col.get("max"),
                      choices=tuple(col["choices"]) if "choices" in col else None,
                      pattern=col.get("pattern"), references=col.get("references"))


def _check_references(tables: dict[str, TableSpec], problems: _SchemaProblems) -> None:
    """Every references names TABLE.COLUMN, a str column of a declared table."""
    for spec in tables.values():
        for col in spec.columns:
            if col.references is None:
                continue
            target_table, _, target_column = col.references.partition(".")
            target = tables.get(target_table)
            target_col = next((c for c in target.columns if c.name == target_column), None) if target else None
            if target_col is None or target_col.type != "str":
                problems.add(f"references must name TABLE.COLUMN, a str column of a declared table; "
                             f"got {col.references!r}", table=spec.name, column=col.name)


@functools.cache
def _compiled_pattern(pattern: str) -> regex.Pattern:
    return regex.compile(pattern)


def _csv_line(index: Any) -> int | None:
    """Row index (0-based, data rows) to the line an editor shows (header is line 1)."""
    try:
        return int(index) + 2
    except (TypeError, ValueError):
        return None


def _parse_csv(raw: str, shown: str) -> tuple[pd.DataFrame | None, Problem | None]:
    """Strict CSV parsing with the line of the first structural fault (pandas guesses instead)."""
    reader = csv.reader(io.StringIO(raw, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        header = next(reader)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            if len(row) != len(header):
                hint = ("quote cells that contain commas, or name the missing column in the header"
                        if len(row) > len(header) else "add the missing cells (empty is fine: a,,b)")
                rule = f"row has {len(row)} fields but the header has {len(header)} ({hint})"
                return None, Problem(shown, rule, line=reader.line_num)
            if any("\n" in cell for cell in row):
                return None, Problem(shown, "a quoted cell runs over several lines (unclosed quote?)",
                                     line=lines[-1] + 1 if lines else 2)
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        start = (lines[-1] + 1) if lines else 2
        if "end of data" in str(exc):
            return None, Problem(shown, f"a quote opened in the row starting on line {start} is never closed",
                                 line=start)
        return None, Problem(shown, f"malformed CSV ({exc})", line=reader.line_num)
    if len(set(header)) != len(header):
        duplicated = sorted({c for c in header if header.count(c) > 1})
        return None, Problem(shown, "column name appears twice in the header", line=1, column=duplicated[0])
    return pd.DataFrame(rows, columns=header, dtype=str), None


def read_table_file(path: Path) -> tuple[str | None, list[Problem]]:
    """A data file's text, within its size and time bounds; a missing, unreadable or empty file gives a problem
    instead of a traceback."""
    shown = display_path(path)
    if not path.exists():
        return None, [Problem(shown, "file not found; restore it from git or pass --data-dir")]
    try:
        raw = read_input_text(path, limit=DATA_FILE_LIMIT, what="data file")
    except InputFileError as exc:
        return None, [Problem(exc.shown, exc.reason, line=exc.line)]
    if not raw.strip():
        return None, [Problem(shown, "file is empty; it needs a header line and data rows")]
    return raw, []


def read_table_text(raw: str, shown: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    """A CSV's text as text cells, stripped, empty cells missing; a malformed file gives a problem."""
    frame, problem = _parse_csv(raw, shown)
    if problem is not None:
        return None, [problem]
    if frame.empty:
        return None, [Problem(shown, "has a header but no data rows", line=2)]
    controls = _control_problems(raw, frame, shown)
    if controls:
        return None, controls  # (checked before cells are stripped, which would hide some at their ends)
    frame = frame.apply(lambda col: col.str.strip())
    return frame.replace("", pd.NA), []


def _control_problems(raw: str, frame: pd.DataFrame, shown: str) -> list[Problem]:
    """Cells holding control or bidirectional characters: no cell needs them, and they can hide or reorder text."""
    present = {char for char in set(raw) if is_invisible_control(char)} - {"\n"}  # (line ends are not in cells)
    if not present:
        return []
    rule = "contains a control or bidirectional-formatting character; remove it"
    problems = [Problem(shown, rule, line=1, column=name) for name in frame.columns if not present.isdisjoint(name)]
    for position, row in enumerate(frame.itertuples(index=False)):
        for name, cell in zip(frame.columns, row):
            if not present.isdisjoint(cell):
                problems.append(Problem(shown, rule, _csv_line(position), name, cell))
    return problems


def _header_problems(frame: pd.DataFrame, spec: TableSpec, shown: str) -> list[Problem]:
    declared = [c.name for c in spec.columns]
    problems = [
        Problem(shown, "unexpected column; remove it or declare it in data/schema.yaml", line=1, column=str(c))
        for c in frame.columns if c not in declared
    ]
    problems += [
        Problem(shown, "required column is missing from the header", line=1, column=c.name)
        for c in spec.columns if c.required and c.name not in frame.columns
    ]
    return problems


def _coerce(frame: pd.DataFrame, spec: TableSpec, shown: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Turn text cells into the declared types, one problem per cell that does not parse."""
    problems: list[Problem] = []
    typed = frame.copy()
    for col in spec.columns:
        if col.name not in frame.columns or col.type == "str":
            continue
        text = frame[col.name]
        unusable = pd.Series(False, index=text.index)  # parsed, but broke a numeric rule reported on its own
        if col.type == "date":
            parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
            rule = "not a real date in the form YYYY-MM-DD"
        else:
            parsed = pd.to_numeric(text, errors="coerce").astype("float64")
            rule = "not a number"
            checks = [("not a finite number", ~np.isfinite(parsed))]
            if col.type == "int":
                checks.append(("not a whole number (or too large)", (parsed != parsed.round()) | (parsed.abs() > 2**53)))
            for text_rule, broken in checks:
                broken = broken & parsed.notna() & ~unusable
                for index in parsed.index[broken]:
                    problems.append(Problem(shown, text_rule, _csv_line(index), col.name, text[index]))
                unusable |= broken
            parsed = parsed.where(~unusable)
        bad = text.notna() & parsed.isna() & ~unusable
        for index in text.index[bad]:
            problems.append(Problem(shown, rule, _csv_line(index), col.name, text[index]))
        typed[col.name] = parsed.astype(COLUMN_TYPES[col.type]) if col.type != "date" else parsed
    return typed, problems


def _checks(col: ColumnSpec) -> list[pa.Check]:
    checks = []
    if col.min is not None:
        checks.append(pa.Check.ge(col.min, error=f"must be at least {col.min}"))
    if col.max is not None:
        checks.append(pa.Check.le(col.max, error=f"must be at most {col.max}"))
    if col.choices is not None:
        checks.append(pa.Check.isin(list(col.choices), error=f"must be one of {', '.join(col.choices)}"))
    return checks  # (patterns are matched by _pattern_problems, with a time limit)


@functools.lru_cache(maxsize=64)
def pandera_schema(spec: TableSpec) -> pa.DataFrameSchema:
    """The pandera schema for one table, made once per spec. It checks no types: _coerce has already cast each
    column, naming every cell it could not read, and pandera's own dtype check (``datetime64[ns]`` against
    pandas' ``[us]`` dates, say) would only build failure reports that are thrown away."""
    return pa.DataFrameSchema(
        {
            col.name: pa.Column(
                None,
                checks=_checks(col),
                nullable=col.nullable,
                required=col.required,
            )
            for col in spec.columns
        },
        strict=True,
        name=spec.name,
    )


def _pandera_problems(frame: pd.DataFrame, spec: TableSpec, shown: str) -> list[Problem]:
    try:
        pandera_schema(spec).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        problems = []
        for case in exc.failure_cases.to_dict("records"):
            check, column, value, index = case["check"], case["column"], case["failure_case"], case["index"]
            # (Columns missing or not declared never reach pandera: _header_problems reports them first.)
            if check == "not_nullable":
                problems.append(Problem(shown, "must not be empty", _csv_line(index), column))
            else:
                problems.append(Problem(shown, str(check), _csv_line(index), column, value))
        return problems
    return []


def _key_problems(frame: pd.DataFrame, spec: TableSpec, shown: str) -> list[Problem]:
    key = [c for c in spec.key if c in frame.columns]
    if not key or len(key) != len(spec.key):
        return []
    duplicated = frame.duplicated(subset=key, keep="first") & frame[key].notna().all(axis=1)
    rule = f"duplicate key ({', '.join(key)}): each must be unique"
    return [
        Problem(shown, rule, _csv_line(index), key[0], " / ".join(str(frame.at[index, k]) for k in key))
        for index in frame.index[duplicated]
    ]


def _percent_at_most_100(frame: pd.DataFrame) -> pd.Series:
    return ~((frame["unit"] == "%") & (frame["value"] > 100)).fillna(False).astype(bool)


def _low_not_above_high(frame: pd.DataFrame) -> pd.Series:
    return ~(frame["frequency_low_pct"] > frame["frequency_high_pct"]).fillna(False).astype(bool)


def _estimate_column(frame: pd.DataFrame) -> str:
    return "hazard_ratio" if "hazard_ratio" in frame.columns else "estimate"


def _interval_contains_estimate(frame: pd.DataFrame) -> pd.Series:
    estimate = frame[_estimate_column(frame)]
    broken = (frame["ci_low"] > frame["ci_high"]) | (estimate < frame["ci_low"]) | (estimate > frame["ci_high"])
    return ~broken.fillna(False).astype(bool)


def _value_or_not_reached(frame: pd.DataFrame) -> pd.Series:
    return frame["value"].notna() | (frame["note"] == "not reached").fillna(False).astype(bool)


def _attribution_consistent(frame: pd.DataFrame) -> pd.Series:
    """A figure's verification level must be backed by what the row names.

    primary: the primary publication is named; secondary: the summary it was checked in is named;
    review only: the review's section is named, and no primary publication or summary is;
    not verified: no summary is named (none was found).
    """
    level = frame["verification"]
    primary = frame["primary_source_id"].notna()
    checked = frame["verified_in_id"].notna()
    section = frame["review_section"].notna()
    ok = ((level == "primary") & primary) | ((level == "secondary") & checked) | (
        (level == "review only") & section & ~primary & ~checked) | ((level == "not verified") & ~checked)
    return ok.fillna(False).astype(bool)


@dataclass(frozen=True)
class RowRule:
    """A rule each row must keep, across its columns."""

    column: str  # the column a broken row's problem names
    text: str
    holds: Callable[[pd.DataFrame], pd.Series]  # True for each row that keeps the rule
    needs: tuple[tuple[str, ...], ...]  # columns it reads: one of each group must be declared
    numbers: tuple[str, ...] = ()  # of those, the ones it compares as numbers


ROW_RULES: dict[str, RowRule] = {
    "percent_at_most_100": RowRule("value", "a percentage must be at most 100", _percent_at_most_100,
                                   needs=(("value",), ("unit",)), numbers=("value",)),
    "frequency_low_not_above_high": RowRule(
        "frequency_low_pct", "low bound must not be above frequency_high_pct", _low_not_above_high,
        needs=(("frequency_low_pct",), ("frequency_high_pct",)), numbers=("frequency_low_pct", "frequency_high_pct")),
    "value_or_not_reached": RowRule("value", "needs a value, or note 'not reached' for a median not reached",
                                    _value_or_not_reached, needs=(("value",), ("note",))),
    "interval_contains_estimate": RowRule(
        "ci_low", "need ci_low <= estimate <= ci_high", _interval_contains_estimate,
        needs=(("ci_low",), ("ci_high",), ("hazard_ratio", "estimate")),
        numbers=("ci_low", "ci_high", "hazard_ratio", "estimate")),
    "attribution_consistent": RowRule(
        "verification", "primary needs primary_source_id; secondary needs verified_in_id (the summary it was "
        "checked in); review only needs review_section and no primary_source_id or verified_in_id; "
        "not verified takes no verified_in_id",
        _attribution_consistent,
        needs=(("verification",), ("primary_source_id",), ("verified_in_id",), ("review_section",))),
}


def _row_rule_problems(frame: pd.DataFrame, spec: TableSpec, shown: str) -> list[Problem]:
    problems = []
    for rule_name in spec.rules:
        rule = ROW_RULES[rule_name]
        try:
            ok = rule.holds(frame)
        except KeyError:
            continue  # a missing column is already reported
        for index in frame.index[~ok]:
            value = frame.at[index, rule.column]
            problems.append(Problem(shown, rule.text, _csv_line(index), rule.column,
                                    None if pd.isna(value) else value))  # an empty cell: no "(got <NA>)"
    return problems


def _pattern_problems(frame: pd.DataFrame, spec: TableSpec, shown: str) -> list[Problem]:
    """Cells that do not match their column's pattern, each match bounded in time.

    Python's re (which pandera's str_matches uses) has no time limit, and a pattern such as (a+)+$
    takes exponential time on a long cell; the regex module's timeout stops it instead.
    """
    problems = []
    for col in spec.columns:
        if col.pattern is None or col.name not in frame.columns:
            continue
        compiled, spent = _compiled_pattern(col.pattern), 0.0
        for index, cell in frame[col.name].dropna().items():
            started = time.perf_counter()
            try:
                matched = compiled.fullmatch(cell, timeout=max(PATTERN_SECONDS_PER_COLUMN - spent, 0.001))
            except TimeoutError:
                problems.append(Problem(
                    shown, f"the pattern {col.pattern} took over {PATTERN_SECONDS_PER_COLUMN:g} s on this column "
                           f"(stopped at this cell); simplify it in {SCHEMA_FILE_NAME}: nested repeats such as "
                           f"(a+)+ take exponential time", _csv_line(index), col.name))
                break
            spent += time.perf_counter() - started
            if matched is None:
                problems.append(Problem(shown, f"must match the pattern {col.pattern}", _csv_line(index), col.name,
                                        cell))
    return problems


def validate_tables(data_dir: Path, table_names: tuple[str, ...]) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Read and check every table in the schema; return typed frames and all problems found."""
    data_dir = Path(data_dir)
    check_data_dir(data_dir)
    specs = read_schema(data_dir, table_names)
    tables: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for spec in specs.values():
        path = data_dir / spec.file_name
        shown = display_path(path)
        raw, read_problems = read_table_file(path)
        problems += read_problems
        if raw is None:
            continue
        if len(raw) > CHECKED_TABLE_CACHE_LIMIT:
            typed, table_problems = _checked_table(raw, spec, shown)
        else:
            typed, table_problems = _checked_table_cached(raw, spec)
            typed = None if typed is None else typed.copy()
            table_problems = [replace(p, file=shown) for p in table_problems]
        problems += table_problems
        if typed is not None:
            tables[spec.name] = typed
    problems += _reference_problems(tables, specs, data_dir)
    return tables, problems


#: Tables up to this many characters are checked once per text and spec in a process (_checked_table_cached):
#: 64 of them at most, so the cache holds at most 64 MiB of text and the frames read from it (the shipped tables
#: are a few KiB each).
CHECKED_TABLE_CACHE_LIMIT = 1 << 20


@functools.lru_cache(maxsize=64)
def _checked_table_cached(raw: str, spec: TableSpec) -> tuple[pd.DataFrame | None, tuple[Problem, ...]]:
    """_checked_table once per text and spec wherever the file lies (its problems name the file as the table's
    file name; validate_tables names the real one, and copies the frame). `validate`, a build and a notebook run
    on its own each check the same files; a test suite checks copies of them hundreds of times. A pattern's
    time limit is spent once per text too: the same text gets the same answer for the life of the process."""
    typed, problems = _checked_table(raw, spec, spec.file_name)
    return typed, tuple(problems)


def _checked_table(raw: str, spec: TableSpec, shown: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    """One table's text read and checked against its spec: the typed frame (None when its text or header is
    unusable) and every problem found in it alone (references to other tables are checked afterwards)."""
    text, problems = read_table_text(raw, shown)
    if text is None:
        return None, problems
    header_problems = _header_problems(text, spec, shown)
    if header_problems:
        return None, header_problems  # cells under a wrong header would only add noise
    typed, coerce_problems = _coerce(text, spec, shown)
    problems = list(coerce_problems)
    unparsed = {(p.line, p.column) for p in coerce_problems}
    problems += [p for p in _pandera_problems(typed, spec, shown) if (p.line, p.column) not in unparsed]
    problems += _pattern_problems(typed, spec, shown)
    problems += _key_problems(typed, spec, shown)
    problems += _row_rule_problems(typed, spec, shown)
    return typed, problems


def _reference_problems(tables: dict[str, pd.DataFrame], specs: dict[str, TableSpec], data_dir: Path) -> list[Problem]:
    problems = []
    for spec in specs.values():
        frame = tables.get(spec.name)
        if frame is None:
            continue
        shown = display_path(data_dir / spec.file_name)
        for col in spec.columns:
            if not col.references or col.name not in frame.columns:
                continue
            target_table, _, target_column = col.references.partition(".")
            target = tables.get(target_table)
            if target is None or target_column not in target.columns:
                continue
            known = set(target[target_column].dropna())
            for index, cell in frame[col.name].dropna().items():
                for value in str(cell).split(";"):
                    if value.strip() not in known:
                        problems.append(Problem(
                            shown, f"does not resolve in {target_table}.csv column '{target_column}'",
                            _csv_line(index), col.name, value.strip()))
    return problems
