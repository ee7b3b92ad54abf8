"""Issue 3's evidence: comparisons, consistency checks (including a planted disagreement), pooling."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from scipy.stats import binomtest

from crizotinib_reports.evidence import analysis, figures, tables
from crizotinib_reports.evidence.citations import section_reference, short_citation, source_row
from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.paths import DATA_DIR
from crizotinib_reports.evidence.stats import derived_count, pooled_proportion, rounding_tolerance


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


def test_published_figures_not_in_the_seed_are_in_the_data(evidence):
    """The publications' figures the review does not give, as transcribed (an independent list: a data test)."""
    n = evidence.outcomes.query("endpoint == 'ORR' and analysis == 'primary'").set_index(["trial_id", "arm"])[
        "denominator"]
    assert (n[("profile1007", "crizotinib")], n[("profile1007", "chemotherapy")]) == (173, 174)
    assert (n[("profile1014", "crizotinib")], n[("profile1014", "chemotherapy")]) == (172, 171)
    hr = evidence.hazard_ratios.query("endpoint == 'PFS' and analysis == 'primary'").set_index("trial_id")
    assert tuple(hr.loc["profile1007", ["hazard_ratio", "ci_low", "ci_high"]]) == (0.49, 0.37, 0.64)
    assert tuple(hr.loc["profile1014", ["hazard_ratio", "ci_low", "ci_high"]]) == (0.45, 0.35, 0.60)
    published = evidence.published_intervals.set_index(["trial_id", "analysis"])
    columns = ["estimate", "ci_low", "ci_high", "denominator"]
    assert tuple(published.loc[("phase1", "primary"), columns]) == (61, 52, 70, 119)
    assert tuple(published.loc[("phase2", "primary"), columns]) == (50, 42, 59, 136)
    sources = set(evidence.sources["source_id"])
    assert {"shaw2013", "solomon2014", "malik2014"} <= sources


def _count(evidence, trial_id, arm):
    o = evidence.outcomes.query("endpoint == 'ORR' and analysis == 'primary' and trial_id == @trial_id "
                                "and arm == @arm").iloc[0]
    return derived_count(o["value"], int(o["denominator"])), int(o["denominator"])


def test_arm_comparisons(evidence):
    c = analysis.arm_comparisons(evidence).set_index("trial_id")
    for trial_id in c.index:
        (c1, n1), (c2, n2) = _count(evidence, trial_id, "crizotinib"), _count(evidence, trial_id, "chemotherapy")
        assert (c.loc[trial_id, "responders_crizotinib"], c.loc[trial_id, "responders_chemotherapy"]) == (c1, c2)
        assert c.loc[trial_id, "orr_difference_pct"] == pytest.approx(100 * (c1 / n1 - c2 / n2))
        assert c.loc[trial_id, "odds_ratio"] == pytest.approx((c1 / (n1 - c1)) / (c2 / (n2 - c2)))
        pfs = evidence.hazard_ratios.query("trial_id == @trial_id and endpoint == 'PFS' and analysis == 'primary'")
        assert c.loc[trial_id, "pfs_hazard_ratio"] == pfs["hazard_ratio"].iloc[0]
        assert c.loc[trial_id, "pfs_hr_assessor"] == pfs["assessor"].iloc[0]
    second_line = evidence.trials.query("role == 'development' and design == 'randomized' and setting == 'second-line'")
    assert list(analysis.arm_comparisons(evidence, setting="second-line")["trial_id"]) == list(second_line["trial_id"])


def _what(evidence, trial_id, analysis_name="primary"):
    p = evidence.published_intervals.query("trial_id == @trial_id and analysis == @analysis_name").iloc[0]
    return p, f"ORR, {p['arm']}: {p['study_label']}"


@pytest.mark.parametrize("method", ["exact", "wilson"])
def test_interval_checks_on_shipped_data(evidence, method):
    checks = analysis.interval_checks(evidence, method).set_index("what")
    for p in evidence.published_intervals.itertuples():
        count = derived_count(p.estimate, int(p.denominator))
        reference = binomtest(count, int(p.denominator)).proportion_ci(confidence_level=p.ci_level, method=method)
        tolerance = rounding_tolerance(p.decimals)
        gap = max(0.0, abs(p.ci_low - 100 * reference.low) - tolerance, abs(p.ci_high - 100 * reference.high) - tolerance)
        row = checks.loc[f"ORR, {p.arm}: {p.study_label}"]
        assert row["gap_beyond_rounding"] == pytest.approx(gap, abs=1e-6)
        assert bool(row["consistent"]) == (gap <= 0)
    # The phase II interval (42-59% of 136) is reproduced by neither method: the data test behind the flag.
    _, phase2 = _what(evidence, "phase2")
    assert not checks.loc[phase2, "consistent"]


