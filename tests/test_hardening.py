"""Never lose a user's file, never mix two builds, never hang: the output folder, locks, snapshots, bounds.

Most checks here need no kernel: they call the output-folder, snapshot, worker, mail and CLI pieces
directly. The end-to-end ones (marked e2e) build one small report each.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from crizotinib_reports import cli
from crizotinib_reports.publish.build import (KILL_AT_ENV, Builder, _outputs_present, load_manifest, table_csvs,
                                      without_secrets)
from crizotinib_reports.publish.changes import ChangeSummary, compare_data, compare_runs, schema_keys
from crizotinib_reports.evidence.data import VALIDATED_CACHE_ENV, _validated_by_the_build
from crizotinib_reports.exceptions import DataValidationError, OutputLocked, UsageError
from crizotinib_reports.publish.inputs import DataSnapshot
from crizotinib_reports.publish.kernels import KERNEL_TOKEN_ENV, end_orphaned_kernels, end_processes, output_key
from crizotinib_reports.publish.mail import MailFailed, MailSettings, send_mail
from crizotinib_reports.publish.outputs import (BUILDS, CURRENT, MANIFEST_NAME, MARKER, STAGING, OutputTree,
                                                build_lock, check_top_level, claim_output_dir, point_link,
                                                real_folder, remove_leftovers, remove_ours)
from crizotinib_reports.paths import DATA_DIR
from crizotinib_reports.publish.progress import LogLines
from crizotinib_reports.publish.runs import LATEST, RUNS, RunOutcome, record_mail
from crizotinib_reports.publish.workers import RenderFailed, RenderTimeout, RenderWorkers
from support.cli import cli as run_cli
from support.stand_ins import stand_in_folder

BUILD = "20261202T060000123456Z-4242"


# --- own only what is ours -------------------------------------------------------------------------

def test_a_folder_of_someone_elses_is_refused_unless_adopted_and_their_files_stay(tmp_path):
    theirs = tmp_path / "theirs"
    (theirs / "overview").mkdir(parents=True)
    (theirs / "overview" / "notes.txt").write_text("mine")
    (theirs / "runs" / "exp1").mkdir(parents=True)
    with pytest.raises(UsageError, match="holds files crizotinib-reports did not write.*--adopt-output-dir"):
        claim_output_dir(theirs)
    assert not (theirs / MARKER).exists()
    claim_output_dir(theirs, adopt=True)
    assert (theirs / MARKER).is_file()
    claim_output_dir(theirs)  # marked: ours from now on, no flag needed
    with pytest.raises(UsageError, match=r"overview was not written by crizotinib-reports"):
        check_top_level(theirs, ["overview", "manifest.json"])
    assert (theirs / "overview" / "notes.txt").read_text() == "mine"

    empty = tmp_path / "empty"
    empty.mkdir()
    claim_output_dir(empty)
    claim_output_dir(tmp_path / "new" / "folder")
    assert (empty / MARKER).is_file() and (tmp_path / "new" / "folder" / MARKER).is_file()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        claim_output_dir(tmp_path / "a-file")


def test_a_tree_of_an_older_version_is_recognised_as_ours(tmp_path):
    (tmp_path / BUILDS / BUILD).mkdir(parents=True)
    os.symlink(f"{BUILDS}/{BUILD}", tmp_path / "current")
    claim_output_dir(tmp_path)
    assert (tmp_path / MARKER).is_file()
    assert OutputTree.current_target(tmp_path) == tmp_path / BUILDS / BUILD
    os.remove(tmp_path / "current")
    os.symlink("/etc", tmp_path / "current")  # `current` pointing out of .builds is not ours
    assert OutputTree.current_target(tmp_path) is None


def test_symlinks_out_of_the_output_folder_are_refused_and_never_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / BUILD).mkdir(parents=True)
    (elsewhere / BUILD / "precious.txt").write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(elsewhere, out / BUILDS)
    with pytest.raises(UsageError, match=r"\.builds is a symbolic link"):
        real_folder(out / BUILDS)
    assert remove_leftovers(out, keep=set()) == []
    assert (elsewhere / BUILD / "precious.txt").read_text() == "keep"

    (out / STAGING).mkdir()
    ours, theirs, named_wrong = out / STAGING / BUILD, out / STAGING / "notes", out / STAGING / "2026"
    for folder in (ours, theirs, named_wrong):
        folder.mkdir()
    os.symlink(elsewhere / BUILD, out / STAGING / "20261202T060000999999Z-1")
    assert remove_leftovers(out, keep=set(), folders=(STAGING,)) == [f"{STAGING}/{BUILD}"]
    assert theirs.is_dir() and named_wrong.is_dir() and (elsewhere / BUILD / "precious.txt").exists()
    assert not remove_ours(theirs, out / STAGING, re_build_id())
    assert not remove_ours(elsewhere / BUILD, out / STAGING, re_build_id())  # not directly in the folder


def re_build_id():
    from crizotinib_reports.publish.outputs import BUILD_ID

    return BUILD_ID


def test_manifest_entries_we_could_not_have_written_are_ignored(tmp_path):
    lines = []
    manifest = {"reports": {
        "../../elsewhere": {"report": "overview", "outputs": {"x.html": {}}},
        "overview": {"report": "overview", "outputs": {"overview.html": {"bytes": 1}}},
        "clinical_activity": {"report": "clinical_activity", "outputs": {"../../../etc/passwd": {"bytes": 1}}},
        "clinical_relapses--time_unit-years": {"report": "clinical_relapses", "outputs": {"tables/a.csv": {}}}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    kept = load_manifest(tmp_path, lines.append)["reports"]
    assert sorted(kept) == ["clinical_relapses--time_unit-years", "overview"]
    assert any("'../../elsewhere'" in line for line in lines) and len(lines) == 2
    (tmp_path / "overview").mkdir()
    (tmp_path / "overview" / "overview.html").write_text("x")
    assert _outputs_present(tmp_path / "overview", kept["overview"])
    (tmp_path / "manifest.json").write_text("[not json")
    assert load_manifest(tmp_path) == {"reports": {}}


def test_a_new_tree_carries_over_only_report_folders(tmp_path):
    out = tmp_path / "out"
    (out / BUILDS / BUILD / "overview").mkdir(parents=True)
    (out / BUILDS / BUILD / "overview" / "overview.html").write_text("old")
    os.symlink(f"{BUILDS}/{BUILD}", out / "current")
    (tmp_path / "secret").mkdir()
    tree = OutputTree(out, "20261202T070000000000Z-1")
    assert tree.carry_over("overview") and (tree.new / "overview" / "overview.html").read_text() == "old"
    assert not tree.carry_over("../../secret") and not tree.carry_over("missing")
    tree.commit()
    assert (out / "overview").is_symlink() and not (out / BUILDS / BUILD).exists()


def _swaps_onto(link: Path, monkeypatch) -> list[str]:
    """Make every way of putting something at `link` fail (a full disk at the last step); returns what was tried.

    A swap in one rename fails with the old link in place; a swap that removes the old link first
    (unlink, then symlink or rename) fails with no link at all.
    """
    tried = []

    def failing(name, real):
        def call(*args, **kwargs):
            if Path(args[1]) == link:
                tried.append(name)
                raise OSError(errno.ENOSPC, "No space left on device", str(link))
            return real(*args, **kwargs)
        return call

    for name in ("replace", "rename", "symlink", "link"):
        monkeypatch.setattr(os, name, failing(name, getattr(os, name)))
    return tried


def test_current_moves_in_one_rename_and_a_failed_move_leaves_the_old_reports(tmp_path, monkeypatch):
    out = tmp_path / "out"
    (out / BUILDS / BUILD / "overview").mkdir(parents=True)
    (out / BUILDS / BUILD / "overview" / "overview.html").write_text("old")
    os.symlink(f"{BUILDS}/{BUILD}", out / CURRENT)
    os.symlink(f"{CURRENT}/overview", out / "overview")
    tree = OutputTree(out, "20261202T070000000000Z-1")
    (tree.new / "overview").mkdir()
    (tree.new / "overview" / "overview.html").write_text("new")
    tried = _swaps_onto(out / CURRENT, monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        tree.commit()
    assert tried == ["replace"]
    assert (out / "overview" / "overview.html").read_text() == "old"  # readers still see the old reports
    assert sorted(p.name for p in out.iterdir()) == [BUILDS, CURRENT, "overview"]  # no stray link beside
    monkeypatch.undo()
    tree.commit()
    assert (out / "overview" / "overview.html").read_text() == "new"
    assert [p.name for p in (out / BUILDS).iterdir()] == [tree.new.name]


def test_latest_moves_in_one_rename_too(tmp_path, monkeypatch):
    for run in ("20261201T060000Z", "20261202T060000Z"):
        (tmp_path / RUNS / run).mkdir(parents=True)
    point_link(tmp_path / LATEST, Path(RUNS) / "20261201T060000Z")
    tried = _swaps_onto(tmp_path / LATEST, monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        point_link(tmp_path / LATEST, Path(RUNS) / "20261202T060000Z")
    assert tried == ["replace"]
    assert os.readlink(tmp_path / LATEST) == f"{RUNS}/20261201T060000Z"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LATEST, RUNS]
    monkeypatch.undo()
    point_link(tmp_path / LATEST, Path(RUNS) / "20261202T060000Z")
    assert os.readlink(tmp_path / LATEST) == f"{RUNS}/20261202T060000Z"


def test_only_point_link_makes_a_symlink_so_every_link_readers_follow_moves_in_one_rename():
    """`current`, `latest` and the top-level names are all made by point_link, whose one-rename swap the two
    tests above check; a link made any other way (unlink, then symlink) would leave readers a moment with none."""
    import ast
    import re

    import crizotinib_reports

    makers = []

    def visit(node: ast.AST, file_name: str, function: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # `make mutants` runs this test on a copy where each function has numbered variants beside it.
            function = re.sub(r"^x_(\w+?)__mutmut_(?:orig|\d+)$", r"\1", node.name)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("symlink", "symlink_to")):
            makers.append((file_name, function))
        for child in ast.iter_child_nodes(node):
            visit(child, file_name, function)

    for path in sorted(Path(crizotinib_reports.__file__).parent.rglob("*.py")):
        visit(ast.parse(path.read_text(encoding="utf-8")), path.name, "<module>")
    assert sorted(set(makers)) == [("outputs.py", "point_link")], makers


# --- one writer, one snapshot ----------------------------------------------------------------------

def test_a_build_session_holds_the_lock_takes_one_snapshot_and_cleans_after_dead_builds(tmp_path, data_copy):
    out = tmp_path / "out"
    claim_output_dir(out)
    (out / STAGING / "20261201T000000000000Z-1" / "data").mkdir(parents=True)  # a killed build's scratch
    (out / STAGING / "keep-me").mkdir()
    builder = Builder(data_dir=data_copy, output_dir=out, progress=LogLines(timestamps=False))
    with builder.session() as session:
        with pytest.raises(OutputLocked, match="another build"):
            with build_lock(out, wait=False):
                pass
        with builder.session() as inner:  # a run's second build shares it
            assert inner is session
        outcomes = data_copy / "outcomes.csv"
        before = (session.snapshot.folder / "outcomes.csv").read_bytes()
        outcomes.write_text(outcomes.read_text().replace(",74,", ",99,"))  # edited while the build runs
        assert (session.snapshot.folder / "outcomes.csv").read_bytes() == before
        assert session.snapshot.hashes["outcomes.csv"] == hashlib.sha256(before).hexdigest()
        assert session.snapshot.hashes_of(["trials"]).keys() == {"trials.csv", "schema.yaml"}
    assert sorted(p.name for p in (out / STAGING).iterdir()) == ["keep-me"]


def test_kernels_read_the_builds_snapshot_whatever_the_files_hold_now(tmp_path, data_copy, monkeypatch):
    snapshot = DataSnapshot.take(data_copy, tmp_path / "snapshot")
    cache = tmp_path / "cache.pickle"
    cache.write_bytes(pickle.dumps({"data_dir": str(data_copy.resolve()), "hashes": snapshot.hashes,
                                    "schema": {}, "tables": {"trials": "the snapshot's"}}))
    monkeypatch.setenv(VALIDATED_CACHE_ENV, str(cache))
    (data_copy / "trials.csv").write_text("edited after the snapshot")
    tables, hashes, _schema = _validated_by_the_build(data_copy)
    assert tables == {"trials": "the snapshot's"} and hashes == snapshot.hashes
    assert _validated_by_the_build(DATA_DIR) is None  # another data folder is validated as usual


def test_invalid_data_stops_the_build_before_any_kernel_starts(tmp_path, data_copy, monkeypatch):
    import crizotinib_reports.publish.kernels as kernels

    def no_kernels(*args, **kwargs):
        raise AssertionError("a kernel was started before the data were checked")

    monkeypatch.setattr(kernels, "WarmKernels", no_kernels)
    (data_copy / "outcomes.csv").write_text((data_copy / "outcomes.csv").read_text().replace(",74,", ",174,"))
    out = tmp_path / "out"
    with pytest.raises(DataValidationError, match=r"outcomes.csv, line \d+, column 'value'"):
        Builder(data_dir=data_copy, output_dir=out, progress=LogLines()).build(["overview"], [])
    assert list((out / STAGING).iterdir()) == []
    assert list((out / BUILDS).iterdir()) == []


def test_problems_name_the_users_files_not_the_snapshot(tmp_path, data_copy):
    (data_copy / "trials.csv").write_text("")
    with pytest.raises(DataValidationError) as caught:
        Builder(data_dir=data_copy, output_dir=tmp_path / "out", progress=LogLines()).build(["overview"], [])
    assert "trials.csv: file is empty" in str(caught.value) and STAGING not in str(caught.value)


def test_a_full_disk_leaves_no_scratch_and_says_one_line(tmp_path, data_copy, monkeypatch):
    def disk_full(cls, source, folder):
        folder.mkdir(parents=True)
        (folder / "half.csv").write_text("x")
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "half.csv"))

    monkeypatch.setattr(DataSnapshot, "take", classmethod(disk_full))
    out = tmp_path / "out"
    with pytest.raises(OSError):
        Builder(data_dir=data_copy, output_dir=out, progress=LogLines()).build(["overview"], [])
    assert list((out / STAGING).iterdir()) == []
    line = cli.os_error_line(OSError(errno.ENOSPC, "No space left on device", str(out / "x")))
    assert line.startswith("No space left on device: ") and "the reports already there are unchanged" in line


def test_os_errors_and_interrupts_are_one_true_line(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert cli.main(["build", "overview", "--output-dir", str(blocker / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_list", interrupted)
    assert cli.main(["list"]) == 130
    assert "nothing was replaced" in capsys.readouterr().err


def test_a_closed_pipe_is_not_a_success():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line (`| head -0`)
    try:
        result = subprocess.run([sys.executable, "-m", "crizotinib_reports.cli", "list"], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "Exception" not in result.stderr

    class Closed:
        def write(self, text):
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

        def flush(self):
            pass

    progress = LogLines(Closed())
    progress.message("one")
    progress.message("two")  # no second attempt, no exception: the build goes on
    assert progress.lost


def test_terminal_escapes_from_data_are_shown_not_run(capsys):
    LogLines(sys.stderr, timestamps=False).message("trial \x1b[2J\u202eevil")
    assert capsys.readouterr().err == "trial \\x1b[2J\\u202eevil\n"


# --- secrets never reach a kernel ------------------------------------------------------------------

def test_mail_secrets_leave_the_environment_before_anything_starts(monkeypatch):
    monkeypatch.setenv("CRIZOTINIB_SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("CRIZOTINIB_SMTP_HOST", "smtp.example.org")
    taken = cli.take_secrets(os.environ)
    assert taken == {"CRIZOTINIB_SMTP_PASSWORD": "hunter2", "CRIZOTINIB_SMTP_HOST": "smtp.example.org"}
    assert not [k for k in os.environ if k.startswith("CRIZOTINIB_SMTP_")]
    assert without_secrets({"CRIZOTINIB_SMTP_USER": "u", "PATH": "/bin"}) == {"PATH": "/bin"}


# --- a kernel ends with everything it started ------------------------------------------------------

def _sleeper(token: str) -> subprocess.Popen:
    """A process that left its parent's session, as `setsid` in a notebook would, carrying a kernel's token."""
    return subprocess.Popen(["sleep", "300"], env={**os.environ, KERNEL_TOKEN_ENV: token}, start_new_session=True)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="processes are found through /proc (Linux)")
def test_processes_carrying_a_kernel_token_are_ended(tmp_path):
    key = output_key(tmp_path)
    mine = _sleeper(f"{key}:{os.getpid()}:1")
    dead_build = 2**22 + 12345  # above Linux's largest pid: no live process has it
    orphan = _sleeper(f"{key}:{dead_build}:1")
    other_folder = _sleeper(f"{output_key(tmp_path / 'other')}:{dead_build}:1")
    try:
        assert end_orphaned_kernels(tmp_path) == 1
        assert orphan.wait(timeout=10) == -signal.SIGKILL
        assert mine.poll() is None and other_folder.poll() is None  # a live build's, another folder's
        assert end_processes(lambda token: token == f"{key}:{os.getpid()}:1") == 1
        assert mine.wait(timeout=10) == -signal.SIGKILL
    finally:
        for process in (mine, orphan, other_folder):
            process.kill()
            process.wait()


# --- render workers: bounded in time ---------------------------------------------------------------

def slow_job(seconds: float, label: str) -> str:
    time.sleep(seconds)
    return label


def failing_job(seconds: float, label: str) -> str:
    raise ValueError(f"planted {label}")


def test_a_late_render_is_killed_and_its_worker_replaced():
    workers = RenderWorkers(1, job=slow_job)
    try:
        started = time.monotonic()
        with pytest.raises(RenderTimeout):
            workers.render(60, "late", timeout=1)  # any limit short of the job's 60 s: the test waits it out
        assert time.monotonic() - started < 30
        assert workers.render(0, "next", timeout=60) == "next"  # a fresh worker took its place
    finally:
        workers.close()
    broken = RenderWorkers(1, job=failing_job)
    try:
        with pytest.raises(RenderFailed, match="ValueError: planted x"):
            broken.render(0, "x", timeout=60)
    finally:
        broken.close()


# --- the failing cell, as the notebook numbers it --------------------------------------------------

def test_the_failing_cell_is_numbered_as_in_the_report_notebook(tmp_path):
    cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("x = 1"),
             nbformat.v4.new_code_cell("x = 2"), nbformat.v4.new_code_cell("raise ValueError")]
    cells[1].metadata["tags"] = ["parameters"]
    injected = nbformat.v4.new_code_cell("x = 3")
    injected.metadata["tags"] = ["injected-parameters"]
    banner = nbformat.v4.new_markdown_cell("An Exception was encountered")
    banner.metadata["tags"] = ["papermill-error-cell-tag"]
    for failing in (2, 3):  # right after the parameters cell, and further down
        executed = [banner, *cells[:2], injected, *cells[2:]]
        path = tmp_path / "executed.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=executed), path)
        index = failing + 1  # papermill's index counts the injected cell, not the banner
        assert Builder._source_cell_number(path, index) == failing + 1


# --- mail: bounded, and nothing about the server in the run record ---------------------------------

def _trickling_server(stop: threading.Event) -> int:
    """An SMTP server that greets one byte at a time, a byte every half second, for ever."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve():
        connection, _ = server.accept()
        with connection:
            while not stop.is_set():
                connection.sendall(b"2")
                time.sleep(0.5)
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def test_a_mail_server_that_trickles_cannot_hold_the_run(tmp_path):
    stop = threading.Event()
    port = _trickling_server(stop)
    settings = MailSettings(host="127.0.0.1", port=port, sender="reports@example.org", starttls=False,
                            user="alice", password="s3cret", timeout=5, deadline=2)
    started = time.monotonic()
    try:
        with pytest.raises(MailFailed) as caught:
            send_mail(settings, ["reader@example.org"], "subject", "body", None, log=lambda line: None)
    finally:
        stop.set()
    assert time.monotonic() - started < 10
    assert "did not finish within 2 s" in str(caught.value) and "127.0.0.1" in str(caught.value)
    assert caught.value.detail == "failed while connecting: the server did not finish within 2 s"
    outcome = RunOutcome("20261202T060000Z", tmp_path, True, 0, record={"mail": {"status": "pending"}})
    record_mail(outcome, "failed", 1, caught.value.detail)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["mail"] == {"status": "failed", "recipients": 1, "detail": caught.value.detail}
    assert "127.0.0.1" not in json.dumps(record) and "alice" not in json.dumps(record)


