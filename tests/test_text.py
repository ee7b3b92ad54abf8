"""The prose of evidence/text.py read number by number: each value must sit beside its own arm and trial, so
"median PFS 3.0 vs 7.7 months (crizotinib vs chemotherapy)" for PROFILE 1007 (7.7 on crizotinib) fails."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest

from crizotinib_reports.evidence import analysis, text
from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.evidence.tables import hazard_ratio_text
from crizotinib_reports.paths import DATA_DIR


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


def plain(markdown_text) -> str:
    """The Markdown as a reader sees it: escapes removed."""
    return re.sub(r"\\(.)", r"\1", str(markdown_text))


def paired_values(line: str, label: str) -> dict[str, float]:
    """'median PFS 7.7 vs 3.0 months (crizotinib vs chemotherapy, ...)' -> {'crizotinib': 7.7, 'chemotherapy': 3.0}."""
    match = re.search(rf"{label} ([\d.% vsmonths]+?) \(([a-z ]+ vs [a-z ]+)[,)]", line)
    assert match, f"no '{label}' pair in: {line}"
    values = [float(v) for v in re.findall(r"\d+(?:\.\d+)?", match.group(1))]
    arms = match.group(2).split(" vs ")
    assert len(values) == len(arms) == 2, line
    return dict(zip(arms, values))


def arm_values(evidence, trial_id: str, endpoint: str) -> dict[str, float]:
    """Each arm's value of an endpoint in the latest analysis the data hold (as the summary shows it)."""
    rows = evidence.outcomes[(evidence.outcomes["trial_id"] == trial_id) & (evidence.outcomes["endpoint"] == endpoint)]
    latest = max(rows["analysis"], key=analysis.ANALYSES.index)
    return {r.arm: float(r.value) for r in rows[rows["analysis"] == latest].itertuples()}


@pytest.mark.parametrize("setting", ["all", "first-line", "second-line"])
def test_each_randomized_trials_numbers_sit_beside_their_own_arm(evidence, setting):
    summary = plain(text.phase3_summary(evidence, setting))
    trials = analysis.select_trials(evidence.trials, setting, include_single_arm=False)
    lines = {t.trial_name: next(line for line in summary.splitlines() if line.startswith(f"- **{t.trial_name}**"))
             for t in trials.itertuples()}
    assert len(summary.splitlines()) == len(trials) >= 1
    for t in trials.itertuples():
        for label, endpoint in (("median PFS", "PFS median"), ("ORR", "ORR")):
            assert paired_values(lines[t.trial_name], label) == arm_values(evidence, t.trial_id, endpoint), \
                (t.trial_name, label)
        hr = evidence.hazard_ratios[(evidence.hazard_ratios["trial_id"] == t.trial_id)
                                    & (evidence.hazard_ratios["endpoint"] == "PFS")].iloc[-1]
        assert f"HR {hr.experimental_arm} vs {hr.control_arm} {hr.hazard_ratio:.2f}" in lines[t.trial_name]


def test_profile_1007_reads_7_7_on_crizotinib_and_3_0_on_chemotherapy(evidence):
    line = plain(text.phase3_summary(evidence, "second-line"))
    assert line.startswith("- **PROFILE 1007**") and len(line.splitlines()) == 1
    assert paired_values(line, "median PFS") == {"crizotinib": 7.7, "chemotherapy": 3.0}
    assert paired_values(line, "ORR") == {"crizotinib": 65.0, "chemotherapy": 20.0}


