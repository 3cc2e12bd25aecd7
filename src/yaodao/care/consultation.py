"""The consultation aggregate: one patient's online visit with one doctor, as an explicit state machine.

::

    waiting ──accept──▶ active ──close(note)──▶ closed ──rate──▶ closed (rated)
       │                  │
       ├─cancel─▶ cancelled (the patient)
       └─expire─▶ expired ◀─expire── (past its time limit)   expired ──close(note)──▶ closed

A consultation is a **first visit** unless the patient names a diagnosis made in person before, and
where and when it was made (DOMAIN.md D1): a first visit gets advice, never a prescription. A waiting
consultation expires after :attr:`ConsultParams.waiting_limit`; an active one after
:attr:`ConsultParams.active_limit`, when the doctor may still close it with the note but no
prescription can come from it. Every refused transition is a ``Conflict`` that says why.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from yaodao.care.departments import CONSULT_CODES
from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import Conflict, ValidationFailed

MAX_NOTE_FIELD = 2000
MAX_MESSAGE_CHARS = 2000
MAX_CLIENT_MSG_ID = 64


class ConsultStatus(enum.StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ConsultKind(enum.StrEnum):
    FIRST_VISIT = "first_visit"
    FOLLOW_UP = "follow_up"


URGENCY_RANK = {"routine": 0, "urgent": 2}  # the queue serves the higher rank first; red flags never queue


@dataclass(frozen=True, slots=True)
class ConsultParams:
    waiting_limit: timedelta = timedelta(hours=4)
    active_limit: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if not timedelta(minutes=5) <= self.waiting_limit <= timedelta(hours=48):
            raise ValueError("waiting_limit must be between 5 minutes and 48 hours.")
        if not timedelta(minutes=5) <= self.active_limit <= timedelta(hours=24):
            raise ValueError("active_limit must be between 5 minutes and 24 hours.")


@dataclass(frozen=True, slots=True)
class PriorDiagnosis:
    """The in-person diagnosis a follow-up rests on (D1): what it was, where and when."""

    name: str
    where: str
    when: str  # as the patient gives it, e.g. "2026-03" or "去年十月"

    def __post_init__(self) -> None:
        errors = [
            (f"diagnosis.{name}", f"must be 1 to {limit} characters")
            for name, limit in (("name", 200), ("where", 200), ("when", 40))
            if not getattr(self, name).strip() or len(getattr(self, name)) > limit
        ]
        if errors:
            raise ValidationFailed("; ".join(f"{f}: {m}" for f, m in errors), field=errors[0][0], errors=errors)


@dataclass(frozen=True, slots=True)
class ConsultNote:
    """The doctor's structured note, written when the consultation closes."""

    complaint: str
    history: str
    assessment: str
    advice: str
    follow_up: str

    def __post_init__(self) -> None:
        errors = []
        for name in ("complaint", "history", "assessment", "advice", "follow_up"):
            value = getattr(self, name)
            if len(value) > MAX_NOTE_FIELD:
                errors.append((f"note.{name}", f"must be at most {MAX_NOTE_FIELD} characters"))
            elif name in ("complaint", "assessment", "advice") and not value.strip():
                errors.append((f"note.{name}", "must not be empty"))
        if errors:
            raise ValidationFailed("; ".join(f"{f}: {m}" for f, m in errors), field=errors[0][0], errors=errors)

    def as_dict(self) -> dict[str, str]:
        return {n: getattr(self, n) for n in ("complaint", "history", "assessment", "advice", "follow_up")}


