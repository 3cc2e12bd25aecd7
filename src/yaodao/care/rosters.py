"""Doctors' weekly rosters: slots of duty in the doctor's local time, who is on duty at an instant, and
the gaps in a department's 24-hour coverage.

Pure Python: no I/O, no clock. A slot is a weekday (0 = Monday) and minutes after the doctor's local
midnight; it may run past midnight into the next day (``end_minute`` above 1440) and lasts at most
12 hours. Local times are read through ``zoneinfo``, so a zone with daylight saving time is on duty by
its wall clock and a zone without it (Asia/Shanghai) is a fixed offset.

A doctor with no roster at all counts as always on duty: the platform worked that way before rosters
existed, and an operator who has not planned a doctor's week yet should not make them vanish.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from yaodao.care.doctors import Doctor, RosterShift, roster_gaps
from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import ValidationFailed

DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
MAX_SLOT_MINUTES = 12 * 60
MAX_SLOTS = 50
DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class RosterSlot:
    """On duty on ``weekday`` from ``start_minute`` to ``end_minute`` (exclusive), local time."""

    weekday: int
    start_minute: int
    end_minute: int

    @property
    def week_span(self) -> tuple[int, int]:
        """(start, end) in minutes after local Monday 00:00; the end may pass the end of the week."""
        base = self.weekday * DAY_MINUTES
        return base + self.start_minute, base + self.end_minute


@dataclass(frozen=True, slots=True)
class WeeklyRoster:
    """A doctor's week: the slots, in ``timezone`` (an IANA name such as ``Asia/Shanghai``)."""

    timezone: str
    slots: tuple[RosterSlot, ...]

    def __post_init__(self) -> None:
        problems = roster_problems(self.timezone, self.slots)
        if problems:
            raise ValidationFailed("; ".join(f"{f}: {m}" for f, m in problems), field=problems[0][0], errors=problems)
        object.__setattr__(self, "slots", tuple(sorted(self.slots, key=lambda s: s.week_span)))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def on_duty(self, at: datetime) -> bool:
        """Whether a slot covers the instant ``at`` (the slot of the day before counts past midnight)."""
        local = require_aware(at).astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        today, yesterday = local.weekday(), (local.weekday() - 1) % 7
        for slot in self.slots:
            if slot.weekday == today and slot.start_minute <= minute < slot.end_minute:
                return True
            if slot.weekday == yesterday and minute < slot.end_minute - DAY_MINUTES:
                return True
        return False

    def shifts(self, doctor_id: str, start: datetime, end: datetime) -> list[RosterShift]:
        """The slots as shifts in aware datetimes, every one that overlaps ``[start, end)``."""
        zone = self.zone
        first = require_aware(start).astimezone(zone).date() - timedelta(days=1)
        last = require_aware(end).astimezone(zone).date()
        out: list[RosterShift] = []
        day = first
        while day <= last:
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            for slot in self.slots:
                if slot.weekday != day.weekday():
                    continue
                # Wall-clock arithmetic on the local zone, then the real instant: right across DST changes.
                s = _wall(midnight, slot.start_minute)
                e = _wall(midnight, slot.end_minute)
                if e > s and e > start and s < end:
                    out.append(RosterShift(doctor_id, s, e))
            day += timedelta(days=1)
        return out


def _wall(midnight: datetime, minutes: int) -> datetime:
    return (midnight + timedelta(minutes=minutes)).astimezone(UTC)


@cache
def known_timezone(name: str) -> bool:
    """An IANA zone name this system's tz database knows (checked once per name)."""
    if not name or name != name.strip() or name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def roster_problems(timezone: str, slots: Sequence[RosterSlot]) -> list[tuple[str, str]]:
    """Every rule the roster breaks, as (field, message) pairs: the timezone, each slot, overlaps."""
    out: list[tuple[str, str]] = []
    if not known_timezone(timezone):
        out.append(("timezone", f"unknown timezone {timezone!r}; use an IANA name such as 'Asia/Shanghai'"))
    if not slots:
        out.append(("slots", "needs at least one slot (a doctor with no roster counts as always on duty)"))
    elif len(slots) > MAX_SLOTS:
        out.append(("slots", f"at most {MAX_SLOTS} slots a week"))
    valid: list[tuple[int, RosterSlot]] = []
    for i, slot in enumerate(slots):
        before = len(out)
        if not _int(slot.weekday) or not 0 <= slot.weekday <= 6:
            out.append((f"slots[{i}].weekday", "must be 0 (Monday) to 6 (Sunday)"))
        if not _int(slot.start_minute) or not 0 <= slot.start_minute < DAY_MINUTES:
            out.append((f"slots[{i}].start_minute", f"must be 0 to {DAY_MINUTES - 1} (minutes after local midnight)"))
        if not _int(slot.end_minute) or slot.end_minute <= slot.start_minute:
            out.append((f"slots[{i}].end_minute", "must be after start_minute (above 1440 runs past midnight)"))
        elif slot.end_minute - slot.start_minute > MAX_SLOT_MINUTES:
            out.append((f"slots[{i}].end_minute", "a slot lasts at most 12 hours"))
        if len(out) == before:
            valid.append((i, slot))
    # Overlaps on the week's circle: a Sunday slot past midnight runs into Monday.
    for k, (i, a) in enumerate(valid):
        for j, b in valid[k + 1 :]:
            if _overlap(a.week_span, b.week_span):
                out.append((f"slots[{j}]", f"overlaps slots[{i}]"))
    return out


def _overlap(x: tuple[int, int], y: tuple[int, int]) -> bool:
    return any(x[0] + shift < y[1] and y[0] < x[1] + shift for shift in (-WEEK_MINUTES, 0, WEEK_MINUTES))


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def on_duty(roster: WeeklyRoster | None, at: datetime) -> bool:
    """The platform's rule: on duty when a slot covers ``at``, and always when there is no roster."""
    return True if roster is None else roster.on_duty(at)


def uncovered(
    doctors: Iterable[Doctor],
    rosters: Mapping[str, WeeklyRoster],
    start: datetime,
    end: datetime,
    *,
    department: str | None = None,
) -> list[tuple[datetime, datetime]]:
    """The spans of ``[start, end)`` when no doctor who may consult (of ``department``, if named) is on duty.

    A doctor without a roster is always on duty, so one such doctor covers everything.
    """
    require_aware(start)
    require_aware(end)
    if end <= start:
        raise ValidationFailed("end: must be after start", field="end")
    eligible = [d for d in doctors if d.may_consult and (department is None or d.treats(department))]
    shifts: list[RosterShift] = []
    for doctor in eligible:
        roster = rosters.get(doctor.id)
        if roster is None:
            return []
        shifts.extend(roster.shifts(doctor.id, start, end))
    return roster_gaps(shifts, start, end)