def test_second_line_comparison_is_profile_1007_with_its_own_arms(evidence):
    comparisons = analysis.arm_comparisons(evidence, setting="second-line")
    assert list(comparisons["trial_name"]) == ["PROFILE 1007"]
    row = comparisons.iloc[0]
    trial = evidence.trials.set_index("trial_id").loc[row["trial_id"]]
    assert (row["n_crizotinib"], row["n_chemotherapy"]) == (trial["patients_experimental"], trial["patients_control"])
    orr = arm_values(evidence, row["trial_id"], "ORR")
    assert (row["orr_crizotinib_pct"], row["orr_chemotherapy_pct"]) == (orr["crizotinib"], orr["chemotherapy"])
    assert row["orr_difference_pct"] == pytest.approx(
        100 * (row["responders_crizotinib"] / row["n_crizotinib"] - row["responders_chemotherapy"] / row["n_chemotherapy"]))
    assert row["orr_difference_low_pct"] < row["orr_difference_pct"] < row["orr_difference_high_pct"]
    assert (row["pfs_hr_experimental_arm"], row["pfs_hr_control_arm"], row["pfs_hazard_ratio"]) == \
        ("crizotinib", "chemotherapy", 0.49)


def test_findings_name_their_trials_and_say_which_are_not_shown(evidence):
    about = evidence.findings.dropna(subset=["trial_ids"])
    assert len(about)
    names = evidence.trials.set_index("trial_id")["trial_name"]
    summary = plain(text.findings_summary(evidence, None, "second-line", include_single_arm=False))
    shown = set(analysis.select_trials(evidence.trials, "second-line", False)["trial_id"])
    for finding in about.itertuples():
        line = next(line for line in summary.splitlines() if finding.statement in line)
        trial_ids = finding.trial_ids.split(";")
        assert all(names[t] in line.split(finding.statement)[0] for t in trial_ids)
        hidden = [names[t] for t in trial_ids if t not in shown]
        assert ("Not among the trials this report shows" in line) == bool(hidden)
        assert all(name in line.split("Not among")[-1] for name in hidden)


def test_relapse_and_resistance_prose_list_every_stated_row(evidence):
    relapse = plain(text.relapse_summary(evidence))
    stated = evidence.relapse_patterns[evidence.relapse_patterns["frequency_as_stated"] != "not stated"]
    assert len(stated) and all(f"{r.pattern}: {r.frequency_as_stated}" in relapse for r in stated.itertuples())
    resistance = plain(text.resistance_summary(evidence))
    quantified = evidence.resistance_mechanisms.dropna(subset=["frequency_low_pct"])
    assert len(quantified) and all(r.frequency_as_stated in resistance for r in quantified.itertuples())
    unquantified = evidence.resistance_mechanisms[evidence.resistance_mechanisms["frequency_low_pct"].isna()]
    assert len(unquantified) and not any(f"{r.mechanism}," in resistance for r in unquantified.itertuples())
    assert all(pd.notna(m.value) and f"{m.measure}:" in resistance for m in evidence.resistance_measures.itertuples())


# --- each finding's line, exactly (mutation testing found these unchecked) --------------------------

def _line_of(summary, statement: str) -> str:
    return next(line for line in plain(summary).splitlines() if statement in line)


def test_a_finding_reads_its_trials_then_its_statement_and_cites_its_source(evidence):
    names = evidence.trials.set_index("trial_id")["trial_name"]
    shown = set(analysis.select_trials(evidence.trials)["trial_id"])
    for finding in evidence.findings.itertuples():
        line = _line_of(text.findings_summary(evidence), finding.statement)
        trial_ids = finding.trial_ids.split(";") if pd.notna(finding.trial_ids) else []
        hidden = [names[t] for t in trial_ids if t not in shown]
        suffix = f" Not among the trials this report shows: {_and_list(hidden)}." if hidden else ""
        about = f"{_and_list([names[t] for t in trial_ids])}: " if trial_ids else ""
        assert re.fullmatch(rf"- {re.escape(about + finding.statement)} \([^()]+(?:\([A-Z]\))?\){re.escape(suffix)}",
                            line), line
    assert any(pd.isna(f.trial_ids) for f in evidence.findings.itertuples())  # a finding about no trial
    assert any(pd.notna(f.trial_ids) and ";" in f.trial_ids for f in evidence.findings.itertuples())  # about two


def _and_list(names: list[str]) -> str:
    return f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else "".join(names)


