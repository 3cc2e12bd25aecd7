"""Doctors on the platform and the e-prescriptions they sign (DOMAIN D2, D3, D4, P1, P2).

An admin registers a doctor's professional profile (licence, hospital, region, departments) for an
account with the doctor role; the doctor registers the Ed25519 public key their own device signs
with (the private key never reaches the platform). A prescription is accepted only from a verified,
unsuspended doctor with at least 3 years of practice, signed by one of that doctor's active keys
over its canonical form (``care/prescribing.py``), and free of controlled or prohibited drugs. It must
come from an active follow-up consultation assigned to the issuing doctor, about the same patient (D1: a
first visit gets advice, not a prescription); the prescription row records that consultation.
Checkout checks the same signature and standing again before dispensing.
"""

from __future__ import annotations

from datetime import timedelta

from yaodao.accounts.model import AuditRecord, Role
from yaodao.accounts.policy import Action, Actor, Scope, allowed, authorize
from yaodao.care.consult_services import load as load_consultation
from yaodao.care.doctors import MIN_YEARS_PRACTISING, Doctor
from yaodao.care.ports import CareUnitOfWork
from yaodao.care.prescribing import load_public_key, verify
from yaodao.kernel.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from yaodao.kernel.ids import new_id
from yaodao.ordering.ports import OrderingUnitOfWork
from yaodao.ordering.prescriptions import Finding, Prescription

# A prescription's issue time comes from the doctor's device: it may differ a little from ours.
CLOCK_SKEW = timedelta(minutes=5)


def register_doctor(*, uow: CareUnitOfWork, actor: Actor, doctor: Doctor) -> Doctor:
    with uow:
        authorize(actor, Action.USER_ADMIN)
        user = uow.users.get(doctor.id)
        if user is None:
            raise NotFound(f"user {doctor.id} not found", field="user_id")
        if Role.DOCTOR not in user.roles:
            raise ValidationFailed("only an account with the doctor role can hold a doctor profile", field="user_id")
        if uow.doctors.get(doctor.id) is not None:
            raise Conflict(f"user {doctor.id} already has a doctor profile", field="user_id")
        uow.doctors.add(doctor, uow.clock.now())
        uow.commit()
        return doctor


def add_signing_key(*, uow: CareUnitOfWork, actor: Actor, public_key: str) -> str:
    """A doctor registers the public half of the key they sign prescriptions with; returns its id."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    if Role.DOCTOR not in actor.roles:
        raise PermissionDenied("only doctors register prescription-signing keys")
    try:
        load_public_key(public_key)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="public_key") from None
    with uow:
        if uow.doctors.get(actor.user_id) is None:
            raise NotFound("this account has no doctor profile yet", field="doctor")
        key_id = new_id()
        uow.doctors.add_key(key_id, actor.user_id, public_key.strip(), uow.clock.now())
        uow.commit()
        return key_id


def signature_problems(uow: OrderingUnitOfWork, rx: Prescription) -> list[Finding]:
    """Why a prescription's prescriber or signature cannot be trusted (D2, D3); empty when sound."""
    found = uow.doctors.get(rx.doctor_id)
    if found is None:
        return [Finding("rx_unknown_prescriber", f"prescription {rx.id} names no doctor on this platform", rule="D2")]
    doctor, suspended = found
    problems = []
    if not doctor.verified or suspended or doctor.years_practising < MIN_YEARS_PRACTISING:
        problems.append(
            Finding("rx_prescriber_not_in_good_standing", f"the prescriber of {rx.id} may not prescribe", rule="D2")
        )
    keys = uow.doctors.active_keys(rx.doctor_id, rx.issued_at)
    if not any(verify(rx, load_public_key(key)) for key in keys):
        problems.append(
            Finding("rx_signature_invalid", f"prescription {rx.id} is not signed by its prescriber", rule="D3")
        )
    return problems


def issue_prescription(*, uow: CareUnitOfWork, actor: Actor, rx: Prescription, consultation_id: str) -> Prescription:
    """Store a prescription the doctor signed on their device in ``consultation_id``, once every rule holds."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        authorize(actor, Action.PRESCRIPTION_ISSUE)
        if Role.ADMIN not in actor.roles and rx.doctor_id != actor.user_id:
            raise PermissionDenied("a doctor issues prescriptions in their own name only")
        now = uow.clock.now()
        if abs(rx.issued_at - now) > CLOCK_SKEW:
            raise ValidationFailed(
                "issued_at must be now (within 5 minutes of the platform's clock)", field="issued_at"
            )
        problems = signature_problems(uow, rx)
        problems += [p for p in rx.dispensing_problems(now, rx.patient_id) if p.code != "rx_used"]
        if problems:
            raise ValidationFailed(
                "; ".join(p.message for p in problems),
                field="prescription",
                errors=[(p.code, p.message) for p in problems],
            )
        if uow.prescriptions.get(rx.id) is not None:
            raise Conflict(f"prescription {rx.id} exists already", field="id")
        consult = load_consultation(uow, consultation_id, now)
        problem = consult.prescribing_problem(rx.doctor_id, rx.patient_id)
        if problem is not None:
            uow.commit()  # an expiry found on the way stands
            raise Conflict(problem, field="consultation_id")
        uow.prescriptions.add(rx, now)
        uow.consultations.link_prescription(rx.id, consult.id)
        uow.audit(_record(uow, actor, "create", rx))
        uow.commit()
        return rx


def get_prescription(*, uow: CareUnitOfWork, actor: Actor, rx_id: str) -> Prescription:
    """The prescription for its patient (or the patient's family account), its doctor, or a pharmacist."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        rx = uow.prescriptions.get(rx_id)
        owner = None
        if rx is not None:
            member = uow.family.get(rx.patient_id)
            owner = member.owner_id if member is not None else rx.patient_id
        visible = rx is not None and (
            rx.doctor_id == actor.user_id
            or (Role.PATIENT in actor.roles and allowed(actor, Action.PRESCRIPTION_READ, Scope(owner_id=owner)))
            or bool(actor.roles & {Role.PHARMACIST, Role.ADMIN})
        )
        if rx is None or not visible:
            raise NotFound(f"prescription {rx_id} not found", field="prescription_id")
        uow.audit(_record(uow, actor, "read", rx))
        uow.commit()
        return rx


def _record(uow: CareUnitOfWork, actor: Actor, action: str, rx: Prescription) -> AuditRecord:
    return AuditRecord(
        at=uow.clock.now(), actor_id=actor.user_id, actor_roles=actor.roles_text, action=action,
        resource_type="prescription", resource_id=rx.id, patient_id=rx.patient_id, outcome="ok",
        request_id=actor.request_id, ip=actor.ip,
    )  # fmt: skip
