"""Scheduled runs (`crizotinib-reports run`): dated, complete, compared, combined and mailed.

    <output-dir>/
      runs/<YYYYmmddTHHMMSSZ>/       one run, never changed once it appears
        <report>/…                   the reports as built (hard links into the build's tree)
        manifest.json                the build's manifest, for the reports of this run
        data/                        the data this run read (the next run names the edits made since)
        run.json                     status per report, durations, failing cell, versions, data hashes
        changes.json, changes.md     what changed since the previous successful run
        crizotinib-reports-<date>.pdf  every report in one PDF: cover, contents, bookmarks, page numbers;
                                     PDF/A-3a carrying every table's CSV, the manifest and the run
                                     record (--pdf-profile archival), or PDF/UA-1 carrying nothing (plain)
        index.html                   links to every report of the run
        SHA256SUMS                   every file's SHA-256, for `sha256sum -c SHA256SUMS`
      latest -> runs/<id>            the newest successful run (moved only by a run that succeeded)

A run builds with the same Builder as `build` (so unchanged reports are not executed again),
holding the output folder's lock throughout and reading one snapshot of the data, writes
everything into `runs/.<id>.partial/`, and renames it into place when complete. The overview is
built last, with the change summary as its `changes_file` parameter, so it can show what
changed (its own tables restate the others' and are not compared: see changes.py).

One render worker of the run keeps each report's laid-out PDF document (workers.py: it renders the
report, or lays out a page rendered beside it while it was busy), and the combined PDF is made there
from those pages (assemble.py): only its cover, contents and page margins are laid out; a report not
rendered in this run (unchanged) is laid out there first.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from .build import Builder, BuildSession, ReportResult, checkpoint, load_manifest
from .changes import (ChangeSummary, compare_data, compare_runs, read_data_csvs, read_table_csvs, schema_keys,
                      trial_names)
from ..exceptions import CrizotinibReportsError, ReportFailed, UsageError
from ..build_time import epoch_time
from .files import atomic_write_bytes, atomic_write_json, atomic_write_text, sha256_file, write_sha256sums
from .inputs import package_versions
from .outputs import CURRENT, MANIFEST_NAME, fsync_tree, link_or_copy, link_target, point_link, real_folder, remove_ours
from ..paths import display_path
from ..plain_text import visible
from .progress import Progress

RUNS = "runs"
LATEST = "latest"
CHANGES_REPORT = "overview"  # the report that shows what changed
BUNDLE_TITLE = "Crizotinib in ALK-positive NSCLC: evidence reports"
DEFAULT_KEEP = 14
RUN_ID = re.compile(r"\d{8}T\d{6}Z(?:-\d+)?")
PARTIAL_RUN = re.compile(r"\.\d{8}T\d{6}Z(?:-\d+)?\.partial")
MAIL_WHEN = ("changed", "always", "failed")
#: --pdf-profile: 'archival' is PDF/A-3a with the run's numbers and records attached; 'plain' is PDF/UA-1
#: with nothing attached, for recipients whose mail or document systems reject PDFs that carry files.
PDF_PROFILES = ("archival", "plain")
#: The run record inside an archival PDF: run.json as it stood before the PDF was written (run.json
#: then records the PDF's hash, which the PDF cannot hold), so it is named differently.
RUN_RECORD_ATTACHMENT = "run-record.json"


@dataclass
class RunOutcome:
    run_id: str
    folder: Path
    succeeded: bool
    exit_code: int
    record: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    changes: ChangeSummary | None = None
    combined_pdf: Path | None = None
    attachments: list[str] = field(default_factory=list)  # the names of the files the combined PDF carries
    combine: dict[str, Any] = field(default_factory=dict)  # how the combined PDF was made (assemble.combine_in_worker)
    error: CrizotinibReportsError | None = None  # what stopped the run before its reports were built

    def should_mail(self, when: str) -> bool:
        """--mail-when: 'changed' (default) mails a failure or a run with something new; 'failed' only failures."""
        if when == "always" or not self.succeeded:
            return True
        return when == "changed" and self.changes is not None and self.changes.changed


def new_run_id(runs_dir: Path) -> str:
    """The UTC time, to the second; a suffix if two runs start within one second."""
    base = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    run_id, n = base, 2
    while (runs_dir / run_id).exists() or (runs_dir / f".{run_id}.partial").exists():
        run_id, n = f"{base}-{n}", n + 1
    return run_id


def latest_run(output_dir: Path) -> Path | None:
    return link_target(Path(output_dir) / LATEST)


def data_version(hashes: dict[str, str]) -> str:
    """One short hash over every data file's hash: what a reader compares between two printouts."""
    digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:12]
    return f"{digest} ({len(hashes) - 1} data tables and schema.yaml)"