def test_trials_left_out_are_listed_with_and(evidence):
    two_hidden = evidence.findings.copy()
    two_hidden["trial_ids"] = "phase1;phase2;profile1007"
    hidden_evidence = dataclasses.replace(evidence, findings=two_hidden)
    line = _line_of(text.findings_summary(hidden_evidence, None, "first-line", include_single_arm=False),
                    two_hidden["statement"].iloc[0])
    names = evidence.trials.set_index("trial_id")["trial_name"]
    assert line.endswith(f" Not among the trials this report shows: {names['phase1']}, {names['phase2']} and "
                         f"{names['profile1007']}."), line


def test_each_phase_iii_line_names_its_setting_and_comparator(evidence):
    summary = plain(text.phase3_summary(evidence))
    randomized = evidence.trials[(evidence.trials["design"] == "randomized") & (evidence.trials["role"] == "development")]
    assert len(randomized)
    for t in randomized.itertuples():
        assert f"- **{t.trial_name}** ({t.setting}, against {t.comparator}): " in summary


def test_the_phase_iii_orr_is_the_primary_analysis_even_when_an_update_is_in_the_data(evidence):
    outcomes = evidence.outcomes
    orr = outcomes[(outcomes["trial_id"] == "profile1007") & (outcomes["endpoint"] == "ORR")
                   & (outcomes["analysis"] == "primary")]
    assert len(orr) == 2
    update = orr.assign(analysis="updated", value=orr["value"] + 11)
    summary = plain(text.phase3_summary(dataclasses.replace(evidence, outcomes=pd.concat([outcomes, update], ignore_index=True)),
                                        "second-line"))
    primary = dict(zip(orr["arm"], orr["value"]))
    assert f"ORR {primary['crizotinib']:g}% vs {primary['chemotherapy']:g}%" in summary, summary
    assert f"{primary['crizotinib'] + 11:g}%" not in summary


def test_resistance_measures_in_percent_read_as_percent(evidence):
    resistance = plain(text.resistance_summary(evidence))
    for m in evidence.resistance_measures.itertuples():
        shown = f"{m.value:g}%" if m.unit == "%" else f"{m.value:g} {m.unit}"
        assert f"{m.measure}: {shown}" in resistance, (m.measure, resistance)
    assert any(m.unit == "%" for m in evidence.resistance_measures.itertuples())


@pytest.mark.parametrize("setting", ["all", "first-line", "second-line"])
def test_trials_shown_names_exactly_the_trials_of_the_setting(evidence, setting):
    shown = analysis.select_trials(evidence.trials, setting, include_single_arm=True)
    line = plain(text.trials_shown(evidence, setting, include_single_arm=True))
    randomized = shown[shown["design"] == "randomized"]
    assert line.startswith("Trials shown: ") and f"{len(randomized)} randomized (" in line, line
    for t in evidence.trials[evidence.trials["role"] == "development"].itertuples():
        assert (f"{t.trial_name}, phase {t.phase}" in line) == (t.trial_id in set(shown["trial_id"])), (t.trial_name, line)


def test_relapse_prose_opens_with_what_it_lists(evidence):
    relapse = plain(text.relapse_summary(evidence))
    assert relapse.startswith("How often each pattern of relapse occurs, as its source states it: "), relapse


def test_a_measure_carries_its_qualifier_only_when_it_has_one(evidence):
    resistance = plain(text.resistance_summary(evidence))
    measures = evidence.resistance_measures
    assert measures["qualifier"].notna().any() and measures["qualifier"].isna().any()
    for m in measures.itertuples():
        assert (f"{m.measure}: {m.value:g}" in resistance.replace("%", "")) and (
            ("(" + str(m.qualifier) + ")" in resistance) == pd.notna(m.qualifier)), m.measure


# --- the third seeded sample's survivors (docs/testing.md) --------------------------------------------------

def _arm(arm: str, value, unit: str = "months", note=None) -> pd.Series:
    return pd.Series({"arm": arm, "value": value, "unit": unit, "note": note})


