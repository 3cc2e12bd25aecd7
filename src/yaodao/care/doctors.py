"""Doctors who consult online, their rostered shifts, and their load at an instant.

Pure Python: no I/O, no clock. A doctor may consult only when verified (real-name
authentication and practising licence checked) and with at least three years of independent
practice (DOMAIN.md D2). Rosters are shifts in aware datetimes; together they must cover the
whole day, which :func:`roster_gaps` checks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from yaodao.kernel.errors import ValidationFailed

MIN_YEARS_PRACTISING = 3  # D2: 2018 互联网诊疗管理办法, art. 25
MAX_CONCURRENT_LIMIT = 20
MAX_SHIFT = timedelta(hours=24)

# The departments a consultation can be booked with (the emergency department never is).
CONSULT_DEPARTMENTS: tuple[str, ...] = (
    "internal_medicine",
    "paediatrics",
    "obstetrics_gynaecology",
    "dermatology",
    "ent",
    "ophthalmology",
    "gastroenterology",
    "respiratory",
    "cardiology",
    "endocrinology",
    "neurology",
    "urology_andrology",
    "orthopaedics_surgery",
    "psychiatry",
)
_DEPARTMENT_SET = frozenset(CONSULT_DEPARTMENTS)
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")  # BCP 47 primary tag, optional region/script
_LICENCE = re.compile(r"^[0-9A-Za-z-]{6,32}$")
_REGION = re.compile(r"^[a-z][a-z_-]{1,39}$")


@dataclass(frozen=True, slots=True)
class Doctor:
    """A doctor registered to consult online.

    ``province`` and ``city`` are where the doctor practises (lower-case ids such as
    ``zhejiang`` / ``hangzhou``). ``rating`` is the mean of the stars (1-5) patients gave
    after consultations, ``None`` until the first one; ``ratings`` counts them.
    """

    id: str
    licence_no: str
    hospital: str
    province: str
    city: str
    departments: tuple[str, ...]
    languages: tuple[str, ...]
    verified: bool
    years_practising: int
    max_concurrent: int
    rating: float | None = None
    ratings: int = 0

    def __post_init__(self) -> None:
        problems = doctor_problems(self)
        if problems:
            raise ValidationFailed("; ".join(f"{f}: {m}" for f, m in problems), field=problems[0][0], errors=problems)

    @property
    def may_consult(self) -> bool:
        """Verified and experienced enough to take consultations (D2)."""
        return self.verified and self.years_practising >= MIN_YEARS_PRACTISING

    def treats(self, department: str) -> bool:
        return department in self.departments

    def speaks(self, language: str) -> bool:
        return language in self.languages

    def rated(self, stars: int) -> Doctor:
        """This doctor after one more patient rating of ``stars`` (1-5)."""
        if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
            raise ValidationFailed("stars: must be a whole number from 1 to 5", field="stars")
        total = (self.rating or 0.0) * self.ratings + stars
        return replace(self, rating=total / (self.ratings + 1), ratings=self.ratings + 1)


def doctor_problems(doctor: Doctor) -> list[tuple[str, str]]:
    """Every rule a doctor's record breaks, as (field, message) pairs."""
    out: list[tuple[str, str]] = []
    if not doctor.id.strip():
        out.append(("id", "must not be empty"))
    if not _LICENCE.match(doctor.licence_no):
        out.append(("licence_no", "must be 6-32 letters, digits or '-'"))
    if not doctor.hospital.strip():
        out.append(("hospital", "must not be empty"))
    if not _REGION.match(doctor.province):
        out.append(("province", "must be a lower-case province id such as 'zhejiang'"))
    if not _REGION.match(doctor.city):
        out.append(("city", "must be a lower-case city id such as 'hangzhou'"))
    if not doctor.departments:
        out.append(("departments", "needs at least one department"))
    elif unknown := [d for d in doctor.departments if d not in _DEPARTMENT_SET]:
        out.append(("departments", f"unknown department code(s): {', '.join(unknown)}"))
    elif len(set(doctor.departments)) != len(doctor.departments):
        out.append(("departments", "must not repeat a department"))
    if not doctor.languages:
        out.append(("languages", "needs at least one language"))
    elif bad := [lang for lang in doctor.languages if not _LANGUAGE.match(lang)]:
        out.append(("languages", f"not language tags: {', '.join(bad)}"))
    if isinstance(doctor.years_practising, bool) or not 0 <= doctor.years_practising <= 70:
        out.append(("years_practising", "must be between 0 and 70"))
    if isinstance(doctor.max_concurrent, bool) or not 1 <= doctor.max_concurrent <= MAX_CONCURRENT_LIMIT:
        out.append(("max_concurrent", f"must be between 1 and {MAX_CONCURRENT_LIMIT}"))
    if doctor.ratings < 0:
        out.append(("ratings", "must not be negative"))
    if doctor.rating is None:
        if doctor.ratings:
            out.append(("rating", "is required once the doctor has ratings"))
    elif not (math.isfinite(doctor.rating) and 1.0 <= doctor.rating <= 5.0):
        out.append(("rating", "must be between 1 and 5 stars"))
    elif doctor.ratings == 0:
        out.append(("rating", "must be None until the doctor has ratings"))
    return out


