"""Prose with numbers in it, written from the data so no figure is ever typed into a notebook.

Each function returns a ReportMarkdown: its own template, with every value from the data escaped
(`markdown`), so a trial name holding `[x](javascript:...)` or `$$` is shown as those characters.
"""

from __future__ import annotations

import pandas as pd

from .analysis import ANALYSES, can_pool, pooled_arms, select_trials
from .citations import credit_of, credit_text
from .data import Evidence
from ..plain_text import ReportMarkdown, markdown
from .stats import MIN_POOLED_STUDIES
from .tables import (NOT_STATED, analysis_text, assessor_text, hazard_ratio_text, or_list, ordered_by_design,
                     p_value_text, percent, pooled_arms_named, rows_of, value_text)


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


def _direction(h: pd.Series) -> str:
    """'crizotinib vs chemotherapy': which arm a hazard ratio sets against which, from its row."""
    return f"{h['experimental_arm']} vs {h['control_arm']}"


def phase3_summary(evidence: Evidence, setting: str = "all") -> ReportMarkdown:
    """One paragraph a randomized trial: PFS, ORR, then overall survival with the crossover that dilutes it, cited.

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
        parts += [markdown(", HR {arms} {hr}", arms=_direction(h), hr=hazard_ratio_text(h))
                  for _, h in pfs_hr.iterrows()]
        if orr:
            values, arms_text = _arms_pair(orr)
            parts.append(markdown("; ORR {values} ({arms})", values=values, arms=arms_text))
        parts.append(markdown("."))
        unadjusted, adjusted = os_hr[os_hr["adjustment"].isna()], os_hr[os_hr["adjustment"].notna()]
        for _, h in unadjusted.iterrows():
            parts.append(markdown(" Overall survival, {analysis}: HR {arms} {hr}",
                                  analysis=analysis_text(h["analysis"], h["analysis_label"]).removeprefix(
                                      "updated analysis: "), arms=_direction(h), hr=hazard_ratio_text(h)))
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
    return ReportMarkdown("\n").join(lines) if lines else markdown("_No randomized trial matches this setting._")


def findings_summary(evidence: Evidence, topics: list[str] | None = None, setting: str = "all",
                     include_single_arm: bool = True) -> ReportMarkdown:
    """Findings stated in words, each cited. A finding about named trials says which, from the data, and which
    of them this report does not show: its words may count them ('both phase III trials')."""
    f = evidence.findings if topics is None else evidence.findings[evidence.findings["topic"].isin(topics)]
    names = evidence.trials.set_index("trial_id")["trial_name"]
    shown = set(select_trials(evidence.trials, setting, include_single_arm)["trial_id"])
    lines = []
    for r in f.itertuples():
        about = str(r.trial_ids).split(";") if pd.notna(r.trial_ids) else []
        hidden = [names[t] for t in about if t not in shown]
        lines.append(markdown(
            "- {about}{statement} ({cite}){hidden}",
            about=f"{or_list([names[t] for t in about], 'and')}: " if about else "", statement=r.statement,
            cite=_cite(evidence, r._asdict()),
            hidden=f" Not among the trials this report shows: {or_list(hidden, 'and')}." if hidden else ""))
    return ReportMarkdown("\n").join(lines)


def resistance_summary(evidence: Evidence) -> ReportMarkdown:
    """The resistance measures, then every mechanism with a share of resistant patients, as their source states them."""
    measures = evidence.resistance_measures
    mechanisms = evidence.resistance_mechanisms.dropna(subset=["frequency_low_pct"])
    measured = "; ".join(
        f"{m.measure}: {percent(m.value) if m.unit == '%' else f'{m.value:g} {m.unit}'}"
        + (f" ({m.qualifier})" if pd.notna(m.qualifier) else "") for m in measures.itertuples())
    shares = "; ".join(f"{m.mechanism}" + (f" (such as {m.examples.replace('; ', ' and ')})"
                                           if pd.notna(m.examples) else "") + f", {m.frequency_as_stated}"
                       for m in mechanisms.itertuples())
    cite = _cite(evidence, *[row for _, row in measures.iterrows()], *[row for _, row in mechanisms.iterrows()])
    return markdown("{measured}. Share of resistant patients: {shares} ({cite}).", measured=measured, shares=shares,
                    cite=cite)


def relapse_summary(evidence: Evidence) -> ReportMarkdown:
    """Every relapse pattern whose frequency its source states, in the source's words."""
    p = evidence.relapse_patterns[evidence.relapse_patterns["frequency_as_stated"] != NOT_STATED]
    return markdown("How often each pattern of relapse occurs, as its source states it: {patterns} ({cite}).",
                    patterns="; ".join(f"{r.pattern}: {r.frequency_as_stated}" for r in p.itertuples()),
                    cite=_cite(evidence, *[row for _, row in p.iterrows()]))


