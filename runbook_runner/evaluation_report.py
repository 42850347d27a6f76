"""The evaluation report: HTML, PDF and CSV of the figures, with the charts.

:func:`write_evaluation` writes, into one directory, for a period ``LABEL``
(``2026Q4``) and a language ``LANG`` (``id`` or ``en``):

- ``evaluation-LABEL-LANG.html``: the report, charts embedded as ``data:`` URIs
  so the one file can be mailed or opened anywhere;
- ``evaluation-LABEL-LANG.pdf``: the same report printed by WeasyPrint (A4);
- ``evaluation-LABEL-LANG.csv``: every figure, one per row (section, item,
  label, value, unit), for the office's spreadsheets;
- ``evaluation-LABEL-LANG-incidents.csv``: one row per incident of the period;
- ``evaluation-LABEL-LANG-CHART.png``: each chart, for slides.

The template is ``templates/evaluation.html.j2``; it is autoescaped, and every
value reaches it as data, already formatted here.
"""

import base64
import csv
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from runbook_runner import evaluation_texts as words
from runbook_runner import settings
from runbook_runner.charts import render_charts
from runbook_runner.errors import RunbookError
from runbook_runner.evaluation import (
    DurationStats,
    Evaluation,
    Figures,
    IncidentOutcome,
    IspFigures,
    ReportPeriod,
)

log = logging.getLogger(__name__)

TEMPLATE = "evaluation.html.j2"
_HOUR = timedelta(hours=1)

# (key, kind) of the summary; kind says how a value and its change are shown.
_SUMMARY = (
    ("incidents", "count"),
    ("recovered", "count"),
    ("open", "count"),
    ("forced", "count"),
    ("mean_service", "hours"),
    ("median_service", "hours"),
    ("mean_wall", "hours"),
    ("median_wall", "hours"),
    ("within_target", "share"),
    ("within_limit", "share"),
    ("open_past_target", "count"),
    ("escalated", "count"),
    ("escalations", "times"),
    ("repeats", "count"),
)


class ReportError(RunbookError):
    """The evaluation report cannot be rendered or written."""


@dataclass(frozen=True)
class EvaluationFiles:
    """The files one evaluation wrote."""

    html: Path
    pdf: Path
    csv: Path
    incidents_csv: Path
    charts: tuple[Path, ...]

    def all(self) -> tuple[Path, ...]:
        """Return every file, the report first."""
        return (self.html, self.pdf, self.csv, self.incidents_csv, *self.charts)


