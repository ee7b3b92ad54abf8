"""Kernels forked from one warm parent (publish/kernel_fork.py): fresh, isolated, killable, and gone with the build.

The unit checks drive a real fork server and real kernels through jupyter_client, as papermill does, without
executing a report; one end-to-end build runs reports that try to leak into each other and one that kills
its own kernel.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import nbformat
import pytest

from crizotinib_reports.paths import NOTEBOOK_DIR
from crizotinib_reports.publish.build import KERNEL_ARGUMENTS, KERNEL_NAME
from crizotinib_reports.publish.kernel_fork import (KERNEL_IMPORTS, KERNELS_ENV, PACKAGE_IMPORTS, ForkedProcess,
                                                    ForkServer, ForkUnavailable, _is_child_of, fork_refusal,
                                                    forked_kernel_manager, warm_imports)
from crizotinib_reports.publish.kernels import WarmKernels, notebook_imports
from crizotinib_reports.publish.portfolio import portfolio
from support.processes import command_line, gone
from support.stand_ins import stand_in_folder

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kernels are forked on Linux only")

LAUNCHER = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def project_kernel_argv() -> list[str]:
    """The command of the project's kernelspec, as a build reads it (its interpreter options included)."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv


NO_PID = 2**22 + 4321  # above Linux's largest pid: no process has it


def _running_at_start(folder, code: str) -> dict[str, str]:
    """An environment in which every Python program (the fork server too) runs ``code`` first (sitecustomize)."""
    (folder / "sitecustomize.py").write_text(code)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}


# --- when kernels are not forked -------------------------------------------------------------------------

def test_fork_refusal_names_why(monkeypatch):
    monkeypatch.delenv(KERNELS_ENV, raising=False)
    assert fork_refusal(LAUNCHER) is None
    assert "ipykernel_launcher" in fork_refusal([sys.executable, "-m", "other_kernel", "-f", "x"])
    assert "ipykernel_launcher" in fork_refusal([sys.executable, "kernel.py"])
    monkeypatch.setenv(KERNELS_ENV, "fresh")
    assert fork_refusal(LAUNCHER) == f"{KERNELS_ENV}=fresh"
    monkeypatch.setenv(KERNELS_ENV, "spawn")
    assert "neither 'forked' nor 'fresh'" in fork_refusal(LAUNCHER)
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setenv(KERNELS_ENV, "forked")
    assert "Linux only" in fork_refusal(LAUNCHER)


def test_without_forks_the_build_says_why_once_and_starts_no_server(monkeypatch, tmp_path):
    monkeypatch.setenv(KERNELS_ENV, "fresh")
    said: list[str] = []
    kernels = WarmKernels(0, 1, KERNEL_NAME, tmp_path, KERNEL_ARGUMENTS, dict(os.environ), "k:1", said.append)
    try:
        assert kernels._forking() is None and kernels._forking() is None
        assert said == [f"kernels start as separate programs, not forked from a warm parent: {KERNELS_ENV}=fresh"]
    finally:
        kernels.close()


def test_shutting_a_kernel_down_stops_the_client_its_report_made(monkeypatch, tmp_path):
    """nbclient leaves running the client it makes on a kernel manager it was handed; the build stops it, so a
    process that builds again and again (a test, a caller of the package) keeps no heartbeat thread a report."""
    monkeypatch.setenv(KERNELS_ENV, "fresh")  # what is checked is the manager's, forked or not
    kernels = WarmKernels(1, 1, KERNEL_NAME, tmp_path, KERNEL_ARGUMENTS, dict(os.environ), "k:1", warm=())
    try:
        manager = kernels.take()
        client = manager.client()  # as nbclient makes one to run the report
        client.start_channels()
        deadline = time.monotonic() + 60  # beating, as through a report (not stopped while it opens its socket)
        while not client.hb_channel.is_beating():
            assert time.monotonic() < deadline, "the client's heartbeat never started"
            time.sleep(0.05)
        kernels.shut_down(manager)
        assert not client.channels_running and not client.hb_channel.is_alive()
    finally:
        kernels.close()


