"""Kernels started ahead of the reports that will use them, one fresh kernel per report, and ended whole.

Starting a kernel and importing pandas, matplotlib, seaborn, great_tables and statsmodels
takes about 3 s of CPU, most of a small report's execution. So the first `jobs` kernels start
in the background (with what the notebooks being built import loaded, as their own cells would
load it: the package's whole report stack for the package's reports; `notebook_imports`) while the
build process loads papermill. Each kernel serves exactly one
report and is shut down after it: no state passes from one report to another. A worker's next
kernel starts only when its report is completely done (rendered and written), so `--jobs N`
means at most N reports, and N kernels, in progress at any moment.

Each kernel is forked from one warm parent that imported the report stack once (kernel_fork.py),
where the machine allows it; otherwise it starts as a program of its own, and the build says why once.

A kernel ends with everything it started. Each kernel's environment carries a token
(`CRIZOTINIB_REPORTS_KERNEL=<output folder key>:<build pid>:<n>`) that every process it starts
inherits, even one that leaves the kernel's process group with `setsid`; when the report is
done, or when a later build finds the build that started them dead, the processes carrying the
token are killed (Linux: found through /proc; elsewhere the process group only).
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import itertools
import json
import os
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

from .kernel_fork import PACKAGE_IMPORTS

STARTUP_TIMEOUT = 60
#: Kernels started for one report when each ends before it answers, before the report fails.
STARTUP_ATTEMPTS = 3
KERNEL_TOKEN_ENV = "CRIZOTINIB_REPORTS_KERNEL"


def notebook_imports(notebooks: Iterable[Path]) -> tuple[str, ...]:
    """The modules these notebooks' code cells import at their top level, first seen first: what their kernels
    are warmed with. A cell that is not plain Python (a magic, a syntax error) adds nothing; its report
    shows its own error."""
    found: dict[str, None] = {}
    for path in notebooks:
        for cell in json.loads(Path(path).read_text(encoding="utf-8")).get("cells", []):
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            try:
                tree = ast.parse("".join(source) if isinstance(source, list) else source)
            except (SyntaxError, ValueError):
                continue
            for statement in tree.body:
                if isinstance(statement, ast.Import):
                    found.update(dict.fromkeys(alias.name for alias in statement.names))
                elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
                    found[statement.module] = None
    return tuple(found)


def output_key(output_dir: Path) -> str:
    """A short name for an output folder, shared by the tokens of every kernel built into it."""
    return hashlib.sha256(str(Path(output_dir).resolve()).encode()).hexdigest()[:12]


class WarmKernels:
    """A queue of started kernels (jupyter_client AsyncKernelManagers) for `total` reports."""

    def __init__(self, total: int, running: int, kernel_name: str, cwd: Path, extra_arguments: list[str],
                 env: dict[str, str], token_prefix: str, say: Callable[[str], None] = lambda message: None,
                 fork_server: Future | None = None, warm: tuple[str, ...] = PACKAGE_IMPORTS):
        self.kernel_name = kernel_name
        self.warm = warm  # what each kernel imports before its report
        self.say = say  # tells the user, once, when kernels cannot be forked
        self.cwd = cwd
        self.extra_arguments = extra_arguments
        self.env = env
        self.token_prefix = token_prefix
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._to_start = total
        self._pending: list[Future] = []
        self._in_use: set[Any] = set()
        self._fork_lock = threading.Lock()
        self._fork_server: Any = None
        self._fork_server_start = fork_server  # started by the build while it validated the data
        self._fork_refused: str | None = None
        self._starter = ThreadPoolExecutor(max_workers=running, thread_name_prefix="kernel-start")
        for _ in range(min(total, running)):
            self._start_one()

    def _start_one(self) -> None:
        self._to_start -= 1
        token = f"{self.token_prefix}:{next(self._numbers)}"
        self._pending.append(self._starter.submit(lambda: asyncio.run(self._start(token))))

    def _forking(self) -> Any:
        """The build's fork server, started by the first kernel that needs it; None when kernels cannot fork."""
        from .kernel_fork import ForkUnavailable

        with self._fork_lock:
            if self._fork_server is None and self._fork_refused is None:
                if self._fork_server_start is None:
                    self._fork_server_start = start_fork_server(self.kernel_name, self.cwd, self.env, self.token_prefix,
                                                                self.warm)
                try:
                    self._fork_server = self._fork_server_start.result()
                except ForkUnavailable as exc:
                    self._refuse_forks(str(exc))
            return self._fork_server

    def _refuse_forks(self, reason: str) -> None:
        if self._fork_refused is None:
            self._fork_refused = reason
            self.say(f"kernels start as separate programs, not forked from a warm parent: {reason}")

    async def _start(self, token: str, attempt: int = 1) -> Any:
        from jupyter_client.manager import AsyncKernelManager

        from .kernel_fork import ForkUnavailable, forked_kernel_manager

        server = self._forking()
        manager = (forked_kernel_manager(server, kernel_name=self.kernel_name) if server is not None
                   else AsyncKernelManager(kernel_name=self.kernel_name))
        manager.crizotinib_token = token
        keep_clients(manager)
        try:
            await manager.start_kernel(cwd=str(self.cwd), extra_arguments=self.extra_arguments,
                                       env={**self.env, KERNEL_TOKEN_ENV: token})
        except ForkUnavailable as exc:  # the server refused (a thread started in it) or is gone
            with self._fork_lock:
                self._refuse_forks(str(exc))
            return await self._start(token, attempt)
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=STARTUP_TIMEOUT)
            if self.warm and server is None:  # a forked kernel has them already
                msg_id = client.execute("\n".join(f"try:\n    import {name}\nexcept Exception:\n    pass"
                                                   for name in self.warm), silent=True, store_history=False)
                while True:  # the reply says the imports are done (an import error is the report's to show)
                    reply = await client.get_shell_msg(timeout=STARTUP_TIMEOUT)
                    if reply["parent_header"].get("msg_id") == msg_id:
                        break
        except BaseException as exc:
            client.stop_channels()
            ended = isinstance(exc, Exception) and not await manager.is_alive()
            await self._stop(manager)
            if ended and attempt < STARTUP_ATTEMPTS:
                # Ended before it answered: a port taken between jupyter_client choosing it and the kernel
                # binding it (jupyter/jupyter_client#487), say. A kernel that hangs is not started again.
                self.say(f"a kernel ended as it started ({exc}); starting another ({attempt + 1} of "
                         f"{STARTUP_ATTEMPTS})")
                return await self._start(token, attempt + 1)
            raise
        client.stop_channels()
        return manager

    def take(self) -> Any:
        """The next started kernel; raises what went wrong if it could not start."""
        with self._lock:
            if not self._pending:  # more reports than planned: start one now
                self._to_start = max(self._to_start, 1)
                self._start_one()
            future = self._pending.pop(0)
        manager = future.result()
        with self._lock:
            self._in_use.add(manager)
        return manager

    def report_done(self) -> None:
        """A worker finished its report: start the kernel for the next one, if any is left."""
        with self._lock:
            if self._to_start > 0:
                self._start_one()

    def shut_down(self, manager: Any) -> None:
        """Stop a kernel after its report, with every process it started (papermill leaves it running)."""
        with self._lock:
            self._in_use.discard(manager)
        for client in getattr(manager, "crizotinib_clients", ()):
            client.stop_channels()
        asyncio.run(self._stop(manager))

    @staticmethod
    async def _stop(manager: Any) -> None:
        """Shut the kernel down (killed if it will not go), and every process that carries its token."""
        try:
            await manager.shutdown_kernel(now=True)
        except Exception:
            kill_kernel(manager)
        token = getattr(manager, "crizotinib_token", None)
        if token:
            end_processes(lambda found: found == token)

    def close(self, kill_running: bool = False) -> None:
        """Stop the kernels nobody took (and, when the build is interrupted, those still running)."""
        with self._lock:
            self._to_start = 0
            pending, self._pending = self._pending, []
            running = list(self._in_use) if kill_running else []
        for manager in running:
            kill_kernel(manager)
        for future in pending:
            try:
                self.shut_down(future.result())
            except BaseException:
                pass
        self._starter.shutdown(wait=True)
        if self._fork_server_start is not None:
            stop_fork_server(self._fork_server_start)
        end_processes(lambda token: token.startswith(f"{self.token_prefix}:") if kill_running else False)


