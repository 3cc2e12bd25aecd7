"""The order aggregate and its state machine, with the pharmacist review that gates Rx orders.

Happy path: created -> awaiting_payment -> paid -> [awaiting_review] -> accepted -> picking ->
ready_for_pickup -> picked_up -> delivered. An order with Rx lines or safety holds goes to
awaiting_review as it is paid, and no sequence of calls gets it to accepted without a recorded
pharmacist approval that resolves every hold (DOMAIN S2, DDI1; RELIABILITY I12). A self-pickup order
goes from ready_for_pickup straight to delivered when the customer collects it at the counter.

Every transition takes ``at``, checks ``TRANSITIONS``, stamps ``entered_at[status]``, bumps
``version`` (the optimistic-concurrency token of the root row) and appends one event. A refused
transition raises and changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from yaodao.catalog.model import DrugClass
from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import Conflict, PermissionDenied, ValidationFailed
from yaodao.kernel.events import Event
from yaodao.kernel.geo import LatLng
from yaodao.ordering import events
from yaodao.ordering.prescriptions import Finding, Review, ReviewResult
from yaodao.ordering.pricing import PriceBreakdown, require_fen

PAYMENT_WINDOW = timedelta(minutes=15)


class OrderStatus(enum.StrEnum):
    CREATED = "created"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    AWAITING_REVIEW = "awaiting_review"
    ACCEPTED = "accepted"
    PICKING = "picking"
    READY_FOR_PICKUP = "ready_for_pickup"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    REFUNDED = "refunded"


S = OrderStatus
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        S.CREATED: frozenset({S.AWAITING_PAYMENT, S.CANCELLED}),
        S.AWAITING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
        S.PAID: frozenset({S.AWAITING_REVIEW, S.ACCEPTED, S.CANCELLED, S.REJECTED}),
        S.AWAITING_REVIEW: frozenset({S.ACCEPTED, S.CANCELLED, S.REJECTED}),
        S.ACCEPTED: frozenset({S.PICKING, S.REJECTED}),
        S.PICKING: frozenset({S.READY_FOR_PICKUP}),
        S.READY_FOR_PICKUP: frozenset({S.PICKED_UP, S.DELIVERED}),
        S.PICKED_UP: frozenset({S.DELIVERED, S.DELIVERY_FAILED}),
        S.DELIVERED: frozenset({S.REFUNDED}),
        S.DELIVERY_FAILED: frozenset({S.REFUNDED}),
        S.CANCELLED: frozenset({S.REFUNDED}),
        S.REJECTED: frozenset({S.REFUNDED}),
        S.REFUNDED: frozenset(),
    }
)
CLOSED = frozenset({S.DELIVERED, S.DELIVERY_FAILED, S.CANCELLED, S.REJECTED, S.REFUNDED})
DISPENSED = frozenset({S.ACCEPTED, S.PICKING, S.READY_FOR_PICKUP, S.PICKED_UP, S.DELIVERED, S.DELIVERY_FAILED})


class ActorRole(enum.StrEnum):
    """Who acts on an order; the values match ``accounts.model.Role`` plus the system itself."""

    PATIENT = "patient"
    PHARMACIST = "pharmacist"
    STORE_STAFF = "store_staff"
    COURIER = "courier"
    OPERATOR = "operator"
    SYSTEM = "system"


class Fulfilment(enum.StrEnum):
    DELIVERY = "delivery"
    PICKUP = "pickup"  # the customer collects at the pharmacy counter


PHARMACY = frozenset({ActorRole.PHARMACIST, ActorRole.STORE_STAFF})
ALLOWED_ROLES: Mapping[str, frozenset[ActorRole]] = MappingProxyType(
    {
        "cancel": frozenset({ActorRole.PATIENT, ActorRole.OPERATOR}),
        "accept": PHARMACY,
        "reject": PHARMACY,
        "start_picking": PHARMACY,
        "mark_ready": PHARMACY,
        "pick_up": frozenset({ActorRole.COURIER}),
        "deliver": frozenset({ActorRole.COURIER}) | PHARMACY,
        "fail_delivery": frozenset({ActorRole.COURIER, ActorRole.OPERATOR}),
    }
)


@dataclass(frozen=True, slots=True)
class OrderLine:
    product_id: str
    sku: str
    name: str
    drug_class: DrugClass
    quantity: int  # packs
    unit_price_fen: int
    line_total_fen: int
    prescription_id: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity < 1:
            raise ValidationFailed("quantity must be a whole number of packs, 1 or more", field="quantity")
        # S5: Rx and class-A OTC are never given away, so only they must carry a price.
        require_fen(self.unit_price_fen, "unit_price_fen", positive=self.drug_class in (DrugClass.RX, DrugClass.OTC_A))
        if require_fen(self.line_total_fen, "line_total_fen") != self.unit_price_fen * self.quantity:
            raise ValidationFailed("line_total_fen must equal unit_price_fen x quantity", field="line_total_fen")
        if self.drug_class is DrugClass.RX and not self.prescription_id:
            raise ValidationFailed(f"Rx line {self.sku} needs its prescription_id", field="prescription_id")


@dataclass(frozen=True, slots=True)
class AddressSnapshot:
    """Where to deliver, copied onto the order so later address edits do not move it."""

    lat: float
    lng: float
    text: str

    def __post_init__(self) -> None:
        LatLng(self.lat, self.lng)  # validates the coordinates
        if not self.text.strip():
            raise ValidationFailed("the delivery address text must not be empty", field="address")

    @property
    def location(self) -> LatLng:
        return LatLng(self.lat, self.lng)


class IllegalTransition(Conflict):
    """A transition the order's state does not allow; the message says the state and why."""

    code = "illegal_transition"

    def __init__(self, order_id: str, status: OrderStatus, reason: str) -> None:
        super().__init__(f"order {order_id} is {status}: {reason}", field="status")
        self.order_id = order_id
        self.status = status