def test_mail_goes_out_when_something_changed_or_failed():
    nothing = ChangeSummary("20261201T060000Z")
    something = compare_runs({("r", "t"): "a,b\n1,2\n"}, {("r", "t"): "a,b\n1,3\n"}, "20261201T060000Z")
    good = lambda changes: RunOutcome("x", Path("."), True, 0, changes=changes)  # noqa: E731
    assert not good(nothing).should_mail("changed") and good(something).should_mail("changed")
    assert good(ChangeSummary(None)).should_mail("changed")  # a first run is news
    assert good(nothing).should_mail("always") and not good(something).should_mail("failed")
    failed = RunOutcome("x", Path("."), False, 1, changes=nothing)
    assert failed.should_mail("failed") and failed.should_mail("changed")


# --- what changed, readable ------------------------------------------------------------------------

def test_the_data_edit_comes_first_named_as_people_know_it():
    keys = schema_keys(DATA_DIR / "schema.yaml")
    before = {name: (DATA_DIR / name).read_text(encoding="utf-8") for name in ("trials.csv", "outcomes.csv")}
    after = {**before, "outcomes.csv": before["outcomes.csv"].replace(
        "profile1014,crizotinib,ORR,primary,,,74,", "profile1014,crizotinib,ORR,primary,,,75,")}
    data = compare_data(before, after, keys)
    assert [c.line() for c in data] == ["outcomes.csv, PROFILE 1014 · crizotinib · ORR · primary: value 74 -> 75"]
    report_before = "trial_id,arm,orr_pct,ci_low_pct\nprofile1014,crizotinib,74,66.6\n"
    report_after = "trial_id,arm,orr_pct,ci_low_pct\nprofile1014,crizotinib,75,67.84\n"
    summary = compare_runs({("clinical_activity", "efficacy"): report_before,
                            ("overview", "key_numbers"): "m,v\nORR,74%\n"},
                           {("clinical_activity", "efficacy"): report_after,
                            ("overview", "key_numbers"): "m,v\nORR,75%\n"}, "R1", data,
                           {"profile1014": "PROFILE 1014"})
    assert summary.lines() == [
        "outcomes.csv, PROFILE 1014 · crizotinib · ORR · primary: value 74 -> 75",
        "clinical_activity / efficacy, PROFILE 1014 · crizotinib: orr_pct 74 -> 75; ci_low_pct 66.6 -> 67.84"]
    assert summary.headline == ("since run R1: data: 1 changed value in outcomes.csv; "
                                "reports: 2 changed values in 1 table")  # the overview restates, not compared


