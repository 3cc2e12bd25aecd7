"""The live dispatcher's tick on SQLite and PostgreSQL: read, plan, apply, with couriers' changes respected.

Scenario: a patient's OTC order from a fresh 24-hour shop near West Lake is paid; its delivery
and the couriers are written straight into the delivery tables, in a city of the test's own (a copy
of Hangzhou), so no other test's couriers or deliveries take part. The clock stands still.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update

from shop import NEAR, Shop, make_patients, make_shop
from support import PASSWORD, Platform
from yaodao.accounts.model import Role, User
from yaodao.adapters.db import tables as t
from yaodao.adapters.db.uow import UnitOfWork
from yaodao.adapters.dispatch_worker import DispatchWorker, tick_once
from yaodao.kernel.city import City
from yaodao.kernel.clock import SystemClock
from yaodao.kernel.geo import LatLng
from yaodao.kernel.ids import new_id
from yaodao.ordering.interactions import FixtureSource
from yaodao.ordering.services import CheckoutLine, CheckoutRequest, OrderingContext, checkout

KM = 0.009  # about one km of latitude
_SHOPS: dict[int, Shop] = {}


def shop_for(platform: Platform) -> Shop:
    if id(platform) not in _SHOPS:
        _SHOPS[id(platform)] = make_shop(platform, stock=5_000)
    return _SHOPS[id(platform)]


def own_city(platform: Platform) -> City:
    """A copy of Hangzhou under a new id: the tick sees only this test's couriers and deliveries."""
    city_id = f"disp-{new_id()[-10:].lower()}"
    with platform.container.uow() as uow:
        found = uow.cities.get_data("hangzhou")
        assert found is not None
        uow.cities.add({**found[0], "id": city_id}, found[1], platform.clock.now())
        uow.commit()
    city = platform.container.cities.get(city_id)
    assert city is not None
    return city


def paid_order(platform: Platform) -> str:
    """An OTC order made at checkout and paid."""
    shop = shop_for(platform)
    (buyer,) = make_patients(platform, 1)
    city = platform.container.cities.get("hangzhou")
    index = platform.container.availability.index("hangzhou")
    assert city is not None
    assert index is not None
    ctx = OrderingContext(city=city, availability=index, interactions=FixtureSource())
    request = CheckoutRequest(lines=(CheckoutLine(shop.otc_id, 1),), location=NEAR, address_text="北山街1号")
    order = checkout(uow=platform.container.uow(), actor=buyer, request=request, ctx=ctx)
    with platform.container.uow() as uow:
        current = uow.orders.get(order.id)
        assert current is not None
        version = current.version
        current.mark_paid(f"pay-{new_id()}", current.price.total_fen, platform.clock.now())
        uow.orders.save(current, version, platform.clock.now())
        uow.commit()
    return order.id


def pharmacy_of(platform: Platform, order_id: str) -> tuple[str, LatLng]:
    with platform.container.engine.connect() as conn:
        row = conn.execute(
            select(t.pharmacies.c.id, t.pharmacies.c.lat, t.pharmacies.c.lng)
            .join(t.orders, t.orders.c.pharmacy_id == t.pharmacies.c.id)
            .where(t.orders.c.id == order_id)
        ).one()
    return row.id, LatLng(row.lat, row.lng)


def add_delivery(platform: Platform, city: City, order_id: str) -> None:
    now = platform.clock.now()
    pharmacy_id, _ = pharmacy_of(platform, order_id)
    with platform.container.engine.begin() as conn:
        conn.execute(
            insert(t.deliveries).values(
                order_id=order_id, city_id=city.id, pharmacy_id=pharmacy_id, state="unassigned", pickup_code="1234",
                handover_code="5678", id_check=False, cold_chain=False, size=1, dropoff_lat=NEAR.lat,
                dropoff_lng=NEAR.lng, placed_at=now, due_at=now + timedelta(minutes=30),
                quoted_at=now + timedelta(minutes=25), ready_at=now, created_at=now, updated_at=now, version=1,
            )
        )  # fmt: skip


def add_courier(
    platform: Platform, city: City, at: LatLng, *, state: str = "idle", active: bool = True, on_shift: bool = True
) -> str:
    now = platform.clock.now()
    with platform.container.uow() as uow:
        user = User(
            id=new_id(), email=f"c-{new_id()[-12:]}@test.yaodao.local", display_name="Courier", password_hash="x",
            roles=frozenset({Role.COURIER}),
        )  # fmt: skip
        uow.users.add(user, now)
        uow.commit()
    starts, ends = (now - timedelta(hours=1), now + timedelta(hours=3)) if on_shift else (
        now - timedelta(hours=5), now - timedelta(minutes=1),
    )  # fmt: skip
    with platform.container.engine.begin() as conn:
        conn.execute(
            insert(t.couriers).values(
                user_id=user.id, city_id=city.id, first_name="小王", phone="13800000000", vehicle="e_bike",
                capacity=3, cold_chain=False, state=state, lat=at.lat, lng=at.lng, position_at=now, position_seq=1,
                online_since=now - timedelta(hours=1), active=active, created_at=now, updated_at=now, version=1,
            )
        )  # fmt: skip
        conn.execute(
            insert(t.courier_shifts).values(
                id=new_id(), courier_id=user.id, city_id=city.id, starts_at=starts, ends_at=ends, created_at=now
            )
        )
    return user.id


