"""Report figures: pure functions from the evidence to captioned, sourced seaborn figures.

Figures are built on matplotlib.figure.Figure, not pyplot, so nothing is shown twice in a
notebook and nothing depends on a display: ReportFigure renders itself as HTML with alt text.
Text in a figure is drawn as written, never as mathtext: a trial named `US$ 5 to $10` keeps its
dollars, and `$$` draws instead of failing the report.
"""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
from dataclasses import dataclass

import matplotlib
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.text import Text

from .citations import LEVEL_MARKS, Credit, cited_sources, credits_of, short_citation, source_line
from .data import Evidence
from .analysis import (ANALYSES, CNS_ENDPOINTS, arm_comparisons, comparator_trials, crizotinib_control_medians,
                       hazard_ratios_vs_crizotinib, outcome_pairs, pooled_orr, reference_trial, response_rates, rows_of,
                       select_trials)
from .stats import POOLED_INTERVALS
from .tables import (CROSS_TRIAL_CAVEAT, REPORT_FONTS, analysis_name, analysis_text, assessor_text, design_groups,
                     harms_by_trial, harms_summary, hazard_ratio_direction, level_text, lines_of_therapy, or_list,
                     ordered_by_design, numbered_anchor, pair_credits, pooled_arms_named, read_in, trials_counted)

ARM_COLOURS = {"crizotinib": "#1b6f9a", "chemotherapy": "#c2653a"}
ROLE_COLOURS = {"experimental": "#1b6f9a", "comparator": "#c2653a"}  # the role crizotinib played in a trial
COLOUR_NAMES = {"#1b6f9a": "blue", "#c2653a": "orange"}  # as a caption names them
DPI = 150
#: Drawn under these settings, so the tick labels matplotlib makes while drawing are literal text too.
LITERAL_TEXT = {"text.parse_math": False}
#: How to read each CNS endpoint a figure draws.
CNS_ENDPOINT_READING = {"intracranial ORR": "intracranial response (higher is better)",
                        "CNS progression": "CNS progression (lower is better)"}
#: Value labels sit on a white box drawn above the grid and reference lines, so no line runs through them.
LABEL_BOX = {"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"}
LABEL_ZORDER = 5
#: Points between a label and the mark it labels (a bar end, a whisker cap, a dot's edge).
LABEL_GAP = 4
#: Log-axis ticks: 1, 2 and 5 times a power of ten, printed plainly (0.1, 0.2, 0.5, 1, 2).
LOG_TICK_STEPS = (1, 2, 5)
#: A mechanism's share label sits right of its bar up to this share (%), left of it beyond.
MECHANISM_LABEL_RIGHT_UNTIL = 55


@dataclass(frozen=True)
class ReportFigure:
    name: str
    figure: Figure
    caption: str
    alt: str
    source_ids: tuple[str, ...]  # every source the reference list needs for this figure
    source_text: str
    credits: tuple[Credit, ...] = ()
    number: str = ""  # '2.1' once a report shows it (the report's number, then the figure's within it)

    @property
    def label(self) -> str:
        """'Figure 2.1', the name a reader cites; empty before a report numbers it."""
        return f"Figure {self.number}" if self.number else ""

    @property
    def anchor(self) -> str:
        return numbered_anchor("figure", self.number, self.name)

    def png_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with matplotlib.rc_context(LITERAL_TEXT):
            self.figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.png_bytes()).decode("ascii")
        return (
            f'<figure class="report-figure" id="{html.escape(self.anchor)}" data-name="{html.escape(self.name)}" '
            f'data-label="{html.escape(self.contents_label)}">'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}" style="max-width:100%"/>'
            f"<figcaption><strong>{html.escape(f'{self.label}. ' if self.label else '')}"
            f"{html.escape(self.caption)}</strong><br/>"
            f'<span class="source-line">{html.escape(self.source_text)}</span></figcaption></figure>'
        )

    @property
    def contents_label(self) -> str:
        """'Figure 2.1. Objective response rate by trial and arm': the caption's first clause, for contents and
        bookmarks (a whole caption is a paragraph)."""
        first = first_clause(self.caption)
        return f"{self.label}. {first}" if self.label else first

    def __repr__(self) -> str:
        return f"<ReportFigure {self.name}: {self.caption}>"


