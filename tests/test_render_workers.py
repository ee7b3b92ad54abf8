"""Render workers forked from one warm parent (multiprocessing's fork server), each in a program of its own.

A fork server is started once per process, with what the first workers need: each test runs a fresh program,
so that what its fork server imported is what that program's workers asked for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from crizotinib_reports.publish.workers import start_method
from support.processes import gone, mapped_files, parent_of, thread_count

pytestmark = pytest.mark.skipif(start_method() != "forkserver" or not os.path.isdir("/proc"),
                                reason="workers are forked where multiprocessing has a fork server; seen in /proc")

#: A job a worker runs, importable by name in the worker (the program's folder is on its path).
JOBS = textwrap.dedent("""
    import os

    def surroundings(*_):
        return os.environ.get("PROBE"), os.getcwd()
""")

#: A build's use of its workers: two started ahead of the reports, then one started after the build's
#: environment and folder changed.
PROGRAM = textwrap.dedent("""
    import json, os, sys, time
    from crizotinib_reports.publish.workers import RenderWorkers
    import jobs

    if __name__ == "__main__":  # a worker imports the program's main module again, as multiprocessing does
        workers = RenderWorkers(2, job=jobs.surroundings, pdf=sys.argv[1] == "pdf")
        workers.prestart()
        started = [worker.process.pid for worker in workers._idle]
        os.environ["PROBE"] = "set after the fork server started"
        os.mkdir("later")
        os.chdir("later")
        later = RenderWorkers(1, job=jobs.surroundings)
        surroundings = later.render("report.ipynb", (), 60)
        print(json.dumps({"build": os.getpid(), "workers": started, "surroundings": surroundings}), flush=True)
        time.sleep(600)
""")


def _start(folder, prints: str) -> tuple[subprocess.Popen, dict]:
    (folder / "jobs.py").write_text(JOBS)
    (folder / "build.py").write_text(PROGRAM)
    program = subprocess.Popen([sys.executable, "build.py", prints], cwd=folder, stdout=subprocess.PIPE, text=True)
    line = program.stdout.readline()
    assert line, f"the program exited with {program.wait(timeout=30)}"
    return program, json.loads(line)


@pytest.mark.parametrize("prints", ["pdf", "html"])
def test_workers_are_forks_of_one_parent_that_imported_the_render_stack_once(tmp_path, prints):
    program, seen = _start(tmp_path, prints)
    try:
        first, second = seen["workers"]
        parent = parent_of(first)
        assert first != second and parent == parent_of(second) != seen["build"]
        assert thread_count(parent) == 1  # nothing that a fork would cut in half
        # WeasyPrint loads Pango as it is imported: once, in the parent, and only for workers that print PDFs.
        assert ("libpango-1.0" in mapped_files(parent)) == (prints == "pdf")
        # A worker takes the build's environment and folder as it starts, not the fork server's.
        assert seen["surroundings"] == ["set after the fork server started", str(tmp_path / "later")]
    finally:
        program.kill()
        program.wait()


def test_a_killed_build_takes_its_fork_server_and_workers_with_it(tmp_path):
    program, seen = _start(tmp_path, "pdf")
    first, second = seen["workers"]
    parent = parent_of(first)
    assert not gone(first, within=0.5) and not gone(parent, within=0.5)  # idle, waiting for the first report
    os.kill(program.pid, signal.SIGKILL)
    program.wait()
    assert gone(parent) and gone(first) and gone(second)


def test_workers_are_spawned_off_linux(monkeypatch):
    """As kernels are: macOS cannot fork a process that loaded its frameworks, which WeasyPrint's Pango does."""
    monkeypatch.setattr(sys, "platform", "darwin")
    assert start_method() == "spawn"