def north_of(point: LatLng, km: float) -> LatLng:
    return LatLng(point.lat + km * KM, point.lng)


def delivery_row(platform: Platform, order_id: str) -> Any:
    with platform.container.engine.connect() as conn:
        return conn.execute(select(t.deliveries).where(t.deliveries.c.order_id == order_id)).one()


def outbox_topics(platform: Platform, order_id: str) -> list[str]:
    with platform.container.engine.connect() as conn:
        rows = conn.execute(select(t.outbox.c.topic, t.outbox.c.payload).where(t.outbox.c.topic.like("delivery.%")))
        return [r.topic for r in rows if r.payload.get("order_id") == order_id]


def tick(platform: Platform, city: City, uow_factory: Callable[..., UnitOfWork] | None = None) -> Any:
    return tick_once(uow_factory=uow_factory or platform.container.uow, city=city, clock=platform.clock, seed=3)


def scene(platform: Platform) -> tuple[City, str, LatLng]:
    city = own_city(platform)
    order_id = paid_order(platform)
    add_delivery(platform, city, order_id)
    return city, order_id, pharmacy_of(platform, order_id)[1]


def test_a_paid_order_goes_to_the_nearest_eligible_courier_with_an_eta(platform: Platform) -> None:
    """Offline, inactive and off-shift couriers stand at the pharmacy; the nearest eligible one gets it."""
    city, order_id, pharmacy = scene(platform)
    add_courier(platform, city, pharmacy, state="offline")
    add_courier(platform, city, pharmacy, active=False)
    add_courier(platform, city, pharmacy, on_shift=False)
    far = add_courier(platform, city, north_of(pharmacy, 3.0))
    near = add_courier(platform, city, north_of(pharmacy, -0.3))
    now = platform.clock.now()

    summary = tick(platform, city)

    assert summary.assigned == {order_id: near}
    assert summary.couriers == 2
    row = delivery_row(platform, order_id)
    assert (row.state, row.courier_id, row.bundle_seq, row.version) == ("assigned", near, 0, 2)
    assert row.bundle_id
    assert row.assigned_at == now
    assert now < row.eta_at < now + timedelta(minutes=30)
    assert outbox_topics(platform, order_id) == ["delivery.assigned"]
    with platform.container.engine.connect() as conn:
        audited = conn.execute(
            select(t.audit_events.c.detail).where(
                t.audit_events.c.resource_type == "delivery", t.audit_events.c.resource_id == order_id
            )
        ).all()
    assert [a.detail["courier_id"] for a in audited] == [near]
    assert far != near


def test_a_second_tick_leaves_an_accepted_delivery_alone_until_its_courier_goes_offline(platform: Platform) -> None:
    city, order_id, pharmacy = scene(platform)
    first = add_courier(platform, city, north_of(pharmacy, 1.0))
    assert tick(platform, city).assigned == {order_id: first}
    accepted_at = platform.clock.now()
    with platform.container.engine.begin() as conn:  # the courier accepts, as its phone would
        conn.execute(
            update(t.deliveries)
            .where(t.deliveries.c.order_id == order_id)
            .values(accepted_at=accepted_at, version=t.deliveries.c.version + 1)
        )
    nearer = add_courier(platform, city, pharmacy)
    before = delivery_row(platform, order_id)

    summary = tick(platform, city)

    assert summary.assigned == {}
    assert delivery_row(platform, order_id) == before
    assert outbox_topics(platform, order_id) == ["delivery.assigned"]

    with platform.container.engine.begin() as conn:  # the first courier goes offline
        conn.execute(update(t.couriers).where(t.couriers.c.user_id == first).values(state="offline"))
    assert tick(platform, city).assigned == {order_id: nearer}
    row = delivery_row(platform, order_id)
    assert (row.state, row.courier_id, row.accepted_at, row.version) == ("assigned", nearer, None, before.version + 1)


