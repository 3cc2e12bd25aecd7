"""Server-rendered ordering pages: checkout, my orders and one order (pay, cancel), and the pharmacy's side
(the pharmacist's review queue, then accepting, picking and handing over).

Pages use the session cookie; every form that changes something carries the session's CSRF token
(``csrf_token``), checked by ``deps.get_actor`` exactly as for the JSON API. Checkout and pay forms
also carry an idempotency key minted when the page is rendered, so a double submit replays the first
answer instead of placing a second order (the same ``idempotent`` claim as ``POST /api/orders``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from yaodao.accounts import services as accounts
from yaodao.accounts.model import Address, AuditRecord, Role
from yaodao.accounts.policy import ANONYMOUS, Action, Actor, Scope, authorize
from yaodao.bootstrap import Container
from yaodao.care import services as care
from yaodao.catalog.model import DrugClass, Product
from yaodao.kernel.errors import DomainError, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from yaodao.kernel.geo import LatLng
from yaodao.kernel.money import format_yuan
from yaodao.kernel.paging import PageRequest
from yaodao.ordering import services as ordering
from yaodao.ordering.gate import OrderBlocked
from yaodao.ordering.model import PAYMENT_WINDOW, Fulfilment, Order, OrderStatus
from yaodao.ordering.prescriptions import HIGH_SEVERITIES, ChecklistItem, Prescription, Review, ReviewResult
from yaodao.payments import services as payments
from yaodao.payments.model import PaymentState
from yaodao.payments.wallet import ProviderError
from yaodao.search.availability import Offer
from yaodao.web.api_orders import SOURCE_LABEL, InFlight, idempotent, order_json, ordering_context
from yaodao.web.deps import ContainerDep, get_actor
from yaodao.web.errors import STATUS
from yaodao.web.search_views import district_points

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["yuan"] = format_yuan

ORDERS_PER_PAGE = 10
QUEUE_PER_PAGE = 20
CANCELLABLE = frozenset(
    {OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID, OrderStatus.AWAITING_REVIEW}
)
AT_THE_PHARMACY = (
    OrderStatus.AWAITING_REVIEW, OrderStatus.PAID, OrderStatus.ACCEPTED, OrderStatus.PICKING,
    OrderStatus.READY_FOR_PICKUP,
)  # fmt: skip
# A problem code per checklist item, for the review form (PASSING_CODES are "ok" and "not_applicable").
CHECKLIST_PROBLEMS: Mapping[ChecklistItem, str] = {
    ChecklistItem.SKIN_TEST: "skin_test_missing",
    ChecklistItem.FITS_DIAGNOSIS: "not_indicated",
    ChecklistItem.DOSE_AND_USAGE: "dose_inappropriate",
    ChecklistItem.FORM_AND_ROUTE: "form_or_route_wrong",
    ChecklistItem.DUPLICATE_THERAPY: "duplicate_therapy",
    ChecklistItem.INTERACTIONS: "interaction_risk",
    ChecklistItem.OTHER_MISUSE: "misuse_suspected",
}
HOLD_RESOLUTIONS = ("benefit_outweighs_risk", "prescriber_confirmed", "patient_counselled", "not_relevant")
CANCEL_REASONS = ("changed my mind", "ordered by mistake", "too slow", "found it elsewhere")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that went wrong: the English message, and the keys the pages look its Chinese up by."""

    code: str  # an error code, or a safety-gate finding code
    field: str
    en: str


def problems_of(exc: DomainError) -> list[Problem]:
    """The error as problems (``_order_macros.html`` puts Chinese first), one per finding for a gate refusal."""
    if isinstance(exc, OrderBlocked):
        return [Problem(f.code, "", f.message) for f in exc.findings]
    return [Problem(exc.code, (exc.field or "").split(".")[-1].split("[")[0], exc.message)]


def _status(exc: DomainError) -> int:
    return next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)


# Who is asking -------------------------------------------------------------------------------------