def first_clause(caption: str) -> str:
    """The caption up to its first ', ', '; ' or '. ' outside parentheses, without a closing full stop."""
    depth = 0
    for index, char in enumerate(caption):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char in ",;." and caption[index + 1:index + 2] == " ":
            return caption[:index]
    return caption.rstrip(".")


def _figure(width: float = 7.5, height: float = 3.6,
            panel_heights: list[int] | None = None) -> tuple[Figure, object]:
    """A figure with one axis, or with one panel per entry of `panel_heights` (stacked, sharing x)."""
    sns.set_theme(style="whitegrid", context="notebook", font=REPORT_FONTS[0])  # the tables' and text's family
    figure = Figure(figsize=(width, height), layout="constrained")
    if panel_heights is None:
        return figure, figure.subplots()
    return figure, list(figure.subplots(len(panel_heights), 1, sharex=True, height_ratios=panel_heights,
                                        squeeze=False)[:, 0])


def _label(ax, text: str, xy: tuple, offset: tuple[float, float] = (LABEL_GAP, 0), **style) -> object:
    """A value label `offset` points from the data point `xy`, on a white box above gridlines and reference lines."""
    style = {"fontsize": 8, "va": "center", "ha": "left", **style}
    return ax.annotate(text, xy, xytext=offset, textcoords="offset points", bbox=LABEL_BOX, zorder=LABEL_ZORDER,
                       **style)


def _legend_above(ax, **options) -> None:
    """The legend in one row above the axes, clear of every bar, dot and label in the data area."""
    count = len(options["handles"]) if "handles" in options else len(ax.get_legend_handles_labels()[0])
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.01), borderaxespad=0, ncols=count, frameon=False,
              fontsize=8, title_fontsize=8, alignment="left", **options)


def _log_ticks(low: float, high: float) -> list[float]:
    """Readable ticks for a log axis over low..high: 1, 2 and 5 times powers of ten from the one at or below `low`
    to the one at or above `high` (0.1, 0.2, 0.5, 1); powers of ten alone beyond three decades."""
    steps = LOG_TICK_STEPS if math.log10(high / low) <= 3 else (1,)
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    candidates = sorted(round(step * 10.0 ** power, 12) for power in range(first, last + 1) for step in steps)
    start = max(t for t in candidates if t <= low * (1 + 1e-9))
    stop = min(t for t in candidates if t >= high * (1 - 1e-9))
    return [t for t in candidates if start <= t <= stop]


def _make(name: str, figure: Figure, caption: str, alt: str, evidence: Evidence, credits: list[Credit],
          trial_ids: list[str] | None = None) -> ReportFigure:
    """A ReportFigure crediting exactly `credits`; figures from several trials carry the cross-trial caveat."""
    # Every text made so far (labels, ticks set from data, legends, annotations) reads '$' as a dollar.
    for text in figure.findobj(Text):
        text.set_parse_math(False)
    if trial_ids is not None and len(set(trial_ids)) > 1:
        caption = f"{caption} {CROSS_TRIAL_CAVEAT}"
    return ReportFigure(name, figure, caption, alt, tuple(cited_sources(evidence.sources, credits)),
                        source_line(evidence.sources, credits), tuple(credits))


