"""The scheduling recipes (deploy/ and the scheduled workflow), checked as an administrator pastes them.

All fast: the CLI is a stub wherever a recipe is run, and no notebook is executed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from crizotinib_reports.cli import make_parser
from crizotinib_reports.paths import PROJECT_ROOT
from support.needs import system_program, unavailable

CRONTAB = PROJECT_ROOT / "deploy/crontab"
SERVICE = PROJECT_ROOT / "deploy/systemd/crizotinib-reports.service"
TIMER = PROJECT_ROOT / "deploy/systemd/crizotinib-reports.timer"
WORKFLOW = PROJECT_ROOT / ".github/workflows/scheduled-reports.yml"
CHECKOUT = "/srv/crizotinib-reports"  # the checkout's path as the recipes spell it


@pytest.fixture(scope="module")
def analyze() -> str:
    return system_program("systemd-analyze", "systemd")


# --- every recipe calls the CLI with options it has ------------------------------------------------

def recipe_commands() -> dict[str, list[str]]:
    """The crizotinib-reports command line of each recipe, up to the first shell operator."""
    found = {}
    for path in [*sorted((PROJECT_ROOT / "deploy").rglob("*")), WORKFLOW]:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            if "crizotinib-reports run" in line and not line.lstrip().startswith("#"):
                lexer = shlex.shlex(line.split("crizotinib-reports run", 1)[1], posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                words = []
                for word in lexer:
                    if set(word) <= set("();<>|&"):  # ||, &&, >>, ; ... end the command
                        break
                    words.append("reader@example.org" if word.startswith("$") else word)  # "${recipients[@]}"
                found[str(path.relative_to(PROJECT_ROOT))] = ["run", *words]
    return found


def test_every_recipe_calls_the_same_existing_command():
    commands = recipe_commands()
    assert set(commands) == {"deploy/crontab", "deploy/systemd/crizotinib-reports.service",
                             ".github/workflows/scheduled-reports.yml"}
    for where, argv in commands.items():
        args = make_parser().parse_args(argv)  # an unknown option raises UsageError naming it
        assert args.command == "run" and args.keep >= 1 and args.mail_to, where
    timer = TIMER.read_text()
    assert "OnCalendar=" in timer and "Persistent=true" in timer


# --- cron: the line as pasted ------------------------------------------------------------------------

def cron_line() -> str:
    lines = [line for line in CRONTAB.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) == 1, lines  # one line to paste, and no variable assignments with it
    return lines[0]


def fresh_checkout(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A checkout with no outputs/, whose CLI is a stub; a PATH folder with recording systemd-cat and logger."""
    checkout, stubs, record = tmp_path / "checkout", tmp_path / "stubs", tmp_path / "record"
    (checkout / ".venv/bin").mkdir(parents=True)
    stubs.mkdir()
    record.mkdir()
    scripts = {
        checkout / ".venv/bin/crizotinib-reports": """#!/bin/sh
pwd > "$RECORD/cwd"
printf '%s\\n' "$@" > "$RECORD/cli-args"
echo "2026-11-26T06:00:00Z run 20261126T060000Z: building every report"
echo "2026-11-26T06:00:05Z a warning on stderr" >&2
exit "$STUB_EXIT"
""",
        # What systemd-cat does: run the command (exec, so its exit status is the command's) with
        # stdout and stderr going to the journal; here a file.
        stubs / "systemd-cat": """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD/systemd-cat-args"
while [ $# -gt 0 ]; do
    case "$1" in
        -t|--identifier|-p|--priority|--stderr-priority) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
exec "$@" >> "$RECORD/journal" 2>&1
""",
        stubs / "logger": """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD/logger-args"
cat >> "$RECORD/journal"
""",
    }
    for path, text in scripts.items():
        path.write_text(text)
        path.chmod(0o755)
    return checkout, stubs, record


