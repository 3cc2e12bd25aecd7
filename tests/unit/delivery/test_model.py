"""The delivery state machine, the courier's states, shifts and codes: every refusal changes nothing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from yaodao.delivery.model import (
    TRANSITIONS,
    Courier,
    CourierState,
    Delivery,
    DeliveryState,
    Shift,
    WrongState,
    codes_match,
    new_code,
)
from yaodao.kernel.errors import ValidationFailed

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
D = DeliveryState


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def delivery(state: DeliveryState = D.ASSIGNED, *, courier: str | None = "c1", id_check: bool = False) -> Delivery:
    return Delivery(
        order_id="o1", city_id="hangzhou", pharmacy_id="p1", pickup_code="123456", handover_code="654321",
        id_check=id_check, cold_chain=False, size=1, dropoff_lat=30.26, dropoff_lng=120.15, placed_at=T0,
        due_at=at(30), quoted_at=at(25), ready_at=at(6), state=state, courier_id=courier,
        assigned_at=None if courier is None else at(1),
    )  # fmt: skip


def courier(state: CourierState = CourierState.IDLE) -> Courier:
    return Courier(user_id="c1", city_id="hangzhou", first_name="小李", phone="13812345678", state=state)


def test_the_happy_path_stamps_every_step() -> None:
    """accept -> arrive -> pick up (pickup code) -> hand over (handover code), on time: late_minutes 0."""
    d = delivery()
    d.accept("c1", at(2))
    d.arrive("c1", at(7))
    d.pick_up("c1", "123456", at(8))
    d.hand_over("c1", "654321", False, at(20))
    assert d.state is D.DELIVERED
    assert (d.accepted_at, d.arrived_pickup_at, d.picked_up_at, d.delivered_at) == (at(2), at(7), at(8), at(20))
    assert d.late_minutes == 0
    assert d.version == 5


def test_a_late_handover_records_whole_minutes_late_rounded_up() -> None:
    d = delivery(D.PICKED_UP)
    d.accepted_at = at(2)
    d.hand_over("c1", "654321", False, at(31) + timedelta(seconds=10))
    assert d.late_minutes == 2


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (D.UNASSIGNED, "accept"),
        (D.AT_PICKUP, "accept"),
        (D.PICKED_UP, "arrive"),
        (D.ASSIGNED, "pick_up"),
        (D.AT_PICKUP, "hand_over"),
        (D.AT_PICKUP, "fail"),
        (D.DELIVERED, "fail"),
        (D.CANCELLED, "arrive"),
    ],
)
def test_a_wrong_state_action_is_a_409_that_says_why_and_changes_nothing(state: DeliveryState, action: str) -> None:
    d = delivery(state)
    d.accepted_at = at(2)
    before = copy.deepcopy(d)
    calls = {
        "accept": lambda: d.accept("c1", at(3)),
        "arrive": lambda: d.arrive("c1", at(3)),
        "pick_up": lambda: d.pick_up("c1", "123456", at(3)),
        "hand_over": lambda: d.hand_over("c1", "654321", True, at(3)),
        "fail": lambda: d.fail("c1", "refused", at(3)),
    }
    with pytest.raises(WrongState) as caught:
        calls[action]()
    assert f"is {state.value}" in caught.value.message
    assert d == before


def test_arriving_before_accepting_is_refused() -> None:
    d = delivery()
    with pytest.raises(WrongState, match="accept it first"):
        d.arrive("c1", at(3))
    assert d.state is D.ASSIGNED


def test_wrong_codes_and_a_missing_id_check_are_refused_unchanged() -> None:
    d = delivery(D.AT_PICKUP, id_check=True)
    d.accepted_at = at(2)
    with pytest.raises(ValidationFailed) as caught:
        d.pick_up("c1", "123457", at(8))
    assert caught.value.field == "pickup_code"
    assert d.state is D.AT_PICKUP
    d.pick_up("c1", " 123456 ", at(8))  # a code read out with spaces around it still matches
    with pytest.raises(ValidationFailed) as caught:
        d.hand_over("c1", "111111", True, at(20))
    assert caught.value.field == "handover_code"
    with pytest.raises(ValidationFailed) as caught:
        d.hand_over("c1", "654321", False, at(20))
    assert caught.value.field == "id_checked"
    assert d.state is D.PICKED_UP
    d.hand_over("c1", "654321", True, at(20))
    assert d.state is D.DELIVERED


def test_failure_needs_a_reason_from_the_list() -> None:
    d = delivery(D.PICKED_UP)
    with pytest.raises(ValidationFailed) as caught:
        d.fail("c1", "tired", at(20))
    assert caught.value.field == "reason"
    d.fail("c1", "customer_absent", at(20))
    assert (d.state, d.failure_reason, d.failed_at) == (D.FAILED, "customer_absent", at(20))


def test_someone_elses_delivery_is_refused() -> None:
    d = delivery(courier="c2")
    with pytest.raises(ValidationFailed):
        d.accept("c1", at(2))
    assert d.accepted_at is None


def test_cancel_is_possible_until_pickup_and_release_only_before_acceptance() -> None:
    assert delivery(D.UNASSIGNED, courier=None).cancel()
    assert delivery(D.AT_PICKUP).cancel()
    assert not delivery(D.PICKED_UP).cancel()
    assert not delivery(D.DELIVERED).cancel()
    d = delivery()
    assert d.release()
    assert (d.state, d.courier_id, d.assigned_at) == (D.UNASSIGNED, None, None)
    accepted = delivery()
    accepted.accept("c1", at(2))
    assert not accepted.release()
    assert accepted.courier_id == "c1"


def test_every_state_has_its_transitions_and_closed_states_have_none() -> None:
    assert set(TRANSITIONS) == set(DeliveryState)
    assert TRANSITIONS[D.DELIVERED] == TRANSITIONS[D.FAILED] == TRANSITIONS[D.CANCELLED] == frozenset()


def test_the_courier_state_follows_what_they_hold() -> None:
    c = courier()
    first, second = delivery(), delivery()
    second.order_id = "o2"
    first.accept("c1", at(2))
    c.settle([first, second])  # second assigned but not accepted: it does not send the courier anywhere yet
    assert c.state is CourierState.TO_PICKUP
    first.arrive("c1", at(5))
    c.settle([first, second])
    assert c.state is CourierState.WAITING
    first.pick_up("c1", "123456", at(6))
    c.settle([first, second])
    assert c.state is CourierState.TO_DROPOFF
    c.settle([])
    assert c.state is CourierState.IDLE


def test_going_online_needs_a_shift_and_offline_needs_empty_hands() -> None:
    c = courier(CourierState.OFFLINE)
    with pytest.raises(WrongState, match="shift"):
        c.go_online(T0, shift_covers_now=False)
    assert c.state is CourierState.OFFLINE
    c.go_online(T0, shift_covers_now=True)
    assert (c.state, c.online_since) == (CourierState.IDLE, T0)
    with pytest.raises(WrongState, match="hand them over"):
        c.go_offline(carrying=1)
    assert c.state is CourierState.IDLE
    c.go_offline(carrying=0)
    assert c.state is CourierState.OFFLINE
    with pytest.raises(WrongState):
        c.record_position(1, 30.26, 120.15, T0)


def test_a_phone_is_masked_for_customers() -> None:
    assert courier().masked_phone == "138****5678"


def test_shifts_end_after_they_start_last_at_most_12_hours_and_know_overlaps() -> None:
    with pytest.raises(ValidationFailed, match="ends after"):
        Shift("s", "c1", "hangzhou", at(60), at(60))
    with pytest.raises(ValidationFailed, match="12 hours"):
        Shift("s", "c1", "hangzhou", T0, T0 + timedelta(hours=12, minutes=1))
    morning = Shift("a", "c1", "hangzhou", T0, T0 + timedelta(hours=4))
    assert morning.overlaps(Shift("b", "c1", "hangzhou", T0 + timedelta(hours=3), T0 + timedelta(hours=5)))
    assert not morning.overlaps(Shift("c", "c1", "hangzhou", T0 + timedelta(hours=4), T0 + timedelta(hours=6)))
    assert morning.covers(T0)
    assert not morning.covers(T0 + timedelta(hours=4))


def test_codes_are_six_digits_and_compare_exactly() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 190  # a million possibilities: 200 draws rarely repeat
    assert codes_match("012345", "012345")
    assert not codes_match("012345", "12345")