def response_rate_figure(evidence: Evidence, setting: str = "all", include_single_arm: bool = True,
                         confidence_level: float = 0.95, ci_method: str = "exact") -> ReportFigure:
    """ORR by trial, arm and analysis, single-arm and randomized trials in separate panels; whiskers where a
    denominator allows an interval, the derived responder count beside each bar."""
    trials = ordered_by_design(select_trials(evidence.trials, setting, include_single_arm))
    rates = response_rates(evidence, confidence_level, ci_method, list(trials["trial_id"]), ANALYSES)
    groups = design_groups(trials)
    rates["group"] = rates["trial_id"].map(groups)
    rates["order"] = rates["trial_id"].map({t: i for i, t in enumerate(trials["trial_id"])})
    rates = rates.sort_values(["order", "analysis"], key=lambda c: c.map(ANALYSES.index) if c.name == "analysis"
                              else c, kind="stable").reset_index(drop=True)
    rates["label"] = [f"{r.trial_name}\n{r.arm}" + ("" if r.analysis == "primary" else f", {r.analysis} analysis")
                      for r in rates.itertuples()]
    panels = list(dict.fromkeys(rates["group"]))
    sizes = [int((rates["group"] == g).sum()) for g in panels]
    figure, axes = _figure(7.5, 0.6 * len(rates) + 0.6 * len(panels) + 0.8, panel_heights=sizes)
    for ax, panel in zip(axes, panels):
        shown = rates[rates["group"] == panel].reset_index(drop=True)
        ax.barh(range(len(shown)), shown["orr_pct"], color=[ARM_COLOURS.get(a, "#7a7a7a") for a in shown["arm"]],
                height=0.6)
        for position, row in shown.iterrows():
            right = row["orr_pct"]
            if pd.notna(row["ci_low_pct"]):
                ax.errorbar(x=row["orr_pct"], y=position, xerr=[[row["orr_pct"] - row["ci_low_pct"]],
                                                                [row["ci_high_pct"] - row["orr_pct"]]],
                            fmt="none", ecolor="black", capsize=4, lw=1.2)
                right = max(right, row["ci_high_pct"])
            text = f"{row['orr_pct']:g}%"
            if pd.notna(row["responders_derived"]):
                text += f" · {int(row['responders_derived'])} of {int(row['denominator'])} (derived)"
            _label(ax, text, (right, position))  # beyond the whisker's cap (or the bar's end), never on it
        ax.set_yticks(range(len(shown)), shown["label"])
        ax.set_ylim(len(shown) - 0.5, -0.5)
        ax.set_title(panel, loc="left", fontsize=9, fontweight="bold")
    # Room right of 100% for the labels; ticks only where rates can be.
    axes[-1].set(xlim=(0, 135), xticks=range(0, 101, 25), xlabel="Objective response rate (%)")
    level = level_text(confidence_level)
    alt = "Horizontal bars of objective response rate, in panels by design: " + "; ".join(
        f"{panel}: " + ", ".join(
            f"{r.trial_name} {r.arm} ({r.analysis} analysis) {r.orr_pct:g}%"
            + (f", {int(r.responders_derived)} of {int(r.denominator)} responders (derived)"
               if pd.notna(r.responders_derived) else "")
            for r in rates[rates["group"] == panel].itertuples()) for panel in panels) + "."
    return _make("response_rates", figure,
                 "Objective response rate by trial and arm, single-arm and randomized trials in separate panels: a "
                 "single-arm trial has no control arm, so its rate is not to be read against a randomized arm. "
                 f"Whiskers are {level} intervals where the denominator is known, on responder counts derived from "
                 "the published percentage and N.", alt, evidence, credits_of(rates), list(rates["trial_id"]))


