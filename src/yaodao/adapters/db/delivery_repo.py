"""Couriers, shifts, position trails, deliveries and the courier actions' idempotency record, in SQL.

Writes that race are conditional statements: a courier or delivery is saved only at the version it
was read at (a lost race is a 409, never a silent overwrite), a delivery is created only if its
order has none (insert-if-absent), and an action id is claimed once per courier (a duplicate waits
for the first to commit on PostgreSQL, or is serialised by BEGIN IMMEDIATE on SQLite, then replays).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from yaodao.adapters.db import tables as t
from yaodao.adapters.db.orders_repo import insert_ignore
from yaodao.delivery.model import Courier, CourierState, Delivery, DeliveryState, Shift, Vehicle
from yaodao.delivery.positions import LastAccepted, PositionReport
from yaodao.kernel.errors import Conflict
from yaodao.kernel.geo import LatLng
from yaodao.kernel.paging import Page, PageRequest

_COURIER_COLUMNS = (
    "user_id", "city_id", "first_name", "phone", "vehicle", "capacity", "cold_chain", "state", "lat", "lng",
    "position_at", "position_seq", "online_since", "active", "version",
)  # fmt: skip
_DELIVERY_FIELDS = tuple(f.name for f in fields(Delivery))


class CourierRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, user_id: str) -> Courier | None:
        row = self._conn.execute(select(t.couriers).where(t.couriers.c.user_id == user_id)).first()
        return None if row is None else _courier(row._mapping)

    def add(self, courier: Courier, now: datetime) -> None:
        self._conn.execute(insert(t.couriers).values(**_courier_values(courier), created_at=now, updated_at=now))

    def save(self, courier: Courier, expected_version: int, now: datetime) -> None:
        if courier.version == expected_version:
            return
        done = self._conn.execute(
            update(t.couriers)
            .where(t.couriers.c.user_id == courier.user_id, t.couriers.c.version == expected_version)
            .values(**_courier_values(courier), updated_at=now)
        ).rowcount
        if done != 1:
            raise Conflict(f"courier {courier.user_id} changed while this request was handling it; try again")

    def last_accepted(self, user_id: str) -> LastAccepted | None:
        c = t.couriers.c
        row = self._conn.execute(
            select(c.lat, c.lng, c.position_at, c.position_seq).where(c.user_id == user_id)
        ).first()
        if row is None:
            return None
        p = t.courier_positions.c
        received = self._conn.execute(
            select(p.received_at).where(p.courier_id == user_id).order_by(p.seq.desc()).limit(1)
        ).scalar()
        where = LatLng(row.lat, row.lng) if row.lat is not None and row.lng is not None else None
        return LastAccepted(seq=int(row.position_seq), at=row.position_at, where=where, received_at=received)

    def append_position(self, courier_id: str, report: PositionReport, received_at: datetime) -> None:
        self._conn.execute(
            insert(t.courier_positions).values(
                courier_id=courier_id, seq=report.seq, lat=report.lat, lng=report.lng, accuracy_m=report.accuracy_m,
                at=report.at, received_at=received_at,
            )
        )  # fmt: skip

    def shifts_between(self, courier_id: str, start: datetime, end: datetime) -> list[Shift]:
        s = t.courier_shifts.c
        rows = self._conn.execute(
            select(t.courier_shifts)
            .where(s.courier_id == courier_id, s.starts_at < end, s.ends_at > start)
            .order_by(s.starts_at)
        ).mappings()
        return [Shift(r["id"], r["courier_id"], r["city_id"], r["starts_at"], r["ends_at"]) for r in rows]

    def add_shift(self, shift: Shift, now: datetime) -> None:
        self._conn.execute(
            insert(t.courier_shifts).values(
                id=shift.id, courier_id=shift.courier_id, city_id=shift.city_id, starts_at=shift.starts_at,
                ends_at=shift.ends_at, created_at=now,
            )
        )  # fmt: skip

    def lock(self, user_id: str) -> None:
        """Serialise changes to one courier's row (shift overlap checks) until commit."""
        c = t.couriers.c
        self._conn.execute(update(t.couriers).where(c.user_id == user_id).values(version=c.version))


class DeliveryRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, order_id: str) -> Delivery | None:
        row = self._conn.execute(select(t.deliveries).where(t.deliveries.c.order_id == order_id)).first()
        return None if row is None else _delivery(row._mapping)

    def add_if_absent(self, delivery: Delivery, now: datetime) -> bool:
        values = {**_delivery_values(delivery), "created_at": now, "updated_at": now}
        return insert_ignore(self._conn, t.deliveries, values)

    def save(self, delivery: Delivery, expected_version: int, now: datetime) -> None:
        """Write the delivery at the version it was read at. The live ETA is the dispatcher's to write (without a
        version bump), so it is left alone here unless the delivery went back to unassigned."""
        values = _delivery_values(delivery)
        if delivery.state is not DeliveryState.UNASSIGNED:
            del values["eta_at"]
        done = self._conn.execute(
            update(t.deliveries)
            .where(t.deliveries.c.order_id == delivery.order_id, t.deliveries.c.version == expected_version)
            .values(**values, updated_at=now)
        ).rowcount
        if done != 1:
            raise Conflict(f"delivery of order {delivery.order_id} changed meanwhile; try again")

    def held_by(self, courier_id: str) -> list[Delivery]:
        d = t.deliveries.c
        rows = self._conn.execute(
            select(t.deliveries)
            .where(d.courier_id == courier_id, d.state.in_(["assigned", "at_pickup", "picked_up"]))
            .order_by(d.assigned_at, d.order_id)
        ).mappings()
        return [_delivery(r) for r in rows]

    def for_courier(self, courier_id: str, states: Sequence[DeliveryState], page: PageRequest) -> Page[Delivery]:
        d = t.deliveries.c
        where = [d.courier_id == courier_id]
        if states:
            where.append(d.state.in_([s.value for s in states]))
        total = int(self._conn.execute(select(func.count()).select_from(t.deliveries).where(*where)).scalar_one())
        rows = self._conn.execute(
            select(t.deliveries)
            .where(*where)
            .order_by(d.assigned_at.desc(), d.order_id)
            .limit(page.page_size)
            .offset(page.offset)
        ).mappings()
        return Page([_delivery(r) for r in rows], total, page.page, page.page_size)


class CourierEventRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def claim(
        self, courier_id: str, event_id: str, *, action: str, order_id: str | None, request_sha256: str, now: datetime
    ) -> bool:
        return insert_ignore(
            self._conn,
            t.courier_events,
            {
                "courier_id": courier_id, "event_id": event_id, "action": action, "order_id": order_id,
                "request_sha256": request_sha256, "response_status": 0, "response_body": "", "received_at": now,
            },
        )  # fmt: skip

    def get(self, courier_id: str, event_id: str) -> Mapping[str, Any] | None:
        e = t.courier_events.c
        row = self._conn.execute(
            select(t.courier_events).where(e.courier_id == courier_id, e.event_id == event_id)
        ).first()
        return None if row is None else dict(row._mapping)

    def finish(self, courier_id: str, event_id: str, status: int, body: str) -> None:
        e = t.courier_events.c
        self._conn.execute(
            update(t.courier_events)
            .where(e.courier_id == courier_id, e.event_id == event_id)
            .values(response_status=status, response_body=body)
        )


def _courier_values(c: Courier) -> dict[str, Any]:
    values = {name: getattr(c, name) for name in _COURIER_COLUMNS}
    values["vehicle"], values["state"] = c.vehicle.value, c.state.value
    return values


def _courier(row: RowMapping) -> Courier:
    values = {name: row[name] for name in _COURIER_COLUMNS}
    values["vehicle"], values["state"] = Vehicle(row["vehicle"]), CourierState(row["state"])
    return Courier(**values)


def _delivery_values(d: Delivery) -> dict[str, Any]:
    values = {name: getattr(d, name) for name in _DELIVERY_FIELDS}
    values["state"] = d.state.value
    return values


def _delivery(row: RowMapping) -> Delivery:
    values = {name: row[name] for name in _DELIVERY_FIELDS}
    values["state"] = DeliveryState(row["state"])
    return Delivery(**values)
