"""Stand-in notebooks for the tests of the build's mechanics: the real reports' names, metadata and parameters,
with one quick cell in place of the analysis.

What decides a rebuild (the notebook's declared tables, its parameters), what a lock, a kill, a timeout or a
failed report does to the output folder: none of it depends on what the cells compute, and a real report
costs its kernel seconds of imports and its PDF seconds of layout. A stand-in prints its parameters and the
CSV text of every table it declares, read from its `data_dir` (which the build sets to its `--data-dir`), so
an edit to the data shows in its HTML. It imports nothing heavy: its kernels are warmed with nothing else.
The reports themselves are built by the shared build (tests/conftest.py) and the tests that need their content.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from crizotinib_reports.paths import NOTEBOOK_DIR
from crizotinib_reports.publish.portfolio import get_report

_CELL = """\
from pathlib import Path as _Path
for _table in {tables!r}:
    print(_table, (_Path(data_dir) / (_table + ".csv")).read_text(encoding="utf-8"))
print({{_name: globals()[_name] for _name in {parameters!r}}})
"""


def stand_in(name: str, notebook_dir: Path = NOTEBOOK_DIR, extra_cells: tuple[str, ...] = ()) -> dict:
    """The report's notebook with its analysis replaced by one quick cell (then `extra_cells`, if any)."""
    report = get_report(name, notebook_dir)
    notebook = json.loads((Path(notebook_dir) / report.notebook).read_text(encoding="utf-8"))
    parameters = next(cell for cell in notebook["cells"]
                      if cell["cell_type"] == "code" and "parameters" in cell["metadata"].get("tags", []))
    body = _CELL.format(tables=list(report.tables),
                        parameters=["data_dir", *(p.name for p in report.parameters if p.name != "data_dir")])
    notebook["cells"] = [notebook["cells"][0], parameters, _code(body), *(_code(source) for source in extra_cells)]
    return notebook


def stand_in_folder(folder: Path, names: list[str] | tuple[str, ...],
                    extra_cells: dict[str, tuple[str, ...]] | None = None) -> Path:
    """A notebook folder (for `--notebook-dir`) holding these reports as stand-ins."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        notebook = stand_in(name, extra_cells=(extra_cells or {}).get(name, ()))
        (folder / f"{name}.ipynb").write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return folder


def _code(source: str) -> dict:
    """A code cell whose id is its source's hash: the same stand-in is the same file on every run."""
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source,
            "id": "stand-in-" + hashlib.sha256(source.encode()).hexdigest()[:8]}
