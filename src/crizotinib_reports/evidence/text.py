"""Prose with numbers in it, written from the data so no figure is ever typed into a notebook.

Each function returns a ReportMarkdown: its own template, with every value from the data escaped
(`markdown`), so a trial name holding `[x](javascript:...)` or `$$` is shown as those characters.
"""

from __future__ import annotations

import pandas as pd

from .analysis import ANALYSES, select_trials
from .citations import credit_of, credit_text
from .data import Evidence
from ..plain_text import ReportMarkdown, markdown
from .tables import (analysis_text, assessor_text, hazard_ratio_text, ordered_by_design, p_value_text, percent,
                     rows_of, value_text)


def _cite(evidence: Evidence, *rows) -> str:
    """The credits of the data rows a sentence states, each once: where read, primary publication, level."""
    return "; ".join(dict.fromkeys(credit_text(evidence.sources, credit_of(row)) for row in rows))


def trials_shown(evidence: Evidence, setting: str = "all", include_single_arm: bool = True) -> ReportMarkdown:
    """Which trials this report shows, counted and named from the data, single-arm apart from randomized."""
    trials = ordered_by_design(select_trials(evidence.trials, setting, include_single_arm))
    parts = []
    for design, group in trials.groupby("design", sort=False):
        names = "; ".join(f"{t.trial_name}, phase {t.phase}" + ("" if t.comparator == "none" else
                                                                 f", {t.setting}, against {t.comparator}")
                          for t in group.itertuples())
        parts.append(f"{len(group)} {design} ({names})")
    return markdown("Trials shown: {parts} ({cite}).", parts=" and ".join(parts),
                    cite=_cite(evidence, *[row for _, row in trials.iterrows()]))


