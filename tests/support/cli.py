"""The command line as the tests call it.

In the test's own process by default: a call then pays neither a Python start nor the imports of pandas,
pandera, papermill and nbconvert again (about 2.5 s of CPU a build, measured on a stand-in build of three
reports: 7.4 s as a program, 4.9 s in the test's process). Its standard output and error are captured, the
environment is restored afterwards (`main` takes the mail settings out of it), and what it returns is the
exit status a program would have. Variables the call reads as it runs (the mail settings) are added to the
environment for the call alone (`set_env`). As a program of its own where a test gives it a whole environment
(one a program reads as it starts: PYTHONPATH for a sitecustomize) or a working folder, or needs a process of
its own (`own_process=True`: a lock held by the test, a kill).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

from crizotinib_reports.cli import main

COMMAND = [sys.executable, "-m", "crizotinib_reports.cli"]


def cli(*args: str, env: dict | None = None, cwd=None, own_process: bool = False,
        timeout: float = 600, set_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`crizotinib-reports ARGS`: its exit status, standard output and error (a hung call in the test's process
    is ended by the test's own time limit, pytest-timeout)."""
    if own_process or env is not None or cwd is not None:
        if set_env:
            env = {**(os.environ if env is None else env), **set_env}
        return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, set_env or {}), redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # --help, --version
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return subprocess.CompletedProcess(["crizotinib-reports", *args], code, out.getvalue(), err.getvalue())


def start_cli(*args: str) -> subprocess.Popen:
    """`crizotinib-reports ARGS` started as a program, its output readable as it comes."""
    return subprocess.Popen([*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
