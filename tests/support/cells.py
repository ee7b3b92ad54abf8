"""Run a report notebook's code cells in this process and collect what it shows: no kernel, no papermill.

`run_report(name, **parameters)` executes the notebook's code cells in a fresh namespace, with the
parameters assigned after the parameters cell (as papermill injects them), and returns every item the
notebook passed to `report.show(...)`: tables, figures and prose, as the objects themselves. `describe`
turns one into text (a table's cells, notes and source line; a figure's caption, alt text and what its
axes draw), so two runs can be compared. The provenance footer, which states the parameters, is not
collected: it says what was asked, not what the data answered.

The build's own shortcut makes repeated runs cheap: the data are validated once and handed to every run
through the file a build hands its kernels (evidence.data.VALIDATED_CACHE_ENV).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path
from tempfile import mkdtemp
from typing import Any, Iterator
from unittest import mock

from crizotinib_reports import notebook as notebook_module
from crizotinib_reports.evidence.data import VALIDATED_CACHE_ENV, data_file_hashes, validate, validated_payload
from crizotinib_reports.evidence.figures import ReportFigure
from crizotinib_reports.evidence.tables import ReportTable
from crizotinib_reports.paths import DATA_DIR, NOTEBOOK_DIR
from crizotinib_reports.plain_text import ReportMarkdown
from crizotinib_reports.publish.portfolio import get_report, parameters_cell


def code_cells(name: str, notebook_dir: Path = NOTEBOOK_DIR) -> list[tuple[str, bool]]:
    """(source, is the parameters cell) of each code cell of a report's notebook, in order."""
    notebook = json.loads((Path(notebook_dir) / get_report(name, notebook_dir).notebook).read_text(encoding="utf-8"))
    parameters = parameters_cell(notebook["cells"])
    cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cells.append((source, source == parameters))
    return cells


def markdown_cells(name: str, notebook_dir: Path = NOTEBOOK_DIR) -> list[str]:
    """The text of each Markdown cell of a report's notebook, in order: the prose typed into the notebook itself."""
    notebook = json.loads((Path(notebook_dir) / get_report(name, notebook_dir).notebook).read_text(encoding="utf-8"))
    return ["".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for cell in notebook["cells"] if cell["cell_type"] == "markdown"]


@cache
def _validated_file(data_dir: Path) -> Path:
    """The data validated once per test session, in the form a build hands its kernels."""
    folder = Path(mkdtemp(prefix="crizotinib-cells-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # the session made it; the session removes it
    payload = validated_payload(data_dir, data_dir, data_file_hashes(data_dir), validate(data_dir))
    path = folder / "validated-data.pickle"
    path.write_bytes(payload)
    return path


@contextmanager
def _recording(shown: list[Any]) -> Iterator[None]:
    """report.show(...) records each item; nothing is rendered to HTML or PNG (what is shown is the item)."""
    original = notebook_module.ReportSession.show

    def show(session, item):  # noqa: ANN001 - the session method's own signature
        shown.append(item)
        original(session, item)

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(notebook_module.ReportSession, "show", show))
        stack.enter_context(mock.patch.object(notebook_module, "display", lambda *args, **kwargs: None))
        stack.enter_context(mock.patch.object(ReportTable, "_repr_html_", lambda self: ""))
        stack.enter_context(mock.patch.object(ReportFigure, "_repr_html_", lambda self: ""))
        yield


def run_report(name: str, notebook_dir: Path = NOTEBOOK_DIR, data_dir: Path = DATA_DIR,
               **parameters: Any) -> list[Any]:
    """Every item the report's notebook shows, run with these parameters (the others at their defaults)."""
    injected = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    shown: list[Any] = []
    namespace: dict[str, Any] = {"__name__": "__main__"}
    environment = {VALIDATED_CACHE_ENV: str(_validated_file(Path(data_dir).resolve()))}
    with _recording(shown), mock.patch.dict(os.environ, environment):
        for number, (source, is_parameters) in enumerate(code_cells(name, notebook_dir), start=1):
            exec(compile(source, f"<{name} code cell {number}>", "exec"), namespace)  # noqa: S102 - our notebooks
            if is_parameters and injected:
                exec(compile(injected, f"<{name} injected parameters>", "exec"), namespace)  # noqa: S102
    return shown


# --- what an item shows, as text ---------------------------------------------------------------------

def drawn(figure: Any) -> list[str]:
    """What a matplotlib figure draws, axis by axis: titles, labels, limits, ticks, texts, lines, points, bars."""
    described = []
    for number, ax in enumerate(figure.axes):
        prefix = f"axes {number}"
        described += [f"{prefix} title: {ax.get_title(loc='left')}|{ax.get_title()}",
                      f"{prefix} x: {ax.get_xlabel()} {tuple(round(v, 6) for v in ax.get_xlim())} {ax.get_xscale()}",
                      f"{prefix} y: {ax.get_ylabel()} {tuple(round(v, 6) for v in ax.get_ylim())}",
                      f"{prefix} xticks: {[t.get_text() for t in ax.get_xticklabels()]} {list(ax.get_xticks())}",
                      f"{prefix} yticks: {[t.get_text() for t in ax.get_yticklabels()]} {list(ax.get_yticks())}"]
        described += [f"{prefix} text: {t.get_text()} at {t.get_position()}" for t in ax.texts]
        described += [f"{prefix} line: {list(line.get_xydata().round(6).tolist())} {line.get_marker()}"
                      for line in ax.lines]
        for collection in ax.collections:
            offsets = collection.get_offsets()
            segments = getattr(collection, "get_segments", lambda: [])()
            described.append(f"{prefix} collection: {[list(map(float, p)) for p in offsets]} "
                             f"{[s.round(6).tolist() for s in segments]}")
        described += [f"{prefix} patch: {type(p).__name__} {p.get_xy() if hasattr(p, 'get_xy') else ''} "
                      f"{getattr(p, 'get_width', lambda: '')()} {getattr(p, 'get_height', lambda: '')()}"
                      for p in ax.patches]
        legend = ax.get_legend()
        if legend is not None:
            described.append(f"{prefix} legend: {[t.get_text() for t in legend.get_texts()]}")
    return described


def describe(item: Any) -> str:
    """One shown item as text: everything a reader gets from it (a figure's drawing as its artists' data)."""
    if isinstance(item, ReportTable):
        return "\n".join([f"table {item.name}: {item.title}", item.population, item.frame.to_csv(index=False),
                          *item.footnotes, item.source_text, item.csv_text()])
    if isinstance(item, ReportFigure):
        return "\n".join([f"figure {item.name}: {item.caption}", item.alt, item.source_text, *drawn(item.figure)])
    if isinstance(item, ReportMarkdown):
        return f"prose: {item}"
    return f"text: {item}"


def prose(shown: list[Any]) -> list[str]:
    """The prose items of a run, as the Markdown the notebook displayed."""
    return [str(item) for item in shown if isinstance(item, (ReportMarkdown, str))]
