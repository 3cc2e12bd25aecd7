"""Doctors and e-prescriptions over HTTP.

A doctor's device holds the private key: it builds the prescription, signs its canonical form
(``yaodao.care.prescribing``) and sends both; the platform checks the signature against the keys the
doctor registered, the doctor's standing and the prescribing rules before storing it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from yaodao.care import services as care
from yaodao.care.doctors import Doctor
from yaodao.kernel.errors import ValidationFailed
from yaodao.ordering.prescriptions import PrescribedItem, Prescription
from yaodao.web.deps import ActorDep, UowDep

router = APIRouter(tags=["care"])

Text = Annotated[str, Field(min_length=1, max_length=200)]


class DoctorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Annotated[str, Field(min_length=1, max_length=80)]
    licence_no: Annotated[str, Field(min_length=5, max_length=40)]
    hospital: Text
    province: Annotated[str, Field(min_length=2, max_length=40)]
    city: Annotated[str, Field(min_length=2, max_length=40)]
    departments: Annotated[list[Annotated[str, Field(max_length=40)]], Field(min_length=1, max_length=5)]
    languages: Annotated[list[Annotated[str, Field(max_length=10)]], Field(min_length=1, max_length=5)]
    verified: bool = False
    years_practising: Annotated[int, Field(strict=True, ge=0, le=70)]
    max_concurrent: Annotated[int, Field(strict=True, ge=1, le=20)] = 3


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public_key: Annotated[str, Field(min_length=40, max_length=100, description="Ed25519 public key, base64")]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    drug: Annotated[str, Field(min_length=2, max_length=120, description="INN(s), '+' between them")]
    product_id: Annotated[str | None, Field(max_length=80)] = None
    dosage_form: Annotated[str | None, Field(max_length=40)] = None
    quantity_packs: Annotated[int, Field(strict=True, ge=1, le=20)]
    dose_text: Annotated[str, Field(min_length=1, max_length=200)]
    days_supply: Annotated[int, Field(strict=True, ge=1, le=84)]


class PrescriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=8, max_length=80)]
    patient_id: Annotated[str, Field(min_length=1, max_length=80)]
    doctor_id: Annotated[str, Field(min_length=1, max_length=80)]
    issued_at: AwareDatetime
    valid_until: AwareDatetime
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=5)]
    fills_allowed: Annotated[int, Field(strict=True, ge=1, le=12)] = 1
    emergency: bool = False
    first_visit: bool = False
    long_term_weeks: Annotated[int | None, Field(strict=True, ge=1, le=12)] = None
    long_supply_reason: Annotated[str | None, Field(max_length=300)] = None
    consultation_id: Annotated[str, Field(min_length=1, max_length=80, description="the active follow-up")]
    signature: Annotated[str, Field(min_length=80, max_length=100, description="Ed25519 signature, base64")]


def prescription_json(rx: Prescription) -> dict[str, Any]:
    return {
        "id": rx.id, "patient_id": rx.patient_id, "doctor_id": rx.doctor_id, "issued_at": rx.issued_at.isoformat(),
        "valid_until": rx.expires_at.isoformat(), "fills_allowed": rx.fills_allowed, "fills_used": rx.fills_used,
        "used_at": rx.used_at.isoformat() if rx.used_at else None, "review_state": rx.review_state.value,
        "items": [
            {"drug": i.drug, "product_id": i.product_id, "quantity_packs": i.quantity_packs, "dose_text": i.dose_text,
             "days_supply": i.days_supply}
            for i in rx.items
        ],
    }  # fmt: skip


@router.post("/api/admin/doctors", status_code=status.HTTP_201_CREATED)
def register_doctor(body: DoctorIn, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    try:
        doctor = Doctor(
            id=body.user_id, licence_no=body.licence_no, hospital=body.hospital, province=body.province,
            city=body.city, departments=tuple(body.departments), languages=tuple(body.languages),
            verified=body.verified, years_practising=body.years_practising, max_concurrent=body.max_concurrent,
        )  # fmt: skip
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="doctor") from None
    care.register_doctor(uow=uow, actor=actor, doctor=doctor)
    return {"user_id": doctor.id, "licence_no": doctor.licence_no, "verified": doctor.verified}


@router.post("/api/doctors/me/keys", status_code=status.HTTP_201_CREATED)
def add_key(body: KeyIn, uow: UowDep, actor: ActorDep) -> dict[str, str]:
    return {"id": care.add_signing_key(uow=uow, actor=actor, public_key=body.public_key)}


@router.post("/api/prescriptions", status_code=status.HTTP_201_CREATED)
def issue(body: PrescriptionIn, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    try:
        signature = base64.b64decode(body.signature, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("signature must be base64 text", field="signature") from None
    rx = Prescription(
        id=body.id, patient_id=body.patient_id, doctor_id=body.doctor_id, issued_at=body.issued_at,
        valid_until=body.valid_until,
        items=tuple(
            PrescribedItem(i.drug, i.quantity_packs, i.dose_text, i.days_supply, i.product_id, i.dosage_form)
            for i in body.items
        ),
        fills_allowed=body.fills_allowed, signature=signature, first_visit=body.first_visit,
        emergency=body.emergency, long_term_weeks=body.long_term_weeks, long_supply_reason=body.long_supply_reason,
    )  # fmt: skip
    return prescription_json(care.issue_prescription(uow=uow, actor=actor, rx=rx, consultation_id=body.consultation_id))


@router.get("/api/prescriptions/{rx_id}")
def get(rx_id: str, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    return prescription_json(care.get_prescription(uow=uow, actor=actor, rx_id=rx_id))
