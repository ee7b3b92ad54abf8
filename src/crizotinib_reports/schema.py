"""The data contract: data/schema.yaml turned into pandera schemas, plus the checks that
span tables (references) or rows (rules). Every problem becomes one readable line."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml

from .exceptions import DataValidationError
from .paths import SCHEMA_FILE_NAME, display_path

COLUMN_TYPES = {"str": "string", "int": "Int64", "float": "Float64", "date": "datetime64[ns]"}


@dataclass(frozen=True)
class Problem:
    """One broken rule, located for a person: file, CSV line (header is line 1), column."""

    file: str
    rule: str
    line: int | None = None
    column: str | None = None
    value: Any = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column is not None:
            where += f", column '{self.column}'"
        got = "" if self.value is None else f" (got {_plain(self.value)!r})"
        return f"{where}: {self.rule}{got}"


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


def read_schema(data_dir: Path) -> dict[str, TableSpec]:
    """Parse schema.yaml into table specs; a broken schema file is itself a data problem."""
    path = Path(data_dir) / SCHEMA_FILE_NAME
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        tables = {}
        for name, table in raw["tables"].items():
            columns = tuple(
                ColumnSpec(
                    name=col_name,
                    type=spec["type"],
                    required=spec.get("required", True),
                    nullable=spec.get("nullable", False),
                    min=spec.get("min"),
                    max=spec.get("max"),
                    choices=tuple(spec["choices"]) if "choices" in spec else None,
                    pattern=spec.get("pattern"),
                    references=spec.get("references"),
                )
                for col_name, spec in table["columns"].items()
            )
            for col in columns:
                if col.type not in COLUMN_TYPES:
                    raise ValueError(f"column '{col.name}' has unknown type '{col.type}'")
            tables[name] = TableSpec(
                name=name,
                description=table.get("description", ""),
                key=tuple(table.get("key", ())),
                columns=columns,
                rules=tuple(table.get("rules", ())),
            )
        return tables
    except FileNotFoundError:
        raise DataValidationError([str(Problem(display_path(path), "schema file not found"))]) from None
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataValidationError(
            [str(Problem(display_path(path), f"schema file cannot be read: {exc}"))]
        ) from None


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


def read_table_text(path: Path) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read a CSV as text cells; unreadable files give a problem instead of a traceback."""
    shown = display_path(path)
    if not path.exists():
        return None, [Problem(shown, "file not found; restore it from git or pass --data-dir")]
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        return None, [Problem(shown, "not valid UTF-8 text; save the file as UTF-8", line=line)]
    if not raw.strip():
        return None, [Problem(shown, "file is empty; it needs a header line and data rows")]
    frame, problem = _parse_csv(raw, shown)
    if problem is not None:
        return None, [problem]
    if frame.empty:
        return None, [Problem(shown, "has a header but no data rows", line=2)]
    frame = frame.apply(lambda col: col.str.strip())
    return frame.replace("", pd.NA), []


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
    if col.pattern is not None:
        checks.append(pa.Check.str_matches(f"^(?:{col.pattern})$", error=f"must match the pattern {col.pattern}"))
    return checks


def pandera_schema(spec: TableSpec) -> pa.DataFrameSchema:
    """The pandera schema for one table (types are already coerced by _coerce)."""
    return pa.DataFrameSchema(
        {
            col.name: pa.Column(
                COLUMN_TYPES[col.type],
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
            if check == "column_in_schema":
                problems.append(Problem(shown, "unexpected column; remove it or add it to data/schema.yaml",
                                        line=1, column=str(value)))
            elif check == "column_in_dataframe":
                problems.append(Problem(shown, "required column is missing from the header", line=1, column=str(value)))
            elif check == "not_nullable":
                problems.append(Problem(shown, "must not be empty", _csv_line(index), column))
            elif str(check).startswith("dtype("):
                continue  # wrong types are reported cell by cell by _coerce
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


ROW_RULES: dict[str, tuple[str, str, Callable[[pd.DataFrame], pd.Series]]] = {
    # name: (column to name in the message, rule text, row predicate that must hold)
    "percent_at_most_100": ("value", "a percentage must be at most 100", _percent_at_most_100),
    "frequency_low_not_above_high": (
        "frequency_low_pct", "low bound must not be above frequency_high_pct", _low_not_above_high),
    "value_or_not_reached": ("value", "needs a value, or note 'not reached' for a median not reached",
                             _value_or_not_reached),
    "interval_contains_estimate": (
        "ci_low", "need ci_low <= estimate <= ci_high", _interval_contains_estimate),
}


def _row_rule_problems(frame: pd.DataFrame, spec: TableSpec, shown: str) -> list[Problem]:
    problems = []
    for rule_name in spec.rules:
        column, text, predicate = ROW_RULES[rule_name]
        try:
            ok = predicate(frame)
        except KeyError:
            continue  # a missing column is already reported
        for index in frame.index[~ok]:
            problems.append(Problem(shown, text, _csv_line(index), column, frame.at[index, column]))
    return problems


def validate_tables(data_dir: Path) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Read and check every table in the schema; return typed frames and all problems found."""
    data_dir = Path(data_dir)
    specs = read_schema(data_dir)
    tables: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for spec in specs.values():
        path = data_dir / spec.file_name
        shown = display_path(path)
        text, read_problems = read_table_text(path)
        problems += read_problems
        if text is None:
            continue
        header_problems = _header_problems(text, spec, shown)
        if header_problems:
            problems += header_problems  # cells under a wrong header would only add noise
            continue
        typed, coerce_problems = _coerce(text, spec, shown)
        problems += coerce_problems
        unparsed = {(p.line, p.column) for p in coerce_problems}
        problems += [p for p in _pandera_problems(typed, spec, shown) if (p.line, p.column) not in unparsed]
        problems += _key_problems(typed, spec, shown)
        problems += _row_rule_problems(typed, spec, shown)
        tables[spec.name] = typed
    problems += _reference_problems(tables, specs, data_dir)
    return tables, problems


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
            target_table, target_column = col.references.split(".")
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
