"""Scheduled runs: what changed between runs, progress lines, two real runs (the recipes: test_recipes.py)."""

from __future__ import annotations

import html
import json
from dataclasses import replace
import os
import re
import shutil
import socket
import subprocess
import sys
from email import message_from_bytes, policy

import pytest

from crizotinib_reports.publish.changes import ChangeSummary, compare_runs, compare_tables
from crizotinib_reports.paths import DATA_DIR, PROJECT_ROOT
from crizotinib_reports.plain_text import markdown_escaped
from crizotinib_reports.publish.progress import LogLines, progress_for
from crizotinib_reports.publish.portfolio import portfolio
from support.cli import cli
from support.needs import pinned_module
from support.stand_ins import stand_in_folder

REPORTS = portfolio()
# The runs below need only a few reports to show what a run does: the overview (which carries the change
# summary), a report reading the edited table and one that does not. Fewer reports, shorter runs.
RUN_REPORTS = ("overview", "clinical_activity", "resistance_mechanisms")


def notebooks_of(folder, names=RUN_REPORTS):
    """A notebook folder holding only these reports, for `--notebook-dir`."""
    folder.mkdir()
    for name in names:
        shutil.copy(PROJECT_ROOT / "notebooks" / REPORTS[name].notebook, folder)
    return folder

EFFICACY = "trial_id,arm,orr_pct,ci_low_pct\nphase1,crizotinib,61,52.0\nphase2,crizotinib,50,41.3\n"


# --- what changed ---------------------------------------------------------------------------------

def test_a_changed_number_is_named_with_its_row_and_column():
    after = EFFICACY.replace("phase1,crizotinib,61,52.0", "phase1,crizotinib,62,53.1")
    changes = compare_tables("clinical_activity", "efficacy", EFFICACY, after)
    assert [c.line() for c in changes] == [
        "clinical_activity / efficacy, phase1 · crizotinib: orr_pct 61 -> 62",
        "clinical_activity / efficacy, phase1 · crizotinib: ci_low_pct 52 -> 53.1"]
    assert changes[1].before == "52.0"  # the JSON keeps the CSV's text; the line rounds for reading


def test_rows_and_tables_added_or_removed_and_equal_numbers_written_differently():
    after = EFFICACY.replace("phase2,crizotinib,50,41.3\n", "phase3,crizotinib,70,60\n").replace("52.0", "52")
    before_tables = {("clinical_activity", "efficacy"): EFFICACY, ("clinical_relapses", "gone"): "a\n1\n"}
    after_tables = {("clinical_activity", "efficacy"): after, ("clinical_relapses", "new"): "a\n1\n"}
    summary = compare_runs(before_tables, after_tables, "20261101T060000Z")
    assert [c.line() for c in summary.changes] == [
        "clinical_activity / efficacy: removed row phase2 · crizotinib",
        "clinical_activity / efficacy: added row phase3 · crizotinib",
        "clinical_relapses / gone: removed table", "clinical_relapses / new: added table"]
    assert summary.headline == ("since run 20261101T060000Z: data: unchanged; reports: 1 removed row, 1 added row, "
                                "1 removed table, 1 added table in 3 tables")


def test_rows_without_a_telling_key_are_matched_by_position():
    before, after = "value\n1\n2\n", "value\n1\n3\n"
    assert [c.line() for c in compare_tables("r", "t", before, after)] == ["r / t, row 2: value 2 -> 3"]


def test_headlines_and_round_trip():
    assert ChangeSummary(None).headline == "first run: nothing to compare with"
    same = compare_runs({("r", "t"): EFFICACY}, {("r", "t"): EFFICACY}, "X")
    assert same.headline == "no change in the data or in the 1 report tables since run X" and same.lines() == []
    assert not same.changed and ChangeSummary(None).changed
    changed = compare_runs({("r", "t"): EFFICACY}, {("r", "t"): EFFICACY.replace("61", "60")}, "X")
    assert changed.headline == "since run X: data: unchanged; reports: 1 changed value in 1 table"
    assert ChangeSummary.from_json(json.loads(json.dumps(changed.as_json()))).lines() == changed.lines()
    many = ChangeSummary("X", [replace(changed.changes[0], row=f"row {i}") for i in range(50)])
    assert many.lines()[-1] == "... and more (see changes.json: 50 changes in all)" and len(many.lines()) == 41


