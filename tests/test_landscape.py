"""The landscape report's numbers: straight from the CSV, with each interval's published level."""

from __future__ import annotations

import dataclasses

import pytest

from crizotinib_reports import landscape
from crizotinib_reports.variants import parse_param_overrides
from crizotinib_reports.data import load_evidence
from crizotinib_reports.exceptions import UsageError
from crizotinib_reports.paths import DATA_DIR
from crizotinib_reports.reports import get_report

# The landscape issue's table, typed independently of data/ (trial: N new, N crizotinib, HR, low, high, level).
PUBLISHED = {
    "ALEX": (152, 151, 0.47, 0.34, 0.65, 0.95),
    "J-ALEX": (103, 104, 0.34, 0.17, 0.71, 0.997),
    "ALTA-1L": (137, 138, 0.49, 0.33, 0.74, 0.95),
    "CROWN": (149, 147, 0.28, 0.19, 0.41, 0.95),
    "eXalt3": (143, 147, 0.51, 0.35, 0.72, 0.95),
}


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


def test_primary_hazard_ratios_match_the_publications(evidence):
    hr = landscape.hazard_ratios_vs_crizotinib(evidence).set_index("trial_name")
    trials = evidence.trials.set_index("trial_name")
    for name, (n_new, n_criz, ratio, low, high, level) in PUBLISHED.items():
        assert tuple(hr.loc[name, ["hazard_ratio", "ci_low", "ci_high", "ci_level"]]) == (ratio, low, high, level)
        assert (trials.loc[name, "patients_experimental"], trials.loc[name, "patients_control"]) == (n_new, n_criz)


def test_forest_plot_draws_the_csv_and_states_each_level(evidence):
    figure = landscape.hazard_ratio_landscape_forest(evidence)
    ax = figure.figure.axes[0]
    assert ax.get_xscale() == "log"
    points = [(round(float(c.lines[0].get_xdata()[0]), 3),
               sorted(round(float(x), 3) for seg in c.lines[2][0].get_segments() for x in seg[:, 0]))
              for c in ax.containers]
    assert sorted(points) == sorted((v[2], [v[3], v[4]]) for v in PUBLISHED.values())
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("J-ALEX" in label and "99.7% CI 0.17–0.71" in label for label in labels)
    assert sum("95% CI" in label for label in labels) == 4
    assert "99.7% CI 0.17 to 0.71" in figure.alt


def test_interval_level_travels_from_the_csv_into_the_plot(evidence):
    changed = evidence.hazard_ratios.copy()
    changed.loc[changed["trial_id"] == "crown", "ci_level"] = 0.99
    figure = landscape.hazard_ratio_landscape_forest(dataclasses.replace(evidence, hazard_ratios=changed))
    assert any("CROWN" in t.get_text() and "99% CI" in t.get_text() for t in figure.figure.axes[0].get_yticklabels())


def test_updated_analysis_is_chosen_where_published_and_says_so(evidence):
    updated = landscape.landscape_table(evidence, "updated").frame.set_index("Trial (drug)")
    assert updated.loc["ALEX (alectinib)", "PFS HR"] == "0.43 (interval not transcribed)"
    assert updated.loc["ALEX (alectinib)", "Median PFS, months (new / crizotinib)"] == "34.8 / 10.9"
    assert updated.loc["ALTA-1L (brigatinib)", "PFS HR"] == "0.49 (95% CI 0.35–0.68)"
    assert updated.loc["CROWN (lorlatinib)", "Analysis"] == "primary"  # no update: falls back, and says so
    primary = landscape.landscape_table(evidence, "primary").frame.set_index("Trial (drug)")
    assert primary.loc["ALEX (alectinib)", "Median PFS, months (new / crizotinib)"] == "not reached / 11.1"
    assert primary.loc["J-ALEX (alectinib)", "PFS HR"] == "0.34 (99.7% CI 0.17–0.71)"
    caption = landscape.hazard_ratio_landscape_forest(evidence, "updated").caption
    assert "Not drawn (no interval transcribed): ALEX updated HR 0.43" in caption


def test_drugs_parameter_filters_and_is_validated(evidence):
    table = landscape.landscape_table(evidence, drugs="lorlatinib,ensartinib")
    assert list(table.frame["Trial (drug)"]) == ["CROWN (lorlatinib)", "eXalt3 (ensartinib)"]
    report = get_report("alk_inhibitor_landscape")
    assert parse_param_overrides(["drugs=alectinib, brigatinib"], [report])[report.name]["drugs"] == ["alectinib, brigatinib"]
    with pytest.raises(UsageError, match="comma-separated list of alectinib"):
        parse_param_overrides(["drugs=aspirin"], [report])
    with pytest.raises(UsageError, match="must be one of primary, updated"):
        parse_param_overrides(["analysis=final"], [report])


def test_crizotinib_as_comparator_is_consistent_with_profile_1014(evidence):
    medians = landscape.crizotinib_control_medians(evidence).set_index("trial_name")
    assert medians.loc["PROFILE 1014", "median_pfs_months"] == 10.9
    assert medians.loc["CROWN", "median_pfs_months"] == 9.3
    assert medians.loc["eXalt3", "difference_from_profile1014"] == pytest.approx(1.8)
    assert medians.loc["ALTA-1L", "analysis"] == "updated"  # the only median ALTA-1L gives
    table = landscape.comparator_consistency_table(evidence)
    assert "range 9.3–12.7" in table.population


def test_cns_and_other_outcomes(evidence):
    cns = landscape.cns_table(evidence).frame.set_index(["Trial", "Endpoint"])
    assert cns.loc[("CROWN", "intracranial ORR"), ["New drug", "Crizotinib"]].tolist() == ["82%", "23%"]
    assert cns.loc[("ALEX", "CNS progression"), ["New drug", "Crizotinib"]].tolist() == ["12%", "45%"]
    other = landscape.other_outcomes_table(evidence).frame
    assert "HR 0.67 (95% CI 0.46–0.98)" in set(other["New drug"])
    chemo = landscape.landscape_table(evidence, comparator="chemotherapy").frame.iloc[0]
    assert chemo["PFS HR"] == "0.402 (95% CI 0.286–0.565)"
    assert chemo["Median PFS, months (crizotinib / chemo)"] == "11.1 / 6.8"
    assert chemo["ORR (crizotinib / chemo), 95% CI"].startswith("87.5% (") and "/ 45.6% (" in chemo["ORR (crizotinib / chemo), 95% CI"]


def test_interval_method_and_level_reach_the_landscape_table(evidence):
    exact = landscape.landscape_table(evidence).frame.set_index("Trial (drug)")
    wilson = landscape.landscape_table(evidence, confidence_level=0.9, ci_method="wilson")
    column = "ORR (new / crizotinib), 90% CI"
    assert column in wilson.frame.columns and any("Wilson" in note for note in wilson.footnotes)
    assert wilson.frame.set_index("Trial (drug)").loc["ALEX (alectinib)", column] != \
        exact.loc["ALEX (alectinib)", "ORR (new / crizotinib), 95% CI"]
