"""The report portfolio, read from the notebooks themselves: a report is its notebook.

Every notebook in the notebooks folder is a report, named by its file name. It defines itself:

* its **parameters cell** (tagged `parameters`) is the only definition of its parameters: one
  typed assignment a line with a comment, `setting: str = "all"  # which phase III trials to show`
  (the form `papermill --help-notebook` reads);
* its **metadata** holds its `title` (as Jupyter and nbconvert use it) and a `crizotinib_reports`
  block: `description`, `order` (its place in the portfolio), `tables` (the data tables it reads:
  a change to one rebuilds this report and no other; reading another stops it with one line) and
  `parameters`, the constraints a type cannot say, per parameter:

      "parameters": {"confidence_level": {"min": 0.5, "max": 0.999},
                     "setting": {"choices": ["all", "first-line", "second-line"]},
                     "drugs": {"items_from": "newer_drugs"},
                     "changes_file": {"names_folder": false, "input_file": true}}

  `choices`: the allowed values; `min`/`max`: a range; `items_from`: the value is 'all' or a
  comma-separated subset of a list the evidence defines from a data table (its name, a key of
  `evidence.analysis.PARAMETER_ITEMS`, the same rule the report applies), so the data, not the
  notebook, decide what may be chosen (checked against the build's data snapshot
  before any kernel starts, and by the notebook against the data it loads); `names_folder: false`: a
  setting of the occasion that does not make a variant folder; `input_file: true`: names a file that
  must exist.

Only the standard library is used: `list`, planning and "nothing to build" read the portfolio
without pandas or papermill. Nothing is read at import: `portfolio()` reads the folder when called.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import UsageError
from ..paths import NOTEBOOK_DIR, display_path
from ..plain_text import is_invisible_control, visible

TYPES: dict[str, type] = {"float": float, "int": int, "str": str, "bool": bool}
TABLE_METADATA_KEY = "crizotinib_reports_table"  # display metadata carrying a table's CSV to the build
METADATA_KEY = "crizotinib_reports"  # a notebook's report metadata block
CONSTRAINT_KEYS = ("choices", "min", "max", "items_from", "names_folder", "input_file")
TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}
NOTEBOOK_LIMIT = 16 * 2**20
REPORT_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class DataItems:
    """Where a list parameter's allowed items come from: a list the evidence defines from a data table, named in the
    notebook's metadata (`items_from`, a key of evidence.analysis.PARAMETER_ITEMS), so the reports and this check
    share one definition. The evidence (pandas) is imported only when a value names items: `list`, and a build of
    the defaults with nothing to do, stay light."""

    name: str

    @classmethod
    def from_metadata(cls, rule: object) -> "DataItems":
        if not isinstance(rule, str) or not REPORT_NAME.fullmatch(rule):
            raise ValueError("'items_from' names a list the evidence defines (a key of "
                             "crizotinib_reports.evidence.analysis.PARAMETER_ITEMS), e.g. \"newer_drugs\"")
        return cls(rule)

    def _rule(self) -> tuple[str, Callable[[Iterable[Mapping[str, object]]], tuple[str, ...]]]:
        from ..evidence.analysis import PARAMETER_ITEMS  # pandas: only when a value names items

        if self.name not in PARAMETER_ITEMS:
            raise UsageError(f"'items_from' names '{self.name}', which the evidence does not define; use one of "
                             f"{', '.join(PARAMETER_ITEMS)} (crizotinib_reports.evidence.analysis.PARAMETER_ITEMS)")
        return PARAMETER_ITEMS[self.name]

    @property
    def table(self) -> str:
        """The data table the items are read from."""
        return self._rule()[0]

    def allowed(self, rows: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
        """The items the table's rows allow, each once, in the table's order."""
        return self._rule()[1](rows)

    def __str__(self) -> str:
        return self.name.replace("_", " ")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    # A str parameter holding 'all' or a comma-separated subset of the values this data column holds.
    items: DataItems | None = None
    minimum: float | None = None
    maximum: float | None = None
    # False for a setting of the occasion (where to read a run's change summary), not a variant of
    # the report: it does not name the output folder, so the report stays in its usual one.
    names_folder: bool = True
    # True for a str parameter naming a file the notebook reads: when set, it must be an existing
    # regular file, checked before any kernel starts; the build passes it to the kernel relative to the
    # notebook folder, where the kernel runs (so no machine path lands in the executed notebook).
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
        if self.items is not None and value != "all" and not all(self.chosen_items(value)):
            raise UsageError(f"parameter '{self.name}' takes 'all' or a comma-separated list of values of "
                             f"{self.items}; got {value!r}")
        if self.choices is not None and value not in self.choices:
            options = ", ".join(map(str, self.choices))
            raise UsageError(f"parameter '{self.name}' must be one of {options}, got {value!r}")
        if self.minimum is not None and value < self.minimum or self.maximum is not None and value > self.maximum:
            raise UsageError(
                f"parameter '{self.name}' must be between {self.minimum} and {self.maximum}, got {value!r}")
        return value

    def chosen_items(self, value: str) -> list[str]:
        """The items a list parameter's value names ('a, b' -> ['a', 'b'])."""
        return [item.strip() for item in value.split(",")]

    def check_items(self, value: Any, rows: Iterable[Mapping[str, object]], data_dir: str) -> None:
        """Raise UsageError if a list parameter names an item the data do not have (the rows of its table)."""
        if self.items is None or value == "all":
            return
        allowed = self.items.allowed(rows)
        unknown = [item for item in self.chosen_items(value) if item not in allowed]
        if unknown:
            raise UsageError(f"parameter '{self.name}' names {', '.join(map(repr, unknown))}, which the data in "
                             f"{data_dir} do not have ({self.items} in {self.items.table}.csv); give 'all' or a "
                             f"comma-separated list of {', '.join(allowed) or '(none in the data)'}")


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    notebook: str  # file name in the notebooks folder
    description: str
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)
    # The data tables the notebook reads (file names without .csv). A change to one of them
    # rebuilds this report and no other; reading a table not listed here stops the notebook.
    tables: tuple[str, ...] = ()
    order: float = 0.0

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

    def check_against_data(self, values: dict[str, Any], rows_of: Callable[[str], list[dict] | None],
                           data_dir: str) -> None:
        """Refuse a value naming what the data lack, for each parameter whose items come from the data.

        `rows_of(table)` gives a table's rows as mappings, or None where it cannot be read (validation, which
        runs before any kernel too, then says what is wrong with the file).
        """
        for parameter in self.parameters:
            if parameter.items is not None and values.get(parameter.name, "all") != "all":
                rows = rows_of(parameter.items.table)
                if rows is not None:
                    parameter.check_items(values[parameter.name], rows, data_dir)

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


