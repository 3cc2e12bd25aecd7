"""Every paid delivery order gets one delivery row; an order that will not be delivered cancels it.

A bus handler (wired in ``bootstrap``) opens the delivery when the order is paid and re-times it
when the pharmacist approves; both are idempotent (insert-if-absent, then an update only while the
delivery is still unassigned), so a relayed event seen twice changes nothing the second time.

Rx rule: an order that needs a pharmacist's review gets its delivery at payment too, in state
``unassigned``, so the dispatcher can see the work coming; but it must not hand it to a courier
before the order is approved (``orders.approved_at`` set, or its status past ``awaiting_review``).
The courier side enforces the same rule: accepting such a delivery is refused (``services.accept``).
Its promise clock starts at the approval (DOMAIN DL1), so the approval moves ``placed_at``, ``due_at``,
``quoted_at`` and ``ready_at`` forward.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog

from yaodao.delivery.model import Delivery, DeliveryState, new_code
from yaodao.delivery.ports import DeliveryUnitOfWork
from yaodao.ordering.model import CLOSED, Fulfilment, Order, OrderStatus

log = structlog.get_logger(__name__)

OPENING_TOPICS = ("ordering.order_paid", "ordering.order_reviewed")
CLOSING_TOPICS = ("ordering.order_cancelled", "ordering.order_rejected", "ordering.order_refunded")
PACKS_PER_SLOT = 4  # one bag slot (capacity unit) holds up to four packs


def subscribe_delivery_intake(bus: Any, *, uow_factory: Callable[[], DeliveryUnitOfWork]) -> None:
    for topic in OPENING_TOPICS:
        bus.subscribe(topic, lambda m: open_delivery(_order_id(m), uow_factory=uow_factory))
    for topic in CLOSING_TOPICS:
        bus.subscribe(topic, lambda m: close_delivery(m, uow_factory=uow_factory))


def open_delivery(order_id: str, *, uow_factory: Callable[[], DeliveryUnitOfWork]) -> bool:
    """Create (or re-time) the delivery of a paid delivery order; True when something was written."""
    with uow_factory() as uow:
        order = uow.orders.get(order_id)
        if order is None or order.fulfilment is not Fulfilment.DELIVERY or order.address is None:
            return False
        if order.status in CLOSED or OrderStatus.PAID not in order.entered_at:
            return False
        now = uow.clock.now()
        pharmacy = uow.pharmacies.get(order.pharmacy_id)
        prep = timedelta(minutes=pharmacy.prep_minutes if pharmacy else 0)
        start = _clock_start(order)
        existing = uow.deliveries.get(order.id)
        if existing is not None:
            changed = _retime(existing, start, order, max(now, start) + prep)
            if changed is not None:
                uow.deliveries.save(existing, changed, now)
                uow.commit()
            return changed is not None
        cold = False
        for line in order.lines:
            product = uow.products.get(line.product_id)
            cold = cold or bool(product is not None and product.cold_chain)
        packs = sum(line.quantity for line in order.lines)
        delivery = Delivery(
            order_id=order.id, city_id=order.city_id, pharmacy_id=order.pharmacy_id, pickup_code=new_code(),
            handover_code=new_code(), id_check=order.has_rx, cold_chain=cold, size=_slots(packs),
            dropoff_lat=order.address.lat, dropoff_lng=order.address.lng, placed_at=start,
            due_at=start + timedelta(minutes=order.promise_minutes),
            quoted_at=start + timedelta(minutes=order.quoted_eta_minutes), ready_at=max(now, start) + prep,
        )  # fmt: skip
        added = uow.deliveries.add_if_absent(delivery, now)
        uow.commit()
        return added


def close_delivery(message: dict[str, Any], *, uow_factory: Callable[[], DeliveryUnitOfWork]) -> bool:
    """Cancel the delivery of an order that was cancelled, rejected or fully refunded before pickup."""
    payload = message.get("payload") or {}
    if message.get("topic") == "ordering.order_refunded" and not payload.get("fully_refunded"):
        return False
    with uow_factory() as uow:
        delivery = uow.deliveries.get(_order_id(message))
        if delivery is None:
            return False
        before = delivery.version
        if not delivery.cancel():
            return False
        uow.deliveries.save(delivery, before, uow.clock.now())
        uow.commit()
        log.info("delivery_cancelled", order_id=delivery.order_id, topic=message.get("topic"))
        return True


def _clock_start(order: Order) -> datetime:
    """DL1: the promise runs from payment, or from approval; until approved, payment stands in."""
    return order.clock_started_at or order.entered_at[OrderStatus.PAID]


def _retime(d: Delivery, start: datetime, order: Order, ready_at: datetime) -> int | None:
    """Move an unassigned delivery's promise to a later clock start; the version it was read at, or None."""
    if d.state is not DeliveryState.UNASSIGNED or start <= d.placed_at:
        return None
    before = d.version
    d.placed_at, d.due_at = start, start + timedelta(minutes=order.promise_minutes)
    d.quoted_at, d.ready_at = start + timedelta(minutes=order.quoted_eta_minutes), ready_at
    d.version += 1
    return before


def _slots(packs: int) -> int:
    return max(1, math.ceil(packs / PACKS_PER_SLOT))


def _order_id(message: dict[str, Any]) -> str:
    return str((message.get("payload") or {}).get("order_id") or "")
