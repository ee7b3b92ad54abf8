"""Shared fixtures: a private copy of the data to break, the seed review the data transcribes, and the one full
build of every report that the end-to-end, browser and combine tests all read (built once per session)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock
from hypothesis import settings

from crizotinib_reports.paths import DATA_DIR, PROJECT_ROOT

# The same examples on every run, here and in CI (seeded from each test): a failure is one anyone can replay,
# never a draw that passes on the next run. No example database either, so nothing carries between runs.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.load_profile("deterministic")


def pytest_sessionstart(session) -> None:
    """Every session starts with the schema caches cold: `make mutants` runs a session per mutant in processes
    forked from one that already ran the suite, and a warm cache would hide a mutant of the parsing code."""
    from crizotinib_reports.evidence.schema import forget_parsed_schemas

    forget_parsed_schemas()


def find_seed() -> Path | None:
    """The review the data transcribes: shared/seed/ beside the checkout (as CI lays it out)."""
    for base in (PROJECT_ROOT, *PROJECT_ROOT.parents):
        candidate = base / "shared" / "seed" / "crizotinib-review.txt"
        if candidate.exists():
            return candidate
    return None


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


@pytest.fixture(scope="session")
def seed_text() -> str:
    seed = find_seed()
    if seed is None:
        pytest.fail("the seed review is missing: put crizotinib-review.txt in shared/seed/ beside the checkout "
                    "(as CI lays it out)", pytrace=False)
    return seed.read_text(encoding="utf-8")


#: The shared build's recorded time (2025-12-01 00:00 UTC): fixed, so `verify` can rebuild it byte for byte and
#: no test depends on the day it runs.
SHARED_BUILD_EPOCH = "1764547200"


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """Every report, HTML and PDF, built once by the real CLI with the defaults (the result, read by each user),
    at a fixed recorded build time (SOURCE_DATE_EPOCH).

    Once for the whole session: under pytest-xdist the first worker to ask builds it into the session's shared
    temporary folder, holding a lock, and records the result there; the others wait for it and read the record.
    """
    if "PYTEST_XDIST_WORKER" in os.environ:
        shared = tmp_path_factory.getbasetemp().parent  # the session's folder, above each worker's own
    else:
        shared = tmp_path_factory.getbasetemp()
    output, record = shared / "shared-build", shared / "shared-build.json"
    with FileLock(shared / "shared-build.lock"):
        if not record.exists():
            output.mkdir()
            result = subprocess.run(
                [sys.executable, "-m", "crizotinib_reports.cli", "build", "--output-dir", str(output)],
                capture_output=True, text=True, timeout=900, env={**os.environ, "SOURCE_DATE_EPOCH": SHARED_BUILD_EPOCH})
            record.write_text(json.dumps([result.returncode, result.stdout, result.stderr]), encoding="utf-8")
        returncode, stdout, stderr = json.loads(record.read_text(encoding="utf-8"))
    return output, subprocess.CompletedProcess(["crizotinib-reports", "build"], returncode, stdout, stderr)


@pytest.fixture(scope="session")
def output_dir(built) -> Path:
    """The shared build's output folder; the tests using it fail (not skip) if the build did."""
    output, result = built
    assert result.returncode == 0, f"the shared build failed:\n{result.stdout}\n{result.stderr}"
    return output


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first. `make test` runs a file's tests on one pytest-xdist worker; a long file handed
    out last would leave the other worker idle while it ends, where short unit files fill the end. A file's
    length is guessed from what its tests declare: the time limits of the long ones (each about three times what
    it took), then whether it has end-to-end tests."""
    weight: dict[Path, float] = {}
    for item in items:
        limit = item.get_closest_marker("timeout")
        weight[item.path] = (weight.get(item.path, 0.0) + (float(limit.args[0]) if limit and limit.args else 0.0)
                             + (1.0 if item.get_closest_marker("e2e") else 0.0))
    items.sort(key=lambda item: -weight[item.path])  # stable: each file's own order is kept
