"""The report portfolio: every report, its notebook and its typed parameters, in one place.

The CLI, the build, `list` and the notebooks' own parameter check all read this module;
tests check that each notebook's `parameters` cell agrees with it.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from .exceptions import UsageError
from .plain_text import is_invisible_control, visible
from .stats import CI_METHODS, POOLED_INTERVALS

TYPES: dict[str, type] = {"float": float, "int": int, "str": str, "bool": bool}
TABLE_METADATA_KEY = "crizotinib_reports_table"  # display metadata carrying a table's CSV to the build
TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    items: tuple[str, ...] | None = None  # a str parameter holding 'all' or a comma-separated subset of these
    minimum: float | None = None
    maximum: float | None = None
    # False for a setting of the occasion (where to read a run's change summary), not a variant of
    # the report: it does not name the output folder, so the report stays in its usual one.
    names_folder: bool = True
    # True for a str parameter naming a file the notebook reads: when set, it must be an existing
    # regular file, checked before any kernel starts; it is passed on as an absolute path, since
    # the kernel runs in another folder.
    input_file: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"parameter {self.name}: unknown type {self.type}")
        self.check(self.default, where="default")

    def parse(self, text: str) -> Any:
        """A value from the command line (always text) in this parameter's type."""
        if not text.strip():
            raise UsageError(f"parameter '{self.name}' needs a value: --param {self.name}=VALUE "
                             f"(see 'crizotinib-reports list')")
        if self.type == "bool":
            word = text.strip().lower()
            if word in TRUE_WORDS | FALSE_WORDS:
                return word in TRUE_WORDS
            raise UsageError(f"parameter '{self.name}' takes true or false, got '{text}'")
        try:
            value = TYPES[self.type](text)
        except ValueError:
            raise UsageError(f"parameter '{self.name}' takes a {self.type}, got '{text}'") from None
        return self.check(value)

    def check(self, value: Any, where: str = "value") -> Any:
        """Raise UsageError unless value fits type, choices and range; return it (ints widen to float)."""
        expected = TYPES[self.type]
        if self.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise UsageError(f"parameter '{self.name}' takes a {self.type}, got {value!r} ({where})")
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"parameter '{self.name}' takes a finite number, got {value!r}")
        if isinstance(value, str) and any(is_invisible_control(char) for char in value):
            raise UsageError(f"parameter '{self.name}' must not contain control characters, got '{visible(value)}'")
        if self.input_file and value:
            if not os.path.isfile(value):
                state = "is not a regular file" if os.path.exists(value) else "does not exist"
                raise UsageError(f"parameter '{self.name}' names {value!r}, which {state}; give the path of "
                                 f"an existing file")
            value = os.path.abspath(value)
        if self.items is not None and value != "all":
            chosen = [v.strip() for v in value.split(",")]
            unknown = [v for v in chosen if v not in self.items]
            if unknown or not any(chosen):
                raise UsageError(f"parameter '{self.name}' takes 'all' or a comma-separated list of "
                                 f"{', '.join(self.items)}; got {value!r}")
        if self.choices is not None and value not in self.choices:
            options = ", ".join(map(str, self.choices))
            raise UsageError(f"parameter '{self.name}' must be one of {options}, got {value!r}")
        if self.minimum is not None and value < self.minimum or self.maximum is not None and value > self.maximum:
            raise UsageError(
                f"parameter '{self.name}' must be between {self.minimum} and {self.maximum}, got {value!r}")
        return value


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    notebook: str
    description: str
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)
    # The data tables the notebook reads (file names without .csv). A change to one of them
    # rebuilds this report and no other; reading a table not listed here stops the notebook.
    tables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A report's name becomes a folder under the output folder: nothing that could leave it.
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name) or not re.fullmatch(r"[a-z][a-z0-9_]*\.ipynb", self.notebook):
            raise ValueError(f"report {self.name!r}: names must be lower-case letters, digits and '_'")
        if not self.tables or set(self.tables) - set(ALL_TABLES):
            raise ValueError(f"report {self.name!r}: declare the data tables it reads, from {', '.join(ALL_TABLES)}")

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters}

    def variant_of(self, values: dict[str, Any]) -> dict[str, Any]:
        """The parameters that make `values` a variant: those that differ from the defaults and name folders."""
        return {p.name: values[p.name] for p in self.parameters
                if p.name != "data_dir" and p.names_folder and p.name in values and values[p.name] != p.default}

    def resolve(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """Defaults with overrides applied and each value checked."""
        values = self.defaults()
        for name, value in overrides.items():
            try:
                parameter = self.parameter(name)
            except KeyError:
                known = ", ".join(p.name for p in self.parameters)
                raise UsageError(f"report '{self.name}' has no parameter '{name}'; it takes: {known}") from None
            values[name] = parameter.check(value)
        return values


#: Every data table; the methods appendix describes them all.
ALL_TABLES = ("sources", "trials", "outcomes", "hazard_ratios", "published_intervals", "approvals", "findings",
              "relapse_patterns", "resistance_measures", "resistance_mechanisms", "adverse_events", "study_measures")

COMMON = (
    Parameter("data_dir", "str", "../data", "folder with the CSV tables and schema.yaml"),
    Parameter("confidence_level", "float", 0.95, "two-sided level of every interval",
              minimum=0.5, maximum=0.999),
    Parameter("ci_method", "str", "exact", "interval for proportions: exact (Clopper-Pearson) or wilson",
              choices=tuple(CI_METHODS)),
)

REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report(
            "overview", "Crizotinib in ALK-positive NSCLC: overview", "overview.ipynb",
            "Key numbers, benefit and harms of the randomized trials, approval timeline, references and, in a "
            "scheduled run, what changed since the last one.",
            COMMON + (
                Parameter("changes_file", "str", "",
                          "what changed since the previous run: a changes.json ('crizotinib-reports run' sets it)",
                          names_folder=False, input_file=True),
            ),
            tables=("sources", "trials", "outcomes", "hazard_ratios", "approvals", "findings", "relapse_patterns",
                    "resistance_measures", "resistance_mechanisms", "adverse_events"),
        ),
        Report(
            "clinical_activity", "Clinical activity of crizotinib", "clinical_activity.ipynb",
            "Response, progression-free and overall survival (with crossover) and harms in crizotinib's own trials.",
            COMMON + (
                Parameter("setting", "str", "all", "which phase III trials to show: all, first-line or second-line",
                          choices=("all", "first-line", "second-line")),
                Parameter("include_single_arm", "bool", True, "show the single-arm phase I and II trials"),
                Parameter("show_pooled_orr", "bool", True,
                          "show the exploratory random-effects pooled ORR of the crizotinib arms"),
                Parameter("pooled_interval", "str", "dersimonian-laird",
                          "interval on the pooled ORR: dersimonian-laird (normal) or hartung-knapp (Hartung-Knapp-Sidik-Jonkman, t)",
                          choices=tuple(POOLED_INTERVALS)),
            ),
            tables=("sources", "trials", "outcomes", "hazard_ratios", "published_intervals", "findings",
                    "adverse_events"),
        ),
        Report(
            "clinical_relapses", "Clinical relapses on crizotinib", "clinical_relapses.ipynb",
            "When and where disease relapses, and how each pattern is managed.",
            COMMON + (
                Parameter("time_unit", "str", "months", "unit of the time-scale figure: months or years",
                          choices=("months", "years")),
            ),
            tables=("sources", "trials", "outcomes", "relapse_patterns", "resistance_measures", "study_measures"),
        ),
        Report(
            "resistance_mechanisms", "Mechanisms of resistance to crizotinib", "resistance_mechanisms.ipynb",
            "Secondary ALK mutations, copy-number gain, bypass tracks, paracrine factors and EMT.",
            COMMON + (
                Parameter("include_unquantified", "bool", True,
                          "also list mechanisms for which the review gives no frequency"),
            ),
            tables=("sources", "resistance_measures", "resistance_mechanisms", "study_measures"),
        ),
        Report(
            "alk_inhibitor_landscape", "Crizotinib as the comparator: the next-generation ALK inhibitors",
            "alk_inhibitor_landscape.ipynb",
            "First-line trials of alectinib, brigatinib, lorlatinib and ensartinib against crizotinib.",
            COMMON + (
                Parameter("analysis", "str", "primary",
                          "which analysis to show where a trial has two: primary or updated",
                          choices=("primary", "updated")),
                Parameter("drugs", "str", "all",
                          "which comparisons to show: all, or a comma-separated list of alectinib, brigatinib, "
                          "lorlatinib, ensartinib",
                          items=("alectinib", "brigatinib", "lorlatinib", "ensartinib")),
            ),
            tables=("sources", "trials", "outcomes", "hazard_ratios", "relapse_patterns", "adverse_events",
                    "findings"),
        ),
        Report(
            "methods_appendix", "Methods and data appendix", "methods_appendix.ipynb",
            "Every data table and source with its identifiers, every derivation and method, the consistency checks.",
            COMMON,
            tables=ALL_TABLES,
        ),
    )
}


def get_report(name: str) -> Report:
    try:
        return REPORTS[name]
    except KeyError:
        known = ", ".join(REPORTS)
        raise UsageError(f"unknown report '{name}'; choose from: {known}") from None