# --- reading a notebook ------------------------------------------------------------------------------

def parameters_cell(cells: list[dict]) -> str | None:
    """The source of the cell tagged `parameters`, if there is one."""
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else source
    return None


def parse_parameters(source: str, where: str) -> list[tuple[str, str, Any, str]]:
    """(name, type, default, help) of each `name: type = literal  # help` line of a parameters cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UsageError(f"{where}: the parameters cell is not valid Python (line {exc.lineno}); write one "
                         f"'name: type = value  # help' a line") from None
    lines = source.splitlines()
    found = []
    for statement in tree.body:
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                and isinstance(statement.annotation, ast.Name) and statement.value is not None):
            raise UsageError(f"{where}: parameters cell line {statement.lineno} is not 'name: type = value  # help'")
        kind = statement.annotation.id
        if kind not in TYPES:
            raise UsageError(f"{where}: parameter '{statement.target.id}' has type {kind}; use one of "
                             f"{', '.join(TYPES)}")
        try:
            default = ast.literal_eval(statement.value)
        except ValueError:
            raise UsageError(f"{where}: parameter '{statement.target.id}' needs a literal default "
                             f"(a number, text, True or False)") from None
        line = lines[statement.lineno - 1]
        help_text = line.split("#", 1)[1].strip() if "#" in line[statement.value.end_col_offset:] else ""
        found.append((statement.target.id, kind, default, help_text))
    return found


def check_opens_itself(cells: list[dict], name: str, where: str) -> None:
    """A copied notebook still calling open_report('<the original>') would run under the original's definition."""
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        try:
            tree = ast.parse("".join(source) if isinstance(source, list) else source)
        except SyntaxError:
            continue  # IPython magics and the like: the kernel, not the portfolio, judges them
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "open_report"
                    and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value != name):
                raise UsageError(f"{where}: open_report({node.args[0].value!r}, ...) names another report; this "
                                 f"notebook is '{name}': write open_report({name!r}, globals())")


