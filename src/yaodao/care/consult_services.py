"""Consultations after intake: who may see them, the doctors' queue, accepting, cancelling, closing, rating.

Access goes through the policy: a patient sees the consultations they asked for (their own and their
family members'); a doctor sees those assigned to them, and of the waiting ones only what is needed to
accept them (department, urgency, kind, how long they waited). Anyone else gets a 404, as if the
consultation did not exist. Every read of a consultation writes one audit entry.

Time limits are applied when a consultation is loaded: an overdue one is marked expired first
(``ConsultParams``), so the state a caller acts on is never stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from yaodao.accounts.model import AuditRecord, Role
from yaodao.accounts.policy import Action, Actor, Scope, allowed, authorize
from yaodao.care.consultation import Consultation, ConsultNote, ConsultParams, ConsultStatus
from yaodao.care.doctors import Doctor, DoctorLoad
from yaodao.care.events import ConsultationChanged
from yaodao.care.offers import OfferState
from yaodao.care.ports import CareUnitOfWork
from yaodao.care.queue import ConsultQueue, ServiceStats, Urgency, WaitingConsult, estimated_wait
from yaodao.care.roster_ports import RosterUnitOfWork
from yaodao.care.rosters import on_duty
from yaodao.kernel.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied
from yaodao.kernel.paging import Page, PageRequest

PARAMS = ConsultParams()
# Until measured figures exist: a doctor answers an offer in about a minute, a consultation takes about 15.
STATS = ServiceStats(mean_reply_s=60.0, mean_service_s=15 * 60.0)


@dataclass(frozen=True, slots=True)
class ConsultView:
    consultation: Consultation
    place: int | None  # 1 = next, while waiting
    estimated_wait: timedelta | None  # None when not waiting, or no suitable doctor is on duty


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """What a doctor sees of a waiting consultation before accepting it."""

    id: str
    kind: str
    department: str
    urgency: str
    language: str
    waited_s: int


def load(uow: CareUnitOfWork, consultation_id: str, now: datetime) -> Consultation:
    """The consultation, marked expired first when it is past its time limit; NotFound when unknown."""
    consult = uow.consultations.get(consultation_id)
    if consult is None:
        raise NotFound(f"consultation {consultation_id} not found", field="consultation_id")
    if consult.overdue(now, PARAMS):
        before = consult.version
        consult.expire(now, PARAMS)
        uow.consultations.save(consult, before)
        _emit(uow, consult, "expired")
    return consult


def participant_side(actor: Actor, consult: Consultation, action: Action) -> str | None:
    """'patient' or 'doctor' when ``actor`` may take ``action`` on this consultation; None otherwise."""
    if Role.DOCTOR in actor.roles and consult.doctor_id == actor.user_id and allowed(actor, action):
        return "doctor"
    if Role.PATIENT in actor.roles and allowed(actor, action, Scope(owner_id=consult.owner_id)):
        return "patient"
    return None


def visible(uow: CareUnitOfWork, actor: Actor, consultation_id: str, action: Action) -> tuple[Consultation, str]:
    """The consultation and the actor's side, or a 404 for anyone who is not a participant."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    consult = load(uow, consultation_id, uow.clock.now())
    return consult, side_of(actor, consult, action)


def side_of(actor: Actor, consult: Consultation, action: Action) -> str:
    """The actor's side of a loaded consultation, or a 404 for anyone who is not a participant."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    side = participant_side(actor, consult, action)
    if side is None:
        if not allowed(actor, action):
            raise PermissionDenied(f"your role may not {action.value.replace(':', ' ')}")
        raise NotFound(f"consultation {consult.id} not found", field="consultation_id")
    return side


def get_consultation(*, uow: RosterUnitOfWork, actor: Actor, consultation_id: str) -> ConsultView:
    with uow:
        consult, _ = visible(uow, actor, consultation_id, Action.CONSULT_READ)
        place = wait = None
        if consult.status is ConsultStatus.WAITING:
            place, wait = _place_and_wait(uow, consult)
        uow.audit(record(uow, actor, "read", consult))
        uow.commit()
        return ConsultView(consult, place, wait)


def list_mine(*, uow: CareUnitOfWork, actor: Actor, page: PageRequest) -> Page[Consultation]:
    """A patient's consultations (theirs and their family's); a doctor's assigned ones."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        authorize(actor, Action.CONSULT_READ)
        if Role.PATIENT in actor.roles:
            found = uow.consultations.for_owners(actor.user_id, page)
        else:
            found = uow.consultations.for_doctor(actor.user_id, page)
        uow.audit(
            AuditRecord(
                at=uow.clock.now(), actor_id=actor.user_id, actor_roles=actor.roles_text, action="list",
                resource_type="consultation", resource_id=None, patient_id=None, outcome="ok",
                request_id=actor.request_id, ip=actor.ip, detail={"count": str(len(found.items))},
            )
        )  # fmt: skip
        uow.commit()
        return found


