"""Orders over HTTP: checkout (idempotent), the buyer's orders, cancelling, and the pharmacy's side.

``POST /api/orders`` takes an ``Idempotency-Key`` header (RELIABILITY: Stripe's and the IETF
draft's semantics): the same key and body replay the first answer, the same key with another body
is a 422, a request still in flight with that key is a 409, and a missing key is a 400. Keys are
scoped to the signed-in account, so another account's key is simply a new key.

A basket no single pharmacy can deliver within the promise is refused with 409 ``split_needed``
whose problem document carries ``split``: the proposed parts (pharmacy, lines, ETA, delivery
fee). ``POST /api/orders/split`` confirms it: one order per part, all or nothing, same key rules.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from yaodao.bootstrap import Container
from yaodao.kernel.errors import Conflict, DomainError, NotAuthenticated, ValidationFailed
from yaodao.kernel.geo import LatLng
from yaodao.kernel.paging import PageRequest
from yaodao.ordering import services as ordering
from yaodao.ordering.interactions import FixtureSource
from yaodao.ordering.model import Fulfilment, Order, OrderStatus
from yaodao.ordering.prescriptions import ChecklistItem, Review, ReviewResult
from yaodao.ordering.split import DEFAULT_SPLIT
from yaodao.ordering.split_checkout import SplitPartRequest, checkout_split
from yaodao.web.deps import ActorDep, ContainerDep

router = APIRouter(tags=["orders"])

MAX_KEY_LENGTH = 255


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: Annotated[str, Field(min_length=1, max_length=80)]
    quantity: Annotated[int, Field(strict=True, ge=1, le=99)]
    prescription_id: Annotated[str | None, Field(max_length=80)] = None


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: Annotated[float, Field(ge=-90, le=90)]
    lng: Annotated[float, Field(ge=-180, le=180)]


class CheckoutWhereIn(BaseModel):
    """Who the order is for, where it goes and how: everything checkout asks besides the lines."""

    model_config = ConfigDict(extra="forbid")
    fulfilment: Literal["delivery", "pickup"] = "delivery"
    patient_id: Annotated[str | None, Field(max_length=80)] = None
    address_id: Annotated[str | None, Field(max_length=80)] = None
    location: LocationIn | None = None
    address_text: Annotated[str, Field(max_length=300)] = ""
    pharmacy_id: Annotated[str | None, Field(max_length=80)] = None
    rx_risk_acknowledged: bool = False


class CheckoutIn(CheckoutWhereIn):
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=ordering.MAX_LINES)]


class SplitPartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pharmacy_id: Annotated[str, Field(min_length=1, max_length=80)]
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=ordering.MAX_LINES)]


class SplitCheckoutIn(CheckoutWhereIn):
    split: Annotated[list[SplitPartIn], Field(min_length=2, max_length=DEFAULT_SPLIT.max_parts)]


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=300)]


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: Literal["approve", "reject"]
    checklist: dict[ChecklistItem, Annotated[str, Field(min_length=1, max_length=40)]]
    reason: Annotated[str, Field(max_length=300)] = ""
    resolutions: dict[str, Annotated[str, Field(min_length=1, max_length=40)]] = {}
    second_pharmacist_id: Annotated[str | None, Field(max_length=80)] = None


class AdvanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: Literal["accept", "start_picking", "mark_ready"]


def order_json(order: Order) -> dict[str, Any]:
    """What the buyer and the pharmacy see of an order (Rx lines carry no image or insert: S3)."""
    price = order.price
    return {
        "id": order.id,
        "status": order.status.value,
        "pharmacy_id": order.pharmacy_id,
        "patient_id": order.patient_id,
        "fulfilment": order.fulfilment.value,
        "lines": [
            {
                "product_id": li.product_id, "sku": li.sku, "name": li.name, "drug_class": li.drug_class.value,
                "quantity": li.quantity, "unit_price_fen": li.unit_price_fen, "line_total_fen": li.line_total_fen,
                "prescription_id": li.prescription_id,
            }
            for li in order.lines
        ],
        "price": {
            "items_subtotal_fen": price.items_subtotal_fen, "discount_fen": price.discount_fen,
            "delivery_fee_fen": price.delivery_fee_fen, "night_surcharge_fen": price.night_surcharge_fen,
            "packaging_fee_fen": price.packaging_fee_fen, "total_fen": price.total_fen,
            "insured_fen": price.insured_fen, "self_paid_fen": price.self_paid_fen,
            "non_reimbursable_fen": price.non_reimbursable_fen,
        },
        "promise_minutes": order.promise_minutes,
        "quoted_eta_minutes": order.quoted_eta_minutes,
        "expires_at": order.expires_at.isoformat(),
        "holds": [{"code": h.code, "message": h.message, "product_id": h.product_id} for h in order.holds],
        "needs_review": order.needs_review,
        "paid_fen": order.paid_fen,
        "refunded_fen": order.refunded_fen,
        "entered_at": {k.value: v.isoformat() for k, v in order.entered_at.items()},
        "version": order.version,
    }  # fmt: skip


_FIXTURES = FixtureSource()
SOURCE_LABEL = f"{_FIXTURES.name} {_FIXTURES.version}"


def ordering_context(container: Container) -> ordering.OrderingContext:
    city = container.cities.get("hangzhou")
    index = container.availability.index("hangzhou")
    if city is None or index is None:
        raise ValidationFailed("no city is set up for ordering yet", field="city")
    return ordering.OrderingContext(city=city, availability=index, interactions=_FIXTURES)


@router.post("/api/orders", status_code=201, responses={201: {"description": "the order, awaiting payment"}})
def create_order(
    body: CheckoutIn,
    container: ContainerDep,
    actor: ActorDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    checkout_request = ordering.CheckoutRequest(
        lines=tuple(ordering.CheckoutLine(li.product_id, li.quantity, li.prescription_id) for li in body.lines),
        fulfilment=Fulfilment(body.fulfilment), patient_id=body.patient_id, address_id=body.address_id,
        location=LatLng(body.location.lat, body.location.lng) if body.location else None,
        address_text=body.address_text, pharmacy_id=body.pharmacy_id, rx_risk_acknowledged=body.rx_risk_acknowledged,
    )  # fmt: skip

    def run() -> tuple[int, dict[str, Any]]:
        order = ordering.checkout(
            uow=container.uow(), actor=actor, request=checkout_request, ctx=ordering_context(container)
        )
        return 201, order_json(order)

    return idempotent(container, actor.user_id, "POST /api/orders", idempotency_key, body.model_dump(mode="json"), run)


@router.post("/api/orders/split", status_code=201, responses={201: {"description": "one order per part"}})
def create_split_orders(
    body: SplitCheckoutIn,
    container: ContainerDep,
    actor: ActorDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Confirm a split (the ``split`` of a 409 ``split_needed``, or the buyer's own): one order per part.

    All or nothing in one transaction; a refused part is named (``split[n]``). Each order is paid
    on its own. Idempotent with ``Idempotency-Key`` like ``POST /api/orders``.
    """
    request = where_request(body, ())
    parts = split_parts(body.split)

    def run() -> tuple[int, dict[str, Any]]:
        orders = checkout_split(
            uow=container.uow(), actor=actor, request=request, parts=parts, ctx=ordering_context(container)
        )
        return 201, {"orders": [order_json(order) for order in orders]}

    return idempotent(
        container, actor.user_id, "POST /api/orders/split", idempotency_key, body.model_dump(mode="json"), run
    )


