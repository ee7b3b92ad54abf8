"""The build runner: decide what is stale, validate, execute with papermill in parallel, render, record.

Everything that can be checked (reports, formats, parameters, data) is checked before any
kernel starts. A report whose recorded inputs (inputs.py) are unchanged is not built again.
The others run `--jobs` at a time, each in its own kernel (kernels.py), driven from this one
process through papermill's API, and render in worker processes that each build their
nbconvert/WeasyPrint exporters once. A failed report does not
stop the others (unless --fail-fast); its executed notebook goes to `failed/` and its previous
good outputs are carried into the new tree. The new tree becomes visible in one atomic step
(see outputs.py).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .exceptions import ReportFailed, UsageError
from .files import atomic_write_bytes, atomic_write_json, sha256_bytes
from .inputs import package_versions, rebuild_reasons, report_inputs
from .outputs import FAILED, MANIFEST_NAME, STAGING, OutputTree, build_lock
from .paths import DATA_DIR, NOTEBOOK_DIR, OUTPUT_DIR, display_path
from .progress import LogLines, Progress
from .reports import REPORTS, TABLE_METADATA_KEY, get_report
from .variants import Target, expand_targets, read_variants_file

FORMATS = ("html", "pdf")
KERNEL_NAME = "python3"
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
DEFAULT_CELL_TIMEOUT = 600  # seconds; a hung cell fails its report instead of hanging the schedule
SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,63}")


def default_jobs() -> int:
    """One kernel per core: kernels are CPU-bound, more only queue."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class ReportResult:
    report: str
    folder: str
    status: str  # "built", "failed", "unchanged" (inputs as recorded) or "skipped" (after a failure, --fail-fast)
    parameters: dict[str, Any]
    reasons: list[str] = field(default_factory=list)  # why it was built; empty when unchanged
    inputs: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    failing_cell: int | None = None
    failed_notebook: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("built", "unchanged")


def table_csvs(notebook: Any) -> dict[str, str]:
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


def _outputs_present(folder: Path, entry: dict[str, Any]) -> bool:
    outputs = entry.get("outputs") or {}
    return bool(outputs) and all((folder / name).is_file() and (folder / name).stat().st_size == record.get("bytes")
                                 for name, record in outputs.items())


