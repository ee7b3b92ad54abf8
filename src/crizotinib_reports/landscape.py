"""The landscape report: crizotinib as the comparator of the next-generation ALK inhibitors.

Benefit never stands alone here. Each trial shows its population and doses, each hazard ratio its
assessor and analysis, and every overall-survival result and every harm the bundle holds for these
trials sits beside the progression-free survival results. Everything a table says about a trial,
down to its footnotes and title, is written from the data.

Frame functions first (numbers, tested against the CSV), then the tables and figures built
from them with the same helpers as every other report.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import pandas as pd

from .citations import ATTRIBUTION_COLUMNS, Credit, credit_of, credit_text, credits_of, marks
from .data import Evidence
from .figures import ReportFigure, _figure, _forest, _make
from .stats import CI_METHOD_LABELS, derived_count, proportion_interval
from .tables import (EVIDENCE_COLUMN, ReportTable, _table, hazard_ratio_text, interval_text, level_text, percent,
                     row_credits, rows_of)

ANALYSES = ("primary", "updated")
#: What a cell says when the bundle holds no verified figure for it (the publication may well report one).
NOT_IN_BUNDLE = "not in this bundle"
CROSSOVER = "crossover"
OS_ENDPOINTS = r"\bOS\b"  # overall-survival endpoints of outcomes.csv: OS median, 1-year OS, 5-year OS, ...
LANDMARK_PFS_ENDPOINTS = r"^\d+-(?:month|year) (?:PFS|event-free survival)$"  # 12-month PFS, 5-year PFS, ...


# --- which trials --------------------------------------------------------------------------------------

def newer_drugs(evidence: Evidence) -> tuple[str, ...]:
    """Every drug the data test against crizotinib in the landscape trials, in the order of trials.csv."""
    trials = evidence.trials
    against = trials[(trials["role"] == "landscape") & (trials["comparator"] == "crizotinib")]
    return tuple(dict.fromkeys(against["drug"]))


def parse_drugs(drugs: str, evidence: Evidence) -> tuple[str, ...]:
    """'all' (every newer drug in the data) or a comma-separated subset (validated by the parameter schema)."""
    if drugs.strip() == "all":
        return newer_drugs(evidence)
    return tuple(d.strip() for d in drugs.split(",") if d.strip())


def comparator_trials(evidence: Evidence, drugs: str = "all", comparator: str = "crizotinib") -> pd.DataFrame:
    """Landscape trials against `comparator`: newer drugs against crizotinib (for the drugs asked for),
    or crizotinib against another comparator (comparator='chemotherapy')."""
    trials = evidence.trials
    chosen = trials[(trials["role"] == "landscape") & (trials["comparator"] == comparator)]
    return chosen[chosen["drug"].isin(parse_drugs(drugs, evidence))] if comparator == "crizotinib" else chosen


def landscape_trials(evidence: Evidence, drugs: str = "all") -> pd.DataFrame:
    """The landscape trials a report shows: the newer drugs asked for, and crizotinib's own landscape trials
    (against another comparator), which the `drugs` parameter does not select."""
    trials = evidence.trials
    landscape = trials[trials["role"] == "landscape"]
    newer = landscape["comparator"] == "crizotinib"
    return landscape[~newer | landscape["drug"].isin(parse_drugs(drugs, evidence))]


def reference_trial(evidence: Evidence) -> pd.Series:
    """Crizotinib's own first-line trial in the review, against which its comparator arms are set."""
    trials = evidence.trials
    own = trials[(trials["role"] == "development") & (trials["setting"] == "first-line")
                 & (trials["drug"] == "crizotinib")]
    return own.iloc[0]


def _trial(evidence: Evidence, trial_id: str) -> pd.Series:
    return evidence.trials.set_index("trial_id").loc[trial_id]