def keep_clients(manager: Any) -> None:
    """Keep each client made for this kernel (`crizotinib_clients`), so that shutting the kernel down stops their
    channels: nbclient stops the client it makes only when it owns the kernel manager, and the build hands it
    ours, which left each report's heartbeat thread and sockets running in a process that outlives the report."""
    made: list[Any] = []
    make = manager.client

    def client(**kwargs: Any) -> Any:
        made.append(make(**kwargs))
        return made[-1]

    manager.client = client
    manager.crizotinib_clients = made


def start_fork_server(kernel_name: str, cwd: Path, env: dict[str, str], token_prefix: str,
                      warm: tuple[str, ...] = PACKAGE_IMPORTS) -> Future:
    """Start the build's fork server in the background (its imports take seconds): a Future of the
    server, or of the ForkUnavailable that says why kernels will start as separate programs."""
    def start() -> Any:
        from jupyter_client.kernelspec import KernelSpecManager

        from .kernel_fork import ForkServer

        argv = KernelSpecManager().get_kernel_spec(kernel_name).argv
        return ForkServer(argv, cwd, {**env, KERNEL_TOKEN_ENV: f"{token_prefix}:0"}, warm)

    starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fork-server")
    try:
        return starter.submit(start)
    finally:
        starter.shutdown(wait=False)


def stop_fork_server(started: Future) -> None:
    """End a fork server started by start_fork_server (waiting for it if it is still starting)."""
    try:
        server = started.result()
    except Exception:
        return
    server.close()


def kill_kernel(manager: Any) -> None:
    """SIGKILL a kernel's process group at once (a report over its time, an interrupted build)."""
    provisioner = getattr(manager, "provisioner", None)
    pgid = getattr(provisioner, "pgid", None)
    pid = getattr(provisioner, "pid", None)
    try:
        if pgid:
            os.killpg(pgid, signal.SIGKILL)
        elif pid:
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    token = getattr(manager, "crizotinib_token", None)
    if token:
        end_processes(lambda found: found == token)


def _token_of(pid: str) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read(1 << 20)
    except OSError:
        return None
    prefix = KERNEL_TOKEN_ENV.encode() + b"="
    for item in environ.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix):].decode("utf-8", "replace")
    return None


def end_processes(match: Callable[[str], bool]) -> int:
    """SIGKILL every process of ours whose kernel token `match` accepts; returns how many (Linux only)."""
    if not os.path.isdir("/proc"):
        return 0
    ended = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        token = _token_of(pid)
        if token is not None and match(token):
            try:
                os.kill(int(pid), signal.SIGKILL)
                ended += 1
            except OSError:
                pass
    return ended


def end_orphaned_kernels(output_dir: Path) -> int:
    """Kill what kernels of dead builds into this output folder left running (their build pid is gone)."""
    key = output_key(output_dir)

    def orphaned(token: str) -> bool:
        parts = token.split(":")
        if len(parts) != 3 or parts[0] != key or not parts[1].isdigit():
            return False
        return not _alive(int(parts[1]))

    return end_processes(orphaned)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
