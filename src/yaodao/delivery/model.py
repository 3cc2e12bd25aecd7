"""Couriers and deliveries: their states, the transitions a courier's phone may ask for, and the codes.

A delivery goes unassigned -> assigned -> at_pickup -> picked_up -> delivered | failed, and can be
cancelled until it is picked up. The dispatcher assigns (and may re-assign until the courier
accepts); the courier accepts, arrives at the pharmacy, picks up with the pharmacy's code and
hands over with the customer's. Every transition checks ``TRANSITIONS``, stamps its time and bumps
``version``; a refused transition raises ``WrongState`` (409) and changes nothing.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import Conflict, ValidationFailed

CODE_DIGITS = 6
MAX_SHIFT = timedelta(hours=12)
MAX_CAPACITY = 10


class CourierState(enum.StrEnum):
    OFFLINE = "offline"
    IDLE = "idle"
    TO_PICKUP = "to_pickup"
    WAITING = "waiting"  # at the pharmacy, for the order to be handed over
    TO_DROPOFF = "to_dropoff"


class Vehicle(enum.StrEnum):
    E_BIKE = "e_bike"
    BICYCLE = "bicycle"
    ON_FOOT = "on_foot"


class DeliveryState(enum.StrEnum):
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    AT_PICKUP = "at_pickup"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FailureReason(enum.StrEnum):
    CUSTOMER_ABSENT = "customer_absent"
    ADDRESS_WRONG = "address_wrong"
    REFUSED = "refused"
    ID_CHECK_FAILED = "id_check_failed"
    DAMAGED = "damaged"
    UNSAFE = "unsafe"


D = DeliveryState
TRANSITIONS: Mapping[DeliveryState, frozenset[DeliveryState]] = MappingProxyType(
    {
        D.UNASSIGNED: frozenset({D.ASSIGNED, D.CANCELLED}),
        D.ASSIGNED: frozenset({D.UNASSIGNED, D.AT_PICKUP, D.CANCELLED}),
        D.AT_PICKUP: frozenset({D.PICKED_UP, D.CANCELLED}),
        D.PICKED_UP: frozenset({D.DELIVERED, D.FAILED}),
        D.DELIVERED: frozenset(),
        D.FAILED: frozenset(),
        D.CANCELLED: frozenset(),
    }
)
OPEN = frozenset({D.UNASSIGNED, D.ASSIGNED, D.AT_PICKUP, D.PICKED_UP})
# A courier holds these: accepted and not yet handed over (or failed).
HELD = frozenset({D.ASSIGNED, D.AT_PICKUP, D.PICKED_UP})


class WrongState(Conflict):
    """An action the delivery's or courier's state does not allow; the message says why (409)."""

    code = "wrong_state"


def new_code() -> str:
    """A 6-digit code from the operating system's CSPRNG (leading zeros kept)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def codes_match(expected: str, given: str) -> bool:
    """Compare a code in constant time, so the answer's timing does not leak its digits."""
    return secrets.compare_digest(expected.encode(), given.strip().encode())


@dataclass(slots=True, kw_only=True)
class Courier:
    user_id: str
    city_id: str
    first_name: str
    phone: str
    vehicle: Vehicle = Vehicle.E_BIKE
    capacity: int = 3
    cold_chain: bool = False
    state: CourierState = CourierState.OFFLINE
    lat: float | None = None
    lng: float | None = None
    position_at: datetime | None = None
    position_seq: int = 0
    online_since: datetime | None = None
    active: bool = True
    version: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.capacity, bool) or not 1 <= self.capacity <= MAX_CAPACITY:
            raise ValidationFailed(f"capacity must be from 1 to {MAX_CAPACITY} parcels", field="capacity")
        if not self.first_name.strip():
            raise ValidationFailed("a courier needs a first name", field="first_name")
        if not self.phone.strip():
            raise ValidationFailed("a courier needs a phone number", field="phone")

    @property
    def online(self) -> bool:
        return self.state is not CourierState.OFFLINE

    @property
    def masked_phone(self) -> str:
        """What a customer sees: the first three and last four digits."""
        digits = self.phone.strip()
        return digits[:3] + "*" * max(0, len(digits) - 7) + digits[-4:] if len(digits) > 7 else "*" * len(digits)

    def go_online(self, at: datetime, shift_covers_now: bool) -> None:
        require_aware(at)
        if not self.active:
            raise WrongState("this courier account is suspended; ask an operator", field="state")
        if self.online:
            return  # already online: going online again changes nothing
        if not shift_covers_now:
            raise WrongState("no shift of yours covers now; you can go online only during a shift", field="state")
        self.state, self.online_since = CourierState.IDLE, at
        self.version += 1

    def go_offline(self, carrying: int) -> None:
        if carrying:
            raise WrongState(
                f"you still hold {carrying} accepted deliveries; hand them over before going offline", field="state"
            )
        if not self.online:
            return
        self.state, self.online_since = CourierState.OFFLINE, None
        self.version += 1

    def record_position(self, seq: int, lat: float, lng: float, at: datetime) -> None:
        """Keep an accepted report (checked by ``positions.check_position``) as the courier's position."""
        if not self.online:
            raise WrongState("go online before reporting positions", field="state")
        self.lat, self.lng, self.position_at, self.position_seq = lat, lng, require_aware(at), seq
        self.version += 1

    def settle(self, held: list[Delivery]) -> None:
        """The courier's state from the deliveries they hold: riding to a door beats riding to a pharmacy."""
        if not self.online:
            return
        states = {d.state for d in held if d.accepted_at is not None}
        if D.PICKED_UP in states and D.AT_PICKUP not in states:
            new = CourierState.TO_DROPOFF
        elif D.AT_PICKUP in states:
            new = CourierState.WAITING
        elif D.ASSIGNED in states:
            new = CourierState.TO_PICKUP
        else:
            new = CourierState.IDLE
        if new is not self.state:
            self.state = new
            self.version += 1


