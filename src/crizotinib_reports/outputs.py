"""The output folder, where every change is one atomic step.

Layout (readers use the top-level names; they are fixed symlinks into `current`):

    outputs/
      current -> .builds/<build id>     swapped atomically when a build is complete
      <report> -> current/<report>      executed notebook, HTML, PDF, tables/*.csv
      manifest.json -> current/manifest.json
      failed -> current/failed          executed notebooks of reports that failed
      .builds/<build id>/               complete builds (only `current` is kept)
      .staging/                         papermill's scratch space
      .lock                             held while a build writes

A build writes a whole new tree (reports it does not rebuild are hard-linked from the
previous one), writes its manifest into it, then repoints `current` with one rename. A build
killed at any moment therefore leaves `current` on a complete old or a complete new tree,
and the manifest inside it always describes exactly the files beside it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from .exceptions import OutputLocked

CURRENT = "current"
BUILDS = ".builds"
STAGING = ".staging"
LOCK = ".lock"
MANIFEST_NAME = "manifest.json"
FAILED = "failed"


@contextmanager
def build_lock(output_dir: Path, wait: bool = True, log: Callable[[str], None] = print) -> Iterator[None]:
    """One build at a time per output folder: an advisory lock the kernel drops if we die."""
    output_dir.mkdir(parents=True, exist_ok=True)
    handle = open(output_dir / LOCK, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = (output_dir / LOCK).read_text().strip() or "another process"
            if not wait:
                raise OutputLocked(f"another build ({holder}) is writing to {output_dir}; "
                                   f"retry later, or pass --wait to queue behind it") from None
            log(f"waiting for another build ({holder}) to finish writing to {output_dir} ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


class OutputTree:
    """One build's view of the output folder: the previous tree, and the new one it fills."""

    def __init__(self, output_dir: Path):
        self.root = Path(output_dir)
        self.previous = self.current_target(self.root)
        build_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%fZ}-{os.getpid()}"
        self.new = self.root / BUILDS / build_id
        self.new.mkdir(parents=True)
        # We hold the lock: whatever is in the scratch space was left by a build that was killed.
        shutil.rmtree(self.root / STAGING, ignore_errors=True)
        (self.root / STAGING).mkdir()

    @staticmethod
    def current_target(output_dir: Path) -> Path | None:
        """The complete tree readers see now, if there is one."""
        return link_target(Path(output_dir) / CURRENT)

    def previous_report_dir(self, report: str) -> Path | None:
        """Where the report's last good outputs are (a pre-symlink layout counts too)."""
        if self.previous is not None and (self.previous / report).is_dir():
            return self.previous / report
        legacy = self.root / report
        if legacy.is_dir() and not legacy.is_symlink():
            return legacy
        return None

    def carry_over(self, report: str) -> bool:
        """Hard-link the previous outputs of a report into the new tree (no copy, no change)."""
        source = self.previous_report_dir(report)
        if source is None:
            return False
        shutil.copytree(source, self.new / report, copy_function=link_or_copy)
        return True

    def carry_over_failed(self, report: str) -> None:
        if self.previous is None:
            return
        failed = self.previous / FAILED / f"{report}.ipynb"
        if failed.exists():
            (self.new / FAILED).mkdir(exist_ok=True)
            link_or_copy(failed, self.new / FAILED / failed.name)

    def commit(self) -> None:
        """Repoint `current` at the new tree in one rename, then tidy up."""
        fsync_tree(self.new)
        point_link(self.root / CURRENT, Path(BUILDS) / self.new.name)
        self._link_top_level()
        self._remove_old_builds()

    def abandon(self) -> None:
        shutil.rmtree(self.new, ignore_errors=True)

    def _link_top_level(self) -> None:
        for entry in sorted(self.new.iterdir()):
            link = self.root / entry.name
            target = Path(CURRENT) / entry.name
            if link.is_symlink():
                if os.readlink(link) == str(target):
                    continue
                link.unlink()
            elif link.is_dir():  # the layout before symlinks: move it out of the way once
                shutil.rmtree(link)
            elif link.exists():
                link.unlink()
            os.symlink(target, link)

    def _remove_old_builds(self) -> None:
        for old in (self.root / BUILDS).iterdir():
            if old.resolve() != self.new.resolve():
                shutil.rmtree(old, ignore_errors=True)


def link_target(link: Path) -> Path | None:
    """The folder a symlink names, if it is one and the folder exists."""
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def point_link(link: Path, target: Path) -> None:
    """Repoint `link` at `target` (relative to the link's folder) in one rename, then make it durable.

    Readers see the old target or the new one, never no link: used for `current` and `latest`.
    """
    temporary = link.parent / f".{link.name}.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, link)
    _fsync_dir(link.parent)


def link_or_copy(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """Files are fsynced as they are written; the directories that name them are fsynced here."""
    for folder, _dirs, _files in os.walk(path):
        _fsync_dir(Path(folder))

