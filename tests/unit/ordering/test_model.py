"""The order aggregate: its transitions, what each records, and what a refused transition leaves alone.

Orders here come from one small Hangzhou pharmacy: 布洛芬片 (OTC-A, ¥12.50) and 阿莫西林胶囊 (Rx, ¥18.00).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from yaodao.catalog.model import DrugClass
from yaodao.kernel.errors import Conflict, PermissionDenied, ValidationFailed
from yaodao.ordering.model import (
    CLOSED,
    TRANSITIONS,
    ActorRole,
    AddressSnapshot,
    Fulfilment,
    IllegalTransition,
    Order,
    OrderLine,
    OrderStatus,
)
from yaodao.ordering.prescriptions import ChecklistItem, Finding, Review, ReviewResult
from yaodao.ordering.pricing import PricingRules, quote

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 6, 1, 10, 0, tzinfo=SHANGHAI)
RULES = PricingRules(delivery_fee_day_fen=500, free_delivery_threshold_fen=None)
IBUPROFEN = OrderLine(
    "pr-ibu", "ibuprofen-tabs-0-2g-24", "布洛芬片 (Ibuprofen Tablets)", DrugClass.OTC_A, 1, 1250, 1250
)
AMOXICILLIN = OrderLine("pr-amox", "amoxicillin-caps-0-25g-24", "阿莫西林胶囊", DrugClass.RX, 2, 1800, 3600, "rx-1")
STAFF, PHARMACIST, COURIER, PATIENT = ActorRole.STORE_STAFF, ActorRole.PHARMACIST, ActorRole.COURIER, ActorRole.PATIENT
S = OrderStatus


def make_order(
    *lines: OrderLine, fulfilment: Fulfilment = Fulfilment.DELIVERY, holds: tuple[Finding, ...] = ()
) -> Order:
    chosen = lines or (IBUPROFEN,)
    return Order.create(
        id="o-1",
        city_id="hangzhou",
        user_id="u-1",
        patient_id="pa-1",
        pharmacy_id="ph-1",
        lines=chosen,
        price=quote(chosen, RULES, False, pickup=fulfilment is Fulfilment.PICKUP),
        fulfilment=fulfilment,
        address=AddressSnapshot(30.2587, 120.1485, "杭州市西湖区北山街1号")
        if fulfilment is Fulfilment.DELIVERY
        else None,
        promise_minutes=30,
        quoted_eta_minutes=25,
        at=T0,
        holds=holds,
    )


def paid(order: Order, at: datetime = T0) -> Order:
    order.submit_for_payment(at)
    order.mark_paid("pay-1", order.price.total_fen, at)
    return order


def approval(at: datetime, **kw: object) -> Review:
    checklist = dict.fromkeys(ChecklistItem, "ok")
    return Review(ReviewResult.APPROVE, checklist, "fits the diagnosis", "pharm-1", at, **kw)  # type: ignore[arg-type]


def rejection(at: datetime) -> Review:
    checklist = {**dict.fromkeys(ChecklistItem, "ok"), ChecklistItem.DOSE_AND_USAGE: "dose_too_high"}
    return Review(ReviewResult.REJECT, checklist, "dose above the label maximum", "pharm-1", at)


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def test_an_otc_delivery_order_walks_the_happy_path_recording_each_step() -> None:
    """Each transition stamps its state, bumps the version by one and appends one event with the city."""
    order = make_order()
    order.submit_for_payment(minutes(1))
    order.mark_paid("pay-1", order.price.total_fen, minutes(2))
    order.accept(minutes(3), STAFF)
    order.start_picking(minutes(4), STAFF)
    order.mark_ready(minutes(8), PHARMACIST)
    order.pick_up(minutes(12), COURIER, courier_id="c-7")
    order.deliver(minutes(25), COURIER)

    assert order.status is S.DELIVERED
    assert order.version == 8
    assert [e.topic for e in order.events] == [
        "ordering.order_created",
        "ordering.order_awaiting_payment",
        "ordering.order_paid",
        "ordering.order_accepted",
        "ordering.order_picking_started",
        "ordering.order_ready_for_pickup",
        "ordering.order_picked_up",
        "ordering.order_delivered",
    ]
    assert {e.city_id for e in order.events} == {"hangzhou"}
    assert order.entered_at[S.PAID] == minutes(2)
    assert order.entered_at[S.DELIVERED] == minutes(25)
    assert order.clock_started_at == minutes(2)  # DL1: the promise runs from payment for OTC
    assert order.events[-1].payload()["clock_started_at"] == minutes(2)


def test_unpaid_orders_expire_after_fifteen_minutes_by_default() -> None:
    """The payment window is 15 minutes from creation."""
    assert make_order().expires_at == T0 + timedelta(minutes=15)


def test_an_rx_order_waits_for_pharmacist_review_as_soon_as_it_is_paid() -> None:
    """S2/I12: paying an order with Rx lines lands it in awaiting_review, with a review request event."""
    order = paid(make_order(IBUPROFEN, AMOXICILLIN))
    assert order.status is S.AWAITING_REVIEW
    assert order.entered_at[S.PAID] == order.entered_at[S.AWAITING_REVIEW] == T0
    assert order.events[-1].topic == "ordering.order_review_requested"
    assert order.clock_started_at is None  # DL1: the promise starts at approval for Rx


def test_the_pharmacy_cannot_accept_an_rx_order_before_a_pharmacist_approves_it() -> None:
    """S2/I12: the refusal says the state and why, and changes nothing."""
    order = paid(make_order(AMOXICILLIN))
    before = copy.deepcopy(order)
    with pytest.raises(IllegalTransition) as caught:
        order.accept(minutes(1), STAFF)
    assert str(caught.value) == (
        "order o-1 is awaiting_review: a pharmacist must approve the prescription before the pharmacy accepts it"
    )
    assert order == before
    assert len(order.events) == len(before.events)


def test_an_approved_rx_order_can_be_accepted_and_the_promise_runs_from_the_approval() -> None:
    """S2/DL1: the approval is recorded on the order; acceptance follows."""
    order = paid(make_order(AMOXICILLIN))
    order.apply_review(approval(minutes(5)))
    order.accept(minutes(6), STAFF)
    assert order.status is S.ACCEPTED
    assert order.approved
    assert order.clock_started_at == minutes(5)
    assert [e.topic for e in order.events][-2:] == ["ordering.order_reviewed", "ordering.order_accepted"]


def test_an_otc_order_with_a_safety_hold_also_waits_for_a_pharmacist() -> None:
    """DDI1: a held OTC order is reviewed before the pharmacy may accept it."""
    hold = Finding("interaction", "布洛芬片 + current warfarin: bleeding", "pr-ibu", "warfarin", "moderate", "DDI1")
    order = paid(make_order(holds=(hold,)))
    assert order.status is S.AWAITING_REVIEW
    with pytest.raises(IllegalTransition, match="a pharmacist must clear its safety holds before the pharmacy"):
        order.accept(minutes(1), STAFF)


def test_an_approval_must_resolve_every_hold_with_a_reason_code() -> None:
    """DDI1: an approval that leaves a hold unresolved is refused."""
    hold = Finding("duplicate_therapy", "two paracetamol products", "pr-a", "pr-b", "moderate", "DDI1")
    order = paid(make_order(holds=(hold,)))
    with pytest.raises(ValidationFailed, match="has no resolution code"):
        order.apply_review(approval(minutes(2)))
    assert not order.approved
    order.apply_review(approval(minutes(2), resolutions={hold.key: "patient_told_to_take_one"}))
    assert order.approved


def test_a_high_severity_hold_needs_a_second_pharmacist() -> None:
    """DDI1: major and contraindicated alerts need a second approver, who is another person."""
    hold = Finding("interaction", "布洛芬片 + current warfarin: bleeding", "pr-ibu", "warfarin", "major", "DDI1")
    order = paid(make_order(holds=(hold,)))
    resolutions = {hold.key: "prescriber_confirmed"}
    with pytest.raises(ValidationFailed, match="needs a second pharmacist"):
        order.apply_review(approval(minutes(2), resolutions=resolutions))
    with pytest.raises(ValidationFailed, match="another pharmacist"):
        approval(minutes(2), resolutions=resolutions, second_pharmacist_id="pharm-1")
    order.apply_review(approval(minutes(2), resolutions=resolutions, second_pharmacist_id="pharm-2"))
    assert order.approved


def test_a_pharmacist_rejection_closes_the_order_and_owes_the_refund() -> None:
    """S8: a rejection stores its reason and codes; the paid amount is due back."""
    order = paid(make_order(AMOXICILLIN))
    order.apply_review(rejection(minutes(3)))
    assert order.status is S.REJECTED
    assert order.reject_reason == "dose above the label maximum"
    assert order.closed_by is PHARMACIST
    assert order.refund_due_fen == order.price.total_fen
    assert order.events[-1].payload()["refund_due_fen"] == order.price.total_fen


def test_a_review_needs_a_code_for_every_checklist_item() -> None:
    """S8: each review stores a result and a reason code per checklist item."""
    partial = {ChecklistItem.SKIN_TEST: "not_applicable"}
    with pytest.raises(ValidationFailed, match="checklist items without a code: fits_diagnosis"):
        Review(ReviewResult.APPROVE, partial, "", "pharm-1", T0)


def test_an_approval_cannot_carry_a_failing_item_and_a_rejection_needs_one() -> None:
    """S8: approve means every item passed; reject names what failed and why."""
    failing = {**dict.fromkeys(ChecklistItem, "ok"), ChecklistItem.INTERACTIONS: "significant_interaction"}
    with pytest.raises(ValidationFailed, match="cannot carry failing items: interactions"):
        Review(ReviewResult.APPROVE, failing, "", "pharm-1", T0)
    with pytest.raises(ValidationFailed, match="failing checklist item and a reason"):
        Review(ReviewResult.REJECT, dict.fromkeys(ChecklistItem, "ok"), "no", "pharm-1", T0)


def test_an_order_that_needs_no_review_refuses_one() -> None:
    """Only orders with Rx lines or holds are reviewed."""
    order = paid(make_order())
    with pytest.raises(IllegalTransition, match="needs no pharmacist review"):
        order.apply_review(approval(minutes(1)))


def test_unpaid_orders_expire_only_after_expires_at() -> None:
    """expire(at) before the deadline is refused; after it the order is cancelled by the system."""
    order = make_order()
    order.submit_for_payment(minutes(1))
    with pytest.raises(IllegalTransition, match="expires only at"):
        order.expire(minutes(14))
    assert set(order.entered_at) == {S.CREATED, S.AWAITING_PAYMENT}
    order.expire(minutes(15))
    assert order.status is S.CANCELLED
    assert (order.cancel_reason, order.closed_by) == ("expired", ActorRole.SYSTEM)
    assert order.events[-1].payload() == {
        "order_id": "o-1",
        "by": "system",
        "reason": "expired",
        "expired": True,
        "refund_due_fen": 0,
    }


def test_a_paid_order_no_longer_expires() -> None:
    """Payment ends the expiry clock."""
    order = paid(make_order())
    with pytest.raises(IllegalTransition, match="order o-1 is paid: it has been paid and no longer expires"):
        order.expire(minutes(30))


def test_the_buyer_cancels_before_acceptance_and_a_paid_cancellation_owes_a_refund() -> None:
    """Cancelled from awaiting_review: the whole payment is due back."""
    order = paid(make_order(AMOXICILLIN))
    order.cancel(minutes(2), PATIENT, "bought it elsewhere")
    assert order.status is S.CANCELLED
    assert order.refund_due_fen == order.price.total_fen
    assert order.events[-1].payload()["refund_due_fen"] == order.price.total_fen


def test_nobody_cancels_an_order_the_pharmacy_has_accepted() -> None:
    """After acceptance only the pharmacy may reject it (before picking)."""
    order = paid(make_order())
    order.accept(minutes(1), STAFF)
    with pytest.raises(IllegalTransition, match="the pharmacy has accepted it, so it can no longer be cancelled"):
        order.cancel(minutes(2), PATIENT, "changed my mind")


def test_the_pharmacy_rejects_before_picking_but_not_after() -> None:
    """Rejected from accepted owes a refund; once picking starts rejection is refused."""
    order = paid(make_order())
    order.accept(minutes(1), STAFF)
    early = copy.deepcopy(order)
    early.reject(minutes(2), STAFF, "out of stock")
    assert (early.status, early.refund_due_fen) == (S.REJECTED, early.price.total_fen)
    order.start_picking(minutes(2), STAFF)
    with pytest.raises(IllegalTransition, match="picking has started"):
        order.reject(minutes(3), STAFF, "out of stock")


def test_an_unpaid_order_is_cancelled_not_rejected() -> None:
    """Rejection is for paid orders."""
    with pytest.raises(IllegalTransition, match="it has not been paid; cancel it instead"):
        make_order().reject(T0, STAFF, "closed")


def test_partial_refunds_keep_the_state_and_the_last_one_closes_the_order() -> None:
    """A refund is tracked as an amount; only the one reaching the paid total moves to refunded."""
    order = paid(make_order())
    order.cancel(minutes(1), PATIENT, "changed my mind")
    total = order.price.total_fen
    order.record_refund("rf-1", 500, minutes(2))
    assert (order.status, order.refunded_fen, order.refund_due_fen) == (S.CANCELLED, 500, total - 500)
    order.record_refund("rf-2", total - 500, minutes(3))
    assert (order.status, order.refund_due_fen) == (S.REFUNDED, 0)
    assert order.events[-1].payload()["fully_refunded"] is True


def test_refunds_never_exceed_what_was_paid() -> None:
    """RELIABILITY I9: an over-refund is refused and changes nothing."""
    order = paid(make_order())
    order.cancel(minutes(1), PATIENT, "changed my mind")
    before = copy.deepcopy(order)
    with pytest.raises(Conflict, match="refunds would reach"):
        order.record_refund("rf-1", order.price.total_fen + 1, minutes(2))
    assert order == before


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, "100"])
def test_a_refund_amount_is_a_positive_integer_of_fen(amount: object) -> None:
    """Floats, booleans, strings, zero and negatives are refused."""
    order = paid(make_order())
    with pytest.raises(ValidationFailed):
        order.record_refund("rf-1", amount, minutes(1))  # type: ignore[arg-type]


def test_a_full_refund_of_an_order_still_in_progress_is_refused() -> None:
    """A partial refund (e.g. a missing item) is fine mid-way; a full one needs the order closed first."""
    order = paid(make_order(IBUPROFEN, OrderLine("pr-vc", "vitamin-c", "维生素C片", DrugClass.OTC_B, 1, 300, 300)))
    order.accept(minutes(1), STAFF)
    order.record_refund("rf-1", 300, minutes(2))
    assert order.status is S.ACCEPTED
    with pytest.raises(IllegalTransition, match="a full refund needs the order cancelled"):
        order.record_refund("rf-2", order.price.total_fen - 300, minutes(3))


def test_nothing_is_refunded_on_an_order_never_paid() -> None:
    """No payment, no refund."""
    order = make_order()
    order.cancel(minutes(1), PATIENT, "mistake")
    with pytest.raises(IllegalTransition, match="closed"):
        order.record_refund("rf-1", 100, minutes(2))


def test_a_self_pickup_order_is_handed_over_at_the_counter() -> None:
    """Pickup fulfilment: ready_for_pickup -> delivered by the pharmacy; no courier, no delivery fee."""
    order = paid(make_order(fulfilment=Fulfilment.PICKUP))
    assert order.price.delivery_fee_fen == 0
    order.accept(minutes(1), STAFF)
    order.start_picking(minutes(2), STAFF)
    order.mark_ready(minutes(5), STAFF)
    with pytest.raises(IllegalTransition, match="collects it at the counter"):
        order.pick_up(minutes(6), COURIER)
    with pytest.raises(PermissionDenied):
        order.deliver(minutes(6), COURIER)
    order.deliver(minutes(20), STAFF)
    assert order.status is S.DELIVERED


def test_a_delivery_order_needs_a_courier_pickup_before_delivery() -> None:
    """The counter handover is for pickup orders only."""
    order = paid(make_order())
    for step in (order.accept, order.start_picking, order.mark_ready):
        step(minutes(1), STAFF)
    with pytest.raises(IllegalTransition, match="a courier must pick it up before it is delivered"):
        order.deliver(minutes(2), COURIER)


def test_a_delivery_fails_only_after_pickup_and_with_a_reason() -> None:
    """delivery_failed comes from picked_up, records why, and owes the refund."""
    order = paid(make_order())
    for step in (order.accept, order.start_picking, order.mark_ready):
        step(minutes(1), STAFF)
    with pytest.raises(IllegalTransition, match="it must be handed over before its delivery can fail"):
        order.fail_delivery(minutes(2), COURIER, "nobody home")
    order.pick_up(minutes(2), COURIER)
    with pytest.raises(ValidationFailed, match="reason"):
        order.fail_delivery(minutes(30), COURIER, " ")
    order.fail_delivery(minutes(30), COURIER, "nobody home")
    assert (order.status, order.failure_reason, order.refund_due_fen) == (
        S.DELIVERY_FAILED,
        "nobody home",
        order.price.total_fen,
    )


@pytest.mark.parametrize(
    ("action", "role"),
    [("accept", COURIER), ("accept", PATIENT), ("start_picking", COURIER), ("pick_up", STAFF), ("reject", PATIENT)],
)
def test_each_step_belongs_to_its_roles(action: str, role: ActorRole) -> None:
    """A courier does not accept orders, a patient does not reject them, and so on."""
    order = paid(make_order())
    before = copy.deepcopy(order)
    args = (minutes(1), role, "no") if action == "reject" else (minutes(1), role)
    with pytest.raises(PermissionDenied):
        getattr(order, action)(*args)
    assert order == before


def test_a_payment_for_the_wrong_amount_changes_nothing() -> None:
    """RELIABILITY I5: a notification whose amount differs by one fen is refused."""
    order = make_order()
    order.submit_for_payment(T0)
    before = copy.deepcopy(order)
    with pytest.raises(Conflict, match="costs"):
        order.mark_paid("pay-1", order.price.total_fen - 1, minutes(1))
    assert order == before


def test_a_payment_on_a_cancelled_order_is_refused() -> None:
    """RELIABILITY I5: TRADE_SUCCESS for a cancelled order does not revive it."""
    order = make_order()
    order.cancel(minutes(1), PATIENT, "mistake")
    with pytest.raises(IllegalTransition, match="order o-1 is cancelled: it is closed and cannot be paid"):
        order.mark_paid("pay-1", order.price.total_fen, minutes(2))


def test_steps_cannot_be_skipped_or_repeated() -> None:
    """Illegal moves name the step that must come first, or say it already happened."""
    order = make_order()
    with pytest.raises(IllegalTransition, match="it must be submitted for payment before picking starts"):
        order.start_picking(T0, STAFF)
    paid(order)
    with pytest.raises(IllegalTransition, match="already been paid"):
        order.mark_paid("pay-2", order.price.total_fen, minutes(1))


def test_time_never_runs_backwards_on_an_order() -> None:
    """A transition dated before the last one is refused; naive datetimes are refused."""
    order = make_order()
    order.submit_for_payment(minutes(5))
    with pytest.raises(ValidationFailed, match="before the order's last change"):
        order.mark_paid("pay-1", order.price.total_fen, minutes(4))
    with pytest.raises(ValueError, match="timezone-aware"):
        order.mark_paid("pay-1", order.price.total_fen, datetime(2025, 6, 1, 11, 0))  # noqa: DTZ001
    order.mark_paid("pay-1", order.price.total_fen, datetime(2025, 6, 1, 2, 6, tzinfo=UTC))  # 10:06 in Shanghai
    assert order.status is S.PAID


def test_a_delivery_order_needs_an_address_and_consistent_prices() -> None:
    """Order.create refuses an order it could not fulfil or whose price does not add up."""
    with pytest.raises(ValidationFailed, match="address"):
        Order.create(
            id="o-2", city_id="hangzhou", user_id="u", patient_id="p", pharmacy_id="ph", lines=(IBUPROFEN,),
            price=quote((IBUPROFEN,), RULES, False), fulfilment=Fulfilment.DELIVERY, address=None,
            promise_minutes=30, quoted_eta_minutes=25, at=T0,
        )  # fmt: skip
    with pytest.raises(ValidationFailed, match="items_subtotal_fen"):
        Order.create(
            id="o-3", city_id="hangzhou", user_id="u", patient_id="p", pharmacy_id="ph", lines=(IBUPROFEN,),
            price=quote((AMOXICILLIN,), RULES, False), fulfilment=Fulfilment.PICKUP, address=None,
            promise_minutes=30, quoted_eta_minutes=25, at=T0,
        )  # fmt: skip


def test_rx_and_class_a_otc_lines_are_never_free_but_a_class_b_gift_may_be() -> None:
    """S5: a zero price is refused for rx and otc_a lines."""
    with pytest.raises(ValidationFailed, match="unit_price_fen"):
        OrderLine("pr-x", "x", "x", DrugClass.OTC_A, 1, 0, 0)
    with pytest.raises(ValidationFailed, match="unit_price_fen"):
        OrderLine("pr-x", "x", "x", DrugClass.RX, 1, 0, 0, "rx-1")
    assert OrderLine("pr-x", "x", "x", DrugClass.OTC_B, 1, 0, 0).line_total_fen == 0


def test_an_order_line_adds_up_and_an_rx_line_names_its_prescription() -> None:
    """line_total = unit price x packs; Rx lines carry their prescription id."""
    with pytest.raises(ValidationFailed, match="line_total_fen"):
        OrderLine("pr-x", "x", "x", DrugClass.OTC_A, 2, 100, 201)
    with pytest.raises(ValidationFailed, match="prescription_id"):
        OrderLine("pr-x", "x", "x", DrugClass.RX, 1, 100, 100)


def test_the_transition_table_closes_every_terminal_state_but_for_refunds() -> None:
    """Every state has an entry; the closed states lead only to refunded, and refunded to nothing."""
    assert set(TRANSITIONS) == set(OrderStatus)
    for status in CLOSED - {S.REFUNDED}:
        assert TRANSITIONS[status] == {S.REFUNDED}
    assert TRANSITIONS[S.REFUNDED] == frozenset()
    assert S.ACCEPTED not in TRANSITIONS[S.AWAITING_PAYMENT]
