"""Online consultations over HTTP: intake, the patient's and the doctor's views, chat, closing and rating.

``POST /api/consultations`` runs the real triage: a red flag answers 200 with ``outcome: "emergency"``
(call 120, the nearest emergency departments) and queues nothing; otherwise 201 with the waiting
consultation. Messages carry a ``client_msg_id``: a resend returns the stored message (200) instead of
a second copy (201). An image goes up as multipart (``POST …/attachments``: ``file``, ``client_msg_id``,
an optional caption ``text``) and comes back from ``GET …/attachments/{id}`` with the type its bytes were
found to be, ``nosniff`` and a strong ETag.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from yaodao.care import consult_chat as chat
from yaodao.care import consult_services as consults
from yaodao.care.consult_intake import IntakeForm, start_consultation
from yaodao.care.consultation import (
    MAX_CLIENT_MSG_ID,
    MAX_MESSAGE_CHARS,
    MAX_NOTE_FIELD,
    Consultation,
    ConsultNote,
    Message,
    PriorDiagnosis,
)
from yaodao.care.emergency import EmergencyGuidance
from yaodao.care.images import ImageRefused, Refusal
from yaodao.care.triage import MAX_TEXT_CHARS
from yaodao.kernel.geo import LatLng
from yaodao.kernel.paging import PageRequest
from yaodao.web.deps import ActorDep, UowDep
from yaodao.web.errors import problem

router = APIRouter(tags=["consultations"])

# The upload route's body may carry one image at its limit plus the form's other fields (see web/middleware.py).
ATTACHMENT_PATH = r"^/api/consultations/[^/]+/attachments$"
ATTACHMENT_BODY_BYTES = chat.IMAGE_LIMITS.max_bytes + 64 * 1024
REFUSAL_STATUS = {Refusal.TYPE: 415, Refusal.SIZE: 413}  # the others (empty, header, dimensions): 422

Name = Annotated[str, Field(min_length=1, max_length=100)]
NoteText = Annotated[str, Field(max_length=MAX_NOTE_FIELD)]


class DiagnosisIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    where: Annotated[str, Field(min_length=1, max_length=200, description="hospital or clinic")]
    when: Annotated[str, Field(min_length=1, max_length=40, description="e.g. 2026-03")]


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: Annotated[float, Field(ge=-90, le=90)]
    lng: Annotated[float, Field(ge=-180, le=180)]


class IntakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    age_years: Annotated[float, Field(ge=0, le=130)]
    sex: Literal["f", "m", "u"]
    pregnant: bool = False
    allergies: Annotated[list[Name], Field(max_length=20)] = []
    current_medicines: Annotated[list[Name], Field(max_length=20)] = []
    diagnosis: DiagnosisIn | None = None
    patient_id: Annotated[str | None, Field(max_length=80, description="a family member; omit for yourself")] = None
    location: LocationIn | None = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_msg_id: Annotated[str, Field(min_length=1, max_length=MAX_CLIENT_MSG_ID)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: Annotated[int, Field(strict=True, ge=0)]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    complaint: NoteText
    history: NoteText = ""
    assessment: NoteText
    advice: NoteText
    follow_up: NoteText = ""


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stars: Annotated[int, Field(strict=True, ge=1, le=5)]


def consultation_json(c: Consultation) -> dict[str, Any]:
    return {
        "id": c.id, "status": c.status.value, "kind": c.kind.value, "patient_id": c.patient_id,
        "department": c.department, "urgency": c.urgency, "language": c.language, "complaint": c.complaint,
        "age_years": c.age_years, "sex": c.sex, "pregnant": c.pregnant, "allergies": list(c.allergies),
        "current_medicines": list(c.current_meds),
        "diagnosis": None if c.diagnosis is None else
        {"name": c.diagnosis.name, "where": c.diagnosis.where, "when": c.diagnosis.when},
        "requested_at": c.requested_at.isoformat(), "doctor_id": c.doctor_id,
        "accepted_at": c.accepted_at.isoformat() if c.accepted_at else None,
        "ended_at": c.ended_at.isoformat() if c.ended_at else None,
        "note": None if c.note is None else c.note.as_dict(), "rating": c.rating, "version": c.version,
    }  # fmt: skip


def attachment_json(m: Message) -> dict[str, Any] | None:
    a = m.attachment
    if a is None:
        return None
    return {
        "id": a.id, "content_type": a.content_type, "width": a.width, "height": a.height, "size_bytes": a.size_bytes,
        "url": f"/api/consultations/{m.consultation_id}/attachments/{a.id}",
    }  # fmt: skip


def message_json(m: Message) -> dict[str, Any]:
    return {
        "seq": m.seq, "sender_id": m.sender_id, "sender_role": m.sender_role, "client_msg_id": m.client_msg_id,
        "text": m.text, "sent_at": m.sent_at.isoformat(), "attachment": attachment_json(m),
    }  # fmt: skip


def _emergency_json(g: EmergencyGuidance) -> dict[str, Any]:
    return {
        "number": g.number, "message_zh": g.message_zh, "message_en": g.message_en, "crisis_line": g.crisis_line,
        "nearest": [
            {"id": d.id, "name_zh": d.name_zh, "name_en": d.name_en, "address_zh": d.address_zh,
             "lat": d.location.lat, "lng": d.location.lng, "distance_km": km}
            for d, km in g.nearest
        ],
    }  # fmt: skip


@router.post("/api/consultations", status_code=201)
def intake(body: IntakeIn, uow: UowDep, actor: ActorDep) -> JSONResponse:
    form = IntakeForm(
        text=body.text, age_years=body.age_years, sex=body.sex, pregnant=body.pregnant,
        allergies=tuple(body.allergies), current_meds=tuple(body.current_medicines),
        diagnosis=None if body.diagnosis is None else
        PriorDiagnosis(body.diagnosis.name, body.diagnosis.where, body.diagnosis.when),
        patient_id=body.patient_id,
        location=None if body.location is None else LatLng(body.location.lat, body.location.lng),
    )  # fmt: skip
    outcome = start_consultation(uow=uow, actor=actor, form=form)
    t = outcome.triage
    triage_json = {
        "department": t.department, "urgency": t.urgency, "red_flags": list(t.red_flags),
        "follow_up_eligible": t.follow_up_eligible, "advice_zh": t.advice_zh, "advice_en": t.advice_en,
    }  # fmt: skip
    if outcome.emergency is not None:
        return JSONResponse(
            {"outcome": "emergency", "triage": triage_json, "emergency": _emergency_json(outcome.emergency)}, 200
        )
    assert outcome.consultation is not None
    return JSONResponse(
        {"outcome": "queued", "triage": triage_json, "consultation": consultation_json(outcome.consultation)}, 201
    )


@router.get("/api/consultations")
def mine(
    uow: UowDep,
    actor: ActorDep,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    found = consults.list_mine(uow=uow, actor=actor, page=PageRequest(page, page_size))
    return {"items": [consultation_json(c) for c in found.items], "total": found.total, "page": found.page}


@router.get("/api/consultations/{consultation_id}")
def get(consultation_id: str, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    view = consults.get_consultation(uow=uow, actor=actor, consultation_id=consultation_id)
    wait = view.estimated_wait
    return {
        **consultation_json(view.consultation),
        "queue_place": view.place,
        "estimated_wait_s": None if wait is None else int(wait.total_seconds()),
    }


@router.post("/api/consultations/{consultation_id}/cancel")
def cancel(consultation_id: str, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    return consultation_json(consults.cancel(uow=uow, actor=actor, consultation_id=consultation_id))


@router.post("/api/consultations/{consultation_id}/messages", status_code=201)
def post_message(consultation_id: str, body: MessageIn, uow: UowDep, actor: ActorDep) -> JSONResponse:
    posted = chat.post_message(
        uow=uow, actor=actor, consultation_id=consultation_id, client_id=body.client_msg_id, text=body.text
    )
    body_out = {**message_json(posted.message), "red_flags": list(posted.red_flags)}
    return JSONResponse(body_out, status_code=201 if posted.created else 200)


@router.post("/api/consultations/{consultation_id}/attachments", status_code=201)
async def post_image(
    consultation_id: str,
    uow: UowDep,
    actor: ActorDep,
    file: Annotated[UploadFile, File(description="a PNG, JPEG or WebP image")],
    client_msg_id: Annotated[str, Form(min_length=1, max_length=MAX_CLIENT_MSG_ID)],
    text: Annotated[str, Form(max_length=MAX_MESSAGE_CHARS, description="an optional caption")] = "",
) -> JSONResponse:
    """Store the image and a message carrying it in one transaction; a resend with the same client_msg_id
    returns the stored message (200) and stores no second image."""
    data = await file.read(chat.IMAGE_LIMITS.max_bytes + 1)  # one byte more is enough to know it is too large
    try:
        posted = await run_in_threadpool(
            chat.post_image, uow=uow, actor=actor, consultation_id=consultation_id, client_id=client_msg_id,
            data=data, caption=text,
        )  # fmt: skip
    except ImageRefused as exc:
        status = REFUSAL_STATUS.get(exc.reason, 422)
        return problem(status, exc.message, f"image_{exc.reason.value}", [{"field": "file", "message": exc.message}])
    body_out = {**message_json(posted.message), "red_flags": list(posted.red_flags)}
    return JSONResponse(body_out, status_code=201 if posted.created else 200)


@router.get("/api/consultations/{consultation_id}/attachments/{attachment_id}")
def get_image(consultation_id: str, attachment_id: str, request: Request, uow: UowDep, actor: ActorDep) -> Response:
    """The image's bytes for a participant, with the stored type; every read is audited."""
    attachment, data = chat.read_attachment(
        uow=uow, actor=actor, consultation_id=consultation_id, attachment_id=attachment_id
    )
    etag = f'"{attachment.sha256}"'
    headers = {
        "ETag": etag, "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline", "Content-Security-Policy": "default-src 'none'; sandbox",
    }  # fmt: skip
    if etag in (t.strip() for t in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=attachment.content_type, headers=headers)


