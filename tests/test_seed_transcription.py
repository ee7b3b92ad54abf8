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


def test_seed_figures_are_all_in_the_data(seed_text: str):
    """Every percentage and month figure of the review's body is somewhere in data/."""
    body = seed_text.split("Reference")[0]
    figures = set(re.findall(r"\b\d+(?:\.\d+)?(?=%| months)", body))
    all_data = "\n".join(p.read_text(encoding="utf-8") for p in DATA_DIR.glob("*.csv"))
    stored = set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", all_data))
    assert figures, "no figures found in the seed"
    assert figures <= stored, figures - stored
