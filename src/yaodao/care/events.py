"""Events of the care context, written to the outbox with the change they describe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from yaodao.kernel.events import Event


@dataclass(frozen=True, kw_only=True)
class ConsultationChanged(Event):
    """A consultation was requested, accepted, cancelled, expired, closed or rated (``change``)."""

    topic: ClassVar[str] = "care.consultation_changed"
    consultation_id: str
    change: str
    status: str
    department: str
    doctor_id: str | None


@dataclass(frozen=True, kw_only=True)
class MessagePosted(Event):
    """A chat message was stored (a live transport pushes it to the other participant)."""

    topic: ClassVar[str] = "care.message_posted"
    consultation_id: str
    seq: int
    sender_id: str
