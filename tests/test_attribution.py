"""Every figure is credited to what really reports it: where this bundle read it, its primary publication,
the summary it was checked in, and a verification level a reader can see; never to the reference the review
cites at the end of a section, unless that paper is itself the figure's source."""

from __future__ import annotations

import pandas as pd
import pytest

from crizotinib_reports.evidence import figures, tables
from crizotinib_reports.evidence.citations import ATTRIBUTION_COLUMNS, credit_of, source_credit
from crizotinib_reports.evidence.data import TABLE_NAMES, load_evidence
from crizotinib_reports.paths import DATA_DIR


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


def figure_tables(evidence) -> dict[str, pd.DataFrame]:
    return {name: getattr(evidence, name) for name in TABLE_NAMES if name != "sources"}


def test_every_table_of_figures_carries_the_attribution_columns(evidence):
    for name, frame in figure_tables(evidence).items():
        assert set(ATTRIBUTION_COLUMNS) <= set(frame.columns), name


def test_the_review_and_its_sections_go_together(evidence):
    kinds = evidence.sources.set_index("source_id")["kind"]
    for name, frame in figure_tables(evidence).items():
        read_in_review = frame["source_id"].map(kinds) == "review"
        assert (read_in_review == frame["review_section"].notna()).all(), name


def test_primary_and_checked_in_sources_are_of_the_right_kind(evidence):
    kinds = evidence.sources.set_index("source_id")["kind"]
    for name, frame in figure_tables(evidence).items():
        for row in frame.itertuples():
            credit = credit_of(row._asdict())
            assert all(kinds[p] in ("publication", "reference of the review") for p in credit.primary), (name, row)
            if credit.verified_in:
                assert kinds[credit.verified_in] == "secondary summary", (name, row)


def test_no_figure_is_credited_to_the_reference_the_review_cites_for_its_section(evidence):
    """The review cites [1], [2], [3] once per section: they are the source of a figure only when the
    figure was read in that paper itself (then it is also the figure's primary publication)."""
    section_references = set(evidence.sources.dropna(subset=["cited_for_section"])["source_id"])
    assert section_references == {"dagogojack2016", "camidge2012", "solomon2014"}
    for name, frame in figure_tables(evidence).items():
        for row in frame.itertuples():
            credit = credit_of(row._asdict())
            if credit.read_in in section_references:
                assert credit.read_in in credit.primary, (name, row)
            if credit.section is not None:  # read in the review: its section reference is not the source
                section_reference = evidence.sources.loc[
                    evidence.sources["cited_for_section"] == credit.section, "source_id"].iloc[0]
                assert section_reference not in credit.sources or section_reference in credit.primary, (name, row)
    # The review's relapse and resistance figures were read in the review: none is credited to Camidge 2012 or
    # Solomon 2014, whose papers hold no relapse pattern or resistance biopsy.
    for name in ("relapse_patterns", "resistance_measures", "resistance_mechanisms"):
        frame = getattr(evidence, name)
        assert not frame["primary_source_id"].isin(["camidge2012", "solomon2014"]).any(), name
        assert (frame["source_id"] == "review2024").all(), name


def test_study_figures_name_the_pattern_or_mechanism_they_are_about(evidence):
    known = set(evidence.relapse_patterns["pattern_id"]) | set(evidence.resistance_mechanisms["mechanism_id"])
    assert set(evidence.study_measures["about_id"]) <= known


def test_every_source_is_used(evidence):
    used = set(evidence.sources.dropna(subset=["cited_for_section"])["source_id"]) | {"review2024"}
    for frame in figure_tables(evidence).values():
        for row in frame.itertuples():
            used |= set(credit_of(row._asdict()).sources)
        if "denominator_source_id" in frame:
            used |= set(frame["denominator_source_id"].dropna())
    assert set(evidence.sources["source_id"]) - used == set()


def all_row_credits(evidence) -> set:
    credits = {credit_of(row._asdict()) for frame in figure_tables(evidence).values() for row in frame.itertuples()}
    credits |= {source_credit(evidence.sources, s) for s in evidence.outcomes["denominator_source_id"].dropna()}
    return credits


def report_items(evidence):
    """Every table and figure the reports show, with their default parameters."""

    items = [tables.efficacy_table(evidence), tables.comparisons_table(evidence),
             tables.interval_checks_table(evidence), tables.pooled_orr_table(evidence), tables.approvals_table(evidence),
             tables.key_numbers_table(evidence), tables.relapse_table(evidence),
             tables.resistance_measures_table(evidence), tables.mechanisms_table(evidence),
             tables.study_measures_table(evidence, "relapse"), tables.study_measures_table(evidence, "resistance"),
             tables.derivations_table(evidence),
             figures.response_rate_figure(evidence), figures.pfs_figure(evidence),
             figures.approval_timeline_figure(evidence), figures.relapse_timescale_figure(evidence),
             figures.mechanisms_figure(evidence), figures.hazard_ratio_forest(evidence),
             figures.orr_difference_forest(evidence), figures.pooled_orr_forest(evidence),
             tables.landscape_table(evidence), figures.hazard_ratio_landscape_forest(evidence)]
    return items


def test_tables_and_figures_credit_only_what_their_rows_name(evidence):
    allowed = all_row_credits(evidence)
    for item in report_items(evidence):
        assert item.credits, item.name
        assert set(item.credits) <= allowed, (item.name, set(item.credits) - allowed)
        credited = {s for c in item.credits for s in c.sources}
        assert set(item.source_ids) >= credited, item.name


def test_a_section_reference_is_named_only_as_what_the_review_cites(evidence):
    relapses = tables.relapse_table(evidence)
    assert "Review 2024 (which cites Camidge et al. 2012 [2] for its section 'Clinical relapses')" in \
        relapses.source_text
    assert "Primary publications" not in relapses.source_text and "Verification: R 5." in relapses.source_text
    assert set(relapses.frame["Source"]) == {"Review 2024 (R)"}
