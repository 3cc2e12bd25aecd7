"""The cart page: what the patient means to buy, packs to change, and one checkout for all of it.

Forms use the session cookie and its CSRF token like the other ordering pages; the checkout form
carries an idempotency key minted with the page, so a double submit replays the first order.
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yaodao.accounts import services as accounts
from yaodao.bootstrap import Container
from yaodao.kernel.errors import DomainError, NotAuthenticated, ValidationFailed
from yaodao.kernel.geo import LatLng
from yaodao.ordering import cart_services
from yaodao.ordering import services as ordering
from yaodao.ordering.model import PAYMENT_WINDOW, Fulfilment
from yaodao.web.api_orders import InFlight, idempotent, order_json, ordering_context
from yaodao.web.deps import ContainerDep
from yaodao.web.order_pages import Problem, _actor, _error_page, _render, _status, _to_login, problems_of
from yaodao.web.search_views import district_points

router = APIRouter(include_in_schema=False)


def _point(container: Container, lat: float | None, lng: float | None) -> LatLng:
    if lat is not None and lng is not None:
        return LatLng(lat, lng)
    city = container.cities.get(container.settings.default_city)
    points = district_points(city) if city is not None else []
    if not points:
        raise ValidationFailed("this city has no districts to default to; give lat and lng", field="lat")
    return LatLng(points[0][2], points[0][3])


def _render_cart(
    request: Request, container: Container, actor: Any, point: LatLng, problems: list[Problem] | None = None,
    status: int = 200, values: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    try:
        cart = cart_services.get_cart(uow=container.uow(read_only=True), actor=actor)
        family = accounts.list_family_members(uow=container.uow(), actor=actor)
        addresses = accounts.list_addresses(uow=container.uow(), actor=actor)
    except DomainError as exc:
        return _error_page(request, actor, exc)
    context = {
        "cart": cart,
        "has_rx": any(product.drug_class.value == "rx" for _, product in cart.items),
        "patients": [("", "本人 Myself"), *((m.id, f"{m.name} ({m.relation})") for m in family)],
        "addresses": addresses,
        "point": point,
        "problems": problems or [],
        "key": secrets.token_urlsafe(24),
        "v": values or {"patient_id": "", "address": "point", "address_text": "", "rx_risk_acknowledged": False},
        "payment_minutes": int(PAYMENT_WINDOW.total_seconds() // 60),
    }
    return _render(request, actor, "cart.html", context, status)


@router.get("/cart", response_class=HTMLResponse)
def cart_page(
    request: Request,
    container: ContainerDep,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
) -> Response:
    actor = _actor(request, container)
    if isinstance(actor, Response):
        return actor
    try:
        point = _point(container, lat, lng)
    except DomainError as exc:
        return _error_page(request, actor, exc)
    return _render_cart(request, container, actor, point)


@router.post("/cart/lines")
def set_line_submit(
    request: Request,
    container: ContainerDep,
    product_id: Annotated[str, Form(min_length=1, max_length=80)],
    quantity: Annotated[str, Form(max_length=4)] = "1",
    add: Annotated[str, Form(max_length=3)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Form(ge=-180, le=180)] = None,
) -> Response:
    """Set a line's packs (0 removes it); with ``add``, add that many to what is already there."""
    actor = _actor(request, container, csrf_token, "/cart")
    if isinstance(actor, Response):
        return actor
    back = f"/cart?lat={lat}&lng={lng}" if lat is not None and lng is not None else "/cart"
    packs = int(quantity) if quantity.isdigit() else -1
    try:
        if add:
            have = cart_services.get_cart(uow=container.uow(read_only=True), actor=actor)
            packs += next((item.quantity for item, _ in have.items if item.product_id == product_id), 0)
            prescription = next((i.prescription_id for i, _ in have.items if i.product_id == product_id), None)
        else:
            prescription = None
        if packs == 0:
            cart_services.remove_line(uow=container.uow(), actor=actor, product_id=product_id)
        else:
            cart_services.set_line(
                uow=container.uow(), actor=actor, product_id=product_id, quantity=packs, prescription_id=prescription
            )
    except DomainError as exc:
        if isinstance(exc, NotAuthenticated):
            return _to_login(request, back)
        return _render_cart(request, container, actor, _point(container, lat, lng), problems_of(exc), _status(exc))
    return RedirectResponse(back, status_code=303)


@router.post("/cart/from-prescription/{rx_id}")
def from_prescription_submit(
    request: Request, container: ContainerDep, rx_id: str, csrf_token: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    actor = _actor(request, container, csrf_token, "/cart")
    if isinstance(actor, Response):
        return actor
    try:
        cart_services.cart_from_prescription(uow=container.uow(), actor=actor, rx_id=rx_id)
    except DomainError as exc:
        return _error_page(request, actor, exc)
    return RedirectResponse("/cart", status_code=303)


@router.post("/cart/checkout")
def checkout_submit(
    request: Request,
    container: ContainerDep,
    lat: Annotated[float, Form(ge=-90, le=90)],
    lng: Annotated[float, Form(ge=-180, le=180)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    idempotency_key: Annotated[str, Form(max_length=255)] = "",
    patient_id: Annotated[str, Form(max_length=80)] = "",
    address: Annotated[str, Form(max_length=80)] = "point",
    address_text: Annotated[str, Form(max_length=300)] = "",
    rx_risk_acknowledged: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    actor = _actor(request, container, csrf_token, "/cart")
    if isinstance(actor, Response):
        return actor
    values = {
        "patient_id": patient_id, "address": address, "address_text": address_text,
        "rx_risk_acknowledged": bool(rx_risk_acknowledged),
    }  # fmt: skip
    saved = address if address != "point" else None
    checkout_request = ordering.CheckoutRequest(
        lines=(), fulfilment=Fulfilment.DELIVERY, patient_id=patient_id or None, address_id=saved,
        location=None if saved else LatLng(lat, lng), address_text=address_text,
        rx_risk_acknowledged=bool(rx_risk_acknowledged),
    )  # fmt: skip

    def run() -> tuple[int, dict[str, Any]]:
        order = cart_services.checkout_cart(
            uow_factory=container.uow, actor=actor, request=checkout_request, ctx=ordering_context(container)
        )
        return 201, order_json(order)

    try:
        answer = idempotent(
            container, actor.user_id, "POST /cart/checkout", idempotency_key, {"lat": lat, "lng": lng, **values}, run
        )
    except InFlight:
        return RedirectResponse("/orders?placing=1", status_code=303)
    except DomainError as exc:
        if isinstance(exc, NotAuthenticated):
            return _to_login(request, "/cart")
        point = LatLng(lat, lng)
        return _render_cart(request, container, actor, point, problems_of(exc), _status(exc), values)
    return RedirectResponse(f"/orders/{json.loads(bytes(answer.body))['id']}", status_code=303)
