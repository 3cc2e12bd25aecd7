"""A basket no single pharmacy can deliver: a proposed split, confirmed as one order per part, all or nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from factories import pharmacy_body, product_body
from shop import NEAR, prescribe
from support import Platform
from yaodao.accounts.model import Role
from yaodao.adapters.db import tables as t

WHERE = {"location": {"lat": NEAR.lat, "lng": NEAR.lng}, "address_text": "北山街1号", "rx_risk_acknowledged": True}


@dataclass
class TwoShops:
    first: str  # pharmacy holding only product a
    second: str  # pharmacy holding only product b
    a: str
    b: str  # an Rx product when asked


def _two_shops(platform: Platform, *, stock: int = 5, rx: bool = False, b_inn: str | None = None) -> TwoShops:
    """Two fresh 24-hour pharmacies near the address, each stocking one of two fresh products."""
    admin = platform.auth(Role.ADMIN)
    client = platform.client
    a = client.post("/api/admin/products", json=product_body(drug_class="otc_b", price_fen=1500), headers=admin)
    b_body = (
        product_body(
            drug_class="rx", generic_name_zh="阿莫西林胶囊", generic_name_en="Amoxicillin Capsules",
            ingredients=[{"inn": "amoxicillin", "name_zh": "阿莫西林", "amount": 250, "unit": "mg"}],
            categories=["antibiotic"], min_age_years=None, price_fen=2200,
        )
        if rx
        else product_body(
            drug_class="otc_b", price_fen=900,
            **({"ingredients": [{"inn": b_inn, "name_zh": b_inn, "amount": 3, "unit": "mg"}]} if b_inn else {}),
        )
    )  # fmt: skip
    b = client.post("/api/admin/products", json=b_body, headers=admin)
    first = client.post("/api/admin/pharmacies", json=pharmacy_body(open_24h=True), headers=admin)
    second = client.post("/api/admin/pharmacies", json=pharmacy_body(open_24h=True), headers=admin)
    assert a.status_code == b.status_code == first.status_code == second.status_code == 201
    shops = TwoShops(first.json()["id"], second.json()["id"], a.json()["id"], b.json()["id"])
    _stock(platform, shops.first, shops.a, stock)
    _stock(platform, shops.second, shops.b, stock)
    return shops


def _stock(platform: Platform, pharmacy_id: str, product_id: str, quantity: int) -> None:
    put = platform.client.put(
        f"/api/admin/pharmacies/{pharmacy_id}/stock/{product_id}",
        json={"quantity": quantity},
        headers=platform.auth(Role.ADMIN),
    )
    assert put.status_code == 200, put.text
    platform.container.relay.drain()


def _buyer(platform: Platform) -> tuple[dict[str, str], str]:
    email = f"split-{uuid.uuid4().hex[:10]}@test.yaodao.local"
    client = platform.client
    made = client.post(
        "/api/auth/register", json={"email": email, "password": "a long passphrase 42", "display_name": "买家"}
    )
    assert made.status_code == 201, made.text
    token = client.post("/api/auth/token", json={"email": email, "password": "a long passphrase 42"})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    profile = {"date_of_birth": "1990-05-01", "sex": "f", "allergies": [], "current_medicines": []}
    assert client.put("/api/me/profile", json=profile, headers=headers).status_code == 200
    user_id: str = token.json()["user_id"]
    with platform.container.engine.begin() as conn:
        conn.execute(update(t.users).where(t.users.c.id == user_id).values(id_number_hash=f"id-{uuid.uuid4().hex}"))
    return headers, user_id


def _key(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


def _orders_of(platform: Platform, user_id: str) -> int:
    with platform.container.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(t.orders).where(t.orders.c.user_id == user_id)).scalar_one()
        )


def _reserved(platform: Platform, pharmacy_id: str, product_id: str) -> int:
    with platform.container.uow(read_only=True) as uow:
        level = uow.stock.get(pharmacy_id, product_id)
    assert level is not None
    return level.reserved


def _split_body(shops: TwoShops, rx_id: str | None = None) -> dict[str, Any]:
    return {
        **WHERE,
        "split": [
            {"pharmacy_id": shops.first, "lines": [{"product_id": shops.a, "quantity": 2}]},
            {"pharmacy_id": shops.second, "lines": [{"product_id": shops.b, "quantity": 1, "prescription_id": rx_id}]},
        ],
    }


def test_a_basket_no_single_pharmacy_holds_gets_a_split_proposal(platform: Platform) -> None:
    shops = _two_shops(platform)
    headers, user_id = _buyer(platform)
    lines = [{"product_id": shops.a, "quantity": 2}, {"product_id": shops.b, "quantity": 1}]
    answer = platform.client.post("/api/orders", json={**WHERE, "lines": lines}, headers=_key(headers))
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert problem["code"] == "split_needed"
    parts = sorted(problem["split"], key=lambda p: p["lines"][0]["product_id"] != shops.a)
    assert [(p["pharmacy_id"], p["lines"]) for p in parts] == [
        (shops.first, [{"product_id": shops.a, "quantity": 2}]),
        (shops.second, [{"product_id": shops.b, "quantity": 1}]),
    ]
    assert all(p["pharmacy_name"].startswith("测试大药房") and p["eta_minutes"] > 0 for p in parts)
    assert all(isinstance(p["delivery_fee_fen"], int) for p in parts)
    assert _orders_of(platform, user_id) == 0


def test_confirming_a_split_creates_one_order_per_part_and_replays(platform: Platform) -> None:
    shops = _two_shops(platform)
    headers, user_id = _buyer(platform)
    keyed = _key(headers)
    made = platform.client.post("/api/orders/split", json=_split_body(shops), headers=keyed)
    assert made.status_code == 201, made.text
    orders = made.json()["orders"]
    assert [(o["pharmacy_id"], [(li["product_id"], li["quantity"]) for li in o["lines"]]) for o in orders] == [
        (shops.first, [(shops.a, 2)]),
        (shops.second, [(shops.b, 1)]),
    ]
    assert all(o["status"] == "awaiting_payment" and o["quoted_eta_minutes"] > 0 for o in orders)
    assert orders[0]["id"] != orders[1]["id"]
    assert (_reserved(platform, shops.first, shops.a), _reserved(platform, shops.second, shops.b)) == (2, 1)
    again = platform.client.post("/api/orders/split", json=_split_body(shops), headers=keyed)
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert [o["id"] for o in again.json()["orders"]] == [o["id"] for o in orders]
    assert _orders_of(platform, user_id) == 2
    assert (_reserved(platform, shops.first, shops.a), _reserved(platform, shops.second, shops.b)) == (2, 1)


def test_a_part_whose_stock_is_gone_fails_the_whole_split(platform: Platform) -> None:
    shops = _two_shops(platform)
    headers, user_id = _buyer(platform)
    _stock(platform, shops.second, shops.b, 0)
    answer = platform.client.post("/api/orders/split", json=_split_body(shops), headers=_key(headers))
    assert answer.status_code == 409, answer.text
    assert answer.json()["part"] == 1
    assert answer.json()["errors"][0]["field"].startswith("split[1]")
    assert _orders_of(platform, user_id) == 0
    assert _reserved(platform, shops.first, shops.a) == 0  # nothing held at the part that could deliver


def test_a_part_naming_a_pharmacy_without_the_product_is_refused(platform: Platform) -> None:
    shops = _two_shops(platform)
    headers, user_id = _buyer(platform)
    body = _split_body(shops)
    body["split"][1]["pharmacy_id"] = shops.first  # holds a, not b
    body["split"][0]["pharmacy_id"] = shops.second
    answer = platform.client.post("/api/orders/split", json=body, headers=_key(headers))
    assert answer.status_code == 409, answer.text
    assert answer.json()["part"] == 0
    assert _orders_of(platform, user_id) == 0


def test_an_rx_line_in_a_split_still_needs_its_prescription(platform: Platform) -> None:
    shops = _two_shops(platform, rx=True)
    headers, user_id = _buyer(platform)
    refused = platform.client.post("/api/orders/split", json=_split_body(shops), headers=_key(headers))
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "order_blocked"
    assert _orders_of(platform, user_id) == 0
    assert _reserved(platform, shops.first, shops.a) == 0
    rx_id = prescribe(platform, user_id, shops.b)
    made = platform.client.post("/api/orders/split", json=_split_body(shops, rx_id), headers=_key(headers))
    assert made.status_code == 201, made.text
    assert [li["prescription_id"] for li in made.json()["orders"][1]["lines"]] == [rx_id]
    assert _orders_of(platform, user_id) == 2


def test_the_cart_checks_out_as_a_confirmed_split(platform: Platform) -> None:
    shops = _two_shops(platform)
    headers, user_id = _buyer(platform)
    client = platform.client
    assert client.put(f"/api/cart/lines/{shops.a}", json={"quantity": 2}, headers=headers).status_code == 200
    assert client.put(f"/api/cart/lines/{shops.b}", json={"quantity": 1}, headers=headers).status_code == 200
    proposal = client.post("/api/cart/checkout", json=WHERE, headers=_key(headers))
    assert proposal.status_code == 409, proposal.text
    assert proposal.json()["code"] == "split_needed"
    wrong = _split_body(shops)
    wrong["split"][0]["lines"][0]["quantity"] = 3  # not what the cart holds
    assert client.post("/api/cart/checkout", json=wrong, headers=_key(headers)).status_code == 422
    made = client.post("/api/cart/checkout", json=_split_body(shops), headers=_key(headers))
    assert made.status_code == 201, made.text
    assert len(made.json()["orders"]) == 2
    assert _orders_of(platform, user_id) == 2
    assert client.get("/api/cart", headers=headers).json()["lines"] == []


def test_an_interaction_between_lines_of_different_parts_holds_the_order_for_a_pharmacist(platform: Platform) -> None:
    """Ibuprofen at one pharmacy, apixaban at the other: neither part alone interacts, the basket does."""
    shops = _two_shops(platform, b_inn="apixaban")
    headers, _ = _buyer(platform)
    made = platform.client.post("/api/orders/split", json=_split_body(shops), headers=_key(headers))
    assert made.status_code == 201, made.text
    held = [o for o in made.json()["orders"] if o["holds"]]
    assert held, made.json()
    assert all(o["needs_review"] for o in held)
    assert any(h["code"] for o in held for h in o["holds"])
