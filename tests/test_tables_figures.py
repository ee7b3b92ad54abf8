"""Tables and figures on the shipped data and on tiny frames, including the edge cases."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest

from crizotinib_reports import figures, tables
from crizotinib_reports.data import load_evidence
from crizotinib_reports.paths import DATA_DIR


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


def test_select_trials_by_setting():
    trials = pd.DataFrame({"trial_id": ["a", "b", "c", "d"], "design": ["single-arm", "randomized", "randomized",
                                                                      "randomized"],
                           "setting": ["line not stated", "first-line", "second-line", "first-line"],
                           "role": ["development"] * 3 + ["landscape"]})
    assert list(tables.select_trials(trials, "all")["trial_id"]) == ["a", "b", "c"]
    assert list(tables.select_trials(trials, "first-line")["trial_id"]) == ["a", "b"]
    assert list(tables.select_trials(trials, "second-line", include_single_arm=False)["trial_id"]) == ["c"]
    assert tables.select_trials(trials.iloc[:1], "first-line", include_single_arm=False).empty
    assert list(tables.select_trials(trials, "first-line", role=None)["trial_id"]) == ["a", "b", "d"]


def test_efficacy_table_numbers(evidence):
    table = tables.efficacy_table(evidence)
    frame = table.frame.assign(trial=table.frame["Trial"].str.split(" · ").str[0]).set_index(["trial", "Arm"])
    assert frame.loc[("PROFILE 1007", "crizotinib"), "ORR"] == "65%"
    assert frame.loc[("PROFILE 1007", "chemotherapy"), "ORR"] == "20%"
    assert frame.loc[("PROFILE 1007", "crizotinib"), "Median PFS, months"] == "7.7"
    assert frame.loc[("PROFILE 1007", "chemotherapy"), "Median PFS, months"] == "3.0"
    assert frame.loc[("PROFILE 1014", "crizotinib"), "Median PFS, months"] == "10.9"
    assert frame.loc[("PROFILE 1014", "chemotherapy"), "ORR"] == "45%"
    phase1 = frame.loc[("Phase I trial (ALK+ NSCLC cohort)", "crizotinib")]
    assert phase1["Responders (derived)"] == "73 of 119"
    assert phase1["95% CI"] == "52.0–70.1%"
    assert frame.loc[("PROFILE 1014", "crizotinib"), "Responders (derived)"] == "127 of 172"
    assert frame.loc[("PROFILE 1007", "chemotherapy"), "N"] == "174"
    assert "N=945" in table.population
    assert any("derived, not reported" in note for note in table.footnotes)
    assert any("Shaw et al. 2013" in note for note in table.footnotes)  # where the phase III N come from
    assert table.source_text.startswith("Source: Dagogo-Jack & Shaw 2016 [1]; Shaw et al. 2013; Solomon et al. 2014 [3].")
    assert set(table.data["ci_low_pct"].round(1)) >= {52.0, 57.1}


def test_efficacy_table_follows_parameters(evidence):
    table = tables.efficacy_table(evidence, setting="first-line", include_single_arm=False, confidence_level=0.9,
                                  ci_method="wilson")
    assert set(table.frame["Trial"].str.split(" · ").str[0]) == {"PROFILE 1014"}
    assert "90% CI" in table.frame.columns
    assert any("Wilson" in note for note in table.footnotes)


def test_interval_level_changes_the_numbers(evidence):
    narrow = tables.response_rates(evidence, 0.8).set_index("trial_id").loc["phase1"]
    wide = tables.response_rates(evidence, 0.99).set_index("trial_id").loc["phase1"]
    assert wide.ci_low_pct < narrow.ci_low_pct < 61 < narrow.ci_high_pct < wide.ci_high_pct


def test_every_table_has_title_population_and_source(evidence):
    built = [tables.efficacy_table(evidence), tables.approvals_table(evidence), tables.key_numbers_table(evidence),
             tables.relapse_table(evidence), tables.resistance_measures_table(evidence),
             tables.mechanisms_table(evidence), tables.references_table(evidence)]
    for table in built:
        assert table.title and table.population, table.name
        assert table.source_text.startswith("Source: "), table.name
        html = table._repr_html_()
        assert table.title in html and "Source: " in html, table.name


def test_mechanisms_table_hides_unquantified_on_request(evidence):
    full = tables.mechanisms_table(evidence)
    short = tables.mechanisms_table(evidence, include_unquantified=False)
    assert len(full.frame) == 6
    assert list(short.frame["Mechanism"]) == ["Secondary mutations in the ALK kinase domain",
                                              "No identifiable secondary mutation or copy number alteration"]
    assert short.frame["Share of resistant patients"].iloc[0] == "22–36%"


def test_approvals_in_date_order_with_missing_date_marked(evidence):
    frame = tables.approvals_table(evidence).frame
    assert list(frame["Date"]) == ["not stated", "2011-08-26", "2013-11-20", "2015-11-24"]


def test_text_in_tables_is_escaped(evidence):
    hostile = evidence.relapse_patterns.copy()
    hostile.loc[0, "pattern"] = "<script>alert(1)</script>"
    html = tables.relapse_table(dataclasses.replace(evidence, relapse_patterns=hostile))._repr_html_()
    assert "<script>alert(1)</script>" not in html


@pytest.mark.parametrize("builder", [
    lambda e: figures.response_rate_figure(e),
    lambda e: figures.pfs_figure(e),
    lambda e: figures.approval_timeline_figure(e),
    lambda e: figures.relapse_timescale_figure(e, "years"),
    lambda e: figures.mechanisms_figure(e),
])
def test_figures_render_with_alt_text_caption_and_source(evidence, builder):
    figure = builder(evidence)
    html = figure._repr_html_()
    assert html.count("<img ") == 1
    assert re.search(r'<img [^>]*alt="[^"]{20,}"', html)
    assert figure.caption in html and "Source: " in html
    assert figure.png_bytes().startswith(b"\x89PNG")


def test_figure_data_follows_the_csv(evidence):
    alt = figures.response_rate_figure(evidence).alt
    development = evidence.trials.query("role == 'development'")["trial_id"]
    for value in evidence.outcomes.query("endpoint == 'ORR' and trial_id in @development")["value"]:
        assert f"{value:g}%" in alt
    assert "months" in figures.pfs_figure(evidence, "second-line").alt
    assert "PROFILE 1014" not in figures.pfs_figure(evidence, "second-line").alt


def test_relapse_timescale_in_years(evidence):
    alt = figures.relapse_timescale_figure(evidence, "years").alt
    assert "Response lasting over 6 years (some patients) at 6.0" in alt
    assert "at 0.9" in alt  # 11.3 months, mean time to acquired resistance


def test_every_report_parameter_changes_what_is_shown(evidence):
    """confidence_level and ci_method reach the overview's key numbers and the appendix's methods."""
    exact = tables.key_numbers_table(evidence, 0.95, "exact").frame
    wilson = tables.key_numbers_table(evidence, 0.9, "wilson").frame
    assert exact.loc[0, "Value"] == "61% (95% CI 52.0–70.1%)"
    assert wilson.loc[0, "Value"].startswith("61% (90% CI ") and wilson.loc[0, "Value"] != exact.loc[0, "Value"]
    methods = tables.derivations_table(evidence, 0.9, "wilson").frame
    assert methods["Rule"].str.contains("Wilson score .* at 90%", regex=True).any()