def write_evaluation(
    evaluation: Evaluation,
    out_dir: Path,
    *,
    lang: str = "id",
    generated_at: datetime,
    notes: Sequence[str] = (),
    isp_names: Mapping[str, str] | None = None,
) -> EvaluationFiles:
    """Write the report, its PDF, the CSV files and the charts into ``out_dir``.

    ``notes`` are the working calendar's warnings met while computing the
    figures; the report shows them. ``isp_names`` maps an ISP key to its name.

    Raises:
        UsageError: ``lang`` is not ``id`` or ``en``.
        ReportError: the template fails, or a file cannot be written.
    """
    words.texts(lang)
    stem = f"evaluation-{evaluation.current.period.label}-{lang}"
    charts = render_charts(evaluation.current, lang)
    html = render_html(
        evaluation,
        lang=lang,
        charts=charts,
        generated_at=generated_at,
        notes=notes,
        isp_names=isp_names,
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        chart_paths = tuple(
            _write_bytes(out_dir / f"{stem}-{name}.png", image) for name, image in charts.items()
        )
        files = EvaluationFiles(
            html=_write_bytes(out_dir / f"{stem}.html", html.encode("utf-8")),
            pdf=out_dir / f"{stem}.pdf",
            csv=_write_csv(out_dir / f"{stem}.csv", figure_rows(evaluation, lang, isp_names)),
            incidents_csv=_write_csv(
                out_dir / f"{stem}-incidents.csv", incident_rows(evaluation.current)
            ),
            charts=chart_paths,
        )
    except OSError as error:
        raise ReportError(
            f"{out_dir}: cannot write the evaluation: {error.strerror}",
            hint="choose a writable directory with --out",
        ) from error
    write_pdf(html, files.pdf)
    log.info("%s: evaluation written to %s", evaluation.current.period.label, out_dir)
    return files


def render_html(
    evaluation: Evaluation,
    *,
    lang: str,
    charts: Mapping[str, bytes],
    generated_at: datetime,
    notes: Sequence[str] = (),
    isp_names: Mapping[str, str] | None = None,
) -> str:
    """Return the report as one HTML page, charts embedded as ``data:`` URIs.

    Raises:
        UsageError: ``lang`` is not ``id`` or ``en``.
        ReportError: the template cannot be loaded or rendered.
    """
    texts = words.texts(lang)
    context = _context(evaluation, texts, lang, isp_names or {})
    context.update(
        charts={
            name: "data:image/png;base64," + base64.b64encode(image).decode("ascii")
            for name, image in charts.items()
        },
        generated=words.moment(generated_at.astimezone(evaluation.current.as_of.tzinfo), lang),
        calendar_notes=list(notes),
    )
    try:
        return _environment().get_template(TEMPLATE).render(context)
    except jinja2.TemplateError as error:
        raise ReportError(
            f"{TEMPLATE}: cannot render the evaluation: {error}",
            hint=f"check the template under {settings.TEMPLATE_DIR}",
        ) from error


def write_pdf(html: str, path: Path) -> Path:
    """Print the HTML report to ``path`` as a PDF with WeasyPrint; return the path.

    Raises:
        ReportError: WeasyPrint cannot write the file.
    """
    import weasyprint  # type: ignore[import-untyped]

    try:
        weasyprint.HTML(string=html, base_url=str(path.parent)).write_pdf(path)
    except OSError as error:
        raise ReportError(
            f"{path}: cannot write the PDF: {error.strerror}",
            hint="choose a writable directory with --out",
        ) from error
    return path


def figure_rows(
    evaluation: Evaluation, lang: str, isp_names: Mapping[str, str] | None = None
) -> list[tuple[str, ...]]:
    """Return every figure as (section, item, label, value, unit) rows, header first.

    ``item`` is a stable key (``mean_service``, ``isp_a.on_time``); values are
    plain numbers with a decimal point (hours to 2 decimals, percentages to 1),
    so a spreadsheet can compute with them.

    Raises:
        UsageError: ``lang`` is not ``id`` or ``en``.
    """
    texts = words.texts(lang)
    current = evaluation.current
    rows: list[tuple[str, ...]] = [texts["files_csv_header"]]
    for section, figures in (("summary", current), ("previous_period", evaluation.previous)):
        rows.extend(
            (
                section,
                key,
                _summary_label(texts, evaluation, key),
                _raw(_summary_value(figures, key), kind),
                _unit(texts, kind),
            )
            for key, kind in _SUMMARY
        )
    rows.extend(_breakdown_rows(current, texts, lang, isp_names or {}))
    for segment, stats in current.resolution_by_segment:
        name = words.label(texts, "segments", segment)
        rows.extend(_stats_rows("resolution_by_segment", segment, name, stats, texts))
    for isp in current.isps:
        rows.extend(_isp_rows(isp, texts))
    for estimate in current.estimates:
        rows.extend(_hour_rows("isp_estimate", estimate.incident_id, texts, (
            ("estimate_hours", texts["eta_estimate"], estimate.estimate),
            ("actual_hours", texts["eta_actual"], estimate.actual),
            ("error_hours", texts["error"], estimate.error),
        )))  # fmt: skip
    for repeat in current.repeats:
        label = f"{texts['previous_incident']} {repeat.previous_id}"
        days = _raw(repeat.apart / timedelta(days=1), "number")
        rows.append(("repeat", repeat.incident_id, label, days, texts["days_apart"]))
    for outcome in current.open:
        rows.extend(_hour_rows("open", outcome.incident_id, texts, (
            ("age_service_hours", f"{texts['age']} ({texts['service_hours']})", outcome.service),
            ("age_wall_hours", f"{texts['age']} ({texts['wall_hours']})", outcome.wall),
        )))  # fmt: skip
    return rows


def _hour_rows(
    section: str,
    key: str,
    texts: dict[str, Any],
    values: Sequence[tuple[str, str, timedelta | None]],
) -> list[tuple[str, ...]]:
    return [
        (section, f"{key}.{name}", label, _raw(value, "hours"), texts["unit_hours"])
        for name, label, value in values
    ]


def _breakdown_rows(
    figures: Figures, texts: dict[str, Any], lang: str, isp_names: Mapping[str, str]
) -> list[tuple[str, ...]]:
    incidents, times = texts["unit_incidents"], texts["unit_count"]
    rows: list[tuple[str, ...]] = []
    for section, group, pairs, unit in (
        ("by_opd", None, figures.by_opd, incidents),
        ("by_segment", "segments", figures.by_segment, incidents),
        ("by_branch", "branches", figures.by_branch, incidents),
        ("by_isp", None, figures.by_isp, incidents),
        ("by_channel", "channels", figures.by_channel, incidents),
        ("escalations_by_reason", "reasons", figures.escalations_by_reason, times),
    ):
        for key, count in pairs:
            name = isp_names.get(key, key) if group is None else words.label(texts, group, key)
            rows.append((section, key, name, str(count), unit))
    for segment, branch, count in figures.by_segment_branch:
        name = (
            f"{words.label(texts, 'segments', segment)} / {words.label(texts, 'branches', branch)}"
        )
        rows.append(("by_segment_branch", f"{segment}/{branch}", name, str(count), incidents))
    for monday, count in figures.per_week:
        rows.append(
            ("per_week", monday.isoformat(), words.day(monday, lang), str(count), incidents)
        )
    return rows


def _isp_rows(isp: IspFigures, texts: dict[str, Any]) -> list[tuple[str, ...]]:
    key, incidents, hours = isp.provider, texts["unit_incidents"], texts["unit_hours"]
    total = texts["total_duration"]
    return [
        ("isp", f"{key}.outages", texts["outages"], str(isp.outages), incidents),
        ("isp", f"{key}.open", texts["still_open"], str(isp.open), incidents),
        ("isp", f"{key}.total_wall_hours", f"{total} ({texts['wall_hours']})",
         _raw(isp.total_wall, "hours"), hours),
        ("isp", f"{key}.total_service_hours", f"{total} ({texts['service_hours']})",
         _raw(isp.total_service, "hours"), hours),
        *_stats_rows("isp", key, key, isp.resolution, texts),
        ("isp", f"{key}.estimates", texts["estimates"], str(len(isp.estimates)), incidents),
        ("isp", f"{key}.on_time", texts["on_time"], str(isp.on_time), incidents),
        ("isp", f"{key}.mean_eta_error_hours", texts["mean_error"],
         _raw(isp.mean_error, "hours"), hours),
    ]  # fmt: skip


def incident_rows(figures: Figures) -> list[tuple[str, ...]]:
    """Return one row per incident of the period (column names in English), header first."""
    rows: list[tuple[str, ...]] = [
        (
            "id", "site", "opd_name", "channel", "segment", "branch", "isp_provider",
            "received", "recovered", "open", "forced_close", "service_hours", "wall_hours",
            "target_due", "limit_due", "within_target", "within_limit", "escalations",
        )
    ]  # fmt: skip
    for item in figures.incidents:
        rows.append(
            (
                item.incident_id,
                item.site,
                item.opd_name,
                item.channel,
                item.segment,
                item.branch,
                item.isp_provider or "",
                item.received.isoformat(),
                item.recovered.isoformat() if item.recovered else "",
                _flag(item.is_open),
                _flag(item.forced_close),
                _raw(item.service, "hours"),
                _raw(item.wall, "hours"),
                item.target_due.isoformat(),
                item.limit_due.isoformat(),
                "" if item.within_target is None else _flag(item.within_target),
                "" if item.within_limit is None else _flag(item.within_limit),
                " ".join(item.escalations),
            )
        )
    return rows


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(settings.TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _context(
    evaluation: Evaluation, texts: dict[str, Any], lang: str, isp_names: Mapping[str, str]
) -> dict[str, Any]:
    current = evaluation.current
    period = current.period
    # Inside the tables a day of the period's first year goes without its year.
    year = period.first.year

    def isp(key: str) -> str:
        return f"{isp_names[key]} ({key})" if key in isp_names else key

    return {
        "lang": lang,
        "t": texts,
        "period_name": _period_name(current, lang),
        "period_range": _days_range(period, lang),
        "previous_name": _period_name(evaluation.previous, lang),
        "as_of": words.moment(current.as_of, lang),
        "empty": not current.incidents,
        "summary": [_summary_row(evaluation, texts, key, kind, lang) for key, kind in _SUMMARY],
        "breakdowns": [
            (texts["by_opd"], _shares(current.by_opd, current.total, lang, lambda key: key)),
            (
                texts["by_segment"],
                _shares(
                    current.by_segment,
                    current.total,
                    lang,
                    lambda key: words.label(texts, "segments", key),
                ),
            ),
            (
                texts["by_branch"],
                _shares(
                    current.by_branch,
                    current.total,
                    lang,
                    lambda key: words.label(texts, "branches", key),
                ),
            ),
            (
                texts["by_channel"],
                _shares(
                    current.by_channel,
                    current.total,
                    lang,
                    lambda key: words.label(texts, "channels", key),
                ),
            ),
            (texts["by_isp"], _shares(current.by_isp, current.total, lang, isp)),
        ],
        "segment_branch": [
            (words.label(texts, "segments", segment), words.label(texts, "branches", branch), count)
            for segment, branch, count in current.by_segment_branch
        ],
        "resolution_by_segment": [
            (words.label(texts, "segments", segment), *_stats_cells(stats, lang))
            for segment, stats in current.resolution_by_segment
        ],
        "isps": [
            {
                "name": isp(item.provider),
                "outages": item.outages,
                "open": item.open,
                "total_wall": words.hours(item.total_wall, lang),
                "total_service": words.hours(item.total_service, lang),
                "mean_wall": words.hours(item.resolution.mean_wall, lang),
                "estimates": len(item.estimates),
                "on_time": item.on_time,
                "mean_error": _signed_hours(item.mean_error, lang),
            }
            for item in current.isps
        ],
        "estimates": [
            {
                "incident": item.incident_id,
                "isp": isp(item.provider),
                "ticket": words.moment(item.ticket_at, lang, this_year=year),
                "eta": words.moment(item.eta, lang, this_year=year),
                "recovered": words.moment(item.recovered, lang, this_year=year),
                "error": _signed_hours(item.error, lang),
                "late": item.error > timedelta(),
            }
            for item in current.estimates
        ],
        "repeats": [
            {
                "incident": item.incident_id,
                "previous": item.previous_id,
                "opd": item.opd_name,
                "segment": words.label(texts, "segments", item.segment),
                "days": words.number(item.apart / timedelta(days=1), lang),
            }
            for item in current.repeats
        ],
        "open_incidents": [_incident_cells(item, texts, lang, year) for item in current.open],
        "incidents": [_incident_cells(item, texts, lang, year) for item in current.incidents],
        "escalation_reasons": [
            (words.label(texts, "reasons", reason), count)
            for reason, count in current.escalations_by_reason
        ],
        "target_days": _days(evaluation, "target"),
        "limit_days": _days(evaluation, "limit"),
    }


def _period_name(figures: Figures, lang: str) -> str:
    quarter = figures.period.quarter
    if quarter is not None:
        return words.quarter_name(*quarter, lang)
    return _days_range(figures.period, lang)


def _days_range(period: ReportPeriod, lang: str) -> str:
    return f"{words.day(period.first, lang)} {words.EN_DASH} {words.day(period.last, lang)}"


def _summary_value(figures: Figures, key: str) -> float | int | timedelta | None:
    values: dict[str, float | int | timedelta | None] = {
        "incidents": figures.total,
        "recovered": len(figures.recovered),
        "open": len(figures.open),
        "forced": figures.forced_closes,
        "mean_service": figures.resolution.mean_service,
        "median_service": figures.resolution.median_service,
        "mean_wall": figures.resolution.mean_wall,
        "median_wall": figures.resolution.median_wall,
        "within_target": figures.share_within_target,
        "within_limit": figures.share_within_limit,
        "open_past_target": figures.open_past_target,
        "escalated": figures.escalated_incidents,
        "escalations": figures.escalations,
        "repeats": len(figures.repeats),
    }
    return values[key]


def _summary_label(texts: dict[str, Any], evaluation: Evaluation, key: str) -> str:
    return str(texts[key]).format(
        target=_days(evaluation, "target"), limit=_days(evaluation, "limit")
    )


def _summary_row(
    evaluation: Evaluation, texts: dict[str, Any], key: str, kind: str, lang: str
) -> tuple[str, str, str, str]:
    now = _summary_value(evaluation.current, key)
    before = _summary_value(evaluation.previous, key)
    label = _summary_label(texts, evaluation, key)
    if key == "within_target":
        label += f" — {evaluation.current.within_target}/{len(evaluation.current.recovered)}"
    if key == "within_limit":
        label += f" — {evaluation.current.within_limit}/{len(evaluation.current.recovered)}"
    return (
        label,
        _shown(now, kind, lang),
        _shown(before, kind, lang),
        _change(now, before, kind, lang),
    )


def _days(evaluation: Evaluation, which: str) -> str:
    policy = evaluation.policy
    days = policy.target_working_days if which == "target" else policy.limit_working_days
    return f"{float(days):g}"


def _shown(value: float | int | timedelta | None, kind: str, lang: str) -> str:
    if value is None:
        return "—"
    if kind == "hours" and isinstance(value, timedelta):
        return words.hours(value, lang)
    if kind == "share" and isinstance(value, float):
        return words.percent(value, lang)
    return str(value)


def _change(
    now: float | int | timedelta | None,
    before: float | int | timedelta | None,
    kind: str,
    lang: str,
) -> str:
    if now is None or before is None:
        return "—"
    if isinstance(now, timedelta) and isinstance(before, timedelta):
        return _signed_hours(now - before, lang)
    if isinstance(now, timedelta) or isinstance(before, timedelta):
        return "—"
    difference = float(now) - float(before)
    if kind == "share":
        points = "poin" if lang == "id" else "pp"
        return f"{_sign(difference)}{words.number(abs(difference) * 100, lang)} {points}"
    return f"{_sign(difference)}{abs(int(difference))}"


def _signed_hours(value: timedelta | None, lang: str) -> str:
    if value is None:
        return "—"
    return f"{_sign(value / _HOUR)}{words.hours(abs(value), lang)}"


def _sign(value: float) -> str:
    return "+" if value > 0 else words.MINUS if value < 0 else "±"


def _shares(
    pairs: Sequence[tuple[str, int]], total: int, lang: str, name: Any
) -> list[tuple[str, int, str]]:
    return [(name(key), count, words.percent(count / total, lang)) for key, count in pairs]


def _stats_cells(stats: DurationStats, lang: str) -> tuple[int, str, str, str, str]:
    return (
        stats.count,
        words.hours(stats.mean_service, lang),
        words.hours(stats.median_service, lang),
        words.hours(stats.mean_wall, lang),
        words.hours(stats.median_wall, lang),
    )


def _stats_rows(
    section: str, key: str, name: str, stats: DurationStats, texts: dict[str, Any]
) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        (section, f"{key}.recovered", name, str(stats.count), texts["unit_incidents"])
    ]
    for field, which, hours, value in (
        ("mean_service", "mean", "service_hours", stats.mean_service),
        ("median_service", "median", "service_hours", stats.median_service),
        ("mean_wall", "mean", "wall_hours", stats.mean_wall),
        ("median_wall", "median", "wall_hours", stats.median_wall),
    ):
        label = f"{name}: {texts[which]} ({texts[hours]})"
        rows.append(
            (section, f"{key}.{field}_hours", label, _raw(value, "hours"), texts["unit_hours"])
        )
    return rows


def _incident_cells(
    item: IncidentOutcome, texts: dict[str, Any], lang: str, year: int
) -> dict[str, Any]:
    return {
        "id": item.incident_id,
        "opd": item.opd_name,
        "site": item.site,
        "channel": words.label(texts, "channels", item.channel),
        "segment": words.label(texts, "segments", item.segment),
        "branch": words.label(texts, "branches", item.branch),
        "received": words.moment(item.received, lang, this_year=year),
        "recovered": words.moment(item.recovered, lang, this_year=year) if item.recovered else "",
        "service": words.hours(item.service, lang),
        "wall": words.hours(item.wall, lang),
        "target_due": words.moment(item.target_due, lang, this_year=year),
        "within_target": (
            "" if item.within_target is None else texts["yes" if item.within_target else "no"]
        ),
        "past_target": texts["yes" if item.past_target else "no"],
        "open": item.is_open,
    }


def _raw(value: float | int | timedelta | None, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, timedelta):
        return f"{value / _HOUR:.2f}"
    if kind == "share":
        return f"{value * 100:.1f}"
    if kind == "number":
        return f"{value:.1f}"
    return str(value)


def _unit(texts: dict[str, Any], kind: str) -> str:
    units = {
        "count": texts["unit_incidents"],
        "times": texts["unit_count"],
        "hours": texts["unit_hours"],
        "share": texts["unit_share"],
    }
    return str(units[kind])


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _write_csv(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    # utf-8-sig: the byte order mark makes spreadsheet programs read the file as UTF-8.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path