def _or_list(items: Iterable[str], last: str = "or") -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return items[0] if items else "none"
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def trial_group(trial: pd.Series) -> str:
    """A trial's row-group heading: its comparison, population and doses, so no row is read without them."""
    doses = trial["doses"] if pd.notna(trial["doses"]) else f"doses {NOT_IN_BUNDLE}"
    return f"{trial['trial_name']}: {trial['drug']} against {trial['comparator']} · {trial['population']} · {doses}"


def analysis_name(row: pd.Series | dict) -> str:
    """An analysis as its publication labels it, else 'primary analysis' / 'updated analysis'."""
    label = row.get("analysis_label")
    return str(label) if label is not None and pd.notna(label) else f"{row.get('analysis')} analysis"


# --- frames --------------------------------------------------------------------------------------------

def _pick(frame: pd.DataFrame, analysis: str) -> pd.DataFrame:
    """Per trial, arm and endpoint: the chosen analysis where it exists, else the primary one."""
    order = {"primary": 1, "updated": 2}
    order[analysis] = 0
    ranked = frame.assign(_rank=frame["analysis"].map(order)).sort_values("_rank", kind="stable")
    keys = [c for c in ("trial_id", "arm", "endpoint") if c in frame.columns]
    return ranked.drop_duplicates(keys).drop(columns="_rank")


def hazard_ratios_vs_crizotinib(evidence: Evidence, analysis: str = "primary", drugs: str = "all",
                                endpoint: str = "PFS", comparator: str = "crizotinib") -> pd.DataFrame:
    """The published, unadjusted hazard ratio of each trial against its comparator, at its published level."""
    trials = comparator_trials(evidence, drugs, comparator)
    hr = evidence.hazard_ratios[evidence.hazard_ratios["trial_id"].isin(trials["trial_id"])
                                & (evidence.hazard_ratios["endpoint"] == endpoint)
                                & evidence.hazard_ratios["adjustment"].isna()]
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
                     "analysis": e["analysis"], "analysis_label": e["analysis_label"], "assessor": e["assessor"],
                     **{c: e[c] for c in ATTRIBUTION_COLUMNS}})
    return pd.DataFrame(rows)


def _pair_rows(evidence: Evidence, pair) -> pd.DataFrame:
    """Both arms' data rows behind one pair of outcome_pairs."""
    return rows_of(evidence.outcomes, [pair.trial_id], pair.analysis, endpoint=pair.endpoint,
                   arm=[pair.experimental_arm, pair.control_arm])


def _pair_credits(evidence: Evidence, pairs: pd.DataFrame) -> list[Credit]:
    """The credits of both arms' rows behind each pair of outcome_pairs."""
    return [c for p in pairs.itertuples() for c in row_credits(_pair_rows(evidence, p))]


def crizotinib_control_medians(evidence: Evidence, analysis: str = "primary") -> pd.DataFrame:
    """Crizotinib's median PFS in every first-line trial of the data, against its own first-line trial's."""
    first_line = evidence.trials[(evidence.trials["setting"] == "first-line")]
    pfs = evidence.outcomes[(evidence.outcomes["endpoint"] == "PFS median") & (evidence.outcomes["arm"] == "crizotinib")
                            & evidence.outcomes["trial_id"].isin(first_line["trial_id"])]
    pfs = _pick(pfs, analysis).dropna(subset=["value"])
    trials = first_line.set_index("trial_id")
    frame = pd.DataFrame({
        "trial_id": pfs["trial_id"], "trial_name": pfs["trial_id"].map(trials["trial_name"]),
        "population": pfs["trial_id"].map(trials["population"]),
        "crizotinib_role": pfs["trial_id"].map(lambda t: "experimental" if trials.loc[t, "drug"] == "crizotinib"
                                               else "comparator"),
        "analysis": pfs["analysis"], "analysis_label": pfs["analysis_label"], "assessor": pfs["assessor"],
        "median_pfs_months": pfs["value"].astype(float),
        **{c: pfs[c] for c in ATTRIBUTION_COLUMNS},
    }).reset_index(drop=True)
    reference = reference_trial(evidence)
    frame["reference_trial_id"] = reference["trial_id"]
    reference_median = float(frame.loc[frame["trial_id"] == reference["trial_id"], "median_pfs_months"].iloc[0])
    frame["difference_from_reference"] = frame["median_pfs_months"] - reference_median
    return frame


