"""The cart: lines in and out, what it refuses, a prescription in one step, and an idempotent checkout."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, update

from shop import NEAR, make_shop, prescribe
from support import Platform
from yaodao.accounts.model import Role
from yaodao.adapters.db import tables as t


def _new_patient(platform: Platform) -> tuple[dict[str, str], str]:
    """A fresh patient account (its own cart), signed in with a bearer token."""
    email = f"cart-{uuid.uuid4().hex[:10]}@test.yaodao.local"
    client = platform.client
    made = client.post(
        "/api/auth/register", json={"email": email, "password": "a long passphrase 42", "display_name": "买家"}
    )
    assert made.status_code == 201, made.text
    token = client.post("/api/auth/token", json={"email": email, "password": "a long passphrase 42"})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    profile = {"date_of_birth": "1990-05-01", "sex": "f", "allergies": [], "current_medicines": []}
    assert client.put("/api/me/profile", json=profile, headers=headers).status_code == 200
    user_id: str = token.json()["user_id"]
    with platform.container.engine.begin() as conn:  # the identity provider's part: a verified real name
        conn.execute(update(t.users).where(t.users.c.id == user_id).values(id_number_hash=f"id-{uuid.uuid4().hex}"))
    return headers, user_id


def _orders_of(platform: Platform, user_id: str) -> int:
    with platform.container.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(t.orders).where(t.orders.c.user_id == user_id)).scalar_one()
        )


def _checkout_body() -> dict[str, object]:
    return {"location": {"lat": NEAR.lat, "lng": NEAR.lng}, "address_text": "北山街1号", "rx_risk_acknowledged": True}


def test_lines_go_in_change_and_come_out(platform: Platform) -> None:
    """PUT sets a line's packs (not adds), DELETE removes it, and the subtotal follows."""
    shop = make_shop(platform, stock=10)
    headers, _ = _new_patient(platform)
    client = platform.client
    assert client.get("/api/cart", headers=headers).json() == {
        "lines": [], "subtotal_fen": 0, "needs_prescription": [], "unavailable": [],
    }  # fmt: skip
    first = client.put(f"/api/cart/lines/{shop.otc_id}", json={"quantity": 2}, headers=headers)
    assert first.status_code == 200, first.text
    again = client.put(f"/api/cart/lines/{shop.otc_id}", json={"quantity": 3}, headers=headers)
    assert [line["quantity"] for line in again.json()["lines"]] == [3]
    assert again.json()["subtotal_fen"] == 3 * 1500
    with_rx = client.put(f"/api/cart/lines/{shop.rx_id}", json={"quantity": 1}, headers=headers).json()
    assert with_rx["needs_prescription"] == [shop.rx_id]
    assert with_rx["subtotal_fen"] == 3 * 1500 + 2200
    gone = client.delete(f"/api/cart/lines/{shop.otc_id}", headers=headers)
    assert [line["product_id"] for line in gone.json()["lines"]] == [shop.rx_id]
    assert client.delete(f"/api/cart/lines/{shop.otc_id}", headers=headers).status_code == 404
    assert client.delete("/api/cart", headers=headers).status_code == 204
    assert client.get("/api/cart", headers=headers).json()["lines"] == []


