"""The build runner: one writer, one snapshot, then execute with papermill in parallel, render, record.

A build (or a scheduled run, which is several builds) holds the output folder's lock for its
whole duration, takes one snapshot of the data and notebooks, and every report reads that
snapshot. Everything that can be checked (reports, formats, parameters, data) is checked before
any kernel starts. A report whose recorded inputs (inputs.py) are unchanged is not built again.
The others run `--jobs` at a time, each in its own kernel (kernels.py), driven from this one
process through papermill's API, and render in worker processes (workers.py). A report has
`--timeout` seconds in all, execution and rendering together. A failed report does not stop the
others (unless --fail-fast); its executed notebook goes to `failed/` and its previous good
outputs are carried into the new tree. The new tree becomes visible in one atomic step (see
outputs.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from .. import __version__
from ..build_time import SOURCE_DATE_EPOCH, build_epoch, epoch_time
from ..exceptions import ReportFailed, UsageError
from .files import SHA256SUMS, atomic_write_bytes, atomic_write_json, sha256_bytes, write_sha256sums
from .inputs import DataSnapshot, build_reasons, package_versions, report_inputs
from .outputs import (BUILD_ID, BUILDS, FAILED, MANIFEST_NAME, STAGING, OutputTree, build_lock, check_top_level,
                      claim_output_dir, is_report_file_name, is_report_folder_name, new_build_id, real_folder,
                      remove_leftovers, remove_ours)
from ..paths import DATA_DIR, NOTEBOOK_DIR, OUTPUT_DIR, display_path
from .progress import LogLines, Progress
from .portfolio import NOTEBOOK_LIMIT, TABLE_METADATA_KEY, Report, csv_rows, get_report, portfolio
from .variants import Target, expand_targets, read_variants_file

FORMATS = ("html", "pdf")
KERNEL_NAME = "crizotinib-reports"  # the project's kernelspec, installed by make setup (--sys-prefix)
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
DEFAULT_REPORT_TIMEOUT = 600  # seconds per report, execution and rendering; a hung report fails, the schedule goes on
SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,63}")
#: Environment variables no kernel or worker may see (the mail password among them).
SECRET_ENV_PREFIXES = ("CRIZOTINIB_SMTP_",)
#: Fault injection for the kill tests: the build SIGKILLs itself at the named point, as a power cut would.
KILL_AT_ENV = "CRIZOTINIB_REPORTS_TEST_KILL_AT"


def checkpoint(name: str) -> None:
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def require_kernel(name: str) -> None:
    """The reports' kernel is installed for this Python: one line saying how to install it, instead of a failure
    in every report."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise UsageError(f"the kernel '{name}' is not installed for this Python; run 'make setup' (or "
                         f"'python -m ipykernel install --sys-prefix --name {name}')") from None


def default_jobs() -> int:
    """One kernel per core: kernels are CPU-bound, more only queue."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def without_secrets(environ: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if not k.startswith(SECRET_ENV_PREFIXES)}


@dataclass
class ReportResult:
    report: str
    folder: str
    status: str  # "built", "failed", "unchanged" (inputs as recorded) or "skipped" (after a failure, --fail-fast)
    parameters: dict[str, Any]
    reasons: list[str] = field(default_factory=list)  # why it was built; empty when unchanged
    inputs: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cell_seconds: list[float] = field(default_factory=list)  # each code cell's run time (kept out of the .ipynb)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    failing_cell: int | None = None
    failed_notebook: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("built", "unchanged")


@dataclass
class BuildSession:
    """What one build, or one run's builds, share while holding the lock: scratch space and snapshots."""

    build_id: str
    scratch: Path
    snapshot: DataSnapshot
    notebooks: dict[str, tuple[str, Path]] = field(default_factory=dict)  # file name -> (sha256, copy)
    tables: dict[str, Any] | None = None  # the snapshot, validated, once a report needs building

    @property
    def validated_cache(self) -> Path:
        return self.scratch / "validated-data.pickle"


