"""The data is a faithful transcription of the review: quotes verbatim, figures in the quotes."""

from __future__ import annotations

import re

import pandas as pd

from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.paths import DATA_DIR

TABLES_WITH_QUOTES = ("trials", "outcomes", "approvals", "findings", "relapse_patterns", "resistance_measures",
                      "resistance_mechanisms")


def test_every_review_quote_is_verbatim_in_the_seed(seed_text: str):
    evidence = load_evidence(DATA_DIR)
    for name in TABLES_WITH_QUOTES:
        for quote in getattr(evidence, name)["review_quote"].dropna():
            assert quote in seed_text, f"{name}: quote not in the review: {quote!r}"


def test_every_number_stored_appears_in_its_quote():
    """A value typed wrongly (62 for 61) would not match the review's own sentence."""
    evidence = load_evidence(DATA_DIR)
    for row in evidence.outcomes.dropna(subset=["review_quote"]).itertuples():
        assert re.search(rf"\b{row.value:g}(\.0)?\b", row.review_quote), row
        if pd.notna(row.denominator) and pd.isna(row.denominator_source_id):  # N from the review itself
            assert str(row.denominator) in row.review_quote
    for row in evidence.resistance_measures.itertuples():
        assert f"{row.value:g}" in row.review_quote
    mutations = evidence.resistance_mechanisms.set_index("mechanism_id").loc["secondary_alk_mutation"]
    assert f"{mutations.frequency_low_pct:g}-{mutations.frequency_high_pct:g}%" in mutations.review_quote


# A figure of the review with its unit: "61%", "22-36%", "from 3.0 to 7.7 months", "136 patients".
SEED_FIGURE = re.compile(r"(\d+(?:\.\d+)?)(?:\s*(?:-|–|to)\s*(\d+(?:\.\d+)?))?\s*(%| months| patients)")


def seed_figures(seed_text: str) -> set[tuple[str, str]]:
    """Every percentage, month and patient count of the review's body, as (number, unit)."""
    figures = set()
    for low, high, unit in SEED_FIGURE.findall(seed_text.split("Reference")[0]):
        figures |= {(f"{float(number):g}", unit.strip()) for number in (low, high) if number}
    return figures


def stored_values(evidence) -> set[tuple[str, str]]:
    """Each number the value columns hold, with its unit: what the reports compute from (quotes and notes aside)."""
    stored = set()

    def add(values, units) -> None:
        stored.update((f"{float(value):g}", unit) for value, unit in zip(values, units) if pd.notna(value))

    for frame in (evidence.outcomes, evidence.resistance_measures, evidence.adverse_events, evidence.study_measures):
        add(frame["value"], frame["unit"])
    add(evidence.published_intervals["estimate"], ["%"] * len(evidence.published_intervals))
    for column in ("frequency_low_pct", "frequency_high_pct"):
        add(evidence.resistance_mechanisms[column], ["%"] * len(evidence.resistance_mechanisms))
    for frame, column in ((evidence.trials, "patients_evaluated"), (evidence.trials, "patients_experimental"),
                          (evidence.trials, "patients_control"), (evidence.outcomes, "denominator"),
                          (evidence.published_intervals, "denominator"), (evidence.study_measures, "denominator")):
        add(frame[column], ["patients"] * len(frame))
    return stored


def test_seed_figures_are_all_in_the_value_columns(seed_text: str):
    """Every percentage, month and patient figure of the review's body is a number a report computes from."""
    figures = seed_figures(seed_text)
    assert {("61", "%"), ("22", "%"), ("36", "%"), ("3", "months"), ("7.7", "months"), ("136", "patients")} <= figures
    missing = figures - stored_values(load_evidence(DATA_DIR))
    assert not missing, f"review figures no value column holds: {sorted(missing)}"


def test_a_figure_typed_wrongly_in_a_value_column_is_missed_though_its_quote_has_it(seed_text: str, data_copy):
    outcomes = data_copy / "outcomes.csv"
    text = outcomes.read_text(encoding="utf-8")
    row = "profile1007,crizotinib,PFS median,primary,,independent review,7.7,months"
    assert row in text
    outcomes.write_text(text.replace(row, row.replace(",7.7,", ",7.8,")), encoding="utf-8")
    evidence = load_evidence(data_copy)
    assert "7.7 months" in " ".join(evidence.outcomes["review_quote"].dropna())  # the quote still says it
    assert seed_figures(seed_text) - stored_values(evidence) == {("7.7", "months")}