def survival_rows(evidence: Evidence, trial_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every overall-survival result of these trials in the data, whatever the analysis: the OS hazard ratios
    (adjusted ones too), and the OS medians, landmark rates and crossover of outcomes.csv."""
    hr = evidence.hazard_ratios
    hr = hr[hr["trial_id"].isin(trial_ids) & (hr["endpoint"] == "OS")]
    outcomes = evidence.outcomes
    outcomes = outcomes[outcomes["trial_id"].isin(trial_ids)
                        & (outcomes["endpoint"].str.contains(OS_ENDPOINTS) | (outcomes["endpoint"] == CROSSOVER))]
    return hr, outcomes


def safety_rows(evidence: Evidence, trial_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every harm of these trials in the data: adverse_events rows, and safety findings naming one of them."""
    events = evidence.adverse_events[evidence.adverse_events["trial_id"].isin(trial_ids)]
    findings = evidence.findings[evidence.findings["topic"] == "safety"]
    named = findings["trial_ids"].fillna("").map(lambda ids: bool(set(ids.split(";")) & set(trial_ids)))
    return events, findings[named]


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


def harms_summary(items: list[dict]) -> str:
    """A trial's harms in one cell: comparisons in full, figures of one arm only counted, or none in the bundle."""
    if not items:
        return "no verified safety figure in this bundle"
    both = [i["result"].rstrip(".") if i["kind"] == "safety finding" else f"{i['what']}: {i['result']}"
            for i in items if not i["missing_arms"]]
    one_arm = [i for i in items if i["missing_arms"]]
    parts = both
    if one_arm:
        arms = _or_list([arm for i in one_arm for arm in i["arms"]], "and")
        parts.append(f"{arms}-arm figures only ({len(one_arm)} events; safety table)")
    return "; ".join(parts)


# --- text shared by the tables -------------------------------------------------------------------------

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
            notes.append(f"HR, hazard ratio of the newer drug ({_or_list(experimental)}) against {control}; "
                         "below 1 favours the newer drug.")
        else:
            drug = _or_list(experimental)
            notes.append(f"HR, hazard ratio of {drug} against {control}; below 1 favours {drug}.")
    return notes


def _levels_footnote(hr: pd.DataFrame, names: pd.Series) -> str:
    unusual = [f"{names[r.trial_id]} {r.endpoint}, {analysis_name(r._asdict())}: {level_text(r.ci_level)}"
               for r in hr.itertuples() if pd.notna(r.ci_level) and r.ci_level != 0.95]
    return ("Hazard ratios are as published, at the level each publication used"
            + (f" ({'; '.join(unusual)})" if unusual else "") + ".")


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


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


def _arm_labels(trials: pd.DataFrame, comparator: str) -> tuple[str, str]:
    """Column labels for the two arms: 'newer drug' / 'crizotinib', or the drug / its comparator."""
    if comparator == "crizotinib":
        return "newer drug", "crizotinib"
    return _or_list(trials["drug"]), comparator


# --- tables --------------------------------------------------------------------------------------------

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
    rows, data, sources = [], [], []
    for t in trials.itertuples():
        row = {"Trial": trial_group(pd.Series(t._asdict())),
               f"N ({new} / {control})": f"{t.patients_experimental} / {t.patients_control}"}
        numbers = {"trial_id": t.trial_id, "trial_name": t.trial_name, "drug": t.drug, "comparator": t.comparator,
                   "population": t.population, "doses": t.doses, "patients_experimental": t.patients_experimental,
                   "patients_control": t.patients_control}
        analyses, cited = [], [credit_of(t._asdict())]
        if t.trial_id in hr.index:
            h = hr.loc[t.trial_id]
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
                cited += row_credits(rows_of(evidence.outcomes, [t.trial_id], p["analysis"], endpoint=endpoint,
                                             arm=[p["experimental_arm"], p["control_arm"]]))
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
        title = f"First-line trials of {_or_list(trials['drug'], 'and')} against crizotinib in this bundle"
    else:
        name = "crizotinib_vs_chemotherapy"
        title = (f"{_or_list(trials['drug']).capitalize()} against {comparator}: "
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
        data=pd.DataFrame(data), group_column="Trial", trial_ids=list(trials["trial_id"]),
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
             EVIDENCE_COLUMN: marks(row_credits(_pair_rows(evidence, p))),
             "Source": _sources(evidence, row_credits(_pair_rows(evidence, p)))} for p in pairs.itertuples()]
    return _table(
        "landmark_pfs", "Landmark progression-free survival against crizotinib",
        f"{len(rows)} results from {pairs['trial_id'].nunique() if len(pairs) else 0} trials' publications "
        "(Kaplan-Meier estimates; no N, so no interval)",
        pd.DataFrame(rows), evidence, _pair_credits(evidence, pairs),
        ["PFS, progression-free survival; event-free survival as the publication defines it. Rates as published, "
         "at the time point each endpoint names."],
        data=pairs, trial_ids=list(pairs.get("trial_id", [])),
    )


