"""The CLI's contract: exit codes and one-line errors, all before any kernel starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crizotinib_reports.cli import main
from support.cli import cli


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The program itself, as a shell runs it: its exit status and standard error are the contract checked here."""
    return cli(*args, own_process=True, timeout=120)


def test_list_names_every_report_and_parameter(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("overview", "clinical_activity", "clinical_relapses", "resistance_mechanisms"):
        assert f"{name}:" in out
    assert "--param setting=...  (str, default 'all'; one of all, first-line, second-line)" in out
    assert "--param confidence_level=...  (float, default 0.95; 0.5 to 0.999)" in out


def test_validate_ok(capsys):
    from crizotinib_reports.evidence.data import TABLE_NAMES

    assert main(["validate"]) == 0
    assert f"data OK: {len(TABLE_NAMES)} tables" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["build", "nope"], "error: unknown report 'nope'"),
    (["build", "--param", "setting=third"], "error: parameter 'setting' must be one of"),
    (["build", "--param", "confidence_level=abc"], "error: parameter 'confidence_level' takes a float"),
    (["build", "--param", "nonsense"], "error: --param takes KEY=VALUE"),
    (["build", "--param", "colour=red"], "error: unknown parameter 'colour'"),
    (["build", "--format", "docx"], "error: argument --format: invalid choice: 'docx'"),
    (["frobnicate"], "error: argument command: invalid choice"),
    ([], "error: the following arguments are required: command"),
])
def test_bad_usage_exits_2_with_one_line(args, message, tmp_path):
    result = run_cli(*args, "--output-dir", str(tmp_path / "out")) if args[:1] == ["build"] else run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # nothing started, nothing written


def test_bad_data_exits_2_naming_file_line_column(data_copy: Path, tmp_path: Path):
    path = data_copy / "outcomes.csv"
    path.write_text(path.read_text().replace("phase1,crizotinib,ORR,primary,,,61,", "phase1,crizotinib,ORR,primary,,,161,"))
    for args in (["validate", "--data-dir", str(data_copy)],
                 ["build", "--data-dir", str(data_copy), "--output-dir", str(tmp_path / "out")]):
        result = run_cli(*args)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert lines[0] == "error: invalid data: 1 problem"
        assert lines[1].strip().endswith("outcomes.csv, line 2, column 'value': a percentage must be at most 100 (got 161)")
        assert str(data_copy.name) in lines[1] and ".staging" not in lines[1]  # the user's file, not the build's copy
        assert "Traceback" not in result.stderr
    # The output folder holds only its own bookkeeping: no report, no manifest, no scratch left.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".builds", ".crizotinib-reports", ".lock",
                                                                     ".staging"]
    assert not any((tmp_path / "out" / ".builds").iterdir()) and not any((tmp_path / "out" / ".staging").iterdir())


def test_debug_shows_the_traceback():
    result = run_cli("--debug", "build", "nope")
    assert result.returncode == 2
    assert "Traceback" in result.stderr and "error: unknown report 'nope'" in result.stderr
