"""Issue 3's evidence: comparisons, consistency checks (including a planted disagreement), pooling."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from crizotinib_reports import analysis, figures, tables
from crizotinib_reports.data import load_evidence
from crizotinib_reports.paths import DATA_DIR


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


def test_published_figures_not_in_the_seed_are_in_the_data(evidence):
    n = evidence.outcomes.query("endpoint == 'ORR'").set_index(["trial_id", "arm"])["denominator"]
    assert (n[("profile1007", "crizotinib")], n[("profile1007", "chemotherapy")]) == (173, 174)
    assert (n[("profile1014", "crizotinib")], n[("profile1014", "chemotherapy")]) == (172, 171)
    hr = evidence.hazard_ratios.set_index("trial_id")
    assert tuple(hr.loc["profile1007", ["hazard_ratio", "ci_low", "ci_high"]]) == (0.49, 0.37, 0.64)
    assert tuple(hr.loc["profile1014", ["hazard_ratio", "ci_low", "ci_high"]]) == (0.45, 0.35, 0.60)
    published = evidence.published_intervals.set_index("study_label")
    assert tuple(published.loc["study 1001", ["estimate", "ci_low", "ci_high", "denominator"]]) == (61, 52, 70, 119)
    assert tuple(published.loc["study 1005", ["estimate", "ci_low", "ci_high", "denominator"]]) == (50, 42, 59, 136)
    sources = set(evidence.sources["source_id"])
    assert {"shaw2013", "solomon2014", "malik2014"} <= sources


def test_arm_comparisons(evidence):
    c = analysis.arm_comparisons(evidence).set_index("trial_id")
    assert c.loc["profile1007", "responders_crizotinib"] == 112 and c.loc["profile1007", "responders_chemotherapy"] == 35
    assert c.loc["profile1007", "orr_difference_pct"] == pytest.approx(100 * (112 / 173 - 35 / 174))
    assert c.loc["profile1014", "odds_ratio"] == pytest.approx((127 / 45) / (77 / 94))
    assert c.loc["profile1014", "pfs_hazard_ratio"] == 0.45
    assert list(analysis.arm_comparisons(evidence, setting="second-line").index) == [0]


def test_interval_checks_on_shipped_data(evidence):
    checks = analysis.interval_checks(evidence).set_index("what")
    assert bool(checks.loc["ORR, crizotinib (study 1001)", "consistent"]) is True
    # 68/136 gives an exact interval of 41.3-58.7%: the published 42% low bound is 0.2 points beyond rounding.
    assert checks.loc["ORR, crizotinib (study 1005)", "gap_beyond_rounding"] == pytest.approx(0.19, abs=0.01)
    # Wilson (41.7-58.3%) misses the published high bound of 59% instead: no method reproduces 42-59% from 68/136.
    wilson = analysis.interval_checks(evidence, "wilson").set_index("what")
    assert wilson.loc["ORR, crizotinib (study 1005)", "gap_beyond_rounding"] == pytest.approx(0.21, abs=0.01)


def test_planted_disagreement_is_flagged(evidence):
    planted = evidence.published_intervals.copy()
    planted.loc[planted["study_label"] == "study 1001", ["ci_low", "ci_high"]] = [40.0, 50.0]
    hr = evidence.hazard_ratios.copy()
    hr.loc[hr["trial_id"] == "profile1007", "hazard_ratio"] = 0.60
    table = tables.interval_checks_table(dataclasses.replace(evidence, published_intervals=planted, hazard_ratios=hr))
    flags = dict(zip(zip(table.frame["Trial"], table.frame["What"]), table.frame["Check"]))
    assert flags[("Phase I trial (ALK+ NSCLC cohort)", "ORR, crizotinib (study 1001)")].startswith("FLAG: off by")
    assert flags[("PROFILE 1007", "PFS HR (primary)")].startswith("FLAG: off by")
    assert flags[("PROFILE 1014", "PFS HR (primary)")] == "consistent within rounding"
    assert "3 flagged" in table.population  # the two planted ones and study 1005's real one


def test_comparisons_table_and_forests(evidence):
    table = tables.comparisons_table(evidence, 0.9)
    assert "Difference 90% CI" in table.frame.columns
    assert list(table.frame["PFS HR (published)"]) == ["0.49", "0.45"]
    assert "0.37–0.64 (95%)" in list(table.frame["HR CI (published)"])
    hr = figures.hazard_ratio_forest(evidence)
    assert hr.figure.axes[0].get_xscale() == "log"
    assert "95% CI 0.37 to 0.64" in hr.alt and "reference line at 1" in hr.alt
    diff = figures.orr_difference_forest(evidence, 0.9)
    assert "90% CI" in diff.alt and "reference line at 0" in diff.alt


def test_forest_plot_data_follows_the_csv(evidence):
    """What the HR forest plot draws is the CSV's numbers, and the level travels into the labels."""
    changed = evidence.hazard_ratios.copy()
    changed.loc[0, ["hazard_ratio", "ci_low", "ci_high", "ci_level"]] = [0.34, 0.17, 0.71, 0.997]
    figure = figures.hazard_ratio_forest(dataclasses.replace(evidence, hazard_ratios=changed))
    ax = figure.figure.axes[0]
    drawn = sorted(round(line.get_xdata()[0], 3) for line in ax.lines if len(line.get_xdata()) == 1)
    assert 0.34 in drawn and 0.45 in drawn
    assert "99.7% CI 0.17 to 0.71" in figure.alt
    assert any("99.7% CI 0.17–0.71" in t.get_text() for t in ax.get_yticklabels())


def test_pooled_orr_is_labelled_exploratory(evidence):
    table = tables.pooled_orr_table(evidence)
    assert table.title.startswith("Exploratory")
    assert any(note.startswith("EXPLORATORY") for note in table.footnotes)
    assert table.frame.iloc[-1]["Crizotinib arm"] == "Pooled (random effects)"
    assert table.data["i2_pct"].iloc[0] == pytest.approx(83.8, abs=0.1)


def test_every_table_has_population_footnotes_and_source(evidence):
    for table in [tables.efficacy_table(evidence), tables.comparisons_table(evidence),
                  tables.interval_checks_table(evidence), tables.pooled_orr_table(evidence),
                  tables.data_tables_table(evidence), tables.derivations_table(evidence),
                  tables.references_table(evidence)]:
        assert table.population and table.footnotes and table.source_text.startswith("Source: "), table.name
        assert pd.read_csv(pd.io.common.StringIO(table.csv_text())).shape[0] > 0


def test_derivations_list_every_derived_count(evidence):
    frame = tables.derivations_table(evidence).frame
    responders = frame[frame["Derived value"].str.startswith("Responders")]
    assert len(responders) == evidence.outcomes["denominator"].notna().sum()
    assert "61/100 × 119 = 72.59, rounded half up" in list(responders["Rule"])