def survival_table(evidence: Evidence, drugs: str = "all") -> ReportTable:
    """Every overall-survival result in the bundle for the landscape trials shown, whatever the analysis:
    OS hazard ratios (with level, p value, adjustment), medians, landmark rates and crossover."""
    trials = landscape_trials(evidence, drugs)
    trial_ids = list(trials["trial_id"])
    hr, outcomes = survival_rows(evidence, trial_ids)
    rows, credits, data = [], [], []
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
            credits.append(credit)
            data.append({"kind": "hazard ratio", **h.to_dict()})
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
                         "Assessor": _or_list(arms["assessor"].dropna()) if arms["assessor"].notna().any() else "—",
                         "Analysis": analysis_name(arms.iloc[0]), "Note": "—",
                         EVIDENCE_COLUMN: marks(row_credits_), "Source": _sources(evidence, row_credits_)})
            credits += row_credits_
            data += [{"kind": "outcome", **r} for r in arms.to_dict("records")]
        if len(rows) == shown_before:
            without.append(t.trial_name)
            rows.append({"Trial": group, "Result": "overall survival", "Value": NOT_IN_BUNDLE, "p value": "—",
                         "Assessor": "—", "Analysis": "—", "Note": "—", EVIDENCE_COLUMN: "—", "Source": "—"})
        design = evidence.findings[(evidence.findings["topic"] == "design")
                                   & evidence.findings["trial_ids"].fillna("").str.split(";").map(
                                       lambda ids: t.trial_id in ids)]
        for _, finding in design.iterrows():  # whether crossover was allowed: how to read the OS results
            credit = credit_of(finding)
            rows.append({"Trial": group, "Result": "trial design", "Value": finding["statement"], "p value": "—",
                         "Assessor": "—", "Analysis": "—", "Note": "—", EVIDENCE_COLUMN: credit.mark,
                         "Source": credit_text(evidence.sources, credit)})
            credits.append(credit)
    shown = sum(r["Value"] != NOT_IN_BUNDLE and r["Result"] != "trial design" for r in rows)
    population = (f"{shown} results from {len(trials) - len(without)} of {len(trials)} trials, every analysis in "
                  "the bundle (the analysis parameter does not apply)")
    if without:
        population += f"; no overall-survival result in this bundle for {_or_list(without, 'and')}"
    return _table(
        "overall_survival", "Overall survival and crossover: every result in this bundle for these trials",
        population, pd.DataFrame(rows), evidence, credits,
        [*hazard_ratio_footnote(hr, newer_drugs(evidence)),
         "OS, overall survival. Medians and landmark rates are Kaplan-Meier estimates as published. Crossover: "
         "the share of an arm that later received the other arm's drug, as the publication states it (column "
         "Analysis); it dilutes any difference in overall survival.",
         _levels_footnote(hr, trials.set_index("trial_id")["trial_name"])],
        data=pd.DataFrame(data), group_column="Trial", trial_ids=trial_ids,
    )


