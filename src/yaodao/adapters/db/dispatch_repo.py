"""The live dispatcher's reads and writes on the delivery tables, one city at a time.

``rows`` reads what one tick plans from: the couriers online, active and on a shift covering the
tick, and the city's deliveries not yet handed over (with their order's status and approval and
their pharmacy's location). ``apply`` writes a tick's changes, each only while the delivery is
still at the version the tick read: a delivery a courier accepted (or any other change) meanwhile
is left alone, and the change is reported as stale, not raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from yaodao.adapters.db import tables as t
from yaodao.dispatch.live import ChangeKind, CourierRow, DeliveryChange, DeliveryRow
from yaodao.kernel.geo import LatLng

READ_STATES = ("unassigned", "assigned", "at_pickup", "picked_up")
WRITABLE_STATES = ("unassigned", "assigned", "at_pickup")


class DispatchRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def couriers_on_shift(self, city_id: str, at: datetime) -> list[CourierRow]:
        c, s = t.couriers, t.courier_shifts
        rows = self._conn.execute(
            select(c.c.user_id, c.c.lat, c.c.lng, c.c.capacity, c.c.cold_chain, s.c.ends_at)
            .join(s, s.c.courier_id == c.c.user_id)
            .where(
                c.c.city_id == city_id,
                c.c.state != "offline",
                c.c.active.is_(True),
                s.c.starts_at <= at,
                s.c.ends_at > at,
            )
            .order_by(c.c.user_id)
        ).all()
        found: dict[str, CourierRow] = {}
        for r in rows:
            known = found.get(r.user_id)
            if known is not None and known.shift_end >= r.ends_at:
                continue  # overlapping shifts: the one that ends last counts
            position = None if r.lat is None or r.lng is None else LatLng(r.lat, r.lng)
            found[r.user_id] = CourierRow(r.user_id, position, r.capacity, r.cold_chain, r.ends_at)
        return list(found.values())

    def open_deliveries(self, city_id: str) -> list[DeliveryRow]:
        d, o, p = t.deliveries, t.orders, t.pharmacies
        rows = self._conn.execute(
            select(
                d.c.order_id, d.c.version, d.c.state, d.c.courier_id, d.c.accepted_at, d.c.bundle_id,
                d.c.bundle_seq, d.c.pharmacy_id, p.c.lat.label("pharmacy_lat"), p.c.lng.label("pharmacy_lng"),
                d.c.dropoff_lat, d.c.dropoff_lng, d.c.placed_at, d.c.ready_at, d.c.due_at, d.c.eta_at, d.c.size,
                d.c.cold_chain, o.c.status, o.c.has_rx, o.c.approved_at, o.c.patient_id,
            )
            .join(o, o.c.id == d.c.order_id)
            .join(p, p.c.id == d.c.pharmacy_id)
            .where(d.c.city_id == city_id, d.c.state.in_(READ_STATES))
            .order_by(d.c.order_id)
        ).all()  # fmt: skip
        return [
            DeliveryRow(
                order_id=r.order_id, version=r.version, state=r.state, courier_id=r.courier_id,
                accepted_at=r.accepted_at, bundle_id=r.bundle_id, bundle_seq=r.bundle_seq,
                pharmacy_id=r.pharmacy_id, pickup=LatLng(r.pharmacy_lat, r.pharmacy_lng),
                dropoff=LatLng(r.dropoff_lat, r.dropoff_lng), placed_at=r.placed_at, ready_at=r.ready_at,
                due_at=r.due_at, eta_at=r.eta_at, size=r.size, cold_chain=r.cold_chain, order_status=r.status,
                has_rx=r.has_rx, approved_at=r.approved_at, patient_id=r.patient_id,
            )
            for r in rows
        ]  # fmt: skip

    def apply(self, change: DeliveryChange, at: datetime) -> bool:
        """Write one change if the delivery is still at ``change.expected_version``; whether it was written.

        An assignment or an unassignment bumps the version (a phone acting on the old assignment
        then finds it changed); an ETA alone does not, so it never gets in a courier's way.
        """
        d = t.deliveries
        values: dict[str, Any]
        if change.kind is ChangeKind.ETA:
            values = {"eta_at": change.eta_at}
        else:
            assign = change.kind is ChangeKind.ASSIGN
            values = {
                "state": "assigned" if assign else "unassigned",
                "courier_id": change.courier_id if assign else None,
                "bundle_id": change.bundle_id if assign else None,
                "bundle_seq": change.bundle_seq if assign else None,
                "eta_at": change.eta_at,
                "assigned_at": at if assign else None,
                "accepted_at": None,
                "arrived_pickup_at": None,
                "updated_at": at,
                "version": d.c.version + 1,
            }
        done = self._conn.execute(
            update(d)
            .where(
                d.c.order_id == change.order_id,
                d.c.version == change.expected_version,
                d.c.state.in_(WRITABLE_STATES),
            )
            .values(**values)
        ).rowcount
        return bool(done == 1)

    def apply_all(self, changes: Sequence[DeliveryChange], at: datetime) -> list[DeliveryChange]:
        """Write every change that still applies; the ones written, in order."""
        return [c for c in changes if self.apply(c, at)]