@router.get("/api/consultations/{consultation_id}/messages")
def messages(
    consultation_id: str,
    uow: UowDep,
    actor: ActorDep,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=chat.MAX_PAGE)] = 50,
) -> dict[str, Any]:
    found = chat.read_messages(uow=uow, actor=actor, consultation_id=consultation_id, after_seq=after, limit=limit)
    return {
        "items": [message_json(m) for m in found.messages], "has_more": found.has_more, "last_seq": found.last_seq,
        "patient_read_seq": found.patient_read_seq, "doctor_read_seq": found.doctor_read_seq,
    }  # fmt: skip


@router.post("/api/consultations/{consultation_id}/read")
def read(consultation_id: str, body: ReadIn, uow: UowDep, actor: ActorDep) -> dict[str, int]:
    return {"read_seq": chat.mark_read(uow=uow, actor=actor, consultation_id=consultation_id, seq=body.seq)}


@router.post("/api/consultations/{consultation_id}/close")
def close(consultation_id: str, body: NoteIn, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    note = ConsultNote(body.complaint, body.history, body.assessment, body.advice, body.follow_up)
    return consultation_json(consults.close(uow=uow, actor=actor, consultation_id=consultation_id, note=note))


@router.post("/api/consultations/{consultation_id}/rating")
def rate(consultation_id: str, body: RatingIn, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    return consultation_json(consults.rate(uow=uow, actor=actor, consultation_id=consultation_id, stars=body.stars))


@router.get("/api/doctor/queue")
def queue(uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    entries = consults.doctor_queue(uow=uow, actor=actor)
    return {
        "items": [
            {"id": e.id, "kind": e.kind, "department": e.department, "urgency": e.urgency, "language": e.language,
             "waited_s": e.waited_s}
            for e in entries
        ]
    }  # fmt: skip


@router.post("/api/doctor/consultations/{consultation_id}/accept")
def accept(consultation_id: str, uow: UowDep, actor: ActorDep) -> dict[str, Any]:
    return consultation_json(consults.accept(uow=uow, actor=actor, consultation_id=consultation_id))