def test_a_shared_unit_is_said_once_only_when_every_value_carries_it():
    values, arms = text._arms_pair([_arm("a", 10.9), _arm("b", 7.0)])
    assert (values, arms) == ("10.9 vs 7.0 months", "a vs b")
    # A middle value without the unit (a median not reached) keeps every unit where it stands.
    values, _ = text._arms_pair([_arm("a", 10.9), _arm("b", float("nan"), note="not reached"), _arm("c", 7.0)])
    assert values.startswith("10.9 months vs ") and values.endswith(" vs 7.0 months"), values
    assert text._arms_pair([_arm("a", 1.5), _arm("b", 2.5), _arm("c", 3.5)])[0] == "1.5 vs 2.5 vs 3.5 months"


def test_each_pattern_says_how_it_is_managed_when_its_source_says(evidence):
    explained = plain(text.patterns_explained(evidence)).splitlines()
    managed = evidence.relapse_patterns.dropna(subset=["management"])
    assert len(managed) and all(any(f" Management: {r.management}" in line and r.pattern in line for line in explained)
                                for r in managed.itertuples())
    unmanaged = evidence.relapse_patterns[evidence.relapse_patterns["management"].isna()
                                          & evidence.relapse_patterns["explanation"].notna()]
    assert all("Management" not in line and "None" not in line
               for line in explained for r in unmanaged.itertuples() if r.pattern in line)


def test_the_pfs_sentence_gives_the_pfs_hazard_ratio_and_no_other(evidence):
    for line in plain(text.phase3_summary(evidence)).splitlines():
        trial = evidence.trials[evidence.trials["trial_name"].map(lambda name: f"**{name}**" in line)]
        if trial.empty:
            continue
        hazard = evidence.hazard_ratios[evidence.hazard_ratios["trial_id"] == trial["trial_id"].iloc[0]]
        pfs = hazard[(hazard["endpoint"] == "PFS") & (hazard["analysis"] == "primary") & hazard["adjustment"].isna()]
        first_sentence = line.split("; ORR")[0]
        assert first_sentence.count(", HR ") == len(pfs) == 1, line
        assert hazard_ratio_text(pfs.iloc[0]) in first_sentence


def test_nothing_pooled_says_whether_single_arm_trials_were_counted(evidence):
    single_arm = set(evidence.trials.loc[evidence.trials["design"] == "single-arm", "trial_id"])
    without = dataclasses.replace(evidence, trials=evidence.trials[~evidence.trials["trial_id"].isin(single_arm)])
    intro = plain(text.pooled_orr_intro(without, "first-line", True))
    assert "Nothing is pooled" in intro and "single-arm trials included" in intro
    assert "single-arm trials left out" in plain(text.pooled_orr_intro(without, "first-line", False))


# --- the fourth seeded sample's survivors -------------------------------------------------------------------

def test_a_pattern_without_an_explanation_prints_none(evidence):
    patterns = evidence.relapse_patterns.copy()
    managed = patterns["management"].notna()
    assert managed.any()
    patterns.loc[managed, "explanation"] = pd.NA
    lines = plain(text.patterns_explained(dataclasses.replace(evidence, relapse_patterns=patterns))).splitlines()
    for r in patterns[managed].itertuples():
        (line,) = [line for line in lines if f"**{r.pattern}**" in line]
        assert f"**{r.pattern}** Management: {r.management}" in line and "nan" not in line.lower(), line


def test_each_overall_survival_ratio_names_its_analysis(evidence):
    summary = plain(text.phase3_summary(evidence))
    hazard = evidence.hazard_ratios
    updated = hazard[(hazard["endpoint"] == "OS") & hazard["adjustment"].isna() & (hazard["analysis"] == "updated")
                     & hazard["trial_id"].isin(analysis.select_trials(evidence.trials, include_single_arm=False)
                                               ["trial_id"])]
    assert len(updated)
    assert all(f"Overall survival, {label}: HR" in summary for label in updated["analysis_label"])


def test_the_pooled_intro_names_the_hartung_knapp_interval_as_its_authors_spell_it(evidence):
    assert "Hartung–Knapp–Sidik–Jonkman interval" in plain(text.pooled_orr_intro(evidence))
