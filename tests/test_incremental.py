"""Fast builds: parameter sweeps and their folders, what counts as a changed input, skipping the rest."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.exceptions import UsageError
from crizotinib_reports.publish.files import sha256_file
from crizotinib_reports.evidence.data import data_file_hashes
from crizotinib_reports.publish.build import Builder
from crizotinib_reports.publish.inputs import build_reasons, rebuild_reasons, report_inputs
from crizotinib_reports.publish.outputs import BUILDS, CURRENT, MANIFEST_NAME
from crizotinib_reports.publish.progress import LogLines
from crizotinib_reports.paths import DATA_DIR, NOTEBOOK_DIR
from crizotinib_reports.evidence.data import TABLE_NAMES as ALL_TABLES
from crizotinib_reports.publish.portfolio import get_report, portfolio

REPORTS = portfolio()
from crizotinib_reports.publish.variants import expand_targets, read_variants_file, variant_folder
from support.cli import cli
from support.stand_ins import stand_in_folder


def folders(targets) -> list[str]:
    return [t.folder for t in targets]


# --- sweeps and folders ---------------------------------------------------------------------------

def test_comma_or_repeated_flag_sweeps_a_parameter():
    activity = [get_report("clinical_activity")]
    by_comma = expand_targets(activity, ["setting=first-line,second-line", "ci_method=exact,wilson"], DATA_DIR)
    assert folders(by_comma) == ["clinical_activity--setting-first-line",
                                 "clinical_activity--ci_method-wilson--setting-first-line",
                                 "clinical_activity--setting-second-line",
                                 "clinical_activity--ci_method-wilson--setting-second-line"]
    by_flag = expand_targets(activity, ["setting=first-line", "setting=second-line", "ci_method=exact,wilson"],
                             DATA_DIR)
    assert folders(by_flag) == folders(by_comma)
    assert by_comma[1].variant == {"ci_method": "wilson", "setting": "first-line"}


def test_the_default_set_keeps_the_report_name_and_duplicates_collapse():
    targets = expand_targets([get_report("clinical_relapses")], ["time_unit=months,years,months"], DATA_DIR)
    assert folders(targets) == ["clinical_relapses", "clinical_relapses--time_unit-years"]
    assert targets[0].variant == {}


def test_a_list_parameter_keeps_its_commas_and_sweeps_by_repeating():
    landscape = [get_report("alk_inhibitor_landscape")]
    one = expand_targets(landscape, ["drugs=alectinib,brigatinib"], DATA_DIR)
    assert folders(one) == ["alk_inhibitor_landscape--drugs-alectinib-brigatinib"]
    two = expand_targets(landscape, ["drugs=alectinib", "drugs=lorlatinib"], DATA_DIR)
    assert [t.parameters["drugs"] for t in two] == ["alectinib", "lorlatinib"]
    with pytest.raises(UsageError, match="would share the folder"):
        expand_targets(landscape, ["drugs=alectinib,brigatinib", "drugs=alectinib, brigatinib"], DATA_DIR)


def test_folder_names_are_safe_and_bounded():
    report = get_report("clinical_activity")
    values = {**report.defaults(), "confidence_level": 0.9, "include_single_arm": False}
    assert variant_folder(report, values) == "clinical_activity--confidence_level-0.9--include_single_arm-false"
    many = {**values, "setting": "second-line", "show_pooled_orr": False, "ci_method": "wilson"}
    name = variant_folder(report, many)
    assert len(name) <= 120 and name.startswith("clinical_activity--")
    assert name != variant_folder(report, {**many, "confidence_level": 0.8})


def test_sweep_values_are_each_checked():
    with pytest.raises(UsageError, match="must be one of all, first-line, second-line"):
        expand_targets([get_report("clinical_activity")], ["setting=first-line,third-line"], DATA_DIR)


def test_variants_file(tmp_path):
    reports = [get_report("clinical_activity"), get_report("clinical_relapses")]
    good = tmp_path / "variants.yaml"
    good.write_text("clinical_activity:\n  - {setting: first-line}\n  - {setting: second-line, ci_method: wilson}\n")
    variants = read_variants_file(good, reports)
    targets = expand_targets(reports, ["confidence_level=0.9"], DATA_DIR, variants)
    assert folders(targets) == ["clinical_activity--confidence_level-0.9--setting-first-line",
                                "clinical_activity--confidence_level-0.9--ci_method-wilson--setting-second-line",
                                "clinical_relapses"]  # it has no confidence_level: its default set
    for text, message in [("overview:\n  - {}\n", "not one of the reports being built"),
                          ("clinical_activity: {setting: all}\n", "expected a list of parameter mappings"),
                          ("clinical_activity:\n  - {setting: third}\n", "must be one of"),
                          ("clinical_activity:\n  - {colour: red}\n", "has no parameter 'colour'"),
                          ("clinical_activity: [\n", "not valid YAML"),
                          ("- a\n", "expected a mapping")]:
        good.write_text(text)
        with pytest.raises(UsageError, match=message):
            read_variants_file(good, reports)
    with pytest.raises(UsageError, match="cannot read"):
        read_variants_file(tmp_path / "missing.yaml", reports)


# --- inputs and reasons ---------------------------------------------------------------------------

def _inputs(data_dir: Path, tables=("sources", "trials"), **parameters) -> dict:
    return report_inputs(sha256_file(NOTEBOOK_DIR / "overview.ipynb"), {"confidence_level": 0.95, **parameters},
                         data_file_hashes(data_dir, tables), ("html", "pdf"))


def test_reasons_name_what_changed(data_copy):
    before = _inputs(data_copy)
    assert rebuild_reasons(before, _inputs(data_copy)) == []
    assert rebuild_reasons(None, before) == ["not built before"]
    assert rebuild_reasons(before, _inputs(data_copy, confidence_level=0.9)) == ["parameters changed: confidence_level"]
    with open(data_copy / "trials.csv", "a", encoding="utf-8") as handle:
        handle.write("\n")
    assert rebuild_reasons(before, _inputs(data_copy)) == ["data changed: trials.csv"]
    # A table the report does not declare is not one of its inputs.
    with open(data_copy / "approvals.csv", "a", encoding="utf-8") as handle:
        handle.write("\n")
    assert rebuild_reasons(before, _inputs(data_copy)) == ["data changed: trials.csv"]
    older = {**before, "versions": {**before["versions"], "pandas": "2.0.0"}, "code": "0" * 64,
             "notebook": "0" * 64, "formats": ["html"]}
    assert rebuild_reasons(older, before) == [
        "notebook changed", "package code changed", f"versions changed: pandas 2.0.0 -> {before['versions']['pandas']}",
        "format not built before: pdf"]
    # Outputs that hold more formats than asked for are still current.
    assert rebuild_reasons(before, {**before, "formats": ["html"]}) == []


def test_a_report_the_last_build_did_not_finish_is_built_again_whatever_its_inputs(data_copy):
    inputs = _inputs(data_copy)
    built = {"status": "built", "inputs": inputs}
    assert build_reasons(built, inputs, outputs_present=True) == []
    # Its entry records the inputs that build was asked for; the outputs kept are older.
    assert build_reasons({**built, "status": "failed"}, inputs, outputs_present=True) == ["failed last time"]
    assert build_reasons({**built, "status": "skipped"}, inputs, outputs_present=True) == [
        "skipped last time (--fail-fast)"]
    assert build_reasons({**built, "status": None}, inputs, outputs_present=True) == [
        "last build recorded it as None, not built"]
    assert build_reasons(built, inputs, outputs_present=False) == ["outputs missing"]
    assert build_reasons(None, inputs, outputs_present=False) == ["not built before"]
    assert build_reasons({**built, "status": "failed"}, inputs, outputs_present=True, force=True) == ["--force"]
    assert build_reasons(built, _inputs(data_copy, confidence_level=0.9), outputs_present=True) == [
        "parameters changed: confidence_level"]


PREVIOUS_BUILD = "20261202T060000123456Z-4242"


def _plan_after(tmp_path: Path, status: str, files: dict[str, bytes], recorded: dict[str, int] | None = None) -> list[str]:
    """Why the build would rebuild clinical_relapses after a build that left it with `status` and `files`.

    The previous build is written as the builder writes one (a tree under .builds, `current`, a manifest
    recording the inputs the builder computes now and each file's size), and nothing is executed.
    """
    out = tmp_path / "out"
    builder = Builder(output_dir=out, formats=("html",), progress=LogLines(timestamps=False))
    targets = builder.targets(["clinical_relapses"], [])
    with builder.session() as session:
        (fresh,) = builder.plan(targets, session)
    assert fresh.reasons == ["not built before"]
    tree = out / BUILDS / PREVIOUS_BUILD
    (tree / "clinical_relapses").mkdir(parents=True)
    for name, data in files.items():
        (tree / "clinical_relapses" / name).write_bytes(data)
    sizes = recorded or {name: len(data) for name, data in files.items()}
    entry = {"report": "clinical_relapses", "status": status, "inputs": fresh.inputs,
             "outputs": {name: {"bytes": size} for name, size in sizes.items()}}
    (tree / MANIFEST_NAME).write_text(json.dumps({"reports": {"clinical_relapses": entry}}), encoding="utf-8")
    os.symlink(f"{BUILDS}/{PREVIOUS_BUILD}", out / CURRENT)
    with builder.session() as session:
        (planned,) = builder.plan(targets, session)
    return planned.reasons


OUTPUTS = {"clinical_relapses.html": b"<p>report</p>", "clinical_relapses.ipynb": b"{}"}


@pytest.mark.parametrize(("status", "reasons"), [
    ("built", []),
    ("failed", ["failed last time"]),
    ("skipped", ["skipped last time (--fail-fast)"]),
])
def test_the_plan_rebuilds_a_report_whose_last_build_failed_or_was_skipped(tmp_path, status, reasons):
    assert _plan_after(tmp_path, status, OUTPUTS) == reasons


def test_the_plan_rebuilds_a_report_whose_outputs_are_gone_or_not_the_size_recorded(tmp_path):
    recorded = {name: len(data) for name, data in OUTPUTS.items()}
    assert _plan_after(tmp_path / "same", "built", OUTPUTS, recorded) == []
    assert _plan_after(tmp_path / "cut", "built", {**OUTPUTS, "clinical_relapses.html": b"<p>rep"},
                       recorded) == ["outputs missing"]  # a truncated copy, say
    assert _plan_after(tmp_path / "gone", "built", {"clinical_relapses.ipynb": b"{}"}, recorded) == [
        "outputs missing"]
    assert _plan_after(tmp_path / "none", "built", {}, {}) == ["outputs missing"]  # an entry that lists nothing


def test_data_hashes_of_declared_tables_only():
    hashes = data_file_hashes(DATA_DIR, ("trials", "sources"))
    assert list(hashes) == ["sources.csv", "trials.csv", "schema.yaml"]
    assert set(data_file_hashes(DATA_DIR)) == {f"{t}.csv" for t in ALL_TABLES} | {"schema.yaml"}


def test_every_report_declares_its_tables():
    for report in REPORTS.values():
        assert "sources" in report.tables  # every report cites
        assert set(report.tables) <= set(ALL_TABLES)
    assert REPORTS["methods_appendix"].tables == ALL_TABLES


def test_reading_an_undeclared_table_stops_with_one_line():
    evidence = load_evidence(DATA_DIR, ("sources", "resistance_mechanisms"), "resistance_mechanisms")
    assert len(evidence.resistance_mechanisms) > 0
    with pytest.raises(UsageError, match="report 'resistance_mechanisms' reads data table 'trials' but does not "
                                         "declare it: add 'trials' to crizotinib_reports.tables in the notebook's metadata"):
        evidence.trials.loc[0]
    with pytest.raises(UsageError, match="does not declare"):
        len(evidence.outcomes)


# --- end to end -----------------------------------------------------------------------------------

@pytest.mark.e2e
def test_unchanged_reports_are_skipped_and_a_changed_table_rebuilds_only_its_readers(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    out = tmp_path / "out"
    chosen = ["overview", "clinical_relapses", "resistance_mechanisms"]
    notebooks = stand_in_folder(tmp_path / "notebooks", chosen)
    args = ["build", *chosen, "--format", "html", "--output-dir", str(out), "--data-dir", str(data),
            "--notebook-dir", str(notebooks)]
    first = cli(*args, "--jobs", "2")
    assert first.returncode == 0, first.stderr
    assert "building 3 of 3 report(s), 2 at a time" in first.stderr
    tree = (out / "current").resolve()

    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert "built 0, unchanged 3, failed 0 of 3 reports" in again.stdout
    assert (out / "current").resolve() == tree, "nothing changed: the tree is not even rewritten"

    mechanisms = data / "resistance_mechanisms.csv"
    mechanisms.write_text(mechanisms.read_text(encoding="utf-8").replace("Impair crizotinib binding",
                                                                          "Impair crizotinib's binding"))
    changed = cli(*args)
    assert changed.returncode == 0, changed.stderr
    assert "built 2, unchanged 1, failed 0 of 3 reports" in changed.stdout
    assert "clinical_relapses: unchanged, not rebuilt" in changed.stderr
    assert "resistance_mechanisms: executing notebooks/resistance_mechanisms.ipynb " \
           "(data changed: resistance_mechanisms.csv)" in changed.stderr.replace(str(notebooks), "notebooks")
    assert "Impair crizotinib's binding" in (out / "resistance_mechanisms" / "resistance_mechanisms.html").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reports"]["overview"]["rebuilt_because"] == ["data changed: resistance_mechanisms.csv"]
    assert manifest["reports"]["clinical_relapses"]["rebuilt_because"] == ["not built before"]

    os.unlink(out / "clinical_relapses" / "clinical_relapses.html")
    missing = cli(*args, "--jobs", "1")
    assert "clinical_relapses: executing" in missing.stderr and "(outputs missing)" in missing.stderr
    assert "built 1, unchanged 2" in missing.stdout

    forced = cli(*args, "--force")
    assert "built 3, unchanged 0" in forced.stdout and "(--force)" in forced.stderr


@pytest.mark.e2e
def test_a_sweep_builds_every_variant_in_parallel_into_its_own_folder(tmp_path_factory):
    notebooks = ["--notebook-dir", str(stand_in_folder(tmp_path_factory.mktemp("notebooks"), ["clinical_relapses"]))]
    tmp_path = tmp_path_factory.mktemp("out")
    result = cli("build", "clinical_relapses", "--format", "html", "--output-dir", str(tmp_path), *notebooks,
                 "--param", "time_unit=months,years", "--jobs", "2")
    assert result.returncode == 0, result.stderr
    expected = ["clinical_relapses", "clinical_relapses--time_unit-years"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert sorted(manifest["reports"]) == sorted(expected)
    for folder in expected:
        entry = manifest["reports"][folder]
        assert entry["report"] == "clinical_relapses" and entry["status"] == "built"
        assert (tmp_path / folder / f"{folder}.html").is_file()
    assert manifest["reports"]["clinical_relapses--time_unit-years"]["variant"] == {"time_unit": "years"}
    years = (tmp_path / "clinical_relapses--time_unit-years" / "clinical_relapses--time_unit-years.html").read_text()
    assert "years" in years
    # The default set alone: unchanged, and the variants not asked for this time are removed, links too.
    again = cli("build", "clinical_relapses", "--format", "html", "--output-dir", str(tmp_path), *notebooks)
    assert "built 0, unchanged 1" in again.stdout, again.stderr
    assert "clinical_relapses--time_unit-years: removed, a parameter set of clinical_relapses" in again.stderr
    assert sorted(json.loads((tmp_path / "manifest.json").read_text())["reports"]) == ["clinical_relapses"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("clinical")) == ["clinical_relapses"]
    assert (tmp_path / "clinical_relapses" / "clinical_relapses.html").is_file()
