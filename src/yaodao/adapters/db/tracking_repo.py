"""The read side of tracking: one order with its pharmacy, delivery and courier, and the delivered orders of a
window for the promise report. Read-only; the delivery and dispatch contexts own these rows and write them.

Only the courier columns a customer may see (first name, phone to be masked, last position) are selected.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from yaodao.adapters.db import tables as t
from yaodao.tracking.promise import DeliveredRow
from yaodao.tracking.view import CourierRow, DeliveryRow, Point, TrackingSnapshot

# Cap on the rows a promise report reads at once (a city's busiest month stays well under it).
MAX_REPORT_ROWS = 500_000


class TrackingRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def snapshot(self, order_id: str) -> TrackingSnapshot | None:
        o, p, d, c = t.orders, t.pharmacies, t.deliveries, t.couriers
        stmt = (
            select(
                o.c.id, o.c.city_id, o.c.status, o.c.entered_at, o.c.promise_minutes, o.c.quoted_eta_minutes,
                o.c.address_text, o.c.address_lat, o.c.address_lng,
                p.c.name.label("pharmacy_name"), p.c.address.label("pharmacy_address"),
                p.c.lat.label("pharmacy_lat"), p.c.lng.label("pharmacy_lng"),
                d.c.state.label("d_state"), d.c.due_at, d.c.quoted_at, d.c.eta_at, d.c.picked_up_at,
                d.c.delivered_at, d.c.failed_at, d.c.dropoff_lat, d.c.dropoff_lng, d.c.courier_id,
                c.c.first_name, c.c.phone, c.c.lat.label("courier_lat"), c.c.lng.label("courier_lng"),
                c.c.position_at,
            )
            .select_from(
                o.join(p, p.c.id == o.c.pharmacy_id)
                .outerjoin(d, d.c.order_id == o.c.id)
                .outerjoin(c, c.c.user_id == d.c.courier_id)
            )
            .where(o.c.id == order_id)
        )  # fmt: skip
        row = self.conn.execute(stmt).mappings().first()
        if row is None:
            return None
        delivery = None
        if row["d_state"] is not None:
            courier = None
            if row["courier_id"] is not None and row["first_name"] is not None:
                courier = CourierRow(
                    first_name=row["first_name"], phone=row["phone"], lat=row["courier_lat"],
                    lng=row["courier_lng"], position_at=row["position_at"],
                )  # fmt: skip
            delivery = DeliveryRow(
                state=row["d_state"], due_at=row["due_at"], quoted_at=row["quoted_at"], eta_at=row["eta_at"],
                picked_up_at=row["picked_up_at"], delivered_at=row["delivered_at"], failed_at=row["failed_at"],
                dropoff=Point(row["dropoff_lat"], row["dropoff_lng"]), courier=courier,
            )  # fmt: skip
        has_address = row["address_lat"] is not None and row["address_lng"] is not None
        return TrackingSnapshot(
            order_id=row["id"], city_id=row["city_id"], status=row["status"],
            entered_at={k: datetime.fromisoformat(v) for k, v in (row["entered_at"] or {}).items()},
            promise_minutes=row["promise_minutes"], quoted_eta_minutes=row["quoted_eta_minutes"],
            address_text=row["address_text"],
            dropoff=Point(row["address_lat"], row["address_lng"]) if has_address else None,
            pharmacy_name=row["pharmacy_name"], pharmacy_address=row["pharmacy_address"],
            pharmacy=Point(row["pharmacy_lat"], row["pharmacy_lng"]), delivery=delivery,
        )  # fmt: skip

    def delivered_between(self, city_id: str, since: datetime, until: datetime) -> list[DeliveredRow]:
        """Deliveries of the city that reached the door in [since, until)."""
        d = t.deliveries
        stmt = (
            select(d.c.order_id, d.c.due_at, d.c.quoted_at, d.c.delivered_at, d.c.late_cause)
            .where(
                d.c.city_id == city_id,
                d.c.state == "delivered",
                d.c.delivered_at.is_not(None),
                d.c.delivered_at >= since,
                d.c.delivered_at < until,
            )
            .order_by(d.c.delivered_at)
            .limit(MAX_REPORT_ROWS)
        )
        return [
            DeliveredRow(r.order_id, r.due_at, r.quoted_at, r.delivered_at, r.late_cause)
            for r in self.conn.execute(stmt)
        ]