@pytest.mark.parametrize("killed, started", [(1, True), (3, False)])
def test_a_kernel_that_ends_as_it_starts_is_started_again_twice_at_most(monkeypatch, tmp_path, killed, started):
    """A kernel can end before it answers for a reason that is not the report's (a port jupyter_client chose taken
    by another program before the kernel bound it): another is started, and a report fails only if three do."""
    monkeypatch.delenv(KERNELS_ENV, raising=False)
    forked: list[int] = []
    fork = ForkServer.fork

    def fork_and_kill_the_first(server, argv, cwd, env):
        pid = fork(server, argv, cwd, env)
        if len(forked) < killed:
            os.kill(pid, signal.SIGKILL)
        forked.append(pid)
        return pid

    monkeypatch.setattr(ForkServer, "fork", fork_and_kill_the_first)
    said: list[str] = []
    kernels = WarmKernels(1, 1, KERNEL_NAME, tmp_path, KERNEL_ARGUMENTS, dict(os.environ), "k:1", said.append, warm=())
    try:
        if started:
            manager = kernels.take()
            assert asyncio.run(manager.is_alive()) and len(forked) == 2 and gone(forked[0])
        else:
            with pytest.raises(RuntimeError, match="Kernel died before replying to kernel_info"):
                kernels.take()
            assert len(forked) == 3 and all(gone(pid) for pid in forked)
        assert [line.split(" (")[0] for line in said] == ["a kernel ended as it started"] * min(killed, 2)
        assert said[-1].endswith(f"starting another ({min(killed, 2) + 1} of 3)")
    finally:
        kernels.close()


def test_a_server_that_started_a_thread_refuses_to_fork(tmp_path):
    """A thread alive in the parent at fork time would be missing in the child, holding whatever lock it held."""
    env = _running_at_start(tmp_path, "import threading, time\n"
                                      "threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n")
    server = ForkServer(LAUNCHER, tmp_path, env)
    try:
        with pytest.raises(ForkUnavailable, match="unsafe to fork: the fork server runs 2 threads"):
            server.fork(LAUNCHER, str(tmp_path), env)
    finally:
        server.close()


def test_a_server_forks_only_kernels_run_with_its_own_interpreter_options(tmp_path):
    """The server runs with the kernelspec's options (-Xfrozen_modules=off for the debugger, which it imports once):
    a kernel asked for with other options would not get them in a fork, so it starts as a program of its own."""
    with_options = [sys.executable, "-Xfrozen_modules=off", *LAUNCHER[1:]]
    server = ForkServer(with_options, tmp_path, dict(os.environ))
    try:
        assert command_line(server.pid)[1] == "-Xfrozen_modules=off"
        with pytest.raises(ForkUnavailable, match="interpreter, options and ipykernel_launcher"):
            server.fork(LAUNCHER, str(tmp_path), dict(os.environ))
        assert server.fork(with_options, str(tmp_path), dict(os.environ)) > 0
    finally:
        server.close()


def test_a_server_that_cannot_start_is_one_reason_not_a_hang(tmp_path):
    env = _running_at_start(tmp_path, "import os\nos._exit(3)\n")  # the server dies before answering
    with pytest.raises(ForkUnavailable, match=r"the fork server exited \(code 3\)"):
        ForkServer(LAUNCHER, tmp_path, env)
    missing = [str(tmp_path / "no-such-python"), *LAUNCHER[1:]]
    with pytest.raises(ForkUnavailable, match="the fork server could not start"):
        ForkServer(missing, tmp_path, dict(os.environ))


def test_a_forked_process_that_is_not_the_servers_child_counts_as_ended():
    assert _is_child_of(os.getpid(), os.getppid())
    assert not _is_child_of(os.getpid(), NO_PID)
    assert not _is_child_of(NO_PID, os.getpid())
    process = ForkedProcess(os.getpid(), NO_PID)  # a pid now someone else's: never signalled
    assert process.poll() == -signal.SIGKILL
    process.kill()  # nothing is sent to this process
    assert process.wait(timeout=1) == -signal.SIGKILL


# --- what the kernels are warmed with ------------------------------------------------------------------

