"""The build runner: validate, execute each report's notebook with papermill, render, record.

Everything that can be checked (reports, formats, parameters, data) is checked before any
kernel starts. A failed report does not stop the others (unless --fail-fast); its executed
notebook goes to `failed/` and its previous good outputs are carried into the new tree. The
new tree becomes visible in one atomic step (see outputs.py).
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import nbformat

from . import __version__
from .data import data_file_hashes, validate
from .exceptions import ReportFailed, UsageError
from .files import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file
from .outputs import FAILED, MANIFEST_NAME, STAGING, OutputTree, build_lock
from .paths import DATA_DIR, NOTEBOOK_DIR, OUTPUT_DIR, display_path
from .reports import REPORTS, Report, get_report

FORMATS = ("html", "pdf")
KERNEL_NAME = "python3"
DEFAULT_CELL_TIMEOUT = 600  # seconds; a hung cell fails its report instead of hanging the schedule
TABLE_METADATA_KEY = "crizotinib_reports_table"  # display metadata carrying a table's CSV
SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,63}")
TRACKED_PACKAGES = ("papermill", "nbconvert", "nbclient", "ipykernel", "pandas", "numpy", "matplotlib", "seaborn",
                    "great-tables", "pandera", "statsmodels", "scipy", "weasyprint")


@dataclass
class ReportResult:
    report: str
    status: str  # "built", "failed" or "skipped" (after a failure with --fail-fast)
    parameters: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    failing_cell: int | None = None
    failed_notebook: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "built"


def parse_param_overrides(pairs: list[str], reports: list[Report]) -> dict[str, dict[str, Any]]:
    """KEY=VALUE texts to typed values per report; a key must belong to at least one chosen report."""
    per_report: dict[str, dict[str, Any]] = {r.name: {} for r in reports}
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
            per_report[report.name][key] = report.parameter(key).parse(text)
    return per_report


def table_csvs(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """The CSV text of every report table shown in an executed notebook, by table name."""
    found: dict[str, str] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            table = output.get("metadata", {}).get(TABLE_METADATA_KEY)
            if not table:
                continue
            if not isinstance(table.get("name"), str) or not SAFE_NAME.fullmatch(table["name"]):
                raise ReportFailed(f"table name {table.get('name')!r} is not a safe file name "
                                   f"(lower-case letters, digits, '_' and '-' only)")
            name, suffix = table["name"], 2
            while name in found:
                name, suffix = f"{table['name']}_{suffix}", suffix + 1
            found[name] = table["csv"]
    return found


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "crizotinib-reports": __version__}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_manifest(folder: Path | None) -> dict[str, Any]:
    """A tree's manifest, so a build of one report keeps the record of the others."""
    if folder is None:
        return {"reports": {}}
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        if isinstance(manifest, dict) and isinstance(manifest.get("reports"), dict):
            return manifest
    except (OSError, ValueError):
        pass
    return {"reports": {}}