def mechanisms_overview(evidence: Evidence) -> ReportMarkdown:
    """The mechanisms of resistance in the data, grouped by whether they depend on ALK signalling."""
    m = evidence.resistance_mechanisms
    groups = [markdown("- **{dependence}**: {mechanisms}", dependence=f"ALK dependence {dependence}"
                       if dependence == NOT_STATED else dependence, mechanisms="; ".join(group["mechanism"]))
              for dependence, group in m.groupby("alk_dependence", sort=False)]
    return markdown("Mechanisms of acquired resistance to crizotinib in this bundle ({cite}):\n\n{groups}",
                    cite=_cite(evidence, *[row for _, row in m.iterrows()]), groups=ReportMarkdown("\n").join(groups))


def patterns_explained(evidence: Evidence, aspect: str | None = None) -> ReportMarkdown:
    """Each relapse pattern (of one aspect, or all) that its source explains or says how to manage, in its words."""
    p = evidence.relapse_patterns
    p = p[(p["explanation"].notna() | p["management"].notna()) & ((aspect is None) | (p["aspect"] == aspect))]
    return ReportMarkdown("\n").join(
        markdown("- **{pattern}**{explanation}{management} ({cite})", pattern=r.pattern,
                 explanation=f": {r.explanation}" if pd.notna(r.explanation) else "",
                 management=f" Management: {r.management}" if pd.notna(r.management) else "",
                 cite=_cite(evidence, r._asdict()))
        for r in p.itertuples())


def approvals_summary(evidence: Evidence) -> ReportMarkdown:
    a = evidence.approvals.dropna(subset=["date"]).sort_values("date")
    parts = [f"{r.agency} {r.approval_type} ({r.setting}) on {r.date:%-d %B %Y}" for r in a.itertuples()]
    return markdown("Approvals with a stated date: {approvals} ({cite}).", approvals="; ".join(parts),
                    cite=_cite(evidence, *[row for _, row in a.iterrows()]))



def pooled_orr_intro(evidence: Evidence, setting: str = "all", include_single_arm: bool = True) -> ReportMarkdown:
    """Heading of the parameter-gated pooled section, and which crizotinib arms it pools, or why it pools none."""
    heading = "## Exploratory: pooled response rate of the crizotinib arms\n\n"
    arms = pooled_arms_named(pooled_arms(evidence, setting, include_single_arm))
    if not can_pool(evidence, setting, include_single_arm):
        return markdown(
            heading + "Nothing is pooled here: a pooled rate needs the crizotinib arms of {least} or more trials, and "
            "the trials this report shows (setting: {setting}; single-arm trials {single_arm}) give {arms}.",
            least=MIN_POOLED_STUDIES, setting=setting, arms=arms,
            single_arm="included" if include_single_arm else "left out")
    return markdown(
        heading + "Pooled with a random-effects model: {arms}, every trial this report shows (parameters `setting` and "
        "`include_single_arm`) that gives a crizotinib response rate with its N. Where the trials differ "
        "(the table's notes say how), the pooled rate describes the evidence rather than estimating one true "
        "rate, and the prediction interval shows how far a new trial's rate might lie from it; "
        "`pooled_interval=hartung-knapp` gives the Hartung–Knapp–Sidik–Jonkman interval on the pooled rate, which "
        "allows for the between-trial variance being estimated from few trials; "
        "`show_pooled_orr=false` leaves this section out.", arms=arms)


def cns_link(evidence: Evidence) -> ReportMarkdown:
    """The relapse patterns of a site (the brain) as the review explains them, to open the landscape's CNS section."""
    return patterns_explained(evidence, aspect="site")
