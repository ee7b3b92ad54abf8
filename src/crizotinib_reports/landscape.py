"""The landscape report: crizotinib as the comparator of the next-generation ALK inhibitors.

Frame functions first (numbers, tested against the CSV), then the tables and figures built
from them with the same helpers as every other report.
"""

from __future__ import annotations

import pandas as pd

from .citations import ATTRIBUTION_COLUMNS, credit_of, credit_text, credits_of
from .data import Evidence
from .figures import ReportFigure, _figure, _forest, _make
from .stats import CI_METHOD_LABELS, derived_count, proportion_interval
from .tables import (NOT_STATED, ReportTable, _table, hazard_ratio_text, interval_text, level_text, percent,
                     row_credits, rows_of)

NEW_DRUGS = ("alectinib", "brigatinib", "lorlatinib", "ensartinib")
ANALYSES = ("primary", "updated")
REFERENCE_TRIAL = "profile1014"  # crizotinib's own first-line trial in the review


def parse_drugs(drugs: str) -> tuple[str, ...]:
    """'all' or a comma-separated subset of NEW_DRUGS (validated by the parameter schema)."""
    if drugs.strip() == "all":
        return NEW_DRUGS
    return tuple(d.strip() for d in drugs.split(",") if d.strip())


def comparator_trials(evidence: Evidence, drugs: str = "all", comparator: str = "crizotinib") -> pd.DataFrame:
    """Landscape trials against `comparator`: newer drugs against crizotinib (for the drugs asked for),
    or crizotinib against chemotherapy (PROFILE 1029)."""
    trials = evidence.trials
    chosen = trials[(trials["role"] == "landscape") & (trials["comparator"] == comparator)]
    return chosen[chosen["drug"].isin(parse_drugs(drugs))] if comparator == "crizotinib" else chosen


def _pick(frame: pd.DataFrame, analysis: str) -> pd.DataFrame:
    """Per trial, arm and endpoint: the chosen analysis where it exists, else the primary one."""
    order = {"primary": 1, "updated": 2}
    order[analysis] = 0
    ranked = frame.assign(_rank=frame["analysis"].map(order)).sort_values("_rank", kind="stable")
    keys = [c for c in ("trial_id", "arm", "endpoint") if c in frame.columns]
    return ranked.drop_duplicates(keys).drop(columns="_rank")


def hazard_ratios_vs_crizotinib(evidence: Evidence, analysis: str = "primary", drugs: str = "all",
                                endpoint: str = "PFS", comparator: str = "crizotinib") -> pd.DataFrame:
    """The published hazard ratio of each trial against its comparator, at its published level."""
    trials = comparator_trials(evidence, drugs, comparator)
    hr = evidence.hazard_ratios[evidence.hazard_ratios["trial_id"].isin(trials["trial_id"])
                                & (evidence.hazard_ratios["endpoint"] == endpoint)]
    hr = _pick(hr, analysis).merge(trials[["trial_id", "trial_name", "drug"]], on="trial_id")
    order = {t: i for i, t in enumerate(trials["trial_id"])}
    return hr.sort_values("trial_id", key=lambda s: s.map(order)).reset_index(drop=True)


def outcome_pairs(evidence: Evidence, trial_ids: list[str], endpoints: list[str], analysis: str) -> pd.DataFrame:
    """One row a trial and endpoint: the newer drug's value beside crizotinib's (or chemotherapy's)."""
    outcomes = evidence.outcomes[evidence.outcomes["trial_id"].isin(trial_ids)
                                 & evidence.outcomes["endpoint"].isin(endpoints)]
    outcomes = _pick(outcomes, analysis)
    trials = evidence.trials.set_index("trial_id")
    rows = []
    for (trial_id, endpoint), group in outcomes.groupby(["trial_id", "endpoint"], sort=False):
        trial = trials.loc[trial_id]
        by_arm = group.set_index("arm")
        experimental, control = trial["drug"], trial["comparator"]
        if experimental not in by_arm.index or control not in by_arm.index:
            continue
        e, c = by_arm.loc[experimental], by_arm.loc[control]
        rows.append({"trial_id": trial_id, "trial_name": trial["trial_name"], "endpoint": endpoint,
                     "experimental_arm": experimental, "control_arm": control, "unit": e["unit"],
                     "experimental_value": e["value"], "control_value": c["value"],
                     "experimental_note": e["note"], "control_note": c["note"],
                     "experimental_n": e["denominator"], "control_n": c["denominator"],
                     "analysis": e["analysis"], **{c: e[c] for c in ATTRIBUTION_COLUMNS}})
    return pd.DataFrame(rows)


