"""What a connected participant has not seen yet: new messages, read marks and the consultation's state.

A live connection (the WebSocket chat) opens with ``consult_chat.read_messages``, which audits the
read; while it stays open it asks ``follow`` every second or so. These follow-up reads are the same
participant continuing the read already recorded, so they are not audited one by one; access is
still checked on each (a consultation handed to another doctor stops flowing at once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from yaodao.accounts.policy import Action, Actor
from yaodao.care.consult_services import PARAMS, side_of, visible
from yaodao.care.consultation import Consultation, ConsultStatus, Message
from yaodao.care.ports import CareUnitOfWork
from yaodao.kernel.errors import ValidationFailed

MAX_BATCH = 200
OPEN = frozenset({ConsultStatus.WAITING, ConsultStatus.ACTIVE})


@dataclass(frozen=True, slots=True)
class Update:
    messages: list[Message]
    status: ConsultStatus
    patient_read_seq: int
    doctor_read_seq: int

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


def follow(
    *,
    uow_factory: Callable[..., CareUnitOfWork],
    actor: Actor,
    consultation_id: str,
    after_seq: int,
    limit: int = 100,
) -> Update:
    """Each open socket asks this about once a second, so it reads in a read-only transaction (on SQLite a
    write transaction would queue behind every checkout); only a consultation past its time limit takes
    the writing path, which records the expiry."""
    if after_seq < 0:
        raise ValidationFailed("after must be 0 or more", field="after")
    if not 1 <= limit <= MAX_BATCH:
        raise ValidationFailed(f"limit must be 1 to {MAX_BATCH}", field="limit")
    with uow_factory(read_only=True) as uow:
        consult = uow.consultations.get(consultation_id)
        if consult is not None and not consult.overdue(uow.clock.now(), PARAMS):
            side_of(actor, consult, Action.CONSULT_READ)
            return _update(uow, consult, after_seq, limit)
    with uow_factory() as uow:  # unknown (404 from visible) or overdue: expire it on the way
        consult, _ = visible(uow, actor, consultation_id, Action.CONSULT_READ)
        update = _update(uow, consult, after_seq, limit)
        uow.commit()
        return update


def _update(uow: CareUnitOfWork, consult: Consultation, after_seq: int, limit: int) -> Update:
    found = uow.consultations.messages_after(consult.id, after_seq, limit)
    _, patient_mark, doctor_mark = uow.consultations.read_marks(consult.id)
    return Update(found, consult.status, patient_mark, doctor_mark)
