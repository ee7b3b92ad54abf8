"""How a build tells people what it is doing: a live display on a terminal, log lines elsewhere.

On a terminal (an analyst's shell) `rich` draws one line per report and a bar for the whole
build. Under cron, systemd or CI nobody watches a live display and it would fill the log with
control codes, so each event is one plain line with a UTC timestamp instead.
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timezone
from typing import Any, Protocol, TextIO

from ..plain_text import visible


class Progress(Protocol):
    lost: bool  # the stream broke (a closed pipe): the build goes on, and its exit status says so

    def message(self, text: str) -> None: ...
    def planned(self, total: int, folders: list[str]) -> None: ...
    def started(self, folder: str, why: str) -> None: ...
    def state(self, folder: str, doing: str) -> None: ...
    def finished(self, folder: str, ok: bool, summary: str) -> None: ...
    def close(self) -> None: ...


class LogLines:
    """One timestamped line per event, for logs (cron mail, journald, CI)."""

    def __init__(self, stream: TextIO | None = None, timestamps: bool = True):
        self.stream = stream
        self.timestamps = timestamps
        self.lost = False
        self._lock = threading.Lock()

    def message(self, text: str) -> None:
        stamp = f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} " if self.timestamps else ""
        with self._lock:
            if self.lost:
                return
            try:
                print(f"{stamp}{visible(text, keep_newlines=True)}", file=self.stream or sys.stderr, flush=True)
            except (BrokenPipeError, ValueError, OSError):  # the reader went away (`| head`): build on, say so by exit
                self.lost = True

    def planned(self, total: int, folders: list[str]) -> None:
        pass  # the build says how many it builds in a message of its own

    def started(self, folder: str, why: str) -> None:
        self.message(f"{folder}: {why}")

    def state(self, folder: str, doing: str) -> None:
        pass  # a log keeps the events that matter: started (with why) and finished

    def finished(self, folder: str, ok: bool, summary: str) -> None:
        self.message(f"{folder}: {summary}")

    def close(self) -> None:
        pass


class LiveDisplay:
    """A rich progress display: a line per running report with what it is doing, a bar for the build; why each
    report is built, and how it ended, printed above them and kept."""

    def __init__(self, stream: TextIO | None = None):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(file=stream or sys.stderr)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=self.console, transient=False)
        self._overall: Any = None
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.lost = False
        self.progress.start()

    def message(self, text: str) -> None:
        if self.lost:
            return
        try:
            self.progress.console.print(visible(text, keep_newlines=True), markup=False, highlight=False)
        except (BrokenPipeError, ValueError, OSError):
            self.lost = True

    def planned(self, total: int, folders: list[str]) -> None:
        with self._lock:
            self._overall = self.progress.add_task("reports", total=total)

    def started(self, folder: str, why: str) -> None:
        self.message(f"{folder}: {why}")  # printed above the bars, so the reason stays on screen
        with self._lock:
            self._tasks[folder] = self.progress.add_task(f"{folder}: executing", total=1)

    def state(self, folder: str, doing: str) -> None:
        with self._lock:
            task = self._tasks.get(folder)
            if task is not None:
                self.progress.update(task, description=f"{folder}: {doing}")

    def finished(self, folder: str, ok: bool, summary: str) -> None:
        with self._lock:
            task = self._tasks.pop(folder, None)
            if task is not None:
                self.progress.remove_task(task)
            if self._overall is not None:
                self.progress.advance(self._overall)
        self.message(f"{'✓' if ok else '✗'} {folder}: {summary}")

    def close(self) -> None:
        self.progress.stop()


def progress_for(stream: TextIO | None = None, live: bool | None = None) -> Progress:
    """A live display when the stream is a terminal (unless live=False), else timestamped lines."""
    stream = stream or sys.stderr
    if live is None:
        live = stream.isatty()
    return LiveDisplay(stream) if live else LogLines(stream)
