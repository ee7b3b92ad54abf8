"""`crizotinib-reports verify`: do a build's (or a run's) files still match its manifest, and does a rebuild
from the recorded inputs, at the recorded build time, give the same bytes?

Three steps, cheapest first:

1. every file the manifest (and SHA256SUMS) lists is hashed on disk: a missing or tampered file is named at once;
2. the inputs the manifest records are compared with what is here now (notebooks, data files, the package's
   code, the versions of what executes and renders): a difference is named and verify stops (exit 2), since a
   rebuild from other inputs proves nothing;
3. unless --no-rebuild, every report is executed again into a temporary folder (removed afterwards) with the
   recorded parameters and build time (SOURCE_DATE_EPOCH), through the same Builder as `build`, and each
   output is compared with its recorded SHA-256.

Exit codes: 0 everything matches; 1 a file differs (named, with the first differing cell or line where it
has any); 2 the inputs changed since the build, or no manifest to verify.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..build_time import epoch_time
from ..exceptions import UsageError
from ..paths import PROJECT_ROOT, display_path
from .files import SHA256SUMS, sha256_file
from .outputs import CURRENT, MANIFEST_NAME

#: Exit codes.
MATCH, DIFFERS, INPUTS_CHANGED = 0, 1, 2


@dataclass
class Verdict:
    """What verify found: one line per problem, and the exit code they add up to."""

    files_checked: int = 0
    differs: list[str] = field(default_factory=list)  # outputs that do not match (exit 1)
    inputs: list[str] = field(default_factory=list)  # inputs changed since the build (exit 2)
    notes: list[str] = field(default_factory=list)  # said, but not failures (a report whose last build failed)
    rebuilt: int = 0

    @property
    def exit_code(self) -> int:
        return INPUTS_CHANGED if self.inputs else DIFFERS if self.differs else MATCH


def read_manifest(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The folder the manifest describes (a build's tree or a run folder) and the manifest's entries we wrote."""
    from .build import load_manifest

    manifest_file = Path(folder) / MANIFEST_NAME
    if not manifest_file.is_file():
        raise UsageError(f"no {MANIFEST_NAME} in {display_path(Path(folder))}: give a build's output folder "
                         f"(--output-dir) or a run folder (outputs/runs/<run id>)")
    base = manifest_file.resolve().parent  # outputs/manifest.json -> current/manifest.json: one tree throughout
    manifest = load_manifest(base)
    if not manifest["reports"]:
        raise UsageError(f"{display_path(manifest_file)} lists no report to verify")
    return base, manifest


def recorded_path(text: str) -> Path:
    """A folder as the manifest names it (display_path: relative to where the build ran, or to the project)."""
    path = Path(text)
    if path.is_absolute():
        return path
    for base in (Path.cwd(), PROJECT_ROOT):
        if (base / path).exists():
            return base / path
    return PROJECT_ROOT / path


def expected_hashes(base: Path, manifest: dict[str, Any]) -> dict[str, str]:
    """Every file with its recorded SHA-256, relative to `base`: each report's outputs from the manifest, then
    whatever SHA256SUMS adds (the manifest itself; in a run folder the combined PDF, run.json, data/)."""
    expected = {f"{folder}/{name}": record.get("sha256", "")
                for folder, entry in manifest["reports"].items() for name, record in entry["outputs"].items()}
    sums = base / SHA256SUMS
    if sums.is_file():
        for line in sums.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            if name and ".." not in Path(name).parts and not Path(name).is_absolute():
                expected.setdefault(name, digest)
    return expected


def check_files(folder: Path, base: Path, manifest: dict[str, Any], verdict: Verdict) -> None:
    for name, digest in sorted(expected_hashes(base, manifest).items()):
        path = base / name
        verdict.files_checked += 1
        shown = display_path(Path(folder) / name)
        if not path.is_file():
            verdict.differs.append(f"{shown} is missing")
        elif sha256_file(path) != digest:
            verdict.differs.append(f"{shown} does not match its recorded SHA-256 (changed since the build)")


