"""The exploratory pooled ORR pools the crizotinib arms of the trials the report shows, as every other section
does, and says so; where the trials shown give fewer arms than a pool needs, it says why and shows no pool."""

from __future__ import annotations

import dataclasses
from functools import cache

import pytest

from crizotinib_reports.evidence import analysis, figures, tables, text
from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.evidence.figures import ReportFigure
from crizotinib_reports.evidence.stats import MIN_POOLED_STUDIES
from crizotinib_reports.evidence.tables import ReportTable
from crizotinib_reports.paths import DATA_DIR
from support.cells import run_report

# The bundle's development trials by where the report shows them (an independent list: a data test).
SINGLE_ARM = {"phase1", "phase2"}
POOLED_ARMS = {
    ("all", True): SINGLE_ARM | {"profile1007", "profile1014"},
    ("all", False): {"profile1007", "profile1014"},
    ("first-line", True): SINGLE_ARM | {"profile1014"},
    ("first-line", False): {"profile1014"},
    ("second-line", True): SINGLE_ARM | {"profile1007"},
    ("second-line", False): {"profile1007"},
}
POOLABLE = [key for key, ids in POOLED_ARMS.items() if len(ids) >= MIN_POOLED_STUDIES]
TOO_FEW = [key for key in POOLED_ARMS if key not in POOLABLE]


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


@cache
def shown(**parameters) -> tuple:
    return tuple(run_report("clinical_activity", **parameters))


def named(items, name: str) -> list:
    return [i for i in items if isinstance(i, (ReportTable, ReportFigure)) and i.name == name]


def pooled_section(items) -> str:
    (intro,) = [str(i) for i in items if str(i).startswith("## Exploratory: pooled")]
    return intro


@pytest.mark.parametrize(("setting", "include_single_arm"), list(POOLED_ARMS))
def test_the_arms_pooled_are_the_crizotinib_arms_of_the_trials_shown(evidence, setting, include_single_arm):
    arms = analysis.pooled_arms(evidence, setting, include_single_arm)
    assert set(arms["trial_id"]) == POOLED_ARMS[(setting, include_single_arm)]
    assert set(arms["arm"]) == {"crizotinib"} and arms["trial_id"].is_unique
    shown_trials = set(analysis.select_trials(evidence.trials, setting, include_single_arm)["trial_id"])
    assert set(arms["trial_id"]) <= shown_trials
    assert analysis.can_pool(evidence, setting, include_single_arm) == ((setting, include_single_arm) in POOLABLE)


@pytest.mark.parametrize(("setting", "include_single_arm"), POOLABLE)
def test_table_figure_and_intro_pool_and_name_the_same_arms(evidence, setting, include_single_arm):
    expected = POOLED_ARMS[(setting, include_single_arm)]
    names = evidence.trials.set_index("trial_id")["trial_name"]
    arms, summary = analysis.pooled_orr(evidence, setting=setting, include_single_arm=include_single_arm)
    assert set(arms["trial_id"]) == expected and summary["studies"] == len(expected)
    table = tables.pooled_orr_table(evidence, setting=setting, include_single_arm=include_single_arm)
    assert set(table.data["trial_id"]) == expected
    assert set(table.frame["Crizotinib arm"]) == {names[t] for t in expected} | {"Pooled (random effects)"}
    figure = figures.pooled_orr_forest(evidence, setting=setting, include_single_arm=include_single_arm)
    ticks = [t.get_text() for t in figure.figure.axes[0].get_yticklabels()]
    assert sorted(t.split(":")[0] for t in ticks if not t.startswith("Pooled")) == sorted(names[t] for t in expected)
    count = f"({len(expected)} trials)"
    intro = text.pooled_orr_intro(evidence, setting, include_single_arm)
    assert count in figure.caption and count in intro.replace("\\", "")
    for trial_id in expected:
        assert names[trial_id] in figure.caption and names[trial_id] in intro.replace("\\", "")
    for trial_id in set(names.index) - expected:
        assert names[trial_id] not in figure.caption and names[trial_id] not in intro.replace("\\", "")


def test_the_report_pools_only_what_its_setting_shows():
    """The notebook hands the setting on: under second-line the first-line trial is neither shown nor pooled."""
    items = shown(setting="second-line")
    (efficacy,) = named(items, "efficacy")
    (table,) = named(items, "pooled_orr")
    (figure,) = named(items, "pooled_orr_forest")
    shown_trials = set(efficacy.data["trial_id"])
    assert "profile1007" in shown_trials and "profile1014" not in shown_trials
    assert set(table.data["trial_id"]) == POOLED_ARMS[("second-line", True)] <= shown_trials
    assert "PROFILE 1007" in figure.caption and "PROFILE 1014" not in figure.caption
    section = pooled_section(items)
    assert "PROFILE 1007" in section and "PROFILE 1014" not in section


@pytest.mark.parametrize(("setting", "include_single_arm"), TOO_FEW)
def test_too_few_arms_say_why_and_refuse_to_pool(evidence, setting, include_single_arm):
    (trial_id,) = POOLED_ARMS[(setting, include_single_arm)]
    name = evidence.trials.set_index("trial_id").loc[trial_id, "trial_name"]
    intro = text.pooled_orr_intro(evidence, setting, include_single_arm).replace("\\", "")
    assert intro.startswith("## Exploratory: pooled response rate")
    assert (f"Nothing is pooled here: a pooled rate needs the crizotinib arms of {MIN_POOLED_STUDIES} or more "
            f"trials, and the trials this report shows (setting: {setting}; single-arm trials left out) give "
            f"the crizotinib arm of {name} (1 trial).") in intro
    with pytest.raises(ValueError, match="pooling needs at least"):
        tables.pooled_orr_table(evidence, setting=setting, include_single_arm=include_single_arm)
    with pytest.raises(ValueError, match="pooling needs at least"):
        figures.pooled_orr_forest(evidence, setting=setting, include_single_arm=include_single_arm)


def test_the_one_arm_report_shows_the_sentence_and_no_pool():
    items = shown(setting="second-line", include_single_arm=False)
    assert "Nothing is pooled here" in pooled_section(items) and "PROFILE 1007" in pooled_section(items)
    assert named(items, "efficacy") and named(items, "interval_checks")  # the rest of the report is there
    assert named(items, "pooled_orr") == [] and named(items, "pooled_orr_forest") == []


def test_no_arm_at_all_is_said_too(evidence):
    """The trials shown may give no crizotinib response rate with its N: the sentence says so, not 'none'."""
    outcomes = evidence.outcomes
    without = dataclasses.replace(evidence, outcomes=outcomes[~((outcomes["trial_id"] == "profile1007")
                                                                & (outcomes["endpoint"] == "ORR"))])
    assert analysis.pooled_arms(without, "second-line", False).empty
    assert not analysis.can_pool(without, "second-line", False)
    assert text.pooled_orr_intro(without, "second-line", False).endswith("give no crizotinib arm.")


def test_the_defaults_pool_what_the_report_shows_by_default(evidence):
    """Called without a scope, the pool is that of the report's default parameters (every setting, single-arm
    trials included), as the notebook's parameters cell says."""
    assert set(analysis.pooled_arms(evidence)["trial_id"]) == POOLED_ARMS[("all", True)]
    assert analysis.can_pool(evidence) is True
    assert analysis.pooled_orr(evidence)[1]["studies"] == len(POOLED_ARMS[("all", True)])
