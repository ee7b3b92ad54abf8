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


#: conda-forge's name for a package whose PyPI name differs (environment.yml says why it uses each).
CONDA_FORGE_TO_PYPI = {
    "great_tables": "great-tables",
    "matplotlib-base": "matplotlib",
    "nbconvert-core": "nbconvert",
}
#: What environment.yml lists from conda-forge without a pin of pyproject's.
CONDA_ONLY = {"python", "pip"}


def environment_yml_pins() -> dict[str, str]:
    """environment.yml's pins under PyPI's names: its conda-forge packages, then its `pip:` section."""
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    conda_lines = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert len(pip_sections) <= 1, "environment.yml: more than one pip section"
    pip_lines = [line for line in (pip_sections[0] if pip_sections else []) if line != "-e ."]
    conda = pins([d for d in conda_lines if re.split(r"[=<>\s]", d)[0] not in CONDA_ONLY])
    to_pypi = {name.lower().replace("_", "-"): pypi for name, pypi in CONDA_FORGE_TO_PYPI.items()}  # as pins() spells
    unused = set(to_pypi) - set(conda)
    assert not unused, f"CONDA_FORGE_TO_PYPI names packages environment.yml no longer lists: {sorted(unused)}"
    from_conda = {to_pypi.get(name, name): version for name, version in conda.items()}
    from_pip = pins(pip_lines)
    both = set(from_conda) & set(from_pip)
    assert not both, f"environment.yml lists {sorted(both)} from conda-forge and from pip"
    return from_conda | from_pip


def test_environment_yml_lists_the_same_pins():
    project = pyproject()["project"]
    expected = pins(project["dependencies"] + project["optional-dependencies"]["test"])
    listed = environment_yml_pins()
    missing = sorted(set(expected) - set(listed))
    extra = sorted(set(listed) - set(expected))
    differing = {name: (listed[name], expected[name]) for name in set(expected) & set(listed)
                 if listed[name] != expected[name]}
    assert not (missing or extra or differing), (
        f"environment.yml against pyproject.toml: missing {missing}, not in pyproject {extra}, "
        f"pins differing (environment.yml, pyproject) {differing}")


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

    for target in ("setup", "reports", "test", "lab", "kernel", "git-filter", "clean", "distclean"):
        result = subprocess.run(["make", "-n", target], cwd=PROJECT_ROOT, capture_output=True, text=True)
        assert result.returncode == 0, (target, result.stderr)
