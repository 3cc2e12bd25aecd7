"""Couriers and delivery orders for tests: a registered courier with a shift, a paid delivery order, an assignment.

Scenario: the fresh 24-hour shop near West Lake (``shop.make_shop``) sells to a patient a few
hundred metres away; the delivery row appears when the payment's event is relayed, as in production.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from shop import NEAR, Shop, make_patients, make_shop, prescribe
from support import PASSWORD, Platform
from yaodao.accounts.model import Role, User
from yaodao.accounts.policy import Actor
from yaodao.adapters.db import tables as t
from yaodao.bootstrap import Container
from yaodao.kernel.ids import new_id
from yaodao.ordering import services as ordering
from yaodao.ordering.interactions import FixtureSource
from yaodao.ordering.model import OrderStatus
from yaodao.ordering.prescriptions import ChecklistItem, Review, ReviewResult


@dataclass
class CourierHandle:
    user_id: str
    email: str
    headers: dict[str, str]


_SHOPS: dict[int, Shop] = {}


def courier_shop(platform: Platform) -> Shop:
    """One shop per platform for these tests (a new shop rebuilds the city's availability index)."""
    if id(platform) not in _SHOPS:
        _SHOPS[id(platform)] = make_shop(platform, stock=5_000)
    return _SHOPS[id(platform)]


def make_courier(platform: Platform, *, shift: bool = True, cold_chain: bool = False) -> CourierHandle:
    """An account registered as a courier by an admin, with a shift from an hour ago to ten hours on."""
    now = platform.clock.now()
    with platform.container.uow() as uow:
        user = User(
            id=new_id(), email=f"c-{uuid.uuid4().hex[:10]}@test.yaodao.local", display_name="Courier",
            password_hash=platform.container.passwords.hash(PASSWORD), roles=frozenset(),
        )  # fmt: skip
        uow.users.add(user, now)
        uow.commit()
    admin = platform.auth(Role.ADMIN)
    body = {"user_id": user.id, "first_name": "小李", "phone": "13812345678", "cold_chain": cold_chain}
    registered = platform.client.post("/api/admin/couriers", json=body, headers=admin)
    assert registered.status_code == 201, registered.text
    if shift:
        window = {
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=10)).isoformat(),
        }
        added = platform.client.post(f"/api/admin/couriers/{user.id}/shifts", json=window, headers=admin)
        assert added.status_code == 201, added.text
    token = platform.client.post("/api/auth/token", json={"email": user.email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return CourierHandle(user.id, user.email, {"Authorization": f"Bearer {token.json()['access_token']}"})


def context(platform: Platform) -> ordering.OrderingContext:
    city = platform.container.cities.get("hangzhou")
    index = platform.container.availability.index("hangzhou")
    assert city is not None
    assert index is not None
    return ordering.OrderingContext(city=city, availability=index, interactions=FixtureSource())


def paid_order(platform: Platform, *, rx: bool = False, quantity: int = 1) -> tuple[str, Actor]:
    """A delivery order from the courier shop, paid (its events relayed): an OTC one, or an Rx one in review."""
    shop = courier_shop(platform)
    (buyer,) = make_patients(platform, 1)
    assert buyer.user_id is not None
    if rx:
        line = ordering.CheckoutLine(shop.rx_id, 1, prescribe(platform, buyer.user_id, shop.rx_id))
    else:
        line = ordering.CheckoutLine(shop.otc_id, quantity)
    request = ordering.CheckoutRequest(
        lines=(line,), location=NEAR, address_text="北山街1号", pharmacy_id=shop.pharmacy_id, rx_risk_acknowledged=rx
    )
    order = ordering.checkout(uow=platform.container.uow(), actor=buyer, request=request, ctx=context(platform))
    mark_paid(platform.container, order.id)
    platform.container.relay.drain()
    return order.id, buyer


def mark_paid(container: Container, order_id: str) -> None:
    """Record the order paid and its events in the outbox, as a verified wallet notification does
    (payments.services); relaying them is left to the caller."""
    with container.uow() as uow:
        found = uow.orders.get(order_id)
        assert found is not None
        before, now = found.version, uow.clock.now()
        found.mark_paid(f"test-{order_id}", found.price.total_fen, now)
        uow.orders.save(found, before, now)
        for event in found.events:
            uow.emit(event)
        uow.commit()


def pharmacy_staff(platform: Platform, role: Role = Role.STORE_STAFF) -> Actor:
    shop = courier_shop(platform)
    with platform.container.uow() as uow:
        user = User(
            id=new_id(), email=f"s-{uuid.uuid4().hex[:10]}@test.yaodao.local", display_name="Staff",
            password_hash="x", roles=frozenset({role}), pharmacy_id=shop.pharmacy_id,
        )  # fmt: skip
        uow.users.add(user, platform.clock.now())
        uow.commit()
    return Actor(user_id=user.id, roles=user.roles, pharmacy_id=shop.pharmacy_id)


def approve(platform: Platform, order_id: str) -> None:
    pharmacist = pharmacy_staff(platform, Role.PHARMACIST)
    assert pharmacist.user_id is not None
    review = Review(
        result=ReviewResult.APPROVE, checklist=dict.fromkeys(ChecklistItem, "ok"), reason="",
        pharmacist_id=pharmacist.user_id, at=platform.clock.now(), source="test",
    )  # fmt: skip
    ordering.review_order(uow=platform.container.uow(), actor=pharmacist, order_id=order_id, review=review)
    platform.container.relay.drain()


def make_ready(platform: Platform, order_id: str) -> None:
    staff = pharmacy_staff(platform)
    for step in ordering.FULFILMENT_STEPS:
        ordering.advance_order(uow=platform.container.uow(), actor=staff, order_id=order_id, step=step)
    platform.container.relay.drain()


def assign(platform: Platform, order_id: str, courier_id: str) -> None:
    """What the dispatcher writes when it gives a delivery to a courier."""
    with platform.container.engine.begin() as conn:
        d = t.deliveries.c
        done = conn.execute(
            update(t.deliveries)
            .where(d.order_id == order_id, d.state == "unassigned")
            .values(state="assigned", courier_id=courier_id, assigned_at=platform.clock.now(), version=d.version + 1)
        ).rowcount
    assert done == 1


def delivery_row(platform: Platform, order_id: str) -> dict[str, Any]:
    with platform.container.engine.connect() as conn:
        row = conn.execute(select(t.deliveries).where(t.deliveries.c.order_id == order_id)).first()
    assert row is not None
    return dict(row._mapping)


def courier_row(platform: Platform, courier_id: str) -> dict[str, Any]:
    with platform.container.engine.connect() as conn:
        row = conn.execute(select(t.couriers).where(t.couriers.c.user_id == courier_id)).first()
    assert row is not None
    return dict(row._mapping)


def order_status(platform: Platform, order_id: str) -> OrderStatus:
    with platform.container.uow(read_only=True) as uow:
        order = uow.orders.get(order_id)
    assert order is not None
    return order.status


def count(platform: Platform, table: Any, *where: Any) -> int:
    with platform.container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def eid() -> str:
    """A fresh event_id, as a phone mints one per action."""
    return uuid.uuid4().hex


def post(platform: Platform, courier: CourierHandle, path: str, body: dict[str, Any]) -> Any:
    return platform.client.post(f"/api/courier{path}", json=body, headers=courier.headers)


def online_courier(platform: Platform) -> CourierHandle:
    """A registered courier on shift who has just gone online."""
    courier = make_courier(platform)
    went = post(platform, courier, "/online", {"event_id": eid()})
    assert went.status_code == 200, went.text
    return courier


def position(
    platform: Platform, seq: int, lat: float = NEAR.lat, lng: float = NEAR.lng, **extra: Any
) -> dict[str, Any]:
    return {"seq": seq, "lat": lat, "lng": lng, "at": platform.clock.now().isoformat(), **extra}


def snapshot(platform: Platform, courier: CourierHandle) -> tuple[Any, ...]:
    """What a refused report must leave alone: the stored position, seq, time, state, version and trail length."""
    row = courier_row(platform, courier.user_id)
    trail = count(platform, t.courier_positions, t.courier_positions.c.courier_id == courier.user_id)
    return row["lat"], row["lng"], row["position_seq"], row["position_at"], row["state"], row["version"], trail
