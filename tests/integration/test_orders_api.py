"""The orders API: idempotent checkout, clear 4xx answers for bad input, and who may see an order."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from factories import WEST_LAKE
from shop import NEAR, make_shop, race
from support import Platform
from yaodao.accounts.model import Role
from yaodao.accounts.services import resolve_token
from yaodao.adapters.db import tables as t
from yaodao.ordering.services import CheckoutLine, CheckoutRequest, checkout
from yaodao.web.api_orders import CheckoutIn, InFlight, idempotent, order_json, ordering_context


@pytest.fixture
def buyer(platform: Platform) -> dict[str, str]:
    headers = platform.auth(Role.PATIENT)
    answer = platform.client.put(
        "/api/me/profile",
        json={"date_of_birth": "1990-05-01", "sex": "f", "allergies": [], "current_medicines": []},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    return headers


def _body(product_id: str, quantity: int = 1) -> dict[str, object]:
    return {
        "lines": [{"product_id": product_id, "quantity": quantity}],
        "location": {"lat": NEAR.lat, "lng": NEAR.lng},
        "address_text": "北山街1号",
    }


def _orders_of(platform: Platform, product_id: str) -> int:
    with platform.container.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(t.order_lines).where(t.order_lines.c.product_id == product_id)
            ).scalar_one()
        )


def test_the_same_key_and_body_replay_the_first_order(platform: Platform, buyer: dict[str, str]) -> None:
    """Idempotency: a retried checkout returns the same order and creates nothing more."""
    shop = make_shop(platform, stock=5)
    headers = {**buyer, "Idempotency-Key": uuid.uuid4().hex}
    first = platform.client.post("/api/orders", json=_body(shop.otc_id), headers=headers)
    again = platform.client.post("/api/orders", json=_body(shop.otc_id), headers=headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["status"] == "awaiting_payment"
    assert _orders_of(platform, shop.otc_id) == 1


def test_a_key_reused_with_another_body_or_no_key_at_all_is_refused(platform: Platform, buyer: dict[str, str]) -> None:
    """422 for a key reused with a different body; 400 without a key; neither creates an order."""
    shop = make_shop(platform, stock=5)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert platform.client.post("/api/orders", json=_body(shop.otc_id), headers={**buyer, **key}).status_code == 201
    changed = platform.client.post("/api/orders", json=_body(shop.otc_id, 2), headers={**buyer, **key})
    missing = platform.client.post("/api/orders", json=_body(shop.otc_id), headers=buyer)
    assert changed.status_code == 422
    assert "Idempotency-Key" in changed.text
    assert missing.status_code == 400
    assert _orders_of(platform, shop.otc_id) == 1


@pytest.mark.parametrize(
    "lines",
    [
        [{"product_id": "x", "quantity": 1.5}],
        [{"product_id": "x", "quantity": "1"}],
        [{"product_id": "x", "quantity": 0}],
        [{"product_id": "x", "quantity": 100}],
        [],
        [{"product_id": "x", "quantity": 1, "price_fen": 1}],
    ],
)
def test_bad_lines_get_a_422_naming_the_field(platform: Platform, buyer: dict[str, str], lines: object) -> None:
    """Floats, strings, zero, too many packs, an empty cart and a client-set price are refused."""
    body = {"lines": lines, "location": dict(WEST_LAKE)}
    answer = platform.client.post("/api/orders", json=body, headers={**buyer, "Idempotency-Key": uuid.uuid4().hex})
    assert answer.status_code == 422
    assert answer.json()["errors"]


def test_an_order_is_visible_to_its_buyer_and_its_pharmacy_only(platform: Platform, buyer: dict[str, str]) -> None:
    """Another patient gets 404 (as for a missing order); a courier 404 too; nobody signed in 401."""
    shop = make_shop(platform, stock=5)
    created = platform.client.post(
        "/api/orders", json=_body(shop.otc_id), headers={**buyer, "Idempotency-Key": uuid.uuid4().hex}
    )
    order_id = created.json()["id"]
    assert platform.client.get(f"/api/orders/{order_id}", headers=buyer).status_code == 200
    assert platform.client.get(f"/api/orders/{order_id}", headers=platform.auth(Role.COURIER)).status_code == 404
    assert platform.client.get(f"/api/orders/{order_id}", headers=platform.auth(Role.DOCTOR)).status_code == 404
    assert platform.client.get(f"/api/orders/{order_id}").status_code == 401
    listed = platform.client.get("/api/orders", headers=buyer).json()
    assert order_id in [o["id"] for o in listed["items"]]


def test_a_refused_checkout_leaves_its_key_unclaimed_so_a_retry_runs_afresh(
    platform: Platform, buyer: dict[str, str]
) -> None:
    """A refused checkout releases its key: a retry with it, even with another body, runs afresh."""
    shop = make_shop(platform, stock=1)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    refused = platform.client.post("/api/orders", json=_body(shop.otc_id, 2), headers={**buyer, **key})
    assert refused.status_code == 409, refused.text
    with platform.container.engine.connect() as conn:
        claims = conn.execute(
            select(func.count())
            .select_from(t.idempotency_keys)
            .where(t.idempotency_keys.c.key == key["Idempotency-Key"])
        ).scalar_one()
    assert claims == 0
    retried = platform.client.post("/api/orders", json=_body(shop.otc_id, 1), headers={**buyer, **key})
    assert retried.status_code == 201, retried.text
    assert _orders_of(platform, shop.otc_id) == 1


def test_a_key_still_being_answered_gets_a_409_and_creates_nothing(platform: Platform, buyer: dict[str, str]) -> None:
    shop = make_shop(platform, stock=5)
    key = uuid.uuid4().hex
    resolved = resolve_token(uow=platform.container.uow(read_only=True), raw=buyer["Authorization"].split()[1])
    assert resolved is not None
    user_id = resolved.actor.user_id or ""
    body = _body(shop.otc_id)
    fingerprint = CheckoutIn.model_validate(body).model_dump(mode="json")  # what the route digests
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    with platform.container.uow() as uow:
        assert uow.idempotency.claim(user_id, "POST /api/orders", key, digest, uow.clock.now())
        uow.commit()
    answer = platform.client.post("/api/orders", json=body, headers={**buyer, "Idempotency-Key": key})
    assert answer.status_code == 409
    assert answer.json()["code"] == "idempotency_in_flight"
    assert _orders_of(platform, shop.otc_id) == 0


def test_twenty_concurrent_checkouts_with_one_key_create_one_order(platform: Platform, buyer: dict[str, str]) -> None:
    """Racing retries of one checkout: one order; every other answer is its replay or a 409 while in flight."""
    shop = make_shop(platform, stock=50)
    actor = resolve_token(uow=platform.container.uow(read_only=True), raw=buyer["Authorization"].split()[1])
    assert actor is not None
    ctx = ordering_context(platform.container)
    request = CheckoutRequest(lines=(CheckoutLine(shop.otc_id, 1),), location=NEAR, address_text="北山街1号")
    key = uuid.uuid4().hex

    def attempt(_: int) -> Any:
        def run() -> tuple[int, dict[str, Any]]:
            order = checkout(uow=platform.container.uow(), actor=actor.actor, request=request, ctx=ctx)
            return 201, order_json(order)

        return idempotent(platform.container, actor.actor.user_id, "POST /api/orders", key, {}, run)

    results = race(20, attempt)
    answered = [r for r in results if not isinstance(r, Exception)]
    in_flight = [r for r in results if isinstance(r, InFlight)]
    assert len(answered) + len(in_flight) == 20, [r for r in results if isinstance(r, Exception)]
    assert {r.status_code for r in answered} == {201}
    assert len({json.loads(r.body)["id"] for r in answered}) == 1
    assert _orders_of(platform, shop.otc_id) == 1
