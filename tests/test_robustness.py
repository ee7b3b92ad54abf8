"""Bad input, failures and interruptions: one clear line, nothing lost, no torn report."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crizotinib_reports.publish.build import table_csvs
from crizotinib_reports.evidence.data import validate
from crizotinib_reports.exceptions import DataValidationError, ReportFailed
from crizotinib_reports.publish.files import atomic_write_bytes
from crizotinib_reports.publish.outputs import build_lock, claim_output_dir
from crizotinib_reports.paths import DATA_DIR
from support.cli import cli, start_cli
from support.deadlines import within
from support.stand_ins import stand_in_folder

SHIPPED = {p.name: p.read_bytes() for p in sorted(DATA_DIR.glob("*.csv"))}


# --- bad data: random damage never ends in a traceback -----------------------------------------

def _mutate(content: bytes, kind: str, position: float, payload: str) -> bytes:
    lines = content.split(b"\n")
    line_no = int(position * (len(lines) - 1))
    at = int(position * len(content))
    if kind == "cell":  # replace one cell of one line with arbitrary text
        cells = lines[line_no].split(b",")
        cells[int(position * 997) % len(cells)] = payload.encode("utf-8", "surrogatepass")
        lines[line_no] = b",".join(cells)
        return b"\n".join(lines)
    if kind == "drop-line":
        return b"\n".join(lines[:line_no] + lines[line_no + 1:])
    if kind == "duplicate-line":
        return b"\n".join(lines[: line_no + 1] + lines[line_no:])
    if kind == "truncate":
        return content[:at]
    if kind == "insert":
        return content[:at] + payload.encode("utf-8", "surrogatepass") + content[at:]
    if kind == "bytes":
        return content[:at] + bytes([0xFF, 0xFE, 0x00]) + content[at:]
    raise AssertionError(kind)


def test_hypothesis_draws_the_same_examples_on_every_run():
    """The profile tests/conftest.py loads: a failing example comes back on every run, anyone's."""
    def draws() -> list[str]:
        drawn = []

        @given(st.text(max_size=20))
        def record(text):
            drawn.append(text)

        record()
        return drawn

    first = draws()
    assert len(first) > 10 and first == draws()


# 60 validations, each checking the damaged table anew (the intact ones are checked once per process, schema.py):
# 3.6 s of CPU in a quiet run of the suite (it was 24 s; 50 s of wall time on a loaded 2-core machine, and over
# 300 s beside a mutation run and a build).
@pytest.mark.timeout(900)
@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    file=st.sampled_from(sorted(SHIPPED)),
    kind=st.sampled_from(["cell", "drop-line", "duplicate-line", "truncate", "insert", "bytes"]),
    position=st.floats(0, 1),
    payload=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
    | st.sampled_from(['"', "-5", "250", "2015-02-30", "x,y", "nobody", "", "1e999", "NaN"]),
)
def test_damaged_csv_gives_problems_never_a_traceback(tmp_path_factory, file, kind, position, payload):
    data = tmp_path_factory.mktemp("data")
    for name, content in SHIPPED.items():
        (data / name).write_bytes(content)
    shutil.copy(DATA_DIR / "schema.yaml", data / "schema.yaml")
    (data / file).write_bytes(_mutate(SHIPPED[file], kind, position, payload))
    try:
        validate(data)
    except DataValidationError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert ".csv" in problem and ": " in problem and "\n" not in problem


# --- bad parameters, refused before any kernel ----------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--param", "setting="], "parameter 'setting' needs a value: --param setting=VALUE"),
    (["--param", "confidence_level="], "parameter 'confidence_level' needs a value"),
    (["--param", "include_single_arm= "], "parameter 'include_single_arm' needs a value"),
    (["../../etc"], "unknown report '../../etc'"),
    (["/tmp/x"], "unknown report '/tmp/x'"),
    (["--timeout", "0"], "--timeout must be a positive number"),
    (["--timeout", "soon"], "argument --timeout: invalid int value"),
])
def test_more_bad_parameters_exit_2(tmp_path, args, message):
    result = cli("build", *args, "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_table_names_cannot_leave_the_output_folder():
    cell = nbformat.v4.new_code_cell()
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/plain": "x"},
                                           metadata={"crizotinib_reports_table": {"name": "../../evil", "csv": "a\n"}})]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    with pytest.raises(ReportFailed, match="not a safe file name"):
        table_csvs(notebook)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "report.pdf"
    atomic_write_bytes(target, b"good")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(target, b"half-written new version")
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