def test_identifying_columns_make_the_row_key_and_numbers_are_rounded_for_reading():
    before = ("trial_id,label,arm,ci_method,orr_pct,pooled_pct,source_id\n"
              "p1,Phase I,crizotinib,exact,61,62.884082232494876,s1\np2,Phase II,crizotinib,exact,50,62.884082232494876,s1\n")
    after = before.replace("61,62.884082232494876", "62,63.224097781121735").replace(
        "50,62.884082232494876", "50,63.224097781121735")
    lines = [c.line() for c in compare_tables("r", "pooled", before, after)]
    assert lines == ["r / pooled, p1 · Phase I · crizotinib: orr_pct 61 -> 62",
                     "r / pooled, p1 · Phase I · crizotinib: pooled_pct 62.88 -> 63.22",
                     "r / pooled, p2 · Phase II · crizotinib: pooled_pct 62.88 -> 63.22"]


# --- progress -------------------------------------------------------------------------------------

def test_plain_progress_lines_are_timestamped_when_not_on_a_terminal(capsys):
    progress = progress_for(sys.stderr)
    assert isinstance(progress, LogLines)
    progress.started("overview", "executing notebooks/overview.ipynb (not built before)")
    line = capsys.readouterr().err
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ overview: executing notebooks/overview\.ipynb "
                        r"\(not built before\)\n", line)


def test_live_display_on_a_terminal_draws_and_closes():
    import io

    stream = io.StringIO()
    progress = progress_for(stream, live=True)
    progress.planned(2, ["a", "b"])
    progress.started("a", "executing notebooks/a.ipynb (data changed: trials.csv)")
    progress.state("a", "rendering")
    assert "a: rendering" in [task.description for task in progress.progress.tasks]
    progress.finished("a", True, "built in 1.0 s")
    progress.close()
    shown = stream.getvalue()
    # Why the report was built stays on screen above the bars, and how it ended follows it.
    assert "a: executing notebooks/a.ipynb (data changed: trials.csv)" in shown
    assert shown.index("(data changed: trials.csv)") < shown.index("a: built in 1.0 s")
    assert progress.progress.tasks[0].description == "reports" and len(progress.progress.tasks) == 1


# --- two scheduled runs, the second after a data change: the "done when" --------------------

def _smtp_server():
    Controller = pinned_module("aiosmtpd.controller").Controller  # noqa: N806

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.append(envelope)
            return "250 Message accepted for delivery"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port, received


