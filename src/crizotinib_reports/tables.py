"""Report tables: pure functions from the evidence to titled, footnoted, sourced tables.

Each builder returns a ReportTable: the numbers as a DataFrame (also written as CSV) and
what a clinical table needs around them (title, population, footnotes, source line).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from great_tables import GT

from .analysis import ANALYSES, arm_comparisons, interval_checks, pooled_orr, response_rates, select_trials
from .citations import (LEVEL_MEANINGS, Credit, cited_sources, credit_of, credit_text, credits_of, full_citation,
                        marks, short_citation, source_credit, source_line)
from .data import TABLE_NAMES, Evidence
from .plain_text import spreadsheet_safe
from .stats import CI_METHOD_LABELS, POOLED_INTERVALS, derived_count

NOT_STATED = "not stated"


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

    def to_gt(self) -> GT:
        table = GT(self.frame, groupname_col=self.group_column).tab_header(title=self.title, subtitle=self.population)
        for label, columns in self.spanners.items():
            table = table.tab_spanner(label=label, columns=columns)
        for note in self.footnotes:
            table = table.tab_source_note(note)
        return table.tab_source_note(self.source_text)

    def _repr_html_(self) -> str:
        return self.to_gt().as_raw_html()

    def csv_text(self) -> str:
        """The table's numbers as CSV; a text cell that a spreadsheet would run as a formula starts with `'`."""
        frame = self.frame if self.data is None else self.data
        text_columns = [c for c in frame.columns
                        if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c])]
        return frame.assign(**{c: frame[c].map(spreadsheet_safe) for c in text_columns}).to_csv(index=False)


def percent(value: float) -> str:
    return f"{value:g}%"


def _table(name: str, title: str, population: str, frame: pd.DataFrame, evidence: Evidence,
           credits: list[Credit], footnotes: list[str] = (), spanners: dict | None = None,
           data: pd.DataFrame | None = None, group_column: str | None = None,
           trial_ids: list[str] | None = None, source_note: str | None = None) -> ReportTable:
    """A ReportTable whose source line credits exactly `credits` (one per figure shown).

    Figures from more than one trial (`trial_ids`) get the cross-trial caveat; a table with an
    Evidence column gets the key to its marks. A table about the bundle itself (its references,
    its data files) has no figures to credit and says where it comes from in `source_note`.
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
        group_column=group_column,
    )


def row_credits(frame: pd.DataFrame) -> list[Credit]:
    """The credits of the data rows behind a table (frames with the attribution columns)."""
    return credits_of(frame) if len(frame) else []


def credit_column(evidence: Evidence, rows: pd.DataFrame) -> pd.Series:
    """Per data row, its credit as text ('Review 2024 → Shaw et al. 2013 (P)'), for a table's Source column."""
    return pd.Series([credit_text(evidence.sources, credit_of(row)) for _, row in rows.iterrows()], index=rows.index,
                     dtype=object)


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
        if design == "single-arm":
            heading = f"Single-arm trials (phase {phases}): no control arm"
        else:
            heading = f"Randomized trials (phase {phases}): each arm against its own control"
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
    rows, data, credits = [], [], []
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
            data.append({**{k: v for k, v in rate._asdict().items() if k != "Index"}, "design": trial.design,
                         "pfs_median_months": median.value if median is not None else float("nan"),
                         "pfs_assessor": median.assessor if median is not None else pd.NA})
    frame = pd.DataFrame(rows)
    primary = rates[rates["analysis"] == "primary"]
    n_total = sum(int(n) for n in primary["denominator"].dropna())
    population = (f"Patients evaluated for response: N={n_total} across {len(primary)} trial arms "
                  f"({primary['trial_id'].nunique()} trials), primary analyses; N per arm below")
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
                  trial_ids=list(trials["trial_id"]))


def comparisons_table(evidence: Evidence, confidence_level: float = 0.95, setting: str = "all") -> ReportTable:
    """Crizotinib against chemotherapy in each phase III trial: ORR difference, odds ratio, PFS HR with its assessor."""
    comparisons = arm_comparisons(evidence, confidence_level, setting)
    level = level_text(confidence_level)
    shown = list(comparisons.get("trial_id", []))
    hazard_rows = rows_of(evidence.hazard_ratios, shown, "primary", endpoint="PFS")
    hazard_rows = hazard_rows[hazard_rows["adjustment"].isna()]
    hazard = hazard_rows.set_index("trial_id")
    rows = []
    for c in comparisons.itertuples():
        hr = hazard.loc[c.trial_id] if c.trial_id in hazard.index else None
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
        f"Randomized patients: N={n_total} in {len(comparisons)} phase III trials", pd.DataFrame(rows), evidence,
        credits, footnotes, data=comparisons, trial_ids=shown,
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
    rows, data, credits, missing, notes = [], [], [], [], []
    for _, trial in trials.iterrows():
        group = f"{trial['trial_name']} · {trial['setting']} · {trial['drug']} vs {trial['comparator']}"
        measures = _survival_measures(evidence, trial)
        for m in measures:
            measure_credits = [credit_of(r) for r in m["rows"]]
            credits += measure_credits
            credits += [source_credit(evidence.sources, r["denominator_source_id"]) for r in m["rows"]
                        if pd.notna(r.get("denominator_source_id")) and r["denominator_source_id"] != r["source_id"]]
            rows.append({"Trial": group, "Measure": m["measure"], "Analysis": analysis_text(m["analysis"], m["label"]),
                         "Result": m["result"], "p value": m["p"],
                         "Source": "; ".join(dict.fromkeys(credit_text(evidence.sources, c) for c in measure_credits)),
                         EVIDENCE_COLUMN: marks(measure_credits)})
            for r in m["rows"]:
                data.append({**r.to_dict(), "measure": m["measure"]})
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
                  f"Randomized patients: N={n_total} in {len(trials)} phase III trials (as randomized)",
                  pd.DataFrame(rows), evidence, credits, footnotes, data=pd.DataFrame(data), group_column="Trial",
                  trial_ids=list(trials["trial_id"]))


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
    footnotes = ["Findings are statements in the source's words, not rates per arm; a percentage per arm appears "
                 "only where the bundle holds a verified one."]
    missing = missing_adverse_events_note(evidence, shown)
    if missing:
        footnotes.insert(0, missing)
    return _table("safety", "Harms of crizotinib in its own trials",
                  f"Patients treated in {len(shown)} trials of crizotinib; "
                  f"{len(findings)} findings in words, {len(events)} adverse-event percentages", frame, evidence,
                  row_credits(findings) + row_credits(events), footnotes, data=pd.concat([findings, events]),
                  trial_ids=shown)


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
    return _table(
        "interval_checks", "Published intervals against recomputed ones",
        f"{len(checks)} published intervals checked; {flagged} flagged", frame, evidence,
        row_credits(checks),
        [f"Proportions: recomputed at the published level with the {CI_METHOD_LABELS[ci_method]} interval on the "
         "derived responder count; rounding allows half a unit in the published last digit.",
         "Hazard ratios: a ratio's interval is symmetric on the log scale, so the ratio should equal the geometric "
         "mean of its bounds, to within the rounding of all three numbers.",
         "A flag means the published numbers and the recomputation disagree beyond rounding: the publication may "
         "have used another interval method or another denominator."],
        data=checks, trial_ids=list(checks.get("trial_id", [])),
    )


def pooled_orr_table(evidence: Evidence, confidence_level: float = 0.95, ci_method: str = "exact",
                     pooled_interval: str = "dersimonian-laird") -> ReportTable:
    """Exploratory random-effects pool of the crizotinib arms, with its prediction interval."""
    arms, summary = pooled_orr(evidence, confidence_level, ci_method, pooled_interval)
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
    data = arms.assign(**{f"pooled_{key}": value for key, value in summary.items()})
    return _table(
        "pooled_orr", "Exploratory: pooled ORR of the crizotinib arms",
        f"Crizotinib-treated patients: N={int(arms['denominator'].sum())} in {summary['studies']} trials "
        "(primary analyses; an updated analysis would count its patients twice)",
        frame, evidence, row_credits(arms),
        ["EXPLORATORY: the trials differ in line of therapy and design, so a single pooled rate is descriptive only.",
         f"Random-effects model on the logit scale, τ² by DerSimonian–Laird (statsmodels combine_effects); "
         f"heterogeneity I² = {summary['i2_pct']:.0f}%, τ² = {summary['tau2']:.3f}, "
         f"Q = {summary['q']:.1f} on {summary['df']} df. Interval on the pooled rate: "
         f"{POOLED_INTERVALS[summary['interval']]} (parameter pooled_interval).",
         "Prediction interval: where the true response rate of a new, similar trial is expected to lie "
         "(Higgins et al. 2009: pooled logit ± t with k−2 df × √(τ² + SE²), back-transformed). It allows for the "
         "spread of the trials' true rates (τ²), which the interval on the pooled rate does not.",
         "Responder counts are derived from published percentages and N; arm intervals are "
         f"{CI_METHOD_LABELS[ci_method]} on those derived counts."],
        data=data, trial_ids=list(arms["trial_id"]),
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
    notes = [f"{a.agency} {a.approval_type} ({a.setting}): {a.note}" for a in approvals.dropna(subset=["note"]).itertuples()]
    return _table("approvals", "Regulatory approvals of crizotinib for ALK-positive NSCLC",
                  f"{len(frame)} approvals stated in the review", frame, evidence, row_credits(approvals),
                  ["FDA, US Food and Drug Administration; EMA, European Medicines Agency. "
                   "Dates are as the review gives them (YYYY-MM-DD); the review gives no date for the EMA "
                   "second-line approval.", *notes])


def key_numbers_table(evidence: Evidence, confidence_level: float = 0.95, ci_method: str = "exact") -> ReportTable:
    """The headline figures of every section, each with its own source (and an interval where N is known):
    for crizotinib's own trials every response, PFS and OS figure with crossover, and the harms in words."""
    development = list(select_trials(evidence.trials)["trial_id"])
    rates = response_rates(evidence, confidence_level, ci_method, development, ANALYSES).set_index(
        ["trial_id", "arm", "analysis"])
    rows, trial_of_row = [], []
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
        trial_of_row.append(o.trial_id)
    for _, h in evidence.hazard_ratios[evidence.hazard_ratios["trial_id"].isin(development)].iterrows():
        measure = f"{h['endpoint']} hazard ratio" + (f", {h['adjustment']}" if pd.notna(h["adjustment"]) else "")
        shown = hazard_ratio_text(h) + (f", p = {p_value_text(h['p_value'])}" if pd.notna(h["p_value"]) else "")
        context = ", ".join(part for part in (f"{names[h['trial_id']]}, {h['experimental_arm']} vs {h['control_arm']}"
                                              f" (below 1 favours {h['experimental_arm']})",
                                              analysis_text(h["analysis"], h["analysis_label"]),
                                              assessor_text(h["assessor"])) if part)
        rows.append(("Clinical activity", measure, shown, context, credit_of(h)))
        trial_of_row.append(h["trial_id"])
    # Each trial's figures together: response and PFS, then survival and its hazard ratios.
    rows = [row for _, row in sorted(zip(trial_of_row, rows), key=lambda pair: development.index(pair[0]))]
    safety = evidence.findings[(evidence.findings["topic"] == "safety") & evidence.findings["trial_ids"].map(
        lambda ids: pd.notna(ids) and bool(set(ids.split(";")) & set(development)))]
    for f in safety.itertuples():
        rows.append(("Harms", "Safety (in words)", f.statement,
                     ", ".join(names[t] for t in f.trial_ids.split(";") if t in names), credit_of(f._asdict())))
    for a in evidence.approvals.dropna(subset=["date"]).itertuples():
        rows.append(("Approvals", f"{a.agency} {a.approval_type}", a.date.strftime("%Y-%m-%d"), a.setting,
                     credit_of(a._asdict())))
    for p in evidence.relapse_patterns.itertuples():
        rows.append(("Clinical relapses", p.pattern, p.frequency_as_stated, p.aspect, credit_of(p._asdict())))
    for m in evidence.resistance_measures.itertuples():
        shown = percent(m.value) if m.unit == "%" else f"{m.value:g} {m.unit}"
        rows.append(("Resistance", m.measure, shown, m.qualifier if pd.notna(m.qualifier) else "",
                     credit_of(m._asdict())))
    for m in evidence.resistance_mechanisms.itertuples():
        rows.append(("Resistance", m.mechanism, m.frequency_as_stated, m.alk_dependence, credit_of(m._asdict())))
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
                  trial_ids=development)


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
    return _table("relapse_patterns", "Patterns of clinical relapse on crizotinib",
                  "Patients with ALK+ NSCLC relapsing on crizotinib (the review gives no N)", frame, evidence,
                  row_credits(patterns),
                  ["CNS, central nervous system. Frequencies and times are the review's own words; it gives no counts, "
                   "and its times are thresholds ('within the first year', 'over 6 years'), not medians."])


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
    studies = m["study"].nunique()
    title = {"relapse": "The studies behind the relapse patterns",
             "resistance": "The studies behind the resistance mechanisms"}[topic]
    return _table(f"{topic}_studies", title,
                  f"{len(m)} results from {studies} studies, each with its own patients (N in the Result column)",
                  frame, evidence, row_credits(m),
                  ["Each study had its own population and methods; their figures are not pooled. Where a count is "
                   "given, the percentage is the publication's own."], data=m)


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
                  "Patients treated with crizotinib (the review gives no N, so no interval)", frame, evidence,
                  row_credits(m), ["Disease control rate: share of patients whose disease responds or is stable."])


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
    derived = [r.frequency_as_stated for r in m.itertuples()
               if pd.notna(r.frequency_low_pct) and r.frequency_low_pct == r.frequency_high_pct]
    notes = ["EMT, epithelial–mesenchymal transition; EGFR, epidermal growth factor receptor. Ranges are as "
             "published; the review gives no N."]
    if derived:
        notes.append("Shares the review states in words are kept in words; the percentage beside them is derived "
                     "(" + "; ".join(f"'{d}'" for d in derived) + "), not published.")
    return _table("resistance_mechanisms", "Mechanisms of acquired resistance to crizotinib",
                  "Patients with acquired resistance (the review gives no N, so no interval)", frame, evidence,
                  row_credits(m), notes, data=m.assign(share_is_derived=m["frequency_as_stated"].str.contains(
                      r"\d", regex=True).map(lambda has_digits: not has_digits)))


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
    return _table("references", "References", f"{len(frame)} sources", frame, evidence, [],
                  ["Ref. is the number the review gives a reference, or the kind of source: a publication the review "
                   "does not cite (added for figures it does not give, or as the primary source of one it does), or a "
                   "secondary summary a figure was checked in. The review cites each of its references once, at the "
                   "end of a section, for the whole section. Identifiers are given where checked."],
                  data=sources, source_note="Source: data/sources.csv, the bundle's citation table.")


def data_tables_table(evidence: Evidence) -> ReportTable:
    """What data this bundle holds: each table, its purpose, size and content hash."""
    specs, hashes = evidence.schema, evidence.hashes
    rows = []
    for name, spec in specs.items():
        frame = getattr(evidence, name)
        rows.append({"Table": spec.file_name, "Holds": spec.description, "Rows": str(len(frame)),
                     "Columns": str(len(frame.columns)), "Key": ", ".join(spec.key),
                     "SHA-256 (first 16)": hashes.get(spec.file_name, "")[:16]})
    frame = pd.DataFrame(rows)
    return _table("data_tables", "Data tables", f"{len(frame)} tables, {sum(int(r['Rows']) for r in rows)} rows",
                  frame, evidence, [],
                  ["Every row carries a source_id that resolves in sources.csv; rules are in data/schema.yaml and "
                   "are checked before any report runs."], data=pd.DataFrame(rows),
                  source_note="Source: the files in data/ and data/schema.yaml.")


def derivations_table(evidence: Evidence, confidence_level: float = 0.95, ci_method: str = "exact") -> ReportTable:
    """Every value the reports compute rather than read, with the inputs and the rule."""
    rows = []
    names = evidence.trials.set_index("trial_id")["trial_name"]
    for o in evidence.outcomes.dropna(subset=["denominator"]).itertuples():
        exact = float(o.value) / 100 * int(o.denominator)
        rows.append({"Derived value": f"Responders, {names[o.trial_id]}, {o.arm}",
                     "From": f"{o.value:g}% of N={o.denominator}",
                     "Rule": f"{o.value:g}/100 × {o.denominator} = {exact:.2f}, rounded half up",
                     "Result": str(derived_count(float(o.value), int(o.denominator))),
                     "source_id": o.source_id})
    for m in evidence.resistance_mechanisms.dropna(subset=["frequency_low_pct"]).itertuples():
        if m.frequency_low_pct == m.frequency_high_pct:
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
                  data=frame)




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
    rows, credits = [], []
    for table in TABLE_NAMES:
        if table == "sources":
            continue
        frame = getattr(evidence, table)
        for credit, (_, row) in zip(row_credits(frame), frame.iterrows()):
            credits.append(credit)
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
                  group_column="Data table")