def test_atomic_write_keeps_the_old_file_whole_until_the_new_one_is_complete(tmp_path, monkeypatch):
    """A reader sees the old bytes or all the new ones: the new ones are written and made durable beside."""
    target = tmp_path / "report.pdf"
    atomic_write_bytes(target, b"old version")
    seen_while_writing = []
    real_fsync = os.fsync

    def reader_during_fsync(fd):
        seen_while_writing.append(target.read_bytes())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", reader_during_fsync)
    atomic_write_bytes(target, b"new version, longer")
    assert seen_while_writing == [b"old version"]
    assert target.read_bytes() == b"new version, longer"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


def test_a_failed_rename_leaves_the_old_file_and_no_scratch(tmp_path, monkeypatch):
    target = tmp_path / "report.pdf"
    atomic_write_bytes(target, b"good")
    renames = []

    def rename_fails(source, destination):
        renames.append((Path(source).parent, Path(destination)))
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", rename_fails)
    monkeypatch.setattr(os, "rename", rename_fails)
    with pytest.raises(OSError, match="Input/output error"):
        atomic_write_bytes(target, b"half-written new version")
    assert renames == [(tmp_path, target)]  # written beside the target (one file system), then renamed over it
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


# --- failures, fail-fast, timeouts ------------------------------------------------------------------

def _notebooks_with(tmp_path: Path, report: str, source: str) -> Path:
    """Stand-ins of the overview and clinical_relapses, `report`'s running `source` after its own cell."""
    return stand_in_folder(tmp_path / "notebooks", ["overview", "clinical_relapses"], {report: (source,)})


@pytest.mark.e2e
def test_fail_fast_stops_at_the_first_failure(tmp_path):
    notebooks = _notebooks_with(tmp_path, "overview", "raise ValueError('planted')")
    # One at a time, so the second has not started when the first fails (with --jobs N, reports
    # already running finish; only those not yet started are skipped).
    result = cli("build", "overview", "clinical_relapses", "--format", "html", "--fail-fast", "--jobs", "1",
                 "--notebook-dir", str(notebooks), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "FAILED overview:" in result.stderr and "raised ValueError: planted" in result.stderr
    assert "SKIPPED clinical_relapses: not built: an earlier report failed and --fail-fast is set" in result.stderr
    assert "clinical_relapses: executing" not in result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["reports"]["clinical_relapses"]["status"] == "skipped"

    # Nothing changed since: both are built again, each saying why, and the build still fails.
    again = cli("build", "overview", "clinical_relapses", "--format", "html", "--jobs", "1",
                "--notebook-dir", str(notebooks), "--output-dir", str(tmp_path / "out"))
    assert again.returncode == 1
    assert "overview: executing" in again.stderr and "(failed last time)" in again.stderr
    assert "clinical_relapses: executing" in again.stderr and "(skipped last time (--fail-fast))" in again.stderr
    assert "built 1, unchanged 0, failed 1 of 2 reports" in again.stdout


@pytest.mark.e2e
def test_a_hung_cell_fails_its_report_after_the_timeout(tmp_path):
    notebooks = _notebooks_with(tmp_path, "overview", "import time\ntime.sleep(120)")
    started = time.monotonic()
    result = cli("build", "overview", "--format", "html", "--timeout", "3", "--jobs", "1", "--notebook-dir",
                 str(notebooks), "--output-dir", str(tmp_path / "out"))
    assert time.monotonic() - started < 60
    assert result.returncode == 1
    assert "still executing when the report's 3 s ran out" in result.stderr
    assert (tmp_path / "out" / "failed" / "overview.ipynb").exists()


# --- concurrency ------------------------------------------------------------------------------------

@pytest.mark.e2e
def test_second_build_exits_or_waits_while_the_folder_is_locked(tmp_path):
    output = tmp_path / "out"
    claim_output_dir(output)
    overview = ["overview", "--format", "html", "--jobs", "1", "--output-dir", str(output),
                "--notebook-dir", str(stand_in_folder(tmp_path / "notebooks", ["overview"]))]
    with build_lock(output):
        refused = cli("build", *overview, "--no-wait")
        assert refused.returncode == 1
        assert refused.stderr.startswith("error: another build (pid ") and "--wait" in refused.stderr
        waiting = start_cli("build", *overview)
        try:
            line = within(60, waiting.stderr.readline)  # a build that never says it waits fails, not hangs
        except AssertionError:
            waiting.kill()
            raise
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ waiting for another build \(pid ", line), line
        time.sleep(1)
        assert waiting.poll() is None and not (output / "current").exists()
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert (output / "overview" / "overview.html").exists()
