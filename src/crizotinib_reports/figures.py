"""Report figures: pure functions from the evidence to captioned, sourced seaborn figures.

Figures are built on matplotlib.figure.Figure, not pyplot, so nothing is shown twice in a
notebook and nothing depends on a display: ReportFigure renders itself as HTML with alt text.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .citations import source_line
from .data import Evidence
from .tables import response_rates, select_trials

ARM_COLOURS = {"crizotinib": "#1b6f9a", "chemotherapy": "#c2653a"}
DPI = 150


@dataclass(frozen=True)
class ReportFigure:
    name: str
    figure: Figure
    caption: str
    alt: str
    source_ids: tuple[str, ...]
    source_text: str

    def png_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.png_bytes()).decode("ascii")
        return (
            f'<figure class="report-figure" id="figure-{html.escape(self.name)}">'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}" style="max-width:100%"/>'
            f"<figcaption><strong>{html.escape(self.caption)}</strong><br/>"
            f'<span class="source-line">{html.escape(self.source_text)}</span></figcaption></figure>'
        )

    def __repr__(self) -> str:
        return f"<ReportFigure {self.name}: {self.caption}>"


def _figure(width: float = 7.5, height: float = 3.6) -> tuple[Figure, object]:
    sns.set_theme(style="whitegrid", context="notebook", font="DejaVu Sans")
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots()


def _make(name: str, figure: Figure, caption: str, alt: str, evidence: Evidence, source_ids: list[str]) -> ReportFigure:
    ids = tuple(dict.fromkeys(source_ids))
    return ReportFigure(name, figure, caption, alt, ids, source_line(evidence.sources, ids))


def response_rate_figure(evidence: Evidence, setting: str = "all", include_single_arm: bool = True,
                         confidence_level: float = 0.95, ci_method: str = "exact") -> ReportFigure:
    """ORR by trial and arm; whiskers where a denominator allows an interval."""
    trials = select_trials(evidence.trials, setting, include_single_arm)
    rates = response_rates(evidence, confidence_level, ci_method, list(trials["trial_id"]))
    figure, ax = _figure(7.5, 0.55 * len(rates) + 1.4)
    rates["label"] = rates["trial_name"] + " · " + rates["arm"]
    sns.barplot(data=rates, y="label", x="orr_pct", hue="arm", palette=ARM_COLOURS, ax=ax, dodge=False,
                legend=True)
    with_ci = rates.dropna(subset=["ci_low_pct"])
    for row in with_ci.itertuples():
        position = list(rates["label"]).index(row.label)
        ax.errorbar(x=row.orr_pct, y=position, xerr=[[row.orr_pct - row.ci_low_pct], [row.ci_high_pct - row.orr_pct]],
                    fmt="none", ecolor="black", capsize=4, lw=1.2)
    for position, value in enumerate(rates["orr_pct"]):
        ax.text(2, position, f"{value:g}%", va="center", ha="left", color="white", fontweight="bold")
    ax.set(xlim=(0, 100), xlabel="Objective response rate (%)", ylabel="")
    ax.legend(title="Arm", loc="upper left", bbox_to_anchor=(1.01, 1))
    level = f"{confidence_level:.1%}".replace(".0%", "%")
    alt = "Horizontal bars of objective response rate: " + "; ".join(
        f"{r.trial_name} {r.arm} {r.orr_pct:g}%" for r in rates.itertuples()) + "."
    return _make("response_rates", figure,
                 f"Objective response rate by trial and arm; whiskers are {level} intervals where the denominator is "
                 f"known (on derived responder counts).", alt, evidence, list(rates["source_id"]))


def pfs_figure(evidence: Evidence, setting: str = "all") -> ReportFigure:
    """Median PFS of crizotinib against chemotherapy in the phase III trials."""
    trials = select_trials(evidence.trials, setting, include_single_arm=False)
    pfs = evidence.outcomes[(evidence.outcomes["endpoint"] == "PFS median")
                            & evidence.outcomes["trial_id"].isin(trials["trial_id"])].copy()
    pfs["trial"] = pfs["trial_id"].map(trials.set_index("trial_id")["trial_name"] + " (" +
                                       trials.set_index("trial_id")["setting"] + ")")
    pfs["months"] = pfs["value"].astype(float)
    figure, ax = _figure(7.5, 3.2)
    sns.barplot(data=pfs, x="trial", y="months", hue="arm", palette=ARM_COLOURS, ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.1f", padding=2)
    ax.set(xlabel="", ylabel="Median PFS (months)")
    ax.margins(y=0.15)
    ax.legend(title="Arm")
    alt = "Bar chart of median progression-free survival: " + "; ".join(
        f"{r.trial} {r.arm} {r.months:.1f} months" for r in pfs.itertuples()) + "."
    return _make("pfs_medians", figure, "Median progression-free survival by phase III trial and arm.", alt,
                 evidence, list(pfs["source_id"]))


def approval_timeline_figure(evidence: Evidence) -> ReportFigure:
    approvals = evidence.approvals.dropna(subset=["date"]).sort_values("date")
    figure, ax = _figure(7.5, 2.4)
    sns.scatterplot(data=approvals, x="date", y="agency", hue="agency", s=120, ax=ax, legend=False,
                    palette={"FDA": "#1b6f9a", "EMA": "#6a4c93"})
    for row in approvals.itertuples():
        ax.annotate(f"{row.date:%Y-%m-%d}\n{row.approval_type}, {row.setting}", (row.date, row.agency),
                    xytext=(0, 12), textcoords="offset points", ha="center", fontsize=8)
    ax.set(xlabel="", ylabel="")
    ax.margins(x=0.12, y=0.9)
    alt = "Timeline of approvals: " + "; ".join(
        f"{r.agency} {r.approval_type} ({r.setting}) on {r.date:%Y-%m-%d}" for r in approvals.itertuples()) + "."
    return _make("approval_timeline", figure, "Regulatory approvals of crizotinib with a stated date.", alt,
                 evidence, list(approvals["source_id"]))


def relapse_timescale_figure(evidence: Evidence, time_unit: str = "months") -> ReportFigure:
    """Where the review's time points fall: PFS medians, time to resistance, relapse windows."""
    per_month = 1.0 if time_unit == "months" else 1 / 12
    rows = []
    names = evidence.trials.set_index("trial_id")["trial_name"]
    for o in evidence.outcomes[evidence.outcomes["endpoint"] == "PFS median"].itertuples():
        rows.append((f"Median PFS, {names[o.trial_id]}, {o.arm}", float(o.value) * per_month, o.arm, o.source_id))
    for m in evidence.resistance_measures[evidence.resistance_measures["unit"] == "months"].itertuples():
        rows.append((f"{m.measure} ({m.qualifier})", float(m.value) * per_month, "crizotinib", m.source_id))
    for p in evidence.relapse_patterns.dropna(subset=["time_threshold"]).itertuples():
        months = float(p.time_threshold) * (12 if p.time_unit == "years" else 1)
        rows.append((f"{p.pattern} ({p.frequency_as_stated})", months * per_month, "crizotinib", p.source_id))
    frame = pd.DataFrame(rows, columns=["event", "time", "arm", "source_id"]).sort_values("time")
    figure, ax = _figure(7.5, 0.42 * len(frame) + 1.2)
    sns.scatterplot(data=frame, x="time", y="event", hue="arm", palette=ARM_COLOURS, s=90, ax=ax)
    for row in frame.itertuples():
        ax.annotate(f"{row.time:.1f}", (row.time, row.event), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.set(xlabel=f"Time from start of treatment ({time_unit})", ylabel="")
    ax.set_xlim(left=0)
    ax.legend(title="Arm", loc="lower right")
    alt = f"Dot plot of time points in {time_unit}: " + "; ".join(
        f"{r.event} at {r.time:.1f}" for r in frame.itertuples()) + "."
    return _make("relapse_timescale", figure,
                 f"Time scales of benefit and relapse on crizotinib ({time_unit}).", alt, evidence,
                 list(frame["source_id"]))


def mechanisms_figure(evidence: Evidence, include_unquantified: bool = True) -> ReportFigure:
    """Share of resistant patients per mechanism: ranges as bars, unquantified ones marked."""
    m = evidence.resistance_mechanisms.copy()
    if not include_unquantified:
        m = m[m["frequency_low_pct"].notna()]
    m = m.reset_index(drop=True)
    figure, ax = _figure(7.5, 0.5 * len(m) + 1.4)
    palette = {"ALK-dependent": "#1b6f9a", "ALK-independent": "#c2653a", "not stated": "#7a7a7a"}
    for position, row in m.iterrows():
        colour = palette[row["alk_dependence"]]
        if pd.isna(row["frequency_low_pct"]):
            ax.text(1, position, "share not stated in the review", va="center", fontsize=8, color=colour,
                    style="italic")
            continue
        low, high = float(row["frequency_low_pct"]), float(row["frequency_high_pct"])
        width = max(high - low, 0.8)
        ax.barh(position, width, left=low if high > low else low - 0.4, color=colour, height=0.5)
        label = f"{low:g}–{high:g}%" if high > low else f"≈{low:g}%"
        ax.text(high + 1.5, position, label, va="center", fontsize=9)
    ax.set_yticks(range(len(m)), m["mechanism"].str.wrap(38))
    ax.invert_yaxis()
    ax.set(xlim=(0, 100), xlabel="Share of patients with acquired resistance (%)")
    handles = [Patch(color=c, label=k) for k, c in palette.items() if k in set(m["alk_dependence"])]
    ax.legend(handles=handles, title="ALK dependence", loc="lower right", fontsize=8)
    alt = "Mechanisms of resistance with the share of resistant patients: " + "; ".join(
        f"{r.mechanism}: {r.frequency_as_stated}" for r in m.itertuples()) + "."
    return _make("resistance_mechanisms", figure,
                 "Mechanisms of acquired resistance to crizotinib; bars show the published range of the share of "
                 "resistant patients.", alt, evidence, list(m["source_id"]))