@pytest.mark.parametrize(
    "body",
    [{"quantity": 0}, {"quantity": 100}, {"quantity": 1.5}, {"quantity": "2"}, {}, {"quantity": 1, "extra": 1}],
)
def test_bad_quantities_are_422_and_leave_the_cart_alone(platform: Platform, body: dict[str, object]) -> None:
    shop = make_shop(platform, stock=10)
    headers, _ = _new_patient(platform)
    assert (
        platform.client.put(f"/api/cart/lines/{shop.otc_id}", json={"quantity": 1}, headers=headers).status_code == 200
    )
    answer = platform.client.put(f"/api/cart/lines/{shop.otc_id}", json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert [line["quantity"] for line in platform.client.get("/api/cart", headers=headers).json()["lines"]] == [1]


def test_the_cart_refuses_what_can_never_be_sold_online(platform: Platform) -> None:
    """A prohibited product, an unknown one, and more packs than one order may hold: 4xx naming why."""
    headers, _ = _new_patient(platform)
    with platform.container.uow(read_only=True) as uow:
        products = uow.products.all()
    banned = next(p for p in products if p.prohibited_reason is not None)
    limited = next(p for p in products if p.prohibited_reason is None and p.online_sellable and p.max_per_order < 99)
    client = platform.client
    refused = client.put(f"/api/cart/lines/{banned.id}", json={"quantity": 1}, headers=headers)
    assert refused.status_code == 422
    assert "online" in refused.json()["detail"]
    assert client.put("/api/cart/lines/no-such-product", json={"quantity": 1}, headers=headers).status_code == 422
    too_many = client.put(
        f"/api/cart/lines/{limited.id}", json={"quantity": limited.max_per_order + 1}, headers=headers
    )
    assert too_many.status_code == 422
    assert client.get("/api/cart", headers=headers).json()["lines"] == []


def test_only_patients_have_carts(platform: Platform) -> None:
    shop = make_shop(platform, stock=1)
    for role in (Role.PHARMACIST, Role.COURIER, Role.DOCTOR):
        answer = platform.client.put(
            f"/api/cart/lines/{shop.otc_id}", json={"quantity": 1}, headers=platform.auth(role)
        )
        assert answer.status_code == 403, (role, answer.text)
    assert platform.client.get("/api/cart").status_code == 401


def test_a_prescription_fills_the_cart_in_one_step_and_checkout_uses_it(platform: Platform) -> None:
    """The prescribed product lands in the cart with its prescription; checkout orders it and empties the cart."""
    shop = make_shop(platform, stock=5)
    headers, user_id = _new_patient(platform)
    rx_id = prescribe(platform, user_id, shop.rx_id)
    client = platform.client
    filled = client.post(f"/api/cart/from-prescription/{rx_id}", headers=headers)
    assert filled.status_code == 200, filled.text
    assert [(line["product_id"], line["quantity"], line["prescription_id"]) for line in filled.json()["lines"]] == [
        (shop.rx_id, 1, rx_id)
    ]
    assert filled.json()["needs_prescription"] == []
    key = {"Idempotency-Key": uuid.uuid4().hex}
    order = client.post("/api/cart/checkout", json=_checkout_body(), headers={**headers, **key})
    assert order.status_code == 201, order.text
    assert order.json()["needs_review"] is True  # an Rx order waits for the pharmacist
    assert [line["prescription_id"] for line in order.json()["lines"]] == [rx_id]
    assert client.get("/api/cart", headers=headers).json()["lines"] == []
    replay = client.post("/api/cart/checkout", json=_checkout_body(), headers={**headers, **key})
    assert replay.status_code == 201
    assert replay.json()["id"] == order.json()["id"]
    assert _orders_of(platform, user_id) == 1


def test_someone_elses_prescription_is_not_found(platform: Platform) -> None:
    shop = make_shop(platform, stock=5)
    headers, _ = _new_patient(platform)
    _, other_id = _new_patient(platform)
    rx_id = prescribe(platform, other_id, shop.rx_id)
    assert platform.client.post(f"/api/cart/from-prescription/{rx_id}", headers=headers).status_code == 404
    answer = platform.client.put(
        f"/api/cart/lines/{shop.rx_id}", json={"quantity": 1, "prescription_id": rx_id}, headers=headers
    )
    assert answer.status_code == 404
    assert platform.client.get("/api/cart", headers=headers).json()["lines"] == []


def test_an_expired_prescription_does_not_fill_the_cart(platform: Platform) -> None:
    shop = make_shop(platform, stock=5)
    headers, user_id = _new_patient(platform)
    expired = prescribe(platform, user_id, shop.rx_id, days_ago=4)
    answer = platform.client.post(f"/api/cart/from-prescription/{expired}", headers=headers)
    assert answer.status_code == 422
    assert "expired" in answer.json()["detail"]


def test_an_empty_cart_cannot_be_checked_out_and_a_refused_checkout_keeps_the_cart(platform: Platform) -> None:
    """Empty: 422. An Rx line without a prescription: the gate refuses, nothing is ordered, the cart stays."""
    shop = make_shop(platform, stock=5)
    headers, user_id = _new_patient(platform)
    client = platform.client
    empty = client.post("/api/cart/checkout", json=_checkout_body(), headers={**headers, "Idempotency-Key": "k1"})
    assert empty.status_code == 422
    assert "empty" in empty.json()["detail"]
    client.put(f"/api/cart/lines/{shop.rx_id}", json={"quantity": 1}, headers=headers)
    refused = client.post("/api/cart/checkout", json=_checkout_body(), headers={**headers, "Idempotency-Key": "k2"})
    assert 400 <= refused.status_code < 500, refused.text
    assert _orders_of(platform, user_id) == 0
    assert [line["product_id"] for line in client.get("/api/cart", headers=headers).json()["lines"]] == [shop.rx_id]
