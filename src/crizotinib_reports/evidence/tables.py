"""Report tables: pure functions from the evidence to titled, footnoted, sourced tables.

Each builder returns a ReportTable: the numbers as a DataFrame (also written as CSV) and
what a clinical table needs around them (title, population, footnotes, source line).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
from bs4 import BeautifulSoup, NavigableString
from great_tables import GT

from .analysis import (ANALYSES, CNS_ENDPOINTS, CROSSOVER, LANDMARK_PFS_ENDPOINTS, arm_comparisons,
                       comparator_trials, crizotinib_control_medians, hazard_ratios_vs_crizotinib, interval_checks,
                       landscape_trials, newer_drugs, outcome_pairs, pair_rows, pooled_orr, reference_trial, response_rates, rows_of,
                       safety_rows, select_trials, survival_rows)
from .citations import (LEVEL_MEANINGS, Credit, cited_sources, credit_of, credit_text, credits_of, full_citation,
                        marks, short_citation, source_credit, source_line)
from .data import TABLE_NAMES, Evidence
from .provenance import CellSource, annotate_table_html, combine, from_rows, provenance_columns, provenance_frame
from ..plain_text import spreadsheet_safe
from ..paths import SCHEMA_FILE_NAME as SCHEMA_FILE
from .stats import CI_METHOD_LABELS, POOLED_INTERVALS, derived_count, proportion_interval

NOT_STATED = "not stated"
#: One typeface family for text, tables and figures (DejaVu Sans is the one sure to exist where reports are built).
REPORT_FONTS = ("DejaVu Sans", "Liberation Sans", "Arial", "sans-serif")
#: The agencies of approvals.csv (its schema's choices), spelt out under a table that names them.
AGENCIES = {"FDA": "US Food and Drug Administration", "EMA": "European Medicines Agency"}


#: Said under every table or figure that sets separate trials side by side.
CROSS_TRIAL_CAVEAT = ("Separate trials set side by side: they were never compared with each other, and their "
                      "populations, assessors and doses differ (shown where known); read across rows with care.")
EVIDENCE_COLUMN = "Evidence"
EVIDENCE_FOOTNOTE = "Evidence: " + "; ".join(f"{mark}, {meaning}" for mark, meaning in LEVEL_MEANINGS.items()) + "."


@dataclass(frozen=True)
class ReportTable:
    name: str
    title: str
    population: str
    frame: pd.DataFrame
    source_ids: tuple[str, ...]  # every source the reference list needs for this table
    source_text: str
    credits: tuple[Credit, ...] = ()  # one per figure shown: what the source line credits, and nothing else
    footnotes: tuple[str, ...] = ()
    spanners: dict[str, list[str]] = field(default_factory=dict)
    data: pd.DataFrame | None = None  # unformatted numbers for the CSV; the shown frame if None
    group_column: str | None = None
    number: str = ""  # '2.1' once a report shows it (the report's number, then the table's within it)
    provenance: pd.DataFrame | None = None  # the frame's shape: each shown cell's CellSource (provenance.py) or None
    data_shown_rows: tuple[int, ...] | None = None  # per row of `data`, the shown row it is in (when not one for one)

    @property
    def label(self) -> str:
        """'Table 2.1. Efficacy of crizotinib by trial and arm', or the title alone before it is numbered."""
        return f"Table {self.number}. {self.title}" if self.number else self.title

    @property
    def anchor(self) -> str:
        """The table's id in a report's HTML: from its number, so a link to 'Table 2.1' survives a rebuild."""
        return numbered_anchor("table", self.number, self.name)

    def to_gt(self) -> GT:
        table = (GT(self.frame, groupname_col=self.group_column, id=f"{self.anchor}-gt")
                 .tab_header(title=self.label, subtitle=self.population)
                 .tab_options(table_font_names=list(REPORT_FONTS)))
        for label, columns in self.spanners.items():
            table = table.tab_spanner(label=label, columns=columns)
        for note in self.footnotes:
            table = table.tab_source_note(note)
        return table.tab_source_note(self.source_text)

    def _repr_html_(self) -> str:
        # CSS inlined into each element: JupyterLab drops a <style> from output it does not trust, which left
        # the executed notebooks' tables unstyled. The wrapper carries the number for contents and bookmarks.
        gt = self.to_gt()
        body = address_break_points(annotate_table_html(gt.as_raw_html(inline_css=True), self.frame, self.provenance,
                                                        *drawn_order(gt, self.frame, self.group_column)))
        return (f'<div class="report-table" id="{html.escape(self.anchor)}" '
                f'data-label="{html.escape(self.label)}">{body}</div>')

    def csv_text(self) -> str:
        """The table's numbers as CSV; a text cell that a spreadsheet would run as a formula starts with `'`."""
        # Each shown column's source, citation and derivation as extra columns, where a CSV row is a shown row.
        frame = provenance_columns(self.frame if self.data is None else self.data, self.provenance,
                                   self.data_shown_rows if self.data is not None else None)
        text_columns = [c for c in frame.columns
                        if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c])]
        return frame.assign(**{c: frame[c].map(spreadsheet_safe) for c in text_columns}).to_csv(index=False)


#: A web address or a DOI in a cell's text: its head ('https://', '10.1158') and the rest.
_ADDRESS = re.compile(r"(?P<head>https?://|(?<![\w.])10\.\d{4,9})(?P<rest>[^\s<>\"']+)")
#: In the rest, before each '/' or '.' between two characters of the address.
_ADDRESS_BREAK = re.compile(r"(?<=[^\s/.])(?=[/.][^\s/.])")


def address_pieces(text: str) -> list[str]:
    """``text`` cut where a line may break inside its web addresses and DOIs: before a slash or a dot, as the
    Chicago Manual of Style has them broken. Browsers and WeasyPrint break after a slash only before a letter,
    so 'doi:10.1158/1078-0432.CCR-11-2906' stayed whole, and its column pushed the references table past the
    printed page's margin."""
    pieces, start = [], 0
    for address in _ADDRESS.finditer(text):
        for cut in _ADDRESS_BREAK.finditer(text, address.start("rest"), address.end()):
            pieces.append(text[start:cut.start()])
            start = cut.start()
    return [*pieces, text[start:]]


def address_break_points(table_html: str) -> str:
    """The table with a ``<wbr>`` (a break opportunity, no character: a copied DOI stays whole) at each of
    :func:`address_pieces`' cuts in its cells' text. The text stays text: only the element is added."""
    if not _ADDRESS.search(table_html):
        return table_html
    soup = BeautifulSoup(table_html, features="html.parser")
    for cell in soup.find_all("td"):
        for string in [s for s in cell.find_all(string=True) if type(s) is NavigableString]:
            pieces = address_pieces(str(string))
            if len(pieces) > 1:
                replacement = [NavigableString(pieces[0])]
                for piece in pieces[1:]:
                    replacement += [soup.new_tag("wbr"), NavigableString(piece)]
                string.replace_with(*replacement)
    return str(soup)


def drawn_order(gt: GT, frame: pd.DataFrame, group_column: str | None) -> tuple[list[int], list[str]]:
    """The frame's row positions in the order great_tables draws them (a row group gathers its rows) and the
    columns it draws as cells, in order."""
    order = [int(i) for group in gt._stub.group_rows for i in group.indices] or list(range(len(frame)))
    columns = [b.var for b in gt._boxhead if b.visible and b.var != group_column]
    return order, columns


def trial_source(evidence: Evidence, trial_id: str, *columns: str) -> CellSource:
    """A cell naming a trial: its trials.csv row (trial_name and whatever else the cell shows)."""
    row = evidence.trials[evidence.trials["trial_id"] == trial_id]
    return from_rows(evidence, "trials", [r for _, r in row.iterrows()], *(columns or ("trial_name",)))


def outcome_source(evidence: Evidence, row: pd.Series | dict, column: str = "value", endpoint: str | None = None,
                   derived: str = "") -> CellSource:
    """A cell showing an outcomes.csv figure; `endpoint` for a row that lost it (response_rates rows are ORR)."""
    row = dict(row)
    if endpoint is not None:
        row["endpoint"] = endpoint
    cell = from_rows(evidence, "outcomes", row, column, derived=derived)
    other = row.get("denominator_source_id")
    if column == "denominator" and isinstance(other, str) and other != row.get("source_id"):
        credit = source_credit(evidence.sources, other)  # N read in its own source (the table's footnote says so)
        cell = CellSource(cell.sources, credit_text(evidence.sources, credit), credit.mark, cell.derived)
    return cell


def interval_derivation(method: str, count: object, n: object, level: float) -> str:
    """'Clopper-Pearson (exact) 95% interval on 127 of 172 (derived responders)'."""
    return f"{CI_METHOD_LABELS.get(method, method)} {level_text(level)} interval on {count} of {n} (derived responders)"


def responders_derivation(pct: float, n: object, count: object) -> str:
    return f"responders = round({pct:g}% × {n}) = {count}"


def frame_source(evidence: Evidence, table: str, rows: pd.DataFrame, *columns: str, derived: str = "") -> CellSource:
    """A cell showing `columns` of every row of `rows` (a slice of data table `table`)."""
    return from_rows(evidence, table, [r for _, r in rows.iterrows()], *columns, derived=derived)


def harm_source(evidence: Evidence, item: dict) -> CellSource:
    """A harms_by_trial item: its adverse_events rows (value) or its findings row (statement)."""
    if item["kind"] == "adverse event":
        return frame_source(evidence, "adverse_events", item["rows"], "value")
    return frame_source(evidence, "findings", item["rows"], "statement")


def numbered_anchor(kind: str, number: str, name: str) -> str:
    """'table-2-1' for Table 2.1; an item not yet numbered is named by its builder ('table-efficacy')."""
    return f"{kind}-{number.replace('.', '-')}" if number else f"{kind}-{name}"


def percent(value: float) -> str:
    return f"{value:g}%"


def _table(name: str, title: str, population: str, frame: pd.DataFrame, evidence: Evidence,
           credits: list[Credit], footnotes: list[str] = (), spanners: dict | None = None,
           data: pd.DataFrame | None = None, group_column: str | None = None,
           trial_ids: list[str] | None = None, source_note: str | None = None,
           provenance: list[dict] | None = None, data_shown_rows: list[int] | None = None) -> ReportTable:
    """A ReportTable whose source line credits exactly `credits` (one per figure shown).

    Figures from more than one trial (`trial_ids`) get the cross-trial caveat; a table with an
    Evidence column gets the key to its marks. A table about the bundle itself (its references,
    its data files) has no figures to credit and says where it comes from in `source_note`.
    `provenance`: per shown row, its cells' CellSources by column (provenance.py); `data_shown_rows`: per row
    of `data`, the shown row it is in, where a shown row gathers several data rows.
    """
    footnotes = list(footnotes)
    if trial_ids is not None and len(set(trial_ids)) > 1:
        footnotes.append(CROSS_TRIAL_CAVEAT)
    if EVIDENCE_COLUMN in frame.columns:
        footnotes.append(EVIDENCE_FOOTNOTE)
    return ReportTable(
        name=name, title=title, population=population, frame=frame.reset_index(drop=True),
        source_ids=tuple(cited_sources(evidence.sources, credits)),
        source_text=source_note if source_note is not None else source_line(evidence.sources, credits),
        credits=tuple(credits), footnotes=tuple(footnotes), spanners=spanners or {}, data=data,
        group_column=group_column, provenance=provenance_frame(frame, provenance) if provenance is not None else None,
        data_shown_rows=tuple(data_shown_rows) if data_shown_rows is not None else None,
    )


def row_credits(frame: pd.DataFrame) -> list[Credit]:
    """The credits of the data rows behind a table (frames with the attribution columns)."""
    return credits_of(frame) if len(frame) else []


def credit_column(evidence: Evidence, rows: pd.DataFrame) -> pd.Series:
    """Per data row, its credit as text ('Review 2024 → Shaw et al. 2013 (P)'), for a table's Source column."""
    return pd.Series([credit_text(evidence.sources, credit_of(row)) for _, row in rows.iterrows()], index=rows.index,
                     dtype=object)




def read_in(evidence: Evidence, rows: pd.DataFrame) -> str:
    """'Review 2024', or 'A 2012 and B 2014': where this bundle read these rows, for a note that says so."""
    return or_list([short_citation(evidence.sources, s) for s in rows["source_id"]], "and")


def trials_counted(trials: pd.DataFrame) -> str:
    """'2 phase III trials', '1 phase III trial', '3 phase I, II and III trials': counted and phased from the rows."""
    if trials.empty:
        return "no trials"
    phases = or_list(dict.fromkeys(trials["phase"]), "and")
    return f"{len(trials)} phase {phases} trial{'' if len(trials) == 1 else 's'}"


def level_text(level: float) -> str:
    """0.95 -> '95%', 0.997 -> '99.7%', 0.950405 -> '95.0405%': a published level keeps its digits."""
    return f"{100 * level:.4f}".rstrip("0").rstrip(".") + "%"


def interval_text(low: float, high: float, decimals: int = 1, unit: str = "") -> str:
    return f"{low:.{decimals}f}–{high:.{decimals}f}{unit}"


def hazard_ratio_text(h: pd.Series) -> str:
    """'0.34 (99.7% CI 0.17–0.71)': a hazard_ratios.csv row at its published precision and level."""
    digits = int(h["decimals"])
    if pd.isna(h["ci_low"]):
        return f"{h['hazard_ratio']:.{digits}f} (interval not transcribed)"
    return (f"{h['hazard_ratio']:.{digits}f} ({level_text(h['ci_level'])} CI "
            f"{interval_text(h['ci_low'], h['ci_high'], digits)})")


def p_value_text(p: object) -> str:
    """A published p value as published ('0.0978'), or a dash when the source read gives none."""
    return "—" if pd.isna(p) else f"{float(p):g}"


def assessor_text(assessor: object) -> str | None:
    """Who judged the endpoint: 'independent review', 'investigator'; None where none is needed (death)."""
    return None if pd.isna(assessor) or assessor == "not applicable" else str(assessor)


def hazard_ratio_direction(hazard_ratios: pd.DataFrame) -> str:
    """How to read the hazard ratios of these rows: each experimental arm against its control."""
    pairs = list(dict.fromkeys(zip(hazard_ratios["experimental_arm"], hazard_ratios["control_arm"])))
    return " ".join(f"Hazard ratios of {experimental} against {control}: below 1 favours {experimental}."
                    for experimental, control in pairs)


def design_groups(trials: pd.DataFrame) -> dict[str, str]:
    """trial_id -> the heading of its design group, so single-arm and randomized trials are never read together."""
    headings = {}
    for design, group in trials.groupby("design", sort=False):
        phases = " and ".join(dict.fromkeys(group["phase"]))
        trials_ = "trial" if len(group) == 1 else "trials"
        if design == "single-arm":
            heading = f"Single-arm {trials_} (phase {phases}): no control arm"
        else:
            heading = f"Randomized {trials_} (phase {phases}): each arm against its own control"
        headings.update(dict.fromkeys(group["trial_id"], heading))
    return headings


def ordered_by_design(trials: pd.DataFrame) -> pd.DataFrame:
    """Single-arm trials first, then randomized ones; the data's order within each."""
    return trials.sort_values("design", key=lambda d: d.map({"single-arm": 0}).fillna(1), kind="stable")


def analysis_text(analysis: str, label: object) -> str:
    """'primary', or 'updated analysis: updated phase I results (...)' from an outcome's analysis and its label."""
    if analysis == "updated":
        return f"updated analysis: {label}" if pd.notna(label) else "updated analysis"
    return str(label) if pd.notna(label) else analysis


def value_text(value: object, unit: str, note: object = None) -> str:
    """An outcome's value as published: '74%', '10.9 months', 'not reached', 'about 64%'."""
    if note == "not reached":
        return "not reached"
    shown = percent(float(value)) if unit == "%" else f"{float(value):.1f} {unit}"
    return f"about {shown}" if note == "approximately" else shown


def missing_adverse_events_note(evidence: Evidence, trial_ids: list[str]) -> str | None:
    """Says which of these trials have no adverse-event percentage in the bundle, so no one reads silence as safety."""
    names = evidence.trials.set_index("trial_id")["trial_name"]
    missing = [names[t] for t in trial_ids if t not in set(evidence.adverse_events["trial_id"])]
    if not missing:
        return None
    return (f"No adverse-event percentage for {', '.join(missing)} is in this bundle: none could be verified in a "
            "source read, so harms are given only in words and no rate of harm is set beside the response rates.")


def efficacy_table(evidence: Evidence, setting: str = "all", include_single_arm: bool = True,
                   confidence_level: float = 0.95, ci_method: str = "exact") -> ReportTable:
    """One row a trial arm and analysis: N, ORR with its interval and derived responders, median PFS;
    single-arm and randomized trials in separate groups, an updated analysis labelled as one."""
    trials = ordered_by_design(select_trials(evidence.trials, setting, include_single_arm))
    rates = response_rates(evidence, confidence_level, ci_method, list(trials["trial_id"]), ANALYSES)
    pfs_rows = rows_of(evidence.outcomes, list(trials["trial_id"]), endpoint="PFS median")
    pfs = {(o.trial_id, o.arm, o.analysis): o for o in pfs_rows.itertuples()}
    groups = design_groups(trials)
    level = level_text(confidence_level)
    rows, data, credits, cells = [], [], [], []
    for trial in trials.itertuples():
        arms_first = [trial.drug] + [a for a in dict.fromkeys(rates["arm"]) if a != trial.drug]
        own = rates[rates["trial_id"] == trial.trial_id]
        own = own.sort_values(["analysis", "arm"], kind="stable", key=lambda c: c.map(
            {**{a: i for i, a in enumerate(ANALYSES)}, **{a: i for i, a in enumerate(arms_first)}}))
        for rate in own.itertuples():
            known = pd.notna(rate.responders_derived)
            median = pfs.get((trial.trial_id, rate.arm, rate.analysis))
            shown_credits = [credit_of(rate._asdict())] + ([credit_of(median._asdict())] if median is not None else [])
            credits += shown_credits
            pfs_shown = "—"
            if median is not None:
                pfs_shown = value_text(median.value, "months", median.note).replace(" months", "")
                if assessor_text(median.assessor):
                    pfs_shown += f" ({median.assessor})"
            name = trial.trial_name if trial.comparator == "none" else (
                f"{trial.trial_name} ({trial.setting}, vs {trial.comparator})")
            rows.append({
                "Design": groups[trial.trial_id],
                "Trial": name,
                "Analysis": analysis_text(rate.analysis, rate.analysis_label),
                "Arm": rate.arm,
                "N": str(int(rate.denominator)) if known else NOT_STATED,
                "ORR": percent(rate.orr_pct),
                f"{level} CI": interval_text(rate.ci_low_pct, rate.ci_high_pct, unit="%") if known else "n/a",
                "Responders (derived)": f"{int(rate.responders_derived)} of {int(rate.denominator)}" if known else "n/a",
                "Median PFS, months": pfs_shown,
                EVIDENCE_COLUMN: marks(shown_credits),
            })
            r = rate._asdict()
            orr = outcome_source(evidence, r, endpoint="ORR")
            n = outcome_source(evidence, r, "denominator", endpoint="ORR")
            cells.append({
                "Trial": trial_source(evidence, trial.trial_id, "trial_name", "setting", "comparator"),
                "Analysis": outcome_source(evidence, r, "analysis_label", endpoint="ORR"),
                "N": n if known else None, "ORR": orr,
                f"{level} CI": combine(orr, n, derived=interval_derivation(
                    ci_method, rate.responders_derived, int(rate.denominator), confidence_level)) if known else None,
                "Responders (derived)": combine(orr, n, derived=responders_derivation(
                    rate.orr_pct, int(rate.denominator), rate.responders_derived)) if known else None,
                "Median PFS, months": (outcome_source(evidence, median._asdict(), "value")
                                       + outcome_source(evidence, median._asdict(), "assessor"))
                if median is not None else None,
            })
            data.append({**{k: v for k, v in rate._asdict().items() if k != "Index"}, "design": trial.design,
                         "pfs_median_months": median.value if median is not None else float("nan"),
                         "pfs_assessor": median.assessor if median is not None else pd.NA})
    frame = pd.DataFrame(rows)
    primary = rates[rates["analysis"] == "primary"]
    n_total = sum(int(n) for n in primary["denominator"].dropna())
    population = (f"Patients evaluated for response: N={n_total} across {_count(len(primary), 'trial arm')} "
                  f"({_count(primary['trial_id'].nunique(), 'trial')}), primary analyses; N per arm below")
    if (rates["analysis"] != "primary").any():
        population += " (an updated analysis re-counts patients of its trial and is not added)"
    derived_from = sorted({s for s in rates["denominator_source_id"]} - set(rates["source_id"]))
    footnotes = [
        "ORR, objective response rate; CI, confidence interval; PFS, progression-free survival; "
        "n/a, no denominator stated; —, not in this bundle.",
        "Single-arm trials have no control arm: their response rates describe activity and are not comparable "
        "with either arm of a randomized trial (other patients, lines of therapy and assessments).",
        f"Responders are derived, not reported: the published percentage times N, rounded. The {level} CI is "
        f"{CI_METHOD_LABELS[ci_method]} on that derived count.",
    ]
    if derived_from:
        footnotes.append("N of the randomized arms read in: " + "; ".join(short_citation(evidence.sources, s)
                                                                         for s in derived_from) + ".")
    credits += [source_credit(evidence.sources, s) for s in derived_from]  # the arm sizes, read in their own source
    return _table("efficacy", "Efficacy of crizotinib by trial and arm", population, frame, evidence,
                  credits, footnotes, data=pd.DataFrame(data), group_column="Design",
                  trial_ids=list(trials["trial_id"]), provenance=cells)


def comparisons_table(evidence: Evidence, confidence_level: float = 0.95, setting: str = "all") -> ReportTable:
    """Crizotinib against chemotherapy in each phase III trial: ORR difference, odds ratio, PFS HR with its assessor."""
    comparisons = arm_comparisons(evidence, confidence_level, setting)
    level = level_text(confidence_level)
    shown = list(comparisons.get("trial_id", []))
    hazard_rows = rows_of(evidence.hazard_ratios, shown, "primary", endpoint="PFS")
    hazard_rows = hazard_rows[hazard_rows["adjustment"].isna()]
    hazard = hazard_rows.set_index("trial_id")
    rows, cells = [], []
    orr_rows = rows_of(evidence.outcomes, shown, "primary", endpoint="ORR")
    for c in comparisons.itertuples():
        hr = hazard.loc[c.trial_id] if c.trial_id in hazard.index else None
        arms = orr_rows[orr_rows["trial_id"] == c.trial_id]
        arms = {a: arms[arms["arm"] == a] for a in ("crizotinib", "chemotherapy")}
        orr = combine(*[from_rows(evidence, "outcomes", [r for _, r in arms[a].iterrows()], "value") for a in arms])
        n = combine(*[from_rows(evidence, "outcomes", [r for _, r in arms[a].iterrows()], "denominator") for a in arms])
        counts = (f"round({c.orr_crizotinib_pct:g}% × {c.n_crizotinib}) = {c.responders_crizotinib} of {c.n_crizotinib} "
                  f"against round({c.orr_chemotherapy_pct:g}% × {c.n_chemotherapy}) = {c.responders_chemotherapy} of "
                  f"{c.n_chemotherapy}")
        both = combine(orr, n)
        hr = hr.copy().set_axis(list(hr.index)) if hr is not None else None
        if hr is not None:
            hr["trial_id"] = c.trial_id  # the index of `hazard`, part of the row's key
        hr_cell = (from_rows(evidence, "hazard_ratios", hr, "hazard_ratio", "ci_low", "ci_high", "ci_level")
                   if hr is not None else None)
        cells.append({
            "Trial": trial_source(evidence, c.trial_id, "trial_name", "setting"),
            "N (crizotinib / chemo)": n, "ORR (crizotinib / chemo)": orr,
            "ORR difference, points (derived)": both.with_derived(f"difference of two rates, {counts}"),
            f"Difference {level} CI": both.with_derived(f"Newcombe hybrid score {level} interval, {counts}"),
            "Odds ratio (derived)": both.with_derived(f"odds ratio, {counts}"),
            f"OR {level} CI": both.with_derived(f"Woolf (logit) {level} interval, {counts}"),
            "PFS HR (published)": hr_cell,
            "PFS assessor": from_rows(evidence, "hazard_ratios", hr, "assessor") if hr is not None else None,
        })
        rows.append({
            "Trial": f"{c.trial_name} ({c.setting})",
            "N (crizotinib / chemo)": f"{c.n_crizotinib} / {c.n_chemotherapy}",
            "ORR (crizotinib / chemo)": f"{percent(c.orr_crizotinib_pct)} / {percent(c.orr_chemotherapy_pct)}",
            "ORR difference, points (derived)": f"{c.orr_difference_pct:.1f}",
            f"Difference {level} CI": interval_text(c.orr_difference_low_pct, c.orr_difference_high_pct),
            "Odds ratio (derived)": f"{c.odds_ratio:.2f}",
            f"OR {level} CI": interval_text(c.odds_ratio_low, c.odds_ratio_high, 2),
            "PFS HR (published)": hazard_ratio_text(hr) if hr is not None else "—",
            "PFS assessor": (assessor_text(hr["assessor"]) or "—") if hr is not None else "—",
        })
    credits = row_credits(rows_of(evidence.outcomes, shown, "primary", endpoint="ORR"))
    credits += row_credits(hazard_rows)
    n_total = int(comparisons["n_crizotinib"].sum() + comparisons["n_chemotherapy"].sum()) if len(comparisons) else 0
    footnotes = [
        "ORR, objective response rate; OR, odds ratio (crizotinib against chemotherapy); HR, hazard ratio; "
        "PFS, progression-free survival; chemo, chemotherapy.",
        "ORR difference and odds ratio are derived: recomputed from derived responder counts (published percentage "
        f"times N, rounded), the difference with the Newcombe hybrid score interval, the odds ratio with the Woolf "
        f"(logit) interval, both at {level}.",
        "Hazard ratios and their intervals are as published (not recomputable from the data), each at its "
        "published level; the assessor is who judged progression.",
    ]
    if len(hazard_rows):
        footnotes.append(hazard_ratio_direction(hazard_rows))
    return _table(
        "comparisons", "Crizotinib against chemotherapy: between-arm comparisons",
        f"Randomized patients: N={n_total} in "
        f"{trials_counted(evidence.trials[evidence.trials['trial_id'].isin(shown)])}", pd.DataFrame(rows), evidence,
        credits, footnotes, data=comparisons, trial_ids=shown, provenance=cells,
    )


def _survival_measures(evidence: Evidence, trial: pd.Series) -> list[dict]:
    """One trial's overall-survival measures: each OS hazard ratio, and each OS endpoint and crossover with its arms
    paired (the trial's own drug first), in reading order."""
    hazard = rows_of(evidence.hazard_ratios, [trial["trial_id"]], endpoint="OS")
    outcomes = evidence.outcomes[(evidence.outcomes["trial_id"] == trial["trial_id"])
                                 & (evidence.outcomes["endpoint"].str.split().map(lambda words: "OS" in words)
                                    | (evidence.outcomes["endpoint"] == "crossover"))]
    measures = []
    for _, h in hazard.iterrows():
        measure = f"OS hazard ratio, {h['experimental_arm']} vs {h['control_arm']}"
        if pd.notna(h["adjustment"]):
            measure += f", {h['adjustment']}"
        measures.append({"kind": 0 if pd.isna(h["adjustment"]) else 1, "endpoint": "OS hazard ratio",
                         "analysis": h["analysis"], "label": h["analysis_label"], "measure": measure,
                         "result": hazard_ratio_text(h), "p": p_value_text(h["p_value"]), "rows": [h]})
    for (endpoint, analysis, label), group in outcomes.groupby(["endpoint", "analysis", "analysis_label"],
                                                                dropna=False, sort=False):
        arms = sorted((r for _, r in group.iterrows()), key=lambda r: r["arm"] != trial["drug"])
        if endpoint == "crossover":
            parts = []
            for r in arms:
                part = f"{value_text(r['value'], r['unit'], r['note'])} of the {r['arm']} arm"
                if pd.notna(r["denominator"]):
                    count = derived_count(float(r["value"]), int(r["denominator"]))
                    part += f" ({count} of {int(r['denominator'])}, count derived)"
                parts.append(part)
            measures.append({"kind": 3, "endpoint": endpoint, "analysis": analysis, "label": label,
                             "measure": f"Crossover: later given {trial['drug']}", "result": "; ".join(parts),
                             "p": "—", "rows": arms})
            continue
        measures.append({"kind": 2 if endpoint == "OS median" else 2.5, "endpoint": endpoint, "analysis": analysis,
                         "label": label, "measure": "Median OS" if endpoint == "OS median" else endpoint,
                         "result": " vs ".join(f"{r['arm']} {value_text(r['value'], r['unit'], r['note'])}"
                                               for r in arms), "p": "—", "rows": arms})
    return sorted(measures, key=lambda m: (ANALYSES.index(m["analysis"]), m["kind"], m["endpoint"]))


def survival_table(evidence: Evidence, setting: str = "all") -> ReportTable:
    """Overall survival of each randomized trial of crizotinib against chemotherapy, with the crossover that dilutes it:
    OS hazard ratios (unadjusted and crossover-adjusted, each with analysis, level and p), median and landmark OS."""
    trials = select_trials(evidence.trials, setting, include_single_arm=False)
    rows, data, credits, missing, notes, cells, shown_at = [], [], [], [], [], [], []
    for _, trial in trials.iterrows():
        group = f"{trial['trial_name']} · {trial['setting']} · {trial['drug']} vs {trial['comparator']}"
        measures = _survival_measures(evidence, trial)
        for m in measures:
            measure_credits = [credit_of(r) for r in m["rows"]]
            credits += measure_credits
            credits += [source_credit(evidence.sources, r["denominator_source_id"]) for r in m["rows"]
                        if pd.notna(r.get("denominator_source_id")) and r["denominator_source_id"] != r["source_id"]]
            table = "hazard_ratios" if m["endpoint"] == "OS hazard ratio" else "outcomes"
            result = (from_rows(evidence, table, m["rows"], "hazard_ratio", "ci_low", "ci_high", "ci_level")
                      if table == "hazard_ratios" else from_rows(evidence, table, m["rows"], "value"))
            if m["endpoint"] == "crossover":
                counts = [responders_derivation(float(r["value"]), int(r["denominator"]),
                                                derived_count(float(r["value"]), int(r["denominator"])))
                          .replace("responders", f"crossed over ({r['arm']} arm)")
                          for r in m["rows"] if pd.notna(r["denominator"])]
                if counts:
                    result = (result + from_rows(evidence, table, m["rows"], "denominator")).with_derived("; ".join(counts))
            cells.append({"Measure": from_rows(evidence, table, m["rows"], "endpoint"),
                          "Analysis": from_rows(evidence, table, m["rows"], "analysis", "analysis_label"),
                          "Result": result,
                          "p value": from_rows(evidence, table, m["rows"], "p_value") if table == "hazard_ratios" else None})
            rows.append({"Trial": group, "Measure": m["measure"], "Analysis": analysis_text(m["analysis"], m["label"]),
                         "Result": m["result"], "p value": m["p"],
                         "Source": "; ".join(dict.fromkeys(credit_text(evidence.sources, c) for c in measure_credits)),
                         EVIDENCE_COLUMN: marks(measure_credits)})
            for r in m["rows"]:
                data.append({**r.to_dict(), "measure": m["measure"]})
                shown_at.append(len(rows) - 1)
                if m["endpoint"] == "OS hazard ratio" and pd.notna(r.get("note")):
                    notes.append(f"{trial['trial_name']}, {m['measure']} ({analysis_text(m['analysis'], m['label'])})"
                                 f": {r['note']}.")
        found = {m["endpoint"] for m in measures}
        absent = [what for endpoint, what in (("OS hazard ratio", "no OS hazard ratio"), ("OS median", "no median OS"),
                                              ("crossover", "no crossover share")) if endpoint not in found]
        if absent:
            missing.append(f"{trial['trial_name']}: {', '.join(absent)}")
    hazard_rows = rows_of(evidence.hazard_ratios, list(trials["trial_id"]), endpoint="OS")
    footnotes = ["OS, overall survival; HR, hazard ratio; p as published (—: none in the source read). "
                 "Counts marked derived are the published percentage times N, rounded."]
    if len(hazard_rows):
        footnotes.append(hazard_ratio_direction(hazard_rows) + " Each HR at its published level, never recomputed.")
    footnotes.append("Crossover: patients of one arm who later received the other arm's drug. It dilutes the "
                     "difference in overall survival between the arms as randomized, so an unadjusted OS hazard "
                     "ratio near 1 does not by itself show that the drug fails to prolong life.")
    adjusted = hazard_rows[hazard_rows["adjustment"].notna()]
    for adjustment, group in adjusted.groupby("adjustment"):
        control = " / ".join(dict.fromkeys(group["control_arm"]))
        footnotes.append(f"{adjustment[0].upper()}{adjustment[1:]}: a model's estimate of the OS hazard ratio had the {control} "
                         "arm not crossed over; it rests on the model's assumptions (chiefly that the drug works "
                         "equally well whenever it is started), is not a randomized comparison, and is shown beside, "
                         "never instead of, the unadjusted ratio.")
    footnotes += notes
    if missing:
        footnotes.append("Not in this bundle: " + "; ".join(missing) + ".")
    n_total = int(trials["patients_experimental"].sum() + trials["patients_control"].sum())
    return _table("survival", "Overall survival and crossover in the randomized trials",
                  f"Randomized patients: N={n_total} in {trials_counted(trials)} (as randomized)",
                  pd.DataFrame(rows), evidence, credits, footnotes, data=pd.DataFrame(data), group_column="Trial",
                  trial_ids=list(trials["trial_id"]), provenance=cells, data_shown_rows=shown_at)


def safety_table(evidence: Evidence, setting: str = "all", include_single_arm: bool = True) -> ReportTable:
    """What the bundle can say about harms in crizotinib's trials: verified findings in words, any percentages it
    holds, and which trials have no percentage at all."""
    trials = ordered_by_design(select_trials(evidence.trials, setting, include_single_arm))
    shown = list(trials["trial_id"])
    names = trials.set_index("trial_id")["trial_name"]
    findings = evidence.findings[(evidence.findings["topic"] == "safety") & evidence.findings["trial_ids"].map(
        lambda ids: pd.notna(ids) and bool(set(ids.split(";")) & set(shown)))]
    events = rows_of(evidence.adverse_events, shown)
    frame = pd.DataFrame({
        "Trial": [", ".join(names[t] for t in ids.split(";") if t in names) for ids in findings["trial_ids"]]
        + [names[t] for t in events["trial_id"]],
        "Harms": list(findings["statement"]) + [f"{e.event}, {e.arm} arm: {e.value:g}%"
                                                + (f" ({e.analysis_label})" if pd.notna(e.analysis_label) else "")
                                                for e in events.itertuples()],
        "Source": list(credit_column(evidence, findings)) + list(credit_column(evidence, events)),
        EVIDENCE_COLUMN: [marks([c]) for c in row_credits(findings) + row_credits(events)],
    }, columns=["Trial", "Harms", "Source", EVIDENCE_COLUMN])
    cells = ([{"Trial": from_rows(evidence, "findings", f, "trial_ids"), "Harms": from_rows(evidence, "findings", f, "statement")}
              for _, f in findings.iterrows()]
             + [{"Trial": trial_source(evidence, e["trial_id"]),
                 "Harms": from_rows(evidence, "adverse_events", e, "event", "arm", "value", "analysis_label")}
                for _, e in events.iterrows()])
    footnotes = ["Findings are statements in the source's words, not rates per arm; a percentage per arm appears "
                 "only where the bundle holds a verified one."]
    missing = missing_adverse_events_note(evidence, shown)
    if missing:
        footnotes.insert(0, missing)
    return _table("safety", "Harms of crizotinib in its own trials",
                  f"Patients treated in {_count(len(shown), 'trial')} of crizotinib; "
                  f"{_count(len(findings), 'finding')} in words, {_count(len(events), 'adverse-event percentage')}",
                  frame, evidence,
                  row_credits(findings) + row_credits(events), footnotes, data=pd.concat([findings, events]),
                  trial_ids=shown, provenance=cells)


def interval_checks_table(evidence: Evidence, ci_method: str = "exact", setting: str = "all",
                          include_single_arm: bool = True) -> ReportTable:
    """Published intervals beside recomputed ones; any gap beyond rounding is flagged."""
    trials = select_trials(evidence.trials, setting, include_single_arm)
    checks = interval_checks(evidence, ci_method, list(trials["trial_id"]))
    frame = pd.DataFrame({
        "Trial": checks["trial_name"],
        "What": checks["what"],
        "Level": checks["level"].map(level_text),
        "Published": checks["published"],
        "Recomputed": checks["recomputed"],
        "Check": [("consistent within rounding" if ok else f"FLAG: off by {gap:.2f} beyond rounding")
                  for ok, gap in zip(checks.get("consistent", []), checks.get("gap_beyond_rounding", []))],
    })
    flagged = int((~checks["consistent"]).sum()) if len(checks) else 0
    cells = []
    for c in checks.to_dict("records"):
        row = getattr(evidence, c["data_table"]).loc[c["data_row"]]
        if c["data_table"] == "published_intervals":
            published = from_rows(evidence, "published_intervals", row, "estimate", "ci_low", "ci_high")
            inputs = from_rows(evidence, "published_intervals", row, "estimate", "denominator", "ci_level")
            recomputed = inputs.with_derived(
                f"{CI_METHOD_LABELS[ci_method]} interval at {level_text(row['ci_level'])} on round({row['estimate']:g}% "
                f"× {row['denominator']}) of {row['denominator']}")
            what = from_rows(evidence, "published_intervals", row, "arm", "study_label")
        else:
            published = from_rows(evidence, "hazard_ratios", row, "hazard_ratio", "ci_low", "ci_high")
            recomputed = published.with_derived(f"geometric mean of the bounds √({row['ci_low']:g} × {row['ci_high']:g})")
            what = from_rows(evidence, "hazard_ratios", row, "endpoint", "analysis")
        gap = recomputed.with_derived(f"gap beyond rounding = {c['gap_beyond_rounding']:.2f}")
        cells.append({"Trial": trial_source(evidence, c["trial_id"]), "What": what,
                      "Level": from_rows(evidence, c["data_table"], row, "ci_level"), "Published": published,
                      "Recomputed": recomputed, "Check": gap})
    return _table(
        "interval_checks", "Published intervals against recomputed ones",
        f"{_count(len(checks), 'published interval')} checked; {flagged} flagged", frame, evidence,
        row_credits(checks),
        [f"Proportions: recomputed at the published level with the {CI_METHOD_LABELS[ci_method]} interval on the "
         "derived responder count; rounding allows half a unit in the published last digit.",
         "Hazard ratios: a ratio's interval is symmetric on the log scale, so the ratio should equal the geometric "
         "mean of its bounds, to within the rounding of all three numbers.",
         "A flag means the published numbers and the recomputation disagree beyond rounding: the publication may "
         "have used another interval method or another denominator."],
        data=checks, trial_ids=list(checks.get("trial_id", [])), provenance=cells,
    )


def pooled_orr_table(evidence: Evidence, confidence_level: float = 0.95, ci_method: str = "exact",
                     pooled_interval: str = "dersimonian-laird", setting: str = "all",
                     include_single_arm: bool = True) -> ReportTable:
    """Exploratory random-effects pool of the crizotinib arms of the trials shown, with its prediction interval."""
    arms, summary = pooled_orr(evidence, confidence_level, ci_method, pooled_interval, setting, include_single_arm)
    level = level_text(confidence_level)
    has_prediction = pd.notna(summary["prediction_low_pct"])
    frame = pd.DataFrame({
        "Crizotinib arm": arms["trial_name"],
        "N": arms["denominator"].astype(int).astype(str),
        "ORR": arms["orr_pct"].map(percent),
        "Responders (derived)": arms["responders_derived"].astype(int).astype(str),
        f"{level} CI": [interval_text(lo, hi, unit="%") for lo, hi in zip(arms["ci_low_pct"], arms["ci_high_pct"])],
        f"{level} prediction interval": "—",
        "Weight": arms["weight_pct"].map(lambda w: f"{w:.1f}%"),
    })
    pooled_row = {"Crizotinib arm": "Pooled (random effects)", "N": str(int(arms["denominator"].sum())),
                  "ORR": f"{summary['estimate_pct']:.1f}%",
                  "Responders (derived)": str(int(arms["responders_derived"].sum())),
                  f"{level} CI": interval_text(summary["low_pct"], summary["high_pct"], unit="%"),
                  f"{level} prediction interval": (interval_text(summary["prediction_low_pct"],
                                                                 summary["prediction_high_pct"], unit="%")
                                                   if has_prediction else "n/a (fewer than 3 trials)"),
                  "Weight": "100%"}
    frame = pd.concat([frame, pd.DataFrame([pooled_row])], ignore_index=True)
    cells = []
    for a in arms.to_dict("records"):
        orr, n = outcome_source(evidence, a, endpoint="ORR"), outcome_source(evidence, a, "denominator", endpoint="ORR")
        count = combine(orr, n, derived=responders_derivation(a["orr_pct"], int(a["denominator"]),
                                                              int(a["responders_derived"])))
        cells.append({"Crizotinib arm": trial_source(evidence, a["trial_id"]), "N": n, "ORR": orr,
                      "Responders (derived)": count,
                      f"{level} CI": count.with_derived(interval_derivation(ci_method, int(a["responders_derived"]),
                                                                            int(a["denominator"]), confidence_level)),
                      "Weight": count.with_derived("random-effects weight (DerSimonian–Laird, logit scale)")})
    every = combine(*[c["Responders (derived)"] for c in cells])
    pooled_from = f"{summary['studies']} arms: " + ", ".join(
        f"{int(c)} of {int(n)}" for c, n in zip(arms["responders_derived"], arms["denominator"]))
    if every is not None:
        cells.append({"N": every.with_derived(f"sum of N of {pooled_from}"),
                      "ORR": every.with_derived(f"random-effects pooled rate (DerSimonian–Laird, logit scale) of {pooled_from}"),
                      "Responders (derived)": every.with_derived(f"sum of derived responders of {pooled_from}"),
                      f"{level} CI": every.with_derived(f"{POOLED_INTERVALS[summary['interval']]} interval on the pooled "
                                                         f"rate of {pooled_from}"),
                      f"{level} prediction interval": every.with_derived(
                          f"prediction interval (Higgins et al. 2009, t with k−2 df) of {pooled_from}")
                      if has_prediction else None,
                      "Weight": every.with_derived("sum of the weights")})
    data = arms.assign(**{f"pooled_{key}": value for key, value in summary.items()})
    pooled_trials = evidence.trials[evidence.trials["trial_id"].isin(arms["trial_id"])]
    differences = [f"{what} ({or_list(pooled_trials[column], 'and')})"
                   for what, column in (("line of therapy", "setting"), ("design", "design"))
                   if pooled_trials[column].nunique() > 1]
    exploratory = ("EXPLORATORY: " + (f"the trials differ in {' and in '.join(differences)}, so " if differences
                                      else "") + "a single pooled rate is descriptive only.")
    return _table(
        "pooled_orr", "Exploratory: pooled ORR of the crizotinib arms",
        f"Crizotinib-treated patients: N={int(arms['denominator'].sum())} in {summary['studies']} trials "
        "(primary analyses; an updated analysis would count its patients twice)",
        frame, evidence, row_credits(arms),
        [exploratory,
         f"Random-effects model on the logit scale, τ² by DerSimonian–Laird (statsmodels combine_effects); "
         f"heterogeneity I² = {summary['i2_pct']:.0f}%, τ² = {summary['tau2']:.3f}, "
         f"Q = {summary['q']:.1f} on {summary['df']} df. Interval on the pooled rate: "
         f"{POOLED_INTERVALS[summary['interval']]} (parameter pooled_interval).",
         "Prediction interval: where the true response rate of a new, similar trial is expected to lie "
         "(Higgins et al. 2009: pooled logit ± t with k−2 df × √(τ² + SE²), back-transformed). It allows for the "
         "spread of the trials' true rates (τ²), which the interval on the pooled rate does not.",
         "Responder counts are derived from published percentages and N; arm intervals are "
         f"{CI_METHOD_LABELS[ci_method]} on those derived counts."],
        data=data, trial_ids=list(arms["trial_id"]), provenance=cells, data_shown_rows=list(range(len(arms))),
    )


def approvals_table(evidence: Evidence) -> ReportTable:
    approvals = evidence.approvals.sort_values("date", na_position="first", kind="stable")
    names = evidence.trials.set_index("trial_id")["trial_name"]
    frame = pd.DataFrame({
        "Agency": approvals["agency"],
        "Approval": approvals["approval_type"],
        "Setting": approvals["setting"],
        "Date": approvals["date"].map(lambda d: d.strftime("%Y-%m-%d") if pd.notna(d) else NOT_STATED),
        "Based on": approvals["basis_trial_ids"].map(
            lambda ids: "; ".join(names[i] for i in ids.split(";")) if pd.notna(ids) else NOT_STATED),
        "Source": credit_column(evidence, approvals),
        EVIDENCE_COLUMN: [marks([c]) for c in row_credits(approvals)],
    })
    cells = [{"Date": from_rows(evidence, "approvals", r, "date"),
              "Based on": from_rows(evidence, "approvals", r, "basis_trial_ids")} for _, r in approvals.iterrows()]
    agencies = "; ".join(f"{agency}, {AGENCIES[agency]}" for agency in dict.fromkeys(approvals["agency"]))
    notes = [f"{a.agency} {a.approval_type} ({a.setting}): no date in {short_citation(evidence.sources, a.source_id)}."
             for a in approvals[approvals["date"].isna()].itertuples()]
    notes += [f"{a.agency} {a.approval_type} ({a.setting}): {a.note}"
              for a in approvals.dropna(subset=["note"]).itertuples()]
    return _table("approvals", "Regulatory approvals of crizotinib for ALK-positive NSCLC",
                  f"{_count(len(frame), 'approval')}, as read in {read_in(evidence, approvals)}", frame, evidence,
                  row_credits(approvals),
                  [f"{agencies}. Dates (YYYY-MM-DD) as read in the source of each row (column Source).", *notes],
                  provenance=cells)


def key_numbers_table(evidence: Evidence, confidence_level: float = 0.95, ci_method: str = "exact") -> ReportTable:
    """The headline figures of every section, each with its own source (and an interval where N is known):
    for crizotinib's own trials every response, PFS and OS figure with crossover, and the harms in words."""
    development = list(select_trials(evidence.trials)["trial_id"])
    rates = response_rates(evidence, confidence_level, ci_method, development, ANALYSES).set_index(
        ["trial_id", "arm", "analysis"])
    rows, trial_of_row, cells = [], [], []
    names = evidence.trials.set_index("trial_id")["trial_name"]
    drugs = evidence.trials.set_index("trial_id")["drug"]
    outcomes = evidence.outcomes[evidence.outcomes["trial_id"].isin(development)]
    for o in outcomes.itertuples():
        shown = value_text(o.value, o.unit, o.note)
        if o.endpoint == "ORR" and (o.trial_id, o.arm, o.analysis) in rates.index:
            rate = rates.loc[(o.trial_id, o.arm, o.analysis)]
            if pd.notna(rate["responders_derived"]):
                shown += (f" ({level_text(confidence_level)} CI "
                          f"{interval_text(rate['ci_low_pct'], rate['ci_high_pct'], unit='%')})")
        measure = (f"crossover: {o.arm} arm later given {drugs[o.trial_id]}" if o.endpoint == "crossover"
                   else o.endpoint)
        context = ", ".join(str(part) for part in (names[o.trial_id], o.arm, analysis_text(o.analysis, o.analysis_label),
                                                   assessor_text(o.assessor)) if part)
        if pd.notna(o.denominator):
            context += f", n={o.denominator}"
        rows.append(("Clinical activity", measure, shown, context, credit_of(o._asdict())))
        value = outcome_source(evidence, o._asdict())
        if o.endpoint == "ORR" and (o.trial_id, o.arm, o.analysis) in rates.index and pd.notna(
                rates.loc[(o.trial_id, o.arm, o.analysis)]["responders_derived"]):
            count = rates.loc[(o.trial_id, o.arm, o.analysis)]["responders_derived"]
            value = combine(value, outcome_source(evidence, o._asdict(), "denominator"),
                            derived=interval_derivation(ci_method, count, o.denominator, confidence_level))
        cells.append({"Measure": outcome_source(evidence, o._asdict(), "endpoint"), "Value": value,
                      "Context": combine(trial_source(evidence, o.trial_id),
                                         outcome_source(evidence, o._asdict(), "analysis_label"),
                                         outcome_source(evidence, o._asdict(), "denominator"))})
        trial_of_row.append(o.trial_id)
    for _, h in evidence.hazard_ratios[evidence.hazard_ratios["trial_id"].isin(development)].iterrows():
        measure = f"{h['endpoint']} hazard ratio" + (f", {h['adjustment']}" if pd.notna(h["adjustment"]) else "")
        shown = hazard_ratio_text(h) + (f", p = {p_value_text(h['p_value'])}" if pd.notna(h["p_value"]) else "")
        context = ", ".join(part for part in (f"{names[h['trial_id']]}, {h['experimental_arm']} vs {h['control_arm']}"
                                              f" (below 1 favours {h['experimental_arm']})",
                                              analysis_text(h["analysis"], h["analysis_label"]),
                                              assessor_text(h["assessor"])) if part)
        rows.append(("Clinical activity", measure, shown, context, credit_of(h)))
        cells.append({"Measure": from_rows(evidence, "hazard_ratios", h, "endpoint", "adjustment"),
                      "Value": from_rows(evidence, "hazard_ratios", h, "hazard_ratio", "ci_low", "ci_high", "ci_level",
                                         "p_value"),
                      "Context": combine(trial_source(evidence, h["trial_id"]),
                                         from_rows(evidence, "hazard_ratios", h, "analysis_label"))})
        trial_of_row.append(h["trial_id"])
    # Each trial's figures together: response and PFS, then survival and its hazard ratios.
    order = sorted(range(len(rows)), key=lambda i: development.index(trial_of_row[i]))
    rows, cells = [rows[i] for i in order], [cells[i] for i in order]
    safety = evidence.findings[(evidence.findings["topic"] == "safety") & evidence.findings["trial_ids"].map(
        lambda ids: pd.notna(ids) and bool(set(ids.split(";")) & set(development)))]
    for f in safety.itertuples():
        rows.append(("Harms", "Safety (in words)", f.statement,
                     ", ".join(names[t] for t in f.trial_ids.split(";") if t in names), credit_of(f._asdict())))
        cells.append({"Value": from_rows(evidence, "findings", f._asdict(), "statement"),
                      "Context": from_rows(evidence, "findings", f._asdict(), "trial_ids")})
    for a in evidence.approvals.dropna(subset=["date"]).itertuples():
        rows.append(("Approvals", f"{a.agency} {a.approval_type}", a.date.strftime("%Y-%m-%d"), a.setting,
                     credit_of(a._asdict())))
        cells.append({"Value": from_rows(evidence, "approvals", a._asdict(), "date")})
    for p in evidence.relapse_patterns.itertuples():
        rows.append(("Clinical relapses", p.pattern, p.frequency_as_stated, p.aspect, credit_of(p._asdict())))
        cells.append({"Measure": from_rows(evidence, "relapse_patterns", p._asdict(), "pattern"),
                      "Value": from_rows(evidence, "relapse_patterns", p._asdict(), "frequency_as_stated")})
    for m in evidence.resistance_measures.itertuples():
        shown = percent(m.value) if m.unit == "%" else f"{m.value:g} {m.unit}"
        rows.append(("Resistance", m.measure, shown, m.qualifier if pd.notna(m.qualifier) else "",
                     credit_of(m._asdict())))
        cells.append({"Measure": from_rows(evidence, "resistance_measures", m._asdict(), "measure"),
                      "Value": from_rows(evidence, "resistance_measures", m._asdict(), "value", "unit")})
    for m in evidence.resistance_mechanisms.itertuples():
        rows.append(("Resistance", m.mechanism, m.frequency_as_stated, m.alk_dependence, credit_of(m._asdict())))
        cells.append({"Measure": from_rows(evidence, "resistance_mechanisms", m._asdict(), "mechanism"),
                      "Value": from_rows(evidence, "resistance_mechanisms", m._asdict(), "frequency_as_stated")})
    frame = pd.DataFrame([r[:4] for r in rows], columns=["Section", "Measure", "Value", "Context"])
    frame["Source"] = [credit_text(evidence.sources, r[4]) for r in rows]
    frame[EVIDENCE_COLUMN] = [r[4].mark for r in rows]
    footnotes = ["ORR, objective response rate; PFS, progression-free survival; OS, overall survival; "
                 "n, patients evaluated; CI, confidence interval; RPSFTM, rank-preserving structural failure time "
                 "model (a model-based estimate, not a randomized comparison).",
                 f"ORR intervals: {CI_METHOD_LABELS[ci_method]} on responders derived from the percentage and n.",
                 "Hazard ratios as published, each at its published level; the assessor, where named, is who judged "
                 "progression. Where part of the control arm crossed over to the experimental drug, the OS hazard ratio "
                 "is diluted."]
    missing = missing_adverse_events_note(evidence, development)
    if missing:
        footnotes.append(missing)
    return _table("key_numbers", "Key numbers",
                  "The headline figures of every section, each with where it was read and its evidence level",
                  frame, evidence, [r[4] for r in rows], footnotes,
                  trial_ids=development, provenance=cells)


def relapse_table(evidence: Evidence) -> ReportTable:
    patterns = evidence.relapse_patterns

    def when(row: pd.Series) -> str:
        if pd.isna(row["time_threshold"]):
            return "—"
        unit = row["time_unit"].rstrip("s") if row["time_threshold"] == 1 else row["time_unit"]
        return f"{row['time_threshold']:g} {unit} (a threshold, not a median)"

    frame = pd.DataFrame({
        "Aspect": patterns["aspect"],
        "Pattern": patterns["pattern"],
        "Frequency (as stated)": patterns["frequency_as_stated"],
        "Time (as stated)": patterns.apply(when, axis=1),
        "Why": patterns["explanation"].fillna("—"),
        "Management": patterns["management"].fillna("—"),
        "Source": credit_column(evidence, patterns),
        EVIDENCE_COLUMN: [marks([c]) for c in row_credits(patterns)],
    })
    cells = [{"Pattern": from_rows(evidence, "relapse_patterns", r, "pattern"),
              "Frequency (as stated)": from_rows(evidence, "relapse_patterns", r, "frequency_as_stated"),
              "Time (as stated)": from_rows(evidence, "relapse_patterns", r, "time_threshold", "time_unit"),
              "Why": from_rows(evidence, "relapse_patterns", r, "explanation"),
              "Management": from_rows(evidence, "relapse_patterns", r, "management")} for _, r in patterns.iterrows()]
    thresholds = patterns.dropna(subset=["time_threshold"])
    notes = [f"Frequencies and times in the words of {read_in(evidence, patterns)}, with no counts."]
    if len(thresholds):
        notes.append("Times are thresholds, not medians: " + "; ".join(f"'{p}'" for p in thresholds["pattern"]) + ".")
    return _table("relapse_patterns", "Patterns of clinical relapse on crizotinib",
                  f"Patients relapsing on crizotinib (no N in {read_in(evidence, patterns)})", frame, evidence,
                  row_credits(patterns), [*abbreviations(frame, {"CNS": "central nervous system"}), *notes],
                  provenance=cells)


def study_measures_table(evidence: Evidence, topic: str) -> ReportTable:
    """The figures of the studies behind a section of the review, each with its own N and source."""
    m = evidence.study_measures[evidence.study_measures["topic"] == topic]

    def result(row: pd.Series) -> str:
        count, n, value = row["count"], row["denominator"], row["value"]
        if row["unit"] == "%" and pd.notna(count):
            return f"{int(count)} of {int(n)} ({value:g}%)"
        if row["unit"] == "patients" and pd.notna(count):
            return f"{int(count)} of {int(n)}"
        if row["unit"] == "months":
            return f"{value:g} months (n={int(n)})" if pd.notna(n) else f"{value:g} months"
        return f"see note (n={int(n)})" if pd.notna(n) else "see note"

    frame = pd.DataFrame({
        "Study": m["study"],
        "Measure": m["measure"],
        "Result": m.apply(result, axis=1),
        "Population": m["population"],
        "Note": m["note"].fillna("—"),
        "Source": credit_column(evidence, m),
        EVIDENCE_COLUMN: [marks([c]) for c in row_credits(m)],
    })
    cells = [{"Study": from_rows(evidence, "study_measures", r, "study"),
              "Measure": from_rows(evidence, "study_measures", r, "measure"),
              "Result": from_rows(evidence, "study_measures", r, "count", "denominator", "value"),
              "Population": from_rows(evidence, "study_measures", r, "population"),
              "Note": from_rows(evidence, "study_measures", r, "note")} for _, r in m.iterrows()]
    studies = m["study"].nunique()
    title = {"relapse": "The studies behind the relapse patterns",
             "resistance": "The studies behind the resistance mechanisms"}[topic]
    return _table(f"{topic}_studies", title,
                  f"{_count(len(m), 'result')} from {studies} {'study' if studies == 1 else 'studies'}, each with "
                  "its own patients (N in the Result column)",
                  frame, evidence, row_credits(m),
                  ["Each study had its own population and methods; their figures are not pooled. Where a count is "
                   "given, the percentage is the publication's own."], data=m, provenance=cells)


def resistance_measures_table(evidence: Evidence) -> ReportTable:
    m = evidence.resistance_measures
    frame = pd.DataFrame({
        "Measure": m["measure"],
        "Value": [percent(v) if u == "%" else f"{v:g} {u}" for v, u in zip(m["value"], m["unit"])],
        "Statistic": m["qualifier"].fillna("—"),
        "Source": credit_column(evidence, m),
        EVIDENCE_COLUMN: [marks([c]) for c in row_credits(m)],
    })
    return _table("resistance_measures", "Response and time to resistance on crizotinib",
                  f"Patients treated with crizotinib (no N in {read_in(evidence, m)}, so no interval)", frame, evidence,
                  row_credits(m), ["Disease control rate: share of patients whose disease responds or is stable."],
                  provenance=[{"Measure": from_rows(evidence, "resistance_measures", r, "measure"),
                               "Value": from_rows(evidence, "resistance_measures", r, "value", "unit"),
                               "Statistic": from_rows(evidence, "resistance_measures", r, "qualifier")}
                              for _, r in m.iterrows()])


#: Abbreviations the mechanisms' names and examples use, spelt out under a table where one appears.
MECHANISM_ABBREVIATIONS = {"EMT": "epithelial–mesenchymal transition", "EGFR": "epidermal growth factor receptor"}


def abbreviations(frame: pd.DataFrame, meanings: dict[str, str]) -> list[str]:
    """A footnote spelling out those of these abbreviations that a table's cells use (none: no footnote)."""
    shown = " ".join(frame.astype(str).to_numpy().ravel())
    used = [f"{short}, {meaning}" for short, meaning in meanings.items() if re.search(rf"\b{short}\b", shown)]
    return ["; ".join(used) + "."] if used else []


def share_text(row: pd.Series) -> str:
    """A mechanism's share as the review states it: a range as published, words kept as words."""
    if pd.isna(row["frequency_low_pct"]):
        return NOT_STATED
    low, high = row["frequency_low_pct"], row["frequency_high_pct"]
    if low != high:
        return f"{low:g}–{high:g}%"
    return f"{row['frequency_as_stated']} (about {low:.0f}%, derived)"


def mechanisms_table(evidence: Evidence, include_unquantified: bool = True) -> ReportTable:
    m = evidence.resistance_mechanisms
    if not include_unquantified:
        m = m[m["frequency_low_pct"].notna()]
    frame = pd.DataFrame({
        "ALK dependence": m["alk_dependence"],
        "Mechanism": m["mechanism"],
        "Examples": m["examples"].fillna("—"),
        "Effect": m["effect"],
        "Share of resistant patients": m.apply(share_text, axis=1),
        "Source": credit_column(evidence, m),
        EVIDENCE_COLUMN: [marks([c]) for c in row_credits(m)],
    })
    cells = [{"Mechanism": from_rows(evidence, "resistance_mechanisms", r, "mechanism"),
              "Examples": from_rows(evidence, "resistance_mechanisms", r, "examples"),
              "Effect": from_rows(evidence, "resistance_mechanisms", r, "effect"),
              "Share of resistant patients": from_rows(
                  evidence, "resistance_mechanisms", r, "frequency_low_pct", "frequency_high_pct", "frequency_as_stated",
                  derived="" if pd.isna(r["frequency_low_pct"]) or r["frequency_low_pct"] != r["frequency_high_pct"]
                  else f"stated fraction '{r['frequency_as_stated']}' as a percentage = {r['frequency_low_pct']:g}%")}
             for _, r in m.iterrows()]
    notes = [*abbreviations(frame, MECHANISM_ABBREVIATIONS),
             f"Shares as {read_in(evidence, m)} states them, ranges as published, with no N."]
    notes += [f"{r.mechanism}: {r.note}" for r in m.dropna(subset=["note"]).itertuples()]
    return _table("resistance_mechanisms", "Mechanisms of acquired resistance to crizotinib",
                  f"Patients with acquired resistance (no N in {read_in(evidence, m)}, so no interval)", frame, evidence,
                  row_credits(m), notes, data=m.assign(share_is_derived=m["frequency_as_stated"].str.contains(
                      r"\d", regex=True).map(lambda has_digits: not has_digits)), provenance=cells)


def references_table(evidence: Evidence, source_ids: list[str] | None = None) -> ReportTable:
    """Full references with their identifiers, for the sources a report used (or all of them)."""
    sources = evidence.sources
    if source_ids is not None:
        wanted = set(source_ids) | set(sources.loc[sources["kind"] == "review", "source_id"])
        sources = sources[sources["source_id"].isin(wanted)]

    def identifiers(row: pd.Series) -> str:
        parts = [f"doi:{row['doi']}" if pd.notna(row["doi"]) else "", f"PMID {row['pmid']}" if pd.notna(row["pmid"]) else ""]
        return "; ".join(p for p in parts if p) or "—"

    frame = pd.DataFrame({
        "Ref.": sources.apply(lambda r: str(int(r["ref_number"])) if pd.notna(r["ref_number"]) else r["kind"], axis=1),
        "Label": sources["source_id"].map(lambda s: short_citation(evidence.sources, s)),
        "Reference": sources.apply(full_citation, axis=1),
        "Identifiers": sources.apply(identifiers, axis=1),
        "Cited by the review for": sources["cited_for_section"].map(
            lambda s: f"its section '{s.capitalize()}'" if pd.notna(s) else "—"),
        "Note": sources["note"].fillna(""),
    })
    return _table("references", "References", _count(len(frame), "source"), frame, evidence, [],
                  ["Ref. is the number the review gives a reference, or the kind of source: a publication the review "
                   "does not cite (added for figures it does not give, or as the primary source of one it does), or a "
                   "secondary summary a figure was checked in. The review cites each of its references once, at the "
                   "end of a section, for the whole section. Identifiers are given where checked."],
                  data=sources, source_note="Source: data/sources.csv, the bundle's citation table.")


def data_tables_table(evidence: Evidence) -> ReportTable:
    """What data this bundle holds: each table, its purpose, size and content hash."""
    specs, hashes = evidence.schema, evidence.hashes
    rows, cells = [], []
    for name, spec in specs.items():
        frame = getattr(evidence, name)
        cells.append({"Holds": CellSource((f"{SCHEMA_FILE}#{name}:description",)),
                      "Rows": CellSource((spec.file_name,), derived=f"rows of {spec.file_name} = {len(frame)}"),
                      "Columns": CellSource((spec.file_name,), derived=f"columns of {spec.file_name} = {len(frame.columns)}"),
                      "SHA-256 (first 16)": CellSource((spec.file_name,),
                                                       derived=f"SHA-256 of {spec.file_name}, first 16 hex digits")})
        rows.append({"Table": spec.file_name, "Holds": spec.description, "Rows": str(len(frame)),
                     "Columns": str(len(frame.columns)), "Key": ", ".join(spec.key),
                     "SHA-256 (first 16)": hashes.get(spec.file_name, "")[:16]})
    frame = pd.DataFrame(rows)
    return _table("data_tables", "Data tables", f"{len(frame)} tables, {sum(int(r['Rows']) for r in rows)} rows",
                  frame, evidence, [],
                  ["Every row carries a source_id that resolves in sources.csv; rules are in data/schema.yaml and "
                   "are checked before any report runs."], data=pd.DataFrame(rows),
                  source_note="Source: the files in data/ and data/schema.yaml.", provenance=cells)


def derivations_table(evidence: Evidence, confidence_level: float = 0.95, ci_method: str = "exact") -> ReportTable:
    """Every value the reports compute rather than read, with the inputs and the rule."""
    rows, cells = [], []
    names = evidence.trials.set_index("trial_id")["trial_name"]
    for o in evidence.outcomes.dropna(subset=["denominator"]).itertuples():
        exact = float(o.value) / 100 * int(o.denominator)
        both = outcome_source(evidence, o._asdict()) + outcome_source(evidence, o._asdict(), "denominator")
        count = derived_count(float(o.value), int(o.denominator))
        cells.append({"Derived value": trial_source(evidence, o.trial_id, "trial_name") + outcome_source(
                          evidence, o._asdict(), "arm"), "From": both, "Rule": both,
                      "Result": both.with_derived(responders_derivation(float(o.value), o.denominator, count))})
        rows.append({"Derived value": f"Responders, {names[o.trial_id]}, {o.arm}",
                     "From": f"{o.value:g}% of N={o.denominator}",
                     "Rule": f"{o.value:g}/100 × {o.denominator} = {exact:.2f}, rounded half up",
                     "Result": str(derived_count(float(o.value), int(o.denominator))),
                     "source_id": o.source_id})
    for m in evidence.resistance_mechanisms.dropna(subset=["frequency_low_pct"]).itertuples():
        if m.frequency_low_pct == m.frequency_high_pct:
            share = from_rows(evidence, "resistance_mechanisms", m._asdict(), "frequency_as_stated", "frequency_low_pct")
            cells.append({"Derived value": share, "From": share, "Rule": share, "Result": share.with_derived(
                f"stated fraction '{m.frequency_as_stated}' as a percentage = {m.frequency_low_pct:g}%")})
            rows.append({"Derived value": f"Share of resistant patients: {m.mechanism}",
                         "From": m.frequency_as_stated, "Rule": "stated fraction as a percentage, one decimal",
                         "Result": f"{m.frequency_low_pct:g}%", "source_id": m.source_id})
    methods = [
        ("Interval on a proportion", "derived responders / N", f"{CI_METHOD_LABELS[ci_method]} (parameter "
         f"ci_method; exact or wilson), statsmodels proportion_confint, at {level_text(confidence_level)} "
         "(parameter confidence_level)"),
        ("ORR difference (phase III)", "derived responders and N per arm", "Newcombe hybrid score interval "
         "(statsmodels confint_proportions_2indep, method 'newcomb')"),
        ("Odds ratio (phase III)", "derived responders and N per arm", "Woolf logit interval (statsmodels "
         "confint_proportions_2indep, method 'logit')"),
        ("Pooled ORR (exploratory)", "crizotinib arms with N (primary analyses)", "random effects, DerSimonian–Laird "
         "on the logit scale (statsmodels combine_effects, method_re 'chi2'); I², τ², Q; interval normal or "
         "Hartung–Knapp–Sidik–Jonkman (parameter pooled_interval of the clinical activity report); prediction "
         "interval for a new trial, t with k−2 df on τ² + SE² (Higgins et al. 2009)"),
        ("Interval check, proportion", "published interval and N", "recompute at the published level; flag a gap "
         "beyond half a unit of the published last digit"),
        ("Interval check, hazard ratio", "published HR and interval", "HR against the geometric mean of the bounds, "
         "each number allowed its rounding"),
        ("Hazard ratios", "publications", "as published, never recomputed"),
    ]
    for what, inputs, rule in methods:
        rows.append({"Derived value": what, "From": inputs, "Rule": rule, "Result": "—", "source_id": pd.NA})
    frame = pd.DataFrame(rows)
    mechanisms = evidence.resistance_mechanisms
    credits = (row_credits(evidence.outcomes.dropna(subset=["denominator"]))
               + row_credits(mechanisms[mechanisms["frequency_low_pct"].notna()
                                        & (mechanisms["frequency_low_pct"] == mechanisms["frequency_high_pct"])]))
    return _table("derivations", "Derived values and methods",
                  f"{len(frame)} derivations: every value computed rather than transcribed", frame.drop(columns="source_id"),
                  evidence, credits,
                  ["A derived value is never typed into a report: the package computes it from data/ at build time."],
                  data=frame, provenance=cells)




def _figure_label(evidence: Evidence, table: str, row: pd.Series) -> str:
    """A data row as a reader would name the figure: its key (trials by name), then its value."""
    names = evidence.trials.set_index("trial_id")["trial_name"]
    key = evidence.schema[table].key if table in evidence.schema else ()
    parts = [str(names.get(row[c], row[c])) if c == "trial_id" else str(row[c]) for c in key if pd.notna(row.get(c))]
    readable = {"trials": ["trial_name"], "study_measures": ["study", "measure"], "resistance_measures": ["measure"],
                "relapse_patterns": ["pattern"], "resistance_mechanisms": ["mechanism"], "findings": ["topic"],
                "approvals": ["agency", "approval_type", "setting"]}
    if table in readable:
        parts = [str(row[c]) for c in readable[table]]
    for column in ("value", "hazard_ratio", "estimate", "frequency_as_stated", "date", "statement"):
        if column in row.index and pd.notna(row[column]):
            value = row[column]
            if column == "value" and "unit" in row.index:
                text = f"{value:g}{row['unit'] if row['unit'] == '%' else ' ' + str(row['unit'])}"
            elif column == "date":
                text = f"{value:%Y-%m-%d}"
            elif isinstance(value, float):
                text = f"{value:g}"
            else:
                text = str(value)
            return f"{' · '.join(parts)}: {text[:90]}"
    return " · ".join(parts)


def verification_table(evidence: Evidence) -> ReportTable:
    """Every figure in the data with where it was read, its primary publication, where it was checked, its level."""
    rows, credits, cells = [], [], []
    for table in TABLE_NAMES:
        if table == "sources":
            continue
        frame = getattr(evidence, table)
        for credit, (_, row) in zip(row_credits(frame), frame.iterrows()):
            credits.append(credit)
            shown = [c for c in ("value", "hazard_ratio", "estimate", "frequency_as_stated", "date", "statement")
                     if c in row.index and pd.notna(row[c])][:1]
            cells.append({"Figure": from_rows(evidence, table, row, *(shown or (["trial_name"] if table == "trials" else list(
                evidence.schema[table].key if table in evidence.schema else ["source_id"]))))})
            rows.append({
                "Data table": f"{table}.csv",
                "Figure": _figure_label(evidence, table, row),
                "Read in": short_citation(evidence.sources, credit.read_in)
                + (f", section '{credit.section.capitalize()}'" if credit.section else ""),
                "Primary publication": "; ".join(short_citation(evidence.sources, p) for p in credit.primary) or "—",
                "Checked in": short_citation(evidence.sources, credit.verified_in) if credit.verified_in else "—",
                EVIDENCE_COLUMN: credit.mark,
            })
    frame = pd.DataFrame(rows)
    counts = frame[EVIDENCE_COLUMN].value_counts()
    summary = "; ".join(f"{mark} {int(counts.get(mark, 0))}" for mark in LEVEL_MEANINGS)
    return _table("verification", "How each figure was verified",
                  f"{len(frame)} figures in {frame['Data table'].nunique()} data tables: {summary}", frame, evidence,
                  credits,
                  ["A figure read in the review is credited to the review; the reference the review cites at the end "
                   "of that section is named only as what the review cites, never as the figure's source.",
                   "Primary publication: the publication that reports the figure, when one is known; Checked in: the "
                   "secondary summary in which a figure was checked when no primary copy was read."],
                  group_column="Data table", provenance=cells)


# --- the landscape: crizotinib as the comparator of the newer drugs ------------------------------------

#: What a cell says when the bundle holds no verified figure for it (the publication may well report one).
NOT_IN_BUNDLE = "not in this bundle"


def or_list(items: Iterable[str], last: str = "or") -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return items[0] if items else "none"
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def pooled_arms_named(arms: pd.DataFrame) -> str:
    """'the crizotinib arms of Phase I trial, Phase II trial and PROFILE 1007 (3 trials)': which arms a pool
    takes, named and counted from its rows (one crizotinib arm a trial)."""
    if arms.empty:
        return "no crizotinib arm"
    return (f"the crizotinib arm{'' if len(arms) == 1 else 's'} of {or_list(arms['trial_name'], 'and')} "
            f"({_count(len(arms), 'trial')})")


def trial_group(trial: pd.Series) -> str:
    """A trial's row-group heading: its comparison, population and doses, so no row is read without them."""
    doses = trial["doses"] if pd.notna(trial["doses"]) else f"doses {NOT_IN_BUNDLE}"
    return f"{trial['trial_name']}: {trial['drug']} against {trial['comparator']} · {trial['population']} · {doses}"


def analysis_name(row: pd.Series | dict) -> str:
    """An analysis as its publication labels it, else 'primary analysis' / 'updated analysis'."""
    label = row.get("analysis_label")
    return str(label) if label is not None and pd.notna(label) else f"{row.get('analysis')} analysis"


def pair_cells(evidence: Evidence, pair, experimental: str, control: str, endpoint: str) -> dict[str, CellSource]:
    """The cells of one outcome_pairs row: each arm's value, the endpoint, trial and analysis from both rows."""
    rows = pair_rows(evidence, pair)
    arm = {a: rows[rows["arm"] == a] for a in (pair.experimental_arm, pair.control_arm)}
    return {experimental: frame_source(evidence, "outcomes", arm[pair.experimental_arm], "value"),
            control: frame_source(evidence, "outcomes", arm[pair.control_arm], "value"),
            endpoint: frame_source(evidence, "outcomes", rows, "endpoint"),
            "Trial": trial_source(evidence, pair.trial_id),
            "Analysis": frame_source(evidence, "outcomes", rows, "analysis", "analysis_label"),
            "Patients and analysis": frame_source(evidence, "outcomes", rows, "analysis", "analysis_label")}


def pair_credits(evidence: Evidence, pairs: pd.DataFrame) -> list[Credit]:
    """The credits of both arms' rows behind each pair of outcome_pairs."""
    return [c for p in pairs.itertuples() for c in row_credits(pair_rows(evidence, p))]


def harms_summary(items: list[dict]) -> str:
    """A trial's harms in one cell: comparisons in full, figures of one arm only counted, or none in the bundle."""
    if not items:
        return "no verified safety figure in this bundle"
    both = [i["result"].rstrip(".") if i["kind"] == "safety finding" else f"{i['what']}: {i['result']}"
            for i in items if not i["missing_arms"]]
    one_arm = [i for i in items if i["missing_arms"]]
    parts = both
    if one_arm:
        arms = or_list([arm for i in one_arm for arm in i["arms"]], "and")
        parts.append(f"{arms}-arm figures only ({len(one_arm)} events; safety table)")
    return "; ".join(parts)


def hazard_ratio_detail(h: pd.Series | dict) -> str:
    """'0.34 (99.7% CI 0.17–0.71); independent review; second pre-planned interim analysis': a hazard ratio
    with what a reader needs to weigh it: its p value and adjustment where given, its assessor and analysis."""
    h = pd.Series(h)
    parts = [hazard_ratio_text(h)]
    if pd.notna(h.get("p_value")):
        parts.append(f"p = {h['p_value']:g}")
    if pd.notna(h.get("adjustment")):
        parts.append(str(h["adjustment"]))
    parts.append(f"assessor: {h['assessor']}")
    parts.append(analysis_name(h))
    return "; ".join(parts)


def hazard_ratio_footnote(hr: pd.DataFrame, newer: tuple[str, ...]) -> list[str]:
    """'HR, hazard ratio of ... against ...; below 1 favours ...', written from the rows a table shows."""
    notes = []
    for control, group in hr.groupby("control_arm", sort=False):
        experimental = list(dict.fromkeys(group["experimental_arm"]))
        if len(experimental) > 1 and set(experimental) <= set(newer):
            notes.append(f"HR, hazard ratio of the newer drug ({or_list(experimental)}) against {control}; "
                         "below 1 favours the newer drug.")
        else:
            drug = or_list(experimental)
            notes.append(f"HR, hazard ratio of {drug} against {control}; below 1 favours {drug}.")
    return notes


def _levels_footnote(hr: pd.DataFrame, names: pd.Series) -> str:
    unusual = [f"{names[r.trial_id]} {r.endpoint}, {analysis_name(r._asdict())}: {level_text(r.ci_level)}"
               for r in hr.itertuples() if pd.notna(r.ci_level) and r.ci_level != 0.95]
    return ("Hazard ratios are as published, at the level each publication used"
            + (f" ({'; '.join(unusual)})" if unusual else "") + ".")


def _count(n: int, thing: str, things: str | None = None) -> str:
    """'1 trial', '2 trials', '2 analyses' (with things='analyses'): a count with its noun in agreement."""
    return f"{n} {thing if n == 1 else things or thing + 's'}"


def _sources(evidence: Evidence, credits: list[Credit]) -> str:
    return "; ".join(dict.fromkeys(credit_text(evidence.sources, c) for c in credits))


def _median_text(value: float, note: object) -> str:
    return "not reached" if pd.isna(value) and note == "not reached" else (f"{value:.1f}" if pd.notna(value) else "—")


def _value_text(value: float, unit: str, note: object) -> str:
    """An outcome as published: '62.5%', '47.5 months', 'not reached'."""
    if unit == "months":
        return _median_text(value, note) + (" months" if pd.notna(value) else "")
    return percent(value)


def _orr_text(value: float, n: object, level: float, method: str) -> str:
    if pd.isna(value):
        return "—"
    if pd.isna(n):
        return percent(value)
    interval = proportion_interval(derived_count(value, int(n)), int(n), level, method)
    return f"{percent(value)} ({interval_text(100 * interval.low, 100 * interval.high)})"


def lines_of_therapy(trials: pd.DataFrame) -> str:
    """'First-line trials', from the trials' own settings ('Trials' where a line is not stated or none is shown)."""
    lines = list(dict.fromkeys(trials["setting"]))
    if not lines or "line not stated" in lines:
        return "Trials"
    return f"{or_list(lines, 'and').capitalize()} trial{'' if len(trials) == 1 else 's'}"


def _arm_labels(trials: pd.DataFrame, comparator: str) -> tuple[str, str]:
    """Column labels for the two arms: 'newer drug' / 'crizotinib', or the drug / its comparator."""
    if comparator == "crizotinib":
        return "newer drug", "crizotinib"
    return or_list(trials["drug"]), comparator


def landscape_table(evidence: Evidence, analysis: str = "primary", drugs: str = "all",
                    confidence_level: float = 0.95, comparator: str = "crizotinib",
                    ci_method: str = "exact") -> ReportTable:
    """The first-line trials against crizotinib in the bundle (or, with comparator='chemotherapy', crizotinib's
    own landscape trials against it), grouped under their population and doses: N, PFS hazard ratio with its
    assessor, medians, response, the harms the bundle holds, and which analysis each comes from."""
    trials = comparator_trials(evidence, drugs, comparator)
    hr = hazard_ratios_vs_crizotinib(evidence, analysis, drugs, comparator=comparator).set_index("trial_id")
    new, control = _arm_labels(trials, comparator)
    pairs = outcome_pairs(evidence, list(trials["trial_id"]), ["PFS median", "ORR"], analysis)
    pairs = pairs.set_index(["trial_id", "endpoint"]) if len(pairs) else pairs
    harms = harms_by_trial(evidence, list(trials["trial_id"]))
    level = level_text(confidence_level)
    median_label, orr_label = f"Median PFS, months ({new} / {control})", f"ORR ({new} / {control}), {level} CI"
    rows, data, sources, cells = [], [], [], []
    for t in trials.itertuples():
        row = {"Trial": trial_group(pd.Series(t._asdict())),
               f"N ({new} / {control})": f"{t.patients_experimental} / {t.patients_control}"}
        numbers = {"trial_id": t.trial_id, "trial_name": t.trial_name, "drug": t.drug, "comparator": t.comparator,
                   "population": t.population, "doses": t.doses, "patients_experimental": t.patients_experimental,
                   "patients_control": t.patients_control}
        analyses, cited = [], [credit_of(t._asdict())]
        cell = {f"N ({new} / {control})": trial_source(evidence, t.trial_id, "patients_experimental", "patients_control")}
        analysis_cells = []
        if t.trial_id in hr.index:
            h = hr.loc[t.trial_id].copy()
            h["trial_id"] = t.trial_id
            cell["PFS HR"] = from_rows(evidence, "hazard_ratios", h, "hazard_ratio", "ci_low", "ci_high", "ci_level",
                                       "p_value", "assessor", "analysis_label")
            analysis_cells.append(from_rows(evidence, "hazard_ratios", h, "analysis", "analysis_label"))
            row["PFS HR"] = hazard_ratio_detail(h)
            analyses.append(h["analysis"])
            cited.append(credit_of(h))
            numbers.update({f"hr_{k}": h[k] for k in ("hazard_ratio", "ci_low", "ci_high", "ci_level", "p_value",
                                                      "assessor", "analysis", "analysis_label")})
        else:
            row["PFS HR"] = NOT_IN_BUNDLE
        for endpoint, label in (("PFS median", median_label), ("ORR", orr_label)):
            key = (t.trial_id, endpoint)
            if len(pairs) and key in pairs.index:
                p = pairs.loc[key]
                analyses.append(p["analysis"])
                both_arms = rows_of(evidence.outcomes, [t.trial_id], p["analysis"], endpoint=endpoint,
                                    arm=[p["experimental_arm"], p["control_arm"]])
                cited += row_credits(both_arms)
                shown_cell = frame_source(evidence, "outcomes", both_arms, "value")
                if endpoint == "ORR":
                    derivations = [interval_derivation(ci_method, derived_count(float(a["value"]), int(a["denominator"])),
                                                       int(a["denominator"]), confidence_level)
                                   for _, a in both_arms.iterrows() if pd.notna(a["denominator"])]
                    if derivations:
                        shown_cell = (shown_cell + frame_source(evidence, "outcomes", both_arms, "denominator")).with_derived(
                            "; ".join(derivations))
                cell[label] = shown_cell
                analysis_cells.append(frame_source(evidence, "outcomes", both_arms, "analysis", "analysis_label"))
                prefix = endpoint.split(" ")[0].lower()
                numbers.update({f"{prefix}_experimental": p["experimental_value"],
                                f"{prefix}_control": p["control_value"], f"{prefix}_analysis": p["analysis"]})
                if endpoint == "PFS median":
                    row[label] = (f"{_median_text(p['experimental_value'], p['experimental_note'])} / "
                                  f"{_median_text(p['control_value'], p['control_note'])}")
                else:
                    row[label] = (f"{_orr_text(p['experimental_value'], p['experimental_n'], confidence_level, ci_method)}"
                                  f" / {_orr_text(p['control_value'], p['control_n'], confidence_level, ci_method)}")
            else:
                row[label] = NOT_IN_BUNDLE
        row["Harms in this bundle"] = harms_summary(harms[t.trial_id])
        cell["Harms in this bundle"] = combine(*[harm_source(evidence, item) for item in harms[t.trial_id]])
        cell["Analysis"] = combine(*analysis_cells)
        cells.append(cell)
        cited += [c for item in harms[t.trial_id] for c in item["credits"]]
        row["Analysis"] = " + ".join(dict.fromkeys(analyses)) or "—"
        row[EVIDENCE_COLUMN] = marks(cited)
        row["Source"] = _sources(evidence, cited)
        sources += cited
        rows.append(row)
        data.append(numbers)
    n = int(trials["patients_experimental"].sum() + trials["patients_control"].sum())
    if comparator == "crizotinib":
        name = "landscape"
        title = f"{lines_of_therapy(trials)} of {or_list(trials['drug'], 'and')} against crizotinib in this bundle"
    else:
        name = "crizotinib_vs_chemotherapy"
        title = (f"{or_list(trials['drug']).capitalize()} against {comparator}: "
                 + "; ".join(f"{t.trial_name} ({t.population})" for t in trials.itertuples()))
    shown_hr = hr.reset_index()
    return _table(
        name, title,
        f"Randomized patients: N={n} in {len(trials)} trial{'s' if len(trials) != 1 else ''}; {analysis} analysis "
        f"where published, otherwise the other (column Analysis)",
        pd.DataFrame(rows), evidence, sources,
        [*hazard_ratio_footnote(shown_hr, newer_drugs(evidence)),
         "PFS, progression-free survival; ORR, objective response rate; CI, confidence interval. Each PFS hazard "
         "ratio names who assessed progression (investigator or independent review) and its analysis.",
         _levels_footnote(shown_hr, trials.set_index("trial_id")["trial_name"]),
         f"ORR intervals are recomputed ({level}, {CI_METHOD_LABELS[ci_method]}) on responders derived from the "
         "published percentage and arm size.",
         f"Harms: the adverse-event figures and safety findings this bundle holds for each trial (safety table); "
         f"'{NOT_IN_BUNDLE}' means none was verified for this bundle, not that the trial reported none."],
        data=pd.DataFrame(data), group_column="Trial", trial_ids=list(trials["trial_id"]), provenance=cells,
    )


def landmark_table(evidence: Evidence, analysis: str = "primary", drugs: str = "all") -> ReportTable:
    """Landmark progression-free (and event-free) survival rates against crizotinib, where published."""
    trials = comparator_trials(evidence, drugs)
    endpoints = evidence.outcomes["endpoint"]
    landmarks = list(dict.fromkeys(endpoints[endpoints.str.contains(LANDMARK_PFS_ENDPOINTS)]))
    pairs = outcome_pairs(evidence, list(trials["trial_id"]), landmarks, analysis)
    rows = [{"Trial": p.trial_name, "Drug": p.experimental_arm, "Outcome": p.endpoint,
             "Assessor": p.assessor if pd.notna(p.assessor) else "—", "Analysis": analysis_name(p._asdict()),
             "Newer drug": percent(p.experimental_value), "Crizotinib": percent(p.control_value),
             EVIDENCE_COLUMN: marks(row_credits(pair_rows(evidence, p))),
             "Source": _sources(evidence, row_credits(pair_rows(evidence, p)))} for p in pairs.itertuples()]
    cells = [pair_cells(evidence, p, "Newer drug", "Crizotinib", "Outcome") for p in pairs.itertuples()]
    return _table(
        "landmark_pfs", "Landmark progression-free survival against crizotinib",
        f"{_count(len(rows), 'result')} from the publications of "
        f"{_count(pairs['trial_id'].nunique() if len(pairs) else 0, 'trial')} "
        "(Kaplan-Meier estimates; no N, so no interval)",
        pd.DataFrame(rows), evidence, pair_credits(evidence, pairs),
        ["PFS, progression-free survival; event-free survival as the publication defines it. Rates as published, "
         "at the time point each endpoint names."],
        data=pairs, trial_ids=list(pairs.get("trial_id", [])), provenance=cells,
    )


def landscape_survival_table(evidence: Evidence, drugs: str = "all") -> ReportTable:
    """Every overall-survival result in the bundle for the landscape trials shown, whatever the analysis:
    OS hazard ratios (with level, p value, adjustment), medians, landmark rates and crossover."""
    trials = landscape_trials(evidence, drugs)
    trial_ids = list(trials["trial_id"])
    hr, outcomes = survival_rows(evidence, trial_ids)
    rows, credits, data, cells, shown_at = [], [], [], [], []
    without = []
    for t in trials.itertuples():
        group = trial_group(pd.Series(t._asdict()))
        shown_before = len(rows)
        for _, h in hr[hr["trial_id"] == t.trial_id].iterrows():
            credit = credit_of(h)
            what = f"OS hazard ratio, {h['experimental_arm']} against {h['control_arm']}"
            if pd.notna(h["adjustment"]):
                what += f", {h['adjustment']}"
            rows.append({"Trial": group, "Result": what, "Value": hazard_ratio_text(h),
                         "p value": f"{h['p_value']:g}" if pd.notna(h["p_value"]) else "not given",
                         "Assessor": h["assessor"], "Analysis": analysis_name(h),
                         "Note": h["note"] if pd.notna(h["note"]) else "—",
                         EVIDENCE_COLUMN: credit.mark, "Source": credit_text(evidence.sources, credit)})
            cells.append({"Result": from_rows(evidence, "hazard_ratios", h, "endpoint", "adjustment"),
                          "Value": from_rows(evidence, "hazard_ratios", h, "hazard_ratio", "ci_low", "ci_high", "ci_level"),
                          "p value": from_rows(evidence, "hazard_ratios", h, "p_value"),
                          "Analysis": from_rows(evidence, "hazard_ratios", h, "analysis", "analysis_label"),
                          "Note": from_rows(evidence, "hazard_ratios", h, "note")})
            credits.append(credit)
            data.append({"kind": "hazard ratio", **h.to_dict()})
            shown_at.append(len(rows) - 1)
        mine = outcomes[outcomes["trial_id"] == t.trial_id]
        for (endpoint, analysis), arms in mine.groupby(["endpoint", "analysis"], sort=False):
            if endpoint == CROSSOVER:
                value = "; ".join(f"{'about ' if r.note == 'approximately' else ''}{r.value:g}{r.unit} of the "
                                  f"{r.arm} arm" for r in arms.itertuples())
                what = "crossover: later received the other arm's drug"
            else:
                value = " / ".join(f"{r.arm} {_value_text(r.value, r.unit, r.note)}" for r in arms.itertuples())
                what = endpoint
            row_credits_ = row_credits(arms)
            rows.append({"Trial": group, "Result": what, "Value": value, "p value": "—",
                         "Assessor": or_list(arms["assessor"].dropna()) if arms["assessor"].notna().any() else "—",
                         "Analysis": analysis_name(arms.iloc[0]), "Note": "—",
                         EVIDENCE_COLUMN: marks(row_credits_), "Source": _sources(evidence, row_credits_)})
            cells.append({"Result": frame_source(evidence, "outcomes", arms, "endpoint"),
                          "Value": frame_source(evidence, "outcomes", arms, "value"),
                          "Analysis": frame_source(evidence, "outcomes", arms, "analysis", "analysis_label")})
            credits += row_credits_
            data += [{"kind": "outcome", **r} for r in arms.to_dict("records")]
            shown_at += [len(rows) - 1] * len(arms)
        if len(rows) == shown_before:
            without.append(t.trial_name)
            rows.append({"Trial": group, "Result": "overall survival", "Value": NOT_IN_BUNDLE, "p value": "—",
                         "Assessor": "—", "Analysis": "—", "Note": "—", EVIDENCE_COLUMN: "—", "Source": "—"})
            cells.append({})
        design = evidence.findings[(evidence.findings["topic"] == "design")
                                   & evidence.findings["trial_ids"].fillna("").str.split(";").map(
                                       lambda ids: t.trial_id in ids)]
        for _, finding in design.iterrows():  # whether crossover was allowed: how to read the OS results
            credit = credit_of(finding)
            rows.append({"Trial": group, "Result": "trial design", "Value": finding["statement"], "p value": "—",
                         "Assessor": "—", "Analysis": "—", "Note": "—", EVIDENCE_COLUMN: credit.mark,
                         "Source": credit_text(evidence.sources, credit)})
            cells.append({"Value": from_rows(evidence, "findings", finding, "statement")})
            credits.append(credit)
    shown = sum(r["Value"] != NOT_IN_BUNDLE and r["Result"] != "trial design" for r in rows)
    population = (f"{_count(shown, 'result')} from {len(trials) - len(without)} of {_count(len(trials), 'trial')}, "
                  "every analysis in the bundle (the analysis parameter does not apply)")
    if without:
        population += f"; no overall-survival result in this bundle for {or_list(without, 'and')}"
    return _table(
        "overall_survival", "Overall survival and crossover: every result in this bundle for these trials",
        population, pd.DataFrame(rows), evidence, credits,
        [*hazard_ratio_footnote(hr, newer_drugs(evidence)),
         "OS, overall survival. Medians and landmark rates are Kaplan-Meier estimates as published. Crossover: "
         "the share of an arm that later received the other arm's drug, as the publication states it (column "
         "Analysis); it dilutes any difference in overall survival.",
         _levels_footnote(hr, trials.set_index("trial_id")["trial_name"])],
        data=pd.DataFrame(data), group_column="Trial", trial_ids=trial_ids, provenance=cells,
        data_shown_rows=shown_at,
    )


def landscape_safety_table(evidence: Evidence, drugs: str = "all") -> ReportTable:
    """Every harm in the bundle for the landscape trials shown: adverse-event figures (arms side by side) and
    safety findings in words; a trial with none says so rather than showing a gap."""
    trials = landscape_trials(evidence, drugs)
    trial_ids = list(trials["trial_id"])
    harms = harms_by_trial(evidence, trial_ids)
    rows, credits, data, without, cells, shown_at = [], [], [], [], [], []
    for t in trials.itertuples():
        group = trial_group(pd.Series(t._asdict()))
        for item in harms[t.trial_id]:
            source = harm_source(evidence, item)
            table = "adverse_events" if item["kind"] == "adverse event" else "findings"
            cells.append({"Harm": source if item["kind"] == "safety finding" else frame_source(
                              evidence, table, item["rows"], "event", "note"),
                          "Result": source,
                          "Analysis": frame_source(evidence, table, item["rows"], "analysis", "analysis_label")
                          if item["kind"] == "adverse event" else None})
            result = item["result"]
            if item["missing_arms"]:
                result += f" ({or_list(item['missing_arms'], 'and')} arm: {NOT_IN_BUNDLE})"
            rows.append({"Trial": group, "Harm": item["what"], "Result": result, "Analysis": item["analysis"],
                         EVIDENCE_COLUMN: marks(item["credits"]), "Source": _sources(evidence, item["credits"])})
            credits += item["credits"]
            data += [{"kind": item["kind"], **r} for r in item["rows"].to_dict("records")]
            shown_at += [len(rows) - 1] * len(item["rows"])
        if not harms[t.trial_id]:
            without.append(t.trial_name)
            rows.append({"Trial": group, "Harm": "adverse events", "Result": "no verified safety figure in this bundle",
                         "Analysis": "—", EVIDENCE_COLUMN: "—", "Source": "—"})
            cells.append({})
    events, findings = safety_rows(evidence, trial_ids)
    population = (f"{_count(len(events), 'adverse-event figure')} and {_count(len(findings), 'safety finding')} from "
                  f"{len(trials) - len(without)} of {_count(len(trials), 'trial')}")
    if without:
        population += f"; no verified safety figure in this bundle for {or_list(without, 'and')}"
    return _table(
        "safety", "Harms: every adverse-event figure and safety finding in this bundle for these trials",
        population, pd.DataFrame(rows), evidence, credits,
        ["Adverse events as percentages of treated patients, as published, each with its own grading and analysis; "
         "a finding in words is the publication's statement without its numbers.",
         f"'{NOT_IN_BUNDLE}': no figure was verified for this bundle; the trial's publication may report one."],
        data=pd.DataFrame(data), group_column="Trial", trial_ids=trial_ids, provenance=cells,
        data_shown_rows=shown_at,
    )


def comparator_consistency_table(evidence: Evidence, analysis: str = "primary") -> ReportTable:
    frame = crizotinib_control_medians(evidence, analysis)
    reference = reference_trial(evidence)
    shown = pd.DataFrame({
        "Trial": frame["trial_name"],
        "Population": frame["population"],
        "Crizotinib was": frame["crizotinib_role"],
        "Assessor": frame["assessor"].fillna("—"),
        "Analysis": [analysis_name(r) for r in frame.to_dict("records")],
        "Median PFS on crizotinib, months": frame["median_pfs_months"].map(lambda v: f"{v:.1f}"),
        f"Difference from {reference['trial_name']}, months": frame["difference_from_reference"].map(
            lambda v: f"{v:+.1f}"),
        EVIDENCE_COLUMN: [c.mark for c in credits_of(frame)],
        "Source": [credit_text(evidence.sources, c) for c in credits_of(frame)],
    })
    reference_analysis = frame.loc[frame["trial_id"] == reference["trial_id"], "analysis"].iloc[0] if len(frame) else None
    reference_cell = frame_source(evidence, "outcomes", rows_of(evidence.outcomes, [reference["trial_id"]],
                                                                reference_analysis, endpoint="PFS median",
                                                                arm="crizotinib"), "value")
    cells = []
    for _, r in frame.iterrows():
        median = rows_of(evidence.outcomes, [r["trial_id"]], r["analysis"], endpoint="PFS median", arm="crizotinib")
        median_cell = frame_source(evidence, "outcomes", median, "value")
        cells.append({"Trial": trial_source(evidence, r["trial_id"]),
                      "Population": trial_source(evidence, r["trial_id"], "population"),
                      "Median PFS on crizotinib, months": median_cell,
                      f"Difference from {reference['trial_name']}, months": combine(median_cell, reference_cell,
                          derived=f"difference of two medians: {r['median_pfs_months']:.1f} − "
                                  f"{r['median_pfs_months'] - r['difference_from_reference']:.1f} months"),
                      "Analysis": frame_source(evidence, "outcomes", median, "analysis", "analysis_label")})
    spread = frame["median_pfs_months"]
    return _table(
        "crizotinib_medians", "How consistent is the comparator? Crizotinib's median PFS in first-line trials",
        f"{len(frame)} first-line crizotinib arms; median of medians {spread.median():.1f} months, "
        f"range {spread.min():.1f}–{spread.max():.1f}",
        shown, evidence, credits_of(frame),
        ["PFS, progression-free survival. Medians as published; trials differ in population (column Population), "
         "assessor and follow-up, so differences are descriptive."],
        data=frame, trial_ids=list(frame["trial_id"]), provenance=cells,
    )


def cns_table(evidence: Evidence, analysis: str = "primary", drugs: str = "all") -> ReportTable:
    trials = comparator_trials(evidence, drugs)
    pairs = outcome_pairs(evidence, list(trials["trial_id"]), list(CNS_ENDPOINTS), analysis)
    shown = pd.DataFrame({
        "Trial": pairs.get("trial_name", pd.Series(dtype=str)),
        "Drug": pairs.get("experimental_arm", pd.Series(dtype=str)),
        "Endpoint": pairs.get("endpoint", pd.Series(dtype=str)),
        "Patients and analysis": [analysis_name(p._asdict()) for p in pairs.itertuples()],
        "Newer drug": pairs.get("experimental_value", pd.Series(dtype=float)).map(percent),
        "Crizotinib": pairs.get("control_value", pd.Series(dtype=float)).map(percent),
        EVIDENCE_COLUMN: [marks(row_credits(pair_rows(evidence, p))) for p in pairs.itertuples()],
        "Source": [_sources(evidence, row_credits(pair_rows(evidence, p))) for p in pairs.itertuples()],
    })
    cells = [pair_cells(evidence, p, "Newer drug", "Crizotinib", "Endpoint") for p in pairs.itertuples()]
    notes = ["CNS, central nervous system; ORR, objective response rate. Intracranial response among the patients "
             "each publication names (column Patients and analysis)."]
    progression = pairs[pairs["endpoint"] == "CNS progression"] if len(pairs) else pairs
    if len(progression):
        notes.append(f"CNS progression as reported by {or_list(progression['trial_name'], 'and')}.")
    return _table(
        "cns_outcomes", "The brain: intracranial response and CNS progression against crizotinib",
        f"{_count(len(pairs), 'result')} from {_count(pairs['trial_id'].nunique() if len(pairs) else 0, 'trial')}; "
        "the publications' "
        "CNS populations (no N transcribed, so no interval)", shown, evidence,
        pair_credits(evidence, pairs), notes, data=pairs, trial_ids=list(pairs.get("trial_id", [])), provenance=cells,
    )


def all_analyses_table(evidence: Evidence, drugs: str = "all") -> ReportTable:
    """Each analysis of progression-free survival in the bundle side by side, whichever one the report's
    parameter chose above."""
    trials = comparator_trials(evidence, drugs)
    rows, sources, data, cells, shown_at = [], [], [], [], []
    median_label = "Median PFS, months (newer drug / crizotinib)"
    for t in trials.itertuples():
        hr = evidence.hazard_ratios[(evidence.hazard_ratios["trial_id"] == t.trial_id)
                                    & (evidence.hazard_ratios["endpoint"] == "PFS")]
        pfs = evidence.outcomes[(evidence.outcomes["trial_id"] == t.trial_id)
                                & (evidence.outcomes["endpoint"] == "PFS median")]
        for analysis in ANALYSES:
            h = hr[hr["analysis"] == analysis]
            m = pfs[pfs["analysis"] == analysis].set_index("arm")
            if h.empty and m.empty:
                continue
            row = {"Trial": trial_group(pd.Series(t._asdict())), "Analysis": analysis, "PFS HR": NOT_IN_BUNDLE,
                   median_label: NOT_IN_BUNDLE}
            cited = []
            cell = {}
            for _, one in h.iterrows():
                cell["PFS HR"] = from_rows(evidence, "hazard_ratios", one, "hazard_ratio", "ci_low", "ci_high",
                                           "ci_level", "p_value", "adjustment", "assessor", "analysis_label")
                row["PFS HR"] = hazard_ratio_detail(one)
                cited.append(credit_of(one))
                data.append({"kind": "hazard ratio", **one.to_dict()})
                shown_at.append(len(rows))  # the row about to be shown
            if t.drug in m.index and "crizotinib" in m.index:
                row[median_label] = (f"{_median_text(m.loc[t.drug, 'value'], m.loc[t.drug, 'note'])} / "
                                     f"{_median_text(m.loc['crizotinib', 'value'], m.loc['crizotinib', 'note'])}")
                cited += [credit_of(m.loc[t.drug]), credit_of(m.loc["crizotinib"])]
                cell[median_label] = frame_source(evidence, "outcomes", m.reset_index().loc[
                    lambda f: f["arm"].isin([t.drug, "crizotinib"])], "value")
                data += [{"kind": "outcome", **r} for r in m.reset_index().to_dict("records")]
                shown_at += [len(rows)] * len(m)
            row[EVIDENCE_COLUMN] = marks(cited) or "—"
            row["Source"] = _sources(evidence, cited) or "—"
            sources += cited
            rows.append(row)
            cells.append(cell)
    shown_hr = evidence.hazard_ratios[evidence.hazard_ratios["trial_id"].isin(trials["trial_id"])
                                      & (evidence.hazard_ratios["endpoint"] == "PFS")]
    names = trials.set_index("trial_id")["trial_name"]
    reassessed = [names[t] for t, assessors in shown_hr.groupby("trial_id", sort=False)["assessor"]
                  if assessors.nunique() > 1]
    follow_up = ("PFS, progression-free survival. Hazard ratios at the level each publication reports, each with its "
                 "assessor and analysis; updated analyses have longer follow-up"
                 + (f", and in {or_list(reassessed, 'and')} another assessor." if reassessed else "."))
    return _table("all_analyses", "Progression-free survival against crizotinib: each analysis in this bundle",
                  f"{_count(len(rows), 'analysis', 'analyses')} of {_count(len(trials), 'trial')}", pd.DataFrame(rows),
                  evidence, sources,
                  [*hazard_ratio_footnote(shown_hr, newer_drugs(evidence)), follow_up,
                   _levels_footnote(shown_hr, trials.set_index("trial_id")["trial_name"])],
                  data=pd.DataFrame(data), group_column="Trial", trial_ids=list(trials["trial_id"]), provenance=cells,
                  data_shown_rows=shown_at)


def _finding_trials(finding: pd.Series, trial_ids: list[str]) -> list[str]:
    return [t for t in str(finding["trial_ids"]).split(";") if t in trial_ids]


def harms_by_trial(evidence: Evidence, trial_ids: list[str]) -> dict[str, list[dict]]:
    """Per trial, its harms as shown: one item an adverse event (its arms side by side) or a safety finding,
    each with the text, the analysis and the credits of its data rows."""
    events, findings = safety_rows(evidence, trial_ids)
    trials = evidence.trials.set_index("trial_id")
    harms: dict[str, list[dict]] = {t: [] for t in trial_ids}
    for (trial_id, event, analysis), group in events.groupby(["trial_id", "event", "analysis"], sort=False):
        trial = trials.loc[trial_id]
        note = group["note"].dropna().unique()
        what = f"{event} ({', '.join(note)})" if len(note) else event
        arms = [trial["drug"], trial["comparator"]]
        shown = [f"{r.arm} {r.value:g}{r.unit}" for r in group.itertuples()]
        missing = [arm for arm in arms if arm not in set(group["arm"])]
        harms[trial_id].append({
            "kind": "adverse event", "what": what, "result": " / ".join(shown), "arms": list(group["arm"]),
            "missing_arms": missing,
            "analysis": analysis_name(group.iloc[0]), "credits": row_credits(group), "rows": group})
    for _, finding in findings.iterrows():
        for trial_id in _finding_trials(finding, trial_ids):
            harms[trial_id].append({
                "kind": "safety finding", "what": "safety finding (in words)", "result": finding["statement"],
                "arms": [], "missing_arms": [], "analysis": "as published", "credits": [credit_of(finding)],
                "rows": finding.to_frame().T.assign(trial_id=trial_id)})
    return harms
