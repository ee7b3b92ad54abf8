"""Set-up files agree: pyproject pins, environment.yml, the lock, the Makefile and CI."""

from __future__ import annotations

import re
import tomllib

import yaml

from crizotinib_reports.paths import PROJECT_ROOT


def pins(requirements: list[str]) -> dict[str, str]:
    out = {}
    for line in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line.strip())
        assert match, f"not an exact pin: {line!r}"
        out[match.group(1).lower().replace("_", "-")] = match.group(2)
    return out


def pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


def test_environment_yml_lists_the_same_pins():
    project = pyproject()["project"]
    expected = pins(project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str) and "==" in d]
    assert pins(conda) == expected


def test_lock_agrees_with_direct_pins():
    project = pyproject()["project"]
    direct = pins(project["dependencies"] + project["optional-dependencies"]["test"])
    lines = [l for l in (PROJECT_ROOT / "requirements.lock").read_text().splitlines() if l and not l.startswith("#")]
    lock = pins(lines)
    for name, version in direct.items():
        assert lock.get(name) == version, name


def test_ci_runs_the_readme_test_command():
    readme = (PROJECT_ROOT / "README.md").read_text()
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make reports" in readme
    assert re.search(r"^make test$", ci, re.M)


def test_outputs_are_not_committed():
    assert "outputs/" in (PROJECT_ROOT / ".gitignore").read_text().split()


def test_makefile_targets_parse():
    """`make -n` reads the whole Makefile: a broken target would break `make test` in CI."""
    import subprocess

    for target in ("setup", "reports", "test", "lab", "clean", "distclean"):
        result = subprocess.run(["make", "-n", target], cwd=PROJECT_ROOT, capture_output=True, text=True)
        assert result.returncode == 0, (target, result.stderr)
