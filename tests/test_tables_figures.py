"""Tables and figures on the shipped data and on tiny frames, including the edge cases."""

from __future__ import annotations

import dataclasses
import html
import re

import nbformat
import pandas as pd
import pytest

from crizotinib_reports.evidence import analysis, figures, tables, text
from crizotinib_reports.evidence.citations import short_citation
from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.paths import DATA_DIR, NOTEBOOK_DIR
from crizotinib_reports.evidence.stats import derived_count, proportion_interval


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


def _orr_rows(evidence, trial_ids):
    o = evidence.outcomes
    return o[(o["endpoint"] == "ORR") & o["trial_id"].isin(trial_ids)]


def test_efficacy_table_numbers(evidence):
    """Every ORR of the development trials, primary and updated, with its N, derived count, interval and PFS."""
    table = tables.efficacy_table(evidence)
    development = list(analysis.select_trials(evidence.trials)["trial_id"])
    orr = _orr_rows(evidence, development)
    assert len(table.frame) == len(orr)
    shown = table.data.set_index(["trial_id", "arm", "analysis"])
    frame = table.frame.set_index(pd.MultiIndex.from_frame(table.data[["trial_id", "arm", "analysis"]]))
    for o in orr.itertuples():
        key = (o.trial_id, o.arm, o.analysis)
        row = frame.loc[key]
        assert row["ORR"] == f"{o.value:g}%"
        count = derived_count(o.value, int(o.denominator))
        interval = proportion_interval(count, int(o.denominator))
        assert row["N"] == str(o.denominator)
        assert row["Responders (derived)"] == f"{count} of {o.denominator}"
        assert row["95% CI"] == f"{100 * interval.low:.1f}–{100 * interval.high:.1f}%"
        assert shown.loc[key, "responders_derived"] == count
        pfs = evidence.outcomes.query("trial_id == @o.trial_id and arm == @o.arm and analysis == @o.analysis "
                                      "and endpoint == 'PFS median'")
        if pfs.empty:
            assert row["Median PFS, months"] == "—"
        else:
            assert row["Median PFS, months"].startswith(f"{pfs['value'].iloc[0]:.1f}")
            if pfs["assessor"].notna().iloc[0]:
                assert pfs["assessor"].iloc[0] in row["Median PFS, months"]
    primary = orr[orr["analysis"] == "primary"]
    assert f"N={int(primary['denominator'].sum())} across {len(primary)} trial arms" in table.population
    assert any("derived, not reported" in note for note in table.footnotes)
    arm_sizes = set(orr["denominator_source_id"].dropna()) - set(orr["source_id"])
    assert arm_sizes and all(any(short_citation(evidence.sources, s) in note for note in table.footnotes)
                             for s in arm_sizes)
    assert table.source_text.startswith("Source: read in ")
    for source_id in set(orr["source_id"]) | arm_sizes:
        assert short_citation(evidence.sources, source_id) in table.source_text


def test_single_arm_and_randomized_rows_are_in_separate_groups(evidence):
    table = tables.efficacy_table(evidence)
    design = evidence.trials.set_index("trial_id")["design"]
    designs = table.data["trial_id"].map(design)
    groups = table.frame["Design"]
    assert set(designs) == {"single-arm", "randomized"}
    for group in set(groups):  # one design a group, one group a design
        assert designs[groups == group].nunique() == 1
    assert groups.nunique() == designs.nunique()
    first_randomized = list(designs).index("randomized")
    assert set(designs[:first_randomized]) == {"single-arm"} and set(designs[first_randomized:]) == {"randomized"}
    assert table.group_column == "Design" and all(g in table._repr_html_() for g in set(groups))


