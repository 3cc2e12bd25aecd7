"""The matcher: offer each waiting consultation to a suitable doctor, from any region.

Pure and seeded. One call looks at the consultations waiting now (most urgent, then longest
waiting, first) and the doctors on duty with a free slot, and returns offers; the caller sends
them, and a doctor has ``offer_timeout_s`` to accept. An offer declined or not accepted in time
goes back to the queue with the doctor recorded in ``WaitingConsult.declined_by``, and the next
call offers it to the next doctor.

A suitable doctor may consult (D2), treats the department, speaks the patient's language, has
a free slot and has not passed the consultation over. Among them, a doctor from the patient's
own province comes first while the patient has waited less than ``local_preference_wait_s``;
the matcher never holds a patient back for a local doctor, so a patient in a province with few
doctors waits no longer than one in a province with many. Then the least loaded doctor, then
the best rated; exact ties are broken by a hash of the seed, consultation and doctor, so equal
doctors share the work rather than the first in the list taking it all.

``match_within_region`` is the regional baseline: the same rules, but only doctors from the
patient's own province.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from yaodao.care.doctors import DoctorLoad
from yaodao.care.queue import WaitingConsult
from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class MatchParams:
    offer_timeout_s: float = 45.0  # a doctor's time to accept before the offer goes to the next
    local_preference_wait_s: float = 30.0  # same-province doctors first only while the wait is shorter
    load_weight: float = 1.0  # weight of the doctor's free share of slots (1 = idle)
    rating_weight: float = 0.5  # weight of the doctor's rating, scaled to 0 (1 star) .. 1 (5 stars)
    prior_rating: float = 4.5  # a doctor's rating is shrunk toward this ...
    prior_ratings: int = 5  # ... as if they had this many extra ratings of it

    def __post_init__(self) -> None:
        if not (math.isfinite(self.offer_timeout_s) and 5.0 <= self.offer_timeout_s <= 3600.0):
            raise ValidationFailed("offer_timeout_s: must be between 5 and 3600 seconds", field="offer_timeout_s")
        if not (math.isfinite(self.local_preference_wait_s) and 0.0 <= self.local_preference_wait_s <= 3600.0):
            raise ValidationFailed(
                "local_preference_wait_s: must be between 0 and 3600 seconds", field="local_preference_wait_s"
            )
        for name in ("load_weight", "rating_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 100.0):
                raise ValidationFailed(f"{name}: must be between 0 and 100", field=name)
        if not (math.isfinite(self.prior_rating) and 1.0 <= self.prior_rating <= 5.0):
            raise ValidationFailed("prior_rating: must be between 1 and 5 stars", field="prior_rating")
        if isinstance(self.prior_ratings, bool) or not 0 <= self.prior_ratings <= 10_000:
            raise ValidationFailed("prior_ratings: must be between 0 and 10000", field="prior_ratings")


@dataclass(frozen=True, slots=True)
class Offer:
    """A consultation offered to one doctor until ``expires_at``."""

    consult_id: str
    doctor_id: str
    offered_at: datetime
    expires_at: datetime
    same_province: bool

    def expired(self, at: datetime) -> bool:
        return at >= self.expires_at


def match(
    waiting: Iterable[WaitingConsult],
    doctors: Sequence[DoctorLoad],
    at: datetime,
    params: MatchParams,
    *,
    seed: int = 0,
) -> list[Offer]:
    """Offers for the waiting consultations, doctors drawn from every region."""
    return _match(waiting, doctors, at, params, seed=seed, regional_only=False)


def match_within_region(
    waiting: Iterable[WaitingConsult],
    doctors: Sequence[DoctorLoad],
    at: datetime,
    params: MatchParams,
    *,
    seed: int = 0,
) -> list[Offer]:
    """The regional baseline: offers only to doctors from the patient's own province."""
    return _match(waiting, doctors, at, params, seed=seed, regional_only=True)


def _match(
    waiting: Iterable[WaitingConsult],
    doctors: Sequence[DoctorLoad],
    at: datetime,
    params: MatchParams,
    *,
    seed: int,
    regional_only: bool,
) -> list[Offer]:
    require_aware(at)
    free: dict[str, int] = {}
    # Candidates by department, and by province too for the regional baseline.
    candidates_for: dict[tuple[str, str], list[DoctorLoad]] = {}
    for load in doctors:
        doctor = load.doctor
        if doctor.id in free:
            raise ValidationFailed(f"doctors: {doctor.id} is listed twice", field="doctors")
        free[doctor.id] = load.free_slots if doctor.may_consult else 0
        if free[doctor.id]:
            province = doctor.province if regional_only else ""
            for department in doctor.departments:
                candidates_for.setdefault((department, province), []).append(load)
    remaining = sum(free.values())
    expiry = timedelta(seconds=params.offer_timeout_s)
    offers: list[Offer] = []
    for consult in sorted(waiting, key=lambda c: c.priority_key):
        if remaining == 0:
            break
        candidates = candidates_for.get((consult.department, consult.province if regional_only else ""))
        if not candidates:
            continue
        prefer_local = consult.waited_s(at) < params.local_preference_wait_s
        best: DoctorLoad | None = None
        best_key: tuple[bool, float, int] | None = None
        for load in candidates:
            doctor = load.doctor
            slots = free[doctor.id]
            if slots == 0 or doctor.id in consult.declined_by or consult.language not in doctor.languages:
                continue
            local = doctor.province == consult.province
            key = (prefer_local and local, _score(load, slots, params), _tiebreak(seed, consult.id, doctor.id))
            if best_key is None or key > best_key:
                best, best_key = load, key
        if best is None or best_key is None:
            continue
        doctor_id = best.doctor.id
        free[doctor_id] -= 1
        remaining -= 1
        offers.append(
            Offer(
                consult_id=consult.id,
                doctor_id=doctor_id,
                offered_at=at,
                expires_at=at + expiry,
                same_province=best.doctor.province == consult.province,
            )
        )
    return offers


def _score(load: DoctorLoad, free_slots: int, params: MatchParams) -> float:
    doctor = load.doctor
    stars = (doctor.rating or 0.0) * doctor.ratings + params.prior_rating * params.prior_ratings
    count = doctor.ratings + params.prior_ratings
    rating = stars / count if count else params.prior_rating
    return params.load_weight * free_slots / doctor.max_concurrent + params.rating_weight * (rating - 1.0) / 4.0


def _tiebreak(seed: int, consult_id: str, doctor_id: str) -> int:
    return zlib.crc32(f"{seed}:{consult_id}:{doctor_id}".encode())
