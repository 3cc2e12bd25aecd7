"""What a courier's phone is told about itself and its deliveries: plain data, stored verbatim for replays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from yaodao.delivery.model import Courier, Delivery


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def courier_view(c: Courier) -> dict[str, Any]:
    return {
        "courier_id": c.user_id, "city_id": c.city_id, "first_name": c.first_name, "vehicle": c.vehicle.value,
        "capacity": c.capacity, "cold_chain": c.cold_chain, "state": c.state.value, "active": c.active,
        "position": None if c.lat is None else {"lat": c.lat, "lng": c.lng, "at": _iso(c.position_at)},
        "position_seq": c.position_seq, "online_since": _iso(c.online_since),
    }  # fmt: skip


def delivery_view(d: Delivery) -> dict[str, Any]:
    """The courier's view: never the codes (the pharmacy and the customer read them out)."""
    return {
        "order_id": d.order_id, "state": d.state.value, "pharmacy_id": d.pharmacy_id, "id_check": d.id_check,
        "cold_chain": d.cold_chain, "size": d.size, "dropoff": {"lat": d.dropoff_lat, "lng": d.dropoff_lng},
        "bundle_id": d.bundle_id, "bundle_seq": d.bundle_seq, "due_at": _iso(d.due_at), "ready_at": _iso(d.ready_at),
        "eta_at": _iso(d.eta_at), "assigned_at": _iso(d.assigned_at), "accepted_at": _iso(d.accepted_at),
        "arrived_pickup_at": _iso(d.arrived_pickup_at), "picked_up_at": _iso(d.picked_up_at),
        "delivered_at": _iso(d.delivered_at), "failed_at": _iso(d.failed_at), "failure_reason": d.failure_reason,
        "late_minutes": d.late_minutes, "late_cause": d.late_cause, "version": d.version,
    }  # fmt: skip