def _latest(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of the latest analysis among these (an update over the primary one)."""
    if rows.empty:
        return rows
    latest = max(rows["analysis"], key=ANALYSES.index)
    return rows[rows["analysis"] == latest]


def _arms_pair(rows: list[pd.Series]) -> tuple[str, str]:
    """('10.9 vs 7.0 months', 'crizotinib vs chemotherapy'): values in the rows' order, a shared unit said once."""
    values = [value_text(r["value"], r["unit"], r["note"]) for r in rows]
    unit = f" {rows[-1]['unit']}" if rows[-1]["unit"] != "%" else ""
    if unit and all(v.endswith(unit) for v in values[:-1]):
        values = [v.removesuffix(unit) for v in values[:-1]] + values[-1:]
    return " vs ".join(values), " vs ".join(r["arm"] for r in rows)


def phase3_summary(evidence: Evidence, setting: str = "all") -> ReportMarkdown:
    """One paragraph a phase III trial: PFS, ORR, then overall survival with the crossover that dilutes it, cited.

    Benefit never stands alone: the latest OS hazard ratio (and any crossover-adjusted one) and the share of the
    control arm that crossed over follow the PFS result whenever the data hold them.
    """
    lines = []
    trials = select_trials(evidence.trials, setting, include_single_arm=False)
    for t in trials.itertuples():
        arms = lambda frame: sorted((r for _, r in frame.iterrows()), key=lambda r: r["arm"] != t.drug)  # noqa: E731
        pfs = arms(rows_of(evidence.outcomes, [t.trial_id], "primary", endpoint="PFS median"))
        orr = arms(rows_of(evidence.outcomes, [t.trial_id], "primary", endpoint="ORR"))
        hazard = rows_of(evidence.hazard_ratios, [t.trial_id])
        pfs_hr = hazard[(hazard["endpoint"] == "PFS") & (hazard["analysis"] == "primary") & hazard["adjustment"].isna()]
        os_hr = _latest(hazard[hazard["endpoint"] == "OS"])
        crossover = _latest(rows_of(evidence.outcomes, [t.trial_id], endpoint="crossover"))
        cited = pfs + orr + [r for _, r in pfs_hr.iterrows()]
        parts = [markdown("- **{trial}** ({setting}, against {comparator}): ", trial=t.trial_name, setting=t.setting,
                          comparator=t.comparator)]
        if pfs:
            values, arms_text = _arms_pair(pfs)
            who = sorted({assessor_text(r["assessor"]) for r in pfs} - {None})
            parts.append(markdown("median PFS {values} ({arms}{by})", values=values, arms=arms_text,
                                  by=f", {', '.join(who)}" if who else ""))
        parts += [markdown(", HR {hr}", hr=hazard_ratio_text(h)) for _, h in pfs_hr.iterrows()]
        if orr:
            values, arms_text = _arms_pair(orr)
            parts.append(markdown("; ORR {values} ({arms})", values=values, arms=arms_text))
        parts.append(markdown("."))
        unadjusted, adjusted = os_hr[os_hr["adjustment"].isna()], os_hr[os_hr["adjustment"].notna()]
        for _, h in unadjusted.iterrows():
            parts.append(markdown(" Overall survival, {analysis}: HR {hr}",
                                  analysis=analysis_text(h["analysis"], h["analysis_label"]).removeprefix(
                                      "updated analysis: "), hr=hazard_ratio_text(h)))
            if pd.notna(h["p_value"]):
                parts.append(markdown(", p = {p}", p=p_value_text(h["p_value"])))
            cited.append(h)
        if unadjusted.empty:
            parts.append(markdown(" No overall-survival hazard ratio is in this bundle"))
        for _, c in crossover.iterrows():
            parts.append(markdown(", with {share} of the {arm} arm later given {drug}",
                                  share=value_text(c["value"], c["unit"], c["note"]), arm=c["arm"], drug=t.drug))
            cited.append(c)
        for _, h in adjusted.iterrows():
            parts.append(markdown("; {adjustment}, HR {hr}", adjustment=h["adjustment"], hr=hazard_ratio_text(h)))
            cited.append(h)
        parts.append(markdown(" ({cite}).", cite=_cite(evidence, *cited)))
        text = ReportMarkdown("").join(parts)
        lines.append(text)
    return ReportMarkdown("\n").join(lines) if lines else markdown("_No phase III trial matches this setting._")


def findings_summary(evidence: Evidence, topics: list[str] | None = None) -> ReportMarkdown:
    """Findings stated in words, each cited."""
    f = evidence.findings if topics is None else evidence.findings[evidence.findings["topic"].isin(topics)]
    return ReportMarkdown("\n").join(
        markdown("- {statement} ({cite})", statement=r.statement, cite=_cite(evidence, r._asdict()))
        for r in f.itertuples())


def resistance_summary(evidence: Evidence) -> ReportMarkdown:
    m = evidence.resistance_measures.set_index("measure_id")
    mech = evidence.resistance_mechanisms.set_index("mechanism_id")
    dcr, ttr = m.loc["disease_control_rate"], m.loc["time_to_acquired_resistance"]
    mut = mech.loc["secondary_alk_mutation"]
    neither = mech.loc["neither_mutation_nor_gain"]
    cite = _cite(evidence, dcr, ttr, mut, neither)
    return markdown(
        "Crizotinib first controls disease in {dcr} of patients, yet acquired resistance follows after a "
        "{statistic} of {time:g} {unit} of treatment. Secondary ALK kinase-domain mutations (such as {examples}) "
        "explain {low:g}–{high:g}% of cases; {neither} have neither a mutation nor a copy-number gain ({cite}).",
        dcr=percent(dcr["value"]), statistic=ttr["qualifier"], time=ttr["value"], unit=ttr["unit"],
        examples=mut["examples"].replace("; ", " and "), low=mut["frequency_low_pct"], high=mut["frequency_high_pct"],
        neither=neither["frequency_as_stated"], cite=cite)


def relapse_summary(evidence: Evidence) -> ReportMarkdown:
    p = evidence.relapse_patterns.set_index("pattern_id")
    first, long_ = p.loc["within_first_year"], p.loc["prolonged_response"]
    cite = _cite(evidence, first, long_, p.loc["multiple_sites"])
    return markdown(
        "{first} happen within {first_time:g} {first_unit} of starting crizotinib, while {long} respond for over "
        "{long_time:g} {long_unit}; progression involves multiple sites in the {multiple} ({cite}).",
        first=first["frequency_as_stated"].capitalize(), first_time=first["time_threshold"],
        first_unit="year" if first["time_threshold"] == 1 else first["time_unit"],
        long=long_["frequency_as_stated"], long_time=long_["time_threshold"], long_unit=long_["time_unit"],
        multiple=p.loc["multiple_sites", "frequency_as_stated"], cite=cite)


def approvals_summary(evidence: Evidence) -> ReportMarkdown:
    a = evidence.approvals.dropna(subset=["date"]).sort_values("date")
    parts = [f"{r.agency} {r.approval_type} ({r.setting}) on {r.date:%-d %B %Y}" for r in a.itertuples()]
    return markdown("Approvals with a stated date: {approvals} ({cite}).", approvals="; ".join(parts),
                    cite=_cite(evidence, *[row for _, row in a.iterrows()]))



def pooled_orr_intro() -> ReportMarkdown:
    """Heading and caveat of the parameter-gated pooled section (shown only with it)."""
    return markdown(
        "## Exploratory: pooled response rate of the crizotinib arms\n\n"
        "Every crizotinib arm, whatever the `setting`, pooled with a random-effects model. The trials treated "
        "different lines of therapy, so the pooled rate describes the evidence rather than estimating one true "
        "rate, and the prediction interval shows how far a new trial's rate might lie from it; "
        "`pooled_interval=hartung-knapp` gives the Hartung–Knapp–Sidik–Jonkman interval on the pooled rate, which "
        "allows for the between-trial variance being estimated from few trials; "
        "`show_pooled_orr=false` leaves this section out."
    )


def cns_link(evidence: Evidence) -> ReportMarkdown:
    """The review's CNS-only relapse pattern, in its words from the data, to open the CNS section."""
    cns = evidence.relapse_patterns.set_index("pattern_id").loc["cns_only"]
    cite = _cite(evidence, cns)
    return markdown(
        "The review describes **{pattern}** as a distinctive way crizotinib fails: {explanation} "
        "Management: {management} ({cite}). The drugs below were designed to reach the brain; their "
        "trials measured it directly against crizotinib.",
        pattern=cns["pattern"], explanation=cns["explanation"], management=cns["management"], cite=cite)
