"""The landscape report: its numbers straight from the CSV, benefit shown beside survival and harm, and
nothing claimed ("every", a direction of effect, a population) that the data shown do not bear out."""

from __future__ import annotations

import dataclasses
import json
import re

import pandas as pd
import pytest

from crizotinib_reports.evidence import analysis, figures, tables
from crizotinib_reports.evidence.citations import LEVEL_MARKS, LEVEL_MEANINGS
from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.exceptions import UsageError
from crizotinib_reports.paths import DATA_DIR, NOTEBOOK_DIR
from crizotinib_reports.publish.portfolio import get_report
from crizotinib_reports.evidence.tables import CROSS_TRIAL_CAVEAT, EVIDENCE_COLUMN
from crizotinib_reports.publish.variants import parse_param_overrides

# The landscape issue's table, typed independently of data/ to pin it (trial: N new, N crizotinib, HR, low,
# high, level of the primary PFS analysis).
PUBLISHED = {
    "ALEX": (152, 151, 0.47, 0.34, 0.65, 0.95),
    "J-ALEX": (103, 104, 0.34, 0.17, 0.71, 0.997),
    "ALESIA": (125, 62, 0.22, 0.13, 0.38, 0.95),
    "ALTA-1L": (137, 138, 0.49, 0.33, 0.74, 0.95),
    "CROWN": (149, 147, 0.28, 0.19, 0.41, 0.95),
    "eXalt3": (143, 147, 0.51, 0.35, 0.72, 0.95),
}
SUBSET = "lorlatinib,ensartinib"


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


@pytest.fixture(scope="module")
def forest(evidence):
    return figures.hazard_ratio_landscape_forest(evidence)


@pytest.fixture(scope="module")
def every_table(evidence):
    """Every table of the notebook, at its defaults and for a subset of drugs: (drugs, tables)."""
    return [(drugs, build_tables(evidence, drugs)) for drugs in ("all", SUBSET)]


def build_tables(evidence, drugs="all"):
    """Every table the landscape notebook shows, at its defaults (or for some drugs)."""
    return [tables.landscape_table(evidence, drugs=drugs),
            tables.landscape_table(evidence, comparator="chemotherapy"),
            tables.landscape_survival_table(evidence, drugs), tables.landscape_safety_table(evidence, drugs),
            tables.landmark_table(evidence, drugs=drugs), tables.comparator_consistency_table(evidence),
            tables.cns_table(evidence, drugs=drugs), tables.all_analyses_table(evidence, drugs)]


def newer_trials(evidence):
    t = evidence.trials
    return t[(t["role"] == "landscape") & (t["comparator"] == "crizotinib")]


def landscape_trials(evidence, drugs="all"):
    t = evidence.trials
    chosen = t[t["role"] == "landscape"]
    if drugs != "all":
        chosen = chosen[(chosen["comparator"] != "crizotinib") | chosen["drug"].isin(drugs.split(","))]
    return chosen


def rows_for(table, trial) -> pd.DataFrame:
    """The rows of a table grouped by trial that belong to one trial (a trials.csv row, or its name)."""
    name = trial if isinstance(trial, str) else trial["trial_name"]
    return table.frame[table.frame["Trial"].str.startswith(f"{name}:")]


def trials_shown(table) -> set[str]:
    """The names of the trials a table's rows (or row groups) show."""
    return {value.split(":")[0] for value in table.frame["Trial"]} if len(table.frame) else set()


def drawn(ax) -> list[tuple[float, float, float]]:
    """(estimate, low, high) of every errorbar on an Axes, read from the drawn artists."""
    points = []
    for container in ax.containers:
        estimate = float(container.lines[0].get_xdata()[0])
        ends = sorted(float(x) for segment in container.lines[2][0].get_segments() for x in segment[:, 0])
        points.append((round(estimate, 4), round(ends[0], 4), round(ends[-1], 4)))
    return sorted(points)


def test_primary_hazard_ratios_match_the_publications(evidence):
    hr = analysis.hazard_ratios_vs_crizotinib(evidence).set_index("trial_name")
    trials = evidence.trials.set_index("trial_name")
    assert set(hr.index) == set(PUBLISHED)
    for name, (n_new, n_criz, ratio, low, high, level) in PUBLISHED.items():
        assert tuple(hr.loc[name, ["hazard_ratio", "ci_low", "ci_high", "ci_level"]]) == (ratio, low, high, level)
        assert (trials.loc[name, "patients_experimental"], trials.loc[name, "patients_control"]) == (n_new, n_criz)


