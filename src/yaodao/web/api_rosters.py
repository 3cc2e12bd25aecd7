"""Doctors' rosters, the gaps in 24-hour coverage, and a doctor's live offers, over HTTP.

``PUT /api/admin/doctors/{id}/roster`` replaces a doctor's week (admin); a bad weekday, minute, length,
overlap or timezone is a 422 naming the slot and field, and nothing is written. A doctor's open offers
are at ``GET /api/doctor/offers``; accepting runs the queue's atomic accept, and an offer that lapsed or
was withdrawn answers 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from yaodao.care import offer_services as offers
from yaodao.care import roster_services as rosters
from yaodao.care.offers import ConsultOffer
from yaodao.care.rosters import MAX_SLOTS, RosterSlot, WeeklyRoster
from yaodao.web.api_consult import consultation_json
from yaodao.web.deps import ActorDep, UowDep

router = APIRouter(tags=["rosters"])


class SlotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weekday: Annotated[int, Field(strict=True, description="0 = Monday .. 6 = Sunday")]
    start_minute: Annotated[int, Field(strict=True, description="minutes after local midnight")]
    end_minute: Annotated[int, Field(strict=True, description="above 1440 runs past midnight; at most 12 h")]


class RosterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: Annotated[str, Field(min_length=1, max_length=64, description="IANA name, e.g. Asia/Shanghai")]
    slots: Annotated[list[SlotIn], Field(max_length=MAX_SLOTS)]


def roster_json(doctor_id: str, roster: WeeklyRoster | None) -> dict[str, Any]:
    return {
        "doctor_id": doctor_id,
        "rostered": roster is not None,  # False: no roster, the doctor counts as always on duty
        "timezone": None if roster is None else roster.timezone,
        "slots": [] if roster is None else [
            {"weekday": s.weekday, "start_minute": s.start_minute, "end_minute": s.end_minute} for s in roster.slots
        ],
    }  # fmt: skip


def offer_json(o: ConsultOffer) -> dict[str, Any]:
    return {
        "id": o.id, "consultation_id": o.consultation_id, "doctor_id": o.doctor_id, "state": o.state.value,
        "offered_at": o.offered_at.isoformat(), "expires_at": o.expires_at.isoformat(),
        "decided_at": o.decided_at.isoformat() if o.decided_at else None,
    }  # fmt: skip


@router.put("/api/admin/doctors/{doctor_id}/roster")
def put_roster(doctor_id: str, body: RosterIn, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    slots = [RosterSlot(s.weekday, s.start_minute, s.end_minute) for s in body.slots]
    saved = rosters.set_roster(uow=uow, actor=actor, doctor_id=doctor_id, timezone=body.timezone, slots=slots)
    return roster_json(doctor_id, saved)


@router.get("/api/admin/doctors/{doctor_id}/roster")
def get_roster(doctor_id: str, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    return roster_json(doctor_id, rosters.get_roster(uow=uow, actor=actor, doctor_id=doctor_id))


@router.get("/api/doctors/me/roster")
def my_roster(uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    return roster_json(str(actor.user_id), rosters.my_roster(uow=uow, actor=actor))


@router.get("/api/admin/rosters/coverage")
def coverage(
    uow: UowDep,
    actor: ActorDep,
    department: Annotated[str | None, Query(max_length=40)] = None,
    start: Annotated[datetime | None, Query(description="ISO 8601 with offset; default now")] = None,
) -> dict[str, Any]:
    found = rosters.coverage(uow=uow, actor=actor, department=department, start=start)
    return {
        "department": found.department, "start": found.start.isoformat(), "end": found.end.isoformat(),
        "doctors": found.doctors, "uncovered_minutes": found.uncovered_minutes,
        "uncovered": [
            {"start": s.isoformat(), "end": e.isoformat(), "minutes": int((e - s).total_seconds() // 60)}
            for s, e in found.gaps
        ],
    }  # fmt: skip


@router.get("/api/doctor/offers")
def my_offers(uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    views = offers.doctor_offers(uow=uow, actor=actor)
    return {
        "items": [
            {**offer_json(v.offer), "kind": v.kind, "department": v.department, "urgency": v.urgency,
             "language": v.language, "waited_s": v.waited_s, "expires_in_s": v.expires_in_s}
            for v in views
        ]
    }  # fmt: skip


@router.post("/api/doctor/offers/{offer_id}/accept")
def accept_offer(offer_id: str, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    return consultation_json(offers.accept_offer(uow=uow, actor=actor, offer_id=offer_id))


@router.post("/api/doctor/offers/{offer_id}/decline")
def decline_offer(offer_id: str, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    return offer_json(offers.decline_offer(uow=uow, actor=actor, offer_id=offer_id))
