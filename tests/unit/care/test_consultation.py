"""The consultation aggregate: its state machine, its time limits, the note, and when it may prescribe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from yaodao.care.consultation import (
    MAX_MESSAGE_CHARS,
    Consultation,
    ConsultKind,
    ConsultNote,
    ConsultParams,
    ConsultStatus,
    PriorDiagnosis,
    client_msg_id,
    message_text,
)
from yaodao.kernel.errors import Conflict, ValidationFailed

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
NOTE = ConsultNote("cough for 3 days", "asthma since 2019", "asthma, stable", "keep the inhaler", "in 2 weeks")
PARAMS = ConsultParams()
DX = PriorDiagnosis("asthma", "Zhejiang Provincial People's Hospital", "2019-05")


def consult(**changes: Any) -> Consultation:
    values: dict[str, Any] = {
        "id": "c1", "patient_id": "p1", "owner_id": "p1", "city_id": "hangzhou", "complaint": "咳嗽三天",
        "age_years": 34, "sex": "f", "pregnant": False, "allergies": (), "current_meds": (), "diagnosis": DX,
        "department": "respiratory", "urgency": "routine", "language": "zh", "requested_at": T0,
    }  # fmt: skip
    values.update(changes)
    return Consultation(**values)


def test_a_consultation_without_a_prior_diagnosis_is_a_first_visit() -> None:
    assert consult(diagnosis=None).kind is ConsultKind.FIRST_VISIT
    assert consult().kind is ConsultKind.FOLLOW_UP


def test_accept_then_close_with_the_note_records_each_step_and_bumps_the_version() -> None:
    c = consult()
    c.accept("d1", T0 + timedelta(minutes=2))
    assert (c.status, c.doctor_id, c.version) == (ConsultStatus.ACTIVE, "d1", 2)
    c.close("d1", NOTE, T0 + timedelta(minutes=10))
    assert (c.status, c.note, c.ended_at, c.version) == (ConsultStatus.CLOSED, NOTE, T0 + timedelta(minutes=10), 3)
    assert c.events == ["accepted", "closed"]


def test_a_second_accept_is_a_conflict_that_says_the_consultation_is_active() -> None:
    c = consult()
    c.accept("d1", T0)
    with pytest.raises(Conflict, match="it is active, not waiting"):
        c.accept("d2", T0)
    assert c.doctor_id == "d1"


def test_only_a_waiting_consultation_can_be_cancelled() -> None:
    c = consult()
    c.cancel(T0)
    assert c.status is ConsultStatus.CANCELLED
    active = consult()
    active.accept("d1", T0)
    with pytest.raises(Conflict, match="cannot cancel"):
        active.cancel(T0)


def test_only_the_assigned_doctor_closes_and_only_an_accepted_consultation() -> None:
    with pytest.raises(Conflict, match="only an accepted one"):
        consult().close("d1", NOTE, T0)
    c = consult()
    c.accept("d1", T0)
    with pytest.raises(Conflict, match="another doctor"):
        c.close("d2", NOTE, T0)
    assert c.status is ConsultStatus.ACTIVE


def test_a_waiting_consultation_expires_after_the_waiting_limit_and_not_before() -> None:
    c = consult()
    assert not c.overdue(T0 + PARAMS.waiting_limit - timedelta(seconds=1), PARAMS)
    with pytest.raises(Conflict, match="within its time limit"):
        c.expire(T0 + timedelta(minutes=1), PARAMS)
    c.expire(T0 + PARAMS.waiting_limit, PARAMS)
    assert c.status is ConsultStatus.EXPIRED


def test_an_active_consultation_past_its_limit_expires_and_the_doctor_can_still_close_it() -> None:
    c = consult()
    c.accept("d1", T0)
    late = T0 + PARAMS.active_limit
    assert c.overdue(late, PARAMS)
    c.expire(late, PARAMS)
    assert c.prescribing_problem("d1", "p1") is not None
    c.close("d1", NOTE, late)
    assert c.status is ConsultStatus.CLOSED


def test_rating_needs_a_closed_consultation_whole_stars_1_to_5_and_happens_once() -> None:
    c = consult()
    with pytest.raises(Conflict, match="once it is closed"):
        c.rate(5)
    c.accept("d1", T0)
    c.close("d1", NOTE, T0)
    for bad in (0, 6, True):
        with pytest.raises(ValidationFailed):
            c.rate(bad)
    c.rate(4)
    with pytest.raises(Conflict, match="rated already"):
        c.rate(5)
    assert c.rating == 4


def test_only_an_active_follow_up_of_the_same_doctor_and_patient_may_prescribe() -> None:
    follow_up, first = consult(), consult(diagnosis=None)
    assert follow_up.prescribing_problem("d1", "p1") is not None  # still waiting
    follow_up.accept("d1", T0)
    first.accept("d1", T0)
    assert follow_up.prescribing_problem("d1", "p1") is None
    assert "another patient" in str(follow_up.prescribing_problem("d1", "p2"))
    assert "not assigned" in str(follow_up.prescribing_problem("d2", "p1"))
    assert "first visit" in str(first.prescribing_problem("d1", "p1"))


def test_messages_flow_only_while_active() -> None:
    c = consult()
    with pytest.raises(Conflict, match="only while it is active"):
        c.check_message("p1")
    c.accept("d1", T0)
    c.check_message("p1")


def test_a_red_flag_urgency_or_the_emergency_department_never_makes_a_consultation() -> None:
    with pytest.raises(ValidationFailed, match="urgency"):
        consult(urgency="emergency")
    with pytest.raises(ValidationFailed, match="department"):
        consult(department="emergency")


def test_note_complaint_assessment_and_advice_are_required_and_each_field_is_bounded() -> None:
    with pytest.raises(ValidationFailed) as missing:
        ConsultNote("", "", " ", "", "")
    assert {f for f, _ in missing.value.errors} == {"note.complaint", "note.assessment", "note.advice"}
    with pytest.raises(ValidationFailed, match="at most"):
        ConsultNote("x", "y" * 2001, "a", "b", "")


def test_message_text_is_trimmed_and_bounded_and_client_ids_are_short_and_printable() -> None:
    assert message_text("  好的  ") == "好的"
    for bad in ("", "   ", "x" * (MAX_MESSAGE_CHARS + 1)):
        with pytest.raises(ValidationFailed):
            message_text(bad)
    assert client_msg_id("m-1") == "m-1"
    for bad_id in ("", "x" * 65, "a\nb"):
        with pytest.raises(ValidationFailed):
            client_msg_id(bad_id)


def test_a_prior_diagnosis_names_the_condition_where_and_when() -> None:
    with pytest.raises(ValidationFailed) as empty:
        PriorDiagnosis("asthma", "", " ")
    assert {f for f, _ in empty.value.errors} == {"diagnosis.where", "diagnosis.when"}
