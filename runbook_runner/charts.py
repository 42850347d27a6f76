"""The charts of the evaluation, as PNG images made with matplotlib.

Each chart is drawn on its own :class:`matplotlib.figure.Figure` with the Agg
canvas, never through ``pyplot``: no global state, no GUI backend, safe to
call from any thread. A chart without data is left out rather than drawn
empty; :func:`render_charts` returns only the charts that have something to
show.
"""

import io
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from runbook_runner import evaluation_texts as words
from runbook_runner.evaluation import Figures

log = logging.getLogger(__name__)

CHARTS = ("incidents_per_week", "sla_compliance", "resolution_by_segment", "isp_estimates")
DPI = 110

_GREEN, _AMBER, _RED, _GREY, _BLUE = "#2e7d32", "#f9a825", "#c62828", "#9e9e9e", "#1565c0"
_HOUR = timedelta(hours=1)


def render_charts(figures: Figures, lang: str) -> dict[str, bytes]:
    """Return the PNG of every chart that has data, keyed by its name in :data:`CHARTS`.

    Raises:
        UsageError: ``lang`` is not a language of the evaluation.
    """
    texts = words.texts(lang)
    drawers: dict[str, Callable[[Figures, dict[str, Any], str], Figure | None]] = {
        "incidents_per_week": _incidents_per_week,
        "sla_compliance": _sla_compliance,
        "resolution_by_segment": _resolution_by_segment,
        "isp_estimates": _isp_estimates,
    }
    images = {}
    for name in CHARTS:
        figure = drawers[name](figures, texts, lang)
        if figure is None:
            log.info("chart %s: no data in %s, left out", name, figures.period.label)
            continue
        images[name] = _png(figure)
    return images


def _incidents_per_week(figures: Figures, texts: dict[str, Any], lang: str) -> Figure | None:
    if not figures.incidents:
        return None
    figure, axes = _canvas(texts["per_week"])
    labels = [words.day(monday, lang, short=True)[:-5] for monday, _ in figures.per_week]
    counts = [count for _, count in figures.per_week]
    axes.bar(range(len(counts)), counts, color=_BLUE)
    axes.set_xticks(range(len(counts)), labels, rotation=45, ha="right", fontsize=8)
    axes.set_xlabel(texts["week_of"])
    axes.set_ylabel(texts["unit_incidents"])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    return figure


def _sla_compliance(figures: Figures, texts: dict[str, Any], lang: str) -> Figure | None:
    if not figures.incidents:
        return None
    recovered = figures.recovered
    counts = [
        figures.within_target,
        figures.within_limit - figures.within_target,
        len(recovered) - figures.within_limit,
        len(figures.open),
    ]
    names = [
        texts["sla_within_target"],
        texts["sla_within_limit"],
        texts["sla_beyond_limit"],
        texts["sla_open"],
    ]
    figure, axes = _canvas(texts["sla"])
    bars = axes.barh(names[::-1], counts[::-1], color=[_GREY, _RED, _AMBER, _GREEN])
    # Counts only: the report's shares are of the recovered incidents, not of these bars.
    axes.bar_label(bars, padding=3, fontsize=8)
    axes.set_xlabel(texts["unit_incidents"])
    axes.set_xlim(0, max(counts) * 1.35 + 0.5)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    return figure


def _resolution_by_segment(figures: Figures, texts: dict[str, Any], lang: str) -> Figure | None:
    rows = [
        (words.label(texts, "segments", segment), stats)
        for segment, stats in figures.resolution_by_segment
    ]
    if not rows:
        return None
    figure, axes = _canvas(f"{texts['resolution_by_segment']} ({texts['service_hours']})")
    positions = range(len(rows))
    means = [(stats.mean_service or timedelta()) / _HOUR for _, stats in rows]
    medians = [(stats.median_service or timedelta()) / _HOUR for _, stats in rows]
    axes.barh([p + 0.2 for p in positions], means, height=0.4, color=_BLUE, label=texts["mean"])
    axes.barh([p - 0.2 for p in positions], medians, height=0.4, color=_GREY, label=texts["median"])
    axes.set_yticks(list(positions), [f"{name} (n={stats.count})" for name, stats in rows])
    axes.invert_yaxis()
    axes.set_xlabel(texts["service_hours"])
    axes.legend(loc="lower right", fontsize=8)
    return figure


def _isp_estimates(figures: Figures, texts: dict[str, Any], lang: str) -> Figure | None:
    estimates = figures.estimates
    if not estimates:
        return None
    figure, axes = _canvas(texts["eta_chart"])
    positions = list(range(len(estimates)))
    estimated = [item.estimate / _HOUR for item in estimates]
    actual = [item.actual / _HOUR for item in estimates]
    axes.bar([p - 0.2 for p in positions], estimated, 0.4, color=_GREY, label=texts["eta_estimate"])
    bars = axes.bar(
        [p + 0.2 for p in positions], actual, 0.4, color=_BLUE, label=texts["eta_actual"]
    )
    differences = [
        f"{'+' if item.error > timedelta() else ''}{words.hours(item.error, lang)} {texts['hours']}"
        for item in estimates
    ]
    for bar, item, text in zip(bars, estimates, differences, strict=True):
        colour = _RED if item.error > timedelta() else _GREEN
        axes.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=8,
            color=colour,
        )
    axes.set_xticks(positions, [f"{item.incident_id}\n{item.provider}" for item in estimates])
    axes.tick_params(axis="x", labelsize=7)
    axes.set_ylabel(texts["eta_axis"])
    axes.set_ylim(0, max(*estimated, *actual) * 1.2)
    axes.legend(fontsize=8, loc="upper left")
    return figure


def _canvas(title: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(7.0, 3.2), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="both", alpha=0.25)
    axes.set_axisbelow(True)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software"/date metadata: the same figures give byte-identical images.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