def pfs_figure(evidence: Evidence, setting: str = "all") -> ReportFigure:
    """Median PFS of crizotinib against chemotherapy in the phase III trials, with who assessed progression."""
    trials = select_trials(evidence.trials, setting, include_single_arm=False)
    pfs = rows_of(evidence.outcomes, list(trials["trial_id"]), "primary", endpoint="PFS median").copy()
    by_id = trials.set_index("trial_id")
    pfs["trial"] = [f"{by_id.loc[r.trial_id, 'trial_name']} ({by_id.loc[r.trial_id, 'setting']})"
                    + (f"\n{r.assessor}" if assessor_text(r.assessor) else "") for r in pfs.itertuples()]
    pfs["months"] = pfs["value"].astype(float)
    figure, ax = _figure(7.5, 3.2)
    sns.barplot(data=pfs, x="trial", y="months", hue="arm", palette=ARM_COLOURS, ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.1f", padding=LABEL_GAP, bbox=LABEL_BOX, zorder=LABEL_ZORDER)
    ax.set(xlabel="", ylabel="Median PFS (months)")
    ax.margins(y=0.15)
    _legend_above(ax, title="Arm")
    alt = "Bar chart of median progression-free survival: " + "; ".join(
        f"{by_id.loc[r.trial_id, 'trial_name']} {r.arm} {r.months:.1f} months"
        + (f" ({r.assessor})" if assessor_text(r.assessor) else "") for r in pfs.itertuples()) + "."
    return _make("pfs_medians", figure, f"Median progression-free survival by trial and arm in "
                 f"{trials_counted(trials[trials['trial_id'].isin(pfs['trial_id'])])} (assessor under each trial).",
                 alt, evidence, credits_of(pfs), list(pfs["trial_id"]))


def approval_timeline_figure(evidence: Evidence) -> ReportFigure:
    approvals = evidence.approvals.dropna(subset=["date"]).sort_values("date")
    figure, ax = _figure(7.5, 2.4)
    sns.scatterplot(data=approvals, x="date", y="agency", hue="agency", s=120, ax=ax, legend=False,
                    palette={"FDA": "#1b6f9a", "EMA": "#6a4c93"})
    for row in approvals.itertuples():
        _label(ax, f"{row.date:%Y-%m-%d}\n" + textwrap.fill(f"{row.approval_type}, {row.setting}", 22),
               (row.date, row.agency), offset=(0, 8), ha="center", va="bottom")
    ax.set(xlabel="", ylabel="")
    ax.margins(x=0.15, y=1.4)
    alt = "Timeline of approvals: " + "; ".join(
        f"{r.agency} {r.approval_type} ({r.setting}) on {r.date:%Y-%m-%d}" for r in approvals.itertuples()) + "."
    return _make("approval_timeline", figure, "Regulatory approvals of crizotinib with a stated date.", alt,
                 evidence, credits_of(approvals))


def relapse_timescale_figure(evidence: Evidence, time_unit: str = "months") -> ReportFigure:
    """Where the review's time points fall: PFS medians and a mean as points, its relapse thresholds as arrows.

    "Within the first year" and "over 6 years" are thresholds the review states in words, not
    estimates: they are drawn as arrows from the threshold ('<' within, '>' over), never as points
    beside the medians.
    """
    per_month = 1.0 if time_unit == "months" else 1 / 12
    names = evidence.trials.set_index("trial_id")["trial_name"]
    development = list(select_trials(evidence.trials)["trial_id"])
    pfs = rows_of(evidence.outcomes, development, "primary", endpoint="PFS median")
    means = evidence.resistance_measures[evidence.resistance_measures["unit"] == "months"]
    thresholds = evidence.relapse_patterns.dropna(subset=["time_threshold"])
    rows = []
    for credit, o in zip(credits_of(pfs), pfs.itertuples()):
        rows.append((f"{names[o.trial_id]}, {o.arm}: median PFS ({credit.mark})", float(o.value) * per_month,
                     "estimate", o.arm, credit))
    for credit, m in zip(credits_of(means), means.itertuples()):
        rows.append((f"{m.measure} ({m.qualifier}, {credit.mark})", float(m.value) * per_month, "estimate",
                     "crizotinib", credit))
    for credit, p in zip(credits_of(thresholds), thresholds.itertuples()):
        months = float(p.time_threshold) * (12 if p.time_unit == "years" else 1)
        direction = "over" if "over" in p.pattern.lower() else "within"
        rows.append((f"{p.pattern}: {p.frequency_as_stated} (threshold, {credit.mark})", months * per_month,
                     direction, "crizotinib", credit))
    frame = pd.DataFrame(rows, columns=["event", "time", "kind", "arm", "credit"])
    figure, ax = _figure(7.5, 0.55 * len(frame) + 1.4)
    positions = {event: i for i, event in enumerate(frame["event"])}
    right = max(frame["time"]) * 1.2
    for row in frame.itertuples():
        y = positions[row.event]
        if row.kind == "estimate":
            ax.scatter([row.time], [y], color=ARM_COLOURS[row.arm], s=70, zorder=3)
            _label(ax, f"{row.time:.1f}", (row.time, y), offset=(LABEL_GAP + 4, 0))
        else:  # a threshold: an arrow over the stated range, no point estimate
            start, stop = (0, row.time) if row.kind == "within" else (row.time, right)
            ax.annotate("", xy=(stop if row.kind == "over" else start, y), xytext=(row.time, y),
                        arrowprops={"arrowstyle": "->", "color": "#6a4c93", "lw": 1.5})
            ax.plot([row.time], [y], marker="|", markersize=14, color="#6a4c93")
            _label(ax, f"{'<' if row.kind == 'within' else '>'} {row.time:g}", (row.time, y),
                   offset=(0, 7 + LABEL_GAP / 2), ha="center", va="bottom", color="#6a4c93")
    ax.set_yticks(range(len(frame)), [textwrap.fill(e, 34) for e in frame["event"]], fontsize=8)
    ax.set_ylim(-0.7, len(frame) - 0.3)
    ax.invert_yaxis()
    ax.set(xlabel=f"Time from start of treatment ({time_unit})", ylabel="")
    ax.set_xlim(0, right)
    alt = f"Time points in {time_unit}: " + "; ".join(
        f"{r.event} at {r.time:.1f}" if r.kind == "estimate" else
        f"{r.event}: {'less' if r.kind == 'within' else 'more'} than {r.time:g}" for r in frame.itertuples()) + "."
    estimates = list(dict.fromkeys(["median PFS"] * (not pfs.empty) + list(means["qualifier"].fillna("estimate"))))
    levels = {credit.level for credit in frame["credit"]}
    caption = (f"Time scales of benefit and relapse on crizotinib ({time_unit}): estimates as points "
               f"({or_list(estimates, 'and')})")
    if len(thresholds):
        caption += (f"; the relapse thresholds {read_in(evidence, thresholds)} states ("
                    + "; ".join(f"'{p}'" for p in thresholds["pattern"]) + ") as arrows, since they are not estimates")
    caption += ". Marks: " + ", ".join(f"{mark} {level}" for level, mark in LEVEL_MARKS.items() if level in levels) + "."
    return _make("relapse_timescale", figure, caption, alt, evidence, list(frame["credit"]))


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
            _label(ax, f"share not stated in {short_citation(evidence.sources, row['source_id'])}", (0, position),
                   color=colour, style="italic")
            continue
        low, high = float(row["frequency_low_pct"]), float(row["frequency_high_pct"])
        width = max(high - low, 0.8)
        left = low if high > low else low - 0.4
        ax.barh(position, width, left=left, color=colour, height=0.5)
        text = f"{low:g}–{high:g}%" if high > low else (  # a share stated in words, its derived number marked so
            f"{textwrap.fill(row['frequency_as_stated'], 26)}\n(≈{low:.0f}%, derived)")
        if high <= MECHANISM_LABEL_RIGHT_UNTIL:
            _label(ax, text, (left + width, position))
        else:  # past the middle: the label reads leftwards from the bar, inside the axis
            _label(ax, text, (left, position), offset=(-LABEL_GAP, 0), ha="right")
    ax.set_yticks(range(len(m)), m["mechanism"].str.wrap(38))
    ax.set_ylim(len(m) - 0.5, -0.5)  # half a row beyond the first and last: no label on the frame
    ax.set(xlim=(0, 100), xlabel="Share of patients with acquired resistance (%)")
    handles = [Patch(color=c, label=k) for k, c in palette.items() if k in set(m["alk_dependence"])]
    _legend_above(ax, handles=handles, title="ALK dependence")
    alt = "Mechanisms of resistance with the share of resistant patients: " + "; ".join(
        f"{r.mechanism}: {r.frequency_as_stated}" for r in m.itertuples()) + "."
    return _make("resistance_mechanisms", figure,
                 "Mechanisms of acquired resistance to crizotinib; bars show the range of the share of resistant "
                 f"patients as {read_in(evidence, m)} states it (a share stated in words is drawn at its derived value "
                 "and labelled so).", alt, evidence, credits_of(m))


def _forest(ax, labels: list[str], estimates: list[float], lows: list[float], highs: list[float], reference: float,
            log_scale: bool, colour: str = "#1b6f9a", diamond_last: bool = False) -> None:
    """A forest plot on an axis: one row a label, whiskers for the interval, a line at no effect."""
    rows = list(range(len(labels)))[::-1]
    for row, estimate, low, high, index in zip(rows, estimates, lows, highs, range(len(labels))):
        if diamond_last and index == len(labels) - 1:
            ax.fill([low, estimate, high, estimate], [row, row + 0.25, row, row - 0.25], color="#c2653a")
        else:
            ax.errorbar(estimate, row, xerr=[[estimate - low], [high - estimate]], fmt="s", color=colour,
                        ecolor=colour, capsize=4, markersize=7)
    ax.axvline(reference, color="#444444", linestyle="--", linewidth=1)
    if log_scale:
        ax.set_xscale("log")
        ticks = _log_ticks(min(min(lows), reference), max(max(highs), reference))
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_xlim(ticks[0] / 1.15, ticks[-1] * 1.15)
        ax.minorticks_off()
    ax.set_yticks(rows, labels)
    ax.set_ylim(-0.7, len(labels) - 0.3)


def hazard_ratio_forest(evidence: Evidence, setting: str = "all") -> ReportFigure:
    """Published PFS and OS hazard ratios of the phase III trials, log scale, reference line at 1; each row names
    its endpoint, assessor, analysis and any adjustment, and its interval level."""
    trials = select_trials(evidence.trials, setting, include_single_arm=False)
    every = rows_of(evidence.hazard_ratios, list(trials["trial_id"]))
    every = every.assign(order=every["trial_id"].map({t: i for i, t in enumerate(trials["trial_id"])}),
                         analysis_order=every["analysis"].map(ANALYSES.index)).sort_values(
        ["order", "endpoint", "analysis_order"], ascending=[True, False, True], kind="stable")
    hr = every.dropna(subset=["ci_low", "ci_high"])
    undrawn = every[every["ci_low"].isna()]
    names = evidence.trials.set_index("trial_id")["trial_name"]

    def label(r: pd.Series) -> str:
        who = assessor_text(r["assessor"])
        head = " · ".join(part for part in (names[r["trial_id"]], r["endpoint"], who) if part)
        how = analysis_text(r["analysis"], r["analysis_label"])
        if pd.notna(r["adjustment"]):
            how += f", {r['adjustment']}"
        digits = int(r["decimals"])
        return (f"{head}\n{how}\nHR {r['hazard_ratio']:.{digits}f}, {level_text(r['ci_level'])} CI "
                f"{r['ci_low']:.{digits}f}–{r['ci_high']:.{digits}f}")

    labels = [label(r) for _, r in hr.iterrows()]
    figure, ax = _figure(7.5, 0.75 * max(len(hr), 1) + 1.2)
    if len(hr):
        _forest(ax, labels, list(hr["hazard_ratio"]), list(hr["ci_low"]), list(hr["ci_high"]), 1.0, log_scale=True)
    pairs = list(dict.fromkeys(zip(every["experimental_arm"], every["control_arm"])))
    ax.set_xlabel("Hazard ratio (log scale): " + "; ".join(f"{e} vs {c}, below 1 favours {e}" for e, c in pairs))
    ax.tick_params(axis="y", labelsize=9)
    alt = "Forest plot of published hazard ratios: " + "; ".join(
        label(r).replace("\n", ", ") for _, r in hr.iterrows()) + "; reference line at 1."
    caption = ("Published hazard ratios for progression-free survival (PFS) and overall survival (OS), each at the "
               "level its publication reports; PFS rows name who assessed progression, and a crossover-adjusted OS "
               "ratio is a model-based estimate, shown beside the unadjusted one. " + hazard_ratio_direction(every))
    if len(undrawn):
        caption += " Not drawn (no interval transcribed): " + "; ".join(
            f"{names[r.trial_id]} {r.endpoint} HR {r.hazard_ratio}" for r in undrawn.itertuples()) + "."
    return _make("hazard_ratio_forest", figure, caption, alt, evidence, credits_of(every), list(every["trial_id"]))


def orr_difference_forest(evidence: Evidence, confidence_level: float = 0.95, setting: str = "all") -> ReportFigure:
    """ORR difference (crizotinib minus chemotherapy) per phase III trial, reference line at 0."""
    c = arm_comparisons(evidence, confidence_level, setting)
    level = level_text(confidence_level)
    labels = [f"{r.trial_name} ({r.setting})\n{r.orr_difference_pct:.1f} points (derived), {level} CI "
              f"{r.orr_difference_low_pct:.1f}–{r.orr_difference_high_pct:.1f}" for r in c.itertuples()]
    figure, ax = _figure(7.5, 0.8 * max(len(c), 1) + 1.4)
    if len(c):
        _forest(ax, labels, list(c["orr_difference_pct"]), list(c["orr_difference_low_pct"]),
                list(c["orr_difference_high_pct"]), 0.0, log_scale=False)
    ax.set_xlabel("ORR difference, crizotinib minus chemotherapy (percentage points); > 0 favours crizotinib")
    ax.set_xlim(min(-5, ax.get_xlim()[0]), max(60, ax.get_xlim()[1]))
    alt = "Forest plot of ORR differences (derived): " + "; ".join(
        f"{r.trial_name} {r.orr_difference_pct:.1f} points ({level} CI {r.orr_difference_low_pct:.1f} to "
        f"{r.orr_difference_high_pct:.1f})" for r in c.itertuples()) + "; reference line at 0."
    shown = list(c.get("trial_id", []))
    return _make("orr_difference_forest", figure,
                 f"Difference in objective response rate with {level} Newcombe intervals, derived from responder "
                 "counts that are themselves derived (published percentage times N).", alt, evidence,
                 credits_of(rows_of(evidence.outcomes, shown, "primary", endpoint="ORR")), shown)


def pooled_orr_forest(evidence: Evidence, confidence_level: float = 0.95, ci_method: str = "exact",
                      pooled_interval: str = "dersimonian-laird", setting: str = "all",
                      include_single_arm: bool = True) -> ReportFigure:
    """The ORR of the crizotinib arms of the trials shown and their exploratory pool: the diamond is the interval
    on the pooled rate, the thin line beyond it the prediction interval for a new trial."""
    arms, summary = pooled_orr(evidence, confidence_level, ci_method, pooled_interval, setting, include_single_arm)
    level = level_text(confidence_level)
    has_prediction = pd.notna(summary["prediction_low_pct"])
    labels = [f"{r.trial_name}: {r.orr_pct:g}%, {int(r.responders_derived)} of {int(r.denominator)} (derived)"
              for r in arms.itertuples()]
    pooled_label = f"Pooled, random effects: {summary['estimate_pct']:.1f}% (I² {summary['i2_pct']:.0f}%)"
    if has_prediction:
        pooled_label += (f"\nprediction interval {summary['prediction_low_pct']:.1f}–"
                         f"{summary['prediction_high_pct']:.1f}%")
    labels.append(pooled_label)
    figure, ax = _figure(7.5, 0.5 * len(labels) + 1.6)
    _forest(ax, labels, list(arms["orr_pct"]) + [summary["estimate_pct"]],
            list(arms["ci_low_pct"]) + [summary["low_pct"]], list(arms["ci_high_pct"]) + [summary["high_pct"]],
            summary["estimate_pct"], log_scale=False, diamond_last=True)
    if has_prediction:  # the pooled row is drawn at y=0
        ax.hlines(0, summary["prediction_low_pct"], summary["prediction_high_pct"], color="#c2653a", lw=1.2, zorder=1)
        ax.vlines([summary["prediction_low_pct"], summary["prediction_high_pct"]], -0.12, 0.12, color="#c2653a",
                  lw=1.2)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"Objective response rate, crizotinib arms (%), {level} intervals")
    alt = (f"Forest plot of crizotinib-arm response rates with the exploratory pooled estimate "
           f"{summary['estimate_pct']:.1f}% ({level} CI {summary['low_pct']:.1f} to {summary['high_pct']:.1f}"
           + (f"; {level} prediction interval {summary['prediction_low_pct']:.1f} to "
              f"{summary['prediction_high_pct']:.1f}" if has_prediction else "")
           + f"), I-squared {summary['i2_pct']:.0f}%: " + "; ".join(labels[:-1]) + ".")
    caption = (f"EXPLORATORY: response rates of {pooled_arms_named(arms)} and their random-effects pool (dashed line). "
               f"Diamond: {level} interval on the pooled rate ({POOLED_INTERVALS[summary['interval']]}).")
    if has_prediction:
        caption += (f" Thin line beyond it: {level} prediction interval for the rate of a new, similar trial "
                    "(Higgins et al. 2009).")
    return _make("pooled_orr_forest", figure, caption, alt, evidence, credits_of(arms), list(arms["trial_id"]))