def test_a_changed_label_is_one_changed_row_not_a_removed_and_an_added_one():
    before = "Measure,Value,Source\nORR phase I,61%,a\nPFS phase III,10.9 months,b\n"
    after = before.replace("61%", "62%")
    summary = compare_runs({("r", "t"): before}, {("r", "t"): after}, "R1")
    assert [c.line() for c in summary.changes] == ["r / t, ORR phase I: Value 61% -> 62%"]


def test_changes_md_shows_markup_from_data_as_text():
    summary = compare_runs({("r", "t"): "trial_id,x\na,<script>alert(1)</script>\n"},
                           {("r", "t"): "trial_id,x\na,[x](javascript:alert(1)) \x1b[31m\n"}, "R1")
    text = summary.as_markdown()
    assert "<script>" not in text and "\\<script\\>" in text and "\\[x\\]\\(javascript\\:alert\\(1\\)\\)" in text
    assert "\x1b" not in text and "\\\\x1b\\[31m" in text


def test_table_csvs_refuse_unsafe_names():
    cell = nbformat.v4.new_code_cell()
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/plain": "x"},
                                           metadata={"crizotinib_reports_table": {"name": "ok", "csv": "a\n"}})]
    assert table_csvs(nbformat.v4.new_notebook(cells=[cell])) == {"ok": {"name": "ok", "csv": "a\n"}}


