"""Prose with numbers in it, written from the data so no figure is ever typed into a notebook.

Each function returns a ReportMarkdown: its own template, with every value from the data escaped
(`markdown`), so a trial name holding `[x](javascript:...)` or `$$` is shown as those characters.
"""

from __future__ import annotations

from .analysis import select_trials
from .citations import credit_of, credit_text
from .data import Evidence
from .plain_text import ReportMarkdown, markdown
from .tables import percent


def _outcome(evidence: Evidence, trial_id: str, arm: str, endpoint: str) -> float | None:
    o = evidence.outcomes
    hit = o[(o.trial_id == trial_id) & (o.arm == arm) & (o.endpoint == endpoint) & (o.analysis == "primary")]
    return None if hit.empty else float(hit["value"].iloc[0])


def _cite(evidence: Evidence, *rows) -> str:
    """The credits of the data rows a sentence states, each once: where read, primary publication, level."""
    return "; ".join(dict.fromkeys(credit_text(evidence.sources, credit_of(row)) for row in rows))


def phase3_summary(evidence: Evidence, setting: str = "all") -> ReportMarkdown:
    """One sentence a phase III trial: PFS and ORR against chemotherapy, cited."""
    lines = []
    trials = select_trials(evidence.trials, setting, include_single_arm=False)
    for t in trials.itertuples():
        pfs_c, pfs_x = (_outcome(evidence, t.trial_id, a, "PFS median") for a in ("crizotinib", "chemotherapy"))
        orr_c, orr_x = (_outcome(evidence, t.trial_id, a, "ORR") for a in ("crizotinib", "chemotherapy"))
        lines.append(markdown(
            "- **{trial}** ({setting}, against {comparator}): median PFS {pfs_c:.1f} vs {pfs_x:.1f} months; "
            "ORR {orr_c} vs {orr_x} ({cite}).",
            trial=t.trial_name, setting=t.setting, comparator=t.comparator, pfs_c=pfs_c, pfs_x=pfs_x,
            orr_c=percent(orr_c), orr_x=percent(orr_x),
            cite=_cite(evidence, *[r for _, r in evidence.outcomes[(evidence.outcomes.trial_id == t.trial_id)
                                                                & (evidence.outcomes.analysis == "primary")
                                                                & evidence.outcomes.endpoint.isin(
                                                                    ["PFS median", "ORR"])].iterrows()])))
    return ReportMarkdown("\n").join(lines) if lines else markdown("_No phase III trial matches this setting._")


def findings_summary(evidence: Evidence, topics: list[str] | None = None) -> ReportMarkdown:
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
        "rate; `show_pooled_orr=false` leaves this section out."
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


def changes_since_last_run(changes_file: str) -> ReportMarkdown:
    """The run's change summary (written by 'crizotinib-reports run' before this report is built)."""
    import json

    from .changes import ChangeSummary
    from .input_files import DATA_FILE_LIMIT, read_input_text

    text = read_input_text(changes_file, limit=DATA_FILE_LIMIT, what="change summary (changes_file)")
    summary = ChangeSummary.from_json(json.loads(text))
    lines = ReportMarkdown("\n").join(markdown("- {line}", line=line) for line in summary.lines())
    return markdown(
        "## What changed since the last run\n\n**{headline}.**\n\n{lines}\n\n"
        "Compared with the previous successful run: first the data files, row by row, then the numbers "
        "behind the tables of the section reports (their CSV files); this overview's own tables restate "
        "those numbers and are not compared.",
        headline=summary.headline[0].upper() + summary.headline[1:], lines=lines)