class Builder:
    """Builds reports into an output folder; one per CLI call (its render workers live for one build)."""

    def __init__(self, data_dir: Path = DATA_DIR, output_dir: Path = OUTPUT_DIR, formats: tuple[str, ...] = FORMATS,
                 notebook_dir: Path = NOTEBOOK_DIR, progress: Progress | None = None,
                 cell_timeout: int = DEFAULT_CELL_TIMEOUT, jobs: int | None = None):
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise UsageError(f"unknown format '{unknown[0]}'; choose from: {', '.join(FORMATS)}")
        if cell_timeout <= 0:
            raise UsageError(f"--timeout must be a positive number of seconds, got {cell_timeout}")
        if jobs is not None and jobs < 1:
            raise UsageError(f"--jobs must be at least 1, got {jobs}")
        self.data_dir = Path(data_dir).resolve()
        self.output_dir = Path(output_dir).resolve()
        self.formats = tuple(dict.fromkeys(formats))
        self.notebook_dir = Path(notebook_dir).resolve()
        self.progress = progress or LogLines(timestamps=False)
        self.cell_timeout = cell_timeout
        self.jobs = jobs or default_jobs()
        self._render_pool: Any = None  # worker processes that render, started at the first render
        self._render_lock = threading.Lock()
        self._failed = threading.Event()
        self._kernels: Any = None  # WarmKernels while a build runs

    def _render(self, executed_path: Path) -> tuple[dict[str, bytes], dict[str, float]]:
        """The requested formats of one executed notebook, rendered in a worker process (one per job).

        HTML is rendered once and printed for the PDF; each worker builds its exporters once.
        """
        with self._render_lock:
            if self._render_pool is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                # 'spawn': a fresh interpreter, not a fork of this one with its threads and sockets.
                self._render_pool = ProcessPoolExecutor(max_workers=self.jobs, initializer=_exit_with_parent,
                                                        initargs=(os.getpid(),),
                                                        mp_context=multiprocessing.get_context("spawn"))
        return self._render_pool.submit(_render_job, str(executed_path), self.formats).result()

    def targets(self, names: list[str], param_pairs: list[str], variants_file: Path | None = None) -> list[Target]:
        reports = [get_report(n) for n in (names or list(REPORTS))]
        variants = read_variants_file(variants_file, reports) if variants_file else None
        targets = expand_targets(reports, param_pairs, self.data_dir, variants)
        missing = [t.report.notebook for t in targets if not (self.notebook_dir / t.report.notebook).is_file()]
        if missing:
            raise UsageError(f"notebook {missing[0]} not found in {display_path(self.notebook_dir)}")
        return targets

    def plan(self, targets: list[Target], force: bool = False) -> list[ReportResult]:
        """Each target with why it must be built, or status 'unchanged' when its recorded inputs match."""
        current = OutputTree.current_target(self.output_dir)
        previous = load_manifest(current)["reports"]
        planned = []
        for target in targets:
            inputs = report_inputs(self.notebook_dir / target.report.notebook,
                                   {**target.parameters, "data_dir": display_path(self.data_dir)},
                                   self.data_dir, target.report.tables, self.formats)
            entry = previous.get(target.folder) or {}
            if force:
                reasons = ["--force"]
            elif entry.get("status") == "failed":
                reasons = ["failed last time"]
            elif entry and not _outputs_present(current / target.folder, entry):
                reasons = ["outputs missing"]
            else:
                reasons = rebuild_reasons(entry.get("inputs"), inputs)
            planned.append(ReportResult(target.report.name, target.folder, "unchanged" if not reasons else "pending",
                                        target.parameters, reasons, inputs))
        return planned

    def build(self, names: list[str], param_pairs: list[str], fail_fast: bool = False, wait: bool = True,
              force: bool = False, variants_file: Path | None = None) -> list[ReportResult]:
        """Check everything that can be checked before a kernel starts, then build what is stale."""
        targets = self.targets(names, param_pairs, variants_file)
        planned = self.plan(targets, force)
        if all(r.status == "unchanged" for r in planned):
            return self._report_unchanged(planned)
        from .data import VALIDATED_CACHE_ENV, validate, write_validated_cache  # pandas, pandera: only to build
        from .kernels import WarmKernels

        # Kernels inherit the environment when they start, which is now: they boot while we validate.
        cache = self.output_dir / STAGING / "validated-data.pickle"
        os.environ[VALIDATED_CACHE_ENV] = str(cache)
        os.environ.setdefault("MPLBACKEND", "agg")
        stale = sum(r.status != "unchanged" for r in planned)
        self._kernels = WarmKernels(stale, min(self.jobs, stale), KERNEL_NAME, self.notebook_dir, KERNEL_ARGUMENTS)
        try:
            tables = validate(self.data_dir)
            with build_lock(self.output_dir, wait, self.progress.message):
                planned = self.plan(targets, force)  # again: another build may have run while we waited
                if all(r.status == "unchanged" for r in planned):
                    return self._report_unchanged(planned)
                tree = OutputTree(self.output_dir)  # (clears the scratch space, so the cache comes after)
                write_validated_cache(cache, self.data_dir, tables)
                try:
                    results = self._build_all(targets, planned, tree, fail_fast)
                    self._write_manifest(tree, results)
                    tree.commit()
                except BaseException:
                    tree.abandon()
                    raise
        finally:
            self._kernels.close()
            if self._render_pool is not None:
                self._render_pool.shutdown(wait=True)
                self._render_pool = None
            os.environ.pop(VALIDATED_CACHE_ENV, None)
            cache.unlink(missing_ok=True)
        return results

    def _report_unchanged(self, planned: list[ReportResult]) -> list[ReportResult]:
        for result in planned:
            self.progress.message(f"{result.folder}: unchanged, not rebuilt (notebook, parameters, data, code "
                                  f"and versions as recorded; --force rebuilds)")
        return planned

    def _build_all(self, targets: list[Target], planned: list[ReportResult], tree: OutputTree,
                   fail_fast: bool) -> list[ReportResult]:
        self._failed.clear()
        stale = [(t, r) for t, r in zip(targets, planned) if r.status != "unchanged"]
        # Longest first (by the last build's timings), so no long report starts last and runs alone.
        previous = load_manifest(tree.previous)["reports"]
        stale.sort(key=lambda pair: -(previous.get(pair[1].folder, {}).get("seconds", {}).get("total") or
                                      previous.get(pair[1].report, {}).get("seconds", {}).get("total") or 0))
        for result in planned:
            if result.status == "unchanged":
                self.progress.message(f"{result.folder}: unchanged, not rebuilt")
        workers = min(self.jobs, len(stale))
        self.progress.message(f"building {len(stale)} of {len(planned)} report(s), {workers} at a time")
        self.progress.planned(len(stale), [r.folder for _, r in stale])
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report") as pool:
            built = dict(zip((r.folder for _, r in stale),
                             pool.map(lambda pair: self._build_or_skip(*pair, tree, fail_fast), stale)))
        results = [built.get(r.folder, r) for r in planned]
        done = {r.folder for r in results if r.status == "built"}
        failed_now = {r.folder for r in results if r.status == "failed"}
        for folder in dict.fromkeys([r.folder for r in results] + list(previous)):
            if folder not in done:
                tree.carry_over(folder)  # unchanged and previous good outputs stay, now in the new tree
                if folder not in failed_now:
                    tree.carry_over_failed(folder)
        return results

    def _build_or_skip(self, target: Target, planned: ReportResult, tree: OutputTree,
                       fail_fast: bool) -> ReportResult:
        if fail_fast and self._failed.is_set():
            planned.status = "skipped"
            planned.error = "not built: an earlier report failed and --fail-fast is set"
            return planned
        try:
            result = self.build_one(target, tree, planned)
        finally:
            self._kernels.report_done()
        if not result.ok:
            self._failed.set()
        return result

    def build_one(self, target: Target, tree: OutputTree, result: ReportResult) -> ReportResult:
        import nbformat
        import papermill
        from nbclient.exceptions import CellTimeoutError
        from papermill.exceptions import PapermillExecutionError

        result.status = "failed"
        notebook_path = self.notebook_dir / target.report.notebook
        executed_path = self.output_dir / STAGING / f"{target.folder}.{os.getpid()}.ipynb"
        started = time.perf_counter()
        self.progress.started(target.folder, f"executing {display_path(notebook_path)} ({'; '.join(result.reasons)})")
        kernel = None
        try:
            kernel = self._kernels.take()  # started in the notebook folder, so '../data' resolves as in Lab
            result.seconds["kernel_wait"] = round(time.perf_counter() - started, 3)
            papermill.execute_notebook(
                str(notebook_path), str(executed_path), parameters=target.parameters, kernel_name=KERNEL_NAME,
                progress_bar=False, log_output=False, execution_timeout=self.cell_timeout, km=kernel,
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
            if kernel is not None:
                self._kernels.shut_down(kernel)

        try:
            executed_bytes = executed_path.read_bytes()
            notebook = nbformat.reads(executed_bytes.decode("utf-8"), as_version=4)
            result.seconds.update(_cell_seconds(notebook, result.seconds["execute"] - result.seconds["kernel_wait"]))
            started = time.perf_counter()
            outputs, seconds = self._render(executed_path)
            rendered = {f"{target.folder}.{fmt}": data for fmt, data in outputs.items()}
            result.seconds.update(seconds)
            result.seconds["render"] = round(time.perf_counter() - started, 3)
            rendered[f"{target.folder}.ipynb"] = executed_bytes
            tables = table_csvs(notebook)
        except Exception as exc:
            result.error = f"rendering failed: {type(exc).__name__}: {exc}".splitlines()[0]
            return self._fail(result, executed_path, tree)
        for name, text in tables.items():
            rendered[f"tables/{name}.csv"] = text.encode("utf-8")

        for relative, data in rendered.items():
            atomic_write_bytes(tree.new / target.folder / relative, data)
            result.outputs[relative] = {"sha256": sha256_bytes(data), "bytes": len(data)}
        executed_path.unlink(missing_ok=True)
        result.status = "built"
        result.seconds["total"] = round(result.seconds["execute"] + result.seconds["render"], 3)
        formats = ", ".join(["ipynb", *self.formats])
        self.progress.finished(target.folder, True,
                               f"built {formats} and {len(tables)} table CSVs in {result.seconds['total']:.1f} s")
        return result

    @staticmethod
    def _source_cell_number(executed_path: Path, cell_index: int) -> int:
        """1-based number of the failing cell in the source notebook (papermill inserts one cell)."""
        import nbformat

        try:
            cells = nbformat.read(executed_path, as_version=4).cells[:cell_index]
            injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells)
        except Exception:
            injected = 0
        return cell_index - injected + 1

    def _fail(self, result: ReportResult, executed_path: Path, tree: OutputTree) -> ReportResult:
        if executed_path.exists():
            atomic_write_bytes(tree.new / FAILED / f"{result.folder}.ipynb", executed_path.read_bytes())
            executed_path.unlink()
            result.failed_notebook = f"{FAILED}/{result.folder}.ipynb"
        self.progress.finished(result.folder, False, f"FAILED: {result.error}")
        return result

    def _write_manifest(self, tree: OutputTree, results: list[ReportResult]) -> None:
        """The new tree's manifest: fresh entries for this build, earlier ones for what was carried over."""
        previous = load_manifest(tree.previous)["reports"]
        entries = {name: entry for name, entry in previous.items() if (tree.new / name).is_dir()}
        for result in results:
            if result.status == "unchanged":
                continue  # its entry, like its files, is the previous build's
            report = get_report(result.report)
            entry = {
                "report": report.name,
                "title": report.title,
                "status": result.status,
                "built_at": _now(),
                "variant": report.variant_of(result.inputs["parameters"]),
                "parameters": result.inputs["parameters"],
                "rebuilt_because": result.reasons,
                "notebook": {"path": display_path(self.notebook_dir / report.notebook),
                             "sha256": result.inputs["notebook"]},
                "data": {"dir": display_path(self.data_dir), "tables": list(report.tables),
                         "sha256": result.inputs["data"]},
                "versions": result.inputs["versions"],
                "inputs": result.inputs,
                "seconds": result.seconds,
                "outputs": result.outputs,
            }
            if not result.ok:
                kept = previous.get(result.folder, {})
                carried = (tree.new / result.folder).is_dir()
                entry.update(error=result.error, failing_cell=result.failing_cell,
                             failed_notebook=result.failed_notebook,
                             outputs=kept.get("outputs", {}) if carried else {},
                             kept_from=kept.get("built_at") if carried else None)
            entries[result.folder] = entry
        manifest = {"generated_at": _now(), "package": {"name": "crizotinib-reports", "version": __version__},
                    "build": tree.new.name, "versions": package_versions(), "reports": entries}
        atomic_write_json(tree.new / MANIFEST_NAME, manifest)


