"""Live offers: the matcher's pass over the queue, and a doctor's open offers, accepted or declined.

``match_once`` is one pass in one transaction: open offers past their expiry become ``lapsed`` and those
of consultations no longer waiting ``withdrawn``; then every waiting consultation without an open offer
goes to the best suitable doctor on duty who has not passed it over (``care/offers.py``), as an offer open
for ``offer_seconds``. Each change of an offer writes one audit entry (``resource_type`` =
``consultation_offer``), signed by the matcher or by the doctor who decided.

Accepting an offer runs the same atomic accept as the plain queue (``consult_services.take``); the offer
is marked accepted first, so an offer that lapsed or was withdrawn meanwhile is a 409 and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from yaodao.accounts.model import AuditRecord
from yaodao.accounts.policy import Action, Actor, authorize
from yaodao.care import consult_services as consults
from yaodao.care.consultation import Consultation, ConsultStatus
from yaodao.care.doctors import CONSULT_DEPARTMENTS, DoctorLoad
from yaodao.care.offers import ConsultOffer, OfferParams, OfferState, plan_offers, province_of
from yaodao.care.queue import Urgency, WaitingConsult
from yaodao.care.roster_ports import RosterUnitOfWork
from yaodao.care.rosters import on_duty
from yaodao.kernel.errors import Conflict, NotAuthenticated, NotFound
from yaodao.kernel.ids import new_id

MAX_WAITING = 500  # consultations looked at in one pass, most urgent and longest waiting first


@dataclass(frozen=True, slots=True)
class MatchSummary:
    at: datetime
    made: dict[str, str] = field(default_factory=dict)  # consultation -> doctor offered to
    lapsed: tuple[str, ...] = ()  # offer ids
    withdrawn: tuple[str, ...] = ()  # offer ids


@dataclass(frozen=True, slots=True)
class OfferView:
    """What a doctor sees of an offer: enough to decide, as in the queue."""

    offer: ConsultOffer
    kind: str
    department: str
    urgency: str
    language: str
    waited_s: int
    expires_in_s: int


def match_once(*, uow: RosterUnitOfWork, params: OfferParams | None = None) -> MatchSummary:
    """One pass of the matcher: settle the open offers, then offer what waits without one."""
    params = params or OfferParams()
    with uow:
        now = uow.clock.now()
        lapsed, withdrawn, still_open = _settle(uow, now)
        waiting = [
            c
            for c in uow.consultations.waiting(CONSULT_DEPARTMENTS, limit=MAX_WAITING)
            if c.id not in still_open and not c.overdue(now, consults.PARAMS)
        ]
        by_id = {c.id: c for c in waiting}
        passed = uow.offers.passed_over(list(by_id))
        queue = [_waiting(c, passed.get(c.id, frozenset())) for c in waiting]
        rosters, held = uow.rosters.all(), uow.offers.held_counts()
        loads = [
            DoctorLoad(d, held.get(d.id, 0))
            for d in uow.doctors.consulting()
            if d.may_consult and on_duty(rosters.get(d.id), now)
        ]
        made: dict[str, str] = {}
        for planned in plan_offers(queue, loads, now, params):
            offer = ConsultOffer(
                id=new_id(), consultation_id=planned.consult_id, doctor_id=planned.doctor_id, state=OfferState.OPEN,
                offered_at=planned.offered_at, expires_at=planned.expires_at,
            )  # fmt: skip
            if uow.offers.add(offer):
                made[offer.consultation_id] = offer.doctor_id
                consult = by_id[offer.consultation_id]
                uow.audit(consults.offer_record(uow, None, offer.id, consult, "open", offer.doctor_id))
        uow.commit()
    return MatchSummary(now, made, tuple(lapsed), tuple(withdrawn))


def _settle(uow: RosterUnitOfWork, now: datetime) -> tuple[list[str], list[str], set[str]]:
    lapsed: list[str] = []
    withdrawn: list[str] = []
    still_open: set[str] = set()
    for offer in uow.offers.all_open():
        consult = uow.consultations.get(offer.consultation_id)
        gone = consult is None or consult.status is not ConsultStatus.WAITING or consult.overdue(now, consults.PARAMS)
        state = OfferState.WITHDRAWN if gone else OfferState.LAPSED if offer.lapsed(now) else None
        if state is None:
            still_open.add(offer.consultation_id)
            continue
        if uow.offers.decide(offer.id, state, now) and consult is not None:
            uow.audit(consults.offer_record(uow, None, offer.id, consult, state.value, offer.doctor_id))
        (withdrawn if state is OfferState.WITHDRAWN else lapsed).append(offer.id)
    return lapsed, withdrawn, still_open


def _waiting(c: Consultation, passed_over: frozenset[str]) -> WaitingConsult:
    urgency = Urgency.URGENT if c.urgency == "urgent" else Urgency.SOON if c.urgency == "soon" else Urgency.ROUTINE
    return WaitingConsult(
        id=c.id, province=province_of(c.city_id), city=c.city_id or "unknown", department=c.department,
        language=c.language, urgency=urgency, requested_at=c.requested_at, declined_by=passed_over,
    )  # fmt: skip


def doctor_offers(*, uow: RosterUnitOfWork, actor: Actor) -> list[OfferView]:
    """The doctor's open offers not yet past their expiry, oldest first."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        authorize(actor, Action.CONSULT_ACCEPT)
        now = uow.clock.now()
        views: list[OfferView] = []
        for offer in uow.offers.open_for_doctor(actor.user_id):
            consult = uow.consultations.get(offer.consultation_id)
            if consult is None or offer.lapsed(now) or consult.status is not ConsultStatus.WAITING:
                continue
            views.append(
                OfferView(
                    offer=offer, kind=consult.kind.value, department=consult.department, urgency=consult.urgency,
                    language=consult.language, waited_s=int((now - consult.requested_at).total_seconds()),
                    expires_in_s=max(0, int((offer.expires_at - now).total_seconds())),
                )
            )  # fmt: skip
        uow.audit(
            AuditRecord(
                at=now, actor_id=actor.user_id, actor_roles=actor.roles_text, action="list",
                resource_type="consultation_offer", resource_id=None, patient_id=None, outcome="ok",
                request_id=actor.request_id, ip=actor.ip, detail={"count": str(len(views))},
            )
        )  # fmt: skip
        uow.commit()
        return views