def _name_input_files(notebook: Any, target: Target) -> None:
    """A file parameter (a run's changes.json, read from its scratch folder) named by its file name in the
    executed notebook's parameters, which a reader gets: the scratch folder is gone once the run ends."""
    from papermill.translators import translate_parameters

    files = {p.name for p in target.report.parameters if p.input_file and target.parameters.get(p.name)}
    if not files:
        return
    shown = {**notebook.metadata.papermill.parameters,
             **{name: Path(target.parameters[name]).name for name in files}}
    notebook.metadata.papermill.parameters = shown
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = translate_parameters(KERNEL_NAME, "python", shown, "Parameters")


def table_csvs(notebook: Any) -> dict[str, dict[str, str]]:
    """Every report table shown in an executed notebook, by file name: its CSV text ('csv'), and the number and
    title the report shows it under ('number', 'title'), which the manifest records beside the CSV."""
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
            found[name] = table
    return found


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_manifest(folder: Path | None, log: Any = None) -> dict[str, Any]:
    """A tree's manifest, so a build of one report keeps the record of the others.

    Only entries we could have written are kept: a report folder name and file names of our own
    patterns (never `../elsewhere`, which a later build would otherwise copy from).
    """
    if folder is None:
        return {"reports": {}}
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"reports": {}}
    if not isinstance(manifest, dict) or not isinstance(manifest.get("reports"), dict):
        return {"reports": {}}
    kept = {}
    for name, entry in manifest["reports"].items():
        outputs = entry.get("outputs") if isinstance(entry, dict) else None
        if (is_report_folder_name(name) and isinstance(outputs, dict) and all(map(is_report_file_name, outputs))
                and isinstance(entry.get("report"), str)):
            kept[name] = entry
        elif log is not None:
            log(f"manifest.json: ignored the entry {name!r}, which crizotinib-reports did not write")
    manifest["reports"] = kept
    return manifest


def _outputs_present(folder: Path, entry: dict[str, Any]) -> bool:
    outputs = entry.get("outputs") or {}
    return bool(outputs) and all((folder / name).is_file() and (folder / name).stat().st_size == record.get("bytes")
                                 for name, record in outputs.items())


