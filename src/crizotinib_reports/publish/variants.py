"""Which parameter sets a build makes, and the folder each one is built into.

`--param KEY=VALUE` sets a parameter; several values sweep it: `--param setting=first-line,second-line`
or the flag repeated. (A parameter whose one value is itself a list, like `drugs`, keeps its commas;
sweep it by repeating the flag.) A YAML file of variants lists parameter sets per report:

    clinical_activity:
      - {setting: first-line}
      - {setting: second-line, ci_method: wilson}

Every combination is one target. Its folder is the report's name when every parameter has its
default, else the name followed by the parameters that differ:
`clinical_activity--setting-second-line--ci_method-wilson`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import UsageError
from ..input_files import VARIANTS_FILE_LIMIT, load_input_yaml
from ..paths import display_path
from .portfolio import Report

MAX_FOLDER_LENGTH = 120


@dataclass(frozen=True)
class Target:
    """One report with one parameter set: what the build executes and renders once."""

    report: Report
    parameters: dict[str, Any]  # every parameter, resolved and checked, data_dir included
    folder: str  # output folder and file stem

    @property
    def variant(self) -> dict[str, Any]:
        """The parameters that differ from the report's defaults."""
        return self.report.variant_of(self.parameters)


def parse_param_overrides(pairs: list[str], reports: list[Report]) -> dict[str, dict[str, list[Any]]]:
    """KEY=VALUE texts to typed values per report and key; a key must belong to at least one chosen report."""
    per_report: dict[str, dict[str, list[Any]]] = {r.name: {} for r in reports}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--param takes KEY=VALUE, got '{pair}'")
        if key == "data_dir":
            raise UsageError("set the data folder with --data-dir, not --param data_dir=...")
        owners = [r for r in reports if any(p.name == key for p in r.parameters)]
        if not owners:
            known = sorted({p.name for r in reports for p in r.parameters} - {"data_dir"})
            raise UsageError(f"unknown parameter '{key}' for the chosen reports; known: {', '.join(known)} "
                             f"(see 'crizotinib-reports list')")
        for report in owners:
            parameter = report.parameter(key)
            texts = [text] if parameter.items is not None or "," not in text else text.split(",")
            values = per_report[report.name].setdefault(key, [])
            for value in (parameter.parse(t) for t in texts):
                if value not in values:
                    values.append(value)
    return per_report


def read_variants_file(path: Path, reports: list[Report]) -> dict[str, list[dict[str, Any]]]:
    """A YAML mapping of report name to a list of parameter mappings, checked against the portfolio."""
    content = load_input_yaml(path, limit=VARIANTS_FILE_LIMIT, what="variants file")
    shown = display_path(path)
    if not isinstance(content, dict):
        raise UsageError(f"{shown}: expected a mapping of report name to a list of parameter sets")
    chosen = {r.name: r for r in reports}
    variants: dict[str, list[dict[str, Any]]] = {}
    for name, sets in content.items():
        if name not in chosen:
            raise UsageError(f"{shown}: {name!r} is not one of the reports being built ({', '.join(chosen)})")
        if not isinstance(sets, list) or not all(isinstance(s, dict) for s in sets) or not sets:
            raise UsageError(f"{shown}, {name}: expected a list of parameter mappings, e.g. - {{setting: first-line}}")
        for number, values in enumerate(sets, 1):
            if "data_dir" in values:
                raise UsageError(f"{shown}, {name}, variant {number}: set the data folder with --data-dir")
            try:
                chosen[name].resolve(values)  # unknown names and bad values stop here, with the file named
            except UsageError as exc:
                raise UsageError(f"{shown}, {name}, variant {number}: {exc}") from None
        variants[name] = sets
    return variants


def expand_targets(reports: list[Report], param_pairs: list[str], data_dir: Path,
                   variants: dict[str, list[dict[str, Any]]] | None = None) -> list[Target]:
    """Every (report, parameter set) to build, in portfolio order, each with its own folder."""
    overrides = parse_param_overrides(param_pairs, reports)
    targets: list[Target] = []
    for report in reports:
        swept = overrides[report.name]
        combinations = [dict(zip(swept, values)) for values in itertools.product(*swept.values())]
        for base in (variants or {}).get(report.name, [{}]):
            for combination in combinations:
                values = report.resolve({**base, **combination, "data_dir": str(data_dir)})
                if not any(t.report is report and t.parameters == values for t in targets):
                    targets.append(Target(report, values, variant_folder(report, values)))
    seen: dict[str, Target] = {}
    for target in targets:
        if target.folder in seen:
            raise UsageError(f"parameter sets {seen[target.folder].variant} and {target.variant} of "
                             f"'{target.report.name}' would share the folder {target.folder}; write them alike")
        seen[target.folder] = target
    return targets


def variant_folder(report: Report, values: dict[str, Any]) -> str:
    """The report's name, then each non-default parameter as name-value (safe as a file name)."""
    parts = [report.name]
    for name, value in report.variant_of(values).items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        parts.append(f"{name}-{re.sub(r'[^a-z0-9.]+', '-', text.lower()).strip('-.') or 'empty'}")
    folder = "--".join(parts)
    if len(folder) > MAX_FOLDER_LENGTH:  # many parameters: keep the name readable, make it unique by hash
        digest = hashlib.sha256(json.dumps(report.variant_of(values), sort_keys=True, default=str).encode()).hexdigest()[:12]
        folder = f"{folder[:MAX_FOLDER_LENGTH - 14]}--{digest}"
    return folder
