"""Figures checked by what their axes draw, against the data: the alt text and the caption are built apart from
the drawing, so a figure can say the right thing and draw the wrong one (whiskers mirrored, dots swapped
between arms, a trial's value at another trial's row). Each test finds a row by its tick label and reads the
artists at that row."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.patches import Polygon, Rectangle

from crizotinib_reports.evidence import analysis, figures
from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.evidence.tables import or_list
from crizotinib_reports.paths import DATA_DIR


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


def rows_by_label(ax) -> dict[str, float]:
    """Tick label -> the y at which that row is drawn."""
    return {label.get_text(): float(y) for label, y in zip(ax.get_yticklabels(), ax.get_yticks())}


def horizontal_segments(ax) -> dict[float, tuple[float, float]]:
    """y -> (left, right) of every horizontal line segment in the axes' line collections (whiskers)."""
    found = {}
    for collection in ax.collections:
        if isinstance(collection, LineCollection):
            for segment in collection.get_segments():
                (x0, y0), (x1, y1) = segment[0], segment[-1]
                if y0 == y1 and x0 != x1:
                    found[float(y0)] = (min(x0, x1), max(x0, x1))
    return found


def points(ax) -> list[tuple[float, float, str]]:
    """(x, y, colour as hex) of every scatter point."""
    drawn = []
    for collection in ax.collections:
        if isinstance(collection, PathCollection):
            colours = collection.get_facecolors()
            for index, (x, y) in enumerate(collection.get_offsets()):
                colour = colours[index if len(colours) > 1 else 0]
                drawn.append((float(x), float(y), mcolors.to_hex(colour)))
    return drawn


def test_orr_whiskers_run_from_each_rows_low_to_its_high(evidence):
    figure = figures.response_rate_figure(evidence)
    rates = analysis.response_rates(evidence, trial_ids=list(evidence.trials["trial_id"]), analyses=analysis.ANALYSES)
    by_label = {f"{r.trial_name}\n{r.arm}" + ("" if r.analysis == "primary" else f", {r.analysis} analysis"): r
                for r in rates.itertuples()}
    checked = asymmetric = 0
    for ax in figure.figure.axes:
        whiskers = horizontal_segments(ax)
        bars = {round(p.get_y() + p.get_height() / 2, 6): p.get_width() for p in ax.patches if isinstance(p, Rectangle)}
        for label, y in rows_by_label(ax).items():
            row = by_label[label]
            assert bars[round(y, 6)] == pytest.approx(row.orr_pct), label
            if pd.isna(row.ci_low_pct):
                assert y not in whiskers, f"{label}: a whisker without an interval"
                continue
            assert whiskers[y] == pytest.approx((row.ci_low_pct, row.ci_high_pct)), label
            checked += 1
            # A mirrored whisker differs from the true one only where the interval is lopsided.
            asymmetric += abs((row.orr_pct - row.ci_low_pct) - (row.ci_high_pct - row.orr_pct)) > 0.5
    assert checked >= 4 and asymmetric >= 1


def test_crizotinib_medians_are_drawn_at_their_own_trials_row_in_their_roles_colour(evidence):
    figure = figures.crizotinib_medians_figure(evidence)
    ax = figure.figure.axes[0]
    medians = analysis.crizotinib_control_medians(evidence)
    rows = rows_by_label(ax)
    drawn = {y: (x, colour) for x, y, colour in points(ax)}
    assert len(drawn) == len(medians) == len(rows)
    for r in medians.itertuples():
        x, colour = drawn[rows[f"{r.trial_name} ({r.crizotinib_role})"]]
        assert x == pytest.approx(r.median_pfs_months), r.trial_name
        assert colour == figures.ROLE_COLOURS[r.crizotinib_role], r.trial_name
    assert {"experimental", "comparator"} <= set(medians["crizotinib_role"])
    reference = analysis.reference_trial(evidence)["trial_id"]
    dashed = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"]
    assert dashed == [pytest.approx(medians.set_index("trial_id").loc[reference, "median_pfs_months"])]


def test_cns_dots_sit_at_each_arms_own_value(evidence):
    figure = figures.cns_figure(evidence)
    ax = figure.figure.axes[0]
    pairs = analysis.outcome_pairs(evidence, list(analysis.comparator_trials(evidence)["trial_id"]),
                                   list(analysis.CNS_ENDPOINTS), "primary")
    rows = rows_by_label(ax)
    drawn = points(ax)
    assert len(pairs) >= 2 and len(drawn) == 2 * len(pairs)
    for p in pairs.itertuples():
        y = rows[f"{p.trial_name}: {p.endpoint}"]
        at_row = {colour: x for x, row_y, colour in drawn if row_y == y}
        assert at_row == {figures.ROLE_COLOURS["experimental"]: pytest.approx(p.experimental_value),
                          figures.ROLE_COLOURS["comparator"]: pytest.approx(p.control_value)}, p.trial_name
    assert p.experimental_value != p.control_value  # a swap would show
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [or_list(pairs["control_arm"]), or_list(pairs["experimental_arm"])]


def test_pooled_forest_draws_each_arm_and_the_pool_from_the_pooled_analysis(evidence):
    figure = figures.pooled_orr_forest(evidence)
    ax = figure.figure.axes[0]
    arms, summary = analysis.pooled_orr(evidence)
    rows = rows_by_label(ax)
    whiskers = horizontal_segments(ax)
    squares = {float(line.get_ydata()[0]): float(line.get_xdata()[0]) for line in ax.lines if line.get_marker() == "s"}
    assert len(squares) == len(arms) >= 3
    for r in arms.itertuples():
        (y,) = [y for label, y in rows.items() if label.startswith(f"{r.trial_name}: {r.orr_pct:g}%")]
        assert squares[y] == pytest.approx(r.orr_pct), r.trial_name
        assert whiskers[y] == pytest.approx((r.ci_low_pct, r.ci_high_pct)), r.trial_name
    (pooled_y,) = [y for label, y in rows.items() if label.startswith("Pooled")]
    (diamond,) = [p for p in ax.patches if isinstance(p, Polygon)]
    xy = np.asarray(diamond.get_xy())
    assert (xy[:, 0].min(), xy[:, 0].max()) == pytest.approx((summary["low_pct"], summary["high_pct"]))
    assert xy[xy[:, 1].argmax(), 0] == pytest.approx(summary["estimate_pct"])
    assert whiskers[pooled_y] == pytest.approx((summary["prediction_low_pct"], summary["prediction_high_pct"]))