def test_every_newer_trial_of_the_data_is_in_the_main_table_and_the_forest(evidence, forest):
    names = list(newer_trials(evidence)["trial_name"])
    assert "ALESIA" in names
    shown = [row.split(":")[0] for row in tables.landscape_table(evidence).frame["Trial"]]
    assert shown == names
    labels = [t.get_text() for t in forest.figure.axes[0].get_yticklabels()]
    assert sorted(label.split(" (")[0] for label in labels) == sorted(names)


def test_alesia_is_wherever_the_other_alectinib_trials_are(evidence, every_table):
    """Tables that list the trials (not only the results some trials report) list every alectinib trial."""
    alectinib = set(newer_trials(evidence).query("drug == 'alectinib'")["trial_name"])
    assert "ALESIA" in alectinib and len(alectinib) > 1
    listing = {"landscape", "overall_survival", "safety", "crizotinib_medians", "all_analyses"}
    shown = [table for table in every_table[0][1] if table.name in listing]
    assert {table.name for table in shown} == listing
    for table in shown:
        assert alectinib <= trials_shown(table), table.name


def test_forest_plot_draws_exactly_the_intervals_of_the_data(evidence, forest):
    hr = evidence.hazard_ratios
    expected = hr[hr["trial_id"].isin(newer_trials(evidence)["trial_id"]) & (hr["endpoint"] == "PFS")
                  & (hr["analysis"] == "primary") & hr["adjustment"].isna()]
    ax = forest.figure.axes[0]
    assert ax.get_xscale() == "log"
    assert drawn(ax) == sorted((round(r.hazard_ratio, 4), round(r.ci_low, 4), round(r.ci_high, 4))
                               for r in expected.itertuples())
    labels = {t.get_text().split(" (")[0]: t.get_text() for t in ax.get_yticklabels()}
    names = evidence.trials.set_index("trial_id")["trial_name"]
    for r in expected.itertuples():
        label = labels[names[r.trial_id]]
        assert r.assessor in label
        level = f"{100 * r.ci_level:.4f}".rstrip("0").rstrip(".")
        assert f"{level}% CI {r.ci_low:.{r.decimals}f}–{r.ci_high:.{r.decimals}f}" in label


def test_interval_level_travels_from_the_csv_into_the_plot(evidence):
    changed = evidence.hazard_ratios.copy()
    changed.loc[changed["trial_id"] == "crown", "ci_level"] = 0.99
    figure = figures.hazard_ratio_landscape_forest(dataclasses.replace(evidence, hazard_ratios=changed))
    assert any("CROWN" in t.get_text() and "99% CI" in t.get_text() for t in figure.figure.axes[0].get_yticklabels())


def test_forest_caption_says_the_trials_were_never_compared_and_names_their_assessors(evidence, forest):
    assert CROSS_TRIAL_CAVEAT in forest.caption
    assert "never compared with each other" in forest.caption
    assessors = set(analysis.hazard_ratios_vs_crizotinib(evidence)["assessor"])
    assert len(assessors) > 1 and all(a in forest.caption for a in assessors)


def test_the_forest_caption_and_main_table_set_harms_beside_each_benefit(evidence, forest):
    findings = evidence.findings[evidence.findings["topic"] == "safety"]
    main = tables.landscape_table(evidence)
    newer = newer_trials(evidence)
    checked = 0
    for trial in newer.itertuples():
        named = findings[[trial.trial_id in ids.split(";") for ids in findings["trial_ids"].fillna("")]]
        harms = rows_for(main, trial.trial_name)["Harms in this bundle"].iloc[0]
        for statement in named["statement"]:
            assert statement.rstrip(".") in harms and statement.rstrip(".") in forest.caption
            checked += 1
        has_events = trial.trial_id in set(evidence.adverse_events["trial_id"])
        assert (harms == "no verified safety figure in this bundle") == (not has_events and named.empty)
    assert checked  # at least one benefit (lorlatinib's) has a safety finding beside it