def test_updated_analysis_is_shown_and_labelled(evidence):
    table = tables.efficacy_table(evidence)
    updated = _orr_rows(evidence, list(analysis.select_trials(evidence.trials)["trial_id"])).query(
        "analysis == 'updated'")
    assert len(updated)
    rows = table.frame[(table.data["analysis"] == "updated").to_numpy()]
    assert len(rows) == len(updated)
    for (_, row), u in zip(rows.iterrows(), updated.itertuples()):
        assert row["Analysis"].startswith("updated analysis") and u.analysis_label in row["Analysis"]
        assert row["Trial"] == evidence.trials.set_index("trial_id").loc[u.trial_id, "trial_name"]
        assert short_citation(evidence.sources, u.source_id) in table.source_text
    figure = figures.response_rate_figure(evidence)
    assert any("updated analysis" in t.get_text() for ax in figure.figure.axes for t in ax.get_yticklabels())


def test_response_rate_figure_has_a_panel_per_design(evidence):
    trials = analysis.select_trials(evidence.trials)
    figure = figures.response_rate_figure(evidence)
    titles = [ax.get_title(loc="left") for ax in figure.figure.axes]
    assert len(titles) == trials["design"].nunique()
    names = trials.set_index("trial_id")["trial_name"]
    for ax in figure.figure.axes:
        labels = " ".join(t.get_text() for t in ax.get_yticklabels())
        panel = [t for t in trials["trial_id"] if names[t] in labels]
        assert trials.set_index("trial_id").loc[panel, "design"].nunique() == 1
    one = figures.response_rate_figure(evidence, include_single_arm=False)
    assert len(one.figure.axes) == 1
    # Counts drawn beside the bars are derived, and say so.
    assert all("(derived)" in t.get_text() for ax in figure.figure.axes for t in ax.texts)


def test_efficacy_table_follows_parameters(evidence):
    table = tables.efficacy_table(evidence, setting="first-line", include_single_arm=False, confidence_level=0.9,
                                  ci_method="wilson")
    expected = evidence.trials.query("role == 'development' and design == 'randomized' and setting == 'first-line'")
    assert set(table.data["trial_id"]) == set(expected["trial_id"])
    assert "90% CI" in table.frame.columns
    assert any("Wilson" in note for note in table.footnotes)


def test_interval_level_changes_the_numbers(evidence):
    narrow = tables.response_rates(evidence, 0.8).set_index("trial_id").loc["phase1"]
    wide = tables.response_rates(evidence, 0.99).set_index("trial_id").loc["phase1"]
    assert wide.ci_low_pct < narrow.ci_low_pct < narrow.orr_pct < narrow.ci_high_pct < wide.ci_high_pct


def test_every_table_has_title_population_and_source(evidence):
    built = [tables.efficacy_table(evidence), tables.approvals_table(evidence), tables.key_numbers_table(evidence),
             tables.relapse_table(evidence), tables.resistance_measures_table(evidence),
             tables.mechanisms_table(evidence), tables.references_table(evidence)]
    for table in built:
        assert table.title and table.population, table.name
        assert table.source_text.startswith("Source"), table.name
        shown = table._repr_html_()
        assert table.title in shown and "Source" in shown, table.name


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
    shown = figure._repr_html_()
    assert shown.count("<img ") == 1
    assert re.search(r'<img [^>]*alt="[^"]{20,}"', shown)
    assert html.escape(figure.caption) in shown and html.escape(figure.source_text) in shown
    assert figure.source_text.startswith("Source: read in ")
    assert figure.png_bytes().startswith(b"\x89PNG")


def test_figure_data_follows_the_csv(evidence):
    alt = figures.response_rate_figure(evidence).alt
    development = evidence.trials.query("role == 'development'")["trial_id"]
    for value in evidence.outcomes.query("endpoint == 'ORR' and trial_id in @development")["value"]:
        assert f"{value:g}%" in alt
    assert "months" in figures.pfs_figure(evidence, "second-line").alt
    assert "PROFILE 1014" not in figures.pfs_figure(evidence, "second-line").alt


def _drawn_points(figure) -> list[float]:
    """The x of every point drawn as an estimate (the scatter markers) on the figure's axes."""
    return sorted(float(x) for collection in figure.axes[0].collections for x, _y in collection.get_offsets())


def _drawn_thresholds(figure) -> list[float]:
    """The x of every threshold tick drawn (a '|' marker: a threshold the review states, not an estimate)."""
    return sorted(float(line.get_xdata()[0]) for line in figure.axes[0].lines if line.get_marker() == "|")


