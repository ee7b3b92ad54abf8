"""Which parameter sets a build makes and the folder of each: parsing, sweeps, variants files, folder names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crizotinib_reports.exceptions import UsageError
from crizotinib_reports.publish.portfolio import Parameter, Report
from crizotinib_reports.publish.variants import (
    MAX_FOLDER_LENGTH,
    Target,
    expand_targets,
    parse_param_overrides,
    read_variants_file,
    variant_folder,
)

DATA = Path("data")


def _activity(name: str = "activity") -> Report:
    return Report(name, "Activity", f"{name}.ipynb", "response rates", parameters=(
        Parameter("data_dir", "str", "../data", "data folder"),
        Parameter("setting", "str", "all", "trials", choices=("all", "first-line", "second-line")),
        Parameter("level", "float", 0.95, "confidence level", minimum=0.5, maximum=0.999),
        Parameter("drugs", "str", "all", "comparators", items=("alectinib", "brigatinib")),
        Parameter("show_harms", "bool", True, "harms table"),
        Parameter("note", "str", "", "free text"),
        Parameter("changes_file", "str", "", "change summary", names_folder=False),
    ))


def _relapses() -> Report:
    return Report("relapses", "Relapses", "relapses.ipynb", "timing", parameters=(
        Parameter("data_dir", "str", "../data", "data folder"),
        Parameter("setting", "str", "all", "trials", choices=("all", "first-line")),
        Parameter("months", "int", 12, "window"),
    ))


# --- --param KEY=VALUE ------------------------------------------------------------------------------

def test_a_value_is_typed_and_commas_sweep():
    report = _activity()
    got = parse_param_overrides(["level=0.9,0.8", " setting =first-line"], [report])
    assert got == {"activity": {"level": [0.9, 0.8], "setting": ["first-line"]}}
    assert all(isinstance(v, float) for v in got["activity"]["level"])


def test_the_flag_repeated_sweeps_and_a_repeated_value_counts_once():
    got = parse_param_overrides(["setting=first-line", "setting=second-line", "setting=first-line"], [_activity()])
    assert got["activity"]["setting"] == ["first-line", "second-line"]


def test_a_list_parameter_keeps_its_commas():
    got = parse_param_overrides(["drugs=alectinib,brigatinib", "drugs=alectinib"], [_activity()])
    assert got["activity"]["drugs"] == ["alectinib,brigatinib", "alectinib"]


def test_a_key_goes_to_every_chosen_report_that_has_it_and_no_other():
    got = parse_param_overrides(["setting=first-line", "months=6"], [_activity(), _relapses()])
    assert got == {"activity": {"setting": ["first-line"]}, "relapses": {"setting": ["first-line"], "months": [6]}}


def test_no_flags_give_an_empty_sweep_per_report():
    assert parse_param_overrides([], [_activity(), _relapses()]) == {"activity": {}, "relapses": {}}


@pytest.mark.parametrize("pair", ["setting", "=first-line", " =first-line"])
def test_a_pair_without_key_or_equals_sign_is_refused(pair):
    with pytest.raises(UsageError, match=re.escape(f"--param takes KEY=VALUE, got '{pair}'")):
        parse_param_overrides([pair], [_activity()])


def test_the_data_folder_is_not_a_parameter():
    with pytest.raises(UsageError, match="set the data folder with --data-dir"):
        parse_param_overrides(["data_dir=elsewhere"], [_activity()])


def test_an_unknown_key_lists_the_known_ones_without_data_dir():
    with pytest.raises(UsageError) as caught:
        parse_param_overrides(["colour=red"], [_relapses(), _activity()])
    assert str(caught.value) == ("unknown parameter 'colour' for the chosen reports; known: changes_file, drugs, "
                                 "level, months, note, setting, show_harms (see 'crizotinib-reports list')")


def test_a_bad_value_is_refused_by_the_parameter():
    with pytest.raises(UsageError, match="must be one of all, first-line, second-line"):
        parse_param_overrides(["setting=third-line"], [_activity()])


# --- --variants FILE.yaml ---------------------------------------------------------------------------

def _variants(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "variants.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_variants_file_gives_each_reports_parameter_sets(tmp_path):
    path = _variants(tmp_path, "activity:\n  - {setting: first-line}\n  - {setting: second-line, level: 0.9}\n"
                               "relapses:\n  - {months: 6}\n")
    assert read_variants_file(path, [_activity(), _relapses()]) == {
        "activity": [{"setting": "first-line"}, {"setting": "second-line", "level": 0.9}],
        "relapses": [{"months": 6}],
    }


@pytest.mark.parametrize(("text", "message"), [
    ("- {setting: first-line}\n", "variants.yaml: expected a mapping of report name to a list of parameter sets"),
    ("overview:\n  - {setting: first-line}\n",
     "variants.yaml: 'overview' is not one of the reports being built (activity, relapses)"),
    ("activity: {setting: first-line}\n", "variants.yaml, activity: expected a list of parameter mappings"),
    ("activity: []\n", "variants.yaml, activity: expected a list of parameter mappings"),
    ("activity:\n  - {setting: first-line}\n  - first-line\n",
     "variants.yaml, activity: expected a list of parameter mappings"),
    ("activity:\n  - {setting: first-line}\n  - {data_dir: elsewhere}\n",
     "variants.yaml, activity, variant 2: set the data folder with --data-dir"),
    ("activity:\n  - {setting: first-line}\n  - {level: 2.0}\n",
     "variants.yaml, activity, variant 2: parameter 'level' must be between 0.5 and 0.999, got 2.0"),
    ("activity:\n  - {colour: red}\n", "variants.yaml, activity, variant 1: report 'activity' has no parameter"),
])
def test_a_bad_variants_file_is_one_line_naming_the_file_report_and_variant(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        read_variants_file(_variants(tmp_path, text), [_activity(), _relapses()])
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


# --- every target -----------------------------------------------------------------------------------

def _folders(targets: list[Target]) -> list[str]:
    return [t.folder for t in targets]


def test_without_flags_each_report_is_built_once_with_its_defaults():
    activity, relapses = _activity(), _relapses()
    targets = expand_targets([activity, relapses], [], DATA)
    assert _folders(targets) == ["activity", "relapses"]
    assert targets[0].report is activity and targets[1].report is relapses
    assert targets[0].parameters == {**activity.defaults(), "data_dir": "data"}
    assert targets[0].variant == {}


def test_two_swept_parameters_give_every_combination_in_order():
    targets = expand_targets([_activity()], ["setting=first-line,second-line", "level=0.9,0.8"], DATA)
    assert [(t.parameters["setting"], t.parameters["level"]) for t in targets] == [
        ("first-line", 0.9), ("first-line", 0.8), ("second-line", 0.9), ("second-line", 0.8)]
    assert _folders(targets)[0] == "activity--setting-first-line--level-0.9"
    assert targets[0].variant == {"setting": "first-line", "level": 0.9}


def test_a_sweep_applies_to_every_variant_of_the_file():
    variants = {"activity": [{"setting": "first-line"}, {"setting": "second-line", "show_harms": False}]}
    targets = expand_targets([_activity(), _relapses()], ["level=0.9"], DATA, variants)
    assert _folders(targets) == ["activity--setting-first-line--level-0.9",
                                 "activity--setting-second-line--level-0.9--show_harms-false", "relapses"]


def test_the_command_line_wins_over_the_variants_file():
    variants = {"activity": [{"setting": "first-line", "level": 0.8}]}
    [target] = expand_targets([_activity()], ["level=0.9"], DATA, variants)
    assert target.parameters["level"] == 0.9 and target.parameters["setting"] == "first-line"


def test_the_same_parameter_set_twice_is_built_once():
    variants = {"activity": [{"setting": "first-line"}, {"setting": "first-line", "level": 0.95}, {}]}
    targets = expand_targets([_activity()], [], DATA, variants)
    assert _folders(targets) == ["activity--setting-first-line", "activity"]


def test_two_sets_written_into_one_folder_are_refused():
    variants = {"activity": [{"note": "A b"}, {"note": "a-b"}]}
    with pytest.raises(UsageError) as caught:
        expand_targets([_activity()], [], DATA, variants)
    assert str(caught.value) == ("parameter sets {'note': 'A b'} and {'note': 'a-b'} of 'activity' would share the "
                                 "folder activity--note-a-b; write them alike")


def test_the_same_set_of_two_reports_is_not_a_clash():
    targets = expand_targets([_activity("a"), _activity("b")], ["setting=first-line"], DATA)
    assert _folders(targets) == ["a--setting-first-line", "b--setting-first-line"]


# --- folder names -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "folder"), [
    ({}, "activity"),
    ({"setting": "all", "level": 0.95}, "activity"),
    ({"show_harms": False}, "activity--show_harms-false"),
    ({"note": "Ab C/d"}, "activity--note-ab-c-d"),
    ({"note": "..v1.2--"}, "activity--note-v1.2"),
    ({"note": "-*-"}, "activity--note-empty"),
    ({"changes_file": "x"}, "activity"),
])
def test_a_folder_names_what_differs_from_the_defaults(overrides, folder):
    report = _activity()
    assert variant_folder(report, {**report.defaults(), **overrides}) == folder


def test_a_long_folder_name_is_cut_and_made_unique_by_a_hash():
    report = _activity()
    one = variant_folder(report, {**report.defaults(), "note": "x" * 200})
    other = variant_folder(report, {**report.defaults(), "note": "x" * 200 + "y"})
    assert len(one) == MAX_FOLDER_LENGTH and len(other) == MAX_FOLDER_LENGTH
    assert one.startswith("activity--note-xxx") and re.fullmatch(r"x+--[0-9a-f]{12}", one[len("activity--note-"):])
    assert one != other


def test_a_folder_just_within_the_limit_is_kept_whole():
    report = _activity()
    note = "x" * (MAX_FOLDER_LENGTH - len("activity--note-"))
    assert variant_folder(report, {**report.defaults(), "note": note}) == f"activity--note-{note}"


def test_a_value_may_hold_an_equals_sign():
    got = parse_param_overrides(["note=a=b"], [_activity()])
    assert got["activity"]["note"] == ["a=b"]


def test_the_data_folder_refusal_says_how_to_set_it():
    with pytest.raises(UsageError) as caught:
        parse_param_overrides(["data_dir=elsewhere"], [_activity()])
    assert str(caught.value) == "set the data folder with --data-dir, not --param data_dir=..."