# --- the landscape: crizotinib as the comparator of the newer drugs ------------------------------------


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
    ax.set_xlabel(textwrap.fill(f"PFS hazard ratio of each row's drug ({or_list(every['experimental_arm'])}) against "
                                f"{or_list(every['control_arm'])} (log scale); below 1 favours that drug", 90))
    alt = "Forest plot of PFS hazard ratios against crizotinib: " + "; ".join(
        f"{r.trial_name} {r.drug} HR {r.hazard_ratio:.{r.decimals}f} ({level_text(r.ci_level)} CI "
        f"{r.ci_low:.{r.decimals}f} to {r.ci_high:.{r.decimals}f}, {r.assessor})" for r in hr.itertuples()) + \
        "; reference line at 1."
    by_assessor = {a: or_list(g["trial_name"], "and") for a, g in every.groupby("assessor", sort=False)}
    shown_trials = evidence.trials[evidence.trials["trial_id"].isin(every["trial_id"])]
    caption = (f"Progression-free survival in {lines_of_therapy(shown_trials).lower()} of "
               f"{or_list(every['drug'], 'and')} against crizotinib; each "
               "interval at the level its publication reports. Progression was judged by "
               + ("different assessors (" + "; ".join(f"{a}: {names}" for a, names in by_assessor.items()) + ")"
                  if len(by_assessor) > 1 else f"{or_list(by_assessor)} in every trial shown")
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
                    f"{or_list(without, 'and')}")
    caption += "."
    harm_credits = [c for items in harms.values() for item in items for c in item["credits"]]
    return _make("landscape_forest", figure, caption, alt, evidence, credits_of(every) + harm_credits, trial_ids)


