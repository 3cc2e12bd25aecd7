"""What a courier's phone asks for: go online or offline, report positions, and move a delivery on.

Every action but a position report carries an ``event_id`` the phone chose. The first request
with that id claims it in ``courier_events`` inside the action's own transaction, so it commits
with the change or not at all; a resend with the same body replays the stored answer and changes
nothing, the same id with another body is a 422. Position reports are ordered by the phone's
``seq`` instead: a repeated or older seq is a 409 (see ``positions.py``).

A courier acting on a delivery that is not theirs gets the same 404 as for a missing one, and the
attempt is audited as denied. The order moves through the ordering model (picked up, delivered,
delivery failed), so its events, outbox rows and audit happen as for every other transition.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from yaodao.accounts.model import AuditRecord
from yaodao.accounts.policy import Action, Actor, Scope, authorize
from yaodao.delivery.model import Courier, Delivery, DeliveryState, WrongState
from yaodao.delivery.ports import DeliveryUnitOfWork
from yaodao.delivery.positions import LastAccepted, PositionLimits, PositionReport, check_position
from yaodao.delivery.views import courier_view, delivery_view
from yaodao.dispatch.lateness import DeliveryTimeline, late_cause
from yaodao.dispatch.travel import HaversineTravelTimes
from yaodao.kernel.city import City
from yaodao.kernel.errors import Conflict, NotAuthenticated, NotFound, ValidationFailed
from yaodao.kernel.geo import LatLng
from yaodao.kernel.paging import Page, PageRequest
from yaodao.ordering.model import ActorRole, Order, OrderStatus
from yaodao.ports import CityRegistry

EVENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    cities: CityRegistry
    limits: PositionLimits = field(default_factory=PositionLimits)

    def city(self, city_id: str) -> City:
        city = self.cities.get(city_id)
        if city is None:
            raise NotFound(f"city {city_id} is not set up", field="city_id")
        return city


@dataclass(frozen=True, slots=True)
class Answer:
    """What the phone gets back, and whether it is the replay of an earlier request with this event_id."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


class EventIdReused(ValidationFailed):
    code = "event_id_reused"


# Reading ---------------------------------------------------------------------------------------


def me(*, uow: DeliveryUnitOfWork, actor: Actor) -> dict[str, Any]:
    with uow:
        courier = _courier_of(uow, actor)
        held = uow.deliveries.held_by(courier.user_id)
        return {"courier": courier_view(courier), "deliveries": [delivery_view(d) for d in held]}


def my_deliveries(
    *, uow: DeliveryUnitOfWork, actor: Actor, states: tuple[DeliveryState, ...], page: PageRequest
) -> Page[Delivery]:
    with uow:
        courier = _courier_of(uow, actor)
        return uow.deliveries.for_courier(courier.user_id, states, page)


# Going online and offline ----------------------------------------------------------------------


def go_online(*, uow: DeliveryUnitOfWork, actor: Actor, event_id: str) -> Answer:
    with uow:
        courier = _courier_of(uow, actor)

        def work(now: datetime) -> dict[str, Any]:
            covering = uow.couriers.shifts_between(courier.user_id, now, now + timedelta(microseconds=1))
            before = courier.version
            courier.go_online(now, shift_covers_now=bool(covering))
            uow.couriers.save(courier, before, now)
            _audit(uow, actor, "update", "courier", courier.user_id, {"action": "online"})
            return {"courier": courier_view(courier)}

        return _once(uow, courier, event_id, "online", None, {}, work)


def go_offline(*, uow: DeliveryUnitOfWork, actor: Actor, event_id: str) -> Answer:
    """Offline with nothing accepted in hand; assignments not yet accepted go back to the dispatcher."""
    with uow:
        courier = _courier_of(uow, actor)

        def work(now: datetime) -> dict[str, Any]:
            held = uow.deliveries.held_by(courier.user_id)
            before = courier.version
            courier.go_offline(carrying=sum(1 for d in held if d.accepted_at is not None))
            for delivery in held:
                version = delivery.version
                if delivery.release():
                    uow.deliveries.save(delivery, version, now)
            uow.couriers.save(courier, before, now)
            _audit(uow, actor, "update", "courier", courier.user_id, {"action": "offline"})
            return {"courier": courier_view(courier)}

        return _once(uow, courier, event_id, "offline", None, {}, work)


# Positions -------------------------------------------------------------------------------------


def report_position(
    *, uow: DeliveryUnitOfWork, actor: Actor, report: PositionReport, ctx: DeliveryContext
) -> dict[str, Any]:
    """Accept one position report, or refuse it and keep the courier's position as it was."""
    with uow:
        courier = _courier_of(uow, actor)
        if not courier.online:
            raise WrongState("go online before reporting positions", field="state")
        now = uow.clock.now()
        last = uow.couriers.last_accepted(courier.user_id) or LastAccepted(0, None, None, None)
        point = check_position(report, last, city=ctx.city(courier.city_id), now=now, limits=ctx.limits)
        before = courier.version
        courier.record_position(report.seq, point.lat, point.lng, report.at)
        uow.couriers.save(courier, before, now)
        uow.couriers.append_position(courier.user_id, report, now)
        uow.commit()
        return {"accepted": True, "seq": report.seq, "courier": courier_view(courier)}