@pytest.mark.parametrize(("unit", "per_month"), [("months", 1.0), ("years", 1 / 12)])
def test_relapse_timescale_draws_estimates_as_points_and_thresholds_as_thresholds(evidence, unit, per_month):
    drawn = figures.relapse_timescale_figure(evidence, unit)
    development = list(evidence.trials.query("role == 'development'")["trial_id"])
    medians = evidence.outcomes.query("endpoint == 'PFS median' and analysis == 'primary' and trial_id in @development")
    means = evidence.resistance_measures.query("unit == 'months'")
    expected_points = sorted([float(v) * per_month for v in medians["value"]] +
                             [float(v) * per_month for v in means["value"]])
    assert _drawn_points(drawn.figure) == pytest.approx(expected_points)
    thresholds = evidence.relapse_patterns.dropna(subset=["time_threshold"])
    expected = sorted(float(t) * (12 if u == "years" else 1) * per_month
                      for t, u in zip(thresholds["time_threshold"], thresholds["time_unit"]))
    assert _drawn_thresholds(drawn.figure) == pytest.approx(expected)
    assert not set(round(x, 6) for x in expected) & set(round(x, 6) for x in _drawn_points(drawn.figure))
    assert "not estimates" in drawn.caption and "(threshold, R)" in drawn.alt


def test_every_report_parameter_changes_what_is_shown(evidence):
    """confidence_level and ci_method reach the overview's key numbers and the appendix's methods."""
    first = evidence.outcomes.query("endpoint == 'ORR'").iloc[0]
    count = derived_count(first["value"], int(first["denominator"]))
    exact_interval = proportion_interval(count, int(first["denominator"]), 0.95, "exact")
    exact = tables.key_numbers_table(evidence, 0.95, "exact").frame
    wilson = tables.key_numbers_table(evidence, 0.9, "wilson").frame
    assert exact.loc[0, "Value"] == (f"{first['value']:g}% (95% CI {100 * exact_interval.low:.1f}–"
                                     f"{100 * exact_interval.high:.1f}%)")
    assert wilson.loc[0, "Value"].startswith(f"{first['value']:g}% (90% CI ")
    assert wilson.loc[0, "Value"] != exact.loc[0, "Value"]
    methods = tables.derivations_table(evidence, 0.9, "wilson").frame
    assert methods["Rule"].str.contains("Wilson score .* at 90%", regex=True).any()


# --- overall survival with crossover, harms, and what every multi-trial table says ---

def _phase3(evidence, setting="all"):
    return list(analysis.select_trials(evidence.trials, setting, include_single_arm=False)["trial_id"])


def _os_outcomes(evidence, trial_ids):
    o = evidence.outcomes
    return o[o["trial_id"].isin(trial_ids) & (o["endpoint"].str.split().map(lambda w: "OS" in w)
                                              | (o["endpoint"] == "crossover"))]


def test_survival_table_holds_every_os_row_of_the_phase3_trials(evidence):
    table = tables.survival_table(evidence)
    trials = _phase3(evidence)
    names = evidence.trials.set_index("trial_id")["trial_name"]
    hazard = evidence.hazard_ratios.query("trial_id in @trials and endpoint == 'OS'")
    outcomes = _os_outcomes(evidence, trials)
    assert len(hazard) and len(outcomes)
    # Every data row behind the table, and nothing else.
    assert len(table.data) == len(hazard) + len(outcomes)
    for _, h in hazard.iterrows():
        rows = table.frame[table.frame["Trial"].str.startswith(names[h["trial_id"]])
                           & (table.frame["Result"] == tables.hazard_ratio_text(h))]
        assert len(rows) == 1, h.to_dict()
        row = rows.iloc[0]
        assert f"{h['experimental_arm']} vs {h['control_arm']}" in row["Measure"]
        assert row["p value"] == ("—" if pd.isna(h["p_value"]) else f"{h['p_value']:g}")
        if pd.notna(h["adjustment"]):
            assert h["adjustment"] in row["Measure"]
            assert any(note.startswith(h["adjustment"][0].upper() + h["adjustment"][1:]) for note in table.footnotes)
        if pd.notna(h["analysis_label"]):
            assert h["analysis_label"] in row["Analysis"]
    for o in outcomes.itertuples():
        group = table.frame[table.frame["Trial"].str.startswith(names[o.trial_id])]
        shown = tables.value_text(o.value, o.unit, o.note)
        assert group["Result"].str.contains(re.escape(shown)).any(), o
    assert table.source_text.startswith("Source: read in ")
    for source_id in set(hazard["source_id"]) | set(outcomes["source_id"]):
        assert short_citation(evidence.sources, source_id) in table.source_text


