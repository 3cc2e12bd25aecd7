"""RELIABILITY I12 / DOMAIN S2, DDI1: whatever sequence of events arrives, an order that needs a pharmacist
never reaches accepted (nor anything after it) without a recorded approval that resolves every hold.

A Hypothesis state machine fires every transition in random order, with random roles, amounts and
times (skipped steps, repeats, out-of-order and stale events included). A refused call must leave the
order exactly as it was; an accepted one bumps the version by one and appends its events.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from yaodao.catalog.model import DrugClass
from yaodao.kernel.errors import DomainError
from yaodao.ordering.model import DISPENSED, ActorRole, AddressSnapshot, Fulfilment, Order, OrderLine, OrderStatus
from yaodao.ordering.prescriptions import ChecklistItem, Finding, Review, ReviewResult
from yaodao.ordering.pricing import PricingRules, quote

T0 = datetime(2025, 6, 1, 23, 50, tzinfo=ZoneInfo("Asia/Shanghai"))
OTC = OrderLine("pr-ibu", "ibuprofen-tabs", "布洛芬片", DrugClass.OTC_A, 1, 1250, 1250)
RX = OrderLine("pr-amox", "amoxicillin-caps", "阿莫西林胶囊", DrugClass.RX, 1, 1800, 1800, "rx-1")
ACTIONS = (
    "submit",
    "pay",
    "review",
    "accept",
    "start_picking",
    "mark_ready",
    "pick_up",
    "deliver",
    "fail_delivery",
    "cancel",
    "expire",
    "reject",
    "refund",
)


class OrderMachine(RuleBasedStateMachine):
    order: Order

    @initialize(
        rx=st.booleans(),
        severities=st.lists(st.sampled_from(["moderate", "major", "contraindicated", "unknown"]), max_size=2),
        pickup=st.booleans(),
    )
    def create(self, rx: bool, severities: list[str], pickup: bool) -> None:
        lines = (OTC, RX) if rx else (OTC,)
        holds = tuple(Finding("interaction", f"alert {i}", "pr-ibu", f"x{i}", sev) for i, sev in enumerate(severities))
        fulfilment = Fulfilment.PICKUP if pickup else Fulfilment.DELIVERY
        self.order = Order.create(
            id="o-sm", city_id="hangzhou", user_id="u", patient_id="p", pharmacy_id="ph", lines=lines,
            price=quote(lines, PricingRules(), True, pickup=pickup), fulfilment=fulfilment,
            address=None if pickup else AddressSnapshot(30.26, 120.15, "北山街1号"),
            promise_minutes=60, quoted_eta_minutes=50, at=T0, holds=holds,
        )  # fmt: skip
        self.now = T0
        self.expected_version = 1

    @rule(
        action=st.sampled_from(ACTIONS),
        role=st.sampled_from(list(ActorRole)),
        minutes=st.integers(min_value=-3, max_value=20),
        variant=st.integers(min_value=0, max_value=4),
    )
    def fire(self, action: str, role: ActorRole, minutes: int, variant: int) -> None:
        self._attempt(action, role, self.now + timedelta(minutes=minutes), variant)

    @rule(minutes=st.integers(min_value=0, max_value=10), variant=st.integers(min_value=0, max_value=4))
    def advance(self, minutes: int, variant: int) -> None:
        """The next step of the happy path with the right role, so deep states are reached too."""
        o, staff = self.order, ActorRole.STORE_STAFF
        step: dict[OrderStatus, tuple[str, ActorRole]] = {
            OrderStatus.CREATED: ("submit", staff),
            OrderStatus.AWAITING_PAYMENT: ("pay", staff),
            OrderStatus.PAID: ("accept", staff),
            OrderStatus.AWAITING_REVIEW: ("review" if variant != 1 else "accept", staff),
            OrderStatus.ACCEPTED: ("start_picking", staff),
            OrderStatus.PICKING: ("mark_ready", staff),
            OrderStatus.READY_FOR_PICKUP: ("deliver", staff)
            if o.fulfilment is Fulfilment.PICKUP
            else ("pick_up", ActorRole.COURIER),
            OrderStatus.PICKED_UP: ("deliver", ActorRole.COURIER),
        }
        if o.status in step:
            action, role = step[o.status]
            self._attempt(action, role, self.now + timedelta(minutes=minutes), 0 if action == "pay" else variant)

    def _attempt(self, action: str, role: ActorRole, at: datetime, variant: int) -> None:
        before = copy.deepcopy(self.order)
        events_before = len(self.order.events)
        try:
            self._call(action, role, at, variant)
        except (DomainError, ValueError):
            assert self.order == before, f"refused {action} changed the order"
            assert len(self.order.events) == events_before
            return
        self.expected_version += 1
        self.now = max(self.now, at)
        assert len(self.order.events) > events_before

    def _call(self, action: str, role: ActorRole, at: datetime, variant: int) -> None:
        o = self.order
        if action == "submit":
            o.submit_for_payment(at)
        elif action == "pay":
            o.mark_paid(f"pay-{variant}", o.price.total_fen - (variant == 4), at)
        elif action == "review":
            o.apply_review(self._review(at, variant))
        elif action in ("accept", "start_picking", "mark_ready", "pick_up", "deliver"):
            getattr(o, action)(at, role)
        elif action == "fail_delivery":
            o.fail_delivery(at, role, "nobody home")
        elif action == "cancel":
            o.cancel(at, role, "changed my mind")
        elif action == "expire":
            o.expire(at)
        elif action == "reject":
            o.reject(at, role, "out of stock")
        else:
            o.record_refund(f"rf-{variant}", [1, 100, o.paid_fen - o.refunded_fen, o.paid_fen, 10**9][variant], at)

    def _review(self, at: datetime, variant: int) -> Review:
        """0: complete with a second pharmacist, 1: no second pharmacist, 2: a hold unresolved, 3-4: rejection."""
        if variant >= 3:
            checklist = {**dict.fromkeys(ChecklistItem, "ok"), ChecklistItem.FITS_DIAGNOSIS: "does_not_fit"}
            return Review(ReviewResult.REJECT, checklist, "does not fit the diagnosis", "pharm-1", at)
        resolutions = {
            h.key: "prescriber_confirmed" for h in self.order.holds[: len(self.order.holds) - (variant == 2)]
        }
        second = "pharm-2" if variant == 0 else None
        return Review(ReviewResult.APPROVE, dict.fromkeys(ChecklistItem, "ok"), "", "pharm-1", at, resolutions, second)

    @invariant()
    def nothing_needing_review_is_dispensed_without_a_full_approval(self) -> None:
        o = self.order
        dispensed = o.status in DISPENSED or OrderStatus.ACCEPTED in o.entered_at
        if o.needs_review and dispensed:
            event("a reviewed order was dispensed")
            assert o.review is not None
            assert o.review.result is ReviewResult.APPROVE
            assert o.review.unresolved(o.holds) == []
            assert o.review.at <= o.entered_at[OrderStatus.ACCEPTED]

    @invariant()
    def version_and_money_stay_consistent(self) -> None:
        o = self.order
        assert o.version == self.expected_version
        assert 0 <= o.refunded_fen <= o.paid_fen
        assert o.paid_fen in (0, o.price.total_fen)
        assert (o.status is OrderStatus.REFUNDED) == (o.paid_fen > 0 and o.refunded_fen == o.paid_fen)
        assert all(e.city_id == "hangzhou" for e in o.events)


OrderMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


class TestNoOrderThatNeedsAPharmacistIsAcceptedWithoutApproval(OrderMachine.TestCase):  # type: ignore[misc,valid-type]
    """I12: random event sequences never dispense a reviewed order without a complete approval."""
