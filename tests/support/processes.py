"""Processes as the tests watch them end (through /proc: Linux)."""

from __future__ import annotations

import time


def gone(pid: int, within: float = 20) -> bool:
    """Whether the process has ended (or is a zombie no one has reaped yet) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.1)
    return False