def test_survival_table_shows_crossover_with_derived_counts(evidence):
    table = tables.survival_table(evidence)
    crossover = _os_outcomes(evidence, _phase3(evidence)).query("endpoint == 'crossover'")
    assert len(crossover)
    rows = table.frame[table.frame["Measure"].str.startswith("Crossover")]
    assert len(rows) == len(crossover)
    for (_, row), c in zip(rows.iterrows(), crossover.itertuples()):
        assert f"of the {c.arm} arm" in row["Result"]
        if pd.notna(c.denominator):
            assert f"{derived_count(c.value, int(c.denominator))} of {c.denominator}, count derived" in row["Result"]
    assert any(note.startswith("Crossover:") for note in table.footnotes)


def test_survival_follows_the_setting_and_names_what_is_missing(evidence):
    for setting in ("first-line", "second-line"):
        table = tables.survival_table(evidence, setting)
        assert set(table.data["trial_id"]) == set(_phase3(evidence, setting))
    fewer = dataclasses.replace(evidence, hazard_ratios=evidence.hazard_ratios.query("endpoint != 'OS'"))
    note = [n for n in tables.survival_table(fewer).footnotes if n.startswith("Not in this bundle")]
    assert note and all(f"{name}: no OS hazard ratio" in note[0]
                        for name in evidence.trials.set_index("trial_id").loc[_phase3(evidence), "trial_name"])


def test_safety_table_shows_every_safety_finding_and_the_missing_percentages(evidence):
    table = tables.safety_table(evidence)
    shown = list(analysis.select_trials(evidence.trials)["trial_id"])
    findings = evidence.findings[(evidence.findings["topic"] == "safety") & evidence.findings["trial_ids"].map(
        lambda ids: pd.notna(ids) and bool(set(ids.split(";")) & set(shown)))]
    assert len(findings) and list(table.frame["Harms"]) == list(findings["statement"])
    names = evidence.trials.set_index("trial_id")["trial_name"]
    without = [t for t in shown if t not in set(evidence.adverse_events["trial_id"])]
    note = [n for n in table.footnotes if n.startswith("No adverse-event percentage")]
    assert without and note and all(names[t] in note[0] for t in without)
    # A verified percentage in the data is shown, and its trial leaves the note.
    planted = evidence.adverse_events.iloc[:1].assign(trial_id=without[-1], arm="crizotinib", event="nausea")
    more = dataclasses.replace(evidence, adverse_events=pd.concat([evidence.adverse_events, planted]))
    table = tables.safety_table(more)
    assert f"nausea, crizotinib arm: {planted['value'].iloc[0]:g}%" in " ".join(table.frame["Harms"])
    assert names[without[-1]] not in next(n for n in table.footnotes if n.startswith("No adverse-event"))


def test_overview_key_numbers_hold_os_crossover_and_safety(evidence):
    table = tables.key_numbers_table(evidence)
    development = list(analysis.select_trials(evidence.trials)["trial_id"])
    for _, h in evidence.hazard_ratios.query("trial_id in @development and endpoint == 'OS'").iterrows():
        assert table.frame["Value"].str.startswith(tables.hazard_ratio_text(h)).any()
    crossover = _os_outcomes(evidence, development).query("endpoint == 'crossover'")
    assert table.frame["Measure"].str.startswith("crossover").sum() == len(crossover)
    safety = table.frame[table.frame["Section"] == "Harms"]
    assert len(safety) and any(n.startswith("No adverse-event percentage") for n in table.footnotes)
    assert "All figures stated in the review" not in table.population