def test_updated_analysis_is_chosen_where_published_and_says_so(evidence):
    hr = evidence.hazard_ratios
    pfs = hr[(hr["endpoint"] == "PFS") & hr["adjustment"].isna()
             & hr["trial_id"].isin(newer_trials(evidence)["trial_id"])]
    updated = tables.landscape_table(evidence, "updated")
    names = evidence.trials.set_index("trial_id")["trial_name"]
    with_update = set(pfs.loc[pfs["analysis"] == "updated", "trial_id"])
    assert with_update and set(pfs["trial_id"]) - with_update  # both cases occur in the data
    for trial_id, rows in pfs.groupby("trial_id"):
        chosen = rows[rows["analysis"] == ("updated" if trial_id in with_update else "primary")].iloc[0]
        row = rows_for(updated, names[trial_id]).iloc[0]
        assert row["PFS HR"].startswith(f"{chosen['hazard_ratio']:.{chosen['decimals']}f} (")
        assert chosen["analysis"] in row["Analysis"]
    caption = figures.hazard_ratio_landscape_forest(evidence, "updated").caption
    assert "Not drawn" not in caption  # every updated PFS hazard ratio has its interval in the data


def test_each_hazard_ratio_names_its_assessor_and_analysis(evidence):
    hr = evidence.hazard_ratios
    names = evidence.trials.set_index("trial_id")["trial_name"]
    main = tables.landscape_table(evidence)
    for h in analysis.hazard_ratios_vs_crizotinib(evidence).itertuples():
        cell = rows_for(main, h.trial_name)["PFS HR"].iloc[0]
        assert f"assessor: {h.assessor}" in cell and tables.analysis_name(h._asdict()) in cell
    every = tables.all_analyses_table(evidence)
    pfs = hr[(hr["endpoint"] == "PFS") & hr["trial_id"].isin(newer_trials(evidence)["trial_id"])]
    for h in pfs.itertuples():
        rows = rows_for(every, names[h.trial_id])
        row = rows[rows["Analysis"] == h.analysis]
        assert f"assessor: {h.assessor}" in row["PFS HR"].iloc[0]
    survival = tables.landscape_survival_table(evidence)
    trials = evidence.trials.set_index("trial_id")
    os_hr = hr[(hr["endpoint"] == "OS") & hr["trial_id"].isin(landscape_trials(evidence)["trial_id"])]
    assert len(os_hr)
    for _, h in os_hr.iterrows():
        rows = rows_for(survival, trials.loc[h["trial_id"]])
        shown = rows[rows["Value"].str.startswith(f"{h['hazard_ratio']:.{h['decimals']}f} (")]
        assert list(shown["Assessor"]) == [h["assessor"]]


def test_every_overall_survival_result_of_the_landscape_trials_is_in_the_survival_table(evidence):
    table = tables.landscape_survival_table(evidence)
    trials = landscape_trials(evidence).set_index("trial_id")
    hr = evidence.hazard_ratios
    os_hr = hr[(hr["endpoint"] == "OS") & hr["trial_id"].isin(trials.index)]
    outcomes = evidence.outcomes
    os_outcomes = outcomes[outcomes["trial_id"].isin(trials.index)
                           & (outcomes["endpoint"].str.contains(r"\bOS\b") | (outcomes["endpoint"] == "crossover"))]
    assert len(os_hr) and len(os_outcomes) and "crossover" in set(os_outcomes["endpoint"])
    for _, h in os_hr.iterrows():
        rows = rows_for(table, trials.loc[h["trial_id"]])
        value = f"{h['hazard_ratio']:.{h['decimals']}f} ("
        match = rows[rows["Value"].str.startswith(value) & (rows["Analysis"] == tables.analysis_name(h))]
        assert len(match) == 1, (h["trial_id"], value)
        if pd.notna(h["p_value"]):
            assert match["p value"].iloc[0] == f"{h['p_value']:g}"
    for _, o in os_outcomes.iterrows():
        rows = rows_for(table, trials.loc[o["trial_id"]])
        shown = "not reached" if pd.isna(o["value"]) else f"{o['value']:g}"
        assert rows["Value"].str.contains(f"{o['arm']} {shown}|{shown}% of the {o['arm']} arm").any(), dict(o)
    # And nothing else: the numbers behind the table are exactly those rows.
    data = table.data
    assert len(data[data["kind"] == "hazard ratio"]) == len(os_hr)
    assert len(data[data["kind"] == "outcome"]) == len(os_outcomes)
    # A trial without any result says so, and only then.
    with_results = set(os_hr["trial_id"]) | set(os_outcomes["trial_id"])
    for trial_id, trial in trials.iterrows():
        says_none = (rows_for(table, trial)["Value"] == tables.NOT_IN_BUNDLE).any()
        assert says_none == (trial_id not in with_results)


