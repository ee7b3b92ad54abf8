"""The build runner: validate, execute each report's notebook with papermill, render, record.

A failed report does not stop the others; its executed notebook goes to `failed/` and the
previous good outputs stay in place. Every output is written beside its target and renamed.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import nbformat

from . import __version__
from .data import data_file_hashes, validate
from .exceptions import UsageError
from .files import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file
from .paths import DATA_DIR, NOTEBOOK_DIR, OUTPUT_DIR, display_path
from .reports import REPORTS, Report, get_report

FORMATS = ("html", "pdf")
MANIFEST_NAME = "manifest.json"
TABLE_METADATA_KEY = "crizotinib_reports_table"  # display metadata carrying a table's CSV
KERNEL_NAME = "python3"
TRACKED_PACKAGES = ("papermill", "nbconvert", "nbclient", "ipykernel", "pandas", "numpy", "matplotlib", "seaborn",
                    "great-tables", "pandera", "statsmodels", "scipy", "weasyprint")


@dataclass
class ReportResult:
    report: str
    status: str  # "built" or "failed"
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
            if table:
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


def load_manifest(output_dir: Path) -> dict[str, Any]:
    """The previous manifest, so building one report keeps the record of the others."""
    path = output_dir / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(manifest, dict) and isinstance(manifest.get("reports"), dict):
            return manifest
    except (OSError, ValueError):
        pass
    return {"reports": {}}


class Builder:
    """Builds reports into an output folder; created once per CLI call so exporters are reused."""

    def __init__(self, data_dir: Path = DATA_DIR, output_dir: Path = OUTPUT_DIR, formats: tuple[str, ...] = FORMATS,
                 notebook_dir: Path = NOTEBOOK_DIR, log: Callable[[str], None] = print):
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise UsageError(f"unknown format '{unknown[0]}'; choose from: {', '.join(FORMATS)}")
        self.data_dir = Path(data_dir).resolve()
        self.output_dir = Path(output_dir).resolve()
        self.formats = tuple(dict.fromkeys(formats))
        self.notebook_dir = Path(notebook_dir).resolve()
        self.log = log
        self._renderer = None

    @property
    def renderer(self):
        if self._renderer is None:
            from .render import Renderer  # nbconvert and WeasyPrint load only when something renders

            self._renderer = Renderer()
        return self._renderer

    def build(self, names: list[str], param_pairs: list[str]) -> list[ReportResult]:
        """Check everything that can be checked before a kernel starts, then build each report."""
        reports = [get_report(n) for n in (names or list(REPORTS))]
        overrides = parse_param_overrides(param_pairs, reports)
        resolved = {r.name: r.resolve({**overrides[r.name], "data_dir": str(self.data_dir)}) for r in reports}
        validate(self.data_dir)
        os.environ.setdefault("MPLBACKEND", "agg")
        results = []
        for report in reports:
            result = self.build_one(report, resolved[report.name])
            results.append(result)
            self._record(result)
        try:
            (self.output_dir / ".staging").rmdir()
        except OSError:
            pass  # not empty: another build may be using it
        return results

    def build_one(self, report: Report, parameters: dict[str, Any]) -> ReportResult:
        import papermill
        from papermill.exceptions import PapermillExecutionError

        result = ReportResult(report.name, "failed", parameters)
        notebook_path = self.notebook_dir / report.notebook
        staging = self.output_dir / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        executed_path = staging / f"{report.name}.ipynb"
        started = time.perf_counter()
        self.log(f"{report.name}: executing {display_path(notebook_path)}")
        try:
            papermill.execute_notebook(
                str(notebook_path), str(executed_path), parameters=parameters, kernel_name=KERNEL_NAME,
                progress_bar=False, cwd=str(self.notebook_dir), log_output=False,
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        except PapermillExecutionError as exc:
            result.failing_cell = self._source_cell_number(executed_path, exc.cell_index)
            first_line = exc.source.strip().splitlines()[0] if exc.source.strip() else ""
            result.error = (f"{display_path(notebook_path)} cell {result.failing_cell} ({first_line[:60]!r}) "
                            f"raised {exc.ename}: {exc.evalue}")
            return self._fail(result, executed_path)
        except Exception as exc:  # kernel died, notebook unreadable: still one line, still the next report
            result.error = f"{type(exc).__name__}: {exc}"
            return self._fail(result, executed_path)
        finally:
            result.seconds["execute"] = round(time.perf_counter() - started, 3)

        executed_bytes = executed_path.read_bytes()
        notebook = nbformat.reads(executed_bytes.decode("utf-8"), as_version=4)
        rendered: dict[str, bytes] = {"ipynb": executed_bytes}
        for fmt in self.formats:
            started = time.perf_counter()
            try:
                rendered[fmt] = (self.renderer.html(notebook).encode("utf-8") if fmt == "html"
                                 else self.renderer.pdf(notebook))
            except Exception as exc:
                result.error = f"rendering {fmt.upper()} failed: {type(exc).__name__}: {exc}"
                return self._fail(result, executed_path)
            finally:
                result.seconds[fmt] = round(time.perf_counter() - started, 3)

        target_dir = self.output_dir / report.name
        tables = table_csvs(notebook)
        for name, text in tables.items():
            rendered[f"tables/{name}.csv"] = text.encode("utf-8")
        for fmt, data in rendered.items():  # all rendered before any is replaced
            target = target_dir / (fmt if fmt.startswith("tables/") else f"{report.name}.{fmt}")
            atomic_write_bytes(target, data)
            result.outputs[fmt] = {"path": str(target.relative_to(self.output_dir)), "sha256": sha256_bytes(data),
                                   "bytes": len(data)}
        executed_path.unlink(missing_ok=True)
        result.status = "built"
        result.seconds["total"] = round(sum(result.seconds.values()), 3)
        stale = target_dir / "tables"
        for old_csv in stale.glob("*.csv") if stale.exists() else []:
            if f"tables/{old_csv.name}" not in rendered:
                old_csv.unlink()  # a table this build no longer shows (e.g. a section switched off)
        formats = [f for f in result.outputs if not f.startswith("tables/")]
        self.log(f"{report.name}: built {', '.join(formats)} and {len(tables)} table CSVs "
                 f"in {result.seconds['total']:.1f} s")
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

    def _fail(self, result: ReportResult, executed_path: Path) -> ReportResult:
        if executed_path.exists():
            failed = self.output_dir / "failed" / f"{result.report}.ipynb"
            atomic_write_bytes(failed, executed_path.read_bytes())
            executed_path.unlink()
            result.failed_notebook = str(failed.relative_to(self.output_dir))
        self.log(f"{result.report}: FAILED: {result.error}")
        return result

    def _record(self, result: ReportResult) -> None:
        """Update this report's entry in the manifest (other reports' entries are kept)."""
        manifest = load_manifest(self.output_dir)
        report = get_report(result.report)
        previous = manifest["reports"].get(result.report, {})
        entry = {
            "title": report.title,
            "status": result.status,
            "built_at": _now(),
            "parameters": result.parameters,
            "notebook": {"path": f"notebooks/{report.notebook}",
                         "sha256": sha256_file(self.notebook_dir / report.notebook)},
            "data": {"dir": display_path(self.data_dir), "sha256": data_file_hashes(self.data_dir)},
            "versions": package_versions(),
            "seconds": result.seconds,
            "outputs": result.outputs,
        }
        if not result.ok:
            entry.update(error=result.error, failing_cell=result.failing_cell, failed_notebook=result.failed_notebook,
                         outputs=previous.get("outputs", {}),
                         note="outputs listed are the previous good build, left in place")
        manifest["reports"][result.report] = entry
        manifest["generated_at"] = _now()
        manifest["package"] = {"name": "crizotinib-reports", "version": __version__}
        atomic_write_json(self.output_dir / MANIFEST_NAME, manifest)