# For explanations: the happy path's order, and per action its target, "before ..." clause and past participle.
_HAPPY_PATH = (S.CREATED, S.AWAITING_PAYMENT, S.PAID, S.AWAITING_REVIEW, S.ACCEPTED, S.PICKING, S.READY_FOR_PICKUP)
_RANK = {s: i for i, s in enumerate((*_HAPPY_PATH, S.PICKED_UP, S.DELIVERED))}
_ACTIONS: Mapping[str, tuple[OrderStatus | None, str, str]] = MappingProxyType(
    {
        "submit": (S.AWAITING_PAYMENT, "it is submitted for payment", "submitted for payment"),
        "pay": (S.PAID, "it is paid", "paid"),
        "review": (S.AWAITING_REVIEW, "it is reviewed", "reviewed"),
        "accept": (S.ACCEPTED, "the pharmacy accepts it", "accepted"),
        "start_picking": (S.PICKING, "picking starts", "picked"),
        "mark_ready": (S.READY_FOR_PICKUP, "it is ready for pickup", "made ready"),
        "pick_up": (S.PICKED_UP, "a courier picks it up", "picked up"),
        "deliver": (S.DELIVERED, "it is delivered", "delivered"),
        "fail_delivery": (S.PICKED_UP, "its delivery can fail", "marked as failed"),
        "cancel": (None, "", "cancelled"),
        "expire": (None, "", "expired"),
        "reject": (None, "", "rejected"),
        "refund": (None, "", "refunded"),
    }
)
_UNPAID = frozenset({S.CREATED, S.AWAITING_PAYMENT})
_NEXT = {
    S.CREATED: "it must be submitted for payment",
    S.AWAITING_PAYMENT: "it must be paid",
    S.PAID: "the pharmacy must accept it",
    S.ACCEPTED: "the pharmacy must start picking",
    S.PICKING: "the pharmacy must finish picking",
    S.READY_FOR_PICKUP: "it must be handed over",
    S.PICKED_UP: "the courier must deliver it",
}