def _pair_credits(evidence: Evidence, pairs: pd.DataFrame) -> list:
    """The credits of both arms' rows behind each pair of outcome_pairs."""
    credits = []
    for p in pairs.itertuples():
        rows = rows_of(evidence.outcomes, [p.trial_id], p.analysis, endpoint=p.endpoint,
                       arm=[p.experimental_arm, p.control_arm])
        credits += row_credits(rows)
    return credits


def crizotinib_control_medians(evidence: Evidence, analysis: str = "primary") -> pd.DataFrame:
    """Crizotinib's median PFS in every first-line trial, against PROFILE 1014's."""
    first_line = evidence.trials[(evidence.trials["setting"] == "first-line")]
    pfs = evidence.outcomes[(evidence.outcomes["endpoint"] == "PFS median") & (evidence.outcomes["arm"] == "crizotinib")
                            & evidence.outcomes["trial_id"].isin(first_line["trial_id"])]
    pfs = _pick(pfs, analysis).dropna(subset=["value"])
    trials = first_line.set_index("trial_id")
    frame = pd.DataFrame({
        "trial_id": pfs["trial_id"], "trial_name": pfs["trial_id"].map(trials["trial_name"]),
        "crizotinib_role": pfs["trial_id"].map(lambda t: "experimental" if trials.loc[t, "drug"] == "crizotinib"
                                               else "comparator"),
        "analysis": pfs["analysis"], "median_pfs_months": pfs["value"].astype(float),
        **{c: pfs[c] for c in ATTRIBUTION_COLUMNS},
    }).reset_index(drop=True)
    reference = float(frame.loc[frame["trial_id"] == REFERENCE_TRIAL, "median_pfs_months"].iloc[0])
    frame["difference_from_profile1014"] = frame["median_pfs_months"] - reference
    return frame


# --- tables ------------------------------------------------------------------------------------------

def _median_text(value: float, note: object) -> str:
    return "not reached" if pd.isna(value) and note == "not reached" else (f"{value:.1f}" if pd.notna(value) else "—")


def _orr_text(value: float, n: object, level: float, method: str) -> str:
    if pd.isna(value):
        return "—"
    if pd.isna(n):
        return percent(value)
    interval = proportion_interval(derived_count(value, int(n)), int(n), level, method)
    return f"{percent(value)} ({interval_text(100 * interval.low, 100 * interval.high)})"


def landscape_table(evidence: Evidence, analysis: str = "primary", drugs: str = "all",
                    confidence_level: float = 0.95, comparator: str = "crizotinib",
                    ci_method: str = "exact") -> ReportTable:
    """Every first-line trial against crizotinib (or, for PROFILE 1029, of crizotinib against
    chemotherapy): N, PFS hazard ratio, medians, response, and which analysis each comes from."""
    trials = comparator_trials(evidence, drugs, comparator)
    hr = hazard_ratios_vs_crizotinib(evidence, analysis, drugs, comparator=comparator).set_index("trial_id")
    control = "crizotinib" if comparator == "crizotinib" else "chemo"
    new = "new" if comparator == "crizotinib" else "crizotinib"
    pairs = outcome_pairs(evidence, list(trials["trial_id"]), ["PFS median", "ORR"], analysis)
    pairs = pairs.set_index(["trial_id", "endpoint"]) if len(pairs) else pairs
    level = level_text(confidence_level)
    rows, sources = [], []
    for t in trials.itertuples():
        row = {"Trial (drug)": f"{t.trial_name} ({t.drug})",
               f"N ({new} / {control})": f"{t.patients_experimental} / {t.patients_control}"}
        analyses, cited = [], [credit_of(t._asdict())]
        if t.trial_id in hr.index:
            h = hr.loc[t.trial_id]
            row["PFS HR"] = hazard_ratio_text(h)
            analyses.append(h["analysis"])
            cited.append(credit_of(h))
        else:
            row["PFS HR"] = "—"
        for endpoint, label in (("PFS median", f"Median PFS, months ({new} / {control})"),
                                ("ORR", f"ORR ({new} / {control}), {level} CI")):
            key = (t.trial_id, endpoint)
            if len(pairs) and key in pairs.index:
                p = pairs.loc[key]
                analyses.append(p["analysis"])
                cited += row_credits(rows_of(evidence.outcomes, [t.trial_id], p["analysis"], endpoint=endpoint))
                if endpoint == "PFS median":
                    row[label] = (f"{_median_text(p['experimental_value'], p['experimental_note'])} / "
                                  f"{_median_text(p['control_value'], p['control_note'])}")
                else:
                    row[label] = (f"{_orr_text(p['experimental_value'], p['experimental_n'], confidence_level, ci_method)}"
                                  f" / {_orr_text(p['control_value'], p['control_n'], confidence_level, ci_method)}")
            else:
                row[label] = NOT_STATED
        row["Analysis"] = " + ".join(dict.fromkeys(analyses)) or "—"
        row["Source"] = "; ".join(dict.fromkeys(credit_text(evidence.sources, c) for c in cited))
        sources += cited
        rows.append(row)
    n = int(trials["patients_experimental"].sum() + trials["patients_control"].sum())
    title = ("First-line trials against crizotinib" if comparator == "crizotinib"
             else "Crizotinib against chemotherapy in East Asian patients (first line)")
    return _table(
        "landscape" if comparator == "crizotinib" else "crizotinib_vs_chemotherapy", title,
        f"Randomized patients: N={n} in {len(trials)} trial{'s' if len(trials) != 1 else ''}; {analysis} analysis "
        f"where published, otherwise the other (column Analysis)",
        pd.DataFrame(rows), evidence, sources,
        ["HR, hazard ratio (new drug against crizotinib; below 1 favours the new drug); PFS, progression-free "
         "survival; ORR, objective response rate; CI, confidence interval.",
         "Hazard ratios are as published, at the level each publication used" + "".join(
             f" ({r.trial_name}: {level_text(r.ci_level)})" for r in hr.reset_index().itertuples()
             if pd.notna(r.ci_level) and r.ci_level != 0.95) + ".",
         f"ORR intervals are recomputed ({level}, {CI_METHOD_LABELS[ci_method]}) on responders derived from the "
         "published percentage and arm size."],
        data=hazard_ratios_vs_crizotinib(evidence, analysis, drugs, comparator=comparator),
        trial_ids=list(trials["trial_id"]),
    )


