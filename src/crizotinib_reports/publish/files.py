"""Writing files so that a reader never sees half of one: write beside, then rename."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _default_mode() -> int:
    """What a plain open() would give (mkstemp makes 0600 files that others could not read)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write data to a temporary file in the target's folder, fsync it, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(Path(path).read_bytes())


#: Checksums in coreutils' format, beside a build's or a run's files: `sha256sum -c SHA256SUMS` checks them
#: without this package.
SHA256SUMS = "SHA256SUMS"


def sha256sums_text(folder: Path) -> str:
    """`<hex>  <relative path>` for every file under `folder` but SHA256SUMS, sorted by path (as sha256sum writes)."""
    folder = Path(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and not p.is_symlink() and p.name != SHA256SUMS and not p.name.endswith(".tmp"))
    return "".join(f"{sha256_file(folder / name)}  {name}\n" for name in files)


def write_sha256sums(folder: Path) -> None:
    atomic_write_text(Path(folder) / SHA256SUMS, sha256sums_text(folder))