def safety_table(evidence: Evidence, drugs: str = "all") -> ReportTable:
    """Every harm in the bundle for the landscape trials shown: adverse-event figures (arms side by side) and
    safety findings in words; a trial with none says so rather than showing a gap."""
    trials = landscape_trials(evidence, drugs)
    trial_ids = list(trials["trial_id"])
    harms = harms_by_trial(evidence, trial_ids)
    rows, credits, data, without = [], [], [], []
    for t in trials.itertuples():
        group = trial_group(pd.Series(t._asdict()))
        for item in harms[t.trial_id]:
            result = item["result"]
            if item["missing_arms"]:
                result += f" ({_or_list(item['missing_arms'], 'and')} arm: {NOT_IN_BUNDLE})"
            rows.append({"Trial": group, "Harm": item["what"], "Result": result, "Analysis": item["analysis"],
                         EVIDENCE_COLUMN: marks(item["credits"]), "Source": _sources(evidence, item["credits"])})
            credits += item["credits"]
            data += [{"kind": item["kind"], **r} for r in item["rows"].to_dict("records")]
        if not harms[t.trial_id]:
            without.append(t.trial_name)
            rows.append({"Trial": group, "Harm": "adverse events", "Result": "no verified safety figure in this bundle",
                         "Analysis": "—", EVIDENCE_COLUMN: "—", "Source": "—"})
    events, findings = safety_rows(evidence, trial_ids)
    population = (f"{_count(len(events), 'adverse-event figure')} and {_count(len(findings), 'safety finding')} from "
                  f"{len(trials) - len(without)} of {len(trials)} trials")
    if without:
        population += f"; no verified safety figure in this bundle for {_or_list(without, 'and')}"
    return _table(
        "safety", "Harms: every adverse-event figure and safety finding in this bundle for these trials",
        population, pd.DataFrame(rows), evidence, credits,
        ["Adverse events as percentages of treated patients, as published, each with its own grading and analysis; "
         "a finding in words is the publication's statement without its numbers.",
         f"'{NOT_IN_BUNDLE}': no figure was verified for this bundle; the trial's publication may report one."],
        data=pd.DataFrame(data), group_column="Trial", trial_ids=trial_ids,
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
    spread = frame["median_pfs_months"]
    return _table(
        "crizotinib_medians", "How consistent is the comparator? Crizotinib's median PFS in first-line trials",
        f"{len(frame)} first-line crizotinib arms; median of medians {spread.median():.1f} months, "
        f"range {spread.min():.1f}–{spread.max():.1f}",
        shown, evidence, credits_of(frame),
        ["PFS, progression-free survival. Medians as published; trials differ in population (column Population), "
         "assessor and follow-up, so differences are descriptive."],
        data=frame, trial_ids=list(frame["trial_id"]),
    )


def cns_table(evidence: Evidence, analysis: str = "primary", drugs: str = "all") -> ReportTable:
    trials = comparator_trials(evidence, drugs)
    pairs = outcome_pairs(evidence, list(trials["trial_id"]), ["intracranial ORR", "CNS progression"], analysis)
    shown = pd.DataFrame({
        "Trial": pairs.get("trial_name", pd.Series(dtype=str)),
        "Drug": pairs.get("experimental_arm", pd.Series(dtype=str)),
        "Endpoint": pairs.get("endpoint", pd.Series(dtype=str)),
        "Patients and analysis": [analysis_name(p._asdict()) for p in pairs.itertuples()],
        "Newer drug": pairs.get("experimental_value", pd.Series(dtype=float)).map(percent),
        "Crizotinib": pairs.get("control_value", pd.Series(dtype=float)).map(percent),
        EVIDENCE_COLUMN: [marks(row_credits(_pair_rows(evidence, p))) for p in pairs.itertuples()],
        "Source": [_sources(evidence, row_credits(_pair_rows(evidence, p))) for p in pairs.itertuples()],
    })
    notes = ["CNS, central nervous system; ORR, objective response rate. Intracranial response among the patients "
             "each publication names (column Patients and analysis)."]
    progression = pairs[pairs["endpoint"] == "CNS progression"] if len(pairs) else pairs
    if len(progression):
        notes.append(f"CNS progression as reported by {_or_list(progression['trial_name'], 'and')}.")
    return _table(
        "cns_outcomes", "The brain: intracranial response and CNS progression against crizotinib",
        f"{len(pairs)} results from {pairs['trial_id'].nunique() if len(pairs) else 0} trials; the publications' "
        "CNS populations (no N transcribed, so no interval)", shown, evidence,
        _pair_credits(evidence, pairs), notes, data=pairs, trial_ids=list(pairs.get("trial_id", [])),
    )


def all_analyses_table(evidence: Evidence, drugs: str = "all") -> ReportTable:
    """Each analysis of progression-free survival in the bundle side by side, whichever one the report's
    parameter chose above."""
    trials = comparator_trials(evidence, drugs)
    rows, sources, data = [], [], []
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
            for _, one in h.iterrows():
                row["PFS HR"] = hazard_ratio_detail(one)
                cited.append(credit_of(one))
                data.append({"kind": "hazard ratio", **one.to_dict()})
            if t.drug in m.index and "crizotinib" in m.index:
                row[median_label] = (f"{_median_text(m.loc[t.drug, 'value'], m.loc[t.drug, 'note'])} / "
                                     f"{_median_text(m.loc['crizotinib', 'value'], m.loc['crizotinib', 'note'])}")
                cited += [credit_of(m.loc[t.drug]), credit_of(m.loc["crizotinib"])]
                data += [{"kind": "outcome", **r} for r in m.reset_index().to_dict("records")]
            row[EVIDENCE_COLUMN] = marks(cited) or "—"
            row["Source"] = _sources(evidence, cited) or "—"
            sources += cited
            rows.append(row)
    shown_hr = evidence.hazard_ratios[evidence.hazard_ratios["trial_id"].isin(trials["trial_id"])
                                      & (evidence.hazard_ratios["endpoint"] == "PFS")]
    return _table("all_analyses", "Progression-free survival against crizotinib: each analysis in this bundle",
                  f"{len(rows)} analyses of {len(trials)} trials", pd.DataFrame(rows), evidence, sources,
                  [*hazard_ratio_footnote(shown_hr, newer_drugs(evidence)),
                   "PFS, progression-free survival. Hazard ratios at the level each publication reports, each with "
                   "its assessor and analysis; updated analyses have longer follow-up, and some change the assessor.",
                   _levels_footnote(shown_hr, trials.set_index("trial_id")["trial_name"])],
                  data=pd.DataFrame(data), group_column="Trial", trial_ids=list(trials["trial_id"]))


# --- figures -------------------------------------------------------------------------------------------

def hazard_ratio_landscape_forest(evidence: Evidence, analysis: str = "primary", drugs: str = "all") -> ReportFigure:
    """PFS hazard ratios against crizotinib, log scale, each row with its level, assessor and analysis; the
    caption sets beside them the harms the bundle holds for the same trials."""
    every = hazard_ratios_vs_crizotinib(evidence, analysis, drugs)
    hr = every.dropna(subset=["ci_low", "ci_high"])
    undrawn = every[every["ci_low"].isna()]
    labels = [f"{r.trial_name} ({r.drug}), {r.assessor}\n"
              f"HR {r.hazard_ratio:.{r.decimals}f}, {level_text(r.ci_level)} CI "
              f"{r.ci_low:.{r.decimals}f}–{r.ci_high:.{r.decimals}f}\n"
              + textwrap.fill(analysis_name(r._asdict()), width=44) for r in hr.itertuples()]
    lines = sum(label.count("\n") + 1 for label in labels)
    figure, ax = _figure(8.5, 0.3 * max(lines, 1) + 1.4)
    if len(hr):
        _forest(ax, labels, list(hr["hazard_ratio"]), list(hr["ci_low"]), list(hr["ci_high"]), 1.0, log_scale=True)
    ax.set_xlabel("PFS hazard ratio against crizotinib (log scale); < 1 favours the newer drug")
    alt = "Forest plot of PFS hazard ratios against crizotinib: " + "; ".join(
        f"{r.trial_name} {r.drug} HR {r.hazard_ratio:.{r.decimals}f} ({level_text(r.ci_level)} CI "
        f"{r.ci_low:.{r.decimals}f} to {r.ci_high:.{r.decimals}f}, {r.assessor})" for r in hr.itertuples()) + \
        "; reference line at 1."
    by_assessor = {a: _or_list(g["trial_name"], "and") for a, g in every.groupby("assessor", sort=False)}
    caption = (f"Progression-free survival, {_or_list(every['drug'], 'and')} against crizotinib (first line); each "
               "interval at the level its publication reports. Progression was judged by "
               + ("different assessors (" + "; ".join(f"{a}: {names}" for a, names in by_assessor.items()) + ")"
                  if len(by_assessor) > 1 else f"{_or_list(by_assessor)} in every trial shown")
               + "; population and doses of each trial are in the table above.")
    if len(undrawn):
        caption += " Not drawn (no interval transcribed): " + "; ".join(
            f"{r.trial_name} {r.analysis} HR {r.hazard_ratio:.{r.decimals}f}" for r in undrawn.itertuples()) + "."
    trial_ids = list(every["trial_id"])
    harms = harms_by_trial(evidence, trial_ids)
    names = evidence.trials.set_index("trial_id")["trial_name"]
    with_harms = [f"{names[t]}: {harms_summary(items)}" for t, items in harms.items() if items]
    without = [names[t] for t, items in harms.items() if not items]
    caption += " Harms beside these benefits (safety table): " + "; ".join(with_harms)
    if without:
        caption += (f"{'; ' if with_harms else ''}no verified safety figure in this bundle for "
                    f"{_or_list(without, 'and')}")
    caption += "."
    harm_credits = [c for items in harms.values() for item in items for c in item["credits"]]
    return _make("landscape_forest", figure, caption, alt, evidence, credits_of(every) + harm_credits, trial_ids)


def crizotinib_medians_figure(evidence: Evidence, analysis: str = "primary") -> ReportFigure:
    frame = crizotinib_control_medians(evidence, analysis).sort_values("median_pfs_months")
    reference_name = reference_trial(evidence)["trial_name"]
    reference = float(frame.loc[frame["trial_id"] == frame["reference_trial_id"], "median_pfs_months"].iloc[0])
    figure, ax = _figure(7.5, 0.45 * len(frame) + 1.3)
    colours = frame["crizotinib_role"].map({"experimental": "#1b6f9a", "comparator": "#c2653a"})
    ax.scatter(frame["median_pfs_months"], range(len(frame)), c=list(colours), s=70, zorder=3)
    for position, row in enumerate(frame.itertuples()):
        ax.annotate(f"{row.median_pfs_months:.1f}", (row.median_pfs_months, position), xytext=(7, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.axvline(reference, color="#444444", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(frame)), [f"{n} ({r})" for n, r in zip(frame["trial_name"], frame["crizotinib_role"])])
    ax.set_xlim(0, max(frame["median_pfs_months"]) * 1.25)
    ax.set_xlabel(f"Median PFS on crizotinib, months (dashed: {reference_name}, {reference:.1f})")
    alt = "Dot plot of crizotinib's median PFS in first-line trials: " + "; ".join(
        f"{r.trial_name} {r.median_pfs_months:.1f} months" for r in frame.itertuples()) + \
        f"; reference line at {reference_name}'s {reference:.1f} months."
    return _make("crizotinib_medians", figure,
                 "Crizotinib's median progression-free survival across first-line trials, as experimental arm "
                 "(blue) and as comparator (orange); populations and assessors differ (table above).", alt, evidence,
                 credits_of(frame), list(frame["trial_id"]))


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
