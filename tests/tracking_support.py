"""Orders on their way, written straight into the tables the delivery and dispatch contexts own: a paid order,
a courier, its delivery, and each step of the ride (the tracking read side must follow whatever they write)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from shop import NEAR, Shop, make_shop
from support import PASSWORD, Platform
from yaodao.accounts.model import Role, User
from yaodao.adapters.db import tables as t
from yaodao.kernel.ids import new_id

COURIER_PHONE = "13812345678"
COURIER_MASKED = "138****5678"
COURIER_FIRST_NAME = "小明"


def new_patient(platform: Platform) -> tuple[str, dict[str, str]]:
    """A fresh patient who can sign in: (user id, bearer headers)."""
    email = f"tp-{uuid.uuid4().hex[:10]}@test.yaodao.local"
    user = User(
        id=new_id(), email=email, display_name="Patient", password_hash=platform.container.passwords.hash(PASSWORD),
        roles=frozenset({Role.PATIENT}), date_of_birth=date(1990, 5, 1),
    )  # fmt: skip
    with platform.container.uow() as uow:
        uow.users.add(user, platform.clock.now())
        uow.commit()
    answer = platform.client.post("/api/auth/token", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return user.id, {"Authorization": f"Bearer {answer.json()['access_token']}"}


def paid_order(platform: Platform, buyer: dict[str, str], shop: Shop | None = None) -> tuple[str, str]:
    """An order checked out by ``buyer`` at ``shop`` (a fresh one by default), then marked paid:
    (order id, pharmacy id)."""
    shop = shop or make_shop(platform, stock=20)
    pharmacy_id, product_id = shop.pharmacy_id, shop.otc_id
    body = {
        "lines": [{"product_id": product_id, "quantity": 1}],
        "location": {"lat": NEAR.lat, "lng": NEAR.lng}, "address_text": "北山街1号", "pharmacy_id": pharmacy_id,
    }  # fmt: skip
    created = platform.client.post("/api/orders", json=body, headers={**buyer, "Idempotency-Key": uuid.uuid4().hex})
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    set_order_status(platform, order_id, "paid")
    return order_id, pharmacy_id


def set_order_status(platform: Platform, order_id: str, status: str) -> None:
    now = platform.clock.now()
    o = t.orders
    with platform.container.engine.begin() as conn:
        row = conn.execute(select(o.c.entered_at, o.c.total_fen, o.c.paid_fen).where(o.c.id == order_id)).one()
        entered = {**row.entered_at, status: now.isoformat()}
        paid = row.total_fen if status == "paid" else row.paid_fen
        conn.execute(
            update(o).where(o.c.id == order_id)
            .values(status=status, entered_at=entered, paid_fen=paid, updated_at=now, version=o.c.version + 1)
        )  # fmt: skip


def new_courier(platform: Platform, lat: float, lng: float) -> str:
    """A courier account on shift in Hangzhou at (lat, lng); its user id."""
    now = platform.clock.now()
    user = User(
        id=new_id(), email=f"c-{uuid.uuid4().hex[:10]}@test.yaodao.local", display_name="Courier Wang Xiaoming",
        password_hash="x", roles=frozenset({Role.COURIER}),
    )  # fmt: skip
    with platform.container.uow() as uow:
        uow.users.add(user, now)
        uow.commit()
    with platform.container.engine.begin() as conn:
        conn.execute(
            insert(t.couriers).values(
                user_id=user.id, city_id="hangzhou", first_name=COURIER_FIRST_NAME, phone=COURIER_PHONE,
                vehicle="e_bike", capacity=3, cold_chain=False, state="idle", lat=lat, lng=lng, position_at=now,
                position_seq=1, online_since=now, active=True, created_at=now, updated_at=now, version=1,
            )
        )  # fmt: skip
    return user.id


def open_delivery(platform: Platform, order_id: str, pharmacy_id: str, *, quoted_min: int = 20) -> None:
    """The delivery row the delivery context creates when the order is paid: unassigned, promise 30 min."""
    now = platform.clock.now()
    with platform.container.engine.begin() as conn:
        conn.execute(
            insert(t.deliveries).values(
                order_id=order_id, city_id="hangzhou", pharmacy_id=pharmacy_id, courier_id=None, state="unassigned",
                pickup_code="1234", handover_code="5678", id_check=False, cold_chain=False, size=1,
                dropoff_lat=NEAR.lat, dropoff_lng=NEAR.lng, placed_at=now, due_at=now + timedelta(minutes=30),
                quoted_at=now + timedelta(minutes=quoted_min), ready_at=now + timedelta(minutes=6),
                created_at=now, updated_at=now, version=1,
            )
        )  # fmt: skip


def update_delivery(platform: Platform, order_id: str, **values: Any) -> None:
    d = t.deliveries
    with platform.container.engine.begin() as conn:
        conn.execute(
            update(d).where(d.c.order_id == order_id)
            .values(**values, updated_at=platform.clock.now(), version=d.c.version + 1)
        )  # fmt: skip


def move_courier(platform: Platform, courier_id: str, lat: float, lng: float, at: datetime | None = None) -> None:
    c = t.couriers
    with platform.container.engine.begin() as conn:
        conn.execute(
            update(c).where(c.c.user_id == courier_id)
            .values(lat=lat, lng=lng, position_at=at or platform.clock.now(), position_seq=c.c.position_seq + 1)
        )  # fmt: skip
