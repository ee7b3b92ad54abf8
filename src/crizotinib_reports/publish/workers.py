"""Render worker processes: started once, reused for report after report, killed when a report runs late.

WeasyPrint is pure Python: two reports rendering in the build's own process would take turns on
one core (the GIL), so each job renders in a worker process of its own: not a fork of the build's
process, with its threads and sockets, but a fork of multiprocessing's *fork server*, a fresh
interpreter without threads that imported nbconvert's exporters (and WeasyPrint, for a build that
prints PDFs) once for all the workers of the process that started it. Each worker used to be a fresh
interpreter (`spawn`) importing them itself: about 1 s of CPU a worker (docs/performance.md). Off
Linux, as for kernels (kernel_fork.py), workers are spawned as before. A worker takes the environment and
working folder of the build as it starts, as a spawned one would. A render that runs
past its report's deadline cannot be interrupted inside WeasyPrint, so its worker is killed and
a fresh one takes its place for the next report. A worker exits by itself when its parent is gone
(kill -9 leaves no one to stop it): the fork server, which exits when the build process does.

A scheduled run's workers keep documents (``keep_documents``): one worker keeps each report's
laid-out PDF document, and the run's combined PDF is made in that same worker from those pages
(assemble.py) instead of laying every page out a second time. Laid-out documents cannot leave the
process that made them (WeasyPrint's boxes hold Pango objects), hence one keeping worker. A render
goes to it when it is free; when it is rendering (two reports finishing together), the render goes
to another worker, as in a build, and the keeping worker lays that page out for itself once free,
while kernels still run (only the layout: the PDF is not printed twice); when it is only laying out
such a page, the render waits for it, which is shorter than laying this page out again later (the
overview, last, would otherwise keep the combined PDF waiting). Sending every render to the one
worker made reports wait for each other's renders: about 8 s more of a loaded run's build than
this (docs/performance.md).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from typing import Any, Callable


class RenderTimeout(Exception):
    """A render did not finish before its report's deadline."""


class RenderFailed(Exception):
    """The render raised, or its worker died."""


#: What the workers' fork server imports once: nbconvert's exporters, and WeasyPrint when PDFs are printed.
#: Set as the fork server starts (the first worker of a process); later workers are forks of it.
RENDER_IMPORTS = ("crizotinib_reports.publish.render",)
PDF_IMPORTS = ("crizotinib_reports.publish.offline_fetch",)


def start_method() -> str:
    """How render workers start: forks of multiprocessing's fork server on Linux, as kernels are forked (macOS
    cannot fork a process with its frameworks loaded, and WeasyPrint's Pango loads them), fresh interpreters
    elsewhere."""
    import multiprocessing

    forks = sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods()
    return "forkserver" if forks else "spawn"


