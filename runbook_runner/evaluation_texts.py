"""The words of the evaluation report and its charts, Bahasa Indonesia and English.

The report, the charts and the CSV take every word from :func:`texts`, so the
two languages cannot drift apart: a key missing from one of them is a test
failure, not a blank in a document sent to the leadership.
"""

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from runbook_runner.errors import UsageError

LANGS = ("id", "en")
EN_DASH = "\u2013"  # between the two ends of a range of days
MINUS = "\u2212"  # the sign of a negative difference in the report

_MONTHS = {
    "id": (
        "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
        "September", "Oktober", "November", "Desember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ),
}  # fmt: skip

_ROMAN = ("I", "II", "III", "IV")

TEXTS: dict[str, dict[str, Any]] = {
    "id": {
        "office": "Dinas Komunikasi dan Informatika Kota Pekalongan",
        "title": "Evaluasi Kinerja Pelayanan Penanganan Gangguan Jaringan Utama (Batik.Net)",
        "chart_title": "Evaluasi kinerja",
        "quarter": "Triwulan {roman} {year}",
        "period": "Periode",
        "as_of": "Data per",
        "generated": "Dibuat",
        "empty": "Tidak ada insiden yang tercatat pada periode ini.",
        "summary": "Ringkasan",
        "figure": "Ukuran",
        "this_period": "Periode ini",
        "previous_period": "Periode sebelumnya",
        "change": "Perubahan",
        "incidents": "Jumlah insiden",
        "recovered": "Selesai (pulih)",
        "open": "Masih terbuka di akhir periode",
        "forced": "Ditutup tanpa pemulihan",
        "mean_service": "Rata-rata waktu penyelesaian (jam layanan)",
        "median_service": "Median waktu penyelesaian (jam layanan)",
        "mean_wall": "Rata-rata waktu penyelesaian (jam kalender)",
        "median_wall": "Median waktu penyelesaian (jam kalender)",
        "within_target": "Selesai dalam target ({target} hari kerja)",
        "within_limit": "Selesai dalam batas layanan ({limit} hari kerja)",
        "open_past_target": "Terbuka dan melewati target",
        "escalated": "Insiden yang dieskalasi",
        "escalations": "Jumlah eskalasi",
        "repeats": "Insiden berulang (lokasi dan segmen sama, ≤ 30 hari)",
        "hours": "jam",
        "none": "—",
        "per_week": "Insiden per minggu",
        "week_of": "Minggu mulai",
        "sla": "Kepatuhan SLA",
        "sla_within_target": "Dalam target",
        "sla_within_limit": "Lewat target, dalam batas",
        "sla_beyond_limit": "Lewat batas layanan",
        "sla_open": "Masih terbuka",
        "breakdowns": "Sebaran insiden",
        "by_opd": "Per OPD",
        "by_segment": "Per segmen",
        "by_branch": "Per penyebab (tindak lanjut)",
        "by_segment_branch": "Segmen dan penyebab",
        "by_isp": "Per ISP",
        "by_channel": "Per saluran pengaduan",
        "count": "Jumlah",
        "share": "Persentase",
        "resolution_by_segment": "Waktu penyelesaian per segmen",
        "segment": "Segmen",
        "cause": "Penyebab",
        "mean": "Rata-rata",
        "median": "Median",
        "service_hours": "jam layanan",
        "wall_hours": "jam kalender",
        "isp_section": "Kinerja ISP",
        "isp": "ISP",
        "outages": "Gangguan",
        "still_open": "masih terbuka",
        "total_duration": "Total durasi",
        "mean_duration": "Rata-rata durasi",
        "estimates": "Perkiraan pemulihan",
        "on_time": "Tepat waktu",
        "mean_error": "Rata-rata selisih (aktual - perkiraan)",
        "eta_chart": "Perkiraan ISP dan pemulihan sebenarnya",
        "eta_estimate": "Perkiraan ISP",
        "eta_actual": "Pemulihan sebenarnya",
        "eta_axis": "jam sejak tiket ISP",
        "ticket": "Tiket ISP",
        "eta": "Perkiraan pulih",
        "recovery": "Pulih",
        "error": "Selisih",
        "late": "terlambat",
        "early": "lebih cepat",
        "no_estimates": "Tidak ada perkiraan pemulihan dari ISP pada periode ini.",
        "no_isp": "Tidak ada gangguan di sisi ISP pada periode ini.",
        "repeat_section": "Insiden berulang",
        "no_repeats": "Tidak ada insiden berulang.",
        "previous_incident": "Insiden sebelumnya",
        "days_apart": "Selang (hari)",
        "open_section": "Insiden terbuka di akhir periode",
        "no_open": "Semua insiden periode ini telah selesai.",
        "age": "Umur",
        "past_target": "Lewat target",
        "incident_list": "Daftar insiden",
        "incident": "Insiden",
        "opd": "OPD",
        "site": "Lokasi",
        "channel": "Saluran",
        "received": "Diterima",
        "service": "Jam layanan",
        "wall": "Jam kalender",
        "target": "Target",
        "yes": "ya",
        "no": "tidak",
        "notes": "Catatan perhitungan",
        "method": [
            "Insiden dihitung pada periode tanggal surat/pengaduan diterima (WIB).",
            "Waktu penyelesaian dihitung dari diterimanya pengaduan sampai jaringan pulih; "
            "jam layanan mengikuti jam pelayanan kantor (Senin-Kamis 08.00-15.45 dengan "
            "istirahat 12.00-12.30, Jumat 08.00-11.00) tanpa hari libur.",
            "Persentase dalam target dan dalam batas dihitung dari insiden yang telah pulih.",
            "Insiden yang belum pulih di akhir periode dihitung terbuka, dengan umurnya "
            "sampai akhir periode.",
            "Selisih perkiraan ISP: waktu pulih sebenarnya dikurangi perkiraan; positif "
            "berarti ISP terlambat dari janjinya.",
        ],
        "calendar_notes": "Catatan kalender kerja",
        "charts_section": "Grafik",
        "files_csv_header": ("bagian", "butir", "keterangan", "nilai", "satuan"),
        "unit_incidents": "insiden",
        "unit_hours": "jam",
        "unit_share": "persen",
        "unit_count": "kali",
        "segments": {
            "none": "tidak ada gangguan",
            "user_lan": "LAN pengguna",
            "opd_access": "akses OPD",
            "opd_gateway": "gateway OPD",
            "core": "core",
            "dns": "DNS",
            "server": "server",
            "isp_upstream": "upstream ISP",
            "unknown": "belum diketahui",
        },
        "branches": {
            "completion_report": "selesai saat pemeriksaan",
            "isp_ticket": "gangguan ISP",
            "internal_action": "tindakan internal",
            "unknown": "belum diketahui",
        },
        "channels": {
            "letter": "surat",
            "phone": "telepon",
            "email": "email",
            "whatsapp": "WhatsApp",
            "monitoring": "sistem monitoring",
            "unknown": "tidak diketahui",
        },
        "reasons": {
            "at_risk": "berisiko melewati target",
            "breached": "melewati target",
            "beyond_reach": "di luar jangkauan petugas",
            "unknown": "lainnya",
        },
    },
    "en": {
        "office": "Communication and Informatics Office (Diskominfo), Kota Pekalongan",
        "title": "Performance Evaluation of the Batik.Net Disruption Service",
        "chart_title": "Performance evaluation",
        "quarter": "Quarter {roman} {year}",
        "period": "Period",
        "as_of": "Figures as of",
        "generated": "Generated",
        "empty": "No incident was recorded in this period.",
        "summary": "Summary",
        "figure": "Figure",
        "this_period": "This period",
        "previous_period": "Previous period",
        "change": "Change",
        "incidents": "Incidents",
        "recovered": "Recovered",
        "open": "Still open at the end of the period",
        "forced": "Closed without a recovery",
        "mean_service": "Mean time to resolve (service hours)",
        "median_service": "Median time to resolve (service hours)",
        "mean_wall": "Mean time to resolve (wall-clock hours)",
        "median_wall": "Median time to resolve (wall-clock hours)",
        "within_target": "Resolved within the target ({target} working days)",
        "within_limit": "Resolved within the service limit ({limit} working days)",
        "open_past_target": "Open and past the target",
        "escalated": "Incidents escalated",
        "escalations": "Escalations",
        "repeats": "Repeat incidents (same site and segment, ≤ 30 days)",
        "hours": "h",
        "none": "—",
        "per_week": "Incidents per week",
        "week_of": "Week of",
        "sla": "SLA compliance",
        "sla_within_target": "Within target",
        "sla_within_limit": "Past target, within limit",
        "sla_beyond_limit": "Past the service limit",
        "sla_open": "Still open",
        "breakdowns": "Where the incidents came from",
        "by_opd": "By agency (OPD)",
        "by_segment": "By segment",
        "by_branch": "By cause (branch)",
        "by_segment_branch": "Segment and cause",
        "by_isp": "By ISP",
        "by_channel": "By channel",
        "count": "Count",
        "share": "Share",
        "resolution_by_segment": "Time to resolve by segment",
        "segment": "Segment",
        "cause": "Cause",
        "mean": "Mean",
        "median": "Median",
        "service_hours": "service hours",
        "wall_hours": "wall-clock hours",
        "isp_section": "ISP performance",
        "isp": "ISP",
        "outages": "Outages",
        "still_open": "still open",
        "total_duration": "Total duration",
        "mean_duration": "Mean duration",
        "estimates": "Recovery estimates",
        "on_time": "On time",
        "mean_error": "Mean difference (actual - estimate)",
        "eta_chart": "ISP estimate against actual recovery",
        "eta_estimate": "ISP estimate",
        "eta_actual": "Actual recovery",
        "eta_axis": "hours since the ISP ticket",
        "ticket": "ISP ticket",
        "eta": "Estimated recovery",
        "recovery": "Recovered",
        "error": "Difference",
        "late": "late",
        "early": "early",
        "no_estimates": "No ISP recovery estimate in this period.",
        "no_isp": "No outage on an ISP's side in this period.",
        "repeat_section": "Repeat incidents",
        "no_repeats": "No repeat incident.",
        "previous_incident": "Previous incident",
        "days_apart": "Days apart",
        "open_section": "Incidents open at the end of the period",
        "no_open": "Every incident of the period was resolved.",
        "age": "Age",
        "past_target": "Past target",
        "incident_list": "Incident list",
        "incident": "Incident",
        "opd": "Agency (OPD)",
        "site": "Site",
        "channel": "Channel",
        "received": "Received",
        "service": "Service hours",
        "wall": "Wall-clock hours",
        "target": "Target",
        "yes": "yes",
        "no": "no",
        "notes": "How the figures are computed",
        "method": [
            "An incident counts in the period its letter or complaint was received in (WIB).",
            "Time to resolve runs from the receipt to the recovery; service hours follow the "
            "office's hours (Monday-Thursday 08:00-15:45 with a break 12:00-12:30, Friday "
            "08:00-11:00) without closed days.",
            "The shares within the target and the limit are of the incidents recovered.",
            "An incident not recovered at the end of the period counts as open, with its age "
            "at that end.",
            "ISP estimate difference: the actual recovery minus the estimate; positive means "
            "the ISP was later than it promised.",
        ],
        "calendar_notes": "Working calendar notes",
        "charts_section": "Charts",
        "files_csv_header": ("section", "item", "label", "value", "unit"),
        "unit_incidents": "incidents",
        "unit_hours": "hours",
        "unit_share": "percent",
        "unit_count": "times",
        "segments": {
            "none": "no fault",
            "user_lan": "user LAN",
            "opd_access": "OPD access link",
            "opd_gateway": "OPD gateway",
            "core": "core",
            "dns": "DNS",
            "server": "server",
            "isp_upstream": "ISP upstream",
            "unknown": "not yet known",
        },
        "branches": {
            "completion_report": "resolved at the check",
            "isp_ticket": "ISP fault",
            "internal_action": "internal action",
            "unknown": "not yet known",
        },
        "channels": {
            "letter": "letter",
            "phone": "phone",
            "email": "email",
            "whatsapp": "WhatsApp",
            "monitoring": "monitoring system",
            "unknown": "unknown",
        },
        "reasons": {
            "at_risk": "at risk of the target",
            "breached": "target breached",
            "beyond_reach": "beyond the officer's reach",
            "unknown": "other",
        },
    },
}


def texts(lang: str) -> dict[str, Any]:
    """Return the words of ``lang``.

    Raises:
        UsageError: ``lang`` is not ``id`` or ``en``.
    """
    if lang not in TEXTS:
        raise UsageError(f"no evaluation texts in {lang!r}", hint=f"use one of {', '.join(LANGS)}")
    return TEXTS[lang]


def label(words: dict[str, Any], group: str, key: str) -> str:
    """Return the word for ``key`` in ``group`` (segments, branches…), the key itself if none."""
    return str(words[group].get(key, key))


def number(value: float, lang: str, digits: int = 1) -> str:
    """Return ``value`` with ``digits`` decimals rounded half up, a decimal comma in Indonesian."""
    exact = Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{exact:,.{digits}f}"
    if lang == "id":
        text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
    return text


def hours(value: timedelta | None, lang: str) -> str:
    """Return a duration in hours with one decimal, a dash when None."""
    if value is None:
        return "—"
    return number(value / timedelta(hours=1), lang)


def percent(share: float | None, lang: str) -> str:
    """Return a share as a percentage with one decimal, a dash when None."""
    return "—" if share is None else f"{number(share * 100, lang)}%"


def day(value: date, lang: str, *, short: bool = False) -> str:
    """Return a date as people write it: "5 Oktober 2026"."""
    month = _MONTHS[lang][value.month - 1]
    return f"{value.day} {month[:3] if short else month} {value.year}"


def moment(value: datetime, lang: str, *, this_year: int | None = None) -> str:
    """Return an instant in office time: "5 Okt 2026 09.00", without the year if ``this_year``."""
    separator = "." if lang == "id" else ":"
    text = day(value.date(), lang, short=True)
    if value.year == this_year:
        text = text.removesuffix(f" {this_year}")
    return f"{text} {value:%H}{separator}{value:%M}"


def quarter_name(year: int, number_: int, lang: str) -> str:
    """Return "Triwulan IV 2026" / "Quarter IV 2026"."""
    return str(TEXTS[lang]["quarter"]).format(roman=_ROMAN[number_ - 1], year=year)
