"""Nearby availability over HTTP, on the seeded Hangzhou network, kept fresh by stock events."""

from __future__ import annotations

from datetime import time

from factories import WEST_LAKE
from support import Platform
from yaodao.accounts.model import Role


def _common_sku(p: Platform) -> tuple[str, str]:
    """The OTC product stocked by the most pharmacies (an ibuprofen or paracetamol in practice)."""
    with p.container.uow(read_only=True) as uow:
        stock = uow.stock.in_city("hangzhou")
        counts: dict[str, int] = {}
        for level in stock:
            if level.available > 0:
                counts[level.product_id] = counts.get(level.product_id, 0) + 1
        for product_id, _ in sorted(counts.items(), key=lambda kv: -kv[1]):
            product = uow.products.get(product_id)
            assert product is not None
            if product.drug_class.is_otc and product.online_sellable:
                return product.sku, product.id
    raise AssertionError("no stocked OTC product")


def test_a_downtown_address_at_2pm_gets_offers_within_30_minutes(platform: Platform) -> None:
    sku, _ = _common_sku(platform)
    answer = platform.client.get(
        "/api/availability",
        params={
            "lat": WEST_LAKE["lat"],
            "lng": WEST_LAKE["lng"],
            "items": f"{sku}:1",
            "at": "2026-11-25T14:00:00+08:00",
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["window"] == "day"
    assert body["promise_minutes"] == 30
    assert body["offers"], body
    etas = [o["eta_minutes"] for o in body["offers"]]
    assert etas == sorted(etas)
    assert all(o["within_promise"] and o["eta_minutes"] <= 30 for o in body["offers"])


def test_at_night_only_open_pharmacies_answer_with_the_60_minute_promise(platform: Platform) -> None:
    sku, _ = _common_sku(platform)
    answer = platform.client.get(
        "/api/availability",
        params={"lat": WEST_LAKE["lat"], "lng": WEST_LAKE["lng"], "items": sku, "at": "2026-11-25T23:40:00+08:00"},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["promise_minutes"] == 60
    assert all(o["eta_minutes"] <= 60 for o in body["offers"])
    with platform.container.uow(read_only=True) as uow:
        for offer in body["offers"]:
            pharmacy = uow.pharmacies.get(offer["pharmacy_id"])
            assert pharmacy is not None
            assert pharmacy.is_open_at(time(23, 40))


def test_stock_changes_reach_the_availability_index_through_the_outbox(platform: Platform) -> None:
    sku, product_id = _common_sku(platform)
    params = {"lat": WEST_LAKE["lat"], "lng": WEST_LAKE["lng"], "items": sku, "at": "2026-11-25T14:00:00+08:00"}
    platform.container.relay.drain()
    first = platform.client.get("/api/availability", params=params).json()["offers"][0]["pharmacy_id"]
    emptied = platform.client.put(
        f"/api/admin/pharmacies/{first}/stock/{product_id}", json={"quantity": 0}, headers=platform.auth(Role.ADMIN)
    )
    assert emptied.status_code == 200
    assert platform.container.relay.drain() >= 1
    after = [o["pharmacy_id"] for o in platform.client.get("/api/availability", params=params).json()["offers"]]
    assert first not in after
    platform.client.put(
        f"/api/admin/pharmacies/{first}/stock/{product_id}", json={"quantity": 5}, headers=platform.auth(Role.ADMIN)
    )
    platform.container.relay.drain()
    again = [o["pharmacy_id"] for o in platform.client.get("/api/availability", params=params).json()["offers"]]
    assert first in again


def test_bad_availability_queries_get_clear_answers(platform: Platform) -> None:
    sku, _ = _common_sku(platform)
    outside = platform.client.get("/api/availability", params={"lat": 31.2304, "lng": 121.4737, "items": sku})
    assert outside.status_code == 422
    assert outside.json()["code"] == "outside_service_area"
    unknown = platform.client.get("/api/availability", params={**WEST_LAKE, "items": "no-such-sku"})
    assert unknown.status_code == 422
    naive = platform.client.get("/api/availability", params={**WEST_LAKE, "items": sku, "at": "2026-11-25T14:00:00"})
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "at"
    zero = platform.client.get("/api/availability", params={**WEST_LAKE, "items": f"{sku}:0"})
    assert zero.status_code == 422
    no_city = platform.client.get("/api/availability", params={**WEST_LAKE, "items": sku, "city_id": "atlantis"})
    assert no_city.status_code == 404