def report_from_notebook(path: Path) -> Report:
    """The report a notebook defines: name from its file, parameters from its cell, the rest from its metadata."""
    from ..input_files import read_input_text

    where = display_path(path)
    name = path.stem
    if not REPORT_NAME.fullmatch(name):
        raise UsageError(f"{where}: a report's file name must be lower-case letters, digits and '_' "
                         f"(it names the report's output folder); rename the notebook")
    try:
        notebook = json.loads(read_input_text(path, limit=NOTEBOOK_LIMIT, what="notebook"))
        cells, metadata = notebook["cells"], notebook.get("metadata", {})
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{where}: not a Jupyter notebook (nbformat 4 JSON)") from None
    block = metadata.get(METADATA_KEY)
    if not isinstance(block, dict):
        raise UsageError(f"{where}: its metadata has no '{METADATA_KEY}' block; every notebook in the notebooks "
                         f"folder is a report (see the README, 'Add a report')")
    check_opens_itself(cells, name, where)
    source = parameters_cell(cells)
    if source is None:
        raise UsageError(f"{where}: no cell is tagged 'parameters'; tag the cell that defines its parameters")
    constraints = block.get("parameters", {})
    if not isinstance(constraints, dict):
        raise UsageError(f"{where}: '{METADATA_KEY}.parameters' must map parameter names to their constraints")
    parsed = parse_parameters(source, where)
    names = [p[0] for p in parsed]
    unknown = sorted(set(constraints) - set(names))
    if unknown:
        raise UsageError(f"{where}: '{METADATA_KEY}.parameters' constrains '{unknown[0]}', which the parameters "
                         f"cell does not define")
    parameters = []
    for pname, kind, default, help_text in parsed:
        rules = constraints.get(pname, {})
        bad = sorted(set(rules) - set(CONSTRAINT_KEYS)) if isinstance(rules, dict) else ["(not a mapping)"]
        if bad:
            raise UsageError(f"{where}: parameter '{pname}' has an unknown constraint '{bad[0]}' (known: "
                             f"{', '.join(CONSTRAINT_KEYS)})")
        try:
            parameters.append(Parameter(
                pname, kind, default, help_text,
                choices=tuple(rules["choices"]) if "choices" in rules else None,
                items=DataItems.from_metadata(rules["items_from"]) if "items_from" in rules else None,
                minimum=rules.get("min"), maximum=rules.get("max"),
                names_folder=bool(rules.get("names_folder", True)), input_file=bool(rules.get("input_file", False))))
        except ValueError as exc:
            raise UsageError(f"{where}: parameter '{pname}': {exc}") from None
        except UsageError as exc:
            raise UsageError(f"{where}: the default breaks its own constraint: {exc}") from None
    tables = block.get("tables")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, str) for t in tables):
        raise UsageError(f"{where}: '{METADATA_KEY}.tables' must list the data tables the notebook reads")
    title = metadata.get("title")
    if not isinstance(title, str) or not title.strip():
        raise UsageError(f"{where}: its metadata has no 'title'; give the report's title there")
    order = block.get("order", 0)
    if not isinstance(order, (int, float)) or isinstance(order, bool):
        raise UsageError(f"{where}: '{METADATA_KEY}.order' must be a number")
    return Report(name=name, title=title, notebook=path.name, description=str(block.get("description", "")),
                  parameters=tuple(parameters), tables=tuple(tables), order=float(order))


_CACHE: dict[Path, tuple[tuple, dict[str, Report]]] = {}


def portfolio(notebook_dir: Path = NOTEBOOK_DIR) -> dict[str, Report]:
    """Every report in the notebooks folder, in their `order` (then name); read again when a notebook changes."""
    folder = Path(notebook_dir)
    if not folder.is_dir():
        raise UsageError(f"notebooks folder {display_path(folder)} does not exist; pass --notebook-dir")
    try:
        paths = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    except OSError as exc:
        raise UsageError(f"cannot read the notebooks folder {display_path(folder)}: {exc.strerror}") from None
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    cached = _CACHE.get(folder.resolve())
    if cached is not None and cached[0] == stamp:
        return cached[1]
    reports = sorted((report_from_notebook(p) for p in paths), key=lambda r: (r.order, r.name))
    found = {r.name: r for r in reports}
    _CACHE[folder.resolve()] = (stamp, found)
    return found


def get_report(name: str, notebook_dir: Path = NOTEBOOK_DIR) -> Report:
    reports = portfolio(notebook_dir)
    try:
        return reports[name]
    except KeyError:
        known = ", ".join(reports)
        raise UsageError(f"unknown report '{name}'; choose from: {known}") from None


def csv_rows(data_dir: Path) -> Callable[[str], list[dict] | None]:
    """A data folder's tables as rows of text, read with the standard library: what the parameter checks that run
    before any kernel (and before pandas) read. None for a table that cannot be read; validation says why."""
    from ..input_files import DATA_FILE_LIMIT, InputFileError, read_input_text

    def rows_of(table: str) -> list[dict] | None:
        try:
            text = read_input_text(Path(data_dir) / f"{table}.csv", limit=DATA_FILE_LIMIT, what="data file")
            return list(csv.DictReader(io.StringIO(text)))
        except (InputFileError, csv.Error):
            return None

    return rows_of
