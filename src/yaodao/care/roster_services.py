"""Doctors' rosters: an admin sets a doctor's week, admins and operators read it and the coverage gaps,
a doctor reads their own. Setting a roster is audited (``resource_type`` = ``doctor_roster``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from yaodao.accounts.model import AuditRecord
from yaodao.accounts.policy import Action, Actor, authorize
from yaodao.care.doctors import CONSULT_DEPARTMENTS
from yaodao.care.roster_ports import RosterUnitOfWork
from yaodao.care.rosters import RosterSlot, WeeklyRoster, uncovered
from yaodao.kernel.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed

COVERAGE_SPAN = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Coverage:
    department: str | None
    start: datetime
    end: datetime
    doctors: int  # doctors who may consult (of the department) counted
    gaps: list[tuple[datetime, datetime]]

    @property
    def uncovered_minutes(self) -> int:
        return sum(int((e - s).total_seconds() // 60) for s, e in self.gaps)


def set_roster(
    *, uow: RosterUnitOfWork, actor: Actor, doctor_id: str, timezone: str, slots: Sequence[RosterSlot]
) -> WeeklyRoster:
    """Replace the doctor's whole week; a roster that breaks a rule is refused whole (422), nothing written."""
    with uow:
        authorize(actor, Action.ROSTER_WRITE)
        roster = WeeklyRoster(timezone, tuple(slots))
        if uow.doctors.get(doctor_id) is None:
            raise NotFound(f"doctor {doctor_id} not found", field="doctor_id")
        now = uow.clock.now()
        uow.rosters.replace(doctor_id, roster, now)
        uow.audit(
            AuditRecord(
                at=now, actor_id=actor.user_id, actor_roles=actor.roles_text, action="update",
                resource_type="doctor_roster", resource_id=doctor_id, patient_id=None, outcome="ok",
                request_id=actor.request_id, ip=actor.ip,
                detail={"slots": str(len(roster.slots)), "timezone": roster.timezone},
            )
        )  # fmt: skip
        uow.commit()
        return roster


def get_roster(*, uow: RosterUnitOfWork, actor: Actor, doctor_id: str) -> WeeklyRoster | None:
    """A doctor's week for admins and operators; None when the doctor has no roster (always on duty)."""
    with uow:
        authorize(actor, Action.ROSTER_READ)
        if uow.doctors.get(doctor_id) is None:
            raise NotFound(f"doctor {doctor_id} not found", field="doctor_id")
        return uow.rosters.get(doctor_id)


def my_roster(*, uow: RosterUnitOfWork, actor: Actor) -> WeeklyRoster | None:
    """The signed-in doctor's own week."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        authorize(actor, Action.CONSULT_QUEUE)
        if uow.doctors.get(actor.user_id) is None:
            raise PermissionDenied("this account has no doctor profile")
        return uow.rosters.get(actor.user_id)


def coverage(*, uow: RosterUnitOfWork, actor: Actor, department: str | None, start: datetime | None = None) -> Coverage:
    """The spans of the coming week (from ``start``, default now) when no doctor of ``department`` is on duty."""
    if department is not None and department not in CONSULT_DEPARTMENTS:
        raise ValidationFailed(f"department: unknown department code {department!r}", field="department")
    with uow:
        authorize(actor, Action.ROSTER_READ)
        begin = (start or uow.clock.now()).replace(second=0, microsecond=0)
        if begin.tzinfo is None:
            raise ValidationFailed("start: must carry a timezone offset", field="start")
        doctors = [
            d for d in uow.doctors.consulting() if d.may_consult and (department is None or d.treats(department))
        ]
        gaps = uncovered(doctors, uow.rosters.all(), begin, begin + COVERAGE_SPAN, department=department)
        return Coverage(department, begin, begin + COVERAGE_SPAN, len(doctors), gaps)