def where_request(body: CheckoutWhereIn, lines: tuple[ordering.CheckoutLine, ...]) -> ordering.CheckoutRequest:
    return ordering.CheckoutRequest(
        lines=lines, fulfilment=Fulfilment(body.fulfilment), patient_id=body.patient_id, address_id=body.address_id,
        location=LatLng(body.location.lat, body.location.lng) if body.location else None,
        address_text=body.address_text, pharmacy_id=body.pharmacy_id, rx_risk_acknowledged=body.rx_risk_acknowledged,
    )  # fmt: skip


def split_parts(parts: list[SplitPartIn]) -> tuple[SplitPartRequest, ...]:
    return tuple(
        SplitPartRequest(
            part.pharmacy_id,
            tuple(ordering.CheckoutLine(li.product_id, li.quantity, li.prescription_id) for li in part.lines),
        )
        for part in parts
    )


@router.get("/api/orders")
def list_orders(
    container: ContainerDep,
    actor: ActorDep,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    result = ordering.list_my_orders(uow=container.uow(), actor=actor, page=PageRequest(page, page_size))
    return {
        "items": [order_json(o) for o in result.items],
        "total": result.total,
        "page": result.page,
        "pages": result.pages,
    }


@router.get("/api/orders/{order_id}")
def get_order(order_id: str, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    return order_json(ordering.get_order(uow=container.uow(), actor=actor, order_id=order_id))


@router.post("/api/orders/{order_id}/cancel")
def cancel_order(order_id: str, body: ReasonIn, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    return order_json(ordering.cancel_order(uow=container.uow(), actor=actor, order_id=order_id, reason=body.reason))


@router.get("/api/pharmacies/{pharmacy_id}/orders")
def pharmacy_orders(
    pharmacy_id: str,
    container: ContainerDep,
    actor: ActorDep,
    status: Annotated[list[OrderStatus] | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    statuses = status or [OrderStatus.AWAITING_REVIEW, OrderStatus.PAID, OrderStatus.ACCEPTED, OrderStatus.PICKING]
    result = ordering.pharmacy_queue(
        uow=container.uow(), actor=actor, pharmacy_id=pharmacy_id, statuses=statuses, page=PageRequest(page, page_size)
    )
    return {"items": [order_json(o) for o in result.items], "total": result.total, "page": result.page}


@router.post("/api/orders/{order_id}/review")
def review_order(order_id: str, body: ReviewIn, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    review = Review(
        result=ReviewResult(body.result), checklist=body.checklist, reason=body.reason, pharmacist_id=actor.user_id,
        at=container.clock.now(), resolutions=body.resolutions, second_pharmacist_id=body.second_pharmacist_id,
        source=SOURCE_LABEL,
    )  # fmt: skip
    return order_json(ordering.review_order(uow=container.uow(), actor=actor, order_id=order_id, review=review))


@router.post("/api/orders/{order_id}/advance")
def advance_order(order_id: str, body: AdvanceIn, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    return order_json(ordering.advance_order(uow=container.uow(), actor=actor, order_id=order_id, step=body.step))


def idempotent(
    container: Container,
    principal_id: str | None,
    route: str,
    key: str | None,
    body: Any,
    run: Callable[[], tuple[int, dict[str, Any]]],
) -> JSONResponse:
    """Run ``run`` once per (account, route, key); replay its answer for the same body."""
    principal_id, key, digest = _checked(principal_id, key, body)
    with container.uow() as uow:
        now = uow.clock.now()
        claimed = uow.idempotency.claim(principal_id, route, key, digest, now)
        row = None if claimed else uow.idempotency.get(principal_id, route, key)
        uow.commit()
    if row is not None:
        return _replay(row, digest)
    try:
        status, answer = run()
    except BaseException:
        with container.uow() as uow:  # nothing was done: a retry with this key runs afresh
            uow.idempotency.release(principal_id, route, key)
            uow.commit()
        raise
    with container.uow() as uow:
        uow.idempotency.finish(principal_id, route, key, status, answer, uow.clock.now())
        uow.commit()
    return JSONResponse(answer, status_code=status)


def _checked(principal_id: str | None, key: str | None, body: Any) -> tuple[str, str, str]:
    """The signed-in principal, the usable key, and the request body's digest; 4xx otherwise."""
    if principal_id is None:
        raise NotAuthenticated("sign in first")
    if key is None or not key.strip():
        raise DomainError("this request needs an Idempotency-Key header", field="Idempotency-Key")
    if len(key) > MAX_KEY_LENGTH:
        raise DomainError(f"Idempotency-Key is at most {MAX_KEY_LENGTH} characters", field="Idempotency-Key")
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return principal_id, key, digest


class InFlight(Conflict):
    code = "idempotency_in_flight"


class KeyReused(ValidationFailed):
    code = "idempotency_key_reused"


def _replay(row: dict[str, Any] | None, digest: str) -> JSONResponse:
    if row is None:
        raise InFlight("a request with this Idempotency-Key is still being handled", field="Idempotency-Key")
    if row["request_sha256"] != digest:
        raise KeyReused(
            "this Idempotency-Key was used with a different request body; use a new key", field="Idempotency-Key"
        )
    if row["state"] != "finished":
        raise InFlight("a request with this Idempotency-Key is still being handled", field="Idempotency-Key")
    return JSONResponse(
        row["response_body"], status_code=int(row["response_status"]), headers={"Idempotent-Replayed": "true"}
    )
