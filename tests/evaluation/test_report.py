"""``runbook evaluate`` end to end: records -> figures -> HTML, PDF, CSV and charts.

The records are fixture_records.py's, written through records.py into a
temporary data directory. The hand computation of the figures is in
test_figures.py; here the same numbers are read back from the files the
office receives. WeasyPrint is slow, so each report is written once per module.
"""

import contextlib
import csv
import io
import itertools
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from evaluation.fixture_records import write_records
from runbook_runner.cli import main
from runbook_runner.evaluation_commands import choose_period

CONFIG = """\
[calendar]
timezone = "Asia/Jakarta"
confirmed_years = [2026]

[sla]
target_working_days = 2
limit_working_days = 5
"""


@dataclass
class Run:
    """One run of the command: its exit code, its output and the files it wrote."""

    code: int
    stdout: str
    stderr: str
    out: Path

    def file(self, suffix: str) -> Path:
        (path,) = self.out.glob(f"*{suffix}")
        return path

    def text(self, suffix: str) -> str:
        return self.file(suffix).read_text(encoding="utf-8")


Evaluate = Callable[..., Run]


@pytest.fixture(scope="module")
def evaluate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evaluate]:
    """Yield a function running ``runbook evaluate ARGS --out <fresh dir>`` on the fixture."""
    home = tmp_path_factory.mktemp("evaluation")
    write_records(home / "data")
    (home / "runbook.toml").write_text(CONFIG, encoding="utf-8")
    numbers = itertools.count()

    def run(*args: str) -> Run:
        out = home / f"out-{next(numbers)}"
        out.mkdir()
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["evaluate", *args, "--out", str(out)])
        return Run(code, stdout.getvalue(), stderr.getvalue(), out)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUNBOOK_DATA_DIR", str(home / "data"))
        patch.setenv("RUNBOOK_CONFIG", str(home / "runbook.toml"))
        yield run


@pytest.fixture(scope="module")
def q3(evaluate: Evaluate) -> Run:
    run = evaluate("--quarter", "2026Q3")
    assert run.code == 0, run.stderr
    return run


@pytest.fixture(scope="module")
def q3_en(evaluate: Evaluate) -> Run:
    run = evaluate("--from", "2026-07-01", "--to", "2026-09-30", "--lang", "en")
    assert run.code == 0, run.stderr
    return run