def _cell_seconds(notebook: Any, papermill_seconds: float) -> dict[str, float]:
    """Split the run: waiting for a started kernel, papermill's own overhead, the set-up cell, the rest.

    Kernels start (and load the package's imports) in the background, so most of that cost is
    in no report's time; the set-up cell is then mostly the data check's replacement (a cache).
    """
    durations = [cell.metadata.get("papermill", {}).get("duration") or 0.0
                 for cell in notebook.cells if cell.cell_type == "code"]
    setup = next((cell.metadata.get("papermill", {}).get("duration") or 0.0 for cell in notebook.cells
                  if cell.cell_type == "code" and "open_report(" in cell.source), 0.0)
    cells = sum(durations)
    return {"papermill_overhead": round(max(papermill_seconds - cells, 0.0), 3), "setup_cell": round(setup, 3),
            "other_cells": round(cells - setup, 3)}


def _render_job(executed_path: str, formats: tuple[str, ...]) -> tuple[dict[str, bytes], dict[str, float]]:
    """Runs in a render worker: only the worker loads nbconvert and WeasyPrint, not the build process."""
    from .render import render_in_worker

    return render_in_worker(executed_path, formats)


def _exit_with_parent(parent_pid: int) -> None:
    """In a render worker: exit when the build process is gone (kill -9 leaves no one to stop us)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()