class Runner:
    """One scheduled run: build, compare, snapshot, combine, point `latest`, prune (the CLI mails)."""

    def __init__(self, builder: Builder, progress: Progress, keep: int = DEFAULT_KEEP, mail_planned: bool = False,
                 pdf_profile: str = "archival"):
        if keep < 1:
            raise UsageError(f"--keep must be at least 1, got {keep}")
        if pdf_profile not in PDF_PROFILES:
            raise UsageError(f"--pdf-profile must be one of {', '.join(PDF_PROFILES)}, got {pdf_profile!r}")
        self.builder = builder
        self.pdf_profile = pdf_profile
        self.progress = progress
        self.keep = keep
        self.mail_planned = mail_planned
        self.output_dir = builder.output_dir
        self.runs_dir = self.output_dir / RUNS

    def run(self) -> RunOutcome:
        """The whole run holds the output folder and reads one snapshot of the data: no build mixes in."""
        from .workers import RenderWorkers

        started, clock = datetime.now(timezone.utc), time.perf_counter()
        self.builder.render_workers = RenderWorkers(1, keep_documents=True)
        try:
            outcome = self._locked_run(started, clock)
        finally:
            self.builder.render_workers.close()
            self.builder.render_workers = None
        self.progress.message(outcome.summary.splitlines()[0])
        return outcome

    def _locked_run(self, started: datetime, clock: float) -> RunOutcome:
        with self.builder.session() as session:
            real_folder(self.runs_dir)
            for stale in self.runs_dir.iterdir():  # left by a run that was killed; we hold the lock
                remove_ours(stale, self.runs_dir, PARTIAL_RUN)
            run_id = new_run_id(self.runs_dir)
            partial = self.runs_dir / f".{run_id}.partial"
            partial.mkdir()
            try:
                outcome = self._run(session, run_id, partial, started, clock)
            except BaseException:
                remove_ours(partial, self.runs_dir, PARTIAL_RUN)
                raise
        return outcome

    def _run(self, session: BuildSession, run_id: str, partial: Path, started: datetime, clock: float) -> RunOutcome:
        previous = latest_run(self.output_dir)
        self.progress.message(f"run {run_id}: building every report"
                              + (f"; comparing with run {previous.name}" if previous else ""))
        error: CrizotinibReportsError | None = None
        try:
            results, changes = self._build(session, partial, previous)
        except CrizotinibReportsError as exc:  # invalid data, say: recorded as a failed run, then raised
            results, changes, error = [], ChangeSummary(previous.name if previous else None), exc
        succeeded = error is None and all(r.ok for r in results)
        outcome = RunOutcome(run_id, self.runs_dir / run_id, succeeded,
                             0 if succeeded else getattr(error, "exit_code", 1), changes=changes)
        shutil.copytree(session.snapshot.folder, partial / "data")  # the data this run read, for the next one
        if results:
            self._snapshot(partial, results)
        if succeeded:  # a failed run is not distributed: its reports are not all current
            record = self._record(run_id, started, clock, previous, results, changes, error, outcome, session)
            outcome.combined_pdf, outcome.attachments = self._combine(partial, run_id, results, changes, session,
                                                                      record, outcome.combine)
        atomic_write_text(partial / "index.html", index_html(run_id, results, changes, outcome.combined_pdf,
                                                              self.builder.portfolio()))
        outcome.record = self._record(run_id, started, clock, previous, results, changes, error, outcome, session)
        outcome.summary = run_summary(outcome.record, changes)
        atomic_write_json(partial / "run.json", outcome.record)
        write_sha256sums(partial)
        fsync_tree(partial)
        checkpoint("run-written")
        os.rename(partial, outcome.folder)
        checkpoint("run-renamed")
        if outcome.combined_pdf is not None:
            outcome.combined_pdf = outcome.folder / outcome.combined_pdf.name
        if succeeded:
            point_link(self.output_dir / LATEST, Path(RUNS) / run_id)
        self._prune(run_id)
        outcome.error = error
        return outcome

    def _build(self, session: BuildSession, partial: Path,
               previous: Path | None) -> tuple[list[ReportResult], ChangeSummary]:
        reports = self.builder.portfolio()
        others = [name for name in reports if name != CHANGES_REPORT]
        results = self.builder.build(others, [])
        current = self.output_dir / CURRENT
        before = read_data_csvs(previous / "data") if previous and (previous / "data").is_dir() else None
        now = read_data_csvs(session.snapshot.folder)
        data_changes = [] if before is None else compare_data(before, now, schema_keys(session.snapshot.folder /
                                                                                       "schema.yaml"))
        changes = compare_runs(read_table_csvs(previous, others) if previous else None,
                               read_table_csvs(current, others), previous.name if previous else None,
                               data_changes, trial_names(before or {}, now))
        changes_file = partial / "changes.json"
        atomic_write_json(changes_file, changes.as_json())
        atomic_write_text(partial / "changes.md", changes.as_markdown())
        results += self.builder.build([CHANGES_REPORT], [f"changes_file={changes_file}"])
        return results, changes

    def _snapshot(self, partial: Path, results: list[ReportResult]) -> None:
        """Hard-link this run's reports (and any failed notebook) out of the build's tree, with their manifest."""
        current = (self.output_dir / CURRENT).resolve()
        for result in results:
            if (current / result.folder).is_dir():
                shutil.copytree(current / result.folder, partial / result.folder, copy_function=link_or_copy)
            failed = current / "failed" / f"{result.folder}.ipynb"
            if result.status == "failed" and failed.exists():
                (partial / "failed").mkdir(exist_ok=True)
                link_or_copy(failed, partial / "failed" / failed.name)
        manifest = load_manifest(current)
        ours = {r.folder for r in results}
        manifest["reports"] = {name: entry for name, entry in manifest["reports"].items() if name in ours}
        atomic_write_json(partial / MANIFEST_NAME, manifest)

    def _combine(self, partial: Path, run_id: str, results: list[ReportResult], changes: ChangeSummary,
                 session: BuildSession, record: dict[str, Any],
                 info: dict[str, Any] | None = None) -> tuple[Path, list[str]]:
        """The run's PDF; an archival one carries the files of :meth:`_attachments` (``record``: the run so far).

        Made in the run's render worker, from the pages it kept (assemble.py); without one (a caller other
        than :meth:`run`), here. ``info`` gets how it was made.
        """
        from .assemble import combine_in_worker
        from .combine import ARCHIVAL_VARIANT, CombinedReport
        from .render import REPORT_PDF_VARIANT
        from .workers import RenderFailed, RenderTimeout

        started = time.perf_counter()
        portfolio = self.builder.portfolio()
        ordered = [r for r in sorted(results, key=lambda r: list(portfolio).index(r.report))
                   if (partial / r.folder / f"{r.folder}.html").exists()]
        reports = [CombinedReport(r.folder, portfolio[r.report].title,
                                  (partial / r.folder / f"{r.folder}.html").read_text(encoding="utf-8"))
                   for r in ordered]
        archival = self.pdf_profile == "archival"
        attachments = self._attachments(partial, run_id, ordered, record) if archival else []
        date = f"{epoch_time(self.builder.build_epoch):%d %B %Y, %H:%M UTC}"  # the recorded build time
        job = functools.partial(combine_in_worker, title=BUNDLE_TITLE, date=date,
                                data_version=data_version(session.snapshot.hashes),
                                notes=[f"Run {run_id}; crizotinib-reports {__version__}", changes.headline],
                                variant=ARCHIVAL_VARIANT if archival else REPORT_PDF_VARIANT, attachments=attachments)
        workers = self.builder.render_workers
        try:
            pdf, made = job(reports) if workers is None else workers.combine(job, (reports,), self.builder.timeout)
        except (RenderFailed, RenderTimeout) as exc:
            why = str(exc) or f"not done within --timeout {self.builder.timeout} s"
            raise ReportFailed(f"the run's combined PDF failed: {why}") from None
        target = partial / f"crizotinib-reports-{_run_time(run_id):%Y-%m-%d}.pdf"
        atomic_write_bytes(target, pdf)
        seconds = round(time.perf_counter() - started, 3)
        if info is not None:
            info.update(made, seconds=seconds, steps=made["seconds"])
        carried = f", carrying {len(attachments)} files" if attachments else ""
        again = (f"{made['laid_out']} laid out again" if made["method"] == "pages"
                 else "every page laid out again")
        self.progress.message(f"combined PDF of {len(reports)} reports ({self.pdf_profile}{carried}; {again}) in "
                              f"{seconds:.1f} s: {target.name}")
        return target, [attachment.name for attachment in attachments]

    def _attachments(self, partial: Path, run_id: str, results: list[ReportResult], record: dict[str, Any]) -> list:
        """What an archival PDF carries, so that the file alone holds its numbers and where they came from.

        Every report table's CSV, byte for byte, as ``<report>--<table>.csv`` (not ``<report>/<table>.csv``:
        poppler's pdfdetach, for one, cannot save a name with a slash); the build manifest; and the run
        record as it stands before the PDF is written (:data:`RUN_RECORD_ATTACHMENT`). In the two records,
        a path outside the run folder is cut to its last part: the PDF leaves the machine.
        """
        from .combine import PDFAttachment

        when, titles = _run_time(run_id), self.builder.portfolio()
        files = [PDFAttachment(f"{r.folder}--{csv.name}", csv.read_bytes(),
                               f"Table '{csv.stem}' of the report '{titles[r.report].title}' "
                               f"({r.folder}/tables/{csv.name}), with its unrounded numbers", when)
                 for r in results for csv in sorted((partial / r.folder / "tables").glob("*.csv"))]
        manifest = json.loads((partial / MANIFEST_NAME).read_text(encoding="utf-8"))
        files.append(PDFAttachment(MANIFEST_NAME, _shareable_json(manifest, partial),
                                   "The build manifest: each report's parameters, notebook, data files and their "
                                   "SHA-256, and the versions of the software that built it", when, "Supplement"))
        files.append(PDFAttachment(RUN_RECORD_ATTACHMENT, _shareable_json(record, partial),
                                   "The run record (run.json) as it stood before this PDF was written: run.json "
                                   "adds this PDF's hash and size, the finishing time and the mail's outcome",
                                   when, "Supplement"))
        return files

    def _record(self, run_id: str, started: datetime, clock: float, previous: Path | None,
                results: list[ReportResult], changes: ChangeSummary, error: Exception | None,
                outcome: RunOutcome, session: BuildSession) -> dict[str, Any]:
        reports, portfolio = {}, self.builder.portfolio()
        for r in results:
            reports[r.folder] = {"report": r.report, "title": portfolio[r.report].title, "status": r.status,
                                 "rebuilt_because": r.reasons, "seconds": r.seconds, "error": r.error,
                                 "failing_cell": r.failing_cell, "failed_notebook": r.failed_notebook}
        pdf = None
        if outcome.combined_pdf is not None:
            pdf = {"file": outcome.combined_pdf.name, "sha256": sha256_file(outcome.combined_pdf),
                   "bytes": outcome.combined_pdf.stat().st_size, "profile": self.pdf_profile,
                   "attachments": outcome.attachments,
                   # "pages": the reports' pages reused, `reports_laid_out` of them laid out for it; "layout": all
                   "method": outcome.combine.get("method"), "reports_laid_out": outcome.combine.get("laid_out"),
                   "seconds": outcome.combine.get("seconds")}
        return {
            "run": run_id, "status": "succeeded" if outcome.succeeded else "failed", "exit_code": outcome.exit_code,
            "error": str(error) if error else None,
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - clock, 3),
            "previous_run": previous.name if previous else None,
            "reports": reports,
            "changes": {"headline": changes.headline, "count": len(changes.changes), "file": "changes.json"},
            "combined_pdf": pdf,
            "data": {"dir": display_path(self.builder.data_dir), "version": data_version(session.snapshot.hashes),
                     "sha256": session.snapshot.hashes, "copy": "data/"},
            "versions": package_versions(),
            # Until the CLI says how the mail went: a run killed while mailing stays 'pending', never 'not requested'.
            "mail": {"status": "pending" if self.mail_planned else "not requested"},
        }

    def _prune(self, this_run: str) -> None:
        """Keep the newest `keep` runs by their recorded time, always `latest` and the run just written."""
        keep_also = {latest_run(self.output_dir), (self.runs_dir / this_run).resolve()}
        runs = sorted((p for p in self.runs_dir.iterdir()
                       if RUN_ID.fullmatch(p.name) and p.is_dir() and not p.is_symlink()),
                      key=lambda p: run_order(p.name), reverse=True)
        for old in runs[self.keep:]:
            if old.resolve() not in keep_also:
                remove_ours(old, self.runs_dir, RUN_ID)


