"""Report tables: pure functions from the evidence to titled, footnoted, sourced tables.

Each builder returns a ReportTable: the numbers as a DataFrame (also written as CSV) and
what a clinical table needs around them (title, population, footnotes, source line).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from great_tables import GT

from .citations import full_citation, short_citation, source_line
from .data import Evidence
from .stats import CI_METHOD_LABELS, derived_count, proportion_interval

NOT_STATED = "not stated"


@dataclass(frozen=True)
class ReportTable:
    name: str
    title: str
    population: str
    frame: pd.DataFrame
    source_ids: tuple[str, ...]
    source_text: str
    footnotes: tuple[str, ...] = ()
    spanners: dict[str, list[str]] = field(default_factory=dict)

    def to_gt(self) -> GT:
        table = GT(self.frame).tab_header(title=self.title, subtitle=self.population)
        for label, columns in self.spanners.items():
            table = table.tab_spanner(label=label, columns=columns)
        for note in self.footnotes:
            table = table.tab_source_note(note)
        return table.tab_source_note(self.source_text)

    def _repr_html_(self) -> str:
        return self.to_gt().as_raw_html()


def percent(value: float) -> str:
    return f"{value:g}%"


def _table(name: str, title: str, population: str, frame: pd.DataFrame, evidence: Evidence,
           source_ids: list[str], footnotes: list[str] = (), spanners: dict | None = None) -> ReportTable:
    return ReportTable(
        name=name, title=title, population=population, frame=frame.reset_index(drop=True),
        source_ids=tuple(dict.fromkeys(source_ids)), source_text=source_line(evidence.sources, source_ids),
        footnotes=tuple(footnotes), spanners=spanners or {},
    )


def select_trials(trials: pd.DataFrame, setting: str = "all", include_single_arm: bool = True) -> pd.DataFrame:
    """Trials a reader asked for: phase III by line of therapy, single-arm trials on request."""
    randomized = trials["design"] == "randomized"
    keep = randomized & ((setting == "all") | (trials["setting"] == setting))
    if include_single_arm:
        keep |= ~randomized
    return trials[keep]


def response_rates(evidence: Evidence, confidence_level: float = 0.95, ci_method: str = "exact",
                   trial_ids: list[str] | None = None) -> pd.DataFrame:
    """ORR per trial and arm; where the denominator is known, the derived count and an interval."""
    orr = evidence.outcomes[evidence.outcomes["endpoint"] == "ORR"]
    if trial_ids is not None:
        orr = orr[orr["trial_id"].isin(trial_ids)]
    rows = []
    for row in orr.itertuples(index=False):
        record = {"trial_id": row.trial_id, "arm": row.arm, "orr_pct": float(row.value),
                  "denominator": row.denominator, "responders_derived": pd.NA,
                  "ci_low_pct": float("nan"), "ci_high_pct": float("nan"), "source_id": row.source_id}
        if pd.notna(row.denominator):
            count = derived_count(row.value, int(row.denominator))
            interval = proportion_interval(count, int(row.denominator), confidence_level, ci_method)
            record.update(responders_derived=count, ci_low_pct=100 * interval.low, ci_high_pct=100 * interval.high)
        rows.append(record)
    frame = pd.DataFrame(rows)
    names = evidence.trials.set_index("trial_id")["trial_name"]
    frame.insert(1, "trial_name", frame["trial_id"].map(names))
    return frame


def efficacy_table(evidence: Evidence, setting: str = "all", include_single_arm: bool = True,
                   confidence_level: float = 0.95, ci_method: str = "exact") -> ReportTable:
    """One row a trial: design, N, ORR with its interval, and median PFS, by arm."""
    trials = select_trials(evidence.trials, setting, include_single_arm)
    outcomes = evidence.outcomes[evidence.outcomes["trial_id"].isin(trials["trial_id"])]
    rates = response_rates(evidence, confidence_level, ci_method, list(trials["trial_id"])).set_index(["trial_id", "arm"])
    level = f"{confidence_level:.0%}" if confidence_level * 100 == round(confidence_level * 100) else f"{confidence_level:.1%}"

    def value(trial_id: str, arm: str, endpoint: str) -> str:
        hit = outcomes[(outcomes.trial_id == trial_id) & (outcomes.arm == arm) & (outcomes.endpoint == endpoint)]
        if hit.empty:
            return "—"
        v = float(hit["value"].iloc[0])
        return percent(v) if endpoint == "ORR" else f"{v:.1f}"

    rows = []
    for trial in trials.itertuples(index=False):
        rate = rates.loc[(trial.trial_id, "crizotinib")] if (trial.trial_id, "crizotinib") in rates.index else None
        has_interval = rate is not None and pd.notna(rate["responders_derived"])
        rows.append({
            "Trial": trial.trial_name,
            "Phase": trial.phase,
            "Setting": trial.setting,
            "Comparator": "—" if trial.comparator == "none" else trial.comparator,
            "N evaluated": str(trial.patients_evaluated) if pd.notna(trial.patients_evaluated) else NOT_STATED,
            "ORR, crizotinib": value(trial.trial_id, "crizotinib", "ORR"),
            f"{level} CI": (f"{rate['ci_low_pct']:.1f}–{rate['ci_high_pct']:.1f}%" if has_interval else "n/a"),
            "Responders (derived)": (f"{int(rate['responders_derived'])} of {int(rate['denominator'])}"
                                     if has_interval else "n/a"),
            "ORR, comparator": value(trial.trial_id, "chemotherapy", "ORR"),
            "PFS, crizotinib": value(trial.trial_id, "crizotinib", "PFS median"),
            "PFS, comparator": value(trial.trial_id, "chemotherapy", "PFS median"),
        })
    frame = pd.DataFrame(rows)
    n_text = ", ".join(f"{t.trial_name} n={t.patients_evaluated}" for t in trials.itertuples()
                       if pd.notna(t.patients_evaluated))
    population = "Patients evaluated: " + (n_text or "none with a stated N") + (
        "; phase III: N not stated in the review" if (trials["design"] == "randomized").any() else "")
    footnotes = [
        "ORR, objective response rate; PFS, median progression-free survival in months; CI, confidence interval; "
        "n/a, not applicable.",
        f"Responders are derived, not reported: the published percentage times the stated denominator, rounded. "
        f"The {level} CI is {CI_METHOD_LABELS[ci_method]} on that derived count.",
        "No interval is computed where the review gives no denominator (the phase III trials).",
    ]
    return _table("efficacy", "Efficacy of crizotinib by trial", population, frame, evidence,
                  list(trials["source_id"]) + list(outcomes["source_id"]), footnotes,
                  spanners={"Objective response rate": ["ORR, crizotinib", f"{level} CI", "Responders (derived)",
                                                        "ORR, comparator"],
                            "Median PFS, months": ["PFS, crizotinib", "PFS, comparator"]})


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
        "Source": approvals["source_id"].map(lambda s: short_citation(evidence.sources, s)),
    })
    return _table("approvals", "Regulatory approvals of crizotinib for ALK-positive NSCLC",
                  f"{len(frame)} approvals stated in the review", frame, evidence, list(approvals["source_id"]),
                  ["FDA, US Food and Drug Administration; EMA, European Medicines Agency. "
                   "Dates are as the review gives them (YYYY-MM-DD); the review gives no date for the EMA "
                   "second-line approval."])


def key_numbers_table(evidence: Evidence) -> ReportTable:
    """The headline figures of every section, each with its own source."""
    rows = []
    names = evidence.trials.set_index("trial_id")["trial_name"]
    for o in evidence.outcomes.itertuples():
        shown = percent(o.value) if o.unit == "%" else f"{o.value:.1f} months"
        context = f"{names[o.trial_id]}, {o.arm}"
        if pd.notna(o.denominator):
            context += f", n={o.denominator}"
        rows.append(("Clinical activity", o.endpoint, shown, context, o.source_id))
    for a in evidence.approvals.dropna(subset=["date"]).itertuples():
        rows.append(("Approvals", f"{a.agency} {a.approval_type}", a.date.strftime("%Y-%m-%d"), a.setting, a.source_id))
    for p in evidence.relapse_patterns.itertuples():
        rows.append(("Clinical relapses", p.pattern, p.frequency_as_stated, p.aspect, p.source_id))
    for m in evidence.resistance_measures.itertuples():
        shown = percent(m.value) if m.unit == "%" else f"{m.value:g} {m.unit}"
        rows.append(("Resistance", m.measure, shown, m.qualifier if pd.notna(m.qualifier) else "", m.source_id))
    for m in evidence.resistance_mechanisms.itertuples():
        rows.append(("Resistance", m.mechanism, m.frequency_as_stated, m.alk_dependence, m.source_id))
    frame = pd.DataFrame(rows, columns=["Section", "Measure", "Value", "Context", "source_id"])
    frame["Source"] = frame.pop("source_id").map(lambda s: short_citation(evidence.sources, s))
    return _table("key_numbers", "Key numbers", "All figures stated in the review, by section", frame, evidence,
                  [r[4] for r in rows],
                  ["ORR, objective response rate; PFS median, median progression-free survival; "
                   "n, patients evaluated."])


def relapse_table(evidence: Evidence) -> ReportTable:
    patterns = evidence.relapse_patterns

    def when(row: pd.Series) -> str:
        if pd.isna(row["time_threshold"]):
            return "—"
        unit = row["time_unit"].rstrip("s") if row["time_threshold"] == 1 else row["time_unit"]
        return f"{row['time_threshold']:g} {unit}"

    frame = pd.DataFrame({
        "Aspect": patterns["aspect"],
        "Pattern": patterns["pattern"],
        "Frequency (as stated)": patterns["frequency_as_stated"],
        "Time": patterns.apply(when, axis=1),
        "Why": patterns["explanation"].fillna("—"),
        "Management": patterns["management"].fillna("—"),
        "Source": patterns["source_id"].map(lambda s: short_citation(evidence.sources, s)),
    })
    return _table("relapse_patterns", "Patterns of clinical relapse on crizotinib",
                  "Patients with ALK+ NSCLC relapsing on crizotinib (the review gives no N)", frame, evidence,
                  list(patterns["source_id"]),
                  ["CNS, central nervous system. Frequencies are the review's own words; it gives no counts."])


def resistance_measures_table(evidence: Evidence) -> ReportTable:
    m = evidence.resistance_measures
    frame = pd.DataFrame({
        "Measure": m["measure"],
        "Value": [percent(v) if u == "%" else f"{v:g} {u}" for v, u in zip(m["value"], m["unit"])],
        "Statistic": m["qualifier"].fillna("—"),
        "Source": m["source_id"].map(lambda s: short_citation(evidence.sources, s)),
    })
    return _table("resistance_measures", "Response and time to resistance on crizotinib",
                  "Patients treated with crizotinib (the review gives no N, so no interval)", frame, evidence,
                  list(m["source_id"]), ["Disease control rate: share of patients whose disease responds or is stable."])


def mechanisms_table(evidence: Evidence, include_unquantified: bool = True) -> ReportTable:
    m = evidence.resistance_mechanisms
    if not include_unquantified:
        m = m[m["frequency_low_pct"].notna()]

    def share(row: pd.Series) -> str:
        if pd.isna(row["frequency_low_pct"]):
            return NOT_STATED
        low, high = row["frequency_low_pct"], row["frequency_high_pct"]
        if low != high:
            return f"{low:g}–{high:g}%"
        return f"{low:g}% ({row['frequency_as_stated']})"

    frame = pd.DataFrame({
        "ALK dependence": m["alk_dependence"],
        "Mechanism": m["mechanism"],
        "Examples": m["examples"].fillna("—"),
        "Effect": m["effect"],
        "Share of resistant patients": m.apply(share, axis=1),
        "Source": m["source_id"].map(lambda s: short_citation(evidence.sources, s)),
    })
    return _table("resistance_mechanisms", "Mechanisms of acquired resistance to crizotinib",
                  "Patients with acquired resistance (the review gives no N, so no interval)", frame, evidence,
                  list(m["source_id"]),
                  ["EMT, epithelial–mesenchymal transition; EGFR, epidermal growth factor receptor.",
                   "'Approximately two-thirds' is shown as 66.7% (two thirds, derived); ranges are as published."])


def references_table(evidence: Evidence, source_ids: list[str] | None = None) -> ReportTable:
    """Full references, for the sources a report used (or all of them)."""
    sources = evidence.sources
    if source_ids is not None:
        wanted = set(source_ids) | set(sources.loc[sources["ref_number"].isna(), "source_id"])  # + the review
        sources = sources[sources["source_id"].isin(wanted)]
    frame = pd.DataFrame({
        "Ref.": sources["ref_number"].map(lambda n: str(int(n)) if pd.notna(n) else "review"),
        "Label": sources["source_id"].map(lambda s: short_citation(evidence.sources, s)),
        "Reference": sources.apply(full_citation, axis=1),
        "Note": sources["note"].fillna(""),
    })
    return _table("references", "References", f"{len(frame)} sources", frame, evidence, list(sources["source_id"]),
                  ["Ref. is the number the review gives each reference; every figure in this report carries one."])