def other_outcomes_table(evidence: Evidence, analysis: str = "primary", drugs: str = "all") -> ReportTable:
    """Landmark rates and overall survival, where the publications give them."""
    trials = comparator_trials(evidence, drugs)
    pairs = outcome_pairs(evidence, list(trials["trial_id"]),
                          ["12-month event-free survival", "12-month PFS", "5-year OS"], analysis)
    rows = [{"Trial": p.trial_name, "Drug": p.experimental_arm, "Outcome": p.endpoint, "Analysis": p.analysis,
             "New drug": percent(p.experimental_value), "Crizotinib": percent(p.control_value),
             "Source": credit_text(evidence.sources, credit_of(p._asdict()))} for p in pairs.itertuples()]
    os_hr = hazard_ratios_vs_crizotinib(evidence, analysis, drugs, endpoint="OS")
    for h in os_hr.itertuples():
        rows.append({"Trial": h.trial_name, "Drug": h.drug, "Outcome": "overall survival, hazard ratio",
                     "Analysis": h.analysis,
                     "New drug": f"HR {h.hazard_ratio:.2f} ({level_text(h.ci_level)} CI "
                                 f"{interval_text(h.ci_low, h.ci_high, 2)})",
                     "Crizotinib": "reference", "Source": credit_text(evidence.sources, credit_of(h._asdict()))})
    sources = _pair_credits(evidence, pairs) + credits_of(os_hr)
    return _table(
        "other_outcomes", "Landmark rates and overall survival against crizotinib",
        f"{len(rows)} results from the trials' publications (Kaplan-Meier estimates; no N, so no interval)",
        pd.DataFrame(rows), evidence, sources,
        ["OS, overall survival; PFS, progression-free survival; HR, hazard ratio (below 1 favours the new drug)."],
        data=pairs, trial_ids=list(pairs.get("trial_id", [])) + list(os_hr["trial_id"]),
    )


