"""Reproducible builds and `crizotinib-reports verify`: the recorded build time, executed notebooks without
clocks, SHA256SUMS in coreutils' format, and verify's exit codes (0 match, 1 a file differs, 2 inputs changed).

The unit tests use a tiny fake manifest; the end-to-end ones copy the session's shared build (built with a fixed
SOURCE_DATE_EPOCH), and one of them re-executes every report: that is the "build twice into two folders and
compare the bytes" test.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from crizotinib_reports.build_time import SOURCE_DATE_EPOCH, build_epoch, build_time
from crizotinib_reports.cli import main
from crizotinib_reports.exceptions import UsageError
from crizotinib_reports.notebook import provenance_html
from crizotinib_reports.paths import DATA_DIR
from crizotinib_reports.publish.build import INJECTED_CELL_ID, without_timings
from crizotinib_reports.publish.files import SHA256SUMS, sha256sums_text, write_sha256sums
from crizotinib_reports.publish.inputs import package_code_hash, package_versions
from crizotinib_reports.publish.verify import first_difference
from support.cli import cli

EPOCH = 1764547200  # 2025-12-01 00:00:00 UTC


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the recorded build time ----------------------------------------------------------------------

def test_the_build_time_is_source_date_epoch_when_set_else_now():
    assert build_epoch({SOURCE_DATE_EPOCH: str(EPOCH)}) == EPOCH
    assert build_time({SOURCE_DATE_EPOCH: f" {EPOCH}\n"}) == datetime(2025, 12, 1, tzinfo=timezone.utc)
    for environ in ({}, {SOURCE_DATE_EPOCH: ""}):
        before = int(time.time())
        assert before <= build_epoch(environ) <= int(time.time())
    for bad in ("yesterday", "-5", "1.5e9"):
        with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH must be a whole number of seconds"):
            build_epoch({SOURCE_DATE_EPOCH: bad})


def test_the_provenance_footer_prints_the_recorded_build_time(monkeypatch):
    monkeypatch.setenv(SOURCE_DATE_EPOCH, str(EPOCH))
    assert "<td>2025-12-01 00:00 UTC by crizotinib-reports" in provenance_html({}, {})
    monkeypatch.setenv(SOURCE_DATE_EPOCH, str(EPOCH + 86400 + 3600 * 5 + 60 * 7))
    assert "<td>2025-12-02 05:07 UTC by crizotinib-reports" in provenance_html({}, {})


def test_an_executed_notebook_loses_its_clocks_and_random_id_and_keeps_its_outputs():
    injected = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["injected-parameters"], "papermill": {
        "duration": 0.0123, "start_time": "2026-12-03T00:14:04Z", "end_time": "2026-12-03T00:14:05Z",
        "exception": False, "status": "completed"}, "execution": {"iopub.status.busy": "2026-12-03T00:14:04Z"}})
    shown = nbformat.v4.new_code_cell("print(x)", metadata={"papermill": {"duration": 2.5, "status": "completed"}},
                                      outputs=[nbformat.v4.new_output("stream", text="1\n")])
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), injected, shown],
                                        metadata={"papermill": {"duration": 3.1, "start_time": "a", "end_time": "b",
                                                                "parameters": {"x": 1}}})
    assert without_timings(notebook) == [0.012, 2.5]
    text = nbformat.writes(notebook)
    for clock in ("start_time", "end_time", "duration", "iopub", "2026-12-03"):
        assert clock not in text
    assert injected.id == INJECTED_CELL_ID and injected.metadata.papermill == {"exception": False, "status": "completed"}
    assert notebook.metadata.papermill == {"parameters": {"x": 1}} and shown.outputs[0].text == "1\n"
    nbformat.validate(notebook)


# --- SHA256SUMS ----------------------------------------------------------------------------------

def test_sha256sums_is_coreutils_format_sorted_and_checked_by_sha256sum(tmp_path):
    (tmp_path / "overview" / "tables").mkdir(parents=True)
    files = {"overview/overview.html": b"<p>hi</p>\n", "overview/tables/a.csv": b"x\n1\n", "manifest.json": b"{}\n",
             "B.txt": b""}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    write_sha256sums(tmp_path)
    assert (tmp_path / SHA256SUMS).read_text() == "".join(f"{sha256(files[n])}  {n}\n" for n in sorted(files))
    assert sha256sums_text(tmp_path) == (tmp_path / SHA256SUMS).read_text()  # it does not list itself
    if shutil.which("sha256sum") is None:
        pytest.skip("coreutils' sha256sum is not installed")
    check = subprocess.run(["sha256sum", "-c", SHA256SUMS], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == len(files), check.stdout
    (tmp_path / "overview" / "tables" / "a.csv").write_bytes(b"x\n2\n")
    check = subprocess.run(["sha256sum", "-c", SHA256SUMS], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 1 and "overview/tables/a.csv: FAILED" in check.stdout


# --- verify on a tiny fake build ------------------------------------------------------------------

@pytest.fixture
def fake_build(tmp_path: Path) -> Path:
    """A one-report build folder as `build` lays it out, with its notebook and data beside it."""
    notebooks, data, out = tmp_path / "notebooks", tmp_path / "data", tmp_path / "out"
    for folder in (notebooks, data, out / "overview"):
        folder.mkdir(parents=True)
    (notebooks / "overview.ipynb").write_text("{}")
    (data / "outcomes.csv").write_text("a,b\n1,2\n")
    outputs = {"overview.html": b"<p>report</p>\n", "overview.pdf": b"%PDF-1.7 fake\n"}
    for name, content in outputs.items():
        (out / "overview" / name).write_bytes(content)
    entry = {"report": "overview", "status": "built", "source_date_epoch": EPOCH, "parameters": {},
             "notebook": {"path": str(notebooks / "overview.ipynb"), "sha256": sha256(b"{}")},
             "data": {"dir": str(data)},
             "inputs": {"notebook": sha256(b"{}"), "data": {"outcomes.csv": sha256(b"a,b\n1,2\n")},
                        "code": package_code_hash(), "versions": package_versions(), "formats": ["html", "pdf"]},
             "outputs": {name: {"sha256": sha256(content), "bytes": len(content)} for name, content in outputs.items()}}
    (out / "manifest.json").write_text(json.dumps({"reports": {"overview": entry}}))
    write_sha256sums(out)
    return out


def verify_lines(capsys, out: Path, *extra: str) -> tuple[int, list[str]]:
    code = main(["verify", "--output-dir", str(out), "--no-rebuild", *extra])
    return code, capsys.readouterr().out.splitlines()


def test_verify_no_rebuild_passes_on_an_intact_build(fake_build, capsys):
    code, lines = verify_lines(capsys, fake_build)
    assert code == 0, lines
    assert lines[-1].endswith("3 files match the manifest, inputs as recorded (not re-executed: --no-rebuild)")


def test_verify_names_each_tampered_or_missing_file_with_exit_1(fake_build, capsys):
    (fake_build / "overview" / "overview.html").write_bytes(b"<p>edited</p>\n")
    (fake_build / "overview" / "overview.pdf").unlink()
    code, lines = verify_lines(capsys, fake_build)
    assert code == 1
    assert any(line.endswith("overview/overview.html does not match its recorded SHA-256 (changed since the build)")
               for line in lines)
    assert any(line.endswith("overview/overview.pdf is missing") for line in lines)
    manifest = fake_build / "manifest.json"  # the manifest is in SHA256SUMS: editing it is seen too
    manifest.write_text(manifest.read_text().replace('"built"', '"built" '))
    code, lines = verify_lines(capsys, fake_build)
    assert code == 1 and any(line.endswith("manifest.json does not match its recorded SHA-256 (changed since the "
                                           "build)") for line in lines)


def test_verify_names_changed_inputs_with_exit_2(fake_build, capsys):
    data = fake_build.parent / "data"
    (data / "outcomes.csv").write_text("a,b\n1,3\n")
    code, lines = verify_lines(capsys, fake_build)
    assert code == 2 and any(line.endswith("data/outcomes.csv changed since the build") for line in lines), lines
    (data / "outcomes.csv").write_text("a,b\n1,2\n")
    assert verify_lines(capsys, fake_build)[0] == 0
    (fake_build.parent / "notebooks" / "overview.ipynb").unlink()
    code, lines = verify_lines(capsys, fake_build)
    assert code == 2 and any(line.endswith("notebooks/overview.ipynb is missing (recorded in the manifest)")
                             for line in lines)


def test_verify_names_a_version_other_than_recorded_with_exit_2(fake_build, capsys):
    manifest = json.loads((fake_build / "manifest.json").read_text())
    manifest["reports"]["overview"]["inputs"]["versions"]["pandas"] = "0.0.1"
    (fake_build / "manifest.json").write_text(json.dumps(manifest))
    write_sha256sums(fake_build)
    code, lines = verify_lines(capsys, fake_build)
    assert code == 2 and f"pandas {package_versions()['pandas']} installed, 0.0.1 recorded" in lines


def test_verify_without_a_manifest_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["verify", "--output-dir", str(tmp_path), "--no-rebuild"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no manifest.json in ") and err.count("\n") == 1 and "Traceback" not in err


def test_first_difference_names_the_cell_or_the_line(tmp_path):
    cells = [nbformat.v4.new_markdown_cell("# A"), nbformat.v4.new_code_cell("x = 1")]
    recorded, rebuilt = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), recorded)
    cells[1].source = "x = 2"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), rebuilt)
    assert first_difference(recorded, rebuilt) == "first at cell 2: source"
    (tmp_path / "a.html").write_text("<html>\n<p>1</p>\n<p>2</p>\n")
    (tmp_path / "b.html").write_text("<html>\n<p>1</p>\n<p>3</p>\n")
    assert first_difference(tmp_path / "a.html", tmp_path / "b.html") == "first at line 3"


# --- end to end, on copies of the shared build ----------------------------------------------------

def copy_of(output_dir: Path, target: Path) -> Path:
    shutil.copytree(output_dir, target, symlinks=True)  # `current` and the report names are relative links
    return target


@pytest.mark.e2e
@pytest.mark.timeout(240)  # one full re-execution: 72 s measured on the loaded 2-core machine
def test_verify_rebuilds_the_shared_build_byte_for_byte_in_another_folder(output_dir, tmp_path):
    copy = copy_of(output_dir, tmp_path / "copy")
    scratch = set(Path(tempfile.gettempdir()).glob("crizotinib-verify-*"))
    result = cli("verify", "--output-dir", str(copy), timeout=220)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 report(s) re-executed with identical outputs" in result.stdout
    assert f"SOURCE_DATE_EPOCH={1764547200}" in result.stderr
    assert set(Path(tempfile.gettempdir()).glob("crizotinib-verify-*")) <= scratch  # its scratch folder is gone


@pytest.mark.e2e
def test_the_shared_build_prints_the_recorded_time_and_its_sha256sums_check(output_dir):
    manifest = json.loads((output_dir / "manifest.json").read_text())
    assert manifest["source_date_epoch"] == EPOCH and manifest["build_time"] == "2025-12-01T00:00:00+00:00"
    entry = manifest["reports"]["clinical_activity"]
    assert entry["source_date_epoch"] == EPOCH and entry["cell_seconds"] and entry["seconds"]["execute"] > 0
    assert "<td>2025-12-01 00:00 UTC by crizotinib-reports" in (output_dir / "overview" / "overview.html").read_text()
    executed = (output_dir / "clinical_activity" / "clinical_activity.ipynb").read_text()
    assert '"start_time"' not in executed and "iopub." not in executed and "2025-12-01 00:00 UTC" in executed
    if shutil.which("sha256sum") is None:
        pytest.skip("coreutils' sha256sum is not installed")
    check = subprocess.run(["sha256sum", "-c", "--quiet", SHA256SUMS], cwd=output_dir, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = [line.split("  ", 1)[1] for line in (output_dir / SHA256SUMS).read_text().splitlines()]
    assert listed == sorted(listed) and "manifest.json" in listed and "overview/tables/key_numbers.csv" in listed


@pytest.mark.e2e
def test_verify_no_rebuild_names_a_tampered_html_and_pdf(output_dir, tmp_path):
    copy = copy_of(output_dir, tmp_path / "copy")
    for name in ("clinical_activity/clinical_activity.html", "overview/overview.pdf"):
        target = copy / name
        data = target.read_bytes()
        target.unlink()  # the copy's files are copies, but never write through a link into the shared build
        target.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit of the last byte
    result = cli("verify", "--no-rebuild", "--output-dir", str(copy))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "clinical_activity/clinical_activity.html does not match its recorded SHA-256" in result.stdout
    assert "overview/overview.pdf does not match its recorded SHA-256" in result.stdout
    assert "executing" not in result.stderr  # named before any re-execution


@pytest.mark.e2e
def test_verify_names_a_data_file_changed_since_the_build(output_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    assert cli("verify", "--no-rebuild", "--output-dir", str(output_dir), "--data-dir", str(data)).returncode == 0
    outcomes = data / "outcomes.csv"
    outcomes.write_text(outcomes.read_text(encoding="utf-8").replace(",74,", ",75,", 1), encoding="utf-8")
    result = cli("verify", "--output-dir", str(output_dir), "--data-dir", str(data))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{outcomes} changed since the build" in result.stdout and "executing" not in result.stderr