@pytest.mark.e2e
@pytest.mark.timeout(1000)  # two full runs (PDFs, combined PDF, mail): 320 s measured on a loaded 2-core machine
def test_two_scheduled_runs_compare_combine_and_mail(tmp_path):
    from pypdf import PdfReader

    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    out = tmp_path / "out"
    controller, port, received = _smtp_server()
    smtp = {"CRIZOTINIB_SMTP_HOST": "127.0.0.1", "CRIZOTINIB_SMTP_PORT": str(port),
            "CRIZOTINIB_SMTP_SENDER": "reports@example.org", "CRIZOTINIB_SMTP_STARTTLS": "false"}
    notebooks = notebooks_of(tmp_path / "notebooks")
    command = ["run", "--output-dir", str(out), "--data-dir", str(data), "--notebook-dir", str(notebooks), "--keep", "5",
               "--mail-to", "medical-affairs@example.org"]
    try:
        first = cli(*command, set_env=smtp)
        assert first.returncode == 0, first.stderr
        outcomes = data / "outcomes.csv"
        outcomes.write_text(outcomes.read_text(encoding="utf-8").replace(
            "profile1014,crizotinib,ORR,primary,,,74,", "profile1014,crizotinib,ORR,primary,,,75,"), encoding="utf-8")
        # The second run's PDF for recipients whose systems reject PDFs that carry files.
        second = cli(*command, "--pdf-profile", "plain", set_env=smtp)
        assert second.returncode == 0, second.stderr
    finally:
        controller.stop()

    runs = sorted(p.name for p in (out / "runs").iterdir() if not p.name.startswith("."))
    assert len(runs) == 2 and all(re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?", r) for r in runs)
    assert (out / "latest").resolve() == (out / "runs" / runs[1]).resolve()
    latest = out / "latest"
    record = json.loads((latest / "run.json").read_text())
    assert record["status"] == "succeeded" and record["previous_run"] == runs[0]
    assert record["reports"]["resistance_mechanisms"]["status"] == "unchanged"  # it does not read outcomes.csv
    assert record["reports"]["clinical_activity"]["rebuilt_because"] == ["data changed: outcomes.csv"]
    assert record["mail"] == {"status": "sent", "recipients": 1, "detail": None}
    assert set(record["reports"]) == set(RUN_REPORTS) and record["versions"]["papermill"]

    # What changed: the data edit first, then what moved with it; the same headline everywhere.
    edit = "outcomes.csv, PROFILE 1014 · crizotinib · ORR · primary: value 74 -> 75"
    moved = "clinical_activity / efficacy, PROFILE 1014 · crizotinib · primary: orr_pct 74 -> 75; responders_derived 127 -> 129"
    changes = ChangeSummary.from_json(json.loads((latest / "changes.json").read_text()))
    assert changes.lines()[0] == edit and any(line.startswith(moved) for line in changes.lines())
    headline = changes.headline
    assert headline.startswith(f"since run {runs[0]}: data: 1 changed value in outcomes.csv; reports: ")
    assert record["changes"]["headline"] == headline
    assert (latest / "changes.md").read_text().startswith(markdown_escaped(headline))
    printed = second.stdout.split("What changed: ", 1)[1].splitlines()
    assert printed[0] == headline and printed[1] == f"  - {edit}"
    overview = (latest / "overview" / "overview.html").read_text(encoding="utf-8")
    assert "What changed since the last run" in overview and html.escape(edit, quote=False) in overview
    assert html.escape(headline[0].upper() + headline[1:], quote=False) in overview
    first_overview = (out / "runs" / runs[0] / "overview" / "overview.html").read_text(encoding="utf-8")
    assert "First run: nothing to compare with" in first_overview
    assert ",75," in (latest / "data" / "outcomes.csv").read_text() and (latest / "data" / "schema.yaml").is_file()
    assert set(json.loads((latest / "manifest.json").read_text())["reports"]) == set(RUN_REPORTS)

    # One PDF: cover, contents, a bookmark per report with its sections, page numbers throughout.
    pdf_path = latest / record["combined_pdf"]["file"]
    reader = PdfReader(pdf_path)
    assert record["combined_pdf"]["profile"] == "plain" and record["combined_pdf"]["attachments"] == []
    assert reader.attachments == {}
    # Made from the pages the run's worker laid out for the reports; those it did not render (unchanged) it laid out.
    unchanged = sum(entry["status"] == "unchanged" for entry in record["reports"].values())
    assert record["combined_pdf"]["method"] == "pages" and record["combined_pdf"]["reports_laid_out"] == unchanged

    # The first run's PDF is archival: it carries every table's CSV as the run wrote it, and the records,
    # without the paths of this machine (the data folder here is outside the project).
    archived = out / "runs" / runs[0]
    first_record = json.loads((archived / "run.json").read_text())
    assert (first_record["combined_pdf"]["method"], first_record["combined_pdf"]["reports_laid_out"]) == ("pages", 0)
    carried = {name: data[0] for name, data in PdfReader(archived / first_record["combined_pdf"]["file"]).attachments.items()}
    tables = {f"{name}--{csv.name}": csv.read_bytes() for name in RUN_REPORTS for csv in (archived / name / "tables").glob("*.csv")}
    assert sorted(carried) == sorted([*tables, "manifest.json", "run-record.json"])
    assert sorted(first_record["combined_pdf"]["attachments"]) == sorted(carried)
    assert {name: data for name, data in carried.items() if name in tables} == tables
    assert json.loads(carried["run-record.json"])["run"] == runs[0] and json.loads(carried["manifest.json"])["reports"]
    for name, data in carried.items():
        text = data.decode("utf-8")
        assert str(tmp_path) not in text and ".partial" not in text and str(PROJECT_ROOT) not in text, name
        assert not re.search(r"/(?:tmp|work|home|root)/", text), name
    pages = [" ".join(page.extract_text().split()) for page in reader.pages]
    assert all(f"Page {i} of {len(pages)}" in text for i, text in enumerate(pages, 1))
    assert "Data version" in pages[0] and "Contents" in pages[1] and headline in pages[0]
    top = [item for item in reader.outline if not isinstance(item, list)]
    titles = [item["/Title"] for item in top]
    for report in (REPORTS[name] for name in RUN_REPORTS):
        assert report.title in titles
        bookmark = top[titles.index(report.title)]
        assert report.title in pages[reader.get_destination_page_number(bookmark)]
    assert any(isinstance(item, list) and item for item in reader.outline)  # sections nested under reports
    # The reports keep their numbers (the notebook folder's order: overview 1, clinical_activity 2, ...), each
    # table and figure a bookmark on its own page; nothing a reader gets names where the run was made.
    numbered = {}

    def walk(outline):
        for item in outline:
            if isinstance(item, list):
                walk(item)
            elif re.match(r"(Table|Figure) \d+\.\d+\. ", item.title):
                numbered[item.title] = reader.get_destination_page_number(item)
    walk(reader.outline)
    assert any(t.startswith("Table 2.1. ") for t in numbered) and any(t.startswith("Figure 3.") for t in numbered)
    assert all(title.split(". ")[0] + "." in pages[page] for title, page in numbered.items())
    for text in [*pages, (latest / "index.html").read_text(), (latest / "changes.md").read_text(),
                 (latest / "overview" / "overview.ipynb").read_text(), (latest / "overview" / "overview.html").read_text()]:
        assert str(tmp_path) not in text and ".partial" not in text and str(PROJECT_ROOT) not in text
    assert "index.html" in os.listdir(latest) and 'href="overview/overview.pdf"' in (latest / "index.html").read_text()

    # The mail: both runs sent, the second carries the change summary and the intact PDF.
    assert len(received) == 2
    message = message_from_bytes(received[1].original_content, policy=policy.default)
    assert message["To"] == "medical-affairs@example.org" and "succeeded" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert edit in body and headline in body and str(tmp_path) not in body
    attachment = next(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf_path.read_bytes()

    # Each run folder checks with coreutils alone (SHA256SUMS rewritten after the mail's outcome reached run.json),
    # and `verify` finds the latest run's inputs as recorded, the first run's data edited since.
    check = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=latest, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "run.json" in (latest / "SHA256SUMS").read_text() and "data/outcomes.csv" in (latest / "SHA256SUMS").read_text()
    latest_ok = cli("verify", "--no-rebuild", str(latest))
    assert latest_ok.returncode == 0, latest_ok.stdout + latest_ok.stderr
    first_now = cli("verify", "--no-rebuild", str(archived))
    assert first_now.returncode == 2 and f"{tmp_path / 'data' / 'outcomes.csv'} changed since the build" in first_now.stdout


def test_keep_prunes_the_oldest_runs_but_never_latest_the_new_one_or_a_stranger(tmp_path):
    from crizotinib_reports.publish.build import Builder
    from crizotinib_reports.exceptions import UsageError
    from crizotinib_reports.publish.runs import Runner

    runs = tmp_path / "runs"
    for name in ("20261101T060000Z", "20261102T060000Z", "20261103T060000Z", "20261104T060000Z",
                 "20261104T060000Z-2", "exp1", "zzz-notes", "20991231T000000Z.bak"):
        (runs / name).mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, runs / "20261001T060000Z")  # a symlink named like a run: never followed, never removed
    os.symlink("runs/20261101T060000Z", tmp_path / "latest")  # the last successful run is the oldest
    runner = Runner(Builder(output_dir=tmp_path), LogLines(), keep=2)
    runner._prune("20261102T060000Z")  # the clock went back: the run just written is older than others
    assert sorted(p.name for p in runs.iterdir()) == [
        "20261001T060000Z", "20261101T060000Z", "20261102T060000Z", "20261104T060000Z", "20261104T060000Z-2",
        "20991231T000000Z.bak", "exp1", "zzz-notes"]
    assert elsewhere.is_dir()
    with pytest.raises(UsageError, match="--keep must be at least 1"):
        Runner(Builder(output_dir=tmp_path), LogLines(), keep=0)


@pytest.mark.e2e
def test_a_failed_run_is_kept_and_reported_but_latest_stays(tmp_path):
    import nbformat

    notebooks = stand_in_folder(tmp_path / "notebooks", ("overview", "resistance_mechanisms"),
                                {"resistance_mechanisms": ("raise RuntimeError('planted failure')",)})
    broken = nbformat.read(notebooks / "resistance_mechanisms.ipynb", as_version=4)
    out = tmp_path / "out"
    result = cli("run", "--output-dir", str(out), "--notebook-dir", str(notebooks), "--jobs", "1")
    assert result.returncode == 1
    assert "FAILED" in result.stdout and "raised RuntimeError: planted failure" in result.stdout
    assert not (out / "latest").exists()
    (run,) = [p for p in (out / "runs").iterdir() if not p.name.startswith(".")]
    record = json.loads((run / "run.json").read_text())
    failed = record["reports"]["resistance_mechanisms"]
    assert record["status"] == "failed" and record["exit_code"] == 1 and record["combined_pdf"] is None
    assert failed["status"] == "failed" and failed["failing_cell"] == len(broken.cells)
    assert (run / failed["failed_notebook"]).is_file() and (run / "index.html").is_file()
    assert record["reports"]["overview"]["status"] == "built"

    # Invalid data: exit 2 before any report runs, and the run is still on record.
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    (data / "trials.csv").write_text("")
    bad = cli("run", "--output-dir", str(out), "--data-dir", str(data))
    assert bad.returncode == 2 and "trials.csv: file is empty" in bad.stderr and "Traceback" not in bad.stderr
    records = [json.loads((p / "run.json").read_text()) for p in sorted((out / "runs").iterdir())
               if not p.name.startswith(".")]
    assert [r["status"] for r in records] == ["failed", "failed"] and "trials.csv" in records[1]["error"]
