"""Loading the evidence: validated, typed tables for the notebooks and the build."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, NoReturn

import pandas as pd

from .exceptions import DataValidationError, UsageError
from .files import atomic_write_bytes
from .inputs import data_file_hashes
from .paths import DATA_DIR

if TYPE_CHECKING:
    from .inputs import DataSnapshot

#: Set by the build for its kernels: a file of the tables it has just validated, with their data hashes.
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


def validate(data_dir: Path | str = DATA_DIR) -> dict[str, pd.DataFrame]:
    """Check every table; raise DataValidationError listing every problem, not only the first."""
    from .schema import validate_tables  # pandera loads only where data is checked

    tables, problems = validate_tables(Path(data_dir))
    if problems:
        raise DataValidationError([str(p) for p in problems])
    return tables


def validate_snapshot(snapshot: "DataSnapshot") -> dict[str, pd.DataFrame]:
    """Check a build's copy of the data; problems name the files as the user knows them, not the copy."""
    from .paths import display_path
    from .schema import validate_tables

    tables, problems = validate_tables(snapshot.folder)
    if problems:
        copy, source = display_path(snapshot.folder), display_path(snapshot.source)
        raise DataValidationError([str(p).replace(copy, source, 1) for p in problems])
    return tables


TABLE_NAMES = tuple(f.name for f in fields(Evidence) if f.name not in ("data_dir", "hashes", "schema"))


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
        hashes, schema = data_file_hashes(data_dir), read_schema(Path(data_dir))
    readable = set(TABLE_NAMES if tables is None else tables)
    unknown = readable - set(TABLE_NAMES)
    if unknown:
        raise UsageError(f"unknown data table(s) {', '.join(sorted(unknown))}; known: {', '.join(TABLE_NAMES)}")
    chosen = {name: frame if name in readable else UndeclaredTable(name, report) for name, frame in loaded.items()}
    return Evidence(data_dir=Path(data_dir), hashes=hashes, schema=schema, **chosen)


def write_validated_cache(path: Path, snapshot: "DataSnapshot", tables: dict[str, pd.DataFrame]) -> None:
    """Hand the build's validated snapshot to its kernels: every report reads the same data, checked once."""
    from .schema import read_schema

    payload = {"data_dir": str(Path(snapshot.source).resolve()), "hashes": snapshot.hashes,
               "schema": read_schema(snapshot.folder), "tables": tables}
    atomic_write_bytes(path, pickle.dumps(payload))


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
