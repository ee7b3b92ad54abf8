"""Prose with numbers in it, written from the data so no figure is ever typed into a notebook."""

from __future__ import annotations

from .analysis import select_trials
from .citations import short_citation
from .data import Evidence
from .tables import percent


def _outcome(evidence: Evidence, trial_id: str, arm: str, endpoint: str) -> float | None:
    o = evidence.outcomes
    hit = o[(o.trial_id == trial_id) & (o.arm == arm) & (o.endpoint == endpoint) & (o.analysis == "primary")]
    return None if hit.empty else float(hit["value"].iloc[0])


def phase3_summary(evidence: Evidence, setting: str = "all") -> str:
    """One sentence a phase III trial: PFS and ORR against chemotherapy, cited."""
    lines = []
    trials = select_trials(evidence.trials, setting, include_single_arm=False)
    for t in trials.itertuples():
        pfs_c, pfs_x = (_outcome(evidence, t.trial_id, a, "PFS median") for a in ("crizotinib", "chemotherapy"))
        orr_c, orr_x = (_outcome(evidence, t.trial_id, a, "ORR") for a in ("crizotinib", "chemotherapy"))
        lines.append(
            f"- **{t.trial_name}** ({t.setting}, against {t.comparator}): median PFS {pfs_c:.1f} vs "
            f"{pfs_x:.1f} months; ORR {percent(orr_c)} vs {percent(orr_x)} "
            f"({short_citation(evidence.sources, t.source_id)})."
        )
    return "\n".join(lines) if lines else "_No phase III trial matches this setting._"


def findings_summary(evidence: Evidence, topics: list[str] | None = None) -> str:
    f = evidence.findings if topics is None else evidence.findings[evidence.findings["topic"].isin(topics)]
    return "\n".join(f"- {r.statement} ({short_citation(evidence.sources, r.source_id)})" for r in f.itertuples())


def resistance_summary(evidence: Evidence) -> str:
    m = evidence.resistance_measures.set_index("measure_id")
    mech = evidence.resistance_mechanisms.set_index("mechanism_id")
    dcr, ttr = m.loc["disease_control_rate"], m.loc["time_to_acquired_resistance"]
    mut = mech.loc["secondary_alk_mutation"]
    neither = mech.loc["neither_mutation_nor_gain"]
    cite = short_citation(evidence.sources, dcr["source_id"])
    return (
        f"Crizotinib first controls disease in {percent(dcr['value'])} of patients, yet acquired resistance follows "
        f"after a {ttr['qualifier']} of {ttr['value']:g} {ttr['unit']} of treatment. Secondary ALK "
        f"kinase-domain mutations (such as {mut['examples'].replace('; ', ' and ')}) explain "
        f"{mut['frequency_low_pct']:g}–{mut['frequency_high_pct']:g}% of cases; "
        f"{neither['frequency_as_stated']} have neither a mutation nor a copy-number gain ({cite})."
    )


def relapse_summary(evidence: Evidence) -> str:
    p = evidence.relapse_patterns.set_index("pattern_id")
    first, long_ = p.loc["within_first_year"], p.loc["prolonged_response"]
    cite = short_citation(evidence.sources, first["source_id"])
    return (
        f"{first['frequency_as_stated'].capitalize()} happen within {first['time_threshold']:g} "
        f"{'year' if first['time_threshold'] == 1 else first['time_unit']} of starting crizotinib, while "
        f"{long_['frequency_as_stated']} respond for over {long_['time_threshold']:g} {long_['time_unit']}; "
        f"progression involves multiple sites in the {p.loc['multiple_sites', 'frequency_as_stated']} ({cite})."
    )


def approvals_summary(evidence: Evidence) -> str:
    a = evidence.approvals.dropna(subset=["date"]).sort_values("date")
    parts = [f"{r.agency} {r.approval_type} ({r.setting}) on {r.date:%-d %B %Y}" for r in a.itertuples()]
    return "Approvals with a stated date: " + "; ".join(parts) + f" ({short_citation(evidence.sources, a['source_id'].iloc[0])})."



def pooled_orr_intro() -> str:
    """Heading and caveat of the parameter-gated pooled section (shown only with it)."""
    return (
        "## Exploratory: pooled response rate of the crizotinib arms\n\n"
        "Every crizotinib arm, whatever the `setting`, pooled with a random-effects model. The trials treated "
        "different lines of therapy, so the pooled rate describes the evidence rather than estimating one true "
        "rate; `show_pooled_orr=false` leaves this section out."
    )


def cns_link(evidence: Evidence) -> str:
    """The review's CNS-only relapse pattern, in its words from the data, to open the CNS section."""
    cns = evidence.relapse_patterns.set_index("pattern_id").loc["cns_only"]
    cite = short_citation(evidence.sources, cns["source_id"])
    return (
        f"The review describes **{cns['pattern']}** as a distinctive way crizotinib fails: {cns['explanation']} "
        f"Management: {cns['management']} ({cite}). The drugs below were designed to reach the brain; their "
        "trials measured it directly against crizotinib."
    )


def changes_since_last_run(changes_file: str) -> str:
    """The run's change summary (written by 'crizotinib-reports run' before this report is built)."""
    import json
    from pathlib import Path

    from .changes import ChangeSummary

    summary = ChangeSummary.from_json(json.loads(Path(changes_file).read_text(encoding="utf-8")))
    lines = [f"- {line}" for line in summary.lines()]
    note = ("Compared: the numbers behind every table of the section reports (their CSV files) in this run "
            "against the previous successful run.")
    return "\n".join(["## What changed since the last run", "", f"**{summary.headline[0].upper()}"
                      f"{summary.headline[1:]}.**", "", *lines, "", note])
