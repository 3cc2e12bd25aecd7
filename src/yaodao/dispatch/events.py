"""Dispatch events: what the live dispatcher decided, for the tracking page and the couriers' phones.

Written to the outbox in the transaction that changed the delivery; the courier's phone learns of a
new assignment from ``delivery.assigned`` and of one taken away from ``delivery.unassigned``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from yaodao.kernel.events import Event


@dataclass(frozen=True, kw_only=True)
class DeliveryAssigned(Event):
    topic: ClassVar[str] = "delivery.assigned"
    order_id: str
    courier_id: str
    bundle_id: str
    bundle_seq: int
    eta_at: datetime
    assigned_at: datetime
    previous_courier_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeliveryUnassigned(Event):
    topic: ClassVar[str] = "delivery.unassigned"
    order_id: str
    previous_courier_id: str | None
    reason: str
    at: datetime