def _actor(
    request: Request, container: Container, csrf_token: str | None = None, back: str | None = None
) -> Actor | Response:
    """The signed-in actor, or the answer instead: sign in first (then ``back``), or 403 for a form without
    the session's CSRF token."""
    if csrf_token is not None:
        request.state.form_csrf = csrf_token
    try:
        actor = get_actor(request, container)
    except DomainError as exc:
        return _render(request, ANONYMOUS, "order_problem.html", {"problems": problems_of(exc)}, _status(exc))
    return actor if actor.authenticated else _to_login(request, back)


def _to_login(request: Request, back: str | None = None) -> RedirectResponse:
    target = back or (request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _render(request: Request, actor: Actor, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    base = {"roles": actor.roles_text or None, "csrf": getattr(request.state, "csrf", None) or ""}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def _error_page(request: Request, actor: Actor, exc: DomainError) -> Response:
    if isinstance(exc, NotAuthenticated):
        return _to_login(request)
    return _render(request, actor, "order_problem.html", {"problems": problems_of(exc)}, _status(exc))


def _clock(container: Container, city_id: str) -> Callable[[datetime], str]:
    city = container.cities.get(city_id)
    return lambda at: (city.local(at) if city else at).strftime("%m-%d %H:%M")


# Checkout ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckoutValues:
    """What the buyer entered, kept when the form comes back with a problem."""

    quantity: int = 1
    patient_id: str = ""  # "": the buyer
    address: str = "point"  # "point" (the landing page's point and address_text) or a saved address id
    address_text: str = ""
    prescription_id: str = ""
    rx_risk_acknowledged: bool = False


@dataclass(frozen=True, slots=True)
class CheckoutChoices:
    """What the buyer may choose from, and what the city can do for them now."""

    product: Product
    patients: list[tuple[str, str]]  # (id, label); "" is the buyer
    addresses: list[Address]
    prescriptions: list[tuple[Prescription, str]]  # valid, unused, and naming this product; with the patient
    point: LatLng
    offer: Offer | None
    pharmacy_name: str | None
    promise_minutes: int


def _choices(container: Container, actor: Actor, product_id: str, point: LatLng | None, qty: int) -> CheckoutChoices:
    city = container.cities.get(container.settings.default_city)
    if city is None:
        raise ValidationFailed("no city is set up for ordering yet", field="city")
    with container.uow(read_only=True) as uow:
        product = uow.products.get(product_id)
    if product is None or not product.active:
        raise NotFound(f"product {product_id} is not in the catalog", field="product")
    family = accounts.list_family_members(uow=container.uow(), actor=actor)
    addresses = accounts.list_addresses(uow=container.uow(), actor=actor)
    patients = [("", "本人 Myself"), *((m.id, f"{m.name} ({m.relation})") for m in family)]
    now = container.clock.now()
    rx = _prescriptions(container, actor, product, patients, now) if product.drug_class is DrugClass.RX else []
    if point is None:
        points = district_points(city)
        if not points:
            raise ValidationFailed("this city has no districts to default to; give lat and lng", field="lat")
        point = LatLng(points[0][2], points[0][3])
    offer, name = None, None
    index = container.availability.index(city.id)
    if index is not None and index.contains(point):
        offers = index.query(point, {product.id: qty}, now)
        if offers:
            offer, name = offers[0], index.pharmacy(offers[0].pharmacy_id).name
    return CheckoutChoices(product, patients, addresses, rx, point, offer, name, city.promise_minutes(now))


def _prescriptions(
    container: Container, actor: Actor, product: Product, patients: Sequence[tuple[str, str]], now: datetime
) -> list[tuple[Prescription, str]]:
    """The buyer's and their family's prescriptions this product can be bought on (read audited)."""
    assert actor.user_id is not None
    labels = {pid or actor.user_id: label for pid, label in patients}
    with container.uow() as uow:
        authorize(actor, Action.PRESCRIPTION_READ, Scope(owner_id=actor.user_id))
        found = uow.prescriptions.list_for_patients(sorted(labels), PageRequest(1, 100)).items
        uow.audit(
            AuditRecord(
                at=now, actor_id=actor.user_id, actor_roles=actor.roles_text, action="list",
                resource_type="prescription", resource_id=None, patient_id=actor.user_id, outcome="ok",
                request_id=actor.request_id, ip=actor.ip,
            )
        )  # fmt: skip
        uow.commit()
    usable = [
        rx for rx in found if rx.is_valid_at(now) and rx.fills_left > 0 and any(i.matches(product) for i in rx.items)
    ]
    return [(rx, labels[rx.patient_id]) for rx in usable]


def _render_checkout(
    request: Request, actor: Actor, choices: CheckoutChoices, values: CheckoutValues,
    problems: Sequence[Problem] = (), status: int = 200,
) -> HTMLResponse:  # fmt: skip
    context = {
        "c": choices, "v": values, "problems": problems, "key": secrets.token_urlsafe(24),
        "payment_minutes": int(PAYMENT_WINDOW.total_seconds() // 60),
    }  # fmt: skip
    return _render(request, actor, "checkout.html", context, status)


@router.get("/checkout", response_class=HTMLResponse)
def checkout_page(
    request: Request,
    container: ContainerDep,
    product: Annotated[str, Query(min_length=1, max_length=80)],
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
    qty: Annotated[int, Query(ge=1, le=99)] = 1,
) -> Response:
    actor = _actor(request, container)
    if isinstance(actor, Response):
        return actor
    point = LatLng(lat, lng) if lat is not None and lng is not None else None
    try:
        choices = _choices(container, actor, product, point, qty)
    except DomainError as exc:
        return _error_page(request, actor, exc)
    return _render_checkout(request, actor, choices, CheckoutValues(quantity=qty))


@router.post("/checkout")
def checkout_submit(
    request: Request,
    container: ContainerDep,
    product_id: Annotated[str, Form(min_length=1, max_length=80)],
    lat: Annotated[float, Form(ge=-90, le=90)],
    lng: Annotated[float, Form(ge=-180, le=180)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    idempotency_key: Annotated[str, Form(max_length=255)] = "",
    quantity: Annotated[str, Form(max_length=4)] = "1",
    patient_id: Annotated[str, Form(max_length=80)] = "",
    address: Annotated[str, Form(max_length=80)] = "point",
    address_text: Annotated[str, Form(max_length=300)] = "",
    prescription_id: Annotated[str, Form(max_length=80)] = "",
    rx_risk_acknowledged: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    actor = _actor(request, container, csrf_token, f"/checkout?product={quote(product_id)}&lat={lat}&lng={lng}")
    if isinstance(actor, Response):
        return actor
    qty = int(quantity) if quantity.isdigit() else 0
    values = CheckoutValues(qty, patient_id, address, address_text, prescription_id, bool(rx_risk_acknowledged))
    saved = address if address != "point" else None
    checkout_request = ordering.CheckoutRequest(
        lines=(ordering.CheckoutLine(product_id, qty, prescription_id or None),), fulfilment=Fulfilment.DELIVERY,
        patient_id=patient_id or None, address_id=saved, location=None if saved else LatLng(lat, lng),
        address_text=address_text, rx_risk_acknowledged=values.rx_risk_acknowledged,
    )  # fmt: skip

    def run() -> tuple[int, dict[str, Any]]:
        order = ordering.checkout(
            uow=container.uow(), actor=actor, request=checkout_request, ctx=ordering_context(container)
        )
        return 201, order_json(order)

    body = {"product_id": product_id, "lat": lat, "lng": lng, **asdict(values)}
    try:
        answer = idempotent(container, actor.user_id, "POST /checkout", idempotency_key, body, run)
    except InFlight:
        return RedirectResponse("/orders?placing=1", status_code=303)
    except DomainError as exc:
        if isinstance(exc, NotAuthenticated):
            return _to_login(request)
        try:
            choices = _choices(container, actor, product_id, LatLng(lat, lng), max(qty, 1))
        except DomainError as again:
            return _error_page(request, actor, again)
        return _render_checkout(request, actor, choices, values, problems_of(exc), _status(exc))
    order_id = json.loads(bytes(answer.body))["id"]
    return RedirectResponse(f"/orders/{order_id}", status_code=303)


# My orders and one order ---------------------------------------------------------------------------


@router.get("/orders", response_class=HTMLResponse)
def my_orders(
    request: Request,
    container: ContainerDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    placing: Annotated[int, Query(ge=0, le=1)] = 0,
    out_trade_no: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """My orders; also where the wallet sends the buyer back (with ``out_trade_no``): on to that order."""
    actor = _actor(request, container)
    if isinstance(actor, Response):
        return actor
    if out_trade_no:
        with container.uow(read_only=True) as uow:
            payment = uow.payments.get(out_trade_no)
        if payment is not None and payment.user_id == actor.user_id:
            return RedirectResponse(f"/orders/{payment.order_id}", status_code=303)
    try:
        result = ordering.list_my_orders(uow=container.uow(), actor=actor, page=PageRequest(page, ORDERS_PER_PAGE))
    except DomainError as exc:
        return _error_page(request, actor, exc)
    when = _clock(container, container.settings.default_city)
    return _render(request, actor, "orders.html", {"result": result, "placing": placing, "when": when})


def _pick_up_payment(container: Container, actor: Actor, order: Order) -> tuple[Order, Problem | None]:
    """Back from the wallet before its notification: ask the wallet once about a pending payment."""
    with container.uow(read_only=True) as uow:
        payment = uow.payments.for_order(order.id)
    if payment is None or payment.state is not PaymentState.PENDING:
        return order, None
    try:
        outcome = payments.confirm_by_query(uow_factory=container.uow, payment_id=payment.id, ctx=container.payments())
    except ProviderError:
        return order, Problem("wallet_unconfirmed", "", "The wallet cannot be reached to confirm the payment; "
                              "if you have paid, refresh in a minute.")  # fmt: skip
    if outcome == "pending":
        return order, None
    return ordering.get_order(uow=container.uow(), actor=actor, order_id=order.id), None


def _render_order(
    request: Request, container: Container, actor: Actor, order: Order, problems: Sequence[Problem] = (),
    status: int = 200,
) -> HTMLResponse:  # fmt: skip
    with container.uow(read_only=True) as uow:
        pharmacy = uow.pharmacies.get(order.pharmacy_id)
    rank = list(OrderStatus)
    timeline = sorted(order.entered_at.items(), key=lambda item: (item[1], rank.index(item[0])))
    mine = order.user_id == actor.user_id
    context = {
        "order": order,
        "pharmacy": pharmacy,
        "timeline": timeline,
        "when": _clock(container, order.city_id),
        "can_pay": mine and order.status is OrderStatus.AWAITING_PAYMENT and order.expires_at > container.clock.now(),
        "can_cancel": mine and order.status in CANCELLABLE,
        "reasons": CANCEL_REASONS,
        "problems": problems,
        "key": secrets.token_urlsafe(24),
    }
    return _render(request, actor, "order.html", context, status)


def _readable_order(request: Request, container: Container, actor: Actor, order_id: str) -> Order | Response:
    try:
        return ordering.get_order(uow=container.uow(), actor=actor, order_id=order_id)
    except DomainError as exc:
        return _error_page(request, actor, exc)


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(request: Request, container: ContainerDep, order_id: str) -> Response:
    actor = _actor(request, container)
    if isinstance(actor, Response):
        return actor
    order = _readable_order(request, container, actor, order_id)
    if isinstance(order, Response):
        return order
    note = None
    if order.status is OrderStatus.AWAITING_PAYMENT and order.user_id == actor.user_id:
        order, note = _pick_up_payment(container, actor, order)
    return _render_order(request, container, actor, order, [note] if note else [])


@router.post("/orders/{order_id}/pay")
def pay_submit(
    request: Request,
    container: ContainerDep,
    order_id: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    idempotency_key: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    """Commit the payment intent, then send the buyer to the wallet's pay page (as ``POST /api/orders/{id}/pay``)."""
    actor = _actor(request, container, csrf_token, f"/orders/{order_id}")
    if isinstance(actor, Response):
        return actor

    def run() -> tuple[int, dict[str, Any]]:
        payment, url = payments.start_payment(
            uow=container.uow(), actor=actor, order_id=order_id, ctx=container.payments()
        )
        return 200, {"payment_id": payment.id, "order_id": payment.order_id, "pay_url": url}

    try:
        answer = idempotent(
            container, actor.user_id, f"POST /orders/{order_id}/pay", idempotency_key, {"order_id": order_id}, run
        )
    except InFlight:
        return RedirectResponse(f"/orders/{order_id}", status_code=303)
    except (DomainError, ProviderError) as exc:
        order = _readable_order(request, container, actor, order_id)
        if isinstance(order, Response):
            return order
        if isinstance(exc, ProviderError):
            wallet_down = Problem("wallet_unreachable", "", "The wallet cannot be reached; try again shortly.")
            return _render_order(request, container, actor, order, [wallet_down], 503)
        return _render_order(request, container, actor, order, problems_of(exc), _status(exc))
    return RedirectResponse(json.loads(bytes(answer.body))["pay_url"], status_code=303)


@router.post("/orders/{order_id}/cancel")
def cancel_submit(
    request: Request,
    container: ContainerDep,
    order_id: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    actor = _actor(request, container, csrf_token, f"/orders/{order_id}")
    if isinstance(actor, Response):
        return actor
    try:
        ordering.cancel_order(uow=container.uow(), actor=actor, order_id=order_id, reason=reason.strip())
    except DomainError as exc:
        order = _readable_order(request, container, actor, order_id)
        if isinstance(order, Response):
            return order
        return _render_order(request, container, actor, order, problems_of(exc), _status(exc))
    return RedirectResponse(f"/orders/{order_id}", status_code=303)


# The pharmacy: review queue and fulfilment ---------------------------------------------------------


def _pharmacy_of(actor: Actor) -> str:
    if actor.pharmacy_id is None:
        raise PermissionDenied("these pages are for a pharmacy's pharmacists and staff", field="pharmacy_id")
    return actor.pharmacy_id


def _render_queue(
    request: Request, container: Container, actor: Actor, page: int, problems: Mapping[str, Sequence[Problem]],
    status: int = 200, done: tuple[str, str] | None = None,
) -> Response:  # fmt: skip
    try:
        result = ordering.pharmacy_queue(
            uow=container.uow(), actor=actor, pharmacy_id=_pharmacy_of(actor),
            statuses=[OrderStatus.AWAITING_REVIEW], page=PageRequest(page, QUEUE_PER_PAGE),
        )  # fmt: skip
    except DomainError as exc:
        return _error_page(request, actor, exc)
    rx_ids = sorted({li.prescription_id for o in result.items for li in o.lines if li.prescription_id})
    prescriptions = {}
    if Role.PHARMACIST in actor.roles:  # each read is the pharmacist's, audited
        prescriptions = {i: care.get_prescription(uow=container.uow(), actor=actor, rx_id=i) for i in rx_ids}
    context = {
        "result": result,
        "prescriptions": prescriptions,
        "when": _clock(container, container.settings.default_city),
        "checklist": [(item, CHECKLIST_PROBLEMS[item]) for item in ChecklistItem],
        "resolutions": HOLD_RESOLUTIONS,
        "high": HIGH_SEVERITIES,
        "may_review": Role.PHARMACIST in actor.roles,
        "problems": problems,
        "done": done,
    }
    return _render(request, actor, "review_queue.html", context, status)


@router.get("/pharmacy/review", response_class=HTMLResponse)
def review_queue(
    request: Request,
    container: ContainerDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    done: Annotated[str | None, Query(max_length=80)] = None,
    result: Annotated[Literal["approve", "reject"] | None, Query()] = None,
) -> Response:
    actor = _actor(request, container)
    if isinstance(actor, Response):
        return actor
    return _render_queue(request, container, actor, page, {}, done=(done, result) if done and result else None)


@router.post("/pharmacy/review/{order_id}")
async def review_submit(request: Request, container: ContainerDep, order_id: str) -> Response:
    """Approve or reject with a code per checklist item and per hold (S8, DDI1)."""
    form = await request.form()
    fields = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    return await run_in_threadpool(_review, request, container, order_id, fields)


def _review(request: Request, container: Container, order_id: str, fields: list[tuple[str, str]]) -> Response:
    one = dict(fields)
    actor = _actor(request, container, one.get("csrf_token", ""), "/pharmacy/review")
    if isinstance(actor, Response):
        return actor
    holds = zip([v for k, v in fields if k == "hold_key"], [v for k, v in fields if k == "resolution"], strict=False)
    result, reason = one.get("result", ""), one.get("reason", "").strip()
    try:
        if result not in ("approve", "reject") or actor.user_id is None:
            raise ValidationFailed("choose approve or reject", field="result")
        if len(reason) > 300:
            raise ValidationFailed("the reason is at most 300 characters", field="reason")
        review = Review(
            result=ReviewResult(result), checklist={i: one.get(f"checklist_{i.value}", "") for i in ChecklistItem},
            reason=reason, pharmacist_id=actor.user_id, at=container.clock.now(),
            resolutions={key: code for key, code in holds if code},
            second_pharmacist_id=one.get("second_pharmacist_id", "").strip() or None, source=SOURCE_LABEL,
        )  # fmt: skip
        ordering.review_order(uow=container.uow(), actor=actor, order_id=order_id, review=review)
    except DomainError as exc:
        return _render_queue(request, container, actor, 1, {order_id: problems_of(exc)}, _status(exc))
    return RedirectResponse(f"/pharmacy/review?done={quote(order_id)}&result={result}", status_code=303)


def next_step(order: Order) -> str | None:
    """The fulfilment button the pharmacy sees for an order, if any."""
    if order.status is OrderStatus.PAID or (order.status is OrderStatus.AWAITING_REVIEW and order.approved):
        return "accept"
    return {OrderStatus.ACCEPTED: "start_picking", OrderStatus.PICKING: "mark_ready"}.get(order.status)


def _render_fulfilment(
    request: Request, container: Container, actor: Actor, page: int, problems: Mapping[str, Sequence[Problem]],
    status: int = 200,
) -> Response:  # fmt: skip
    try:
        result = ordering.pharmacy_queue(
            uow=container.uow(), actor=actor, pharmacy_id=_pharmacy_of(actor), statuses=AT_THE_PHARMACY,
            page=PageRequest(page, QUEUE_PER_PAGE),
        )  # fmt: skip
    except DomainError as exc:
        return _error_page(request, actor, exc)
    when = _clock(container, container.settings.default_city)
    context = {"result": result, "next_step": next_step, "when": when, "problems": problems}
    return _render(request, actor, "pharmacy_orders.html", context, status)


@router.get("/pharmacy/orders", response_class=HTMLResponse)
def pharmacy_orders(
    request: Request, container: ContainerDep, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    actor = _actor(request, container)
    if isinstance(actor, Response):
        return actor
    return _render_fulfilment(request, container, actor, page, {})


@router.post("/pharmacy/orders/{order_id}/advance")
def advance_submit(
    request: Request,
    container: ContainerDep,
    order_id: str,
    step: Annotated[Literal["accept", "start_picking", "mark_ready"], Form()],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    actor = _actor(request, container, csrf_token, "/pharmacy/orders")
    if isinstance(actor, Response):
        return actor
    try:
        ordering.advance_order(uow=container.uow(), actor=actor, order_id=order_id, step=step)
    except DomainError as exc:
        return _render_fulfilment(request, container, actor, 1, {order_id: problems_of(exc)}, _status(exc))
    return RedirectResponse("/pharmacy/orders", status_code=303)