@dataclass(frozen=True, slots=True)
class Shift:
    id: str
    courier_id: str
    city_id: str
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        require_aware(self.starts_at)
        require_aware(self.ends_at)
        if self.ends_at <= self.starts_at:
            raise ValidationFailed("a shift ends after it starts", field="ends_at")
        if self.ends_at - self.starts_at > MAX_SHIFT:
            raise ValidationFailed("a shift lasts at most 12 hours", field="ends_at")

    def overlaps(self, other: Shift) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(slots=True, kw_only=True)
class Delivery:
    order_id: str
    city_id: str
    pharmacy_id: str
    pickup_code: str
    handover_code: str
    id_check: bool
    cold_chain: bool
    size: int
    dropoff_lat: float
    dropoff_lng: float
    placed_at: datetime
    due_at: datetime
    quoted_at: datetime
    ready_at: datetime
    state: DeliveryState = D.UNASSIGNED
    courier_id: str | None = None
    bundle_id: str | None = None
    bundle_seq: int | None = None
    eta_at: datetime | None = None
    assigned_at: datetime | None = None
    accepted_at: datetime | None = None
    arrived_pickup_at: datetime | None = None
    picked_up_at: datetime | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
    failure_reason: str | None = None
    late_cause: str | None = None
    late_minutes: int | None = None
    version: int = 1

    # Transitions the courier asks for ---------------------------------------------------------

    def accept(self, courier_id: str, at: datetime) -> None:
        self._mine(courier_id)
        if self.state is not D.ASSIGNED:
            raise self._wrong("accepted", "only an assigned delivery can be accepted")
        if self.accepted_at is not None:
            raise self._wrong("accepted", "you have already accepted it")
        self.accepted_at = self._time(at)
        self.version += 1

    def arrive(self, courier_id: str, at: datetime) -> None:
        self._mine(courier_id)
        self._accepted("arrive at the pharmacy")
        self._move(D.AT_PICKUP, "arrive at the pharmacy")
        self.arrived_pickup_at = self._time(at)

    def pick_up(self, courier_id: str, code: str, at: datetime) -> None:
        self._mine(courier_id)
        self._accepted("pick it up")
        if self.state is not D.AT_PICKUP:
            raise self._wrong("picked up", "tell us you have arrived at the pharmacy first")
        if not codes_match(self.pickup_code, code):
            raise ValidationFailed("the pickup code does not match; ask the pharmacy again", field="pickup_code")
        self._move(D.PICKED_UP, "pick it up")
        self.picked_up_at = self._time(at)

    def hand_over(self, courier_id: str, code: str, id_checked: bool, at: datetime) -> None:
        self._mine(courier_id)
        if self.state is not D.PICKED_UP:
            raise self._wrong("delivered", "pick it up at the pharmacy first")
        if not codes_match(self.handover_code, code):
            raise ValidationFailed("the handover code does not match; ask the customer again", field="handover_code")
        if self.id_check and not id_checked:
            raise ValidationFailed(
                "a prescription order is handed over only after checking the patient's ID", field="id_checked"
            )
        self._move(D.DELIVERED, "deliver it")
        self.delivered_at = self._time(at)
        self.late_minutes = max(0, _ceil_minutes(self.delivered_at - self.due_at))

    def fail(self, courier_id: str, reason: str, at: datetime) -> None:
        self._mine(courier_id)
        if reason not in FailureReason.__members__.values():
            allowed = ", ".join(r.value for r in FailureReason)
            raise ValidationFailed(f"reason must be one of {allowed}", field="reason")
        if self.state is not D.PICKED_UP:
            raise self._wrong("marked as failed", "only a picked-up delivery can fail at the door")
        self._move(D.FAILED, "mark it failed")
        self.failed_at, self.failure_reason = self._time(at), reason

    def release(self) -> bool:
        """Give an assignment the courier has not accepted back to the dispatcher (the courier went offline)."""
        if self.state is not D.ASSIGNED or self.accepted_at is not None:
            return False
        self.state, self.courier_id, self.assigned_at, self.eta_at = D.UNASSIGNED, None, None, None
        self.bundle_id = self.bundle_seq = None
        self.version += 1
        return True

    def cancel(self) -> bool:
        """The order will not be delivered; False when it is too late (picked up) or already closed."""
        if D.CANCELLED not in TRANSITIONS[self.state]:
            return False
        self.state = D.CANCELLED
        self.version += 1
        return True

    # Machinery --------------------------------------------------------------------------------

    def _mine(self, courier_id: str) -> None:
        # Callers answer 404 for someone else's delivery; this guard keeps the model honest too.
        if self.courier_id != courier_id:
            raise ValidationFailed("this delivery is not assigned to you", field="order_id")

    def _accepted(self, what: str) -> None:
        if self.state is D.ASSIGNED and self.accepted_at is None:
            raise self._wrong(what, "accept it first")

    def _move(self, to: DeliveryState, what: str) -> None:
        if to not in TRANSITIONS[self.state]:
            raise self._wrong(what, "")
        self.state = to
        self.version += 1

    def _wrong(self, what: str, why: str) -> WrongState:
        because = why or f"a delivery that is {self.state} cannot {what}"
        return WrongState(f"delivery of order {self.order_id} is {self.state}: {because}", field="state")

    def _time(self, at: datetime) -> datetime:
        require_aware(at)
        return at


def _ceil_minutes(delta: timedelta) -> int:
    seconds = delta.total_seconds()
    return int(-(-seconds // 60))
