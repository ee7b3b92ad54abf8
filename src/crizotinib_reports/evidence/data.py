"""Loading the evidence: validated, typed tables for the notebooks and the build."""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, NoReturn

import pandas as pd

from ..exceptions import DataValidationError, UsageError
from ..paths import DATA_DIR, SCHEMA_FILE_NAME

#: Set by a build for its kernels: a file of the tables it has just validated, with their data hashes.
VALIDATED_CACHE_ENV = "CRIZOTINIB_REPORTS_VALIDATED_DATA"


@dataclass(frozen=True)
class Evidence:
    """All data tables, checked against data/schema.yaml."""

    data_dir: Path
    sources: pd.DataFrame
    trials: pd.DataFrame
    outcomes: pd.DataFrame
    hazard_ratios: pd.DataFrame
    published_intervals: pd.DataFrame
    approvals: pd.DataFrame
    findings: pd.DataFrame
    relapse_patterns: pd.DataFrame
    resistance_measures: pd.DataFrame
    resistance_mechanisms: pd.DataFrame
    adverse_events: pd.DataFrame
    study_measures: pd.DataFrame
    hashes: dict[str, str] = field(default_factory=dict)  # SHA-256 of each file as validated
    schema: dict[str, Any] = field(default_factory=dict)  # table name -> schema.TableSpec


TABLE_NAMES = tuple(f.name for f in fields(Evidence) if f.name not in ("data_dir", "hashes", "schema"))


def validate(data_dir: Path | str = DATA_DIR, shown_as: Path | None = None) -> dict[str, pd.DataFrame]:
    """Check every table; raise DataValidationError listing every problem, not only the first.

    `shown_as`: the folder the problems should name, when `data_dir` is a copy of it (a build's snapshot).
    """
    from ..paths import display_path
    from .schema import validate_tables  # pandera loads only where data is checked

    tables, problems = validate_tables(Path(data_dir), TABLE_NAMES)
    if problems:
        lines = [str(p) for p in problems]
        if shown_as is not None:
            copy, source = display_path(Path(data_dir)), display_path(Path(shown_as))
            lines = [line.replace(copy, source, 1) for line in lines]
        raise DataValidationError(lines)
    return tables


def data_file_hashes(data_dir: Path | str, tables: Iterable[str] | None = None) -> dict[str, str]:
    """SHA-256 of the data files (all, or the named tables) and of schema.yaml, by file name."""
    data_dir = Path(data_dir)
    if tables is None:
        files = sorted(data_dir.glob("*.csv"))
    else:
        files = [data_dir / f"{name}.csv" for name in sorted(tables)]
    files.append(data_dir / SCHEMA_FILE_NAME)
    # Regular files only: a FIFO would block the hash forever (validation then says what is wrong with it).
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files if f.is_file()}


class UndeclaredTable:
    """Stands in for a table a report did not declare: any use of it stops with one clear line.

    The build rebuilds a report when a table it declares changes; a report that read an
    undeclared table would silently go stale, so reading one is an error, not a fallback.
    """

    def __init__(self, table: str, report: str):
        self._message = (f"report '{report}' reads data table '{table}' but does not declare it: add "
                         f"'{table}' to crizotinib_reports.tables in the notebook's metadata")

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise UsageError(self._message)

    __getattr__ = __getitem__ = __iter__ = __len__ = __bool__ = __eq__ = _refuse
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<undeclared table: {self._message}>"


def load_evidence(data_dir: Path | str = DATA_DIR, tables: Iterable[str] | None = None,
                  report: str = "this report") -> Evidence:
    """The evidence tables, validated (all of them: references cross tables). Notebooks call this once.

    With `tables`, only those are readable; the others are UndeclaredTable placeholders.
    """
    from_build = _validated_by_the_build(Path(data_dir))
    if from_build is not None:
        loaded, hashes, schema = from_build
    else:
        from .schema import read_schema

        loaded = validate(data_dir)
        hashes, schema = data_file_hashes(data_dir), read_schema(Path(data_dir), TABLE_NAMES)
    readable = set(TABLE_NAMES if tables is None else tables)
    unknown = readable - set(TABLE_NAMES)
    if unknown:
        raise UsageError(f"unknown data table(s) {', '.join(sorted(unknown))}; known: {', '.join(TABLE_NAMES)}")
    chosen = {name: frame if name in readable else UndeclaredTable(name, report) for name, frame in loaded.items()}
    return Evidence(data_dir=Path(data_dir), hashes=hashes, schema=schema, **chosen)


def validated_payload(data_dir: Path, read_from: Path, hashes: dict[str, str],
                      tables: dict[str, pd.DataFrame]) -> bytes:
    """What a build hands its kernels (see VALIDATED_CACHE_ENV): the tables validated from `read_from`,
    a copy of `data_dir`, with their hashes and schema; every report of the build reads these."""
    from .schema import read_schema

    return pickle.dumps({"data_dir": str(Path(data_dir).resolve()), "hashes": hashes,
                         "schema": read_schema(Path(read_from), TABLE_NAMES), "tables": tables})


def _validated_by_the_build(data_dir: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str], dict] | None:
    """The build's snapshot of `data_dir`, validated, if this kernel was started by a build.

    The file is the build's own (in its output folder's scratch space, named by an environment
    variable only the build sets). It is used whatever the files hold now: a build's reports all
    read the data as it was when the build took its snapshot.
    """
    cache = os.environ.get(VALIDATED_CACHE_ENV)
    if not cache:
        return None
    try:
        payload = pickle.loads(Path(cache).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError):
        return None
    if payload.get("data_dir") != str(Path(data_dir).resolve()):
        return None
    return payload["tables"], payload["hashes"], payload["schema"]