@pytest.mark.parametrize("exit_code", [0, 1, 2])
def test_the_cron_line_runs_as_pasted_logs_to_the_journal_and_prints_only_a_failure(tmp_path, exit_code):
    schedule_and_command = cron_line().split(None, 5)
    assert schedule_and_command[:5] == ["0", "6", "*", "*", "1-5"]  # weekdays at 06:00
    command = schedule_and_command[5]
    assert "%" not in command  # cron would turn it into a newline
    checkout, stubs, record = fresh_checkout(tmp_path)
    # cron runs the line with /bin/sh, PATH=/usr/bin:/bin, HOME and SHELL set, from the home folder
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh", "LOGNAME": "reports",
           "RECORD": str(record), "STUB_EXIT": str(exit_code)}
    result = subprocess.run(["sh", "-c", command.replace(CHECKOUT, str(checkout))], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=30)

    mailed = result.stdout + result.stderr  # what cron would mail
    if exit_code == 0:
        assert mailed == ""
    else:
        assert len(mailed.splitlines()) == 1, mailed
        assert f"failed with exit {exit_code}" in mailed and "journalctl -t crizotinib-reports" in mailed
    journal = (record / "journal").read_text()
    assert "building every report" in journal and "a warning on stderr" in journal
    assert (record / "cwd").read_text().strip() == str(checkout)
    assert (record / "cli-args").read_text().split()[:3] == ["run", "--keep", "30"]
    logged_by = [p.name for p in record.glob("*-args") if p.name != "cli-args"]
    assert logged_by == ["systemd-cat-args"] or logged_by == ["logger-args"], logged_by
    assert "crizotinib-reports" in (record / logged_by[0]).read_text().split()  # the journal's tag
    assert not (checkout / "outputs").exists()  # the line itself writes nothing there: the run creates it


def test_the_crontab_does_not_claim_cron_tz_works():
    text = CRONTAB.read_text()
    assert not re.search(r"^\s*(CRON_)?TZ\s*=", text, re.MULTILINE)  # Debian's cron ignores CRON_TZ=
    assert "UTC" not in text.splitlines()[0]
    assert "local time zone" in text and "ignore CRON_TZ" in text and "timedatectl" in text


# --- systemd ---------------------------------------------------------------------------------------

def unit_copies(tmp_path: Path, edits: dict[str, tuple[str, str]] | None = None) -> list[Path]:
    """Copies of the units pointing at a stub checkout (verify wants ExecStart's program to exist)."""
    program = tmp_path / "checkout/.venv/bin/crizotinib-reports"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    copies = []
    for unit in (SERVICE, TIMER):
        text = unit.read_text().replace(CHECKOUT, str(tmp_path / "checkout"))
        if edits and unit.name in edits:
            old, new = edits[unit.name]
            assert old in text
            text = text.replace(old, new)
        (units / unit.name).write_text(text)
        copies.append(units / unit.name)
    return copies


def verify(analyze: str, units: list[Path]) -> str:
    """What systemd-analyze verify finds wrong: '' when it exits 0 and prints nothing, else its exit status and
    what it printed (a setting it cannot parse is ignored with a warning and exit status 0; only a unit it
    refuses makes the status non-zero, so both count)."""
    result = subprocess.run([analyze, "verify", "--man=no", "--generators=no", *map(str, units)],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "SYSTEMD_COLORS": "0"})
    printed = result.stdout + result.stderr
    return "" if result.returncode == 0 and not printed else f"exit status {result.returncode}: {printed}"


def test_systemd_units_verify_cleanly(tmp_path, analyze):
    assert verify(analyze, unit_copies(tmp_path)) == ""


@pytest.mark.parametrize("unit, old, new, complaint", [
    ("crizotinib-reports.service", "Type=oneshot", "Type=oneshoot", "Failed to parse service type"),
    ("crizotinib-reports.service", "ProtectSystem=strict", "ProtectSystm=strict", "Unknown key"),
    ("crizotinib-reports.timer", "OnCalendar=Mon..Fri", "OnCalendar=Mon..Fry", "calendar specification"),
])
def test_verify_catches_a_broken_unit(tmp_path, analyze, unit, old, new, complaint):
    found = verify(analyze, unit_copies(tmp_path, {unit: (old, new)}))
    assert complaint in found, found
    # A timer without a valid trigger is refused (exit status 1); a bad service type is only warned about.
    assert found.startswith("exit status 1:" if unit.endswith(".timer") else "exit status 0:"), found


