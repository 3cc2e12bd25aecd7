"""The cart over HTTP: see it, set or remove a line, empty it, fill it from a prescription, check it out.

``POST /api/cart/checkout`` creates an order like ``POST /api/orders`` and takes an
``Idempotency-Key`` the same way: a retried checkout replays the first answer instead of buying twice.
With ``split`` (the parts of a 409 ``split_needed``) it confirms a split of the cart: 201 with
``orders``, one per part, all or nothing, each paid on its own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from yaodao.kernel.geo import LatLng
from yaodao.ordering import cart_services
from yaodao.ordering import services as ordering
from yaodao.ordering.cart import CartView
from yaodao.ordering.model import Fulfilment
from yaodao.ordering.split import DEFAULT_SPLIT
from yaodao.web.api_orders import CheckoutWhereIn, SplitPartIn, idempotent, order_json, ordering_context, split_parts
from yaodao.web.deps import ActorDep, ContainerDep

router = APIRouter(tags=["cart"])


class CartLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: Annotated[int, Field(strict=True, ge=1, le=99)]
    prescription_id: Annotated[str | None, Field(min_length=1, max_length=80)] = None


def cart_json(cart: CartView) -> dict[str, Any]:
    return {
        "lines": [
            {
                "product_id": product.id,
                "sku": product.sku,
                "name_zh": product.brand_name_zh or product.generic_name_zh,
                "name_en": product.brand_name_en or product.generic_name_en,
                "drug_class": product.drug_class.value,
                "quantity": item.quantity,
                "unit_price_fen": product.price_fen,
                "line_total_fen": item.quantity * product.price_fen,
                "prescription_id": item.prescription_id,
                "added_at": item.added_at.isoformat(),
            }
            for item, product in cart.items
        ],
        "subtotal_fen": cart.subtotal_fen,
        "needs_prescription": list(cart.needs_prescription),
        "unavailable": list(cart.missing),
    }


@router.get("/api/cart")
def get_cart(container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    return cart_json(cart_services.get_cart(uow=container.uow(read_only=True), actor=actor))


@router.put("/api/cart/lines/{product_id}")
def set_line(product_id: str, body: CartLineIn, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    cart = cart_services.set_line(
        uow=container.uow(), actor=actor, product_id=product_id, quantity=body.quantity,
        prescription_id=body.prescription_id,
    )  # fmt: skip
    return cart_json(cart)


@router.delete("/api/cart/lines/{product_id}")
def remove_line(product_id: str, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    return cart_json(cart_services.remove_line(uow=container.uow(), actor=actor, product_id=product_id))


@router.delete("/api/cart", status_code=204)
def clear_cart(container: ContainerDep, actor: ActorDep) -> Response:
    cart_services.clear_cart(uow=container.uow(), actor=actor)
    return Response(status_code=204)


@router.post("/api/cart/from-prescription/{rx_id}")
def from_prescription(rx_id: str, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    return cart_json(cart_services.cart_from_prescription(uow=container.uow(), actor=actor, rx_id=rx_id))


class CartCheckoutIn(CheckoutWhereIn):
    split: Annotated[list[SplitPartIn] | None, Field(min_length=2, max_length=DEFAULT_SPLIT.max_parts)] = None


@router.post("/api/cart/checkout", status_code=201, responses={201: {"description": "the order, awaiting payment"}})
def checkout_cart(
    body: CartCheckoutIn,
    container: ContainerDep,
    actor: ActorDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    request = ordering.CheckoutRequest(
        lines=(), fulfilment=Fulfilment(body.fulfilment), patient_id=body.patient_id, address_id=body.address_id,
        location=LatLng(body.location.lat, body.location.lng) if body.location else None,
        address_text=body.address_text, pharmacy_id=body.pharmacy_id, rx_risk_acknowledged=body.rx_risk_acknowledged,
    )  # fmt: skip

    parts = split_parts(body.split) if body.split is not None else None

    def run() -> tuple[int, dict[str, Any]]:
        if parts is not None:
            orders = cart_services.checkout_cart_split(
                uow_factory=container.uow, actor=actor, request=request, parts=parts, ctx=ordering_context(container)
            )
            return 201, {"orders": [order_json(order) for order in orders]}
        order = cart_services.checkout_cart(
            uow_factory=container.uow, actor=actor, request=request, ctx=ordering_context(container)
        )
        return 201, order_json(order)

    fingerprint = body.model_dump(mode="json", exclude={"split"} if body.split is None else None)
    return idempotent(container, actor.user_id, "POST /api/cart/checkout", idempotency_key, fingerprint, run)