def _file_state(path: Path, digest: str) -> str | None:
    """Why a recorded input is not as recorded, or None."""
    if not path.is_file():
        return f"{display_path(path)} is missing (recorded in the manifest)"
    if sha256_file(path) != digest:
        return f"{display_path(path)} changed since the build"
    return None


def check_inputs(base: Path, manifest: dict[str, Any], verdict: Verdict, data_dir: Path | None,
                 notebook_dir: Path | None) -> None:
    """Each built report's recorded inputs against what is here now; each difference named once."""
    from .inputs import package_code_hash, package_versions

    found: dict[str, None] = {}
    installed = package_versions()
    for folder, entry in built_entries(manifest, verdict).items():
        inputs = entry.get("inputs") or {}
        for name, version in sorted((inputs.get("versions") or {}).items()):
            if installed.get(name) != version:
                now = f"{name} {installed[name]} installed" if name in installed else f"{name} not tracked now"
                found[f"{now}, {version} recorded"] = None
        if inputs.get("code") != package_code_hash():
            found["the crizotinib_reports package's code or templates changed since the build"] = None
        notebook = entry_notebook(entry, notebook_dir)
        problem = _file_state(notebook, inputs.get("notebook", ""))
        if problem:
            found[problem] = None
        data = entry_data_dir(entry, data_dir)
        for name, digest in sorted((inputs.get("data") or {}).items()):
            problem = _file_state(data / name, digest)
            if problem:
                found[problem] = None
        for parameter, digest in sorted((inputs.get("files") or {}).items()):
            problem = _file_state(base / str(entry["parameters"].get(parameter)), digest)
            if problem:
                found[f"{problem} ({folder}'s {parameter})"] = None
        if not isinstance(entry.get("source_date_epoch"), int):
            found[f"{folder}: the manifest records no build time (built by an older version); build it again "
                  f"to verify it"] = None
    verdict.inputs.extend(found)


def built_entries(manifest: dict[str, Any], verdict: Verdict | None = None) -> dict[str, dict[str, Any]]:
    """The entries whose outputs their recorded inputs made (not a failed build's kept older outputs)."""
    entries = {}
    for folder, entry in manifest["reports"].items():
        if entry.get("status") == "built":
            entries[folder] = entry
        elif verdict is not None:
            verdict.notes.append(f"{folder}: not re-executed: its last build recorded it as {entry.get('status')!r}")
    return entries


def entry_notebook(entry: dict[str, Any], notebook_dir: Path | None) -> Path:
    recorded = Path(entry["notebook"]["path"])
    return (notebook_dir / recorded.name) if notebook_dir else recorded_path(str(recorded))


def entry_data_dir(entry: dict[str, Any], data_dir: Path | None) -> Path:
    return data_dir if data_dir else recorded_path(entry["data"]["dir"])


