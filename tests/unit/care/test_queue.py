"""The consultation queue: urgency then arrival, the patient's place, and the wait shown (C2)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from yaodao.care.doctors import Doctor, DoctorLoad
from yaodao.care.queue import ConsultQueue, ServiceStats, Urgency, WaitingConsult, estimated_wait
from yaodao.kernel.errors import Conflict, NotFound, ValidationFailed

SHANGHAI = ZoneInfo("Asia/Shanghai")
NINE = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
STATS = ServiceStats(mean_reply_s=15.0, mean_service_s=600.0)


def consult(
    cid: str,
    seconds: float,
    *,
    urgency: Urgency = Urgency.ROUTINE,
    department: str = "internal_medicine",
    language: str = "zh",
    province: str = "gansu",
) -> WaitingConsult:
    return WaitingConsult(cid, province, "lanzhou", department, language, urgency, NINE + timedelta(seconds=seconds))


def doctor(did: str, *, max_concurrent: int = 2, languages: tuple[str, ...] = ("zh",), **changes: object) -> Doctor:
    fields: dict[str, object] = {
        "id": did,
        "licence_no": "110330100012345",
        "hospital": "Zhejiang People's Hospital",
        "province": "zhejiang",
        "city": "hangzhou",
        "departments": ("internal_medicine",),
        "languages": languages,
        "verified": True,
        "years_practising": 10,
        "max_concurrent": max_concurrent,
    }
    fields.update(changes)
    return Doctor(**fields)  # type: ignore[arg-type]


def test_the_more_urgent_wait_ahead_of_earlier_routine_requests() -> None:
    """Urgency first, then arrival: a later urgent consult is first; routine ones keep their order."""
    queue = ConsultQueue()
    for c in (consult("a", 0), consult("b", 10), consult("c", 20, urgency=Urgency.URGENT), consult("d", 5)):
        queue.push(c)
    assert [c.id for c in queue.department("internal_medicine")] == ["c", "a", "d", "b"]
    assert queue.position_of("c") == 1
    assert queue.position_of("b") == 4


def test_places_move_up_when_someone_ahead_leaves() -> None:
    """After the first patient is offered a doctor, everyone behind moves up one place."""
    queue = ConsultQueue()
    for i in range(3):
        queue.push(consult(f"p{i}", i))
    queue.remove("p0")
    assert [queue.position_of(f"p{i}") for i in (1, 2)] == [1, 2]
    assert "p0" not in queue
    assert len(queue) == 2


def test_a_consult_returned_after_a_failed_offer_keeps_its_place() -> None:
    """Its place is its request time, so a declined offer does not send it to the back."""
    queue = ConsultQueue()
    for i in range(3):
        queue.push(consult(f"p{i}", i))
    first = queue.remove("p0")
    queue.push(first.passed_over_by("dr-1"))
    assert queue.position_of("p0") == 1
    returned = queue.get("p0")
    assert returned is not None
    assert returned.declined_by == frozenset({"dr-1"})


def test_each_department_has_its_own_queue() -> None:
    """A dermatology patient's place does not count internal-medicine patients."""
    queue = ConsultQueue()
    queue.push(consult("im", 0))
    queue.push(consult("derm", 5, department="dermatology"))
    assert queue.position_of("derm") == 1
    assert queue.department("paediatrics") == ()


def test_waiting_lists_all_departments_in_priority_order() -> None:
    """The merge across departments keeps urgency-then-arrival order, and can be limited to some departments."""
    queue = ConsultQueue()
    queue.push(consult("im-late", 30))
    queue.push(consult("derm-early", 0, department="dermatology"))
    queue.push(consult("paed-soon", 60, department="paediatrics", urgency=Urgency.SOON))
    assert [c.id for c in queue.waiting()] == ["paed-soon", "derm-early", "im-late"]
    assert [c.id for c in queue.waiting(["internal_medicine", "dermatology"])] == ["derm-early", "im-late"]


def test_a_consult_cannot_wait_twice_and_unknown_ones_are_not_found() -> None:
    """Pushing an id already waiting conflicts; removing or placing an unknown id is not found."""
    queue = ConsultQueue()
    queue.push(consult("a", 0))
    with pytest.raises(Conflict):
        queue.push(consult("a", 5))
    with pytest.raises(NotFound):
        queue.remove("nobody")
    with pytest.raises(NotFound):
        queue.position_of("nobody")


def test_a_waiting_consult_refuses_naive_times_and_unknown_departments() -> None:
    """Each refusal names its field."""
    with pytest.raises(ValidationFailed) as caught:
        WaitingConsult("a", "gansu", "lanzhou", "internal_medicine", "zh", Urgency.ROUTINE, datetime(2026, 3, 2, 9))  # noqa: DTZ001
    assert caught.value.field == "requested_at"
    with pytest.raises(ValidationFailed) as caught:
        consult("a", 0, department="emergency")
    assert caught.value.field == "department"


def test_within_the_free_slots_the_wait_is_a_doctors_reply_time() -> None:
    """Two free slots and the patient is second: a doctor only has to answer the offer."""
    queue = ConsultQueue()
    queue.push(consult("a", 0))
    queue.push(consult("b", 1))
    loads = [DoctorLoad(doctor("d1"), 1), DoctorLoad(doctor("d2"), 1)]
    assert estimated_wait(queue, "b", loads, STATS) == timedelta(seconds=STATS.mean_reply_s)


def test_beyond_the_free_slots_each_patient_ahead_waits_for_a_slot_to_free() -> None:
    """Slots free at total slots / mean length; the patient waits for (place - free) of them."""
    queue = ConsultQueue()
    for i in range(5):
        queue.push(consult(f"p{i}", i))
    loads = [DoctorLoad(doctor("d1"), 2), DoctorLoad(doctor("d2"), 1)]  # 4 slots, 1 free
    place, free, slots = 5, 1, 4
    expected = STATS.mean_reply_s + (place - free) * STATS.mean_service_s / slots
    assert estimated_wait(queue, "p4", loads, STATS) == timedelta(seconds=expected)


def test_only_suitable_doctors_count_toward_the_estimate() -> None:
    """Doctors of other departments, of other languages or who may not consult are no help."""
    queue = ConsultQueue()
    queue.push(consult("en", 0, language="en"))
    loads = [
        DoctorLoad(doctor("zh-only")),
        DoctorLoad(doctor("derm", languages=("zh", "en"), departments=("dermatology",))),
        DoctorLoad(doctor("junior", languages=("zh", "en"), years_practising=1)),
    ]
    assert estimated_wait(queue, "en", loads, STATS) is None
    loads.append(DoctorLoad(doctor("bilingual", languages=("zh", "en")), 2))
    waited = estimated_wait(queue, "en", loads, STATS)
    assert waited is not None
    assert waited > timedelta(seconds=STATS.mean_reply_s)


def test_service_stats_name_the_broken_field() -> None:
    """A non-positive consult length is refused."""
    with pytest.raises(ValidationFailed) as caught:
        ServiceStats(mean_reply_s=10.0, mean_service_s=0.0)
    assert caught.value.field == "mean_service_s"
