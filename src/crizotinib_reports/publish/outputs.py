"""The output folder: ours alone, and every change to it one atomic step.

Layout (readers use the top-level names; they are fixed symlinks into `current`):

    outputs/
      .crizotinib-reports               marks the folder as ours (written when we first use it)
      current -> .builds/<build id>     swapped atomically when a build is complete
      <report> -> current/<report>      executed notebook, HTML, PDF, tables/*.csv
      manifest.json -> current/manifest.json
      failed -> current/failed          executed notebooks of reports that failed
      .builds/<build id>/               complete builds (only `current` is kept)
      .staging/<build id>/              one build's scratch space: its data snapshot, executed notebooks
      .lock                             held while a build or a run writes
      runs/, latest                     scheduled runs (runs.py)

A build writes a whole new tree (reports it does not rebuild are hard-linked from the
previous one), writes its manifest into it, then repoints `current` with one rename. A build
killed at any moment therefore leaves `current` on a complete old or a complete new tree,
and the manifest inside it always describes exactly the files beside it.

Nothing is removed or replaced that we did not write: a folder is used only when it is new,
empty, marked as ours, or laid out as ours (`current` into `.builds`); every name is checked
against the pattern of what we write (and must not be a symlink out) before it is removed.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..exceptions import OutputLocked, UsageError
from ..paths import display_path

MARKER = ".crizotinib-reports"
CURRENT = "current"
BUILDS = ".builds"
STAGING = ".staging"
LOCK = ".lock"
MANIFEST_NAME = "manifest.json"
FAILED = "failed"

#: What we write, by the pattern of its name: nothing else is ever removed.
BUILD_ID = re.compile(r"\d{8}T\d{12}Z-\d+")
#: A report folder: the report's name, then each non-default parameter (variants.py).
REPORT_FOLDER = re.compile(r"[a-z][a-z0-9_]*(?:--[a-z0-9_][a-z0-9_.\-]*)*")
#: A file inside a report folder, as the manifest lists it.
REPORT_FILE = re.compile(r"(?:tables/)?[a-z0-9][a-z0-9_\-]*(?:\.[a-z0-9_\-]+)*")
MAX_NAME = 128

MARKER_TEXT = ("This folder is written by crizotinib-reports. It removes and replaces only what it wrote here;\n"
               "delete this file and the tool will refuse to write here again.\n")


def is_report_folder_name(name: object) -> bool:
    return isinstance(name, str) and len(name) <= MAX_NAME and ".." not in name and bool(REPORT_FOLDER.fullmatch(name))


def is_report_file_name(name: object) -> bool:
    return isinstance(name, str) and len(name) <= MAX_NAME and ".." not in name and bool(REPORT_FILE.fullmatch(name))


def new_build_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%fZ}-{os.getpid()}"


# --- whose folder is it -----------------------------------------------------------------------------

def _looks_like_ours(root: Path) -> bool:
    """A tree written by a version that did not leave the marker: `current` pointing into `.builds`."""
    current = root / CURRENT
    if not current.is_symlink():
        return False
    target = os.readlink(current)
    parts = Path(target).parts
    return len(parts) == 2 and parts[0] == BUILDS and bool(BUILD_ID.fullmatch(parts[1]))


def claim_output_dir(root: Path, adopt: bool = False) -> None:
    """Make sure `root` is ours to write in: new, empty, marked, laid out as ours, or adopted on request."""
    root = Path(root)
    shown = display_path(root)
    if root.exists() and not root.is_dir():
        raise UsageError(f"output folder {shown} is a file, not a folder; choose another with --output-dir")
    root.mkdir(parents=True, exist_ok=True)
    marker = root / MARKER
    if marker.is_file() and not marker.is_symlink():
        return
    if any(root.iterdir()) and not (adopt or _looks_like_ours(root)):
        raise UsageError(f"output folder {shown} holds files crizotinib-reports did not write; choose a new or "
                         f"empty folder with --output-dir, or pass --adopt-output-dir to write there (it then "
                         f"removes and replaces only what it writes itself)")
    if marker.is_symlink() or marker.exists():
        raise UsageError(f"{display_path(marker)} is not the marker file crizotinib-reports writes; remove it")
    marker.write_text(MARKER_TEXT, encoding="utf-8")


def real_folder(path: Path) -> Path:
    """`path` as a folder of ours: created if missing; refused if it is a symlink (removals would follow it)."""
    if path.is_symlink():
        raise UsageError(f"{display_path(path)} is a symbolic link; crizotinib-reports writes and removes only in "
                         f"folders it made: remove the link ('rm {display_path(path)}') and run again")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{display_path(path)} is not a folder; crizotinib-reports needs that name: move it away")
    path.mkdir(exist_ok=True)
    return path


def remove_ours(path: Path, parent: Path, pattern: re.Pattern[str]) -> bool:
    """Remove a folder we wrote: directly in `parent`, named by `pattern`, a real folder (no symlink out)."""
    if path.parent != parent or not pattern.fullmatch(path.name) or path.is_symlink() or not path.is_dir():
        return False
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


# --- one writer at a time ---------------------------------------------------------------------------

@contextmanager
def build_lock(output_dir: Path, wait: bool = True, log: Callable[[str], None] = print) -> Iterator[None]:
    """One build or run at a time per output folder: an advisory lock the kernel drops if we die."""
    output_dir.mkdir(parents=True, exist_ok=True)
    lock = output_dir / LOCK
    if lock.is_symlink():
        raise UsageError(f"{display_path(lock)} is a symbolic link; remove it and run again")
    handle = open(lock, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = lock.read_text().strip() or "another process"
            if not wait:
                raise OutputLocked(f"another build ({holder}) is writing to {display_path(output_dir)}; "
                                   f"retry later, or pass --wait to queue behind it") from None
            log(f"waiting for another build ({holder}) to finish writing to {display_path(output_dir)} ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


def remove_leftovers(root: Path, keep: set[Path | None], folders: tuple[str, ...] = (BUILDS, STAGING)) -> list[str]:
    """Trees and scratch folders that no build will use again (left by killed builds, or replaced).

    Call only while holding the lock: then no other build is writing any of them.
    """
    removed = []
    for folder_name in folders:
        folder = root / folder_name
        if not folder.is_dir() or folder.is_symlink():
            continue
        for entry in folder.iterdir():
            if entry in keep:
                continue
            if remove_ours(entry, folder, BUILD_ID):
                removed.append(f"{folder_name}/{entry.name}")
    return removed


# --- the tree a build fills -------------------------------------------------------------------------

class OutputTree:
    """One build's view of the output folder: the previous tree, and the new one it fills."""

    def __init__(self, output_dir: Path, build_id: str):
        self.root = Path(output_dir)
        self.previous = self.current_target(self.root)
        self.new = real_folder(self.root / BUILDS) / build_id
        self.new.mkdir()

    @staticmethod
    def current_target(output_dir: Path) -> Path | None:
        """The complete tree readers see now, if there is one of ours (`current` -> .builds/<build id>)."""
        output_dir = Path(output_dir)
        current = output_dir / CURRENT
        if not _looks_like_ours(output_dir):
            return None
        target = output_dir / os.readlink(current)
        return target if target.is_dir() and not target.is_symlink() else None

    def carry_over(self, folder: str) -> bool:
        """Hard-link the previous outputs of a report into the new tree (no copy, no change)."""
        if self.previous is None or not is_report_folder_name(folder):
            return False
        source = self.previous / folder
        if not source.is_dir() or source.is_symlink():
            return False
        shutil.copytree(source, self.new / folder, copy_function=link_or_copy)
        return True

    def carry_over_failed(self, folder: str) -> None:
        if self.previous is None or not is_report_folder_name(folder):
            return
        failed = self.previous / FAILED / f"{folder}.ipynb"
        if failed.is_file() and not failed.is_symlink():
            (self.new / FAILED).mkdir(exist_ok=True)
            link_or_copy(failed, self.new / FAILED / failed.name)

    def commit(self, checkpoint: Callable[[str], None] = lambda name: None) -> None:
        """Repoint `current` at the new tree in one rename, then tidy up.

        The top-level names of new report folders are linked first (into `current/`, so they lead
        nowhere until the rename): whenever `current` names a tree, every folder in it has its name.
        """
        names = {entry.name for entry in self.new.iterdir()}
        check_top_level(self.root, names)
        fsync_tree(self.new)
        for name in sorted(names):
            if not _is_our_link(self.root / name):
                point_link(self.root / name, Path(CURRENT) / name)
        point_link(self.root / CURRENT, Path(BUILDS) / self.new.name)
        checkpoint("after-current-moved")
        for link in self.root.iterdir():  # a report no longer in the tree (a pruned variant): its name goes too
            if link.name not in names and _is_our_link(link):
                link.unlink()
        remove_leftovers(self.root, keep={self.new}, folders=(BUILDS,))

    def abandon(self) -> None:
        remove_ours(self.new, self.root / BUILDS, BUILD_ID)

def _is_our_link(path: Path) -> bool:
    """A top-level symlink of the form <name> -> current/<name>."""
    return path.is_symlink() and os.readlink(path) == str(Path(CURRENT) / path.name)


def check_top_level(root: Path, names: Iterable[str]) -> None:
    """Each name we will link at the top of the output folder is free or already our link (never a user's file)."""
    for name in names:
        path = Path(root) / name
        if (path.is_symlink() or path.exists()) and not _is_our_link(path):
            raise UsageError(f"{display_path(path)} was not written by crizotinib-reports and a report needs that "
                             f"name; move it out of {display_path(root)} and run again")


def link_target(link: Path) -> Path | None:
    """The folder a symlink names, if it is one and the folder exists."""
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def point_link(link: Path, target: Path) -> None:
    """Repoint `link` at `target` (relative to the link's folder) in one rename, then make it durable.

    Readers see the old target or the new one, never no link: used for `current`, `latest` and the
    top-level names.
    """
    temporary = link.parent / f".{link.name}.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    try:
        os.replace(temporary, link)
    except BaseException:
        temporary.unlink(missing_ok=True)  # the old link stays, and no stray one beside it
        raise
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