def test_hazard_ratio_notes_name_the_arms_and_assessor_of_the_rows_shown(evidence):
    comparisons = tables.comparisons_table(evidence)
    phase3 = _phase3(evidence)
    pfs = evidence.hazard_ratios.query("trial_id in @phase3 and endpoint == 'PFS' and analysis == 'primary'")
    for h in pfs.itertuples():
        assert (f"Hazard ratios of {h.experimental_arm} against {h.control_arm}: below 1 favours "
                f"{h.experimental_arm}.") in comparisons.footnotes
    assert list(comparisons.frame["PFS assessor"]) == list(pfs["assessor"])
    # Planted: one trial's ratio read the other way round; the note follows the data, not a habit.
    swapped = evidence.hazard_ratios.copy()
    first = swapped.index[(swapped["trial_id"] == phase3[0])]
    swapped.loc[first, ["experimental_arm", "control_arm"]] = ["chemotherapy", "crizotinib"]
    planted = dataclasses.replace(evidence, hazard_ratios=swapped)
    notes = " ".join(tables.comparisons_table(planted).footnotes)
    assert "of chemotherapy against crizotinib: below 1 favours chemotherapy" in notes
    forest = figures.hazard_ratio_forest(planted)
    assert "chemotherapy vs crizotinib, below 1 favours chemotherapy" in forest.figure.axes[0].get_xlabel()
    assert "below 1 favours chemotherapy" in forest.caption
    labels = [t.get_text() for t in figures.hazard_ratio_forest(evidence).figure.axes[0].get_yticklabels()]
    every = evidence.hazard_ratios.query("trial_id in @phase3")
    assert len(labels) == len(every)
    for assessor in set(every["assessor"]) - {"not applicable"}:
        assert sum(assessor in label for label in labels) == (every["assessor"] == assessor).sum()


def test_phase3_prose_sets_os_and_crossover_beside_pfs(evidence):
    checked = 0
    for setting in ("all", "first-line", "second-line"):
        written = str(text.phase3_summary(evidence, setting)).replace("\\", "")
        lines = written.splitlines()
        trials = analysis.select_trials(evidence.trials, setting, include_single_arm=False)
        assert len(lines) == len(trials)
        for line, trial in zip(lines, trials.itertuples()):
            assert line.startswith(f"- **{trial.trial_name}**") and "median PFS" in line
            os_rows = evidence.hazard_ratios.query("trial_id == @trial.trial_id and endpoint == 'OS'")
            latest = os_rows[os_rows["analysis"] == max(os_rows["analysis"], key=analysis.ANALYSES.index)]
            for _, h in latest.iterrows():
                assert tables.hazard_ratio_text(h) in line
                assert line.index("median PFS") < line.index(tables.hazard_ratio_text(h))
            for c in _os_outcomes(evidence, [trial.trial_id]).query("endpoint == 'crossover'").itertuples():
                if c.analysis in set(latest["analysis"]):
                    assert f"{tables.value_text(c.value, c.unit, c.note)} of the {c.arm} arm" in line
                    assert tables.credit_text(evidence.sources, tables.credit_of(c._asdict())) in line
                    checked += 1
    assert checked

def test_every_multi_trial_table_and_figure_carries_the_cross_trial_caveat(evidence):
    built = [tables.efficacy_table(evidence), tables.comparisons_table(evidence), tables.survival_table(evidence),
             tables.safety_table(evidence), tables.interval_checks_table(evidence), tables.pooled_orr_table(evidence),
             tables.key_numbers_table(evidence)]
    for table in built:
        data = table.frame if table.data is None else table.data
        ids = [*data.get("trial_id", []), *data.get("trial_ids", [])]
        trials = {t for i in ids if pd.notna(i) for t in i.split(";")}
        assert len(trials) > 1 or table.name == "key_numbers", table.name
        assert tables.CROSS_TRIAL_CAVEAT in table.footnotes, table.name
    for figure in [figures.response_rate_figure(evidence), figures.pfs_figure(evidence),
                   figures.hazard_ratio_forest(evidence), figures.orr_difference_forest(evidence),
                   figures.pooled_orr_forest(evidence)]:
        assert tables.CROSS_TRIAL_CAVEAT in figure.caption, figure.name
    single = tables.survival_table(evidence, "first-line")
    assert tables.CROSS_TRIAL_CAVEAT not in single.footnotes