def test_planted_disagreement_is_flagged(evidence):
    shipped_flags = int((~analysis.interval_checks(evidence)["consistent"]).sum())
    planted = evidence.published_intervals.copy()
    phase1, phase1_what = _what(evidence, "phase1")
    planted.loc[(planted["trial_id"] == "phase1") & (planted["analysis"] == "primary"), ["ci_low", "ci_high"]] = [
        phase1["estimate"] - 21, phase1["estimate"] - 11]
    hr = evidence.hazard_ratios.copy()
    pfs_1007 = (hr["trial_id"] == "profile1007") & (hr["endpoint"] == "PFS") & (hr["analysis"] == "primary")
    hr.loc[pfs_1007, "hazard_ratio"] = hr.loc[pfs_1007, "ci_high"]
    table = tables.interval_checks_table(dataclasses.replace(evidence, published_intervals=planted, hazard_ratios=hr))
    flags = dict(zip(zip(table.frame["Trial"], table.frame["What"]), table.frame["Check"]))
    names = evidence.trials.set_index("trial_id")["trial_name"]
    assert flags[(names["phase1"], phase1_what)].startswith("FLAG: off by")
    assert flags[(names["profile1007"], "PFS HR (primary)")].startswith("FLAG: off by")
    assert flags[(names["profile1014"], "PFS HR (primary)")] == "consistent within rounding"
    assert f"{shipped_flags + 2} flagged" in table.population


def test_comparisons_table_and_forests(evidence):
    table = tables.comparisons_table(evidence, 0.9)
    assert "Difference 90% CI" in table.frame.columns
    shown = list(table.data["trial_id"])
    pfs = evidence.hazard_ratios.query("trial_id in @shown and endpoint == 'PFS' and analysis == 'primary'")
    assert list(table.frame["PFS HR (published)"]) == [tables.hazard_ratio_text(h) for _, h in pfs.iterrows()]
    hr = figures.hazard_ratio_forest(evidence)
    assert hr.figure.axes[0].get_xscale() == "log"
    first = pfs.iloc[0]
    assert f"{tables.level_text(first['ci_level'])} CI {first['ci_low']:.2f}–{first['ci_high']:.2f}" in hr.alt
    assert "reference line at 1" in hr.alt
    diff = figures.orr_difference_forest(evidence, 0.9)
    assert "90% CI" in diff.alt and "reference line at 0" in diff.alt and "(derived)" in diff.alt


def test_forest_plot_data_follows_the_csv(evidence):
    """What the HR forest plot draws is the CSV's numbers, and the level travels into the labels."""
    changed = evidence.hazard_ratios.copy()
    changed.loc[0, ["hazard_ratio", "ci_low", "ci_high", "ci_level"]] = [0.34, 0.17, 0.71, 0.997]
    figure = figures.hazard_ratio_forest(dataclasses.replace(evidence, hazard_ratios=changed))
    ax = figure.figure.axes[0]
    drawn = sorted(round(line.get_xdata()[0], 3) for line in ax.lines if len(line.get_xdata()) == 1)
    phase3 = list(analysis.select_trials(evidence.trials, include_single_arm=False)["trial_id"])
    shown = changed.query("trial_id in @phase3")
    # A square at each ratio and a cap at each bound.
    expected = [*shown["hazard_ratio"], *shown["ci_low"], *shown["ci_high"]]
    assert drawn == sorted(round(v, 3) for v in expected)
    assert "99.7% CI 0.17–0.71" in figure.alt
    assert any("99.7% CI 0.17–0.71" in t.get_text() for t in ax.get_yticklabels())