def test_the_safety_table_holds_every_harm_of_the_landscape_trials(evidence):
    table = tables.landscape_safety_table(evidence)
    trials = landscape_trials(evidence).set_index("trial_id")
    events = evidence.adverse_events[evidence.adverse_events["trial_id"].isin(trials.index)]
    findings = evidence.findings[evidence.findings["topic"] == "safety"]
    findings = findings[findings["trial_ids"].fillna("").map(lambda ids: bool(set(ids.split(";")) & set(trials.index)))]
    assert len(events) and len(findings)
    for _, e in events.iterrows():
        rows = rows_for(table, trials.loc[e["trial_id"]])
        shown = rows["Harm"].str.startswith(e["event"]) & rows["Result"].str.contains(f"{e['arm']} {e['value']:g}%")
        assert shown.any(), dict(e)
    for _, f in findings.iterrows():
        for trial_id in f["trial_ids"].split(";"):
            if trial_id in trials.index:
                assert f["statement"] in set(rows_for(table, trials.loc[trial_id])["Result"])
    data = table.data
    assert len(data[data["kind"] == "adverse event"]) == len(events)
    assert set(data.loc[data["kind"] == "safety finding", "finding_id"]) == set(findings["finding_id"])
    with_harms = set(events["trial_id"]) | {t for ids in findings["trial_ids"] for t in ids.split(";")}
    for trial_id, trial in trials.iterrows():
        says_none = (rows_for(table, trial)["Result"] == "no verified safety figure in this bundle").any()
        assert says_none == (trial_id not in with_harms)


def test_an_arm_without_a_figure_is_named_not_left_blank(evidence):
    table = tables.landscape_safety_table(evidence)
    events = evidence.adverse_events
    trials = evidence.trials.set_index("trial_id")
    one_arm = [(t, g) for t, g in events.groupby(["trial_id", "event"]) if g["arm"].nunique() == 1]
    assert one_arm
    for (trial_id, event), group in one_arm:
        trial = trials.loc[trial_id]
        missing = ({trial["drug"], trial["comparator"]} - set(group["arm"])).pop()
        rows = rows_for(table, trial)
        assert rows.loc[rows["Harm"].str.startswith(event), "Result"].str.contains(
            f"{missing} arm: {tables.NOT_IN_BUNDLE}").all()


def test_hazard_ratio_footnotes_are_written_from_the_rows_shown(evidence):
    chemo = tables.landscape_table(evidence, comparator="chemotherapy")
    hr = analysis.hazard_ratios_vs_crizotinib(evidence, comparator="chemotherapy")
    assert len(hr)
    footnote = next(note for note in chemo.footnotes if note.startswith("HR,"))
    for r in hr.itertuples():
        assert f"of {r.experimental_arm} against {r.control_arm}" in footnote
        assert f"below 1 favours {r.experimental_arm}" in footnote
    assert "newer drug" not in footnote
    main = tables.landscape_table(evidence)
    footnote = next(note for note in main.footnotes if note.startswith("HR,"))
    shown = analysis.hazard_ratios_vs_crizotinib(evidence)
    assert all(drug in footnote for drug in shown["experimental_arm"]) and "chemotherapy" not in footnote
    assert "against crizotinib; below 1 favours the newer drug" in footnote


def test_population_and_doses_of_each_trial_come_from_the_data(evidence):
    chemo = tables.landscape_table(evidence, comparator="chemotherapy")
    for t in evidence.trials[(evidence.trials["role"] == "landscape")
                             & (evidence.trials["comparator"] != "crizotinib")].itertuples():
        assert t.population in chemo.title and t.comparator in chemo.title
    grouped = [tables.landscape_table(evidence), chemo, tables.landscape_survival_table(evidence),
               tables.landscape_safety_table(evidence), tables.all_analyses_table(evidence)]
    for t in landscape_trials(evidence).itertuples():
        shown_in = [table for table in grouped if len(rows_for(table, t.trial_name))]
        names = {table.name for table in shown_in}
        assert {"overall_survival", "safety"} <= names and names & {"landscape", "crizotinib_vs_chemotherapy"}
        for table in shown_in:
            assert set(rows_for(table, t.trial_name)["Trial"]) == {
                f"{t.trial_name}: {t.drug} against {t.comparator} · {t.population} · {t.doses}"}


