"""The package's shape: the evidence never reaches the publisher, and importing any module does no I/O.

Both are read from the source (imports as written, file opens as they happen), so a move that breaks
either fails here rather than in a review.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import crizotinib_reports

PACKAGE_DIR = Path(crizotinib_reports.__file__).parent
PACKAGE = "crizotinib_reports"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The package's own modules a file imports, relative imports resolved, function bodies included."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            # `from . import figures` names modules, not attributes.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    modules = {module_name(p) for p in PACKAGE_DIR.rglob("*.py")}
    return {m for m in found if m in modules}


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): imported_modules(path) for path in PACKAGE_DIR.rglob("*.py")}


def reachable(graph: dict[str, set[str]], start: set[str]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    return seen


def evidence_modules(graph):
    return {m for m in graph if m == f"{PACKAGE}.evidence" or m.startswith(f"{PACKAGE}.evidence.")}


def test_the_graph_sees_the_imports_it_must_see():
    graph = import_graph()
    # The reader is not blind: known edges of both wings are found, relative and absolute.
    assert f"{PACKAGE}.evidence.data" in graph[f"{PACKAGE}.evidence.tables"]
    assert f"{PACKAGE}.publish.build" in graph[f"{PACKAGE}.cli"]
    assert f"{PACKAGE}.evidence.data" in reachable(graph, {f"{PACKAGE}.publish.build"})


def test_the_evidence_never_imports_the_publisher():
    graph = import_graph()
    start = evidence_modules(graph)
    assert len(start) >= 8
    reached = reachable(graph, start)
    wrong = sorted(m for m in reached if m.startswith(f"{PACKAGE}.publish") or m in {f"{PACKAGE}.cli", f"{PACKAGE}.notebook"})
    assert not wrong, f"the evidence reaches {wrong}"


def test_the_rule_would_catch_a_wrong_import():
    graph = import_graph()
    graph[f"{PACKAGE}.evidence.text"] = graph[f"{PACKAGE}.evidence.text"] | {f"{PACKAGE}.publish.render"}
    reached = reachable(graph, evidence_modules(graph))
    assert f"{PACKAGE}.publish.render" in reached


IMPORT_EVERYTHING = r"""
import importlib, json, os, pkgutil, sys, sysconfig
import crizotinib_reports
ours = os.path.dirname(crizotinib_reports.__file__) + os.sep
stdlib = sysconfig.get_paths()["stdlib"] + os.sep
found, importing = [], False

def culprit():
    # The first frame outside the standard library did the I/O: the package's own module-level code, or a
    # third-party library's (not ours to judge). Past the import machinery, a module is being loaded: not ours.
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(ours):
            return f"{os.path.relpath(name, ours)}:{frame.f_lineno}"
        if name.startswith("<frozen importlib") or not (name.startswith(stdlib) and "-packages" not in name):
            return None
        frame = frame.f_back
    return None

def audit(event, args):
    if importing and event in {"open", "subprocess.Popen", "socket.connect", "os.mkdir", "os.remove",
                               "os.rename", "shutil.rmtree", "os.listdir", "os.scandir"}:
        where = culprit()
        if where:
            found.append([where, event, str(args[0]) if args else ""])

sys.addaudithook(audit)
names = [m.name for m in pkgutil.walk_packages(crizotinib_reports.__path__, "crizotinib_reports.")]
importing = True
for name in names:
    importlib.import_module(name)
imports_found, found = found, []
# The check's own check: code run as if it were a module of the package must be seen.
exec(compile(sys.argv[1], ours + "probe.py", "exec"), {})
importing = False
print(json.dumps({"modules": names, "io": imports_found, "probe": found}))
"""


PROBE = "import os, pathlib\npathlib.Path(os.devnull).read_text()\nos.listdir('.')"


@pytest.fixture(scope="module")
def import_io(tmp_path_factory) -> dict:
    done = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING, PROBE], capture_output=True, text=True,
                          cwd=tmp_path_factory.mktemp("imports"), timeout=110)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_any_module_opens_no_file_starts_no_process(import_io):
    assert f"{PACKAGE}.publish.build" in import_io["modules"] and f"{PACKAGE}.evidence.figures" in import_io["modules"]
    assert import_io["io"] == []


def test_the_import_check_sees_module_level_io(import_io):
    assert [(event, what) for _, event, what in import_io["probe"]] == [("open", os.devnull), ("os.listdir", ".")]
    assert {where for where, _, _ in import_io["probe"]} == {"probe.py:2", "probe.py:3"}