def read_figures(path: Path) -> dict[tuple[str, str], str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    return {(row[0], row[1]): row[3] for row in rows[1:]}


def pixel_spread(path: Path) -> float:
    """Return the standard deviation of the pixels: zero for a blank canvas."""
    return float(np.asarray(image.imread(path)).std())


def test_command_prints_every_file_it_wrote(q3: Run) -> None:
    printed = q3.stdout.splitlines()
    assert printed[0] == "2026Q3: 7 incidents, 1 open at 2026-10-01 00:00 WIB", q3.stdout
    paths = [Path(line) for line in printed[1:]]
    assert [path.name for path in paths] == [
        "evaluation-2026Q3-id.html",
        "evaluation-2026Q3-id.pdf",
        "evaluation-2026Q3-id.csv",
        "evaluation-2026Q3-id-incidents.csv",
        "evaluation-2026Q3-id-incidents_per_week.png",
        "evaluation-2026Q3-id-sla_compliance.png",
        "evaluation-2026Q3-id-resolution_by_segment.png",
        "evaluation-2026Q3-id-isp_estimates.png",
    ]
    assert all(path.stat().st_size > 0 for path in paths)
    assert q3.stderr == ""  # no calendar warning for a confirmed year


def test_csv_figures_are_the_hand_computed_ones(q3: Run) -> None:
    figures = read_figures(q3.file("-id.csv"))
    # See test_figures.py for the hand computation.
    expected = {
        ("summary", "incidents"): "7",
        ("summary", "recovered"): "6",
        ("summary", "open"): "1",
        ("summary", "forced"): "1",
        ("summary", "mean_service"): "5.83",  # 35 h / 6
        ("summary", "median_service"): "4.00",  # (2.5 + 5.5) / 2
        ("summary", "mean_wall"): "29.79",  # 178.75 h / 6
        ("summary", "median_wall"): "15.25",  # (6 + 24.5) / 2
        ("summary", "within_target"): "83.3",  # 5 of 6
        ("summary", "within_limit"): "100.0",
        ("summary", "open_past_target"): "1",
        ("summary", "escalated"): "2",
        ("summary", "escalations"): "3",
        ("summary", "repeats"): "2",
        ("previous_period", "incidents"): "2",
        ("previous_period", "mean_service"): "2.75",  # (2 + 3.5) / 2
        ("by_opd", "Dinas Pendidikan"): "3",
        ("by_opd", "Bappeda & Litbang"): "2",
        ("by_segment", "opd_access"): "3",
        ("by_branch", "internal_action"): "4",
        ("by_isp", "isp_a"): "2",
        ("by_channel", "letter"): "2",
        ("by_segment_branch", "opd_access/isp_ticket"): "3",
        ("escalations_by_reason", "breached"): "2",
        ("per_week", "2026-07-06"): "2",
        ("resolution_by_segment", "opd_access.mean_service_hours"): "5.75",
        ("isp", "isp_a.total_wall_hours"): "8.50",
        ("isp", "isp_a.on_time"): "1",
        ("isp", "isp_a.mean_eta_error_hours"): "0.00",
        ("isp", "isp_b.mean_eta_error_hours"): "23.00",
        ("isp_estimate", "INC-2026-0006.estimate_hours"): "71.50",
        ("isp_estimate", "INC-2026-0006.actual_hours"): "94.50",
        ("repeat", "INC-2026-0003"): "7.0",
        ("open", "INC-2026-0009.age_wall_hours"): "62.00",
        ("open", "INC-2026-0009.age_service_hours"): "19.75",
    }
    assert {key: figures.get(key) for key in expected} == expected


def test_incident_csv_marks_the_incident_open_at_the_quarters_end(q3: Run) -> None:
    with q3.file("-incidents.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle)}
    assert len(rows) == 7
    still_open = rows["INC-2026-0009"]
    assert (still_open["open"], still_open["recovered"], still_open["within_target"]) == (
        "1",
        "",
        "",
    )
    assert rows["INC-2026-0008"]["forced_close"] == "1"
    assert rows["INC-2026-0004"]["within_target"] == "0"


def test_html_report_reads_in_bahasa_indonesia_with_escaped_names(q3: Run) -> None:
    html = q3.text("-id.html")
    assert '<html lang="id">' in html
    for text in (
        "Triwulan III 2026",
        "1 Juli 2026 \u2013 30 September 2026",  # an en dash
        "Selesai dalam target (2 hari kerja) — 5/6",
        "83,3%",  # a decimal comma
        "\u221216,7 poin",  # a minus sign: against 100% in 2026Q2
        "+23,0 jam (terlambat)",
        "PT Lintas Data Pesisir (isp_a)",  # the inventory's name of the ISP
        "Masih terbuka",
    ):
        assert text in html, text
    assert "Bappeda &amp; Litbang" in html
    assert "Bappeda & Litbang" not in html
    assert html.count('src="data:image/png;base64,') == 4


def test_pdf_pages_render_and_carry_the_figures_and_charts(q3: Run, tmp_path: Path) -> None:
    pdf = q3.file("-id.pdf")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    assert all(pixel_spread(page) > 0.01 for page in pages)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "Triwulan III 2026" in text
    assert "83,3%" in text
    images = subprocess.run(
        ["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True
    ).stdout
    assert len(images.splitlines()) - 2 >= 4, images  # two header lines, then one per image


@pytest.mark.parametrize(
    "chart", ["incidents_per_week", "sla_compliance", "resolution_by_segment", "isp_estimates"]
)
def test_each_chart_is_drawn_not_blank(q3: Run, chart: str) -> None:
    path = q3.file(f"-{chart}.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    # A blank white canvas has no spread; a chart with bars, axes and text has plenty.
    assert pixel_spread(path) > 0.05


def test_english_report_with_a_period_of_days(q3_en: Run) -> None:
    html = q3_en.text("-en.html")
    assert '<html lang="en">' in html
    for text in (
        "1 July 2026 \u2013 30 September 2026",
        "Resolved within the target (2 working days) — 5/6",
        "83.3%",
        "Still open",
        "ISP estimate against actual recovery",
    ):
        assert text in html, text
    assert "Triwulan" not in html
    figures = read_figures(q3_en.file("-en.csv"))
    assert figures[("summary", "incidents")] == "7"
    assert figures[("previous_period", "incidents")] == "2"  # 2026-04-01..06-30, 91 days
    assert q3_en.file(".pdf").stat().st_size > 0


def test_empty_quarter_gives_a_report_that_says_so(evaluate: Evaluate) -> None:
    run = evaluate("--quarter", "2025Q3")
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("2025Q3: 0 incidents, 0 open")
    html = run.text(".html")
    assert "Tidak ada insiden yang tercatat pada periode ini." in html
    assert "data:image/png" not in html
    assert list(run.out.glob("*.png")) == []
    assert run.file(".pdf").stat().st_size > 0
    figures = read_figures(run.file("-id.csv"))
    assert figures[("summary", "incidents")] == "0"
    assert figures[("summary", "mean_service")] == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--quarter", "2026Q5"], "is not a quarter", id="bad-quarter"),
        pytest.param(["--from", "2026-07-01"], "needs both --from and --to", id="one-day"),
        pytest.param(
            ["--quarter", "2026Q3", "--from", "2026-07-01", "--to", "2026-07-31"],
            "name two periods",
            id="two-periods",
        ),
        pytest.param(["--from", "2026-09-30", "--to", "2026-07-01"], "before it starts", id="back"),
        pytest.param(["--quarter", "2099Q1"], "has not started yet", id="future"),
    ],
)
def test_bad_periods_are_refused_with_a_hint(
    evaluate: Evaluate, args: list[str], message: str
) -> None:
    run = evaluate(*args)
    assert run.code == 2
    assert message in run.stderr
    assert list(run.out.iterdir()) == []


def test_pdf_tools_are_installed() -> None:
    # The PDF checks above need poppler-utils (scripts/install-debian-packages).
    assert all(shutil.which(tool) for tool in ("pdftoppm", "pdftotext", "pdfimages"))


@pytest.mark.parametrize(
    ("today", "label"),
    [
        pytest.param(date(2026, 12, 3), "2026Q3", id="during-q4"),
        pytest.param(date(2027, 1, 1), "2026Q4", id="first-day-of-q1"),
        pytest.param(date(2026, 3, 31), "2025Q4", id="last-day-of-q1"),
    ],
)
def test_without_a_period_the_last_finished_quarter_is_evaluated(today: date, label: str) -> None:
    assert choose_period(None, None, None, today).label == label
