"""Live offers of waiting consultations to doctors: the stored offer, its states, and the matcher's plan.

Pure Python: no I/O, no clock. ``plan_offers`` is the cross-region matcher of ``care/matching.py``
(department, language, free slots against ``max_concurrent``, rating, a same-province doctor first only
while the patient has waited less than ``local_preference_wait_s``) applied to the consultations that
have no open offer, each carrying the doctors who declined it or let an offer lapse. Consultations are
taken most urgent first, then in order of arrival, whatever their region: a patient in a province with
few doctors is not served after one in a province with many.

An offer is ``open`` until the doctor accepts or declines it, it lapses at ``expires_at``, or the
consultation is taken from the plain queue (``withdrawn``). At most one offer of a consultation is open.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from yaodao.care.doctors import DoctorLoad
from yaodao.care.matching import MatchParams, Offer, match
from yaodao.care.queue import WaitingConsult
from yaodao.kernel.errors import Conflict, ValidationFailed


class OfferState(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    LAPSED = "lapsed"
    WITHDRAWN = "withdrawn"


# The states after which the consultation is not offered to that doctor again.
PASSED_OVER = frozenset({OfferState.DECLINED, OfferState.LAPSED})

# The province of each city a consultation can come from (a patient's region, for the local preference).
CITY_PROVINCE: dict[str, str] = {
    "hangzhou": "zhejiang", "ningbo": "zhejiang", "wenzhou": "zhejiang", "shanghai": "shanghai",
    "beijing": "beijing", "guangzhou": "guangdong", "shenzhen": "guangdong", "chengdu": "sichuan",
    "wuhan": "hubei", "xian": "shaanxi", "nanjing": "jiangsu", "lanzhou": "gansu", "guiyang": "guizhou",
    "kunming": "yunnan", "lhasa": "tibet", "xining": "qinghai", "urumqi": "xinjiang",
}  # fmt: skip
UNKNOWN_REGION = "unknown"


def province_of(city_id: str | None) -> str:
    return CITY_PROVINCE.get(city_id or "", UNKNOWN_REGION)


@dataclass(frozen=True, slots=True)
class OfferParams:
    """The live matcher's settings; ``seed`` breaks exact ties between equal doctors reproducibly."""

    offer_seconds: float = 60.0
    local_preference_wait_s: float = 30.0
    load_weight: float = 1.0
    rating_weight: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.offer_seconds) and 5.0 <= self.offer_seconds <= 3600.0):
            raise ValidationFailed("offer_seconds: must be between 5 and 3600 seconds", field="offer_seconds")
        self.match_params()  # validates the rest, naming the field

    def match_params(self) -> MatchParams:
        return MatchParams(
            offer_timeout_s=self.offer_seconds, local_preference_wait_s=self.local_preference_wait_s,
            load_weight=self.load_weight, rating_weight=self.rating_weight,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConsultOffer:
    """A stored offer of one consultation to one doctor."""

    id: str
    consultation_id: str
    doctor_id: str
    state: OfferState
    offered_at: datetime
    expires_at: datetime
    decided_at: datetime | None = None

    def lapsed(self, at: datetime) -> bool:
        """Open and past its expiry: the doctor can no longer take it."""
        return self.state is OfferState.OPEN and at >= self.expires_at

    def require_open(self, at: datetime) -> None:
        """Refuse a decision on an offer that is no longer open (409, saying why)."""
        if self.state is not OfferState.OPEN:
            raise Conflict(f"offer {self.id} is {self.state.value}, not open", field="offer_id")
        if self.lapsed(at):
            raise Conflict(f"offer {self.id} lapsed at {self.expires_at.isoformat()}", field="offer_id")


def plan_offers(
    waiting: Sequence[WaitingConsult], doctors: Sequence[DoctorLoad], at: datetime, params: OfferParams
) -> list[Offer]:
    """One offer for each consultation the matcher can place now, the best suitable doctor for each.

    ``waiting`` must hold only consultations without an open offer, with ``declined_by`` naming the
    doctors who passed them over; ``doctors`` the doctors on duty, their load counting open offers.
    """
    return match(waiting, doctors, at, params.match_params(), seed=params.seed)
