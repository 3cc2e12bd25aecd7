"""The chat of a consultation: messages stored before they are acknowledged, read marks, paging by sequence.

``post_message`` is what any transport calls (the JSON API now, a WebSocket handler later): it returns
the stored :class:`Message` with its sequence number once the transaction has committed. A resend with the
same ``client_msg_id`` from the same sender returns the stored message and writes nothing, so a client
that lost the acknowledgement simply sends again. Only the two participants post and read.

Every patient message passes the red-flag gate (DOMAIN.md RF1): the flags come back with the stored
message, so both sides can show the emergency guidance and the doctor can end the consultation and refer,
and a flagged message is written to the audit log.

``post_image`` stores an image and the message carrying it in one transaction, after ``care/images.py``
has checked its bytes against :data:`IMAGE_LIMITS` (type by magic numbers, size, dimensions) and the
sender is under the per-consultation count; a resend with the same ``client_msg_id`` returns the stored
message and stores no second image. ``read_attachment`` gives a participant the bytes, audited as a read.
"""

from __future__ import annotations

from dataclasses import dataclass

from yaodao.accounts.policy import Action, Actor
from yaodao.care.consult_services import record, visible
from yaodao.care.consultation import Attachment, Message, caption_text, client_msg_id, message_text
from yaodao.care.events import MessagePosted
from yaodao.care.images import ImageLimits, check_image
from yaodao.care.ports import CareUnitOfWork
from yaodao.kernel.errors import Conflict, NotFound, ValidationFailed
from yaodao.kernel.ids import new_id
from yaodao.safety.redflags import detect_red_flags

MAX_PAGE = 200
IMAGE_LIMITS = ImageLimits()


@dataclass(frozen=True, slots=True)
class Posted:
    message: Message
    created: bool  # False for a resend of a message already stored
    red_flags: tuple[str, ...] = ()  # codes the gate found in a patient's message


@dataclass(frozen=True, slots=True)
class Transcript:
    messages: list[Message]
    has_more: bool
    last_seq: int
    patient_read_seq: int
    doctor_read_seq: int


def post_message(*, uow: CareUnitOfWork, actor: Actor, consultation_id: str, client_id: str, text: str) -> Posted:
    client_id = client_msg_id(client_id)
    body = message_text(text)
    with uow:
        consult, side = visible(uow, actor, consultation_id, Action.CONSULT_MESSAGE)
        sender = str(actor.user_id)
        again = uow.consultations.message_by_client_id(consult.id, sender, client_id)
        if again is not None:
            uow.commit()  # keeps an expiry the load may have recorded
            return Posted(again, False, _flags(side, again.text))
        consult.check_message(sender)
        message, created = uow.consultations.add_message(
            consult.id, sender_id=sender, sender_role=side, client_msg_id=client_id, text=body, at=uow.clock.now()
        )
        flags = _flags(side, message.text)
        if created:
            uow.emit(
                MessagePosted(consultation_id=consult.id, seq=message.seq, sender_id=sender, city_id=consult.city_id)
            )
            if flags:
                uow.audit(record(uow, actor, "create", consult, part="message", seq=str(message.seq),
                                 red_flags=",".join(flags)))  # fmt: skip
        uow.commit()
        return Posted(message, created, flags)


def post_image(
    *,
    uow: CareUnitOfWork,
    actor: Actor,
    consultation_id: str,
    client_id: str,
    data: bytes,
    caption: str | None = None,
    limits: ImageLimits = IMAGE_LIMITS,
) -> Posted:
    """Store an image and its message together, acknowledged once committed; a resend stores nothing."""
    client_id = client_msg_id(client_id)
    body = caption_text(caption)
    info = check_image(data, limits)
    with uow:
        consult, side = visible(uow, actor, consultation_id, Action.CONSULT_MESSAGE)
        sender = str(actor.user_id)
        again = uow.consultations.message_by_client_id(consult.id, sender, client_id)
        if again is not None:
            uow.commit()
            return Posted(again, False, _flags(side, again.text))
        consult.check_message(sender)
        if uow.consultations.attachment_count(consult.id, sender) >= limits.max_per_sender:
            raise _too_many(limits)
        attachment = Attachment(new_id(), info.content_type, info.width, info.height, info.size_bytes, info.sha256)
        message, created = uow.consultations.add_message(
            consult.id, sender_id=sender, sender_role=side, client_msg_id=client_id, text=body, at=uow.clock.now(),
            image=(attachment, data),
        )  # fmt: skip
        if created and uow.consultations.attachment_count(consult.id, sender) > limits.max_per_sender:
            raise _too_many(limits)  # a concurrent upload won the last place: counted again behind the row lock
        flags = _flags(side, message.text)
        if created:
            uow.emit(
                MessagePosted(consultation_id=consult.id, seq=message.seq, sender_id=sender, city_id=consult.city_id)
            )
            uow.audit(record(uow, actor, "create", consult, part="image", seq=str(message.seq),
                             attachment_id=attachment.id, red_flags=",".join(flags)))  # fmt: skip
        uow.commit()
        return Posted(message, created, flags)


def read_attachment(
    *, uow: CareUnitOfWork, actor: Actor, consultation_id: str, attachment_id: str
) -> tuple[Attachment, bytes]:
    """A participant's read of one image of the consultation (audited); 404 for anyone else or another's image."""
    with uow:
        consult, _ = visible(uow, actor, consultation_id, Action.CONSULT_READ)
        found = uow.consultations.attachment(consult.id, attachment_id)
        if found is None:
            raise NotFound(f"attachment {attachment_id} not found", field="attachment_id")
        uow.audit(record(uow, actor, "read", consult, part="attachment", attachment_id=attachment_id))
        uow.commit()
        return found


def read_messages(
    *, uow: CareUnitOfWork, actor: Actor, consultation_id: str, after_seq: int = 0, limit: int = 50
) -> Transcript:
    if after_seq < 0:
        raise ValidationFailed("after must be 0 or more", field="after")
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be 1 to {MAX_PAGE}", field="limit")
    with uow:
        consult, _ = visible(uow, actor, consultation_id, Action.CONSULT_READ)
        found = uow.consultations.messages_after(consult.id, after_seq, limit + 1)
        last, patient_mark, doctor_mark = uow.consultations.read_marks(consult.id)
        uow.audit(record(uow, actor, "read", consult, part="messages", after=str(after_seq)))
        uow.commit()
        return Transcript(found[:limit], len(found) > limit, last, patient_mark, doctor_mark)


def mark_read(*, uow: CareUnitOfWork, actor: Actor, consultation_id: str, seq: int) -> int:
    """Raise the reader's mark to ``seq`` (at most the last message); returns the mark now stored."""
    if seq < 0:
        raise ValidationFailed("seq must be 0 or more", field="seq")
    with uow:
        consult, side = visible(uow, actor, consultation_id, Action.CONSULT_READ)
        mark = uow.consultations.mark_read(consult.id, side, seq)
        uow.commit()
        return mark


def _too_many(limits: ImageLimits) -> Conflict:
    return Conflict(
        f"at most {limits.max_per_sender} images per sender in a consultation; this limit is reached", field="file"
    )


def _flags(side: str, text: str) -> tuple[str, ...]:
    return tuple(flag.code for flag in detect_red_flags(text)) if side == "patient" else ()
