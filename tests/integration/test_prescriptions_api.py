"""E-prescriptions over HTTP: signed on the doctor's device, verified and ruled on by the platform."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest

from shop import consultation
from support import Platform
from yaodao.accounts.model import Role
from yaodao.care.prescribing import generate_key, sign
from yaodao.kernel.paging import PageRequest
from yaodao.ordering.prescriptions import PrescribedItem, Prescription


@pytest.fixture
def doctor(platform: Platform) -> Any:
    """The platform's doctor account, given a profile (once per engine) and a fresh signing key."""
    user = platform.users[Role.DOCTOR]
    body = {
        "user_id": user.id, "licence_no": f"110{uuid.uuid4().hex[:12]}", "hospital": "杭州市第一人民医院",
        "province": "zhejiang", "city": "hangzhou", "departments": ["internal_medicine"], "languages": ["zh"],
        "verified": True, "years_practising": 9,
    }  # fmt: skip
    made = platform.client.post("/api/admin/doctors", json=body, headers=platform.auth(Role.ADMIN))
    assert made.status_code in (201, 409), made.text
    key, public = generate_key()
    added = platform.client.post(
        "/api/doctors/me/keys", json={"public_key": public}, headers=platform.auth(Role.DOCTOR)
    )
    assert added.status_code == 201, added.text
    return user.id, key


def _signed(
    platform: Platform, doctor: Any, patient_id: str, *, consultation_id: str | None = None, **changes: Any
) -> tuple[Prescription, dict[str, Any]]:
    """A signed prescription body, issued in ``consultation_id`` (default: a new active follow-up)."""
    doctor_id, key = doctor
    consultation_id = consultation_id or consultation(platform, patient_id, doctor_id=platform.users[Role.DOCTOR].id)
    now = platform.clock.now()
    rx = Prescription(
        id=uuid.uuid4().hex, patient_id=patient_id, doctor_id=doctor_id, issued_at=now,
        valid_until=now + timedelta(hours=8), items=(PrescribedItem("amoxicillin", 1, "0.5 g tid", 5),),
    )  # fmt: skip
    rx = dataclasses.replace(rx, **changes)
    body = {
        "id": rx.id, "patient_id": rx.patient_id, "doctor_id": rx.doctor_id, "issued_at": rx.issued_at.isoformat(),
        "valid_until": rx.valid_until.isoformat(), "first_visit": rx.first_visit,
        "items": [{"drug": i.drug, "quantity_packs": i.quantity_packs, "dose_text": i.dose_text,
                   "days_supply": i.days_supply} for i in rx.items],
        "signature": base64.b64encode(sign(rx, key)).decode(), "consultation_id": consultation_id,
    }  # fmt: skip
    return rx, body


def test_a_signed_prescription_is_stored_and_shown_to_its_patient_only(platform: Platform, doctor: Any) -> None:
    patient = platform.users[Role.PATIENT].id
    rx, body = _signed(platform, doctor, patient)
    made = platform.client.post("/api/prescriptions", json=body, headers=platform.auth(Role.DOCTOR))
    assert made.status_code == 201, made.text
    assert made.json()["fills_used"] == 0
    assert platform.client.get(f"/api/prescriptions/{rx.id}", headers=platform.auth(Role.PATIENT)).status_code == 200
    for role in (Role.COURIER, Role.STORE_STAFF, Role.OPERATOR):
        assert platform.client.get(f"/api/prescriptions/{rx.id}", headers=platform.auth(role)).status_code == 404
    with platform.container.uow(read_only=True) as uow:
        audit = uow.audit_log.list_page(PageRequest(1, 200))
    assert any(r.resource_id == rx.id and r.action == "read" for r in audit.items)


def test_an_altered_unsigned_or_first_visit_prescription_is_refused(platform: Platform, doctor: Any) -> None:
    """D3: a body changed after signing; D1: a first visit; D4: a psychotropic; each a 422 naming why."""
    patient = platform.users[Role.PATIENT].id
    _, altered = _signed(platform, doctor, patient)
    altered["items"][0]["quantity_packs"] = 3
    _, first_visit = _signed(platform, doctor, patient, first_visit=True)
    _, controlled = _signed(platform, doctor, patient, items=(PrescribedItem("diazepam", 1, "5 mg nightly", 5),))
    for body, code in (
        (altered, "rx_signature_invalid"),
        (first_visit, "rx_first_visit"),
        (controlled, "rx_controlled"),
    ):
        answer = platform.client.post("/api/prescriptions", json=body, headers=platform.auth(Role.DOCTOR))
        assert answer.status_code == 422, answer.text
        assert code in answer.text


def test_only_doctors_prescribe_and_only_in_their_own_name(platform: Platform, doctor: Any) -> None:
    patient = platform.users[Role.PATIENT].id
    _, body = _signed(platform, doctor, patient)
    assert platform.client.post("/api/prescriptions", json=body, headers=platform.auth(Role.PATIENT)).status_code == 403
    assert platform.client.post("/api/prescriptions", json=body).status_code == 401
    _, other = _signed(platform, (platform.users[Role.ADMIN].id, doctor[1]), patient)
    assert platform.client.post("/api/prescriptions", json=other, headers=platform.auth(Role.DOCTOR)).status_code == 403


def test_a_prescription_needs_an_active_follow_up_consultation_of_its_doctor_and_patient(
    platform: Platform, doctor: Any
) -> None:
    """D1: a first visit, a waiting (unassigned) one, another patient's, an unknown one: refused, nothing stored."""
    patient, other = platform.users[Role.PATIENT].id, platform.users[Role.PHARMACIST].id
    doctor_id = doctor[0]
    cases = {
        "first visit": consultation(platform, patient, doctor_id=doctor_id, follow_up=False),
        "not assigned": consultation(platform, patient),  # still waiting for a doctor
        "another patient": consultation(platform, other, doctor_id=doctor_id),
    }
    for reason, consultation_id in cases.items():
        rx, body = _signed(platform, doctor, patient, consultation_id=consultation_id)
        answer = platform.client.post("/api/prescriptions", json=body, headers=platform.auth(Role.DOCTOR))
        assert answer.status_code == 409, answer.text
        assert reason in answer.json()["detail"]
        with platform.container.uow(read_only=True) as uow:
            assert uow.prescriptions.get(rx.id) is None
    _, unknown = _signed(platform, doctor, patient, consultation_id="no-such-consultation")
    assert (
        platform.client.post("/api/prescriptions", json=unknown, headers=platform.auth(Role.DOCTOR)).status_code == 404
    )
    missing = _signed(platform, doctor, patient)[1]
    del missing["consultation_id"]
    answer = platform.client.post("/api/prescriptions", json=missing, headers=platform.auth(Role.DOCTOR))
    assert answer.status_code == 422
    assert "consultation_id" in answer.text


def test_the_prescription_records_the_consultation_it_was_issued_in(platform: Platform, doctor: Any) -> None:
    patient = platform.users[Role.PATIENT].id
    consultation_id = consultation(platform, patient, doctor_id=doctor[0])
    rx, body = _signed(platform, doctor, patient, consultation_id=consultation_id)
    assert platform.client.post("/api/prescriptions", json=body, headers=platform.auth(Role.DOCTOR)).status_code == 201
    with platform.container.uow(read_only=True) as uow:
        assert uow.consultations.prescription_consultation(rx.id) == consultation_id