class Builder:
    """Builds reports into an output folder; created once per CLI call so exporters are reused."""

    def __init__(self, data_dir: Path = DATA_DIR, output_dir: Path = OUTPUT_DIR, formats: tuple[str, ...] = FORMATS,
                 notebook_dir: Path = NOTEBOOK_DIR, log: Callable[[str], None] = print,
                 cell_timeout: int = DEFAULT_CELL_TIMEOUT):
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise UsageError(f"unknown format '{unknown[0]}'; choose from: {', '.join(FORMATS)}")
        if cell_timeout <= 0:
            raise UsageError(f"--timeout must be a positive number of seconds, got {cell_timeout}")
        self.data_dir = Path(data_dir).resolve()
        self.output_dir = Path(output_dir).resolve()
        self.formats = tuple(dict.fromkeys(formats))
        self.notebook_dir = Path(notebook_dir).resolve()
        self.log = log
        self.cell_timeout = cell_timeout
        self._renderer = None

    @property
    def renderer(self):
        if self._renderer is None:
            from .render import Renderer  # nbconvert and WeasyPrint load only when something renders

            self._renderer = Renderer()
        return self._renderer

    def build(self, names: list[str], param_pairs: list[str], fail_fast: bool = False,
              wait: bool = True) -> list[ReportResult]:
        """Check everything that can be checked before a kernel starts, then build each report."""
        reports = [get_report(n) for n in (names or list(REPORTS))]
        overrides = parse_param_overrides(param_pairs, reports)
        resolved = {r.name: r.resolve({**overrides[r.name], "data_dir": str(self.data_dir)}) for r in reports}
        missing = [r.notebook for r in reports if not (self.notebook_dir / r.notebook).is_file()]
        if missing:
            raise UsageError(f"notebook {missing[0]} not found in {display_path(self.notebook_dir)}")
        validate(self.data_dir)
        os.environ.setdefault("MPLBACKEND", "agg")
        with build_lock(self.output_dir, wait, self.log):
            tree = OutputTree(self.output_dir)
            try:
                results = self._build_all(reports, resolved, tree, fail_fast)
                self._write_manifest(tree, results)
                tree.commit()
            except BaseException:
                tree.abandon()
                raise
        return results

    def _build_all(self, reports: list[Report], resolved: dict[str, dict], tree: OutputTree,
                   fail_fast: bool) -> list[ReportResult]:
        results = []
        for report in reports:
            if fail_fast and any(not r.ok for r in results):
                results.append(ReportResult(report.name, "skipped", resolved[report.name],
                                            error="not built: an earlier report failed and --fail-fast is set"))
                continue
            results.append(self.build_one(report, resolved[report.name], tree))
        built = {r.report for r in results if r.ok}
        failed_now = {r.report for r in results if r.status == "failed"}
        previous = load_manifest(tree.previous)["reports"]
        for name in dict.fromkeys(list(REPORTS) + list(previous)):
            if name not in built:
                tree.carry_over(name)  # previous good outputs stay, now in the new tree
                if name not in failed_now:
                    tree.carry_over_failed(name)
        return results

    def build_one(self, report: Report, parameters: dict[str, Any], tree: OutputTree) -> ReportResult:
        import papermill
        from nbclient.exceptions import CellTimeoutError
        from papermill.exceptions import PapermillExecutionError

        result = ReportResult(report.name, "failed", parameters)
        notebook_path = self.notebook_dir / report.notebook
        executed_path = self.output_dir / STAGING / f"{report.name}.{os.getpid()}.ipynb"
        started = time.perf_counter()
        self.log(f"{report.name}: executing {display_path(notebook_path)}")
        try:
            papermill.execute_notebook(
                str(notebook_path), str(executed_path), parameters=parameters, kernel_name=KERNEL_NAME,
                progress_bar=False, cwd=str(self.notebook_dir), log_output=False,
                execution_timeout=self.cell_timeout, extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        except PapermillExecutionError as exc:
            result.failing_cell = self._source_cell_number(executed_path, exc.cell_index)
            first_line = exc.source.strip().splitlines()[0] if exc.source.strip() else ""
            result.error = (f"{display_path(notebook_path)} cell {result.failing_cell} ({first_line[:60]!r}) "
                            f"raised {exc.ename}: {exc.evalue}")
            return self._fail(result, executed_path, tree)
        except Exception as exc:  # a timeout, a dead kernel, an unreadable notebook: still one line
            if isinstance(exc, CellTimeoutError):
                result.error = (f"{display_path(notebook_path)}: a cell ran longer than the {self.cell_timeout} s "
                                f"cell timeout (--timeout)")
            else:
                result.error = f"{display_path(notebook_path)}: {type(exc).__name__}: {exc}".splitlines()[0]
            return self._fail(result, executed_path, tree)
        finally:
            result.seconds["execute"] = round(time.perf_counter() - started, 3)

        try:
            executed_bytes = executed_path.read_bytes()
            notebook = nbformat.reads(executed_bytes.decode("utf-8"), as_version=4)
            rendered: dict[str, bytes] = {f"{report.name}.ipynb": executed_bytes}
            for fmt in self.formats:
                started = time.perf_counter()
                rendered[f"{report.name}.{fmt}"] = (self.renderer.html(notebook).encode("utf-8") if fmt == "html"
                                                    else self.renderer.pdf(notebook))
                result.seconds[fmt] = round(time.perf_counter() - started, 3)
            tables = table_csvs(notebook)
        except Exception as exc:
            result.error = f"rendering failed: {type(exc).__name__}: {exc}".splitlines()[0]
            return self._fail(result, executed_path, tree)
        for name, text in tables.items():
            rendered[f"tables/{name}.csv"] = text.encode("utf-8")

        for relative, data in rendered.items():
            atomic_write_bytes(tree.new / report.name / relative, data)
            result.outputs[relative] = {"sha256": sha256_bytes(data), "bytes": len(data)}
        executed_path.unlink(missing_ok=True)
        result.status = "built"
        result.seconds["total"] = round(sum(result.seconds.values()), 3)
        formats = ", ".join(["ipynb", *self.formats])
        self.log(f"{report.name}: built {formats} and {len(tables)} table CSVs in {result.seconds['total']:.1f} s")
        return result

    @staticmethod
    def _source_cell_number(executed_path: Path, cell_index: int) -> int:
        """1-based number of the failing cell in the source notebook (papermill inserts one cell)."""
        try:
            cells = nbformat.read(executed_path, as_version=4).cells[:cell_index]
            injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells)
        except Exception:
            injected = 0
        return cell_index - injected + 1

    def _fail(self, result: ReportResult, executed_path: Path, tree: OutputTree) -> ReportResult:
        if executed_path.exists():
            atomic_write_bytes(tree.new / FAILED / f"{result.report}.ipynb", executed_path.read_bytes())
            executed_path.unlink()
            result.failed_notebook = f"{FAILED}/{result.report}.ipynb"
        self.log(f"{result.report}: FAILED: {result.error}")
        return result

    def _write_manifest(self, tree: OutputTree, results: list[ReportResult]) -> None:
        """The new tree's manifest: fresh entries for this build, earlier ones for what was carried over."""
        previous = load_manifest(tree.previous)["reports"]
        entries = {name: entry for name, entry in previous.items() if (tree.new / name).is_dir()}
        data_hashes = data_file_hashes(self.data_dir)
        versions = package_versions()
        for result in results:
            report = get_report(result.report)
            entry = {
                "title": report.title,
                "status": result.status,
                "built_at": _now(),
                "parameters": {**result.parameters, "data_dir": display_path(Path(result.parameters["data_dir"]))},
                "notebook": {"path": display_path(self.notebook_dir / report.notebook),
                             "sha256": sha256_file(self.notebook_dir / report.notebook)},
                "data": {"dir": display_path(self.data_dir), "sha256": data_hashes},
                "versions": versions,
                "seconds": result.seconds,
                "outputs": result.outputs,
            }
            if not result.ok:
                kept = previous.get(result.report, {})
                entry.update(error=result.error, failing_cell=result.failing_cell,
                             failed_notebook=result.failed_notebook,
                             outputs=kept.get("outputs", {}) if (tree.new / result.report).is_dir() else {},
                             kept_from=kept.get("built_at") if (tree.new / result.report).is_dir() else None)
            entries[result.report] = entry
        manifest = {"generated_at": _now(), "package": {"name": "crizotinib-reports", "version": __version__},
                    "build": tree.new.name, "reports": entries}
        atomic_write_json(tree.new / MANIFEST_NAME, manifest)
