"""Scheduled runs: what changed between runs, the recipes' commands, progress lines, two real runs."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from crizotinib_reports.changes import ChangeSummary, compare_runs, compare_tables
from crizotinib_reports.cli import make_parser
from crizotinib_reports.paths import DATA_DIR, PROJECT_ROOT
from crizotinib_reports.progress import LogLines, progress_for
from crizotinib_reports.reports import REPORTS

EFFICACY = "trial_id,arm,orr_pct,ci_low_pct\nphase1,crizotinib,61,52.0\nphase2,crizotinib,50,41.3\n"


# --- what changed ---------------------------------------------------------------------------------

def test_a_changed_number_is_named_with_its_row_and_column():
    after = EFFICACY.replace("phase1,crizotinib,61,52.0", "phase1,crizotinib,62,53.1")
    changes = compare_tables("clinical_activity", "efficacy", EFFICACY, after)
    assert [c.line() for c in changes] == [
        "clinical_activity / efficacy, phase1 · crizotinib: orr_pct 61 -> 62",
        "clinical_activity / efficacy, phase1 · crizotinib: ci_low_pct 52.0 -> 53.1"]


def test_rows_and_tables_added_or_removed_and_equal_numbers_written_differently():
    after = EFFICACY.replace("phase2,crizotinib,50,41.3\n", "phase3,crizotinib,70,60\n").replace("52.0", "52")
    before_tables = {("clinical_activity", "efficacy"): EFFICACY, ("overview", "gone"): "a\n1\n"}
    after_tables = {("clinical_activity", "efficacy"): after, ("overview", "new"): "a\n1\n"}
    summary = compare_runs(before_tables, after_tables, "20261101T060000Z")
    assert [c.line() for c in summary.changes] == [
        "clinical_activity / efficacy: removed row phase2 · crizotinib",
        "clinical_activity / efficacy: added row phase3 · crizotinib",
        "overview / gone: removed table", "overview / new: added table"]
    assert summary.headline == ("since run 20261101T060000Z: 1 removed row, 1 added row, 1 removed table, "
                                "1 added table")


def test_rows_without_a_telling_key_are_matched_by_position():
    before, after = "value\n1\n2\n", "value\n1\n3\n"
    assert [c.line() for c in compare_tables("r", "t", before, after)] == ["r / t, row 2: value 2 -> 3"]


def test_headlines_and_round_trip():
    assert ChangeSummary(None).headline == "first run: nothing to compare with"
    same = compare_runs({("r", "t"): EFFICACY}, {("r", "t"): EFFICACY}, "X")
    assert same.headline == "no change in the 1 report tables since run X" and same.lines() == []
    changed = compare_runs({("r", "t"): EFFICACY}, {("r", "t"): EFFICACY.replace("61", "60")}, "X")
    assert changed.headline == "since run X: 1 changed value"
    assert ChangeSummary.from_json(json.loads(json.dumps(changed.as_json()))).lines() == changed.lines()
    many = ChangeSummary("X", changed.changes * 50)
    assert many.lines(limit=3)[-1] == "... and 47 more (see changes.json)"


# --- recipes: each calls the CLI with options it has -----------------------------------------------

def recipe_commands() -> dict[str, list[str]]:
    """The crizotinib-reports command line of each recipe under deploy/ and of the scheduled workflow."""
    found = {}
    for path in [*sorted((PROJECT_ROOT / "deploy").rglob("*")), PROJECT_ROOT / ".github/workflows/scheduled-reports.yml"]:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            if "crizotinib-reports run" in line and not line.lstrip().startswith("#"):
                line = re.sub(r"\$\{\{[^}]*\}\}", "reader@example.org", line)  # CI expressions
                command = line.split("crizotinib-reports run", 1)[1].split(">>")[0]
                found[str(path.relative_to(PROJECT_ROOT))] = ["run", *shlex.split(command)]
    return found


def test_every_recipe_calls_the_same_existing_command():
    commands = recipe_commands()
    assert set(commands) == {"deploy/crontab", "deploy/systemd/crizotinib-reports.service",
                             ".github/workflows/scheduled-reports.yml"}
    for where, argv in commands.items():
        args = make_parser().parse_args(argv)  # an unknown option raises UsageError naming it
        assert args.command == "run" and args.keep >= 1 and args.mail_to, where
    timer = (PROJECT_ROOT / "deploy/systemd/crizotinib-reports.timer").read_text()
    assert "OnCalendar=" in timer and "Persistent=true" in timer


def test_systemd_units_parse_where_systemd_is_installed(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed; the unit files are checked by the command test only")
    for unit in ("crizotinib-reports.service", "crizotinib-reports.timer"):
        shutil.copy(PROJECT_ROOT / "deploy/systemd" / unit, tmp_path / unit)
    result = subprocess.run([analyze, "verify", "--man=no", str(tmp_path / "crizotinib-reports.timer")],
                            capture_output=True, text=True)
    assert "Unknown key" not in result.stderr and "Invalid" not in result.stderr, result.stderr


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
    progress.started("a", "executing")
    progress.finished("a", True, "built in 1.0 s")
    progress.close()
    assert "a: built in 1.0 s" in stream.getvalue()
