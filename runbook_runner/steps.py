"""The procedure of the service standard: its ten steps, in order.

The numbers and names are the SOP's (docs in /work/shared/sop); steps 4 to 7
are the checks the runner makes with a playbook each, the others are records
of what people did.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One step of the procedure.

    ``key`` is the record's name of the step (``step_attempts.name``) and,
    for steps 4-7, the ``step`` field of the checks it returns.
    """

    number: int
    key: str
    name_en: str
    name_id: str
    playbook: str | None = None

    def title(self, lang: str = "en") -> str:
        """Return "4. Physical check of the devices" in the language asked."""
        return f"{self.number}. {self.name_id if lang == 'id' else self.name_en}"


STEPS: tuple[Step, ...] = (
    Step(1, "intake", "Notice letter received from the agency", "Surat pemberitahuan dari OPD"),
    Step(2, "disposition", "Disposition to a technician", "Disposisi kepada teknisi"),
    Step(3, "follow_up", "Follow-up started", "Tindak lanjut disposisi dan mulai pengecekan"),
    Step(
        4,
        "devices",
        "Physical check of the active devices",
        "Pengecekan fisik perangkat aktif jaringan utama",
        "step4_devices.yml",
    ),
    Step(
        5,
        "monitoring",
        "Monitoring of the network",
        "Monitoring jaringan pada sistem monitoring",
        "step5_monitoring.yml",
    ),
    Step(6, "dns", "Check of the DNS servers", "Pengecekan server DNS", "step6_dns.yml"),
    Step(
        7,
        "connectivity",
        "Connectivity at the users and the servers",
        "Pengecekan koneksi di pengguna jaringan dan di server",
        "step7_connectivity.yml",
    ),
    Step(8, "isp", "Coordination with the ISP", "Koordinasi dengan ISP dan estimasi pemulihan"),
    Step(9, "report", "Completion report", "Laporan penyelesaian gangguan"),
    Step(10, "close", "Handling reported complete", "Pelaporan penanganan selesai"),
)

BY_NUMBER = {step.number: step for step in STEPS}
BY_KEY = {step.key: step for step in STEPS}
CHECK_STEPS: tuple[Step, ...] = tuple(step for step in STEPS if step.playbook)
COMBINED_PLAYBOOK = "incident_checks.yml"


def step(number_or_key: int | str) -> Step:
    """Return a step by its number or its key.

    Raises:
        KeyError: no step has that number or key.
    """
    if isinstance(number_or_key, int):
        return BY_NUMBER[number_or_key]
    return BY_KEY[number_or_key]
