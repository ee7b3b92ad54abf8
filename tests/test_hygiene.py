"""Working on the notebooks the Jupyter way: outputs never reach git, and JupyterLab finds the project's kernel.

The nbstripout pre-commit hook and the git filter strip what running a notebook adds (outputs, counts,
papermill's and JupyterLab's metadata) and keep what the notebooks say about themselves; the kernelspec
`make setup` installs lands where `make lab` looks, and runs the venv's Python.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "crizotinib-reports"
KERNEL_DISPLAY_NAME = "Python 3 (crizotinib-reports)"


def nbstripout_hook() -> dict:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] if repo["repo"] == "local"
             for hook in repo["hooks"] if hook["id"] == "nbstripout"]
    assert len(hooks) == 1, ".pre-commit-config.yaml: expected one local hook with id nbstripout"
    return hooks[0]


def nbstripout_command() -> list[str]:
    """The hook's command as pre-commit runs it (entry, then args, then the files), with the venv's nbstripout."""
    hook = nbstripout_hook()
    assert hook["entry"] == "nbstripout"
    return [sys.executable, "-m", "nbstripout", *hook.get("args", [])]


def pinned(package: str) -> str:
    test_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    [pin] = [requirement for requirement in test_extra if requirement.startswith(f"{package}==")]
    return pin


def make(*arguments: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run(["make", "--no-print-directory", *arguments], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (arguments, result.stderr)
    return result


def as_run_and_saved(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as papermill leaves it, then opened and saved in JupyterLab (or VS Code)."""
    run = copy.deepcopy(notebook)
    run.metadata["papermill"] = {"input_path": "notebooks/x.ipynb", "output_path": "outputs/x.ipynb",
                                 "parameters": {"confidence_level": 0.9}, "duration": 3.2,
                                 "start_time": "2026-11-26T06:00:00", "end_time": "2026-11-26T06:00:03",
                                 "exception": None, "environment_variables": {}, "version": "2.7.0"}
    run.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    run.metadata["language_info"]["version"] = "3.11.7"
    run.metadata["vscode"] = {"interpreter": {"hash": "0" * 64}}
    parameters_at = next(i for i, cell in enumerate(run.cells) if "parameters" in cell.metadata.get("tags", []))
    run.cells.insert(parameters_at + 1, nbformat.v4.new_code_cell(
        "# Parameters\nconfidence_level = 0.9\n", metadata={"tags": ["injected-parameters"]}))
    for count, cell in enumerate(run.cells, start=1):
        if cell.cell_type == "markdown":
            cell.metadata["jp-MarkdownHeadingCollapsed"] = True
            continue
        cell.execution_count = count
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="a line\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=count),
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        ]
        cell.metadata.update({
            "papermill": {"status": "completed", "duration": 0.1, "exception": False,
                          "start_time": "2026-11-26T06:00:01", "end_time": "2026-11-26T06:00:01"},
            "execution": {"iopub.execute_input": "2026-11-26T06:00:01.1Z", "shell.execute_reply": "2026-11-26T06:00:01.2Z"},
            "ExecuteTime": {"end_time": "2026-11-26T06:00:01.2Z"},
            "collapsed": False, "scrolled": True, "trusted": True,
        })
    nbformat.validate(run)
    return run