class Builder:
    """Builds reports into an output folder; one per CLI call (its render workers live for one build)."""

    def __init__(self, data_dir: Path = DATA_DIR, output_dir: Path = OUTPUT_DIR, formats: tuple[str, ...] = FORMATS,
                 notebook_dir: Path = NOTEBOOK_DIR, progress: Progress | None = None,
                 timeout: int = DEFAULT_REPORT_TIMEOUT, jobs: int | None = None, adopt_output_dir: bool = False,
                 source_date_epoch: int | None = None):
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise UsageError(f"unknown format '{unknown[0]}'; choose from: {', '.join(FORMATS)}")
        if timeout <= 0:
            raise UsageError(f"--timeout must be a positive number of seconds, got {timeout}")
        if jobs is not None and jobs < 1:
            raise UsageError(f"--jobs must be at least 1, got {jobs}")
        self.data_dir = Path(data_dir).resolve()
        self.output_dir = Path(output_dir).resolve()
        self.formats = tuple(dict.fromkeys(formats))
        self.notebook_dir = Path(notebook_dir).resolve()
        self.progress = progress or LogLines(timestamps=False)
        self.timeout = timeout
        self.jobs = jobs or default_jobs()
        self.adopt_output_dir = adopt_output_dir
        #: The recorded build time (SOURCE_DATE_EPOCH, else now): every date the reports print comes from it.
        self.build_epoch = build_epoch() if source_date_epoch is None else source_date_epoch
        self._failed = threading.Event()
        self._kernels: Any = None  # WarmKernels while a build runs
        self._render_workers: Any = None  # RenderWorkers while a build runs
        self.render_workers: Any = None  # the caller's RenderWorkers, kept across builds (a run's: runs.py)
        self._session: BuildSession | None = None

    # --- one writer, one snapshot -------------------------------------------------------------------

    @contextmanager
    def session(self, wait: bool = True) -> Iterator[BuildSession]:
        """Hold the output folder for one build or one run: lock, clean up after dead builds, snapshot the data."""
        if self._session is not None:  # a run's second build: same lock, same snapshot
            yield self._session
            return
        from .kernels import end_orphaned_kernels

        claim_output_dir(self.output_dir, self.adopt_output_dir)
        with build_lock(self.output_dir, wait, self.progress.message):
            staging = real_folder(self.output_dir / STAGING)
            real_folder(self.output_dir / BUILDS)
            removed = remove_leftovers(self.output_dir, keep={OutputTree.current_target(self.output_dir)})
            ended = end_orphaned_kernels(self.output_dir)
            if removed or ended:
                self.progress.message(f"cleaned up after a build that was stopped: removed {len(removed)} "
                                      f"unfinished folder(s), ended {ended} leftover kernel process(es)")
            build_id = new_build_id()
            scratch = staging / build_id
            scratch.mkdir()
            try:
                snapshot = DataSnapshot.take(self.data_dir, scratch / "data")
                self._session = BuildSession(build_id, scratch, snapshot)
                checkpoint("snapshot-taken")
                yield self._session
            finally:
                self._session = None
                remove_ours(scratch, staging, BUILD_ID)

    def _notebook(self, session: BuildSession, name: str) -> tuple[str, Path]:
        """A report's notebook, read once per session: its hash, and the copy papermill executes."""
        if name not in session.notebooks:
            from ..input_files import read_input_bytes

            data = read_input_bytes(self.notebook_dir / name, limit=NOTEBOOK_LIMIT, what="notebook")
            copy = session.scratch / "notebooks" / name
            copy.parent.mkdir(exist_ok=True)
            copy.write_bytes(data)
            session.notebooks[name] = (sha256_bytes(data), copy)
        return session.notebooks[name]

    def _validated(self, session: BuildSession) -> dict[str, Any]:
        """The snapshot, validated once per session; kernels read it from the scratch space."""
        if session.tables is None:
            from ..evidence.data import validate, validated_payload  # pandas, pandera: only to build

            snapshot = session.snapshot
            session.tables = validate(snapshot.folder, shown_as=snapshot.source)
            atomic_write_bytes(session.validated_cache,
                               validated_payload(snapshot.source, snapshot.folder, snapshot.hashes, session.tables))
        return session.tables

    # --- what to build ------------------------------------------------------------------------------

    def portfolio(self) -> dict[str, Report]:
        """The reports of this build's notebooks folder, each defined by its notebook."""
        return portfolio(self.notebook_dir)

    def targets(self, names: list[str], param_pairs: list[str], variants_file: Path | None = None) -> list[Target]:
        reports = [get_report(n, self.notebook_dir) for n in (names or list(self.portfolio()))]
        variants = read_variants_file(variants_file, reports) if variants_file else None
        targets = expand_targets(reports, param_pairs, self.data_dir, variants)
        missing = [t.report.notebook for t in targets if not (self.notebook_dir / t.report.notebook).is_file()]
        if missing:
            raise UsageError(f"notebook {missing[0]} not found in {display_path(self.notebook_dir)}")
        return targets

    def plan(self, targets: list[Target], session: BuildSession, force: bool = False) -> list[ReportResult]:
        """Each target with why it must be built, or status 'unchanged' when its recorded inputs match."""
        current = OutputTree.current_target(self.output_dir)
        previous = load_manifest(current, self.progress.message)["reports"]
        planned = []
        for target in targets:
            undeclared = [t for t in target.report.tables if f"{t}.csv" not in session.snapshot.hashes]
            if undeclared:
                raise UsageError(f"{target.report.notebook} declares the data table '{undeclared[0]}', which "
                                 f"{display_path(self.data_dir)} does not have; correct crizotinib_reports.tables in "
                                 f"the notebook's metadata")
            target.report.check_against_data(target.parameters, csv_rows(session.snapshot.folder),
                                             display_path(self.data_dir))
            notebook_sha256, _copy = self._notebook(session, target.report.notebook)
            inputs = report_inputs(notebook_sha256, {**target.parameters, "data_dir": display_path(self.data_dir)},
                                   session.snapshot.hashes_of(target.report.tables), self.formats,
                                   {p.name: target.parameters.get(p.name) for p in target.report.parameters
                                    if p.input_file})
            entry = previous.get(target.folder)
            present = bool(entry) and _outputs_present(current / target.folder, entry)
            reasons = build_reasons(entry, inputs, present, force)
            planned.append(ReportResult(target.report.name, target.folder, "unchanged" if not reasons else "pending",
                                        target.parameters, reasons, inputs))
        return planned

    def build(self, names: list[str], param_pairs: list[str], fail_fast: bool = False, wait: bool = True,
              force: bool = False, variants_file: Path | None = None) -> list[ReportResult]:
        """Check everything that can be checked before a kernel starts, then build what is stale."""
        return self.build_targets(self.targets(names, param_pairs, variants_file), fail_fast, wait, force)

    def build_targets(self, targets: list[Target], fail_fast: bool = False, wait: bool = True,
                      force: bool = False) -> list[ReportResult]:
        """Build these (report, parameter set) targets: `build`'s work once the targets are known (verify
        rebuilds a manifest's recorded targets through it)."""
        with self.session(wait) as session:
            planned = self.plan(targets, session, force)
            check_top_level(self.output_dir, [r.folder for r in planned] + [MANIFEST_NAME, FAILED, SHA256SUMS])
            stale = [session.notebooks[t.report.notebook][1]  # the copies of the notebooks to build
                     for t, r in zip(targets, planned) if r.status != "unchanged"]
            pruned = self._stale_variants(planned)
            if not stale and not pruned:
                return self._report_unchanged(planned)
            if stale:  # invalid data stops here, before any kernel starts
                self._start_workers(session, stale)
            tree = OutputTree(self.output_dir, new_build_id())
            interrupted = True
            try:
                results = self._build_all(targets, planned, tree, fail_fast, pruned)
                self._write_manifest(tree, results, session)
                write_sha256sums(tree.new)
                checkpoint("manifest-written")
                tree.commit(checkpoint)
                checkpoint("committed")
                interrupted = False
            except BaseException:
                tree.abandon()
                raise
            finally:
                if self._kernels is not None:
                    self._kernels.close(kill_running=interrupted)
                    if self._render_workers is not self.render_workers:
                        self._render_workers.close()
                self._kernels = self._render_workers = None
        return results

    def _start_workers(self, session: BuildSession, notebooks: list[Path]) -> None:
        """Validate the snapshot (while the fork server imports what these notebooks, the stale ones, import),
        then start the kernels (without secrets) and the render workers."""
        from ..evidence.data import VALIDATED_CACHE_ENV
        from .kernel_fork import warm_imports
        from .kernels import WarmKernels, notebook_imports, output_key, start_fork_server, stop_fork_server
        from .workers import RenderWorkers

        require_kernel(KERNEL_NAME)
        environment = {**without_secrets(dict(os.environ)), "MPLBACKEND": os.environ.get("MPLBACKEND", "agg"),
                       VALIDATED_CACHE_ENV: str(session.validated_cache), SOURCE_DATE_EPOCH: str(self.build_epoch)}
        token_prefix = f"{output_key(self.output_dir)}:{os.getpid()}"
        # The fork server imports the report stack while the data are validated: it starts no kernel.
        stale = len(notebooks)
        warm = warm_imports(notebook_imports(notebooks))
        fork_server = start_fork_server(KERNEL_NAME, self.notebook_dir, environment, token_prefix, warm)
        try:
            self._validated(session)
        except BaseException:
            stop_fork_server(fork_server)
            raise
        self._kernels = WarmKernels(stale, min(self.jobs, stale), KERNEL_NAME, self.notebook_dir, KERNEL_ARGUMENTS,
                                    environment, token_prefix, self.progress.message, fork_server, warm)
        self._render_workers = self.render_workers or RenderWorkers(min(self.jobs, stale), pdf="pdf" in self.formats)
        self._render_workers.prestart()

    def _stale_variants(self, planned: list[ReportResult]) -> list[str]:
        """Folders of the reports being built whose parameter sets were not asked for this time."""
        previous = load_manifest(OutputTree.current_target(self.output_dir))["reports"]
        asked = {r.folder for r in planned}
        reports = {r.report for r in planned}
        return [folder for folder, entry in previous.items() if folder not in asked and entry["report"] in reports]

    def _report_unchanged(self, planned: list[ReportResult]) -> list[ReportResult]:
        for result in planned:
            self.progress.message(f"{result.folder}: unchanged, not rebuilt (notebook, parameters, data, code "
                                  f"and versions as recorded; --force rebuilds)")
        return planned

    def _build_all(self, targets: list[Target], planned: list[ReportResult], tree: OutputTree,
                   fail_fast: bool, pruned: list[str]) -> list[ReportResult]:
        self._failed.clear()
        stale = [(t, r) for t, r in zip(targets, planned) if r.status != "unchanged"]
        # Longest first (by the last build's timings), so no long report starts last and runs alone.
        previous = load_manifest(tree.previous)["reports"]
        stale.sort(key=lambda pair: -(previous.get(pair[1].folder, {}).get("seconds", {}).get("total") or
                                      previous.get(pair[1].report, {}).get("seconds", {}).get("total") or 0))
        for result in planned:
            if result.status == "unchanged":
                self.progress.message(f"{result.folder}: unchanged, not rebuilt")
        built: dict[str, ReportResult] = {}
        if stale:
            workers = min(self.jobs, len(stale))
            self.progress.message(f"building {len(stale)} of {len(planned)} report(s), {workers} at a time")
            self.progress.planned(len(stale), [r.folder for _, r in stale])
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report") as pool:
                built = dict(zip((r.folder for _, r in stale),
                                 pool.map(lambda pair: self._build_or_skip(*pair, tree, fail_fast), stale)))
        results = [built.get(r.folder, r) for r in planned]
        done = {r.folder for r in results if r.status == "built"}
        failed_now = {r.folder for r in results if r.status == "failed"}
        # A report built now keeps only the parameter sets asked for now: its other variants are stale.
        for folder in pruned:
            self.progress.message(f"{folder}: removed, a parameter set of {previous[folder]['report']} "
                                  f"not asked for this time")
        asked = {r.folder for r in results}
        kept_earlier = [folder for folder in previous if folder not in asked and folder not in pruned]
        for folder in [r.folder for r in results] + kept_earlier:
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
            result = self.build_one(target, tree, planned, self._session)
        finally:
            self._kernels.report_done()
        if not result.ok:
            self._failed.set()
        return result

    def build_one(self, target: Target, tree: OutputTree, result: ReportResult,
                  session: BuildSession) -> ReportResult:
        import nbformat
        import papermill
        from nbclient.exceptions import CellTimeoutError
        from papermill.exceptions import PapermillExecutionError

        from .kernels import kill_kernel
        from .workers import RenderFailed, RenderTimeout

        result.status = "failed"
        notebook_path = self.notebook_dir / target.report.notebook
        _sha256, notebook_copy = self._notebook(session, target.report.notebook)
        executed_path = session.scratch / f"{target.folder}.ipynb"
        started = time.perf_counter()
        deadline = time.monotonic() + self.timeout
        late = threading.Event()
        self.progress.started(target.folder, f"executing {display_path(notebook_path)} ({'; '.join(result.reasons)})")
        kernel = None
        watchdog = None
        try:
            kernel = self._kernels.take()  # started in the notebook folder, so '../data' resolves as in Lab
            result.seconds["kernel_wait"] = round(time.perf_counter() - started, 3)

            def over_time() -> None:
                late.set()
                kill_kernel(kernel)

            watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), over_time)
            watchdog.daemon = True
            watchdog.start()
            papermill.execute_notebook(
                str(notebook_copy), str(executed_path), parameters=self._kernel_parameters(target),
                kernel_name=KERNEL_NAME,
                progress_bar=False, log_output=False, execution_timeout=self.timeout, km=kernel,
            )
        except PapermillExecutionError as exc:
            if late.is_set():
                result.error = self._late(notebook_path, "executing")
            else:
                result.failing_cell = self._source_cell_number(executed_path, exc.cell_index)
                first_line = exc.source.strip().splitlines()[0] if exc.source.strip() else ""
                result.error = (f"{display_path(notebook_path)} cell {result.failing_cell} ({first_line[:60]!r}) "
                                f"raised {exc.ename}: {exc.evalue}")
            return self._fail(result, executed_path, tree)
        except Exception as exc:  # a timeout, a dead kernel, an unreadable notebook: still one line
            if late.is_set() or isinstance(exc, CellTimeoutError):
                result.error = self._late(notebook_path, "executing")
            else:
                result.error = f"{display_path(notebook_path)}: {type(exc).__name__}: {exc}".splitlines()[0]
            return self._fail(result, executed_path, tree)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            result.seconds["execute"] = round(time.perf_counter() - started, 3)
            if kernel is not None:
                self._kernels.shut_down(kernel)

        try:
            notebook = nbformat.read(executed_path, as_version=4)
            # papermill recorded the paths of the scratch copies: name the notebook and the output instead.
            shown = display_path(notebook_path)  # (a notebook outside the project is named by its file name)
            notebook.metadata.papermill.update(input_path=notebook_path.name if Path(shown).is_absolute() else shown,
                                               output_path=f"{target.folder}/{target.folder}.ipynb")
            _name_input_files(notebook, target)
            result.seconds.update(_cell_seconds(notebook, result.seconds["execute"] - result.seconds["kernel_wait"]))
            result.cell_seconds = without_timings(notebook)
            executed_bytes = (nbformat.writes(notebook) + "\n").encode("utf-8")
            executed_path.write_bytes(executed_bytes)
            started = time.perf_counter()
            self.progress.state(target.folder, "rendering")
            outputs, seconds = self._render_workers.render(str(executed_path), self.formats,
                                                           deadline - time.monotonic())
            rendered = {f"{target.folder}.{fmt}": data for fmt, data in outputs.items()}
            result.seconds.update(seconds)
            result.seconds["render"] = round(time.perf_counter() - started, 3)
            rendered[f"{target.folder}.ipynb"] = executed_bytes
            tables = table_csvs(notebook)
        except RenderTimeout:
            result.error = self._late(notebook_path, "rendering")
            return self._fail(result, executed_path, tree)
        except (RenderFailed, Exception) as exc:
            result.error = f"rendering failed: {type(exc).__name__}: {exc}".splitlines()[0]
            return self._fail(result, executed_path, tree)
        labels = {}
        for name, table in tables.items():
            rendered[f"tables/{name}.csv"] = table["csv"].encode("utf-8")
            labels[f"tables/{name}.csv"] = {k: str(table[k]) for k in ("number", "title") if k in table}

        for relative, data in rendered.items():
            atomic_write_bytes(tree.new / target.folder / relative, data)
            result.outputs[relative] = {"sha256": sha256_bytes(data), "bytes": len(data), **labels.get(relative, {})}
        checkpoint("report-written")
        executed_path.unlink(missing_ok=True)
        result.status = "built"
        result.seconds["total"] = round(result.seconds["execute"] + result.seconds["render"], 3)
        formats = ", ".join(["ipynb", *self.formats])
        self.progress.finished(target.folder, True,
                               f"built {formats} and {len(tables)} table CSVs in {result.seconds['total']:.1f} s")
        return result

    def _kernel_parameters(self, target: Target) -> dict[str, Any]:
        """The report's parameters as papermill writes them into the executed notebook, which a reader gets: the
        data folder as the notebook would name it from its own folder, where the kernel runs ('../data'), never
        the build machine's absolute path; a file parameter (a run's changes.json) likewise."""
        files = {p.name for p in target.report.parameters if p.input_file and target.parameters.get(p.name)}
        return {**target.parameters, "data_dir": os.path.relpath(self.data_dir, self.notebook_dir),
                **{name: os.path.relpath(target.parameters[name], self.notebook_dir) for name in files}}

    def _late(self, notebook_path: Path, doing: str) -> str:
        return (f"{display_path(notebook_path)}: still {doing} when the report's {self.timeout} s ran out "
                f"(--timeout bounds a report's execution and rendering together)")

    @staticmethod
    def _source_cell_number(executed_path: Path, cell_index: int) -> int:
        """1-based position of the failing cell in the report's own notebook, as JupyterLab lists its cells.

        papermill's index counts the parameters cell it injects; the error banner it then puts at
        the top of the saved file is not in that index.
        """
        import nbformat

        try:
            cells = [c for c in nbformat.read(executed_path, as_version=4).cells
                     if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
            injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", [])]
        except Exception:
            injected = []
        return cell_index + 1 - sum(i < cell_index for i in injected)

    def _fail(self, result: ReportResult, executed_path: Path, tree: OutputTree) -> ReportResult:
        if executed_path.exists():
            atomic_write_bytes(tree.new / FAILED / f"{result.folder}.ipynb", executed_path.read_bytes())
            executed_path.unlink()
            result.failed_notebook = f"{FAILED}/{result.folder}.ipynb"
        self.progress.finished(result.folder, False, f"FAILED: {result.error}")
        return result

    def _write_manifest(self, tree: OutputTree, results: list[ReportResult], session: BuildSession) -> None:
        """The new tree's manifest: fresh entries for this build, earlier ones for what was carried over."""
        previous = load_manifest(tree.previous)["reports"]
        entries = {name: entry for name, entry in previous.items() if (tree.new / name).is_dir()}
        for result in results:
            if result.status == "unchanged":
                continue  # its entry, like its files, is the previous build's
            report = get_report(result.report, self.notebook_dir)
            entry = {
                "report": report.name,
                "title": report.title,
                "status": result.status,
                "built_at": _now(),
                "build_time": epoch_time(self.build_epoch).isoformat(),
                "source_date_epoch": self.build_epoch,
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
                "cell_seconds": result.cell_seconds,
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
        manifest = {"generated_at": _now(), "build_time": epoch_time(self.build_epoch).isoformat(),
                    "source_date_epoch": self.build_epoch, "package": {"name": "crizotinib-reports", "version": __version__},
                    "build": tree.new.name, "versions": package_versions(),
                    "data": {"dir": display_path(self.data_dir), "sha256": session.snapshot.hashes},
                    "reports": entries}
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


#: The injected parameters cell's id: papermill draws a random one, which would differ between two builds.
INJECTED_CELL_ID = "injected-parameters"


def without_timings(notebook: Any) -> list[float]:
    """Take out of an executed notebook what differs between two runs of the same inputs: papermill's and
    nbclient's clocks (start and end times, durations, iopub timestamps) and the injected cell's random id.
    Returns each code cell's duration in seconds, which the manifest keeps instead."""
    durations = []
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        timing = cell.metadata.get("papermill", {})
        if cell.cell_type == "code":
            durations.append(round(timing.get("duration") or 0.0, 3))
        for key in ("start_time", "end_time", "duration"):
            timing.pop(key, None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = INJECTED_CELL_ID
    for key in ("start_time", "end_time", "duration"):
        notebook.metadata.get("papermill", {}).pop(key, None)
    return durations