def test_pooled_interval_option_reaches_table_and_figure(evidence):
    plain = tables.pooled_orr_table(evidence)
    hartung = tables.pooled_orr_table(evidence, pooled_interval="hartung-knapp")
    assert plain.frame.iloc[-1]["95% CI"] != hartung.frame.iloc[-1]["95% CI"]
    assert any("Hartung–Knapp" in note for note in hartung.footnotes)
    assert plain.frame.iloc[-1]["95% prediction interval"] == hartung.frame.iloc[-1]["95% prediction interval"]
    figure = figures.pooled_orr_forest(evidence, pooled_interval="hartung-knapp")
    assert "Hartung–Knapp" in figure.caption and "prediction interval" in figure.alt


@pytest.mark.parametrize("name", ["clinical_activity", "overview"])
def test_notebook_prose_holds_no_trial_facts(name):
    """Counts and figures come from the data through text.py; the notebooks' own Markdown holds none."""
    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    prose = " ".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert not re.search(r"\d", prose)
    assert not re.search(r"\b(two|three|four|five|six|both|first-line|second-line)\b", prose, re.I)


@pytest.mark.parametrize("text, pieces", [
    ("doi:10.1158/1078-0432.CCR-11-2906; PMID 22235099",
     ["doi:10.1158", "/1078-0432", ".CCR-11-2906; PMID 22235099"]),
    ("Available at https://www.fda.gov/Drugs/x.htm.", ["Available at https://www", ".fda", ".gov", "/Drugs", "/x", ".htm."]),
    ("10.1056/NEJMoa1214886", ["10.1056", "/NEJMoa1214886"]),
    # Numbers, ratios and version-like text outside an address keep their characters together.
    ("73 of 119 (61%); 25/51; 3.0 vs 7.7 months; v10.1234/5", ["73 of 119 (61%); 25/51; 3.0 vs 7.7 months; v10.1234/5"]),
    ("https://a.org/b//c/", ["https://a", ".org", "/b//c/"]),  # no break beside another slash or at the end
])
def test_addresses_break_before_a_slash_or_a_dot_and_nothing_else_does(text, pieces):
    assert tables.address_pieces(text) == pieces
    assert "".join(pieces) == text


def test_a_doi_in_a_cell_gets_a_break_point_and_stays_text():
    cell = '<table><tbody><tr><td title="10.1/a.b">doi:10.1234/ab.c &lt;b&gt;https://x.org/&lt;i&gt;</td></tr></tbody></table>'
    marked = tables.address_break_points(cell)
    assert marked == ('<table><tbody><tr><td title="10.1/a.b">doi:10.1234<wbr/>/ab<wbr/>.c &lt;b&gt;https://x<wbr/>.org/'
                      '&lt;i&gt;</td></tr></tbody></table>')
    assert tables.address_break_points("<table><tr><td>3.0/7.7</td></tr></table>") == "<table><tr><td>3.0/7.7</td></tr></table>"


def test_the_references_table_breaks_its_dois_and_addresses_and_shows_their_text_whole(evidence):
    from bs4 import BeautifulSoup

    table = tables.references_table(evidence)
    soup = BeautifulSoup(table._repr_html_(), "html.parser")
    cells = [td for td in soup.find_all("td") if td.get_text().startswith("doi:")]
    assert len(cells) > 10 and all(td.find("wbr") for td in cells)
    assert {td.get_text() for td in soup.find_all("td")} >= set(table.frame["Identifiers"]) | set(table.frame["Reference"])