def with_own_metadata(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with every kind of metadata of its own that stripping must keep."""
    kept = copy.deepcopy(notebook)
    kept.metadata.setdefault("crizotinib_reports", {"report": "a report's own settings"})
    kept.metadata.setdefault("title", "A title")
    kept.metadata["language_info"] |= {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                                       "mimetype": "text/x-python", "nbconvert_exporter": "python",
                                       "pygments_lexer": "ipython3"}
    return kept


def test_the_hook_is_local_and_runs_the_pinned_nbstripout():
    from importlib.metadata import version

    hook = nbstripout_hook()
    assert hook["language"] == "python"
    assert hook["additional_dependencies"] == [pinned("nbstripout")]  # built from PyPI, no hook repository
    assert pinned("nbstripout") == f"nbstripout=={version('nbstripout')}"  # what these tests run
    assert re.search(hook["files"], "notebooks/overview.ipynb") and not re.search(hook["files"], "notebooks/overview.py")
    check = subprocess.run([sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_hook_strips_a_run_and_keeps_the_notebooks_own_metadata(tmp_path):
    expected, copies = {}, []
    for source in NOTEBOOKS:
        expected[source.name] = with_own_metadata(nbformat.read(source, as_version=4))
        target = tmp_path / source.name
        nbformat.write(as_run_and_saved(expected[source.name]), target)
        copies.append(target)
    assert copies, "no notebook in notebooks/"

    result = subprocess.run([*nbstripout_command(), *map(str, copies)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

    for target in copies:
        stripped = nbformat.read(target, as_version=4)
        for cell in stripped.cells:
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None, (target.name, cell.id)
            assert not {"papermill", "execution", "ExecuteTime", "collapsed", "scrolled", "trusted",
                        "jp-MarkdownHeadingCollapsed"} & set(cell.metadata), (target.name, cell.id)
            assert "injected-parameters" not in cell.metadata.get("tags", []), target.name
        assert not {"papermill", "widgets", "vscode"} & set(stripped.metadata), target.name
        assert "version" not in stripped.metadata["language_info"], target.name
        # kernelspec, language_info, title, crizotinib_reports, cell ids, tags and sources: as before the run
        assert stripped == expected[target.name], target.name


def test_every_notebook_is_committed_as_the_filter_commits_it():
    assert NOTEBOOKS, "no notebook in notebooks/"
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None, \
                f"{path.name}: a cell has outputs or an execution count"
        assert "papermill" not in notebook["metadata"], f"{path.name}: papermill's run metadata"
        cleaned = subprocess.run(nbstripout_command(), input=path.read_bytes(), capture_output=True, timeout=60)
        assert cleaned.returncode == 0, cleaned.stderr
        assert cleaned.stdout == path.read_bytes(), \
            f"{path.name} differs from what the git filter stages: run `make setup`, then `git add --renormalize notebooks/`"


def test_gitattributes_names_the_filter_for_notebooks():
    attributes = subprocess.run(["git", "check-attr", "filter", "diff", "--", "notebooks/any.ipynb"],
                                cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert attributes.returncode == 0, attributes.stderr
    assert attributes.stdout.splitlines() == ["notebooks/any.ipynb: filter: nbstripout", "notebooks/any.ipynb: diff: ipynb"]


def test_make_setup_installs_the_git_filter_that_keeps_outputs_out(tmp_path):
    assert "filter.nbstripout.clean" in make("-n", "-B", "setup").stdout

    repo = tmp_path / "checkout"
    (repo / "notebooks").mkdir(parents=True)
    for name in ("Makefile", ".gitattributes"):
        shutil.copy(ROOT / name, repo / name)
    git_env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}

    def git(*arguments: str) -> str:
        result = subprocess.run(["git", *arguments], cwd=repo, env=git_env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (arguments, result.stderr)
        return result.stdout

    git("init", "-q")
    git("add", "Makefile", ".gitattributes")
    git("commit", "-q", "-m", "set-up files")
    venv = Path(sys.executable).parent.parent  # its bin/python runs the pinned nbstripout
    for _ in range(2):  # a second run changes nothing
        make("git-filter", f"VENV={venv}", cwd=repo)
    clean = git("config", "--get-all", "filter.nbstripout.clean").splitlines()
    assert len(clean) == 1
    assert shlex.split(clean[0])[1:] == nbstripout_command()[1:], "the filter's arguments differ from the hook's"
    assert git("config", "--get", "filter.nbstripout.required").strip() == "true"

    source = NOTEBOOKS[0]
    saved = repo / "notebooks" / source.name
    nbformat.write(as_run_and_saved(nbformat.read(source, as_version=4)), saved)
    git("add", f"notebooks/{source.name}")
    staged = git("show", f":notebooks/{source.name}")
    assert staged == source.read_text(encoding="utf-8")  # outputs, counts and run metadata stayed out
    assert any(cell.get("outputs") for cell in nbformat.read(saved, as_version=4).cells)  # the file on disk keeps them

    plain = tmp_path / "unpacked"
    plain.mkdir()
    shutil.copy(ROOT / "Makefile", plain / "Makefile")
    assert "not a git checkout" in make("git-filter", cwd=plain).stdout
    assert not (plain / ".git").exists()


def test_the_kernelspec_make_setup_installs_is_where_make_lab_looks(tmp_path):
    [install] = [shlex.split(line) for line in make("-n", "-B", "setup").stdout.splitlines() if "ipykernel install" in line]
    install = [word for word in install if not word.startswith(">")]  # its output goes to /dev/null
    assert install[0] == ".venv/bin/python" and "--sys-prefix" in install  # into .venv/share/jupyter
    assert install[install.index("--name") + 1] == KERNEL
    assert install[install.index("--display-name") + 1] == KERNEL_DISPLAY_NAME

    [lab] = [shlex.split(line) for line in make("-n", "lab").stdout.splitlines() if line.startswith("JUPYTER_PATH=")]
    assert lab[0] == f"JUPYTER_PATH={ROOT / '.venv' / 'share' / 'jupyter'}"
    assert ("--allow-root" in lab) == (os.getuid() == 0)

    *_, user_install = [shlex.split(line) for line in make("-n", "kernel").stdout.splitlines() if "ipykernel install" in line]
    assert user_install == [word if word != "--sys-prefix" else "--user" for word in install]

    # The same command, with this venv's Python and a scratch prefix in place of .venv.
    prefix = tmp_path / "venv"
    command = [sys.executable, *install[1:install.index("--sys-prefix")], "--prefix", str(prefix)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

    find = ("import json; from jupyter_client.kernelspec import KernelSpecManager as M; m = M(); "
            "print(json.dumps({n: [d, m.get_kernel_spec(n).to_dict()] for n, d in m.find_kernel_specs().items()}))")
    found = subprocess.run([sys.executable, "-c", find], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "JUPYTER_PATH": str(prefix / "share" / "jupyter")})
    assert found.returncode == 0, found.stderr
    specs = json.loads(found.stdout)
    assert KERNEL in specs, sorted(specs)
    resource_dir, spec = specs[KERNEL]
    assert Path(resource_dir) == prefix / "share" / "jupyter" / "kernels" / KERNEL
    assert spec["display_name"] == KERNEL_DISPLAY_NAME
    assert spec["argv"][0] == sys.executable and "ipykernel_launcher" in spec["argv"]