# Delivery actions ------------------------------------------------------------------------------

Step = Callable[[DeliveryUnitOfWork, Courier, Delivery, datetime], None]


def accept(*, uow: DeliveryUnitOfWork, actor: Actor, order_id: str, event_id: str) -> Answer:
    def step(uow: DeliveryUnitOfWork, courier: Courier, d: Delivery, now: datetime) -> None:
        order = _order(uow, d.order_id)
        # The dispatcher assigns an order that needs review only once approved; this guards the courier side.
        if order.needs_review and not order.approved:
            raise WrongState("this order still waits for the pharmacist's approval", field="order_id")
        if order.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.REFUNDED):
            raise WrongState(f"order {order.id} is {order.status}; it will not be delivered", field="order_id")
        d.accept(courier.user_id, now)

    return _act(uow, actor, order_id, event_id, "accept", {}, step)


def arrived(*, uow: DeliveryUnitOfWork, actor: Actor, order_id: str, event_id: str) -> Answer:
    def step(uow: DeliveryUnitOfWork, courier: Courier, d: Delivery, now: datetime) -> None:
        d.arrive(courier.user_id, now)

    return _act(uow, actor, order_id, event_id, "arrived", {}, step)


def picked_up(*, uow: DeliveryUnitOfWork, actor: Actor, order_id: str, event_id: str, pickup_code: str) -> Answer:
    def step(uow: DeliveryUnitOfWork, courier: Courier, d: Delivery, now: datetime) -> None:
        d.pick_up(courier.user_id, pickup_code, now)
        order = _order(uow, d.order_id)
        if order.status is not OrderStatus.READY_FOR_PICKUP:
            raise WrongState(f"order {order.id} is {order.status}, not ready for pickup yet; wait", field="order_id")
        _move_order(uow, actor, order, lambda o: o.pick_up(now, ActorRole.COURIER, courier.user_id))

    return _act(uow, actor, order_id, event_id, "picked_up", {"pickup_code": pickup_code}, step)


def delivered(
    *, uow: DeliveryUnitOfWork, actor: Actor, order_id: str, event_id: str, handover_code: str, id_checked: bool,
    ctx: DeliveryContext,
) -> Answer:  # fmt: skip
    def step(uow: DeliveryUnitOfWork, courier: Courier, d: Delivery, now: datetime) -> None:
        d.hand_over(courier.user_id, handover_code, id_checked, now)
        order = _order(uow, d.order_id)
        _move_order(uow, actor, order, lambda o: o.deliver(now, ActorRole.COURIER))
        if d.late_minutes:
            d.late_cause = _late_cause(uow, d, order, ctx)

    body = {"handover_code": handover_code, "id_checked": id_checked}
    return _act(uow, actor, order_id, event_id, "delivered", body, step)


def failed(*, uow: DeliveryUnitOfWork, actor: Actor, order_id: str, event_id: str, reason: str) -> Answer:
    def step(uow: DeliveryUnitOfWork, courier: Courier, d: Delivery, now: datetime) -> None:
        d.fail(courier.user_id, reason, now)
        order = _order(uow, d.order_id)
        _move_order(uow, actor, order, lambda o: o.fail_delivery(now, ActorRole.COURIER, reason))

    return _act(uow, actor, order_id, event_id, "failed", {"reason": reason}, step)


# Machinery -------------------------------------------------------------------------------------


def _courier_of(uow: DeliveryUnitOfWork, actor: Actor) -> Courier:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    authorize(actor, Action.COURIER_ACT, Scope(owner_id=actor.user_id))
    courier = uow.couriers.get(actor.user_id)
    if courier is None:
        raise NotFound("you have no courier profile yet; ask an operator to register you", field="courier")
    return courier


def _act(
    uow: DeliveryUnitOfWork, actor: Actor, order_id: str, event_id: str, action: str, body: Mapping[str, Any],
    step: Step,
) -> Answer:  # fmt: skip
    with uow:
        courier = _courier_of(uow, actor)

        def work(now: datetime) -> dict[str, Any]:
            d = uow.deliveries.get(order_id)
            if d is None or d.courier_id != courier.user_id:
                if d is not None:  # someone else's: answer as if missing, and keep a record of the attempt
                    _audit_now(uow, actor, order_id, action)
                raise NotFound(f"delivery of order {order_id} not found", field="order_id")
            version, courier_version = d.version, courier.version
            step(uow, courier, d, now)
            uow.deliveries.save(d, version, now)
            courier.settle(uow.deliveries.held_by(courier.user_id))
            uow.couriers.save(courier, courier_version, now)
            _audit(uow, actor, "update", "delivery", order_id, {"action": action, "state": d.state.value})
            return {"delivery": delivery_view(d), "courier": courier_view(courier)}

        return _once(uow, courier, event_id, action, order_id, body, work)


