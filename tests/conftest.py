"""Shared fixtures: a private copy of the data to break, the seed review the data transcribes, and the one full
build of every report that the end-to-end, browser and combine tests all read (built once per session)."""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
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
    """Every session starts with the schema caches (parsed schemas, checked tables) cold: `make mutants` runs a
    session per mutant in processes forked from one that already ran the suite, and a warm cache would hide a
    mutant of the checking code."""
    from crizotinib_reports.evidence.schema import forget_schema_caches

    forget_schema_caches()


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


#: How long the shared build may take (a full build is ~30 s on a quiet 2-core machine, 2-3 times that under load).
SHARED_BUILD_TIMEOUT = 900
SHARED_BUILD_USERS = {"built", "output_dir"}


def _shared_folder(tmp_path_factory) -> Path:
    """The session's temporary folder, above each pytest-xdist worker's own (every worker sees the same one)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


@pytest.fixture(scope="session", autouse=True)
def shared_build_started(request, tmp_path_factory):
    """Start the shared build in the background as soon as the session begins, when any of its tests needs it:
    the workers run other tests while it builds, where they used to wait for it, one of them idle. The first
    worker starts it (holding a lock); at the session's end the worker that started it waits for it, since
    another may still be reading it, and an interrupted session (Ctrl-C reaches its process group) ends it."""
    if not any(SHARED_BUILD_USERS & set(item.fixturenames) for item in request.session.items):
        yield
        return
    shared = _shared_folder(tmp_path_factory)
    with FileLock(shared / "shared-build.lock"):
        if (shared / "shared-build").exists():
            yield
            return
        (shared / "shared-build").mkdir()
        build = subprocess.Popen([sys.executable, str(Path(__file__).parent / "support" / "shared_build.py"),
                                  str(shared / "shared-build"), str(shared / "shared-build.json"), SHARED_BUILD_EPOCH,
                                  str(SHARED_BUILD_TIMEOUT)])
    try:
        yield
    finally:
        try:
            build.wait(timeout=SHARED_BUILD_TIMEOUT + 60)
        except subprocess.TimeoutExpired:
            build.kill()
            build.wait()


@pytest.fixture(scope="session")
def built(tmp_path_factory, shared_build_started) -> tuple[Path, subprocess.CompletedProcess]:
    """Every report, HTML and PDF, built once by the real CLI with the defaults (the result, read by each user),
    at a fixed recorded build time (SOURCE_DATE_EPOCH).

    Once for the whole session, started in the background (`shared_build_started`) into the session's shared
    temporary folder; each worker that needs it waits for its record (exit status and output) there.
    """
    shared = _shared_folder(tmp_path_factory)
    output, record = shared / "shared-build", shared / "shared-build.json"
    deadline = time.monotonic() + SHARED_BUILD_TIMEOUT + 60
    while not record.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the shared build wrote no record in {SHARED_BUILD_TIMEOUT + 60} s", pytrace=False)
        time.sleep(0.2)
    returncode, stdout, stderr = json.loads(record.read_text(encoding="utf-8"))
    return output, subprocess.CompletedProcess(["crizotinib-reports", "build"], returncode, stdout, stderr)


@pytest.fixture(scope="session")
def output_dir(built) -> Path:
    """The shared build's output folder; the tests using it fail (not skip) if the build did."""
    output, result = built
    assert result.returncode == 0, f"the shared build failed:\n{result.stdout}\n{result.stderr}"
    return output


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first, those that read the shared build after the others: the workers run what does not
    need it while it builds (a file that waits for it at the start holds its worker idle), and a long file handed
    out last would leave the other worker idle while it ends, where short unit tests fill the end. A file's
    length is guessed from what its tests declare: the time limits of the long ones (each about three times what
    it took), then whether it has end-to-end tests."""
    weight: dict[Path, float] = {}
    reads_the_shared_build: set[Path] = set()
    for item in items:
        limit = item.get_closest_marker("timeout")
        weight[item.path] = (weight.get(item.path, 0.0) + (float(limit.args[0]) if limit and limit.args else 0.0)
                             + (1.0 if item.get_closest_marker("e2e") else 0.0))
        if SHARED_BUILD_USERS & set(item.fixturenames):
            reads_the_shared_build.add(item.path)

    def order(item: pytest.Item) -> tuple[int, float]:
        tier = 1 if item.path in reads_the_shared_build else 0 if weight[item.path] else 2
        return tier, -weight[item.path]

    items.sort(key=order)  # stable: each file's own order is kept


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's, which `-p no:xdist` leaves out
def pytest_xdist_make_scheduler(config, log):
    """`make test`'s scheduling (`-n auto --dist loadgroup`): each test goes to whichever pytest-xdist worker is
    free, except the tests of a file that makes something once for several of its tests (a build, a layout, a
    kernel): those go together to one worker, which makes it once. Units are handed out in the collection's
    order (longest files first), not biggest first. This decides the groups itself: pytest 9 no longer carries
    the `xdist_group` marks that `loadgroup` reads (pytest-dev/pytest-xdist#1386)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedWorkScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return file if _shares_work_between_tests(config.rootpath / file) else nodeid

    config.option.loadscopereorder = False
    return SharedWorkScheduling(config, log)


@functools.cache
def _shares_work_between_tests(path: Path) -> bool:
    """Whether a test file makes something once for several of its tests: a fixture scoped to its module or a
    class, or a function of its own that caches its results (functools.cache, lru_cache)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return True  # a file we cannot read keeps its tests together, as `--dist loadfile` would
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in map(ast.unparse, node.decorator_list):
                if re.search(r"scope=['\"](module|class)['\"]|^(functools\.)?(cache|lru_cache)\b", decorator):
                    return True
    return False