def cancel(*, uow: CareUnitOfWork, actor: Actor, consultation_id: str) -> Consultation:
    with uow:
        consult, _ = visible(uow, actor, consultation_id, Action.CONSULT_CANCEL)
        before = consult.version
        consult.cancel(uow.clock.now())
        _save(uow, actor, consult, before, "cancelled")
        return consult


def doctor_queue(*, uow: RosterUnitOfWork, actor: Actor) -> list[QueueEntry]:
    """The waiting consultations of the doctor's departments and languages: most urgent, then longest waiting.

    Empty while the doctor is off duty by their roster (a doctor without a roster is always on duty).
    """
    with uow:
        authorize(actor, Action.CONSULT_QUEUE)
        doctor = _consulting_doctor(uow, actor, lock=False)
        now = uow.clock.now()
        duty = on_duty(uow.rosters.get(doctor.id), now)
        entries = [
            QueueEntry(
                c.id, c.kind.value, c.department, c.urgency, c.language, int((now - c.requested_at).total_seconds())
            )
            for c in uow.consultations.waiting(doctor.departments)
            if duty and doctor.speaks(c.language) and not c.overdue(now, PARAMS)
        ]
        uow.audit(
            AuditRecord(
                at=now, actor_id=actor.user_id, actor_roles=actor.roles_text, action="list",
                resource_type="consultation_queue", resource_id=None, patient_id=None, outcome="ok",
                request_id=actor.request_id, ip=actor.ip, detail={"count": str(len(entries))},
            )
        )  # fmt: skip
        uow.commit()
        return entries


def accept(*, uow: RosterUnitOfWork, actor: Actor, consultation_id: str) -> Consultation:
    """The doctor takes a waiting consultation. Of two doctors accepting it at once exactly one wins."""
    with uow:
        return take(uow, actor, consultation_id)


def take(uow: RosterUnitOfWork, actor: Actor, consultation_id: str) -> Consultation:
    """``accept`` inside the caller's unit of work, committing it: the doctor must be on duty now.

    An open offer of the consultation is settled in the same transaction: accepted when it was this
    doctor's, withdrawn when another doctor takes the consultation from the plain queue.
    """
    authorize(actor, Action.CONSULT_ACCEPT)
    doctor = _consulting_doctor(uow, actor, lock=True)
    now = uow.clock.now()
    if not on_duty(uow.rosters.get(doctor.id), now):
        raise Conflict("you are not on duty now by your roster", field="roster")
    consult = load(uow, consultation_id, now)
    if not doctor.treats(consult.department) or not doctor.speaks(consult.language):
        raise NotFound(f"consultation {consultation_id} is not in your queue", field="consultation_id")
    before = consult.version
    consult.accept(doctor.id, uow.clock.now())  # a consultation no longer waiting is refused first
    active = uow.consultations.active_count(doctor.id)
    if active >= doctor.max_concurrent:
        raise Conflict(
            f"you have {active} active consultations, your limit is {doctor.max_concurrent}: close one first",
            field="max_concurrent",
        )
    offer = uow.offers.open_for(consult.id)
    if offer is not None:
        state = OfferState.ACCEPTED if offer.doctor_id == doctor.id else OfferState.WITHDRAWN
        if uow.offers.decide(offer.id, state, now):
            uow.audit(offer_record(uow, actor, offer.id, consult, state.value, offer.doctor_id))
    _save(uow, actor, consult, before, "accepted")
    return consult