def security(analyze: str, unit: Path) -> subprocess.CompletedProcess:
    """systemd-analyze security, offline: exit status 0 when the exposure is at most 4.0."""
    return subprocess.run([analyze, "security", "--offline=true", "--threshold=40", str(unit)],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "SYSTEMD_COLORS": "0"})


def test_the_service_is_hardened_below_exposure_4(tmp_path, analyze):
    result = security(analyze, SERVICE)
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        unavailable("this systemd-analyze has no --offline (systemd 252 or later has)")
    assert result.returncode == 0, result.stdout + result.stderr
    exposure = float(re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout).group(1))
    assert exposure < 4.0
    # The same check fails for the service without its sandbox (the lines after the run's settings).
    bare = tmp_path / SERVICE.name
    bare.write_text(SERVICE.read_text().split("# --- where the run may write")[0])
    assert security(analyze, bare).returncode != 0


def unit_settings(path: Path) -> dict[str, list[str]]:
    """Key -> every value assigned, in order (a unit may assign a key more than once)."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_sandbox_leaves_what_a_run_needs():
    s = unit_settings(SERVICE)
    assert s["Type"] == ["oneshot"] and s["User"] == ["reports"] and s["WorkingDirectory"] == [CHECKOUT]
    assert s["TimeoutStartSec"] and s["ProtectSystem"] == ["strict"] and s["NoNewPrivileges"] == ["yes"]
    assert s["PrivateTmp"] == ["yes"]
    assert s["ReadWritePaths"] == [f"{CHECKOUT}/outputs"]  # the one folder of the checkout it writes
    assert any(f"-o {s['User'][0]}" in pre and pre.endswith(f"{CHECKOUT}/outputs") for pre in s["ExecStartPre"])
    env = dict(value.split("=", 1) for value in s["Environment"])
    runtime, cache = s["RuntimeDirectory"][0], s["CacheDirectory"][0]
    assert env["JUPYTER_RUNTIME_DIR"] == f"%t/{runtime}"  # the kernels' connection files
    assert env["MPLCONFIGDIR"].startswith(f"%C/{cache}") and env["XDG_CACHE_HOME"] == f"%C/{cache}"
    assert env["HOME"].startswith(("%C/", "%S/", "%t/"))  # writable, home folders being hidden
    families = s["RestrictAddressFamilies"][0].split()
    assert {"AF_UNIX", "AF_INET", "AF_INET6"} <= set(families)  # asyncio, loopback ZeroMQ, SMTP
    assert s.get("PrivateNetwork", ["no"]) == ["no"] and "IPAddressDeny" not in s
    denied = " ".join(v for v in s["SystemCallFilter"] if v.startswith("~"))
    assert "@resources" not in denied and "@process" not in denied  # ZeroMQ's sched_setscheduler; fork/exec
    assert s.get("ProcSubset", ["all"]) == ["all"]  # /proc/stat, /proc/meminfo stay readable


def test_memory_deny_write_execute_only_while_weasyprint_has_no_cffi_callbacks():
    if unit_settings(SERVICE).get("MemoryDenyWriteExecute", ["no"]) != ["yes"]:
        return
    spec = importlib.util.find_spec("weasyprint")
    assert spec is not None and spec.submodule_search_locations, "weasyprint, a dependency, is not installed"
    callbacks = [str(path) for folder in spec.submodule_search_locations for path in Path(folder).rglob("*.py")
                 if re.search(r"\bffi\.(callback|def_extern)\b", path.read_text(encoding="utf-8", errors="replace"))]
    assert callbacks == [], "cffi callbacks need write+execute memory: drop MemoryDenyWriteExecute=yes"


# --- the scheduled workflow ------------------------------------------------------------------------

def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps() -> list[dict]:
    return [step for job in workflow()["jobs"].values() for step in job["steps"]]


def step_named(name: str) -> dict:
    return next(step for step in steps() if step.get("name") == name)


def test_the_workflow_has_least_permissions_one_run_at_a_time_and_kept_artifacts():
    flow = workflow()
    assert flow["permissions"] == {"contents": "read"}
    for job in flow["jobs"].values():
        assert set(job.get("permissions", {}).values()) <= {"read", "none"}
    assert flow["concurrency"]["group"] and flow["concurrency"].get("cancel-in-progress", False) is False
    uploads = [step for step in steps() if step.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads
    for step in uploads:
        assert isinstance(step["with"]["retention-days"], int) and step["with"]["retention-days"] > 0
        assert "always()" in step["if"]  # a failed run is kept too
        path = step["with"]["path"].strip()
        assert path.rstrip("/") not in {"outputs", "outputs/runs"} and "*" not in path, path
    assert any(step.get("uses", "").startswith("actions/cache") for step in steps())


def test_no_expression_is_pasted_into_a_script():
    scripts = [step["run"] for step in steps() if "run" in step]
    assert scripts
    for script in scripts:
        assert "${{" not in script, script  # expressions go through env:, with: or if:


@pytest.fixture
def gnu_bash_find() -> None:
    """The workflow's scripts run in bash with GNU find, as on ubuntu-latest."""
    system_program("bash", "bash")
    if "GNU" not in subprocess.run([system_program("find", "findutils"), "--version"], capture_output=True,
                                   text=True).stdout:
        unavailable("the workflow's scripts need GNU find; install Debian's findutils (apt-get install findutils)")


