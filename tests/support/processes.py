"""Processes as the tests see them, through /proc (Linux)."""

from __future__ import annotations

import time
from pathlib import Path


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command's name (which may hold spaces): state, parent pid, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def gone(pid: int, within: float = 20) -> bool:
    """Whether the process has ended (or is a zombie no one has reaped yet) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if _stat_fields(pid)[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.1)
    return False


def parent_of(pid: int) -> int:
    return int(_stat_fields(pid)[1])


def thread_count(pid: int) -> int:
    return int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("Threads:")))


def command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def mapped_files(pid: int) -> str:
    """The process's memory map (/proc/PID/maps): the shared libraries it has loaded, among others."""
    return Path(f"/proc/{pid}/maps").read_text()