def test_a_change_made_between_the_read_and_the_write_is_not_overwritten(platform: Platform) -> None:
    """A courier accepts (version bump) while the tick plans: the tick writes nothing for that delivery."""
    city, order_id, pharmacy = scene(platform)
    add_courier(platform, city, pharmacy)
    other = add_courier(platform, city, north_of(pharmacy, 2.0))
    container = platform.container

    def racing_uow(*, read_only: bool = False) -> UnitOfWork:
        if not read_only:  # the write transaction is about to start: someone else gets there first
            with container.engine.begin() as conn:
                conn.execute(
                    update(t.deliveries)
                    .where(t.deliveries.c.order_id == order_id)
                    .values(state="assigned", courier_id=other, accepted_at=container.clock.now(),
                            version=t.deliveries.c.version + 1)
                )  # fmt: skip
        return container.uow(read_only=read_only)

    summary = tick(platform, city, racing_uow)

    assert summary.assigned == {}
    assert summary.stale == (order_id,)
    row = delivery_row(platform, order_id)
    assert (row.state, row.courier_id, row.version) == ("assigned", other, 2)
    assert row.accepted_at is not None
    assert outbox_topics(platform, order_id) == []


def test_an_unpaid_order_is_skipped(platform: Platform) -> None:
    city, order_id, pharmacy = scene(platform)
    add_courier(platform, city, pharmacy)
    with platform.container.engine.begin() as conn:
        conn.execute(update(t.orders).where(t.orders.c.id == order_id).values(status="awaiting_payment"))
    summary = tick(platform, city)
    assert summary.skipped == (order_id,)
    assert delivery_row(platform, order_id).state == "unassigned"


def test_the_admin_tick_endpoint_answers_a_summary_for_admins_and_the_citys_operators_only(platform: Platform) -> None:
    city, order_id, pharmacy = scene(platform)
    courier_id = add_courier(platform, city, pharmacy)
    url = f"/api/admin/dispatch/{city.id}/tick"

    for role in (Role.PATIENT, Role.COURIER, Role.OPERATOR):  # the operator runs Hangzhou, not this city
        assert platform.client.post(url, headers=platform.auth(role)).status_code == 403
    assert platform.client.post(url).status_code == 401
    assert delivery_row(platform, order_id).state == "unassigned"
    missing = platform.client.post("/api/admin/dispatch/nowhere/tick", headers=platform.auth(Role.ADMIN))
    assert missing.status_code == 404

    answer = platform.client.post(url, headers=platform.auth(Role.ADMIN))
    assert answer.status_code == 200, answer.text
    with platform.container.engine.connect() as conn:
        outcomes = conn.execute(
            select(t.audit_events.c.outcome).where(
                t.audit_events.c.resource_type == "dispatch_tick", t.audit_events.c.resource_id == city.id
            )
        ).scalars()
        assert sorted(outcomes) == ["denied", "denied", "denied", "ok"]
    body = answer.json()
    assert body["assigned"] == {order_id: courier_id}
    assert (body["held"], body["deferred"], body["couriers"]) == ({}, [], 1)
    assert delivery_row(platform, order_id).courier_id == courier_id


def test_an_operator_of_the_city_may_run_its_tick(platform: Platform) -> None:
    city, order_id, pharmacy = scene(platform)
    courier_id = add_courier(platform, city, pharmacy)
    with platform.container.uow() as uow:
        operator = User(
            id=new_id(), email=f"op-{new_id()[-12:]}@test.yaodao.local", display_name="Operator",
            password_hash=platform.container.passwords.hash(PASSWORD), roles=frozenset({Role.OPERATOR}),
            city_id=city.id,
        )  # fmt: skip
        uow.users.add(operator, platform.clock.now())
        uow.commit()
    token = platform.client.post("/api/auth/token", json={"email": operator.email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    answer = platform.client.post(f"/api/admin/dispatch/{city.id}/tick", headers=headers)

    assert answer.status_code == 200, answer.text
    assert answer.json()["assigned"] == {order_id: courier_id}


def test_the_loop_goes_on_after_a_tick_that_raises_and_stop_joins_it() -> None:
    """One loop per city: the first tick fails, the next ones still run; stop() ends every thread."""
    calls: list[str] = []
    third = threading.Event()

    def city_of(city_id: str) -> City | None:
        calls.append(city_id)
        if len(calls) >= 3:
            third.set()
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return None  # an unknown city: the tick raises NotFound, which the loop also survives

    def no_database(**_: object) -> UnitOfWork:
        raise AssertionError("no tick gets as far as the database here")

    worker = DispatchWorker(
        uow_factory=no_database,
        cities=city_of, city_ids=lambda: ["somewhere"], clock=SystemClock(), tick_s=0.01,
    )  # fmt: skip
    worker.start()
    try:
        assert third.wait(30)
        assert worker.running
    finally:
        worker.stop()
    assert not worker.running
    assert set(calls) == {"somewhere"}