def comparator_consistency_table(evidence: Evidence, analysis: str = "primary") -> ReportTable:
    frame = crizotinib_control_medians(evidence, analysis)
    shown = pd.DataFrame({
        "Trial": frame["trial_name"],
        "Crizotinib was": frame["crizotinib_role"],
        "Analysis": frame["analysis"],
        "Median PFS on crizotinib, months": frame["median_pfs_months"].map(lambda v: f"{v:.1f}"),
        "Difference from PROFILE 1014, months": frame["difference_from_profile1014"].map(lambda v: f"{v:+.1f}"),
        "Source": [credit_text(evidence.sources, c) for c in credits_of(frame)],
    })
    spread = frame["median_pfs_months"]
    return _table(
        "crizotinib_medians", "How consistent is the comparator? Crizotinib's median PFS in first-line trials",
        f"{len(frame)} first-line crizotinib arms; median of medians {spread.median():.1f} months, "
        f"range {spread.min():.1f}–{spread.max():.1f}",
        shown, evidence, credits_of(frame),
        ["PFS, progression-free survival. Medians as published; trials differ in population (PROFILE 1029: East "
         "Asian patients), assessment and follow-up, so differences are descriptive."],
        data=frame, trial_ids=list(frame["trial_id"]),
    )


def cns_table(evidence: Evidence, analysis: str = "primary", drugs: str = "all") -> ReportTable:
    trials = comparator_trials(evidence, drugs)
    pairs = outcome_pairs(evidence, list(trials["trial_id"]), ["intracranial ORR", "CNS progression"], analysis)
    shown = pd.DataFrame({
        "Trial": pairs.get("trial_name", pd.Series(dtype=str)),
        "Drug": pairs.get("experimental_arm", pd.Series(dtype=str)),
        "Endpoint": pairs.get("endpoint", pd.Series(dtype=str)),
        "New drug": pairs.get("experimental_value", pd.Series(dtype=float)).map(percent),
        "Crizotinib": pairs.get("control_value", pd.Series(dtype=float)).map(percent),
        "Source": [credit_text(evidence.sources, credit_of(p._asdict())) for p in pairs.itertuples()],
    })
    return _table(
        "cns_outcomes", "The brain: intracranial response and CNS progression against crizotinib",
        f"{len(pairs)} results from {pairs['trial_id'].nunique() if len(pairs) else 0} trials; the publications' "
        "CNS populations (no N transcribed, so no interval)", shown, evidence,
        _pair_credits(evidence, pairs),
        ["CNS, central nervous system; intracranial ORR among patients with measurable brain metastases as each "
         "publication defines them; CNS progression as reported by ALEX."],
        data=pairs, trial_ids=list(pairs.get("trial_id", [])),
    )


# --- figures -----------------------------------------------------------------------------------------

def hazard_ratio_landscape_forest(evidence: Evidence, analysis: str = "primary", drugs: str = "all") -> ReportFigure:
    """PFS hazard ratios against crizotinib, log scale, each row with the level its publication used."""
    every = hazard_ratios_vs_crizotinib(evidence, analysis, drugs)
    hr = every.dropna(subset=["ci_low", "ci_high"])
    undrawn = every[every["ci_low"].isna()]
    labels = [f"{r.trial_name} ({r.drug}, {r.analysis})\nHR {r.hazard_ratio:.2f}, {level_text(r.ci_level)} CI "
              f"{r.ci_low:.2f}–{r.ci_high:.2f}" for r in hr.itertuples()]
    figure, ax = _figure(7.5, 0.7 * max(len(hr), 1) + 1.4)
    if len(hr):
        _forest(ax, labels, list(hr["hazard_ratio"]), list(hr["ci_low"]), list(hr["ci_high"]), 1.0, log_scale=True)
    ax.set_xlabel("PFS hazard ratio against crizotinib (log scale); < 1 favours the newer drug")
    alt = "Forest plot of PFS hazard ratios against crizotinib: " + "; ".join(
        f"{r.trial_name} {r.drug} HR {r.hazard_ratio:.2f} ({level_text(r.ci_level)} CI {r.ci_low:.2f} to "
        f"{r.ci_high:.2f})" for r in hr.itertuples()) + "; reference line at 1."
    caption = ("Progression-free survival, newer ALK inhibitors against crizotinib (first line); each interval at "
               "the level its publication reports.")
    if len(undrawn):
        caption += " Not drawn (no interval transcribed): " + "; ".join(
            f"{r.trial_name} {r.analysis} HR {r.hazard_ratio:.2f}" for r in undrawn.itertuples()) + "."
    return _make("landscape_forest", figure, caption, alt, evidence, credits_of(every), list(every["trial_id"]))