def _shareable_json(value: Any, base: Path) -> bytes:
    """``value`` as run.json and manifest.json are written, with each absolute path made relative to ``base``
    when inside it, else cut to its last part: no machine path leaves in a distributed file."""

    def shareable(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: shareable(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [shareable(inner) for inner in item]
        if isinstance(item, str) and os.path.isabs(item):
            path = Path(item)
            return str(path.relative_to(base)) if path.is_relative_to(base) else path.name
        return item

    return (json.dumps(shareable(value), indent=2, sort_keys=False, default=str) + "\n").encode("utf-8")


def record_mail(outcome: RunOutcome, status: str, recipients: int, detail: str | None = None) -> None:
    """The mail's outcome in run.json: no server, user or address (the run folder is shared and archived)."""
    outcome.record["mail"] = {"status": status, "recipients": recipients, "detail": detail}
    atomic_write_json(outcome.folder / "run.json", outcome.record)
    write_sha256sums(outcome.folder)


def _run_time(run_id: str) -> datetime:
    return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def run_order(run_id: str) -> tuple[datetime, int]:
    """When a run started, then its suffix as a number: the tenth run of a second (-10) follows the ninth."""
    _, _, suffix = run_id.partition("-")
    return _run_time(run_id), int(suffix or 1)


def run_summary(record: dict[str, Any], changes: ChangeSummary) -> str:
    """The text of the mail body and of the last log line: status, each report, what changed."""
    status = "succeeded" if record["status"] == "succeeded" else "FAILED"
    lines = [f"crizotinib-reports run {record['run']} {status} in {record['seconds']:.0f} s"
             + (f": {record['error']}" if record.get("error") else ""), ""]
    for folder, entry in record["reports"].items():
        detail = entry["error"] if entry["error"] else ", ".join(entry["rebuilt_because"]) or "unchanged"
        lines.append(f"  {entry['status']:<9} {folder}  ({detail})")
    lines += ["", f"Data version: {record['data']['version']}", "", "What changed: " + changes.headline]
    lines += [f"  - {line}" for line in changes.lines()]
    if record.get("combined_pdf"):
        lines += ["", f"All reports in one PDF: {record['combined_pdf']['file']}"]
    return "\n".join(visible(line) for line in lines) + "\n"  # errors may quote data: no terminal escapes


def index_html(run_id: str, results: list[ReportResult], changes: ChangeSummary, combined: Path | None,
               portfolio: dict) -> str:
    """A page linking every report of the run: for a reader who opens the folder, not the mail."""
    e = html.escape
    rows = []
    for r in results:
        links = " · ".join(f'<a href="{e(r.folder)}/{e(r.folder)}.{fmt}">{fmt.upper()}</a>'
                           for fmt in ("html", "pdf", "ipynb"))
        rows.append(f"<tr><td>{e(portfolio[r.report].title)}</td><td><code>{e(r.folder)}</code></td>"
                    f"<td>{e(r.status)}</td><td>{links}</td></tr>")
    change_items = "".join(f"<li>{e(line)}</li>" for line in changes.lines())
    pdf_link = f'<p><a href="{e(combined.name)}">All reports in one PDF</a></p>' if combined else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(BUNDLE_TITLE)}: run {e(run_id)}</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; max-width: 60rem; margin: 2rem auto; color: #1f2933; }}
h1 {{ font-weight: 500; border-bottom: 2px solid #1d4e89; padding-bottom: .3rem; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ text-align: left; padding: .35rem .6rem;
border-bottom: 1px solid #d3d3d3; }} a {{ color: #1d4e89; }}
</style></head>
<body><main>
<h1>{e(BUNDLE_TITLE)}</h1>
<p>Run {e(run_id)} ({_run_time(run_id):%d %B %Y, %H:%M UTC}), crizotinib-reports {e(__version__)}.</p>
{pdf_link}
<table><thead><tr><th>Report</th><th>Folder</th><th>Status</th><th>Files</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<h2>What changed</h2>
<p>{e(changes.headline)}</p>
<ul>{change_items}</ul>
<p>Details: <a href="run.json">run.json</a>, <a href="changes.json">changes.json</a>,
<a href="manifest.json">manifest.json</a>.</p>
</main></body></html>
"""