def test_kernels_are_warmed_with_what_the_notebooks_being_built_import(tmp_path):
    def notebook(*sources: str):
        path = tmp_path / f"n{len(list(tmp_path.iterdir()))}.ipynb"
        cells = [nbformat.v4.new_code_cell(source) for source in sources] + [nbformat.v4.new_markdown_cell("import os")]
        nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
        return path

    own = notebook("import json, os.path as p\nfrom collections import abc", "%matplotlib inline\nimport nope",
                   "def f():\n    import hidden\nfrom . import relative")
    other = notebook("from collections import abc\nimport csv")
    assert notebook_imports([own, other]) == ("json", "os.path", "collections", "csv")  # top level, code, plain Python
    assert warm_imports(["json", "csv"]) == ("json", "csv")  # no report stack for notebooks that do not use it
    # The reports import the package: their kernels get the whole stack, what they import on first use too.
    reports = notebook_imports(NOTEBOOK_DIR / report.notebook for report in portfolio().values())
    assert "crizotinib_reports.notebook" in reports
    warmed = warm_imports(reports)
    assert set(PACKAGE_IMPORTS) <= set(warmed) and not set(KERNEL_IMPORTS) & set(warmed)


def test_a_module_the_server_cannot_import_is_left_to_its_report(tmp_path):
    server = ForkServer(LAUNCHER, tmp_path, dict(os.environ), warm=("no_such_module_anywhere", "json"))
    try:
        assert server.fork(LAUNCHER, str(tmp_path), dict(os.environ)) > 0
    finally:
        server.close()


# --- real kernels from a real server ---------------------------------------------------------------------

async def _run(manager, code: str) -> dict:
    """Execute code in a started kernel; the value of the last line as JSON (user_expressions)."""
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        msg_id = client.execute(code, user_expressions={"out": "__import__('json').dumps(result)"})
        while True:
            reply = await client.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        content = reply["content"]
        assert content["status"] == "ok", content
        return json.loads(content["user_expressions"]["out"]["data"]["text/plain"].strip("'"))
    finally:
        client.stop_channels()


PROBE = textwrap.dedent("""
    import os, numpy, matplotlib, crizotinib_reports.notebook as shared
    seen = {"linewidth": matplotlib.rcParams["lines.linewidth"], "leak": getattr(shared, "_leak", None),
            "pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "cwd": os.getcwd(),
            "token": os.environ.get("PROBE_TOKEN"), "draw": numpy.random.random()}
    matplotlib.rcParams["lines.linewidth"] = {width}
    shared._leak = {width}
    result = seen
""")


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forked")
    server = ForkServer(project_kernel_argv(), folder, dict(os.environ))
    yield server, folder
    server.close()


def test_each_kernel_is_a_fresh_child_sharing_nothing_with_the_last(fork_server):
    server, folder = fork_server

    async def two_kernels() -> list[dict]:
        seen = []
        for width, token in ((7.0, "first"), (9.0, "second")):
            manager = forked_kernel_manager(server, kernel_name=KERNEL_NAME)
            await manager.start_kernel(cwd=str(folder), extra_arguments=KERNEL_ARGUMENTS,
                                       env={**os.environ, "PROBE_TOKEN": token})
            try:
                seen.append(await _run(manager, PROBE.replace("{width}", str(width))))
            finally:
                await manager.shutdown_kernel(now=True)
        return seen

    first, second = asyncio.run(two_kernels())
    default = first["linewidth"]
    assert second["linewidth"] == default and second["leak"] is None  # the first kernel's changes stayed in it
    assert first["leak"] is None
    assert first["pid"] != second["pid"] and server.pid not in (first["pid"], second["pid"])
    assert first["ppid"] == second["ppid"] == server.pid
    assert first["pgid"] == first["pid"]  # a session of its own: killing its group kills nothing else
    assert first["cwd"] == second["cwd"] == str(folder)
    assert (first["token"], second["token"]) == ("first", "second")  # each kernel gets its own environment
    assert first["draw"] != second["draw"]  # numpy re-seeded, not the parent's random state twice


