"""The promise follows the live fleet: a dispatcher tick's couriers change the ETA quoted at checkout.

Each test works in its own copy of Hangzhou (``own_city``), with its own pharmacy and couriers,
so its ticks and reach touch nothing else in the shared platform.
"""

from __future__ import annotations

import uuid

import pytest

from factories import pharmacy_body, product_body
from integration.test_dispatcher_loop import add_courier, north_of, own_city
from shop import NEAR, make_patients
from support import Platform
from yaodao.accounts.model import Role
from yaodao.adapters.dispatch_worker import TickSummary
from yaodao.dispatch.fleet import FleetCourier, FleetParams, FleetView
from yaodao.kernel.city import City
from yaodao.kernel.errors import Conflict
from yaodao.kernel.geo import LatLng
from yaodao.ordering.interactions import FixtureSource
from yaodao.ordering.model import Order
from yaodao.ordering.services import CheckoutLine, CheckoutRequest, NotDeliverable, OrderingContext, checkout
from yaodao.web.errors import STATUS

NAMES: dict[str, str] = {}  # city id -> its product's English name


def stocked_shop(platform: Platform, city: City) -> tuple[str, str, LatLng]:
    """(product id, SKU, pharmacy location) of a fresh 24-hour pharmacy in ``city`` holding a fresh OTC product."""
    admin = platform.auth(Role.ADMIN)
    client = platform.client
    name = NAMES[city.id] = f"Fleetamol {uuid.uuid4().hex[:6]}"
    body = product_body(drug_class="otc_b", generic_name_en=name, generic_name_zh=f"速达片{name[-6:]}")
    product = client.post("/api/admin/products", json=body, headers=admin)
    shop = client.post("/api/admin/pharmacies", json=pharmacy_body(city_id=city.id, open_24h=True), headers=admin)
    assert product.status_code == shop.status_code == 201, (product.text, shop.text)
    pharmacy_id, product_id = shop.json()["id"], product.json()["id"]
    put = client.put(f"/api/admin/pharmacies/{pharmacy_id}/stock/{product_id}", json={"quantity": 50}, headers=admin)
    assert put.status_code == 200, put.text
    platform.container.relay.drain()
    location = shop.json()["location"]
    return product_id, product.json()["sku"], LatLng(location["lat"], location["lng"])


def tick(platform: Platform, city: City) -> TickSummary:
    """One tick of the container's dispatcher for ``city``: it hands its couriers to the availability index."""
    dispatcher = platform.container.dispatcher
    assert dispatcher is not None
    return dispatcher.tick_once(city.id)


def quote(platform: Platform, city: City, product_id: str) -> Order:
    """Checkout of one pack delivered to NEAR, with the city's index (the same one search uses)."""
    (buyer,) = make_patients(platform, 1)
    index = platform.container.availability.index(city.id)
    assert index is not None
    ctx = OrderingContext(city=city, availability=index, interactions=FixtureSource())
    request = CheckoutRequest(lines=(CheckoutLine(product_id, 1),), location=NEAR, address_text="北山街1号")
    return checkout(uow=platform.container.uow(), actor=buyer, request=request, ctx=ctx)


def basis(platform: Platform, city: City, sku: str) -> list[tuple[int, str]]:
    answer = platform.client.get(
        "/api/availability", params={"lat": NEAR.lat, "lng": NEAR.lng, "items": f"{sku}:1", "city_id": city.id}
    )
    assert answer.status_code == 200, answer.text
    return [(o["eta_minutes"], o["eta_basis"]) for o in answer.json()["offers"]]


def test_the_checkout_quote_follows_the_couriers_of_the_last_tick(platform: Platform) -> None:
    # No fleet data (no tick, or a tick with nobody online): the model, as before.
    model_city = own_city(platform)
    product_id, sku, shop = stocked_shop(platform, model_city)
    tick(platform, model_city)
    model = quote(platform, model_city, product_id).quoted_eta_minutes
    assert basis(platform, model_city, sku) == [(model, "model")]

    # A courier standing at the counter: the pack is the later one, so the model's figure stands.
    near_city = own_city(platform)
    product_id, sku, shop = stocked_shop(platform, near_city)
    add_courier(platform, near_city, shop)
    assert tick(platform, near_city).couriers == 1
    near = quote(platform, near_city, product_id).quoted_eta_minutes
    assert near == model
    assert basis(platform, near_city, sku) == [(near, "fleet")]

    # The only courier 3 km away: the parcel waits for it.
    far_city = own_city(platform)
    product_id, sku, shop = stocked_shop(platform, far_city)
    add_courier(platform, far_city, north_of(shop, 3.0))
    tick(platform, far_city)
    far = quote(platform, far_city, product_id).quoted_eta_minutes
    assert far > near
    assert basis(platform, far_city, sku) == [(far, "fleet")]


def test_no_courier_able_to_reach_in_time_refuses_the_checkout(platform: Platform) -> None:
    city = own_city(platform)
    product_id, sku, shop = stocked_shop(platform, city)
    add_courier(platform, city, north_of(shop, 12.0))  # about 45 minutes away by day: past the 30 promised
    add_courier(platform, city, shop, on_shift=False)  # next to the shop, but its shift is over
    tick(platform, city)
    with pytest.raises(NotDeliverable) as refused:
        quote(platform, city, product_id)
    assert refused.value.code == "not_deliverable"
    assert isinstance(refused.value, Conflict)
    assert STATUS[Conflict] == 409
    assert basis(platform, city, sku) == []
    # Once a courier can make it, the offers and the search cards say the ETA comes from the live fleet.
    add_courier(platform, city, north_of(shop, 0.5))
    tick(platform, city)
    assert basis(platform, city, sku)[0][1] == "fleet"
    found = platform.client.get("/api/search", params=landing(city)).json()
    cards = [c for group in ("deliverable", "later") for c in found[group] if c["sku"] == sku]
    assert [c["eta_basis"] for c in cards] == ["fleet"]


def test_the_landing_page_says_whether_the_eta_is_live_or_estimated(platform: Platform) -> None:
    """The page serves the default city: its reach is set here and cleared again, whatever happens."""
    now = platform.clock.now()
    params = {"q": "布洛芬", "lat": NEAR.lat, "lng": NEAR.lng}
    estimated = platform.client.get("/search", params=params)
    assert estimated.status_code == 200
    assert "预估 · estimated" in estimated.text
    assert "live from couriers online" not in estimated.text
    courier = FleetCourier("c1", NEAR, free_in_minutes=0.0, shift_left_minutes=240.0, capacity=3)
    availability = platform.container.availability
    try:
        availability.on_fleet(FleetView("hangzhou", now, (courier,), 1, FleetParams()))
        live = platform.client.get("/search", params=params)
        assert live.status_code == 200
        assert "按在线骑手实时估算 · live from couriers online" in live.text
        assert "预估 · estimated" not in live.text
    finally:
        availability.on_fleet(FleetView("hangzhou", now, (), 0, FleetParams()))
    assert "预估 · estimated" in platform.client.get("/search", params=params).text


def landing(city: City) -> dict[str, str | float]:
    return {"q": NAMES[city.id], "city_id": city.id, "lat": NEAR.lat, "lng": NEAR.lng}
