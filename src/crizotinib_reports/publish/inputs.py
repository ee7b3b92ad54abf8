"""What a report is built from, as content hashes, and why a report must be built again.

A report's output is a function of its notebook, its parameters, the data tables it declares
(reports.py), the package's own code and templates, and the versions of what executes and
renders it. The build records these inputs in the manifest and skips a report whose inputs
are all unchanged; otherwise it names what changed. Only the standard library is imported
here, so deciding that nothing needs building takes a fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from .. import __version__
from ..paths import PACKAGE_DIR, SCHEMA_FILE_NAME
from .files import sha256_file

#: Packages whose version can change what a report shows or how it renders.
TRACKED_PACKAGES = ("papermill", "nbconvert", "nbclient", "ipykernel", "pandas", "numpy", "matplotlib", "seaborn",
                    "great-tables", "pandera", "statsmodels", "scipy", "weasyprint")
#: Package files that shape a report: code, stylesheet, templates (not caches).
CODE_SUFFIXES = {".py", ".css", ".j2", ".json", ".yaml"}


@dataclass(frozen=True)
class DataSnapshot:
    """The data one build (or one run) reads: copied once, hashed once, read by every report of it.

    Reports of one build never see two versions of a file, even when someone edits data/ while
    the build runs, and the hashes the manifest records are those of the bytes the reports read.
    """

    source: Path  # the data folder as given (what the manifest and the reports name)
    folder: Path  # the private copy, in the build's scratch space
    hashes: dict[str, str]  # file name -> SHA-256, for every CSV and schema.yaml

    @classmethod
    def take(cls, source: Path, folder: Path) -> "DataSnapshot":
        from ..input_files import DATA_FILE_LIMIT, check_data_dir, read_input_bytes

        check_data_dir(Path(source))
        folder.mkdir(parents=True)
        hashes = {}
        for path in data_files(source):
            data = read_input_bytes(path, limit=DATA_FILE_LIMIT, what="data file")
            (folder / path.name).write_bytes(data)
            hashes[path.name] = hashlib.sha256(data).hexdigest()
        return cls(Path(source), folder, hashes)

    def hashes_of(self, tables: Iterable[str] | None = None) -> dict[str, str]:
        """The hashes of the declared tables (or all) and schema.yaml, from the snapshot."""
        if tables is None:
            return dict(self.hashes)
        names = [f"{t}.csv" for t in sorted(tables)] + [SCHEMA_FILE_NAME]
        return {name: self.hashes[name] for name in names if name in self.hashes}


def data_files(data_dir: Path) -> list[Path]:
    """The files a data folder contributes: its CSV tables and schema.yaml (what a snapshot copies)."""
    data_dir = Path(data_dir)
    files = sorted(p for p in data_dir.glob("*.csv"))
    if (data_dir / SCHEMA_FILE_NAME).exists() or (data_dir / SCHEMA_FILE_NAME).is_symlink():
        files.append(data_dir / SCHEMA_FILE_NAME)
    return files


@cache
def package_code_hash() -> str:
    """One hash over the package's code, stylesheet and templates: any edit rebuilds every report."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.is_file() and path.suffix in CODE_SUFFIXES and "__pycache__" not in path.parts:
            digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "crizotinib-reports": __version__}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def report_inputs(notebook_sha256: str, parameters: dict[str, Any], data_hashes: dict[str, str],
                  formats: Iterable[str], files: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything a report's outputs depend on, as recorded in the manifest. A file parameter (`files`:
    parameter -> path) is recorded by its name and content hash, not where it lay during the build."""
    files = {name: Path(path) for name, path in (files or {}).items() if path}
    parameters = {**parameters, **{name: path.name for name, path in files.items()}}
    return {
        "notebook": notebook_sha256,
        "parameters": json.loads(json.dumps(parameters, sort_keys=True, default=str)),
        **({"files": {name: sha256_file(path) for name, path in files.items()}} if files else {}),
        "data": data_hashes,
        "code": package_code_hash(),
        "versions": package_versions(),
        "formats": sorted(formats),
    }


#: Why a report is built again when its last build did not finish it, by the status that build recorded.
UNFINISHED_REASONS = {"failed": "failed last time", "skipped": "skipped last time (--fail-fast)"}


def build_reasons(entry: dict[str, Any] | None, current: dict[str, Any], outputs_present: bool,
                  force: bool = False) -> list[str]:
    """Why a report must be built now, from its manifest entry; empty when its outputs can be kept.

    A report whose last build failed or was skipped is built again whatever its inputs: its entry
    records the inputs that build was asked for, not those of the older outputs kept in its place,
    so comparing inputs alone would call it unchanged and hide the failure from the next build.
    """
    if force:
        return ["--force"]
    if not entry:
        return ["not built before"]
    status = entry.get("status")
    if status != "built":
        return [UNFINISHED_REASONS.get(status, f"last build recorded it as {status!r}, not built")]
    if not outputs_present:
        return ["outputs missing"]
    return rebuild_reasons(entry.get("inputs"), current)


def rebuild_reasons(previous: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """Why a report must be built again; empty when its recorded inputs match the current ones."""
    if not previous:
        return ["not built before"]
    reasons = []
    if previous.get("notebook") != current["notebook"]:
        reasons.append("notebook changed")
    if previous.get("parameters") != current["parameters"]:
        changed = sorted(k for k in set(current["parameters"]) | set(previous.get("parameters") or {})
                         if (previous.get("parameters") or {}).get(k) != current["parameters"].get(k))
        reasons.append(f"parameters changed: {', '.join(changed)}")
    old_data = previous.get("data") or {}
    changed_data = sorted(name for name in set(old_data) | set(current["data"])
                          if old_data.get(name) != current["data"].get(name))
    if changed_data:
        reasons.append(f"data changed: {', '.join(changed_data)}")
    if previous.get("code") != current["code"]:
        reasons.append("package code changed")
    old_versions = previous.get("versions") or {}
    changed_versions = [f"{name} {old_versions.get(name)} -> {version}" for name, version in current["versions"].items()
                        if old_versions.get(name) != version]
    if changed_versions:
        reasons.append(f"versions changed: {', '.join(changed_versions)}")
    missing = sorted(set(current["formats"]) - set(previous.get("formats") or []))
    if missing:
        reasons.append(f"format not built before: {', '.join(missing)}")
    return reasons