def rebuild(base: Path, manifest: dict[str, Any], verdict: Verdict, data_dir: Path | None,
            notebook_dir: Path | None, jobs: int | None, progress: Any) -> None:
    """Execute every built report again in a temporary folder at its recorded build time; compare bytes."""
    from .build import Builder
    from .portfolio import get_report
    from .variants import Target

    groups: dict[tuple, list[tuple[str, dict[str, Any]]]] = {}
    for folder, entry in built_entries(manifest).items():
        key = (entry["source_date_epoch"], entry_data_dir(entry, data_dir),
               entry_notebook(entry, notebook_dir).parent, tuple(entry["inputs"].get("formats") or ()))
        groups.setdefault(key, []).append((folder, entry))
    scratch = Path(tempfile.mkdtemp(prefix="crizotinib-verify-"))
    try:
        for number, ((epoch, data, notebooks, formats), entries) in enumerate(groups.items()):
            progress.message(f"re-executing {len(entries)} report(s) with the recorded build time "
                             f"{epoch_time(epoch).isoformat()} (SOURCE_DATE_EPOCH={epoch})")
            output = scratch / str(number)
            builder = Builder(data_dir=data, output_dir=output, formats=formats, notebook_dir=notebooks,
                              progress=progress, jobs=jobs, source_date_epoch=epoch)
            targets = []
            for folder, entry in entries:
                report = get_report(entry["report"], notebooks)
                files = set((entry["inputs"].get("files") or {}))
                values = {k: (str(base / v) if k in files else v) for k, v in entry["parameters"].items()
                          if k != "data_dir"}
                targets.append(Target(report, report.resolve({**values, "data_dir": str(data)}), folder))
            results = {r.folder: r for r in builder.build_targets(targets, force=True)}
            for folder, entry in entries:
                result = results.get(folder)
                if result is None or not result.ok:
                    verdict.differs.append(f"{folder}: re-executing it failed: {result.error if result else 'not built'}")
                    continue
                verdict.rebuilt += 1
                for name, record in sorted(entry["outputs"].items()):
                    again = output / CURRENT / folder / name
                    if not again.is_file():
                        verdict.differs.append(f"{folder}/{name}: not written by the rebuild")
                    elif sha256_file(again) != record.get("sha256"):
                        where = first_difference(base / folder / name, again)
                        verdict.differs.append(f"{folder}/{name} differs when rebuilt" + (f" ({where})" if where else ""))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def first_difference(recorded: Path, rebuilt: Path) -> str:
    """Where two versions of an output first differ: the cell of a notebook, the line of a text file."""
    try:
        if recorded.suffix == ".ipynb":
            old, new = (json.loads(p.read_text(encoding="utf-8")) for p in (recorded, rebuilt))
            if old.get("metadata") != new.get("metadata"):
                return "notebook metadata"
            for index, (a, b) in enumerate(zip(old["cells"], new["cells"]), start=1):
                if a != b:
                    kinds = [k for k in ("source", "outputs", "metadata", "id") if a.get(k) != b.get(k)]
                    return f"first at cell {index}: {', '.join(kinds) or 'cell'}"
            return f"{len(old['cells'])} cells recorded, {len(new['cells'])} rebuilt"
        if recorded.suffix in (".html", ".csv", ".md", ".json"):
            old_lines = recorded.read_text(encoding="utf-8").splitlines()
            new_lines = rebuilt.read_text(encoding="utf-8").splitlines()
            for number, (a, b) in enumerate(zip(old_lines, new_lines), start=1):
                if a != b:
                    return f"first at line {number}"
            return f"{len(old_lines)} lines recorded, {len(new_lines)} rebuilt"
    except (OSError, ValueError, KeyError):
        return ""
    return ""


def verify(folder: Path, *, rebuild_reports: bool = True, data_dir: Path | None = None,
           notebook_dir: Path | None = None, jobs: int | None = None, progress: Any = None,
           say: Callable[[str], None] = print) -> int:
    """Verify a build's output folder or a run folder; say each finding; return the exit code."""
    from .progress import LogLines

    progress = progress or LogLines(timestamps=False)
    base, manifest = read_manifest(folder)
    verdict = Verdict()
    check_files(folder, base, manifest, verdict)
    check_inputs(base, manifest, verdict, data_dir, notebook_dir)
    if rebuild_reports and not verdict.inputs and not verdict.differs:
        rebuild(base, manifest, verdict, data_dir, notebook_dir, jobs, progress)
    for line in verdict.notes + verdict.differs + verdict.inputs:
        say(line)
    shown = display_path(Path(folder))
    if verdict.inputs:
        say(f"{shown}: inputs changed since the build: not re-executed (exit 2)")
    elif verdict.differs:
        say(f"{shown}: {len(verdict.differs)} file(s) do not match (exit 1)")
    elif rebuild_reports:
        say(f"{shown}: verified: {verdict.files_checked} files match the manifest, inputs as recorded, "
            f"{verdict.rebuilt} report(s) re-executed with identical outputs")
    else:
        say(f"{shown}: {verdict.files_checked} files match the manifest, inputs as recorded (not re-executed: "
            f"--no-rebuild)")
    return verdict.exit_code
