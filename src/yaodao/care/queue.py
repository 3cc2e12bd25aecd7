"""Waiting consultations: one priority queue per department, a patient's place and expected wait.

Pure Python: no I/O, no clock. A consultation joins the queue of its department once it has
passed intake and triage (a red flag never queues: it goes to emergency guidance). Within a
department the more urgent wait ahead of the less urgent, then the earlier ahead of the later;
a consultation that comes back after an offer fell through keeps its place, because its place
is its request time.
"""

from __future__ import annotations

import bisect
import enum
import heapq
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from yaodao.care.doctors import CONSULT_DEPARTMENTS, DoctorLoad
from yaodao.kernel.errors import Conflict, NotFound, ValidationFailed

_DEPARTMENT_SET = frozenset(CONSULT_DEPARTMENTS)
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


class Urgency(enum.IntEnum):
    """How soon a patient needs a doctor, as triage judged it (red flags never reach the queue)."""

    ROUTINE = 0
    SOON = 1  # e.g. a feverish child, worsening symptoms
    URGENT = 2  # needs a doctor now, though not an emergency


PriorityKey = tuple[int, datetime, str]


@dataclass(frozen=True, slots=True)
class WaitingConsult:
    """A consultation waiting for a doctor.

    ``province`` and ``city`` are the patient's region. ``declined_by`` holds the doctors who
    declined it or let its offer time out: it is not offered to them again.
    """

    id: str
    province: str
    city: str
    department: str
    language: str
    urgency: Urgency
    requested_at: datetime
    declined_by: frozenset[str] = field(default_factory=frozenset)
    _key: PriorityKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValidationFailed("id: must not be empty", field="id")
        if not self.province.strip():
            raise ValidationFailed("province: must not be empty", field="province")
        if self.department not in _DEPARTMENT_SET:
            raise ValidationFailed(f"department: unknown department code {self.department!r}", field="department")
        if not _LANGUAGE.match(self.language):
            raise ValidationFailed(f"language: {self.language!r} is not a language tag", field="language")
        if not isinstance(self.urgency, Urgency):
            raise ValidationFailed("urgency: must be an Urgency", field="urgency")
        if self.requested_at.tzinfo is None or self.requested_at.utcoffset() is None:
            raise ValidationFailed("requested_at: must be timezone-aware", field="requested_at")
        object.__setattr__(self, "_key", (-int(self.urgency), self.requested_at, self.id))

    @property
    def priority_key(self) -> PriorityKey:
        """Smaller is served first: the most urgent, then the earliest request, then the id."""
        return self._key

    def waited_s(self, at: datetime) -> float:
        return (at - self.requested_at).total_seconds()

    def passed_over_by(self, doctor_id: str) -> WaitingConsult:
        """This consultation after ``doctor_id`` declined it or let the offer time out."""
        return replace(self, declined_by=self.declined_by | {doctor_id})


class ConsultQueue:
    """The waiting consultations of every department, each department kept in priority order.

    A mutable in-memory structure. Queues stay short when doctors keep up, so a sorted list
    per department (binary search to insert, find and remove) is simpler than a heap and
    answers a patient's place directly.
    """

    __slots__ = ("_by_id", "_consults", "_keys")

    def __init__(self) -> None:
        self._by_id: dict[str, WaitingConsult] = {}
        self._keys: dict[str, list[PriorityKey]] = {}
        self._consults: dict[str, list[WaitingConsult]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, consult_id: object) -> bool:
        return consult_id in self._by_id

    def get(self, consult_id: str) -> WaitingConsult | None:
        return self._by_id.get(consult_id)

    def push(self, consult: WaitingConsult) -> None:
        """Queue ``consult`` in its place; a consultation already waiting is a conflict."""
        if consult.id in self._by_id:
            raise Conflict(f"consultation {consult.id} is already waiting", field="id")
        keys = self._keys.setdefault(consult.department, [])
        key = consult.priority_key
        i = bisect.bisect_left(keys, key)
        keys.insert(i, key)
        self._consults.setdefault(consult.department, []).insert(i, consult)
        self._by_id[consult.id] = consult

    def remove(self, consult_id: str) -> WaitingConsult:
        """Take a consultation out (offered, cancelled or abandoned) and return it."""
        consult = self._by_id.pop(consult_id, None)
        if consult is None:
            raise NotFound(f"consultation {consult_id} is not waiting", field="consult_id")
        i = self._index(consult)
        del self._keys[consult.department][i]
        del self._consults[consult.department][i]
        return consult

    def department(self, department: str) -> Sequence[WaitingConsult]:
        """The consultations waiting for ``department``, first served first (a read-only view)."""
        return tuple(self._consults.get(department, ()))

    def waiting(self, departments: Iterable[str] | None = None) -> list[WaitingConsult]:
        """The waiting consultations of ``departments`` (default: all), in priority order across them."""
        lists = (
            list(self._consults.values())
            if departments is None
            else [self._consults[d] for d in departments if self._consults.get(d)]
        )
        if len(lists) == 1:
            return list(lists[0])
        return list(heapq.merge(*lists, key=_priority))

    def position_of(self, consult_id: str) -> int:
        """The patient's place in their department's queue: 1 is next."""
        consult = self._by_id.get(consult_id)
        if consult is None:
            raise NotFound(f"consultation {consult_id} is not waiting", field="consult_id")
        return self._index(consult) + 1

    def _index(self, consult: WaitingConsult) -> int:
        return bisect.bisect_left(self._keys[consult.department], consult.priority_key)


def _priority(consult: WaitingConsult) -> PriorityKey:
    return consult._key


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """Recent averages the wait estimate rests on: a doctor's time to reply to an offer, a consult's length."""

    mean_reply_s: float
    mean_service_s: float

    def __post_init__(self) -> None:
        for name in ("mean_reply_s", "mean_service_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 86_400.0):
                raise ValidationFailed(f"{name}: must be between 0 and 86400 seconds", field=name)
        if self.mean_service_s <= 0:
            raise ValidationFailed("mean_service_s: must be positive", field="mean_service_s")


def estimated_wait(
    queue: ConsultQueue, consult_id: str, on_duty: Sequence[DoctorLoad], stats: ServiceStats
) -> timedelta | None:
    """The expected time until a doctor replies, shown before the patient commits (DOMAIN.md C2).

    Only doctors who may consult, treat the department and speak the language count. When the
    patient's place is within the free slots, the wait is a doctor's reply time; otherwise the
    patients ahead beyond the free slots each wait for a slot to free up, and slots free up at
    ``total slots / mean consult length``. ``None`` means no suitable doctor is on duty.
    """
    consult = queue.get(consult_id)
    if consult is None:
        raise NotFound(f"consultation {consult_id} is not waiting", field="consult_id")
    place = queue.position_of(consult_id)
    free = slots = 0
    for load in on_duty:
        doctor = load.doctor
        if doctor.may_consult and doctor.treats(consult.department) and doctor.speaks(consult.language):
            free += load.free_slots
            slots += doctor.max_concurrent
    if slots == 0:
        return None
    seconds = stats.mean_reply_s
    if place > free:
        seconds += (place - free) * stats.mean_service_s / slots
    return timedelta(seconds=seconds)