@dataclass(slots=True, kw_only=True)
class Order:
    id: str
    city_id: str
    user_id: str  # the buyer's account
    patient_id: str  # the buyer or one of their family members
    pharmacy_id: str
    lines: tuple[OrderLine, ...]
    price: PriceBreakdown
    fulfilment: Fulfilment
    address: AddressSnapshot | None
    promise_minutes: int
    quoted_eta_minutes: int
    expires_at: datetime
    status: OrderStatus = S.CREATED
    holds: tuple[Finding, ...] = ()  # from the safety gate, for the pharmacist
    review: Review | None = None  # the decisive review: the approval, or the rejection
    payment_ref: str | None = None
    paid_fen: int = 0
    refunded_fen: int = 0
    cancel_reason: str | None = None
    reject_reason: str | None = None
    failure_reason: str | None = None
    closed_by: ActorRole | None = None
    entered_at: dict[OrderStatus, datetime] = field(default_factory=dict)
    version: int = 1
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def create(
        cls,
        *,
        id: str,
        city_id: str,
        user_id: str,
        patient_id: str,
        pharmacy_id: str,
        lines: tuple[OrderLine, ...],
        price: PriceBreakdown,
        fulfilment: Fulfilment,
        address: AddressSnapshot | None,
        promise_minutes: int,
        quoted_eta_minutes: int,
        at: datetime,
        holds: tuple[Finding, ...] = (),
        payment_window: timedelta = PAYMENT_WINDOW,
    ) -> Order:
        """A new order in ``created`` that expires unpaid after ``payment_window``."""
        require_aware(at)
        if payment_window <= timedelta(0):
            raise ValidationFailed("payment_window must be positive", field="payment_window")
        order = cls(
            id=id, city_id=city_id, user_id=user_id, patient_id=patient_id, pharmacy_id=pharmacy_id, lines=lines,
            price=price, fulfilment=fulfilment, address=address, promise_minutes=promise_minutes,
            quoted_eta_minutes=quoted_eta_minutes, expires_at=at + payment_window, holds=holds,
            entered_at={S.CREATED: at},
        )  # fmt: skip
        order._check()
        order._emit(
            events.OrderCreated, user_id=user_id, patient_id=patient_id, pharmacy_id=pharmacy_id, has_rx=order.has_rx,
            total_fen=price.total_fen, fulfilment=fulfilment.value, expires_at=order.expires_at,
        )  # fmt: skip
        return order

    def _check(self) -> None:
        if not self.lines:
            raise ValidationFailed("an order needs at least one line", field="lines")
        if self.price.items_subtotal_fen != sum(line.line_total_fen for line in self.lines):
            raise ValidationFailed("price.items_subtotal_fen must equal the sum of the line totals", field="price")
        if self.fulfilment is Fulfilment.DELIVERY and self.address is None:
            raise ValidationFailed("a delivery order needs an address", field="address")
        if self.promise_minutes <= 0 or self.quoted_eta_minutes <= 0:
            raise ValidationFailed("promise_minutes and quoted_eta_minutes must be positive", field="promise_minutes")

    # What the order is -------------------------------------------------------------------------

    @property
    def has_rx(self) -> bool:
        return any(line.drug_class is DrugClass.RX for line in self.lines)

    @property
    def needs_review(self) -> bool:
        return self.has_rx or bool(self.holds)

    @property
    def approved(self) -> bool:
        return self.review is not None and self.review.result is ReviewResult.APPROVE

    @property
    def refund_due_fen(self) -> int:
        """What was paid and not yet refunded on an order that will not be fulfilled."""
        unfulfilled = self.status in (S.CANCELLED, S.REJECTED, S.DELIVERY_FAILED)
        return self.paid_fen - self.refunded_fen if unfulfilled else 0

    @property
    def clock_started_at(self) -> datetime | None:
        """DL1: the promise runs from payment, or from the pharmacist's approval for reviewed orders."""
        if not self.needs_review:
            return self.entered_at.get(S.PAID)
        return self.review.at if self.review is not None and self.approved else None

    # Transitions -------------------------------------------------------------------------------

    def submit_for_payment(self, at: datetime) -> None:
        self._move("submit", S.AWAITING_PAYMENT, at)
        self._emit(events.OrderAwaitingPayment, total_fen=self.price.total_fen, expires_at=self.expires_at)

    def mark_paid(self, payment_ref: str, amount_fen: int, at: datetime) -> None:
        """The wallet confirmed payment; an order that needs a pharmacist moves on to awaiting_review."""
        if require_fen(amount_fen, "amount_fen") != self.price.total_fen:
            raise Conflict(f"order {self.id} costs {self.price.total_fen} fen, not {amount_fen}", field="amount_fen")
        if not payment_ref:
            raise ValidationFailed("payment_ref must not be empty", field="payment_ref")
        self._move("pay", S.PAID, at)
        self.payment_ref, self.paid_fen = payment_ref, amount_fen
        self._emit(events.OrderPaid, payment_ref=payment_ref, amount_fen=amount_fen)
        if self.needs_review:
            self.status = S.AWAITING_REVIEW
            self.entered_at[S.AWAITING_REVIEW] = at
            codes = tuple(h.code for h in self.holds)
            self._emit(events.OrderReviewRequested, pharmacy_id=self.pharmacy_id, has_rx=self.has_rx, hold_codes=codes)

    def apply_review(self, review: Review) -> None:
        """Record a pharmacist's decision: an approval must resolve every hold; a rejection closes the order."""
        if self.status is not S.AWAITING_REVIEW:
            raise self._illegal("review")
        self._check_time(review.at)
        approve = review.result is ReviewResult.APPROVE
        if approve and (problems := review.unresolved(self.holds)):
            raise ValidationFailed(
                "; ".join(problems), field="resolutions", errors=[("resolutions", p) for p in problems]
            )
        if approve:
            self.version += 1
        else:
            self._close("reject", S.REJECTED, review.at, ActorRole.PHARMACIST, review.reason)
        self.review = review
        second = review.second_pharmacist_id
        self._emit(
            events.OrderReviewed,
            result=review.result.value,
            pharmacist_id=review.pharmacist_id,
            second_pharmacist_id=second,
        )
        if not approve:
            self._emit(events.OrderRejected, by="pharmacist", reason=review.reason, refund_due_fen=self.refund_due_fen)

    def accept(self, at: datetime, by: ActorRole) -> None:
        self._allow("accept", by)
        if self.status in (S.PAID, S.AWAITING_REVIEW) and self.needs_review and not self.approved:
            raise self._illegal("accept", as_if=S.AWAITING_REVIEW)
        self._move("accept", S.ACCEPTED, at)
        self._emit(events.OrderAccepted, pharmacy_id=self.pharmacy_id)

    def start_picking(self, at: datetime, by: ActorRole) -> None:
        self._allow("start_picking", by)
        self._move("start_picking", S.PICKING, at)
        self._emit(events.OrderPickingStarted, pharmacy_id=self.pharmacy_id)

    def mark_ready(self, at: datetime, by: ActorRole) -> None:
        self._allow("mark_ready", by)
        self._move("mark_ready", S.READY_FOR_PICKUP, at)
        self._emit(
            events.OrderReadyForPickup, pharmacy_id=self.pharmacy_id, fulfilment=self.fulfilment.value,
            promise_minutes=self.promise_minutes, clock_started_at=self.clock_started_at,
        )  # fmt: skip

    def pick_up(self, at: datetime, by: ActorRole, courier_id: str | None = None) -> None:
        self._allow("pick_up", by)
        if self.fulfilment is Fulfilment.PICKUP:
            raise IllegalTransition(self.id, self.status, "the customer collects it at the counter; no courier does")
        self._move("pick_up", S.PICKED_UP, at)
        self._emit(events.OrderPickedUp, courier_id=courier_id)

    def deliver(self, at: datetime, by: ActorRole) -> None:
        """A courier hands it over at the door, or the pharmacy at the counter for a self-pickup order."""
        self._allow("deliver", by)
        counter = self.fulfilment is Fulfilment.PICKUP
        if self.status is S.READY_FOR_PICKUP and not counter:
            raise IllegalTransition(self.id, self.status, "a courier must pick it up before it is delivered")
        if (by is ActorRole.COURIER) == counter:
            raise PermissionDenied(f"a {by} does not hand over {self.fulfilment} orders", field="by")
        self._move("deliver", S.DELIVERED, at)
        self._emit(
            events.OrderDelivered, fulfilment=self.fulfilment.value, promise_minutes=self.promise_minutes,
            clock_started_at=self.clock_started_at, delivered_at=at,
        )  # fmt: skip

    def fail_delivery(self, at: datetime, by: ActorRole, reason: str) -> None:
        self._allow("fail_delivery", by)
        _require_reason(reason)
        self._move("fail_delivery", S.DELIVERY_FAILED, at)
        self.failure_reason, self.closed_by = reason, by
        self._emit(events.OrderDeliveryFailed, reason=reason, refund_due_fen=self.refund_due_fen)

    def cancel(self, at: datetime, by: ActorRole, reason: str) -> None:
        """The buyer (or an operator) withdraws the order: freely before payment, after it until acceptance."""
        self._allow("cancel", by)
        _require_reason(reason)
        if self.status not in (S.CREATED, S.AWAITING_PAYMENT, S.PAID, S.AWAITING_REVIEW):
            raise self._illegal("cancel")
        self._close("cancel", S.CANCELLED, at, by, reason)
        self._emit(events.OrderCancelled, by=by.value, reason=reason, expired=False, refund_due_fen=self.refund_due_fen)

    def expire(self, at: datetime) -> None:
        """An unpaid order lapses, but only once ``expires_at`` has passed."""
        if self.status not in (S.CREATED, S.AWAITING_PAYMENT):
            raise self._illegal("expire")
        if require_aware(at) < self.expires_at:
            raise IllegalTransition(
                self.id, self.status, f"it is unpaid but expires only at {self.expires_at.isoformat()}"
            )
        self._close("expire", S.CANCELLED, at, ActorRole.SYSTEM, "expired")
        self._emit(events.OrderCancelled, by=ActorRole.SYSTEM.value, reason="expired", expired=True, refund_due_fen=0)

    def reject(self, at: datetime, by: ActorRole, reason: str) -> None:
        """The pharmacy (or its pharmacist) refuses a paid order before picking starts; the money goes back."""
        self._allow("reject", by)
        _require_reason(reason)
        if self.status not in (S.PAID, S.AWAITING_REVIEW, S.ACCEPTED):
            raise self._illegal("reject")
        self._close("reject", S.REJECTED, at, by, reason)
        self._emit(events.OrderRejected, by=by.value, reason=reason, refund_due_fen=self.refund_due_fen)

    def record_refund(self, refund_ref: str, amount_fen: int, at: datetime) -> None:
        """Record money returned. A partial refund keeps the state; the one that completes it closes the order."""
        amount = require_fen(amount_fen, "amount_fen", positive=True)
        if not refund_ref:
            raise ValidationFailed("refund_ref must not be empty", field="refund_ref")
        if S.PAID not in self.entered_at or self.status is S.REFUNDED:
            raise self._illegal("refund")
        total = self.refunded_fen + amount
        if total > self.paid_fen:
            raise Conflict(
                f"order {self.id}: refunds would reach {total} of {self.paid_fen} fen paid", field="amount_fen"
            )
        full = total == self.paid_fen
        if full and S.REFUNDED not in TRANSITIONS[self.status]:
            reason = "a full refund needs the order cancelled, rejected, failed or delivered first"
            raise IllegalTransition(self.id, self.status, reason)
        if full:
            self._move("refund", S.REFUNDED, at)
        else:
            self._check_time(at)
            self.version += 1
        self.refunded_fen = total
        self._emit(
            events.OrderRefunded, refund_ref=refund_ref, amount_fen=amount, refunded_fen=total, fully_refunded=full
        )

    # Machinery ---------------------------------------------------------------------------------

    def _emit(self, kind: Callable[..., Event], **fields: Any) -> None:
        self.events.append(kind(order_id=self.id, city_id=self.city_id, **fields))

    def _check_time(self, at: datetime) -> None:
        require_aware(at)
        last = max((*self.entered_at.values(), *((self.review.at,) if self.review else ())), default=None)
        if last is not None and at < last:
            raise ValidationFailed(
                f"at {at.isoformat()} is before the order's last change, {last.isoformat()}", field="at"
            )

    def _move(self, action: str, to: OrderStatus, at: datetime) -> None:
        if to not in TRANSITIONS[self.status]:
            raise self._illegal(action)
        self._check_time(at)
        self.status = to
        self.entered_at[to] = at
        self.version += 1

    def _close(self, action: str, to: OrderStatus, at: datetime, by: ActorRole, reason: str) -> None:
        self._move(action, to, at)
        self.closed_by = by
        if to is S.CANCELLED:
            self.cancel_reason = reason
        else:
            self.reject_reason = reason

    def _allow(self, action: str, by: ActorRole) -> None:
        if by not in ALLOWED_ROLES[action]:
            raise PermissionDenied(f"a {by} may not {action.replace('_', ' ')} order {self.id}", field="by")

    def _illegal(self, action: str, as_if: OrderStatus | None = None) -> IllegalTransition:
        """Why ``action`` is not possible now, naming what has to happen first."""
        s = as_if or self.status
        target, when, done = _ACTIONS[action]
        if s in CLOSED:
            reason = f"it is closed and cannot be {done}"
        elif action in ("cancel", "expire") and _RANK[s] >= _RANK[S.ACCEPTED]:
            reason = f"the pharmacy has accepted it, so it can no longer be {done}"
        elif action == "expire":
            reason = "it has been paid and no longer expires"
        elif action == "reject":
            reason = "it has not been paid; cancel it instead" if s in _UNPAID else "picking has started, too late"
        elif action == "refund":
            reason = "it has not been paid, so there is nothing to refund"
        elif action == "review" and s not in _UNPAID and not self.needs_review:
            reason = "it has no prescription and no safety hold, so it needs no pharmacist review"
        elif target is None or _RANK[target] <= _RANK[s]:
            reason = f"it has already been {done}"
        elif s is S.AWAITING_REVIEW:
            who = "approve the prescription" if self.has_rx else "clear its safety holds"
            reason = f"a pharmacist must {who} before {when}"
        else:
            reason = f"{_NEXT[s]} before {when}"
        return IllegalTransition(self.id, self.status, reason)


def _require_reason(reason: str) -> None:
    if not reason.strip():
        raise ValidationFailed("a reason is required", field="reason")