def crizotinib_medians_figure(evidence: Evidence, analysis: str = "primary") -> ReportFigure:
    frame = crizotinib_control_medians(evidence, analysis).sort_values("median_pfs_months")
    reference_name = reference_trial(evidence)["trial_name"]
    reference = float(frame.loc[frame["trial_id"] == frame["reference_trial_id"], "median_pfs_months"].iloc[0])
    figure, ax = _figure(7.5, 0.45 * len(frame) + 1.3)
    colours = frame["crizotinib_role"].map(ROLE_COLOURS)
    ax.scatter(frame["median_pfs_months"], range(len(frame)), c=list(colours), s=70, zorder=3)
    for position, row in enumerate(frame.itertuples()):
        _label(ax, f"{row.median_pfs_months:.1f}", (row.median_pfs_months, position), offset=(LABEL_GAP + 4, 0))
    ax.axvline(reference, color="#444444", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(frame)), [f"{n} ({r})" for n, r in zip(frame["trial_name"], frame["crizotinib_role"])])
    ax.set_xlim(0, max(frame["median_pfs_months"]) * 1.25)
    ax.set_xlabel(f"Median PFS on crizotinib, months (dashed: {reference_name}, {reference:.1f})")
    alt = "Dot plot of crizotinib's median PFS in first-line trials: " + "; ".join(
        f"{r.trial_name} {r.median_pfs_months:.1f} months" for r in frame.itertuples()) + \
        f"; reference line at {reference_name}'s {reference:.1f} months."
    roles = " and ".join(f"as {role} arm ({COLOUR_NAMES[ROLE_COLOURS[role]]})"
                         for role in dict.fromkeys(frame["crizotinib_role"]))
    return _make("crizotinib_medians", figure,
                 f"Crizotinib's median progression-free survival across first-line trials, {roles}; populations and "
                 "assessors differ (table above).", alt, evidence, credits_of(frame), list(frame["trial_id"]))


