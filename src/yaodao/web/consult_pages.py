"""Consultation pages, phone-sized: the patient's intake and consultation, and the doctor's console.

Intake, accepting and closing are plain forms (session cookie + CSRF token, as on the ordering
pages). The chat runs over the WebSocket (``ws_consult``) from ``static/consult.js``. Prescribing
happens on the doctor's device: ``static/rx_sign.js`` keeps the doctor's Ed25519 key in the
browser (never sent anywhere), signs the prescription's canonical form and posts it to
``POST /api/prescriptions``; the page only hands it the draft's id and times from the server clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yaodao.accounts import services as accounts
from yaodao.accounts.model import Role
from yaodao.accounts.policy import Actor
from yaodao.bootstrap import Container
from yaodao.care import consult_services as consults
from yaodao.care import offer_services as offers
from yaodao.care.consult_intake import IntakeForm, start_consultation
from yaodao.care.consultation import ConsultNote, ConsultStatus, PriorDiagnosis
from yaodao.kernel.errors import DomainError, ValidationFailed
from yaodao.kernel.ids import new_id
from yaodao.kernel.paging import PageRequest
from yaodao.ordering.prescriptions import Prescription, valid_until_for
from yaodao.web.deps import ContainerDep
from yaodao.web.order_pages import _actor, _error_page, _render, _status, problems_of

router = APIRouter(include_in_schema=False)

Short = Annotated[str, Form(max_length=200)]


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.replace("，", ",").split(",") if part.strip())[:20]


def _patients(container: Container, actor: Actor) -> list[tuple[str, str]]:
    family = accounts.list_family_members(uow=container.uow(), actor=actor)
    return [("", "本人 Myself"), *((m.id, f"{m.name} ({m.relation})") for m in family)]


@router.get("/consult", response_class=HTMLResponse)
def intake_page(request: Request, container: ContainerDep) -> Response:
    actor = _actor(request, container)
    if isinstance(actor, Response):
        return actor
    try:
        patients = _patients(container, actor)
    except DomainError as exc:
        return _error_page(request, actor, exc)
    return _render(request, actor, "consult_start.html", {"patients": patients, "v": {}, "problems": []})


@router.post("/consult")
def intake_submit(
    request: Request,
    container: ContainerDep,
    text: Annotated[str, Form(max_length=2000)] = "",
    age_years: Annotated[str, Form(max_length=5)] = "",
    sex: Annotated[str, Form(max_length=1)] = "u",
    pregnant: Annotated[str, Form(max_length=3)] = "",
    allergies: Short = "",
    current_medicines: Short = "",
    diagnosis_name: Short = "",
    diagnosis_where: Short = "",
    diagnosis_when: Annotated[str, Form(max_length=40)] = "",
    patient_id: Annotated[str, Form(max_length=80)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    actor = _actor(request, container, csrf_token, "/consult")
    if isinstance(actor, Response):
        return actor
    values = {
        "text": text, "age_years": age_years, "sex": sex, "pregnant": bool(pregnant), "allergies": allergies,
        "current_medicines": current_medicines, "diagnosis_name": diagnosis_name, "diagnosis_where": diagnosis_where,
        "diagnosis_when": diagnosis_when, "patient_id": patient_id,
    }  # fmt: skip
    try:
        age = float(age_years)
        if not 0 <= age <= 130:
            raise ValueError
    except ValueError:
        age = -1.0
    try:
        if age < 0:
            raise ValidationFailed("age must be a number of years from 0 to 130", field="age_years")
        if not text.strip():
            raise ValidationFailed("describe the problem in a few words", field="text")
        named = (diagnosis_name.strip(), diagnosis_where.strip(), diagnosis_when.strip())
        if any(named) and not all(named):
            raise ValidationFailed("a diagnosis needs what, where and when", field="diagnosis")
        form = IntakeForm(
            text=text, age_years=age, sex=sex if sex in ("f", "m") else "u", pregnant=bool(pregnant),
            allergies=_names(allergies), current_meds=_names(current_medicines),
            diagnosis=PriorDiagnosis(*named) if all(named) else None, patient_id=patient_id or None,
        )  # fmt: skip
        outcome = start_consultation(uow=container.uow(), actor=actor, form=form)
    except DomainError as exc:
        context = {"patients": _patients(container, actor), "v": values, "problems": problems_of(exc)}
        return _render(request, actor, "consult_start.html", context, _status(exc))
    if outcome.emergency is not None:
        return _render(request, actor, "consult_emergency.html", {"g": outcome.emergency, "triage": outcome.triage})
    assert outcome.consultation is not None
    return RedirectResponse(f"/consultations/{outcome.consultation.id}", status_code=303)


def _prescriptions(container: Container, consult: Any) -> list[Prescription]:
    """What this consultation's doctor prescribed to its patient since accepting it."""
    if consult.doctor_id is None or consult.accepted_at is None:
        return []
    with container.uow(read_only=True) as uow:
        found = uow.prescriptions.list_for_patients([consult.patient_id], PageRequest(1, 50)).items
    return [rx for rx in found if rx.doctor_id == consult.doctor_id and rx.issued_at >= consult.accepted_at]