def crizotinib_medians_figure(evidence: Evidence, analysis: str = "primary") -> ReportFigure:
    frame = crizotinib_control_medians(evidence, analysis).sort_values("median_pfs_months")
    reference = float(frame.loc[frame["trial_id"] == REFERENCE_TRIAL, "median_pfs_months"].iloc[0])
    figure, ax = _figure(7.5, 0.45 * len(frame) + 1.3)
    colours = frame["crizotinib_role"].map({"experimental": "#1b6f9a", "comparator": "#c2653a"})
    ax.scatter(frame["median_pfs_months"], range(len(frame)), c=list(colours), s=70, zorder=3)
    for position, row in enumerate(frame.itertuples()):
        ax.annotate(f"{row.median_pfs_months:.1f}", (row.median_pfs_months, position), xytext=(7, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.axvline(reference, color="#444444", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(frame)), [f"{n} ({r})" for n, r in zip(frame["trial_name"], frame["crizotinib_role"])])
    ax.set_xlim(0, max(frame["median_pfs_months"]) * 1.25)
    ax.set_xlabel(f"Median PFS on crizotinib, months (dashed: PROFILE 1014, {reference:.1f})")
    alt = "Dot plot of crizotinib's median PFS in first-line trials: " + "; ".join(
        f"{r.trial_name} {r.median_pfs_months:.1f} months" for r in frame.itertuples()) + \
        f"; reference line at PROFILE 1014's {reference:.1f} months."
    return _make("crizotinib_medians", figure,
                 "Crizotinib's median progression-free survival across first-line trials, as experimental arm "
                 "(blue) and as comparator (orange).", alt, evidence, credits_of(frame), list(frame["trial_id"]))


def cns_figure(evidence: Evidence, analysis: str = "primary", drugs: str = "all") -> ReportFigure:
    trials = comparator_trials(evidence, drugs)
    pairs = outcome_pairs(evidence, list(trials["trial_id"]), ["intracranial ORR", "CNS progression"], analysis)
    figure, ax = _figure(7.5, 0.5 * max(len(pairs), 1) + 1.4)
    labels = [f"{r.trial_name}: {r.endpoint}" for r in pairs.itertuples()]
    for position, row in enumerate(pairs.itertuples()):
        ax.plot([row.control_value, row.experimental_value], [position, position], color="#999999", zorder=1)
        ax.scatter([row.control_value], [position], color="#c2653a", s=60, zorder=2,
                   label="crizotinib" if position == 0 else None)
        ax.scatter([row.experimental_value], [position], color="#1b6f9a", s=60, zorder=2,
                   label="newer drug" if position == 0 else None)
    ax.set_yticks(range(len(pairs)), labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of patients")
    if len(pairs):
        ax.legend(loc="lower right", fontsize=8)
    alt = "Paired dot plot of CNS outcomes, crizotinib against the newer drug: " + "; ".join(
        f"{r.trial_name} {r.endpoint} {r.control_value:g}% vs {r.experimental_value:g}%" for r in pairs.itertuples()) + "."
    return _make("cns_outcomes", figure,
                 "Intracranial response (higher is better) and CNS progression (lower is better), crizotinib "
                 "against the newer drug.", alt, evidence, _pair_credits(evidence, pairs),
                 list(pairs.get("trial_id", [])))


def all_analyses_table(evidence: Evidence, drugs: str = "all") -> ReportTable:
    """Every published analysis side by side, whichever one the report's parameter chose above."""
    trials = comparator_trials(evidence, drugs)
    rows, sources = [], []
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
            row = {"Trial (drug)": f"{t.trial_name} ({t.drug})", "Analysis": analysis, "PFS HR": "—",
                   "Median PFS, months (new / crizotinib)": "—", "Source": ""}
            cited = []
            if not h.empty:
                h = h.iloc[0]
                row["PFS HR"] = hazard_ratio_text(h)
                cited.append(credit_of(h))
            if t.drug in m.index and "crizotinib" in m.index:
                row["Median PFS, months (new / crizotinib)"] = (
                    f"{_median_text(m.loc[t.drug, 'value'], m.loc[t.drug, 'note'])} / "
                    f"{_median_text(m.loc['crizotinib', 'value'], m.loc['crizotinib', 'note'])}")
                cited += [credit_of(m.loc[t.drug]), credit_of(m.loc["crizotinib"])]
            row["Source"] = "; ".join(dict.fromkeys(credit_text(evidence.sources, c) for c in cited))
            sources += cited
            rows.append(row)
    return _table("all_analyses", "Every published analysis of progression-free survival against crizotinib",
                  f"{len(rows)} analyses of {len(trials)} trials", pd.DataFrame(rows), evidence, sources,
                  ["HR, hazard ratio (new drug against crizotinib), at the level each publication reports; "
                   "PFS, progression-free survival. Updated analyses have longer follow-up."],
                  trial_ids=list(trials["trial_id"]))
