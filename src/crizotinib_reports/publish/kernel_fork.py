"""Kernels forked from one warm parent: the report stack is imported once per build, not once per report.

Starting a kernel and importing pandas, matplotlib, seaborn, scipy, great_tables and statsmodels
costs about 3 s of CPU a report. A *fork server* (this module run as a program) imports them once,
with the kernel's environment, then forks a child per kernel: a fresh process with its own
namespace, its own connection file and its own process group, ready in a fraction of a second.
Nothing a report does reaches the parent, so nothing passes from one report to the next.

jupyter_client drives the children unchanged through its extension points: :class:`ForkedKernelManager`
(an AsyncKernelManager) gives each kernel a :class:`ForkProvisioner`, whose ``launch_kernel`` asks the
server for a child instead of starting a process, and whose process handle polls, signals and kills it
by pid like any kernel; papermill and nbclient see a kernel manager like any other.

Safety of the fork: the server is single-threaded when it forks (BLAS runs one thread in it, and the
thread count is checked before every fork: a server that started a thread refuses to fork). Each child
re-seeds the random generators it inherited, resets the signal handlers the server set, and dies with
the server (``PR_SET_PDEATHSIG`` on Linux, and ipykernel's own parent poller); the server exits when
the build's end of its pipe closes (the build finished or was killed), killing the kernels it forked.
Only Linux forks (macOS cannot fork a process that has loaded its frameworks safely): elsewhere, or
with ``CRIZOTINIB_REPORTS_KERNELS=fresh``, kernels start as separate programs as before.
"""

from __future__ import annotations

import functools
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

#: "fresh" starts every kernel as its own program (jupyter_client's default), "forked" (the default on
#: Linux) forks it from the fork server.
KERNELS_ENV = "CRIZOTINIB_REPORTS_KERNELS"
#: What the server imports before it forks whatever the notebooks: the kernel's own code, its debugger
#: included (every kernel imports it as it starts: about 0.05 s of CPU each).
KERNEL_IMPORTS = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger")
#: What the package's reports import, their notebooks' own imports and what they import on first use
#: (statsmodels' intervals and meta-analysis, great_tables' CSS inliner, the CSV writer, PIL's image
#: plugins, and the schema with pandera, which reading the build's validated snapshot imports: about 0.2 s
#: of CPU a kernel): warmed whenever a notebook being built imports the package.
PACKAGE_IMPORTS = ("crizotinib_reports.notebook", "crizotinib_reports.evidence.text",
                   "crizotinib_reports.evidence.schema", "matplotlib_inline", "statsmodels.stats.proportion",
                   "statsmodels.stats.meta_analysis", "css_inline", "pandas.io.formats.csvs", "PIL.Image")
SERVER_STARTUP_TIMEOUT = 120
_LAUNCHER = ("-m", "ipykernel_launcher")


