"""The numbers behind the tables and figures, as plain DataFrames (frame in, frame out).

tables.py formats these for reading and figures.py draws them; the CSV written beside each
report holds these unformatted values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pandas as pd

from .citations import ATTRIBUTION_COLUMNS
from .data import Evidence
from .stats import (
    MIN_POOLED_STUDIES,
    derived_count,
    difference_interval,
    gap_beyond_rounding,
    hazard_ratio_midpoint_gap,
    odds_ratio_interval,
    pooled_proportion,
    proportion_interval,
)

#: Analyses in reading order: the primary one, then later updates of the same trial.
ANALYSES = ("primary", "updated")


def rows_of(frame: pd.DataFrame, trial_ids: list[str] | None = None, analysis: str | None = None,
            **equals: object) -> pd.DataFrame:
    """Rows of an evidence table by trial, analysis and column values (a value may be a list of allowed ones)."""
    keep = pd.Series(True, index=frame.index)
    if trial_ids is not None:
        keep &= frame["trial_id"].isin(trial_ids)
    if analysis is not None:
        keep &= frame["analysis"] == analysis
    for column, value in equals.items():
        keep &= frame[column].isin(value) if isinstance(value, (list, tuple, set)) else frame[column] == value
    return frame[keep]


def select_trials(trials: pd.DataFrame, setting: str = "all", include_single_arm: bool = True,
                  role: str | None = "development") -> pd.DataFrame:
    """Trials a reader asked for: phase III by line of therapy, single-arm trials on request.

    By default only crizotinib's own development trials (the review's); role=None for all.
    """
    if role is not None:
        trials = trials[trials["role"] == role]
    randomized = trials["design"] == "randomized"
    keep = randomized & ((setting == "all") | (trials["setting"] == setting))
    if include_single_arm:
        keep |= ~randomized
    return trials[keep]


def response_rates(evidence: Evidence, confidence_level: float = 0.95, ci_method: str = "exact",
                   trial_ids: list[str] | None = None, analyses: tuple[str, ...] = ("primary",)) -> pd.DataFrame:
    """ORR per trial, arm and analysis (primary only unless `analyses` says otherwise); where the
    denominator is known, the derived count and an interval. Without trial_ids: crizotinib's
    development trials."""
    if trial_ids is None:
        trial_ids = list(select_trials(evidence.trials)["trial_id"])
    orr = evidence.outcomes[(evidence.outcomes["endpoint"] == "ORR") & evidence.outcomes["analysis"].isin(analyses)]
    orr = orr[orr["trial_id"].isin(trial_ids)]
    rows = []
    for row in orr.itertuples(index=False):
        record = {"trial_id": row.trial_id, "arm": row.arm, "analysis": row.analysis,
                  "analysis_label": row.analysis_label, "orr_pct": float(row.value),
                  "denominator": row.denominator, "responders_derived": pd.NA,
                  "ci_low_pct": float("nan"), "ci_high_pct": float("nan"), "ci_level": confidence_level,
                  "ci_method": ci_method, **{c: getattr(row, c) for c in ATTRIBUTION_COLUMNS},
                  "denominator_source_id": row.denominator_source_id if pd.notna(row.denominator_source_id)
                  else row.source_id}
        if pd.notna(row.denominator):
            count = derived_count(row.value, int(row.denominator))
            interval = proportion_interval(count, int(row.denominator), confidence_level, ci_method)
            record.update(responders_derived=count, ci_low_pct=100 * interval.low, ci_high_pct=100 * interval.high)
        rows.append(record)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    names = evidence.trials.set_index("trial_id")["trial_name"]
    frame.insert(1, "trial_name", frame["trial_id"].map(names))
    return frame


def arm_comparisons(evidence: Evidence, confidence_level: float = 0.95, setting: str = "all") -> pd.DataFrame:
    """Phase III trials, crizotinib against chemotherapy: ORR difference and odds ratio
    (recomputed from derived counts) beside the published PFS hazard ratio of the primary analysis."""
    trials = select_trials(evidence.trials, setting, include_single_arm=False)
    rates = response_rates(evidence, confidence_level, "exact", list(trials["trial_id"]))
    hr = evidence.hazard_ratios
    hazard = hr[(hr["endpoint"] == "PFS") & (hr["analysis"] == "primary") & hr["adjustment"].isna()].set_index("trial_id")
    rows = []
    for trial in trials.itertuples():
        arms = rates[rates["trial_id"] == trial.trial_id].set_index("arm")
        if not {"crizotinib", "chemotherapy"} <= set(arms.index) or arms["responders_derived"].isna().any():
            continue
        c1, n1 = int(arms.loc["crizotinib", "responders_derived"]), int(arms.loc["crizotinib", "denominator"])
        c2, n2 = int(arms.loc["chemotherapy", "responders_derived"]), int(arms.loc["chemotherapy", "denominator"])
        difference = difference_interval(c1, n1, c2, n2, confidence_level)
        odds = odds_ratio_interval(c1, n1, c2, n2, confidence_level)
        record = {
            "trial_id": trial.trial_id, "trial_name": trial.trial_name, "setting": trial.setting,
            "n_crizotinib": n1, "n_chemotherapy": n2, "responders_crizotinib": c1, "responders_chemotherapy": c2,
            "orr_crizotinib_pct": arms.loc["crizotinib", "orr_pct"],
            "orr_chemotherapy_pct": arms.loc["chemotherapy", "orr_pct"],
            "orr_difference_pct": 100 * difference.estimate, "orr_difference_low_pct": 100 * difference.low,
            "orr_difference_high_pct": 100 * difference.high,
            "odds_ratio": odds.estimate, "odds_ratio_low": odds.low, "odds_ratio_high": odds.high,
            "level": confidence_level,
            "pfs_hazard_ratio": float("nan"), "pfs_hr_low": float("nan"), "pfs_hr_high": float("nan"),
            "pfs_hr_level": float("nan"), "pfs_hr_decimals": pd.NA, "pfs_hr_assessor": pd.NA,
            "pfs_hr_experimental_arm": pd.NA, "pfs_hr_control_arm": pd.NA, "hr_source_id": pd.NA,
            "source_ids": ";".join(dict.fromkeys(list(arms["source_id"]) + list(arms["denominator_source_id"]))),
        }
        if trial.trial_id in hazard.index:
            h = hazard.loc[trial.trial_id]
            record.update(pfs_hazard_ratio=h["hazard_ratio"], pfs_hr_low=h["ci_low"], pfs_hr_high=h["ci_high"],
                          pfs_hr_level=h["ci_level"], pfs_hr_decimals=int(h["decimals"]),
                          pfs_hr_assessor=h["assessor"], pfs_hr_experimental_arm=h["experimental_arm"],
                          pfs_hr_control_arm=h["control_arm"], hr_source_id=h["source_id"])
        rows.append(record)
    return pd.DataFrame(rows)


def interval_checks(evidence: Evidence, ci_method: str = "exact", trial_ids: list[str] | None = None) -> pd.DataFrame:
    """Every interval a publication gives, beside the one recomputed from the data, with the gap
    beyond rounding (0 means consistent).

    Proportions are recomputed at the published level from the derived count; a hazard ratio's
    interval must be symmetric on the log scale around the published ratio.
    """
    rows = []
    published = evidence.published_intervals
    hazard_ratios = evidence.hazard_ratios
    if trial_ids is not None:
        published = published[published["trial_id"].isin(trial_ids)]
        hazard_ratios = hazard_ratios[hazard_ratios["trial_id"].isin(trial_ids)]
    for p in published.itertuples():
        count = derived_count(p.estimate, int(p.denominator))
        interval = proportion_interval(count, int(p.denominator), float(p.ci_level), ci_method)
        low, high = 100 * interval.low, 100 * interval.high
        gap = max(gap_beyond_rounding(p.ci_low, low, p.decimals), gap_beyond_rounding(p.ci_high, high, p.decimals))
        rows.append({
            "check": "proportion interval", "trial_id": p.trial_id, "what": f"ORR, {p.arm}: {p.study_label}",
            "published": f"{p.estimate:g}% ({p.ci_low:g}–{p.ci_high:g}%)", "published_low": p.ci_low,
            "published_high": p.ci_high, "level": p.ci_level,
            "recomputed": f"{100 * count / p.denominator:.1f}% ({low:.1f}–{high:.1f}%), {count}/{p.denominator}",
            "recomputed_low": low, "recomputed_high": high, "method": ci_method,
            "gap_beyond_rounding": gap, **{c: getattr(p, c) for c in ATTRIBUTION_COLUMNS},
            "data_table": "published_intervals", "data_row": p.Index,  # where it was read, for provenance
        })
    # Adjusted ratios (e.g. for crossover, by RPSFTM) have bootstrap or other intervals, not log-symmetric ones.
    for h in hazard_ratios[hazard_ratios["adjustment"].isna()].dropna(subset=["ci_low", "ci_high"]).itertuples():
        implied, gap = hazard_ratio_midpoint_gap(h.hazard_ratio, h.ci_low, h.ci_high, int(h.decimals))
        rows.append({
            "check": "hazard ratio symmetry", "trial_id": h.trial_id, "what": f"{h.endpoint} HR ({h.analysis})",
            "published": f"{h.hazard_ratio:.{h.decimals}f} ({h.ci_low:.{h.decimals}f}–{h.ci_high:.{h.decimals}f})",
            "published_low": h.ci_low,
            "published_high": h.ci_high, "level": h.ci_level,
            "recomputed": f"{implied:.{int(h.decimals) + 1}f} (geometric mean of the bounds)", "recomputed_low": implied,
            "recomputed_high": implied, "method": "log-symmetry", "gap_beyond_rounding": gap,
            **{c: getattr(h, c) for c in ATTRIBUTION_COLUMNS},
            "data_table": "hazard_ratios", "data_row": h.Index,
        })
    frame = pd.DataFrame(rows)
    if not frame.empty:
        names = evidence.trials.set_index("trial_id")["trial_name"]
        frame.insert(1, "trial_name", frame["trial_id"].map(names))
        frame["consistent"] = frame["gap_beyond_rounding"] <= 0
    return frame


def pooled_arms(evidence: Evidence, setting: str = "all", include_single_arm: bool = True,
                confidence_level: float = 0.95, ci_method: str = "exact") -> pd.DataFrame:
    """The crizotinib arms a pool may take: those of the trials the report shows (`select_trials`), each with a
    derived responder count. Primary analyses only: an updated analysis re-counts the same patients, so pooling
    it too would count them twice."""
    trial_ids = list(select_trials(evidence.trials, setting, include_single_arm)["trial_id"])
    rates = response_rates(evidence, confidence_level, ci_method, trial_ids)
    if rates.empty:  # no ORR row among the trials shown: no arm, but the columns a reader of arms looks up
        return pd.DataFrame(columns=["trial_id", "trial_name", "arm", "responders_derived", "denominator"])
    return rates[(rates["arm"] == "crizotinib") & rates["responders_derived"].notna()].reset_index(drop=True)


def can_pool(evidence: Evidence, setting: str = "all", include_single_arm: bool = True) -> bool:
    """Whether the trials shown give enough crizotinib arms to pool (else the report says why it does not)."""
    return len(pooled_arms(evidence, setting, include_single_arm)) >= MIN_POOLED_STUDIES


def pooled_orr(evidence: Evidence, confidence_level: float = 0.95, ci_method: str = "exact",
               pooled_interval: str = "dersimonian-laird", setting: str = "all",
               include_single_arm: bool = True) -> tuple[pd.DataFrame, dict]:
    """Exploratory random-effects pool of the ORR of the crizotinib arms the report shows (lines of therapy
    may differ)."""
    arms = pooled_arms(evidence, setting, include_single_arm, confidence_level, ci_method)
    pooled = pooled_proportion([int(c) for c in arms["responders_derived"]], [int(n) for n in arms["denominator"]],
                               confidence_level, pooled_interval)
    arms["weight_pct"] = [100 * w for w in pooled.weights]
    summary = {"estimate_pct": 100 * pooled.estimate, "low_pct": 100 * pooled.low, "high_pct": 100 * pooled.high,
               "prediction_low_pct": 100 * pooled.prediction_low, "prediction_high_pct": 100 * pooled.prediction_high,
               "interval": pooled.interval, "level": confidence_level, "i2_pct": 100 * pooled.i2, "tau2": pooled.tau2,
               "q": pooled.q, "df": pooled.df, "studies": len(arms)}
    return arms, summary


# --- the landscape: crizotinib as the comparator of the newer drugs ------------------------------------

CROSSOVER = "crossover"
CNS_ENDPOINTS = ("intracranial ORR", "CNS progression")  # the brain: outcomes.csv endpoints of the CNS results
OS_ENDPOINTS = r"\bOS\b"  # overall-survival endpoints of outcomes.csv: OS median, 1-year OS, 5-year OS, ...
LANDMARK_PFS_ENDPOINTS = r"^\d+-(?:month|year) (?:PFS|event-free survival)$"  # 12-month PFS, 5-year PFS, ...


def newer_drugs(evidence: Evidence) -> tuple[str, ...]:
    """Every drug the data test against crizotinib in the landscape trials, in the order of trials.csv."""
    return newer_drugs_in(evidence.trials.to_dict("records"))


def newer_drugs_in(trials: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
    """The newer drugs of trials.csv's rows, whether a DataFrame's records or the text a CSV reader gives: one
    definition for the reports and for the check of the `drugs` parameter that runs before any kernel starts."""
    return tuple(dict.fromkeys(str(row["drug"]) for row in trials
                               if "drug" in row and row.get("role") == "landscape" and row.get("comparator") == "crizotinib"))


#: The lists a parameter's value may pick from, by the name a notebook's metadata gives them
#: (`items_from`): the data table each reads, and the rule that picks the items from that table's rows.
PARAMETER_ITEMS: dict[str, tuple[str, Callable[[Iterable[Mapping[str, object]]], tuple[str, ...]]]] = {
    "newer_drugs": ("trials", newer_drugs_in)}


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


def pair_rows(evidence: Evidence, pair) -> pd.DataFrame:
    """Both arms' data rows behind one pair of outcome_pairs."""
    return rows_of(evidence.outcomes, [pair.trial_id], pair.analysis, endpoint=pair.endpoint,
                   arm=[pair.experimental_arm, pair.control_arm])


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