@dataclass(frozen=True, slots=True)
class RosterShift:
    """A doctor's rostered time online: from ``start`` (inclusive) to ``end`` (exclusive)."""

    doctor_id: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValidationFailed(f"{name}: must be timezone-aware", field=name)
        if self.end <= self.start:
            raise ValidationFailed("end: must be after start", field="end")
        if self.end - self.start > MAX_SHIFT:
            raise ValidationFailed("end: a shift lasts at most 24 hours", field="end")

    def on_duty(self, at: datetime) -> bool:
        """Whether the shift covers the instant ``at``."""
        return self.start <= at < self.end


def doctors_on_duty(doctors: Iterable[Doctor], shifts: Iterable[RosterShift], at: datetime) -> list[Doctor]:
    """The doctors who may consult and whose shift covers ``at``, in input order."""
    rostered = {s.doctor_id for s in shifts if s.on_duty(at)}
    return [d for d in doctors if d.id in rostered and d.may_consult]


def roster_gaps(
    shifts: Iterable[RosterShift],
    start: datetime,
    end: datetime,
    *,
    doctors: Sequence[Doctor] | None = None,
    department: str | None = None,
) -> list[tuple[datetime, datetime]]:
    """The spans of ``[start, end)`` no shift covers, earliest first.

    With ``doctors`` only shifts of doctors who may consult count, and with ``department``
    only those of doctors who treat it: a department's roster covers the day when this is empty.
    """
    if end <= start:
        raise ValidationFailed("end: must be after start", field="end")
    eligible: set[str] | None = None
    if doctors is not None:
        eligible = {d.id for d in doctors if d.may_consult and (department is None or d.treats(department))}
    elif department is not None:
        raise ValidationFailed("doctors: needed to check one department's roster", field="doctors")
    spans = sorted(
        (max(s.start, start), min(s.end, end))
        for s in shifts
        if (eligible is None or s.doctor_id in eligible) and s.end > start and s.start < end
    )
    gaps: list[tuple[datetime, datetime]] = []
    cursor = start
    for s, e in spans:
        if s > cursor:
            gaps.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


@dataclass(frozen=True, slots=True)
class DoctorLoad:
    """A doctor on duty and the consultations they hold now (in progress or offered to them)."""

    doctor: Doctor
    active: int = 0

    def __post_init__(self) -> None:
        if self.active < 0:
            raise ValidationFailed("active: must not be negative", field="active")

    @property
    def free_slots(self) -> int:
        return max(0, self.doctor.max_concurrent - self.active)
