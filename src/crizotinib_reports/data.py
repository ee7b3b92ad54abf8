"""Loading the evidence: validated, typed tables for the notebooks and the build."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .exceptions import DataValidationError
from .files import sha256_file
from .paths import DATA_DIR, SCHEMA_FILE_NAME
from .schema import validate_tables


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


def validate(data_dir: Path | str = DATA_DIR) -> dict[str, pd.DataFrame]:
    """Check every table; raise DataValidationError listing every problem, not only the first."""
    tables, problems = validate_tables(Path(data_dir))
    if problems:
        raise DataValidationError([str(p) for p in problems])
    return tables


def load_evidence(data_dir: Path | str = DATA_DIR) -> Evidence:
    """The evidence tables, validated. Notebooks call this once, after their parameters."""
    tables = validate(data_dir)
    return Evidence(data_dir=Path(data_dir), **tables)


def data_file_hashes(data_dir: Path | str = DATA_DIR) -> dict[str, str]:
    """SHA-256 of every data file, so a manifest says exactly which data a report used."""
    data_dir = Path(data_dir)
    files = sorted(data_dir.glob("*.csv")) + [data_dir / SCHEMA_FILE_NAME]
    return {f.name: sha256_file(f) for f in files if f.exists()}