def test_the_workflow_passes_recipients_as_words_and_keeps_only_this_runs_folder(tmp_path, gnu_bash_find):
    runs = tmp_path / "outputs/runs"
    old = time.time() - 86400
    for name in ("20261125T060000Z", "20991231T060000Z", "20261125T060000Z-2"):  # restored from the cache
        (runs / name).mkdir(parents=True)
        os.utime(runs / name, (old, old))
    program = tmp_path / ".venv/bin/crizotinib-reports"
    program.parent.mkdir(parents=True)
    program.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$RUNNER_TEMP/args"\n'
                       'mkdir -p outputs/runs/.20261126T060000Z.partial outputs/runs/20261126T060000Z\n'
                       'exit "$STUB_EXIT"\n')
    program.chmod(0o755)
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    hostile = "a@example.org  b@example.org $(touch pwned) `touch pwned` * ;touch pwned"
    env = {"PATH": os.environ["PATH"], "RUNNER_TEMP": str(temp), "GITHUB_OUTPUT": str(temp / "output"),
           "REPORT_RECIPIENTS": hostile, "STUB_EXIT": "1"}

    run = subprocess.run(["bash", "-e", "-c", step_named("Run every report")["run"]], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 1  # the run's exit status fails the step
    assert (temp / "args").read_text().splitlines() == [
        "run", "--keep", "7", "--mail-to", *hostile.split()]  # split on spaces only, nothing expanded
    assert not list(tmp_path.rglob("pwned"))

    find = subprocess.run(["bash", "-e", "-c", step_named("This run's folder")["run"]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)
    assert find.returncode == 0, find.stderr
    outputs = dict(line.split("=", 1) for line in (temp / "output").read_text().splitlines())
    assert outputs == {"path": "outputs/runs/20261126T060000Z", "name": "20261126T060000Z"}
    upload = step_named("Keep the run")
    assert upload["with"]["path"] == "${{ steps.folder.outputs.path }}"
    assert "steps.folder.outputs.path != ''" in upload["if"]


def test_the_workflow_uploads_nothing_when_the_run_made_no_folder(tmp_path, gnu_bash_find):
    (tmp_path / "outputs/runs/20261125T060000Z").mkdir(parents=True)  # only a cached one
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    env = {"PATH": os.environ["PATH"], "RUNNER_TEMP": str(temp), "GITHUB_OUTPUT": str(temp / "output"),
           "REPORT_RECIPIENTS": ""}
    run = subprocess.run(["bash", "-e", "-c", step_named("Run every report")["run"]], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "REPORT_RECIPIENTS" in run.stdout  # no addresses: said, not guessed
    find = subprocess.run(["bash", "-e", "-c", step_named("This run's folder")["run"]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)
    assert find.returncode == 0 and "path=\n" in (temp / "output").read_text()
