"""Tables of the delivery context: couriers, their shifts and positions, and one delivery per order.

A courier's current state and last accepted position live on ``couriers`` (one row to lock and
update); every accepted position report is also appended to ``courier_positions`` (the trail the
tracking page and the travel-time model read). ``courier_events`` makes each action a phone sends
idempotent: the phone names every action with its own id, and a resend finds the first answer.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from yaodao.adapters.db.columns import Id, UtcDateTime, metadata

COURIER_STATES = ("offline", "idle", "to_pickup", "waiting", "to_dropoff")
VEHICLES = ("e_bike", "bicycle", "on_foot")
DELIVERY_STATES = ("unassigned", "assigned", "at_pickup", "picked_up", "delivered", "failed", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


couriers = Table(
    "couriers",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("city_id", String(40), ForeignKey("cities.id"), nullable=False),
    Column("first_name", String(40), nullable=False),  # all a customer sees, with a masked phone
    Column("phone", String(20), nullable=False),
    Column("vehicle", String(12), nullable=False),
    Column("capacity", Integer, nullable=False),  # parcels in the bag at once
    Column("cold_chain", Boolean, nullable=False),
    Column("state", String(12), nullable=False),
    Column("lat", Float),
    Column("lng", Float),
    Column("position_at", UtcDateTime),  # when the phone measured the last accepted position
    Column("position_seq", BigInteger, nullable=False),  # the phone's sequence number of that report
    Column("online_since", UtcDateTime),
    Column("active", Boolean, nullable=False),  # an operator can take a courier off the platform
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint(_in("state", COURIER_STATES), name="state_known"),
    CheckConstraint(_in("vehicle", VEHICLES), name="vehicle_known"),
    CheckConstraint("capacity >= 1 AND capacity <= 10", name="capacity_range"),
    CheckConstraint("(lat IS NULL) = (lng IS NULL)", name="position_whole"),
    Index("ix_couriers_city_state", "city_id", "state"),
)

courier_shifts = Table(
    "courier_shifts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("courier_id", Id, ForeignKey("couriers.user_id"), nullable=False),
    Column("city_id", String(40), ForeignKey("cities.id"), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("guarantee_orders", Integer),  # orders covered by the shift's guaranteed minimum pay
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    Index("ix_courier_shifts_courier_starts", "courier_id", "starts_at"),
    Index("ix_courier_shifts_city_starts", "city_id", "starts_at"),
)

courier_positions = Table(
    "courier_positions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("courier_id", Id, ForeignKey("couriers.user_id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("accuracy_m", Float),
    Column("at", UtcDateTime, nullable=False),  # measured on the phone
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("courier_id", "seq", name="one_report_per_seq"),
    Index("ix_courier_positions_courier_at", "courier_id", "at"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id"), primary_key=True),
    Column("city_id", String(40), ForeignKey("cities.id"), nullable=False),
    Column("pharmacy_id", Id, ForeignKey("pharmacies.id"), nullable=False),
    Column("courier_id", Id, ForeignKey("couriers.user_id")),
    Column("state", String(12), nullable=False),
    Column("bundle_id", Id),  # orders ridden together share one
    Column("bundle_seq", Integer),  # drop-off position within the bundle, from 0
    Column("pickup_code", String(8), nullable=False),  # the pharmacy reads it to the courier
    Column("handover_code", String(8), nullable=False),  # the customer reads it to the courier
    Column("id_check", Boolean, nullable=False),  # Rx: the courier checks the patient's ID
    Column("cold_chain", Boolean, nullable=False),
    Column("size", Integer, nullable=False),
    Column("dropoff_lat", Float, nullable=False),
    Column("dropoff_lng", Float, nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),  # the promise clock starts here (paid)
    Column("due_at", UtcDateTime, nullable=False),  # placed_at + the city's promise
    Column("quoted_at", UtcDateTime, nullable=False),  # the delivery time quoted at checkout
    Column("ready_at", UtcDateTime, nullable=False),  # the pharmacy's estimate, then its fact
    Column("eta_at", UtcDateTime),  # the latest live estimate of arrival at the door
    Column("assigned_at", UtcDateTime),
    Column("accepted_at", UtcDateTime),  # the courier took it: the dispatcher no longer moves it
    Column("arrived_pickup_at", UtcDateTime),
    Column("picked_up_at", UtcDateTime),
    Column("delivered_at", UtcDateTime),
    Column("failed_at", UtcDateTime),
    Column("failure_reason", String(40)),
    Column("late_cause", String(40)),
    Column("late_minutes", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint(_in("state", DELIVERY_STATES), name="state_known"),
    CheckConstraint("size >= 1", name="size_positive"),
    CheckConstraint("state IN ('unassigned', 'cancelled') OR courier_id IS NOT NULL", name="courier_once_assigned"),
    Index("ix_deliveries_city_state", "city_id", "state"),
    Index("ix_deliveries_courier_state", "courier_id", "state"),
)

courier_events = Table(
    "courier_events",
    metadata,
    Column("courier_id", Id, ForeignKey("couriers.user_id"), primary_key=True),
    Column("event_id", String(64), primary_key=True),  # chosen by the phone, unique per courier
    Column("action", String(24), nullable=False),
    Column("order_id", Id),
    Column("request_sha256", String(64), nullable=False),
    Column("response_status", Integer, nullable=False),
    Column("response_body", String(4000), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)
