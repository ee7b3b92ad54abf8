"""The recorded build time: what every date a build prints comes from, so two builds of the same inputs match.

The reproducible-builds.org convention: `SOURCE_DATE_EPOCH` (seconds since 1970, UTC) when set, otherwise the
time of the build. The build records it in the manifest and hands it to each kernel in the same variable, so
the report's provenance footer ("Built ...") shows the recorded time, and `verify` rebuilds with it.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from typing import Mapping

from .exceptions import UsageError

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


def build_epoch(environ: Mapping[str, str] | None = None) -> int:
    """SOURCE_DATE_EPOCH when set (a non-negative whole number of seconds), else now, in whole seconds."""
    value = (os.environ if environ is None else environ).get(SOURCE_DATE_EPOCH, "").strip()
    if not value:
        return int(time.time())
    if not value.isdigit():
        raise UsageError(f"{SOURCE_DATE_EPOCH} must be a whole number of seconds since 1970-01-01 UTC, got "
                         f"{value[:40]!r}; unset it to use the time of the build")
    return int(value)


def epoch_time(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def build_time(environ: Mapping[str, str] | None = None) -> datetime:
    """The recorded build time as a UTC datetime (see build_epoch)."""
    return epoch_time(build_epoch(environ))