def close(*, uow: CareUnitOfWork, actor: Actor, consultation_id: str, note: ConsultNote) -> Consultation:
    with uow:
        consult, _ = visible(uow, actor, consultation_id, Action.CONSULT_CLOSE)
        before = consult.version
        consult.close(str(actor.user_id), note, uow.clock.now())
        _save(uow, actor, consult, before, "closed")
        return consult


def rate(*, uow: CareUnitOfWork, actor: Actor, consultation_id: str, stars: int) -> Consultation:
    """The patient's 1-5 stars after closure; the doctor's mean rating takes them in."""
    with uow:
        consult, _ = visible(uow, actor, consultation_id, Action.CONSULT_RATE)
        before = consult.version
        consult.rate(stars)
        if consult.doctor_id is not None:
            uow.doctors.add_rating(consult.doctor_id, stars)
        _save(uow, actor, consult, before, "rated")
        return consult


def record(uow: CareUnitOfWork, actor: Actor, action: str, consult: Consultation, **detail: str) -> AuditRecord:
    return AuditRecord(
        at=uow.clock.now(), actor_id=actor.user_id, actor_roles=actor.roles_text, action=action,
        resource_type="consultation", resource_id=consult.id, patient_id=consult.patient_id, outcome="ok",
        request_id=actor.request_id, ip=actor.ip, detail=dict(detail),
    )  # fmt: skip


def offer_record(
    uow: CareUnitOfWork, actor: Actor | None, offer_id: str, consult: Consultation, state: str, doctor_id: str
) -> AuditRecord:
    """The audit entry of an offer's change: made, accepted, declined, lapsed or withdrawn."""
    return AuditRecord(
        at=uow.clock.now(), actor_id=None if actor is None else actor.user_id,
        actor_roles="matcher" if actor is None else actor.roles_text, action="update",
        resource_type="consultation_offer", resource_id=offer_id, patient_id=consult.patient_id, outcome="ok",
        request_id=None if actor is None else actor.request_id, ip=None if actor is None else actor.ip,
        detail={"state": state, "doctor_id": doctor_id, "consultation_id": consult.id},
    )  # fmt: skip


def _save(uow: CareUnitOfWork, actor: Actor, consult: Consultation, before: int, change: str) -> None:
    uow.consultations.save(consult, before)
    uow.audit(record(uow, actor, "update", consult, change=change, status=consult.status.value))
    _emit(uow, consult, change)
    uow.commit()


def _emit(uow: CareUnitOfWork, consult: Consultation, change: str) -> None:
    uow.emit(
        ConsultationChanged(
            consultation_id=consult.id, change=change, status=consult.status.value, department=consult.department,
            doctor_id=consult.doctor_id, city_id=consult.city_id,
        )
    )  # fmt: skip


def _consulting_doctor(uow: CareUnitOfWork, actor: Actor, *, lock: bool) -> Doctor:
    found = (uow.doctors.get_for_update if lock else uow.doctors.get)(str(actor.user_id))
    if found is None:
        raise PermissionDenied("this account has no doctor profile")
    doctor: Doctor = found[0]
    if found[1] or not doctor.may_consult:
        raise PermissionDenied("only a verified doctor in good standing takes consultations")
    return doctor


def _place_and_wait(uow: RosterUnitOfWork, consult: Consultation) -> tuple[int, timedelta | None]:
    queue = ConsultQueue()
    for c in uow.consultations.waiting([consult.department], limit=1000):
        queue.push(_waiting(c))
    if consult.id not in queue:
        queue.push(_waiting(consult))
    rosters, now = uow.rosters.all(), uow.clock.now()
    doctors = [d for d in uow.doctors.consulting() if d.treats(consult.department) and on_duty(rosters.get(d.id), now)]
    loads = [DoctorLoad(d, uow.consultations.active_count(d.id)) for d in doctors]
    return queue.position_of(consult.id), estimated_wait(queue, consult.id, loads, STATS)


def _waiting(c: Consultation) -> WaitingConsult:
    urgency = Urgency.URGENT if c.urgency == "urgent" else Urgency.ROUTINE
    return WaitingConsult(
        id=c.id, province=c.city_id or "unknown", city=c.city_id or "unknown", department=c.department,
        language=c.language, urgency=urgency, requested_at=c.requested_at,
    )  # fmt: skip
