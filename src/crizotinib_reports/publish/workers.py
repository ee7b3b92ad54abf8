"""Render worker processes: started once, reused for report after report, killed when a report runs late.

WeasyPrint is pure Python: two reports rendering in the build's own process would take turns on
one core (the GIL), so each job renders in a worker process of its own (started with `spawn`:
a fresh interpreter, not a fork of this one with its threads and sockets). A render that runs
past its report's deadline cannot be interrupted inside WeasyPrint, so its worker is killed and
a fresh one takes its place for the next report. A worker exits by itself when the build
process is gone (kill -9 leaves no one to stop it).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable


class RenderTimeout(Exception):
    """A render did not finish before its report's deadline."""


class RenderFailed(Exception):
    """The render raised, or its worker died."""


class _Worker:
    def __init__(self, job: Callable[..., Any], warm_up: Callable[[], None] | None = None) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, os.getpid(), job, warm_up), daemon=True,
                                       name="crizotinib-render")
        self.process.start()
        child.close()

    def call(self, job: tuple[Any, ...], timeout: float) -> Any:
        self.connection.send(job)
        if not self.connection.poll(max(timeout, 0.0)):
            raise RenderTimeout()
        try:
            status, value = self.connection.recv()
        except (EOFError, OSError):
            raise RenderFailed(f"the render worker died (exit code {self.process.exitcode})") from None
        if status != "ok":
            raise RenderFailed(value)
        return value

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


class RenderWorkers:
    """At most `count` render workers, one per report being rendered at a time."""

    def __init__(self, count: int, job: Callable[..., Any] | None = None):
        self.count = count
        self.job = job  # what a worker runs for each call (a module-level function); rendering by default
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def prestart(self) -> None:
        """Start the workers now, so that their imports (nbconvert, WeasyPrint) overlap the first reports'
        execution instead of delaying their renders."""
        with self._lock:
            missing = self.count - len(self._idle) if not self._closed else 0
        started = [_Worker(self.job or _render, _warm_up if self.job is None else None) for _ in range(missing)]
        with self._lock:
            self._idle.extend(started)

    def render(self, notebook_path: str, formats: tuple[str, ...], timeout: float) -> Any:
        """The requested formats of one executed notebook, or RenderTimeout after `timeout` seconds."""
        with self._lock:
            if self._closed:
                raise RenderFailed("the build is stopping")
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _Worker(self.job or _render)
        try:
            result = worker.call((notebook_path, formats), timeout)
        except BaseException:
            worker.kill()  # late, dead or interrupted: never reused
            raise
        with self._lock:
            if self._closed:
                worker.kill()
            else:
                self._idle.append(worker)
        return result

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            try:
                worker.connection.send(None)  # asks it to exit
            except OSError:
                pass
            worker.process.join(timeout=10)
            worker.kill()


def _render(notebook_path: str, formats: tuple[str, ...]) -> Any:
    from .render import render_in_worker  # only workers load nbconvert and WeasyPrint, not the build process

    return render_in_worker(notebook_path, formats)


def _warm_up() -> None:
    from .render import warm_up_worker

    warm_up_worker()


def _serve(connection: Any, parent_pid: int, job: Callable[..., Any],
           warm_up: Callable[[], None] | None = None) -> None:
    """The worker's loop: run what it is sent until told to stop or the build is gone."""

    def exit_with_parent() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True, name="exit-with-parent").start()
    if warm_up is not None:
        try:
            warm_up()
        except Exception:  # the first render meets the same error and reports it
            pass
    while True:
        try:
            arguments = connection.recv()
        except (EOFError, OSError):
            return
        if arguments is None:  # the build is done with it: exit without tearing down WeasyPrint and nbconvert
            connection.close()
            os._exit(0)
        try:
            connection.send(("ok", job(*arguments)))
        except Exception as exc:  # the build turns it into the report's one-line error
            connection.send(("error", f"{type(exc).__name__}: {exc}".splitlines()[0]))