@dataclass(slots=True, kw_only=True)
class Consultation:
    id: str
    patient_id: str  # the account holder or one of their family members
    owner_id: str  # the account that asked (the patient themself, or the family's account holder)
    city_id: str | None
    complaint: str
    age_years: float | None
    sex: str
    pregnant: bool
    allergies: tuple[str, ...]
    current_meds: tuple[str, ...]
    diagnosis: PriorDiagnosis | None
    department: str
    urgency: str
    language: str
    requested_at: datetime
    status: ConsultStatus = ConsultStatus.WAITING
    doctor_id: str | None = None
    accepted_at: datetime | None = None
    ended_at: datetime | None = None
    note: ConsultNote | None = None
    rating: int | None = None
    version: int = 1
    events: list[str] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        require_aware(self.requested_at)
        if self.department not in CONSULT_CODES:
            raise ValidationFailed(f"department {self.department!r} does not take consultations", field="department")
        if self.urgency not in URGENCY_RANK:
            raise ValidationFailed(f"urgency {self.urgency!r} cannot wait in a queue", field="urgency")

    @property
    def kind(self) -> ConsultKind:
        return ConsultKind.FIRST_VISIT if self.diagnosis is None else ConsultKind.FOLLOW_UP

    @property
    def priority(self) -> int:
        return URGENCY_RANK[self.urgency]

    def overdue(self, at: datetime, params: ConsultParams) -> bool:
        if self.status is ConsultStatus.WAITING:
            return at - self.requested_at >= params.waiting_limit
        if self.status is ConsultStatus.ACTIVE and self.accepted_at is not None:
            return at - self.accepted_at >= params.active_limit
        return False

    def accept(self, doctor_id: str, at: datetime) -> None:
        self._require(ConsultStatus.WAITING, "accept")
        self.status, self.doctor_id, self.accepted_at = ConsultStatus.ACTIVE, doctor_id, at
        self._changed("accepted")

    def cancel(self, at: datetime) -> None:
        self._require(ConsultStatus.WAITING, "cancel")
        self.status, self.ended_at = ConsultStatus.CANCELLED, at
        self._changed("cancelled")

    def expire(self, at: datetime, params: ConsultParams) -> None:
        if not self.overdue(at, params):
            raise Conflict(f"consultation {self.id} is {self.status.value} and within its time limit", field="status")
        self.status, self.ended_at = ConsultStatus.EXPIRED, at
        self._changed("expired")

    def close(self, doctor_id: str, note: ConsultNote, at: datetime) -> None:
        """The assigned doctor closes with the note; an active one past its limit (expired) still closes."""
        if self.status not in (ConsultStatus.ACTIVE, ConsultStatus.EXPIRED) or self.doctor_id is None:
            raise Conflict(
                f"consultation {self.id} is {self.status.value}: only an accepted one can be closed", field="status"
            )
        if doctor_id != self.doctor_id:
            raise Conflict(f"consultation {self.id} is assigned to another doctor", field="doctor_id")
        self.status, self.note, self.ended_at = ConsultStatus.CLOSED, note, at
        self._changed("closed")

    def rate(self, stars: int) -> None:
        if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
            raise ValidationFailed("stars: must be a whole number from 1 to 5", field="stars")
        if self.status is not ConsultStatus.CLOSED:
            raise Conflict(f"consultation {self.id} is {self.status.value}: rate it once it is closed", field="status")
        if self.rating is not None:
            raise Conflict(f"consultation {self.id} has been rated already", field="stars")
        self.rating = stars
        self._changed("rated")

    def check_message(self, sender_id: str) -> None:
        """Messages flow only while a doctor is with the patient."""
        if self.status is not ConsultStatus.ACTIVE:
            raise Conflict(
                f"consultation {self.id} is {self.status.value}: messages are open only while it is active",
                field="status",
            )

    def prescribing_problem(self, doctor_id: str, patient_id: str) -> str | None:
        """Why no prescription can come from this consultation (D1), or None."""
        if self.doctor_id != doctor_id:
            return f"consultation {self.id} is not assigned to this doctor"
        if self.patient_id != patient_id:
            return f"consultation {self.id} is about another patient"
        if self.status is not ConsultStatus.ACTIVE:
            return f"consultation {self.id} is {self.status.value}, not active"
        if self.kind is ConsultKind.FIRST_VISIT:
            return f"consultation {self.id} is a first visit: online care gives it advice, not a prescription (D1)"
        return None

    def _require(self, status: ConsultStatus, verb: str) -> None:
        if self.status is not status:
            raise Conflict(
                f"cannot {verb} consultation {self.id}: it is {self.status.value}, not {status.value}", field="status"
            )

    def _changed(self, what: str) -> None:
        self.version += 1
        self.events.append(what)


@dataclass(frozen=True, slots=True)
class Attachment:
    """An image sent in the chat, as described to readers (the bytes are fetched on their own)."""

    id: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Message:
    consultation_id: str
    seq: int
    sender_id: str
    sender_role: str  # patient | doctor
    client_msg_id: str
    text: str  # may be empty for an image sent without a caption
    sent_at: datetime
    attachment: Attachment | None = None


def message_text(text: str) -> str:
    """The text of a chat message as stored: trimmed, not empty, at most MAX_MESSAGE_CHARS."""
    trimmed = text.strip() if isinstance(text, str) else ""
    if not trimmed:
        raise ValidationFailed("a message needs some text", field="text")
    if len(trimmed) > MAX_MESSAGE_CHARS:
        raise ValidationFailed(f"a message is at most {MAX_MESSAGE_CHARS} characters", field="text")
    return trimmed


def caption_text(text: str | None) -> str:
    """The caption of an image: optional, otherwise held to the limits of a message's text."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return ""
    return message_text(text)


def client_msg_id(value: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_CLIENT_MSG_ID or not value.isprintable():
        raise ValidationFailed(
            f"client_msg_id must be 1 to {MAX_CLIENT_MSG_ID} printable characters", field="client_msg_id"
        )
    return value
