"""PLACEHOLDER until the bounds branch lands: regular files only, size-bounded."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .exceptions import UsageError
from .paths import display_path

DATA_FILE_LIMIT = 64 * 2**20


class InputFileError(UsageError):
    pass


def read_input_bytes(path: Path, *, limit: int, what: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputFileError(f"cannot read {what} {display_path(path)}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputFileError(f"{what} {display_path(path)} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputFileError(f"{what} {display_path(path)} is larger than {limit} bytes")
    return data