def warm_imports(notebook_imports: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """What the kernels of notebooks importing these modules are warmed with: those modules, and the package's
    whole report stack when one of them is the package's. A build of notebooks that import little (a stand-in,
    a notebook of one's own) does not pay seconds of imports it never uses."""
    uses_package = any(name.split(".")[0] == "crizotinib_reports" for name in notebook_imports)
    return tuple(dict.fromkeys([*notebook_imports, *(PACKAGE_IMPORTS if uses_package else ())]))


class ForkUnavailable(Exception):
    """Kernels cannot be forked here (the reason is the message); they start as separate programs instead."""


def fork_refusal(kernel_argv: list[str]) -> str | None:
    """Why this machine or kernelspec cannot fork kernels, or None when it can."""
    choice = os.environ.get(KERNELS_ENV, "forked")
    if choice == "fresh":
        return f"{KERNELS_ENV}=fresh"
    if choice != "forked":
        return f"{KERNELS_ENV}={choice!r} is neither 'forked' nor 'fresh'"
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return f"kernels are forked on Linux only (this is {sys.platform})"
    if not _starts_ipykernel(kernel_argv):
        return "the kernelspec does not start ipykernel_launcher"
    return None


def _starts_ipykernel(argv: list[str]) -> bool:
    return "-m" in argv and tuple(argv[argv.index("-m"):][:2]) == _LAUNCHER


def _interpreter_options(argv: list[str]) -> list[str]:
    return argv[1:argv.index("-m")]


class ForkServer:
    """The build's handle on its fork server: start it, ask it for kernels, and let it end with the build."""

    def __init__(self, kernel_argv: list[str], cwd: Path, env: dict[str, str], warm: tuple[str, ...] = PACKAGE_IMPORTS):
        refusal = fork_refusal(kernel_argv)
        if refusal:
            raise ForkUnavailable(refusal)
        self.python = kernel_argv[0]
        # The kernelspec's interpreter options (-Xfrozen_modules=off for ipykernel's debugger), as its kernels get them.
        self.options = _interpreter_options(kernel_argv)
        self._lock = threading.Lock()
        request_read, self._requests = os.pipe()
        self._replies, reply_write = os.pipe()
        server_env = {**env, "OPENBLAS_NUM_THREADS": env.get("OPENBLAS_NUM_THREADS", "1")}
        try:
            self.process = subprocess.Popen(
                [self.python, *self.options, "-m", __name__, str(request_read), str(reply_write), *warm],
                cwd=str(cwd), env=server_env, stdin=subprocess.DEVNULL, pass_fds=(request_read, reply_write))
        except OSError as exc:
            os.close(self._requests)
            os.close(self._replies)
            raise ForkUnavailable(f"the fork server could not start ({exc.strerror})") from None
        finally:
            os.close(request_read)
            os.close(reply_write)
        os.set_inheritable(self._requests, False)
        self._reply_file = os.fdopen(self._replies, "r", encoding="utf-8")
        ready = self._reply(SERVER_STARTUP_TIMEOUT)
        if "error" in ready:
            self.close()
            raise ForkUnavailable(ready["error"])
        self.pid = self.process.pid

    def _reply(self, timeout: float) -> dict[str, Any]:
        readable, _, _ = select.select([self._replies], [], [], timeout)
        line = self._reply_file.readline() if readable else ""
        if not line:
            code = self.process.poll()
            if readable and code is None:  # end of file: it is exiting, and its exit status comes a moment later
                try:
                    code = self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            raise ForkUnavailable("the fork server did not answer" if code is None
                                  else f"the fork server exited (code {code})")
        return json.loads(line)

    def fork(self, argv: list[str], cwd: str, env: dict[str, str]) -> int:
        """The pid of a new kernel child running ``argv`` (a kernelspec's command) in ``cwd`` with ``env``."""
        if argv[0] != self.python or not _starts_ipykernel(argv) or _interpreter_options(argv) != self.options:
            raise ForkUnavailable("the kernel's command is not the fork server's interpreter, options and "
                                  "ipykernel_launcher")
        request = json.dumps({"argv": argv[argv.index("-m") + 2:], "cwd": cwd, "env": env}) + "\n"
        with self._lock:
            try:
                os.write(self._requests, request.encode("utf-8"))
            except OSError as exc:
                raise ForkUnavailable(f"the fork server is gone ({exc.strerror})") from None
            reply = self._reply(SERVER_STARTUP_TIMEOUT)
        if "error" in reply:
            raise ForkUnavailable(reply["error"])
        return int(reply["pid"])

    def close(self) -> None:
        """End the server; it kills the kernels it forked that are still running."""
        try:
            os.close(self._requests)
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reply_file.close()


class ForkedProcess:
    """A forked kernel seen as jupyter_client sees a kernel's Popen: poll, wait, signal, kill (by pid)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, server_pid: int):
        self.pid = pid
        self.server_pid = server_pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and not _is_child_of(self.pid, self.server_pid):
            self.returncode = -signal.SIGKILL  # the server reaps it; its real status is not ours to read
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
            time.sleep(0.05)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _is_child_of(pid: int, parent: int) -> bool:
    """Whether ``pid`` is a live (not zombie) child of ``parent``: a pid reused by another process is not."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z" and fields[1] == str(parent)


@functools.cache
def _provisioner_class() -> type:
    from jupyter_client.provisioning import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        """LocalProvisioner whose kernel process is a child of the fork server."""

        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            server: ForkServer = self.parent.fork_server
            cwd = str(kwargs.get("cwd") or Path.cwd())
            env = dict(kwargs.get("env") or os.environ)
            pid = server.fork(cmd, cwd, env)
            self.process = ForkedProcess(pid, server.pid)
            self.pid = self.pgid = pid  # the child is the leader of a session of its own
            self.cwd = cwd
            return self.connection_info

    return ForkProvisioner


@functools.cache
def _manager_class() -> type:
    from jupyter_client.manager import AsyncKernelManager

    class ForkedKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            if self.provisioner is None:
                import uuid

                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
                self.provisioner = _provisioner_class()(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec,
                                                        parent=self)
            return await super()._async_pre_start_kernel(**kw)

    return ForkedKernelManager


def forked_kernel_manager(fork_server: ForkServer, **kwargs: Any) -> Any:
    """An AsyncKernelManager whose kernel is forked by ``fork_server``."""
    manager = _manager_class()(**kwargs)
    manager.fork_server = fork_server
    return manager


# ----------------------------------------------------------------------------- the server program


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _serve(request_fd: int, reply_fd: int, warm: list[str]) -> None:
    replies = os.fdopen(reply_fd, "w", encoding="utf-8", buffering=1)
    requests = os.fdopen(request_fd, "r", encoding="utf-8")
    import importlib

    try:
        for module in KERNEL_IMPORTS:
            importlib.import_module(module)
    except Exception as exc:  # the kernels fall back to separate programs, which will show the error
        replies.write(json.dumps({"error": f"the fork server could not import {module}: {exc}"}) + "\n")
        return
    for module in warm:
        try:
            importlib.import_module(module)
        except Exception:  # the notebook that imports it shows the error in its own report
            pass
    if "PIL.Image" in sys.modules:
        sys.modules["PIL.Image"].preinit()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they end
    children: list[int] = []
    replies.write(json.dumps({"ready": os.getpid()}) + "\n")
    try:
        for line in requests:  # EOF: the build closed its end, or died
            request = json.loads(line)
            threads = _thread_count()
            if threads != 1:
                replies.write(json.dumps({"error": f"unsafe to fork: the fork server runs {threads} threads"}) + "\n")
                continue
            children = [pid for pid in children if _is_child_of(pid, os.getpid())]
            ready_read, ready_write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(ready_read)
                _become_kernel(request, (requests, replies), ready_write)
            os.close(ready_write)
            os.read(ready_read, 1)  # the child runs in its own session now: its pid is its process group
            os.close(ready_read)
            children.append(pid)
            replies.write(json.dumps({"pid": pid}) + "\n")
    finally:
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


def _become_kernel(request: dict[str, Any], server_files: tuple[Any, ...], ready_fd: int) -> None:
    """In the forked child: become a fresh kernel process, as `python -m ipykernel_launcher ...` would be."""
    try:
        os.setsid()
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL if signum != signal.SIGINT else signal.default_int_handler)
        _die_with_parent()
        for handle in server_files:  # the server's pipes are not the kernel's
            handle.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.write(ready_fd, b"1")
        os.close(ready_fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["JPY_PARENT_PID"] = str(os.getppid())  # ipykernel exits when its parent (the server) does
        sys.path[0] = request["cwd"]  # `python -m` puts the working folder first
        sys.argv = ["ipykernel_launcher", *request["argv"]]
        _reseed()
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
    except BaseException:
        import traceback

        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _die_with_parent() -> None:
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _reseed() -> None:
    """A forked child inherits its parent's random state: draw a fresh one, as a new process would (Python's
    `random` re-seeds itself in a forked child; numpy's global generator does not)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # its kernels are ended; tearing down the imported stack would cost the build most of a second