def cns_figure(evidence: Evidence, analysis: str = "primary", drugs: str = "all") -> ReportFigure:
    trials = comparator_trials(evidence, drugs)
    pairs = outcome_pairs(evidence, list(trials["trial_id"]), list(CNS_ENDPOINTS), analysis)
    figure, ax = _figure(7.5, 0.5 * max(len(pairs), 1) + 1.4)
    labels = [f"{r.trial_name}: {r.endpoint}" for r in pairs.itertuples()]
    experimental, control = or_list(pairs.get("experimental_arm", [])), or_list(pairs.get("control_arm", []))
    for position, row in enumerate(pairs.itertuples()):
        ax.plot([row.control_value, row.experimental_value], [position, position], color="#999999", zorder=1)
        ax.scatter([row.control_value], [position], color=ROLE_COLOURS["comparator"], s=60, zorder=2,
                   label=control if position == 0 else None)
        ax.scatter([row.experimental_value], [position], color=ROLE_COLOURS["experimental"], s=60, zorder=2,
                   label=experimental if position == 0 else None)
    ax.set_yticks(range(len(pairs)), labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of patients")
    if len(pairs):
        _legend_above(ax)
    alt = "Paired dot plot of CNS outcomes: " + "; ".join(
        f"{r.trial_name} {r.endpoint}, {r.control_arm} {r.control_value:g}% vs {r.experimental_arm} "
        f"{r.experimental_value:g}%" for r in pairs.itertuples()) + "."
    endpoints = or_list([CNS_ENDPOINT_READING[e] for e in dict.fromkeys(pairs.get("endpoint", []))], "and")
    caption = (f"{endpoints[0].upper()}{endpoints[1:]}: {experimental} ({COLOUR_NAMES[ROLE_COLOURS['experimental']]}) "
               f"against {control} ({COLOUR_NAMES[ROLE_COLOURS['comparator']]})." if len(pairs)
               else "No CNS result in this bundle for the trials shown.")
    return _make("cns_outcomes", figure, caption, alt, evidence, pair_credits(evidence, pairs),
                 list(pairs.get("trial_id", [])))