def test_no_title_claims_every_unless_it_holds_every_row_of_its_kind(evidence, every_table):
    def os_rows(trial_ids):
        hr, outcomes = evidence.hazard_ratios, evidence.outcomes
        return (len(hr[(hr["endpoint"] == "OS") & hr["trial_id"].isin(trial_ids)])
                + len(outcomes[outcomes["trial_id"].isin(trial_ids) & (outcomes["endpoint"].str.contains(r"\bOS\b")
                                                                      | (outcomes["endpoint"] == "crossover"))]))

    def harm_rows(trial_ids):
        findings = evidence.findings[evidence.findings["topic"] == "safety"]
        named = findings["trial_ids"].fillna("").map(lambda ids: bool(set(ids.split(";")) & set(trial_ids)))
        return len(evidence.adverse_events[evidence.adverse_events["trial_id"].isin(trial_ids)]) + int(named.sum())

    # What each "every" claims: the count of data rows of its kind for the trials the table covers.
    claims = {"overall_survival": os_rows, "safety": harm_rows}
    claimed = 0
    for drugs, tables in every_table:
        trial_ids = list(landscape_trials(evidence, drugs)["trial_id"])
        for table in tables:
            if re.search(r"\bevery\b", table.title, re.IGNORECASE):
                assert table.name in claims, f"{table.name}: '{table.title}' claims every, unchecked"
                assert len(table.data) == claims[table.name](trial_ids), table.name
                assert set(table.data["trial_id"]) <= set(trial_ids)
                claimed += 1
    assert claimed  # the claim is made, and checked


def test_the_cross_trial_caveat_is_under_every_table_of_several_trials(evidence, every_table):
    several = 0
    for table in [table for _, tables in every_table for table in tables]:
        trials = trials_shown(table)
        assert trials <= set(evidence.trials["trial_name"]), table.name
        assert (CROSS_TRIAL_CAVEAT in table.footnotes) == (len(trials) > 1), table.name
        several += len(trials) > 1
    assert several


def test_tables_show_verification_marks_and_sources(evidence, every_table):
    for table in every_table[0][1]:
        assert {EVIDENCE_COLUMN, "Source"} <= set(table.frame.columns), table.name
    unverified = evidence.outcomes[evidence.outcomes["verification"] == "not verified"]
    assert len(unverified)
    main = tables.landscape_table(evidence)
    names = evidence.trials.set_index("trial_id")["trial_name"]
    for trial_id in set(unverified["trial_id"]) & set(newer_trials(evidence)["trial_id"]):
        row = rows_for(main, names[trial_id]).iloc[0]
        assert LEVEL_MARKS["not verified"] in row[EVIDENCE_COLUMN].split(", ")


def test_every_verification_level_has_a_mark_and_a_meaning(evidence):
    levels = {choice for spec in evidence.schema.values() for column in spec.columns
              if column.name == "verification" for choice in column.choices}
    assert "not verified" in levels and levels <= set(LEVEL_MARKS)
    assert set(LEVEL_MARKS.values()) == set(LEVEL_MEANINGS)