def test_a_killed_kernel_is_seen_dead_and_the_next_one_starts(fork_server):
    server, folder = fork_server

    async def kill_one() -> tuple[bool, bool, dict]:
        victim = forked_kernel_manager(server, kernel_name=KERNEL_NAME)
        await victim.start_kernel(cwd=str(folder), extra_arguments=KERNEL_ARGUMENTS, env=dict(os.environ))
        pid = victim.provisioner.pid
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while await victim.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        dead = not await victim.is_alive()
        await victim.shutdown_kernel(now=True)
        survivor = forked_kernel_manager(server, kernel_name=KERNEL_NAME)
        await survivor.start_kernel(cwd=str(folder), extra_arguments=KERNEL_ARGUMENTS, env=dict(os.environ))
        try:
            seen = await _run(survivor, PROBE.replace("{width}", "1.0"))
            return dead, await survivor.is_alive(), seen
        finally:
            await survivor.shutdown_kernel(now=True)

    dead, alive, seen = asyncio.run(kill_one())
    assert dead and alive and seen["ppid"] == server.pid


BUILD_THAT_DIES = textwrap.dedent("""
    import asyncio, os, sys, time
    from jupyter_client.kernelspec import KernelSpecManager
    from crizotinib_reports.publish.kernel_fork import ForkServer, forked_kernel_manager
    server = ForkServer(KernelSpecManager().get_kernel_spec("crizotinib-reports").argv, os.getcwd(), dict(os.environ))
    manager = forked_kernel_manager(server, kernel_name="crizotinib-reports")
    asyncio.run(manager.start_kernel(cwd=os.getcwd(), env=dict(os.environ)))
    print(server.pid, manager.provisioner.pid, flush=True)
    time.sleep(600)
""")


def test_the_server_and_its_kernels_die_with_the_build(tmp_path):
    build = subprocess.Popen([sys.executable, "-c", BUILD_THAT_DIES], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        server_pid, kernel_pid = (int(pid) for pid in build.stdout.readline().split())
        assert not gone(kernel_pid, within=0.5)
        build.kill()  # kill -9: nothing in the build gets to clean up
        build.wait()
        assert gone(server_pid) and gone(kernel_pid)
    finally:
        build.kill()
        build.wait()


# --- end to end: reports that try to leak into each other, and one that kills its kernel -------------------

LEAKER = textwrap.dedent("""
    import matplotlib, crizotinib_reports.notebook as shared
    assert getattr(shared, "_leak", None) is None, f"a global left by {{shared._leak}}"
    assert matplotlib.rcParams["axes.titlesize"] != 31, "an rcParam left by another report"
    matplotlib.rcParams["axes.titlesize"] = 31
    shared._leak = "{report}"
""")


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_reports_share_nothing_and_a_killed_kernel_fails_only_its_report(tmp_path):
    planted = {"clinical_relapses": LEAKER.format(report="clinical_relapses"),
               "resistance_mechanisms": LEAKER.format(report="resistance_mechanisms"),
               "methods_appendix": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"}
    # Stand-ins: the leakers import the package, so the fork server imports the whole report stack, as for a build
    # of the real reports; what the reports compute after that plays no part.
    notebooks = stand_in_folder(tmp_path / "notebooks", list(planted),
                                {report: (source,) for report, source in planted.items()})
    out = tmp_path / "out"
    env = {key: value for key, value in os.environ.items() if key != KERNELS_ENV}
    result = subprocess.run(
        [sys.executable, "-m", "crizotinib_reports.cli", "build", *planted, "--format", "html", "--jobs", "1",
         "--notebook-dir", str(notebooks), "--output-dir", str(out)],
        env=env, capture_output=True, text=True, timeout=540)
    assert result.returncode == 1, result.stderr
    assert "separate programs" not in result.stderr  # the kernels were forked
    reports = json.loads((out / "manifest.json").read_text())["reports"]
    assert reports["clinical_relapses"]["status"] == reports["resistance_mechanisms"]["status"] == "built"
    failed = reports["methods_appendix"]
    assert failed["status"] == "failed" and "\n" not in failed["error"]
    assert "methods_appendix" in failed["error"] and "Dead" in failed["error"], failed["error"]