# --- end to end: one small build each --------------------------------------------------------------

@pytest.mark.e2e
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="processes are found through /proc (Linux)")
def test_a_kernel_ends_with_what_it_started_sees_no_secret_and_a_closed_log_is_not_a_success(tmp_path):
    notebooks = stand_in_folder(tmp_path / "notebooks", ["clinical_relapses"], {"clinical_relapses": (
        "import os, subprocess\n"
        "escaped = subprocess.Popen(['setsid', 'sleep', '600'])  # leaves the kernel's process group\n"
        "leaked = sorted(k for k in os.environ if k.startswith('CRIZOTINIB_SMTP'))\n"
        "assert not leaked, leaked",)})
    out = tmp_path / "out"
    env = {**os.environ, "CRIZOTINIB_SMTP_PASSWORD": "hunter2", "CRIZOTINIB_SMTP_HOST": "smtp.example.org"}
    command = (f"{sys.executable} -m crizotinib_reports.cli build clinical_relapses --format html --jobs 1 "
               f"--notebook-dir {notebooks} --output-dir {out} 2>&1 >/dev/null | head -1; exit ${{PIPESTATUS[0]}}")
    result = subprocess.run(command, shell=True, executable="/bin/bash", env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 1, result.stdout  # every report built, but the log was cut short
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reports"]["clinical_relapses"]["status"] == "built"
    key = output_key(out)
    assert end_processes(lambda token: token.startswith(f"{key}:")) == 0, "a kernel's process outlived its report"
    executed = (out / "clinical_relapses" / "clinical_relapses.ipynb").read_text()
    assert "hunter2" not in executed and "smtp.example.org" not in executed
    assert "leaked = sorted" in executed  # the cell that looked for them ran in this notebook


#: Each point the build kills itself at, with what it leaves there (see _left_by_the_kill): a kill that landed
#: earlier or later, or not at all, leaves something else.
KILL_POINTS = {
    #                      new tree, its report, its manifest, `current` on it, old tree still there
    "snapshot-taken":      (False, False, False, False, True),
    "report-written":      (True, True, False, False, True),
    "manifest-written":    (True, True, True, False, True),
    "after-current-moved": (True, True, True, True, True),
    "committed":           (True, True, True, True, False),
}


def _left_by_the_kill(output: Path, old_tree: str) -> tuple[bool, ...]:
    """Where a killed build stopped, from what it left: its new tree and how far it got, and the old tree."""
    (scratch,) = (output / STAGING).iterdir()  # the killed build's own, with its data snapshot: killed in the session
    assert (scratch / "data" / "schema.yaml").is_file()
    new_trees = [p for p in (output / BUILDS).iterdir() if p.name != old_tree]
    assert len(new_trees) <= 1, new_trees
    new = new_trees[0] if new_trees else None
    return (new is not None,
            new is not None and any(new.glob("*/*.html")),  # the report's folder is named by its parameters
            new is not None and (new / MANIFEST_NAME).is_file(),
            new is not None and (output / CURRENT).resolve() == new,
            (output / BUILDS / old_tree).is_dir())


def _consistent(output: Path) -> dict[str, str]:
    """Every report the manifest lists is on disk exactly as recorded; returns name -> html hash."""
    manifest = json.loads((output / "manifest.json").read_text())
    assert (output / "current").resolve().name == manifest["build"]
    hashes = {}
    for name, entry in manifest["reports"].items():
        for relative, record in entry["outputs"].items():
            data = (output / name / relative).read_bytes()
            assert hashlib.sha256(data).hexdigest() == record["sha256"], (name, relative)
        hashes[name] = entry["outputs"][f"{name}.html"]["sha256"]
    return hashes


@pytest.mark.e2e
def test_sigkill_at_each_step_leaves_the_old_or_the_new_reports_never_torn(tmp_path):
    output = tmp_path / "out"
    args = ["build", "clinical_relapses", "--format", "html", "--jobs", "1", "--output-dir", str(output),
            "--notebook-dir", str(stand_in_folder(tmp_path / "notebooks", ["clinical_relapses"]))]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    old = _consistent(output)
    for number, point in enumerate(KILL_POINTS):
        # Each kill's build differs from what is current, so it has a report to build: years until a build
        # commits it (after-current-moved), then months.
        unit = ["years", "years", "years", "years", "months"][number]
        old_tree = (output / CURRENT).resolve().name
        killed = run_cli(*args, "--param", f"time_unit={unit}", env={**os.environ, KILL_AT_ENV: point})
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)  # killed, by the checkpoint alone
        assert "reports in" not in killed.stdout, point  # before the summary
        assert _left_by_the_kill(output, old_tree) == KILL_POINTS[point], point  # there
        now = _consistent(output)  # old or new, and the manifest says which
        if point in ("after-current-moved", "committed"):
            assert now != old, point
            (entry,) = json.loads((output / "manifest.json").read_text())["reports"].values()
            assert entry["parameters"]["time_unit"] == unit  # the new set, alone: the old one was pruned
            old = now
        else:
            assert now == old, point
        assert not list((output / "current").resolve().rglob("*.tmp"))
    nothing_to_do = run_cli(*args, "--param", "time_unit=months")
    assert nothing_to_do.returncode == 0 and "unchanged 1" in nothing_to_do.stdout, nothing_to_do.stderr
    assert [p.name for p in (output / BUILDS).iterdir()] == [(output / "current").resolve().name]
    assert list((output / STAGING).iterdir()) == []
    assert end_processes(lambda token: token.startswith(f"{output_key(output)}:")) == 0