def accept_offer(*, uow: RosterUnitOfWork, actor: Actor, offer_id: str) -> Consultation:
    """The doctor takes the offered consultation; 409 when the offer is no longer open."""
    with uow:
        offer, consult = _own_open_offer(uow, actor, offer_id)
        now = uow.clock.now()
        if not uow.offers.decide(offer.id, OfferState.ACCEPTED, now):
            raise Conflict(f"offer {offer.id} was decided meanwhile", field="offer_id")
        uow.audit(consults.offer_record(uow, actor, offer.id, consult, OfferState.ACCEPTED.value, offer.doctor_id))
        return consults.take(uow, actor, offer.consultation_id)


def decline_offer(*, uow: RosterUnitOfWork, actor: Actor, offer_id: str) -> ConsultOffer:
    """The doctor passes; the next pass of the matcher offers the consultation to another doctor."""
    with uow:
        offer, consult = _own_open_offer(uow, actor, offer_id)
        now = uow.clock.now()
        if not uow.offers.decide(offer.id, OfferState.DECLINED, now):
            raise Conflict(f"offer {offer.id} was decided meanwhile", field="offer_id")
        uow.audit(consults.offer_record(uow, actor, offer.id, consult, OfferState.DECLINED.value, offer.doctor_id))
        uow.commit()
        return replace(offer, state=OfferState.DECLINED, decided_at=now)


def _own_open_offer(uow: RosterUnitOfWork, actor: Actor, offer_id: str) -> tuple[ConsultOffer, Consultation]:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    authorize(actor, Action.CONSULT_ACCEPT)
    offer = uow.offers.get(offer_id)
    if offer is None or offer.doctor_id != actor.user_id:
        raise NotFound(f"offer {offer_id} not found", field="offer_id")
    offer.require_open(uow.clock.now())
    consult = uow.consultations.get(offer.consultation_id)
    if consult is None:
        raise NotFound(f"offer {offer_id} not found", field="offer_id")
    return offer, consult