def test_drugs_parameter_filters_and_all_means_every_drug_in_the_data(evidence):
    table = tables.landscape_table(evidence, drugs=SUBSET)
    newer = newer_trials(evidence)
    assert trials_shown(table) == set(newer.loc[newer["drug"].isin(SUBSET.split(",")), "trial_name"])
    assert all(drug in table.title for drug in SUBSET.split(","))
    fifth = newer_trials(evidence).iloc[[0]].assign(trial_id="another", trial_name="ANOTHER", drug="another-inib")
    more = dataclasses.replace(evidence, trials=pd.concat([evidence.trials, fifth], ignore_index=True))
    assert "another-inib" in analysis.parse_drugs("all", more)
    assert "ANOTHER" in trials_shown(tables.landscape_table(more))
    report = get_report("alk_inhibitor_landscape")
    assert parse_param_overrides(["drugs=alectinib, brigatinib"], [report])[report.name]["drugs"] == ["alectinib, brigatinib"]
    # The drugs a value may name are the data's, so the check needs the data: the build's snapshot, or the
    # evidence the notebook loads (tests/test_facts_from_data.py runs both).
    aspirin = parse_param_overrides(["drugs=aspirin"], [report])[report.name]["drugs"][0]
    with pytest.raises(UsageError, match=f"'aspirin'.*comma-separated list of {', '.join(analysis.newer_drugs(evidence))}$"):
        report.check_against_data({"drugs": aspirin}, lambda table: getattr(evidence, table).to_dict("records"), "data")
    with pytest.raises(UsageError, match="must be one of primary, updated"):
        parse_param_overrides(["analysis=final"], [report])


def test_crizotinib_as_comparator_is_set_against_its_own_first_line_trial(evidence):
    medians = analysis.crizotinib_control_medians(evidence).set_index("trial_id")
    reference = analysis.reference_trial(evidence)
    assert reference["role"] == "development" and reference["setting"] == "first-line"
    own = medians.loc[reference["trial_id"], "median_pfs_months"]
    assert (medians["difference_from_reference"] == medians["median_pfs_months"] - own).all()
    assert set(newer_trials(evidence)["trial_id"]) <= set(medians.index)
    table = tables.comparator_consistency_table(evidence)
    spread = medians["median_pfs_months"]
    assert f"range {spread.min():.1f}–{spread.max():.1f}" in table.population
    assert f"Difference from {reference['trial_name']}, months" in table.frame.columns
    assert list(table.frame["Population"]) == list(medians["population"])


def test_cns_and_landmark_tables_show_the_data(evidence):
    outcomes = evidence.outcomes.set_index(["trial_id", "arm", "endpoint", "analysis"])["value"]
    names = evidence.trials.set_index("trial_name", drop=False)
    cns = tables.cns_table(evidence).frame
    assert len(cns)
    for _, row in cns.iterrows():
        trial = names.loc[row["Trial"]]
        assert row["Newer drug"] == f"{outcomes[(trial['trial_id'], trial['drug'], row['Endpoint'], 'primary')]:g}%"
        assert row["Crizotinib"] == f"{outcomes[(trial['trial_id'], 'crizotinib', row['Endpoint'], 'primary')]:g}%"
    landmark = tables.landmark_table(evidence)
    assert len(landmark.frame) and set(landmark.data["endpoint"]) <= set(evidence.outcomes["endpoint"])
    assert not landmark.data["endpoint"].str.contains(r"\bOS\b").any()
    chemo = tables.landscape_table(evidence, comparator="chemotherapy").frame.iloc[0]
    assert chemo["ORR (crizotinib / chemotherapy), 95% CI"].count("%") == 2


def test_interval_method_and_level_reach_the_landscape_table(evidence):
    exact = tables.landscape_table(evidence)
    wilson = tables.landscape_table(evidence, confidence_level=0.9, ci_method="wilson")
    column = "ORR (newer drug / crizotinib), 90% CI"
    assert column in wilson.frame.columns and any("Wilson" in note for note in wilson.footnotes)
    orr = evidence.outcomes[(evidence.outcomes["endpoint"] == "ORR") & evidence.outcomes["denominator"].notna()]
    newer = newer_trials(evidence)
    name = newer.loc[newer["trial_id"].isin(orr["trial_id"]), "trial_name"].iloc[0]
    exact_cell = rows_for(exact, name)["ORR (newer drug / crizotinib), 95% CI"].iloc[0]
    assert rows_for(wilson, name)[column].iloc[0] != exact_cell


def test_the_notebook_prose_types_no_trial_fact(evidence):
    notebook = json.loads((NOTEBOOK_DIR / get_report("alk_inhibitor_landscape").notebook).read_text())
    prose = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    assert "## Overall survival" in prose and "## Harms" in prose
    assert not re.search(r"\d", prose)
    for t in evidence.trials.itertuples():
        assert t.trial_name not in prose
        assert re.split(r"[;,]", t.population)[0] not in prose
    assert not re.search(r"\bevery first-line trial\b", prose, re.IGNORECASE)