def test_pooled_orr_is_labelled_exploratory(evidence):
    table = tables.pooled_orr_table(evidence)
    assert table.title.startswith("Exploratory")
    assert any(note.startswith("EXPLORATORY") for note in table.footnotes)
    assert table.frame.iloc[-1]["Crizotinib arm"] == "Pooled (random effects)"
    arms = table.data
    pooled = pooled_proportion(list(arms["responders_derived"]), list(arms["denominator"]))
    assert table.data["pooled_i2_pct"].iloc[0] == pytest.approx(100 * pooled.i2)
    assert table.frame.iloc[-1]["95% prediction interval"] == (
        f"{100 * pooled.prediction_low:.1f}–{100 * pooled.prediction_high:.1f}%")
    assert any("prediction interval" in note.lower() and "Higgins" in note for note in table.footnotes)
    # Only primary analyses: an updated analysis of the same trial would count its patients twice.
    assert set(arms["analysis"]) == {"primary"} and arms["trial_id"].is_unique


def test_pooled_forest_draws_the_prediction_interval_beyond_the_diamond(evidence):
    _, summary = analysis.pooled_orr(evidence)
    figure = figures.pooled_orr_forest(evidence)
    ax = figure.figure.axes[0]
    spans = [segment[:, 0] for collection in ax.collections for segment in getattr(collection, "get_segments",
                                                                                    lambda: [])()]
    assert any(min(s) == pytest.approx(summary["prediction_low_pct"]) and max(s) == pytest.approx(
        summary["prediction_high_pct"]) for s in spans if len(s) == 2)
    assert summary["prediction_low_pct"] < summary["low_pct"] and summary["high_pct"] < summary["prediction_high_pct"]


def test_every_table_has_population_footnotes_and_source(evidence):
    for table in [tables.efficacy_table(evidence), tables.comparisons_table(evidence),
                  tables.interval_checks_table(evidence), tables.pooled_orr_table(evidence),
                  tables.survival_table(evidence), tables.safety_table(evidence),
                  tables.data_tables_table(evidence), tables.derivations_table(evidence),
                  tables.references_table(evidence)]:
        assert table.population and table.footnotes and table.source_text.startswith("Source"), table.name
        assert pd.read_csv(pd.io.common.StringIO(table.csv_text())).shape[0] > 0


def test_derivations_list_every_derived_count(evidence):
    frame = tables.derivations_table(evidence).frame
    responders = frame[frame["Derived value"].str.startswith("Responders")]
    assert len(responders) == evidence.outcomes["denominator"].notna().sum()
    assert "61/100 × 119 = 72.59, rounded half up" in list(responders["Rule"])


def test_comparison_and_interval_check_frames_have_exactly_their_columns(evidence):
    """The tables read these frames by column name: a misspelt key would add a column and leave the named one empty."""
    comparisons = analysis.arm_comparisons(evidence)
    assert list(comparisons.columns) == [
        "trial_id", "trial_name", "setting", "n_crizotinib", "n_chemotherapy", "responders_crizotinib",
        "responders_chemotherapy", "orr_crizotinib_pct", "orr_chemotherapy_pct", "orr_difference_pct",
        "orr_difference_low_pct", "orr_difference_high_pct", "odds_ratio", "odds_ratio_low", "odds_ratio_high", "level",
        "pfs_hazard_ratio", "pfs_hr_low", "pfs_hr_high", "pfs_hr_level", "pfs_hr_decimals", "pfs_hr_assessor",
        "pfs_hr_experimental_arm", "pfs_hr_control_arm", "hr_source_id", "source_ids"]
    assert comparisons[["pfs_hazard_ratio", "pfs_hr_high", "pfs_hr_assessor"]].notna().all().all()
    checks = analysis.interval_checks(evidence)
    assert list(checks.columns) == [
        "check", "trial_name", "trial_id", "what", "published", "published_low", "published_high", "level",
        "recomputed", "recomputed_low", "recomputed_high", "method", "gap_beyond_rounding", "source_id",
        "primary_source_id", "verified_in_id", "verification", "review_section", "data_table", "data_row", "consistent"]
    assert checks["recomputed"].notna().all() and len(checks) >= 2
    # data_table and data_row: the row each check read, for the table's provenance (evidence/provenance.py)
    for check in checks.to_dict("records"):
        row = getattr(evidence, check["data_table"]).loc[check["data_row"]]
        assert row["trial_id"] == check["trial_id"] and row["ci_low"] == check["published_low"]


# --- the third seeded sample's survivors in analysis.py (docs/testing.md) ------------------------------------