def _once(
    uow: DeliveryUnitOfWork, courier: Courier, event_id: str, action: str, order_id: str | None,
    body: Mapping[str, Any], work: Callable[[datetime], dict[str, Any]],
) -> Answer:  # fmt: skip
    """Run ``work`` once per (courier, event_id) and commit; a resend of the same request replays."""
    if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
        raise ValidationFailed("event_id is 1 to 64 letters, digits or . _ : -", field="event_id")
    request = {"action": action, "order_id": order_id, **body}
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    now = uow.clock.now()
    claimed = uow.courier_events.claim(
        courier.user_id, event_id, action=action, order_id=order_id, request_sha256=digest, now=now
    )
    if not claimed:
        row = uow.courier_events.get(courier.user_id, event_id)
        if row is None or row["request_sha256"] != digest:
            raise EventIdReused(
                "this event_id was already used for a different action or body; send a new event_id",
                field="event_id",
            )
        if not row["response_status"]:
            raise Conflict("the first request with this event_id is still being handled", field="event_id")
        return Answer(int(row["response_status"]), json.loads(row["response_body"]), replayed=True)
    answer = work(now)
    uow.courier_events.finish(courier.user_id, event_id, 200, json.dumps(answer, separators=(",", ":")))
    uow.commit()
    return Answer(200, answer)


def _order(uow: DeliveryUnitOfWork, order_id: str) -> Order:
    order = uow.orders.get(order_id)
    if order is None:  # deliveries reference orders (foreign key)
        raise NotFound(f"order {order_id} not found", field="order_id")
    return order


def _move_order(uow: DeliveryUnitOfWork, actor: Actor, order: Order, move: Callable[[Order], None]) -> None:
    before, now = order.version, uow.clock.now()
    move(order)
    uow.orders.save(order, before, now)
    events, order.events = order.events, []
    for event in events:
        uow.emit(event)
    uow.audit(_record(uow, actor, "update", "order", order.id, order.patient_id, {}))


def _late_cause(uow: DeliveryUnitOfWork, d: Delivery, order: Order, ctx: DeliveryContext) -> str | None:
    """Why a late delivery was late (``dispatch.lateness``), from its timeline and the travel model."""
    pharmacy = uow.pharmacies.get(d.pharmacy_id)
    if pharmacy is None or d.picked_up_at is None or d.delivered_at is None:
        return None
    travel = HaversineTravelTimes(ctx.city(d.city_id))
    ready = order.entered_at.get(OrderStatus.READY_FOR_PICKUP, d.ready_at)
    direct = travel.minutes(pharmacy.location, LatLng(d.dropoff_lat, d.dropoff_lng), d.picked_up_at)
    ride = (d.delivered_at - d.picked_up_at).total_seconds() / 60.0
    # Alone in the bag, every minute beyond the modelled ride is travel the model underestimated;
    # in a bundle, the earlier drop-offs (the detour) take their share first.
    overrun = max(0.0, ride - direct) if d.bundle_id is None else 0.0
    timeline = DeliveryTimeline(
        clock_start=d.placed_at, promise_minutes=max(1.0, (d.due_at - d.placed_at).total_seconds() / 60.0),
        ready_at=ready, picked_up_at=max(d.picked_up_at, ready), delivered_at=d.delivered_at,
        direct_ride_minutes=direct, ride_overrun_minutes=overrun, expected_ready_at=d.ready_at,
    )  # fmt: skip
    cause = late_cause(timeline)
    return None if cause is None else cause.value


def _record(
    uow: DeliveryUnitOfWork, actor: Actor, action: str, kind: str, resource_id: str | None, patient_id: str | None,
    detail: dict[str, str], outcome: str = "ok",
) -> AuditRecord:  # fmt: skip
    return AuditRecord(
        at=uow.clock.now(), actor_id=actor.user_id, actor_roles=actor.roles_text, action=action,
        resource_type=kind, resource_id=resource_id, patient_id=patient_id, outcome=outcome,
        request_id=actor.request_id, ip=actor.ip, detail=detail,
    )  # fmt: skip


def _audit(
    uow: DeliveryUnitOfWork, actor: Actor, action: str, kind: str, resource_id: str, detail: dict[str, str]
) -> None:
    uow.audit(_record(uow, actor, action, kind, resource_id, None, detail))


def _audit_now(uow: DeliveryUnitOfWork, actor: Actor, order_id: str, action: str) -> None:
    uow.audit_now(_record(uow, actor, "denied", "delivery", order_id, None, {"action": action}, outcome="denied"))
