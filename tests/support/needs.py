"""What a test needs from outside the package, checked in one place; a missing piece says how to get it.

A test dependency pinned in the project's test extra fails the test when it is missing (it is not optional).
A system program (Chromium, poppler's tools, systemd-analyze, GNU find) skips it on a workstation without
that program, but fails it in CI (the `CI` variable set), where .ci/run installs them all.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest


def pinned_module(module: str) -> ModuleType:
    """The module, imported; a one-line failure when the test extra was not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        pass  # failed below, outside the handler, so the one line is not followed by the import's traceback
    pytest.fail(f"{module.split('.')[0]} is not installed though the test extra pins it; run: pip install -e '.[test]'",
                pytrace=False)


def system_program(name: str, package: str) -> str:
    """The program's path; where it is missing, skipped outside CI and failed in CI."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not found; install Debian's {package} (apt-get install {package})")
    return path


def unavailable(reason: str) -> None:
    """Skip with the reason, or fail with it in CI, where nothing a test needs may be missing."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: .ci/run installs what the tests need)", pytrace=False)
    pytest.skip(reason)