def test_a_trial_without_a_comparable_pair_of_arms_is_left_out_of_the_comparisons(evidence):
    outcomes = evidence.outcomes
    orr = (outcomes["endpoint"] == "ORR") & (outcomes["analysis"] == "primary")
    both = set(analysis.arm_comparisons(evidence)["trial_id"])
    assert both == {"profile1007", "profile1014"}
    no_control = outcomes[~(orr & (outcomes["trial_id"] == "profile1007") & (outcomes["arm"] == "chemotherapy"))]
    assert list(analysis.arm_comparisons(dataclasses.replace(evidence, outcomes=no_control))["trial_id"]) == [
        "profile1014"]
    no_count = outcomes.copy()
    no_count.loc[orr & (no_count["trial_id"] == "profile1014"), "denominator"] = pd.NA
    assert list(analysis.arm_comparisons(dataclasses.replace(evidence, outcomes=no_count))["trial_id"]) == [
        "profile1007"]


def test_the_landscape_shows_every_newer_drug_by_default(evidence):
    assert analysis.landscape_trials(evidence).equals(analysis.landscape_trials(evidence, "all"))
    assert set(analysis.landscape_trials(evidence)["drug"]) > {"crizotinib"}


# --- the fourth seeded sample's survivors in analysis.py ----------------------------------------------------

def test_response_rates_follow_the_interval_method_asked_for_and_keep_their_columns(evidence):
    from crizotinib_reports.evidence.stats import proportion_interval

    rates = analysis.response_rates(evidence, 0.9, "wilson")
    counted = rates.dropna(subset=["denominator"])
    assert len(counted)
    for row in counted.itertuples():
        interval = proportion_interval(int(row.responders_derived), int(row.denominator), 0.9, "wilson")
        assert (row.ci_low_pct, row.ci_high_pct) == pytest.approx((100 * interval.low, 100 * interval.high))
    assert list(rates.columns) == list(analysis.response_rates(evidence).columns)
    assert not [c for c in rates.columns if c != c.lower()]
    assert {"ci_low_pct", "ci_high_pct", "responders_derived", "ci_method"} <= set(rates.columns)


def test_a_row_without_a_denominator_has_no_interval_and_no_stray_column(evidence):
    outcomes = evidence.outcomes.copy()
    first_orr = outcomes.index[(outcomes["endpoint"] == "ORR") & (outcomes["trial_id"] == "phase1")][0]
    outcomes.loc[first_orr, "denominator"] = pd.NA
    rates = analysis.response_rates(dataclasses.replace(evidence, outcomes=outcomes))
    assert list(rates.columns) == list(analysis.response_rates(evidence).columns)
    row = rates[rates["trial_id"] == "phase1"].iloc[0]
    assert pd.isna(row["ci_low_pct"]) and pd.isna(row["ci_high_pct"]) and pd.isna(row["responders_derived"])


def test_the_geometric_mean_of_hazard_ratio_bounds_has_one_digit_more_than_published(evidence):
    checks = analysis.interval_checks(evidence)
    symmetry = checks[checks["check"] == "hazard ratio symmetry"]
    assert len(symmetry)
    for row in symmetry.itertuples():
        published_digits = len(row.published.split(" ")[0].split(".")[1])
        recomputed_digits = len(row.recomputed.split(" ")[0].split(".")[1])
        assert recomputed_digits == published_digits + 1, (row.published, row.recomputed)


def test_a_source_is_found_by_its_id_whatever_else_its_column_holds():
    """The positional lookup every citation goes through: the row of that id, a KeyError for an unknown one, and
    a missing id or a missing section in another row never matched (nor raised on)."""
    sources = pd.DataFrame({
        "source_id": pd.array([None, "smith2020", "review2024"], dtype="string"),
        "short_label": pd.array([None, None, None], dtype="string"),
        "kind": ["publication", "publication", "review"], "authors": ["X", "Smith A, Jones B", "Y"],
        "year": pd.array([2019, 2020, 2024], dtype="Int64"), "ref_number": pd.array([None, 4, None], dtype="Int64"),
        "cited_for_section": pd.array([None, "relapses", None], dtype="string")})
    assert source_row(sources, "review2024")["kind"] == "review"
    assert short_citation(sources, "smith2020") == "Smith & Jones 2020 [4]"
    assert short_citation(sources, "review2024") == "Review 2024"
    with pytest.raises(KeyError, match="nobody"):
        source_row(sources, "nobody")
    assert section_reference(sources, "relapses") == "smith2020" and section_reference(sources, "dosing") is None
