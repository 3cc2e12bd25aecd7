"""Consultation intake: the form, the real triage, and either a queued consultation or emergency guidance.

A red flag stops the online path (DOMAIN.md RF1): nothing is queued, the answer is the emergency number
and the nearest emergency departments, and the audit log records the redirection. Otherwise the
consultation waits in its department's queue, as a follow-up when the patient names an in-person
diagnosis (what, where, when) and as a first visit otherwise (D1: advice, no prescription).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yaodao.accounts.model import AuditRecord
from yaodao.accounts.policy import Action, Actor, Scope, authorize
from yaodao.care.consultation import Consultation, PriorDiagnosis
from yaodao.care.emergency import EmergencyGuidance, guidance
from yaodao.care.events import ConsultationChanged
from yaodao.care.ports import CareUnitOfWork
from yaodao.care.triage import Intake, Triage, triage
from yaodao.kernel.errors import NotAuthenticated, NotFound
from yaodao.kernel.geo import LatLng
from yaodao.kernel.ids import new_id

_HAN = re.compile("[\u3400-\u9fff]")


@dataclass(frozen=True, slots=True)
class IntakeForm:
    text: str
    age_years: float | None
    sex: str
    pregnant: bool = False
    allergies: tuple[str, ...] = ()
    current_meds: tuple[str, ...] = ()
    diagnosis: PriorDiagnosis | None = None
    patient_id: str | None = None  # a family member of the signed-in account; None for the account holder
    location: LatLng | None = None  # where the patient is, for the nearest emergency department


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    triage: Triage
    consultation: Consultation | None  # None when a red flag sent the patient to emergency care
    emergency: EmergencyGuidance | None


def start_consultation(*, uow: CareUnitOfWork, actor: Actor, form: IntakeForm) -> IntakeOutcome:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    result = triage(
        Intake(
            text=form.text, age_years=form.age_years, sex=form.sex, pregnant=form.pregnant,
            allergies=form.allergies, current_meds=form.current_meds, diagnosed_before=form.diagnosis is not None,
            for_person="self" if form.patient_id in (None, actor.user_id) else "family",
        )
    )  # fmt: skip
    with uow:
        authorize(actor, Action.CONSULT_START, Scope(owner_id=actor.user_id))
        patient_id = actor.user_id
        if form.patient_id not in (None, actor.user_id):
            member = uow.family.get(str(form.patient_id))
            if member is None or member.owner_id != actor.user_id:
                raise NotFound(f"family member {form.patient_id} not found", field="patient_id")
            patient_id = member.id
        address = _home(uow, actor.user_id)
        city_id = address[0] if address else None
        now = uow.clock.now()
        if result.red_flags:
            near = form.location or (address[1] if address else None)
            advice = guidance(city_id=city_id, near=near, crisis=result.guidance == "crisis_line")
            uow.audit(
                AuditRecord(
                    at=now, actor_id=actor.user_id, actor_roles=actor.roles_text, action="create",
                    resource_type="consultation", resource_id=None, patient_id=patient_id, outcome="redirected",
                    request_id=actor.request_id, ip=actor.ip,
                    detail={"red_flags": ",".join(result.red_flags), "guidance": result.guidance or "call_120"},
                )
            )  # fmt: skip
            uow.commit()
            return IntakeOutcome(result, None, advice)
        consult = Consultation(
            id=new_id(), patient_id=patient_id, owner_id=actor.user_id, city_id=city_id, complaint=form.text.strip(),
            age_years=form.age_years, sex=form.sex, pregnant=form.pregnant, allergies=form.allergies,
            current_meds=form.current_meds, diagnosis=form.diagnosis, department=result.department,
            urgency=result.urgency, language="zh" if _HAN.search(form.text) else "en", requested_at=now,
        )  # fmt: skip
        uow.consultations.add(consult)
        uow.audit(
            AuditRecord(
                at=now, actor_id=actor.user_id, actor_roles=actor.roles_text, action="create",
                resource_type="consultation", resource_id=consult.id, patient_id=patient_id, outcome="ok",
                request_id=actor.request_id, ip=actor.ip,
                detail={"kind": consult.kind.value, "department": consult.department, "urgency": consult.urgency},
            )
        )  # fmt: skip
        uow.emit(
            ConsultationChanged(
                consultation_id=consult.id, change="requested", status=consult.status.value,
                department=consult.department, doctor_id=None, city_id=city_id,
            )
        )  # fmt: skip
        uow.commit()
        return IntakeOutcome(result, consult, None)


def _home(uow: CareUnitOfWork, user_id: str) -> tuple[str, LatLng] | None:
    """The account's default address (else its first): its city and position."""
    addresses = uow.addresses.of_user(user_id)
    if not addresses:
        return None
    chosen = next((a for a in addresses if a.is_default), addresses[0])
    return chosen.city_id, chosen.location