class _Worker:
    def __init__(self, warm_up: Callable[[], None] | None = None, pdf: bool = True) -> None:
        import multiprocessing

        context = multiprocessing.get_context(start_method())
        if context.get_start_method() == "forkserver":
            context.set_forkserver_preload([*RENDER_IMPORTS, *(PDF_IMPORTS if pdf else ())])
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, dict(os.environ), warm_up),
                                       daemon=True, name="crizotinib-render")
        self.process.start()
        child.close()

    def call(self, function: Callable[..., Any], arguments: tuple[Any, ...], timeout: float) -> Any:
        """``function(*arguments)`` in the worker (a module-level function: it is sent by name)."""
        self.connection.send((function, arguments))
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
    """At most `count` render workers, one per report being rendered at a time; or, with
    ``keep_documents``, one of them keeping the documents it lays out, for :meth:`combine`."""

    #: Seconds the keeping worker may take to lay out a page rendered beside it.
    KEEP_TIMEOUT = 600

    def __init__(self, count: int, job: Callable[..., Any] | None = None, keep_documents: bool = False,
                 keep_job: Callable[[str], Any] | None = None, pdf: bool = True):
        self.count = count
        self.pdf = pdf  # whether the workers will print PDFs: they import WeasyPrint as they start
        self.job = job  # what a worker runs for each call (a module-level function); rendering by default
        self.keep_documents = keep_documents
        self.keep_job = keep_job  # what the keeping worker runs on a page rendered beside it
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._keeper: _Worker | None = None
        self._keeper_lock = threading.Lock()  # one call at a time in the keeping worker
        self._later: list[threading.Thread] = []  # pages rendered beside it, being laid out by the keeping worker
        self._laying_out = 0  # how many of those the keeping worker is laying out now (0 or 1)
        self._closed = False

    def prestart(self) -> None:
        """Start the workers now, so that their imports (nbconvert, WeasyPrint) overlap the first reports'
        execution instead of delaying their renders."""
        warm_up = functools.partial(_warm_up, self.pdf) if self.job is None else None
        keeper = _Worker(warm_up, self.pdf) if self.keep_documents and self._keeper is None else None
        with self._lock:
            missing = self.count - len(self._idle) - (1 if self.keep_documents else 0) if not self._closed else 0
        started = [_Worker(warm_up, self.pdf) for _ in range(max(missing, 0))]
        with self._lock:
            self._idle.extend(started)
            if keeper is not None:
                if self._keeper is None and not self._closed:
                    self._keeper, keeper = keeper, None
        if keeper is not None:
            keeper.kill()

    def render(self, notebook_path: str, formats: tuple[str, ...], timeout: float) -> Any:
        """The requested formats of one executed notebook, or RenderTimeout after `timeout` seconds.

        Keeping documents, a render goes to the keeping worker when it is free, or only laying out a page
        (waiting for that is shorter than laying this one out again later); when it is rendering, to another
        worker, as in a build (no report waits for another's render), and the keeping worker then lays that
        page out for itself once free (:meth:`_keep_later`).
        """
        if self.keep_documents and (self._keeper_lock.acquire(blocking=False) or
                                    self._laying_out and self._keeper_lock.acquire(timeout=max(timeout, 0.0))):
            return self._call_keeper(self.job or _render_keeping, (notebook_path, formats), timeout, locked=True)
        result = self._beside(notebook_path, formats, timeout)
        if self.keep_documents:
            self._keep_later(result)
        return result

    def _beside(self, notebook_path: str, formats: tuple[str, ...], timeout: float) -> Any:
        with self._lock:
            if self._closed:
                raise RenderFailed("the build is stopping")
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _Worker(pdf=self.pdf)
        try:
            result = worker.call(self.job or _render, (notebook_path, formats), timeout)
        except BaseException:
            worker.kill()  # late, dead or interrupted: never reused
            raise
        with self._lock:
            if self._closed:
                worker.kill()
            else:
                self._idle.append(worker)
        return result

    def _keep_later(self, result: Any) -> None:
        """The keeping worker lays out the page of a render made beside it, in the background, when free."""
        outputs = result[0] if isinstance(result, tuple) and result and isinstance(result[0], dict) else {}
        page = outputs.get("html")
        if not isinstance(page, bytes):
            return

        def keep() -> None:
            if not self._keeper_lock.acquire(timeout=self.KEEP_TIMEOUT):
                return  # the combined PDF then lays that report out itself
            with self._lock:
                self._laying_out += 1
            try:
                self._call_keeper(self.keep_job or _keep_page, (page.decode("utf-8"),), self.KEEP_TIMEOUT, locked=True)
            except (RenderFailed, RenderTimeout):
                pass
            finally:
                with self._lock:
                    self._laying_out -= 1

        thread = threading.Thread(target=keep, daemon=True, name="crizotinib-keep-page")
        with self._lock:
            self._later.append(thread)
        thread.start()

    def combine(self, function: Callable[..., Any], arguments: tuple[Any, ...], timeout: float) -> Any:
        """``function(*arguments)`` in the worker that kept the documents, once it has laid out the pages
        rendered beside it (a fresh worker if it is gone: the function then lays out what it lacks)."""
        if not self.keep_documents:
            raise ValueError("RenderWorkers.combine: these workers keep no documents")
        deadline = time.monotonic() + timeout
        with self._lock:
            later, self._later = self._later, []
        for thread in later:
            thread.join(max(deadline - time.monotonic(), 0.0))
        return self._call_keeper(function, arguments, deadline - time.monotonic())

    def _call_keeper(self, function: Callable[..., Any], arguments: tuple[Any, ...], timeout: float,
                     locked: bool = False) -> Any:
        """One call at a time in the keeping worker (``locked``: the caller holds its turn); waiting for it
        counts against ``timeout``."""
        deadline = time.monotonic() + timeout
        if not locked and not self._keeper_lock.acquire(timeout=max(timeout, 0.0)):
            raise RenderTimeout()
        try:
            with self._lock:
                if self._closed:
                    raise RenderFailed("the build is stopping")
                if self._keeper is None:
                    self._keeper = _Worker(pdf=self.pdf)
                worker = self._keeper
            try:
                return worker.call(function, arguments, deadline - time.monotonic())
            except BaseException:
                worker.kill()  # late, dead or interrupted: its documents go with it
                with self._lock:
                    self._keeper = None
                raise
        finally:
            self._keeper_lock.release()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            if self._keeper is not None:
                idle.append(self._keeper)
                self._keeper = None
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


def _warm_up(pdf: bool) -> None:
    from .render import warm_up_worker

    warm_up_worker(pdf)


def _render_keeping(notebook_path: str, formats: tuple[str, ...]) -> Any:
    from .render import render_in_worker

    return render_in_worker(notebook_path, formats, keep=True)


def _keep_page(page: str) -> None:
    from .render import keep_in_worker

    keep_in_worker(page)


def _serve(connection: Any, environment: dict[str, str], warm_up: Callable[[], None] | None = None) -> None:
    """The worker's loop: run what it is sent until told to stop or the build is gone."""
    # The build's environment as the worker starts; a fork server's is as it was when that started (multiprocessing
    # hands a worker the build's working folder itself).
    os.environ.clear()
    os.environ.update(environment)
    parent_pid = os.getppid()

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
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:  # the build is done with it: exit without tearing down WeasyPrint and nbconvert
            connection.close()
            os._exit(0)
        try:
            function, arguments = message
            connection.send(("ok", function(*arguments)))
        except Exception as exc:  # the build turns it into the report's one-line error
            connection.send(("error", f"{type(exc).__name__}: {exc}".splitlines()[0]))