@router.get("/consultations", response_class=HTMLResponse)
def my_consultations(
    request: Request, container: ContainerDep, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    """The patient's consultations (their own and their family's), newest first; a doctor's assigned ones."""
    actor = _actor(request, container)
    if isinstance(actor, Response):
        return actor
    try:
        result = consults.list_mine(uow=container.uow(), actor=actor, page=PageRequest(page, 20))
    except DomainError as exc:
        return _error_page(request, actor, exc)
    return _render(request, actor, "consultations.html", {"result": result})


@router.get("/consultations/{consultation_id}", response_class=HTMLResponse)
def consultation_page(request: Request, container: ContainerDep, consultation_id: str) -> Response:
    actor = _actor(request, container)
    if isinstance(actor, Response):
        return actor
    try:
        view = consults.get_consultation(uow=container.uow(), actor=actor, consultation_id=consultation_id)
    except DomainError as exc:
        return _error_page(request, actor, exc)
    consult = view.consultation
    is_doctor = Role.DOCTOR in actor.roles and consult.doctor_id == actor.user_id
    now = container.clock.now()
    context: dict[str, Any] = {
        "c": consult, "place": view.place, "wait": view.estimated_wait, "is_doctor": is_doctor,
        "open": consult.status in (ConsultStatus.WAITING, ConsultStatus.ACTIVE),
        "prescriptions": _prescriptions(container, consult), "problems": [],
    }  # fmt: skip
    if is_doctor and consult.status is ConsultStatus.ACTIVE:
        context["draft"] = {"id": new_id(), "issued_at": _utc(now), "valid_until": _utc(valid_until_for(now))}
    return _render(request, actor, "consultation.html", context)


def _utc(at: datetime) -> str:
    """The prescription form's time format: UTC, to the second (``prescribing.canonical_form``)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@router.post("/consultations/{consultation_id}/close")
def close_submit(
    request: Request,
    container: ContainerDep,
    consultation_id: str,
    complaint: Short = "",
    history: Annotated[str, Form(max_length=2000)] = "",
    assessment: Annotated[str, Form(max_length=2000)] = "",
    advice: Annotated[str, Form(max_length=2000)] = "",
    follow_up: Short = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    actor = _actor(request, container, csrf_token, f"/consultations/{consultation_id}")
    if isinstance(actor, Response):
        return actor
    try:
        note = ConsultNote(complaint, history, assessment, advice, follow_up)
        consults.close(uow=container.uow(), actor=actor, consultation_id=consultation_id, note=note)
    except DomainError as exc:
        return _error_page(request, actor, exc)
    return RedirectResponse(f"/consultations/{consultation_id}", status_code=303)


@router.get("/doctor", response_class=HTMLResponse)
def doctor_console(request: Request, container: ContainerDep) -> Response:
    actor = _actor(request, container)
    if isinstance(actor, Response):
        return actor
    try:
        offered = offers.doctor_offers(uow=container.uow(), actor=actor)
        queue = consults.doctor_queue(uow=container.uow(), actor=actor)
        mine = consults.list_mine(uow=container.uow(), actor=actor, page=PageRequest(1, 20))
    except DomainError as exc:
        return _error_page(request, actor, exc)
    active = [c for c in mine.items if c.status is ConsultStatus.ACTIVE]
    context = {"offers": offered, "queue": queue, "active": active, "problems": []}
    return _render(request, actor, "doctor.html", context)


@router.post("/doctor/offers/{offer_id}/{decision}")
def offer_submit(
    request: Request,
    container: ContainerDep,
    offer_id: str,
    decision: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Accept (then on to the consultation) or decline (back to the console) an offer."""
    actor = _actor(request, container, csrf_token, "/doctor")
    if isinstance(actor, Response):
        return actor
    try:
        if decision == "accept":
            taken = offers.accept_offer(uow=container.uow(), actor=actor, offer_id=offer_id)
            return RedirectResponse(f"/consultations/{taken.id}", status_code=303)
        if decision != "decline":
            raise ValidationFailed("decision: must be accept or decline", field="decision")
        offers.decline_offer(uow=container.uow(), actor=actor, offer_id=offer_id)
    except DomainError as exc:
        return _error_page(request, actor, exc)
    return RedirectResponse("/doctor", status_code=303)


@router.post("/doctor/consultations/{consultation_id}/accept")
def accept_submit(
    request: Request,
    container: ContainerDep,
    consultation_id: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    actor = _actor(request, container, csrf_token, "/doctor")
    if isinstance(actor, Response):
        return actor
    try:
        consults.accept(uow=container.uow(), actor=actor, consultation_id=consultation_id)
    except DomainError as exc:
        return _error_page(request, actor, exc)
    return RedirectResponse(f"/consultations/{consultation_id}", status_code=303)
