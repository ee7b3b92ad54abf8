"""What a report notebook calls: check its parameters, load the data, show and cite.

A notebook's code stays three kinds of line: `report = open_report(...)`, then
`report.show(tables.x(...))` / `report.show(figures.y(...))`, then `report.show_references()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from html import escape
from pathlib import Path
from typing import Any

from IPython.display import HTML, Markdown, display

from . import __version__
from .build_time import build_time
from .evidence.data import Evidence, load_evidence
from .evidence.figures import ReportFigure
from .plain_text import ReportMarkdown, markdown_escaped
from .exceptions import UsageError
from .paths import NOTEBOOK_DIR, display_path
from .publish.portfolio import TABLE_METADATA_KEY, Report, get_report, portfolio
from .evidence.tables import ReportTable, references_table


@dataclass
class ReportSession:
    report: Report
    parameters: dict[str, Any]
    evidence: Evidence
    number: int = 0  # the report's place in the portfolio: its tables are Table <number>.1, .2, ...
    source_ids: list[str] = field(default_factory=list)
    tables_shown: int = 0
    figures_shown: int = 0

    def show(self, item: ReportTable | ReportFigure | ReportMarkdown | str) -> None:
        """Display a table, figure, the package's Markdown or plain text, remembering sources for the references.

        Only a ReportMarkdown (text.py's prose, data values escaped in it) is read as Markdown; any other
        str is shown as the characters it holds, so a link, image or `$math$` in it stays text.
        """
        if isinstance(item, ReportTable):
            self.source_ids.extend(item.source_ids)
            self.tables_shown += 1
            item = replace(item, number=f"{self.number}.{self.tables_shown}")
            # The build writes the numbers behind each table as CSV from this metadata.
            display(HTML(item._repr_html_()),
                    metadata={TABLE_METADATA_KEY: {"name": item.name, "title": item.title, "number": item.number,
                                                   "csv": item.csv_text()}})
        elif isinstance(item, ReportFigure):
            self.source_ids.extend(item.source_ids)
            self.figures_shown += 1
            display(HTML(replace(item, number=f"{self.number}.{self.figures_shown}")._repr_html_()))
        elif isinstance(item, ReportMarkdown):
            display(Markdown(str(item)))
        else:
            display(Markdown(markdown_escaped(item)))

    def show_changes(self, changes_file: str) -> None:
        """The run's change summary, which 'crizotinib-reports run' writes before it builds this report."""
        self.show(changes_since_last_run(changes_file))

    def show_other_reports(self) -> None:
        """The bundle's other reports, each with its title and description, read from the portfolio."""
        self.show(other_reports(self.report))

    def show_references(self) -> None:
        self.show(references_table(self.evidence, self.source_ids))

    def show_provenance(self) -> None:
        """Footer: what this report was built from, so a reader can tell two printouts apart."""
        tables = {f"{t}.csv" for t in self.report.tables} | {"schema.yaml"}
        hashes = {name: digest for name, digest in self.evidence.hashes.items() if name in tables}
        # Folders and files are named, not located: a path says where the build ran, which no reader needs.
        files = {p.name for p in self.report.parameters if p.input_file}
        shown = {k: Path(v).name if k in files and v else v for k, v in self.parameters.items() if k != "data_dir"}
        display(HTML(provenance_html(shown, hashes)))


def provenance_html(parameters: dict[str, Any], hashes: dict[str, str]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in parameters.items())
    data = ", ".join(f"{name} {digest[:12]}" for name, digest in hashes.items())
    built = build_time().strftime("%Y-%m-%d %H:%M UTC")  # the build's recorded time (SOURCE_DATE_EPOCH), not now
    rows = [("Built", f"{built} by crizotinib-reports {__version__}"), ("Parameters", params),
            ("Data (SHA-256, first 12 hex digits)", data)]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<footer class="provenance"><h2>Provenance</h2><table>{body}</table></footer>'


def notebook_folder(name: str) -> Path:
    """Where the report's notebook is: the kernel's folder when it holds it (JupyterLab, a build), else the
    project's notebooks folder (papermill run from anywhere)."""
    here = Path.cwd()
    return here if (here / f"{name}.ipynb").is_file() else NOTEBOOK_DIR


def resolve_data_dir(data_dir: str, folder: Path) -> Path:
    """A relative data folder is read from the notebook's folder (as '../data' is written), wherever the kernel runs."""
    path = Path(data_dir)
    resolved = path if path.is_absolute() else (folder / path).resolve()
    if not resolved.is_dir():
        raise UsageError(f"data folder {display_path(resolved)} not found (data_dir={data_dir!r}, read from "
                         f"{display_path(folder)}); set data_dir to the folder of the CSV tables, e.g. "
                         f"-p data_dir /path/to/data with papermill")
    return resolved


def open_report(name: str, namespace: dict[str, Any]) -> ReportSession:
    """Check the notebook's parameters against its own definition, then load validated evidence.

    `namespace` is the notebook's globals(): the parameters cell (and papermill's injected
    cell) define the values there; anything wrong stops the notebook with one clear line.
    """
    folder = notebook_folder(name)
    report = get_report(name, folder)
    values = report.resolve({p.name: namespace[p.name] for p in report.parameters if p.name in namespace})
    data_dir = resolve_data_dir(values["data_dir"], folder)
    evidence = load_evidence(data_dir, report.tables, report.name)
    # A value naming what the data lack ('drugs' naming a drug no trial tests) is refused, as the build does.
    report.check_against_data(values, lambda table: getattr(evidence, table).to_dict("records"),
                              display_path(data_dir))
    return ReportSession(report, values, evidence, number=report_number(report, folder))


def report_number(report: Report, folder: Path) -> int:
    """The report's place (from 1) in the portfolio's order: the first part of its tables' and figures' numbers."""
    return list(portfolio(folder)).index(report.name) + 1


def other_reports(report: Report) -> ReportMarkdown:
    """Every report of the portfolio but this one, in the portfolio's order, as the package's Markdown."""
    from .plain_text import markdown

    others = [r for r in portfolio(notebook_folder(report.name)).values() if r.name != report.name]
    return ReportMarkdown("\n").join(markdown("- **{title}**: {description}", title=r.title, description=r.description)
                                     for r in others)


def changes_since_last_run(changes_file: str) -> ReportMarkdown:
    """A run's change summary (changes.json) as the package's Markdown, every line from it escaped."""
    import json

    from .input_files import DATA_FILE_LIMIT, read_input_text
    from .plain_text import markdown
    from .publish.changes import ChangeSummary

    text = read_input_text(changes_file, limit=DATA_FILE_LIMIT, what="change summary (changes_file)")
    summary = ChangeSummary.from_json(json.loads(text))
    lines = ReportMarkdown("\n").join(markdown("- {line}", line=line) for line in summary.lines())
    return markdown(
        "## What changed since the last run\n\n**{headline}.**\n\n{lines}\n\n"
        "Compared with the previous successful run: first the data files, row by row, then the numbers "
        "behind the tables of the section reports (their CSV files); this overview's own tables restate "
        "those numbers and are not compared.",
        headline=summary.headline[0].upper() + summary.headline[1:], lines=lines)
