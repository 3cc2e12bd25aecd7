"""The courier API on both engines: from paid to delivered, and every way a phone can get it wrong.

Scenario: a courier registered by an admin, on a shift, online near West Lake; a patient's order
from the fresh 24-hour shop there, paid, assigned to the courier as the dispatcher would. Every
refusal is checked to have changed nothing: the courier's state, the delivery row, the order's
status. Position reports have their own file (test_courier_positions.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from courier_support import (
    approve,
    assign,
    count,
    courier_row,
    delivery_row,
    eid,
    make_courier,
    make_ready,
    online_courier,
    order_status,
    paid_order,
    position,
    post,
)
from shop import race
from support import Platform
from yaodao.accounts.model import Role
from yaodao.adapters.db import tables as t
from yaodao.delivery.intake import open_delivery
from yaodao.ordering import services as ordering
from yaodao.ordering.model import OrderStatus


def test_a_paid_order_goes_to_the_door_through_the_courier_api(platform: Platform) -> None:
    """Paid -> delivery row (unassigned, codes, promise) -> assigned -> accept -> arrived -> picked up with the
    pharmacy's code -> delivered with the customer's code; the order follows, with its events in the outbox."""
    courier = online_courier(platform)
    assert post(platform, courier, "/positions", position(platform, 1)).status_code == 200
    order_id, _ = paid_order(platform)
    row = delivery_row(platform, order_id)
    assert row["state"] == "unassigned"
    assert row["courier_id"] is None
    assert len(row["pickup_code"]) == len(row["handover_code"]) == 6
    assert row["id_check"] is False
    assert row["due_at"] - row["placed_at"] == timedelta(minutes=30)  # 14:00 in Hangzhou: the day promise
    assign(platform, order_id, courier.user_id)

    accepted = post(platform, courier, f"/deliveries/{order_id}/accept", {"event_id": eid()})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["courier"]["state"] == "to_pickup"
    assert "pickup_code" not in accepted.json()["delivery"]
    arrived = post(platform, courier, f"/deliveries/{order_id}/arrived", {"event_id": eid()})
    assert arrived.status_code == 200, arrived.text
    assert arrived.json()["courier"]["state"] == "waiting"
    early = post(
        platform, courier, f"/deliveries/{order_id}/picked-up", {"event_id": eid(), "pickup_code": row["pickup_code"]}
    )
    assert early.status_code == 409, early.text
    assert "ready" in early.json()["detail"]
    make_ready(platform, order_id)
    picked = post(
        platform, courier, f"/deliveries/{order_id}/picked-up", {"event_id": eid(), "pickup_code": row["pickup_code"]}
    )
    assert picked.status_code == 200, picked.text
    assert picked.json()["courier"]["state"] == "to_dropoff"
    assert order_status(platform, order_id) is OrderStatus.PICKED_UP
    platform.clock.advance(timedelta(minutes=5))
    body = {"event_id": eid(), "handover_code": row["handover_code"]}
    done = post(platform, courier, f"/deliveries/{order_id}/delivered", body)

    assert done.status_code == 200, done.text
    assert done.json()["delivery"]["state"] == "delivered"
    assert done.json()["delivery"]["late_minutes"] == 0
    assert done.json()["courier"]["state"] == "idle"
    assert order_status(platform, order_id) is OrderStatus.DELIVERED
    outbox = t.outbox.c
    for topic in ("ordering.order_picked_up", "ordering.order_delivered"):
        assert count(platform, t.outbox, outbox.topic == topic, outbox.payload["order_id"].as_string() == order_id) == 1
    listed = platform.client.get("/api/courier/deliveries", params={"state": "delivered"}, headers=courier.headers)
    assert [d["order_id"] for d in listed.json()["items"]] == [order_id]


def test_a_late_delivery_records_its_minutes_and_cause(platform: Platform) -> None:
    """Paid, ready and picked up at once, then a 40-minute ride to an address a few hundred metres away: 10 minutes
    past the 30-minute promise, and the ride the travel model underestimated is the cause."""
    courier = online_courier(platform)
    order_id, _ = paid_order(platform)
    assign(platform, order_id, courier.user_id)
    make_ready(platform, order_id)
    row = delivery_row(platform, order_id)
    for action, extra in (("accept", {}), ("arrived", {}), ("picked-up", {"pickup_code": row["pickup_code"]})):
        answer = post(platform, courier, f"/deliveries/{order_id}/{action}", {"event_id": eid(), **extra})
        assert answer.status_code == 200, answer.text
    ride = row["placed_at"] + timedelta(minutes=40) - platform.clock.now()
    assert ride > timedelta(minutes=39)  # the clock only moves forward: other tests share it
    platform.clock.advance(ride)

    done = post(
        platform,
        courier,
        f"/deliveries/{order_id}/delivered",
        {"event_id": eid(), "handover_code": row["handover_code"]},
    )

    assert done.status_code == 200, done.text
    stored = delivery_row(platform, order_id)
    assert stored["late_minutes"] == 10
    assert stored["late_cause"] == "travel_longer_than_modelled"


def test_a_resent_action_replays_and_a_reused_event_id_with_another_body_is_refused(platform: Platform) -> None:
    """The same event_id and body answer the same and change nothing more; the same id with another body is a 422."""
    courier = online_courier(platform)
    order_id, _ = paid_order(platform)
    assign(platform, order_id, courier.user_id)
    event_id = eid()
    first = post(platform, courier, f"/deliveries/{order_id}/accept", {"event_id": event_id})
    version = delivery_row(platform, order_id)["version"]

    again = post(platform, courier, f"/deliveries/{order_id}/accept", {"event_id": event_id})
    other = post(platform, courier, f"/deliveries/{order_id}/arrived", {"event_id": event_id})

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "event_id_reused"
    assert delivery_row(platform, order_id)["version"] == version
    assert delivery_row(platform, order_id)["state"] == "assigned"
    ce = t.courier_events.c
    assert count(platform, t.courier_events, ce.courier_id == courier.user_id, ce.event_id == event_id) == 1


def test_concurrent_resends_of_one_action_do_it_once(platform: Platform) -> None:
    """Eight threads send the same accept with the same event_id at once: all get the first answer, the delivery
    is accepted once (one version step) and one courier_events row exists. Eight different event_ids racing to
    accept: one wins, the rest are refused with 409 and nothing more changes."""
    courier = online_courier(platform)
    order_id, _ = paid_order(platform)
    assign(platform, order_id, courier.user_id)
    version = delivery_row(platform, order_id)["version"]
    event_id = eid()

    same = race(8, lambda _: post(platform, courier, f"/deliveries/{order_id}/accept", {"event_id": event_id}))

    assert [a.status_code for a in same] == [200] * 8
    assert len({a.text for a in same}) == 1
    assert delivery_row(platform, order_id)["version"] == version + 1
    second, _ = paid_order(platform)
    assign(platform, second, courier.user_id)
    racing = race(8, lambda _: post(platform, courier, f"/deliveries/{second}/accept", {"event_id": eid()}))
    assert sorted(a.status_code for a in racing) == [200] + [409] * 7
    assert delivery_row(platform, second)["version"] == version + 1


def test_a_wrong_code_is_refused_and_changes_nothing(platform: Platform) -> None:
    """Wrong pickup code: 422, order still ready, delivery still at the pharmacy. Wrong handover code: 422, still
    picked up."""
    courier = online_courier(platform)
    order_id, _ = paid_order(platform)
    assign(platform, order_id, courier.user_id)
    make_ready(platform, order_id)
    row = delivery_row(platform, order_id)
    for action in ("accept", "arrived"):
        assert post(platform, courier, f"/deliveries/{order_id}/{action}", {"event_id": eid()}).status_code == 200
    wrong_pickup = "000000" if row["pickup_code"] != "000000" else "111111"
    wrong_handover = "000000" if row["handover_code"] != "000000" else "111111"

    bad_pickup = post(
        platform, courier, f"/deliveries/{order_id}/picked-up", {"event_id": eid(), "pickup_code": wrong_pickup}
    )

    assert bad_pickup.status_code == 422, bad_pickup.text
    assert bad_pickup.json()["errors"][0]["field"] == "pickup_code"
    assert delivery_row(platform, order_id)["state"] == "at_pickup"
    assert order_status(platform, order_id) is OrderStatus.READY_FOR_PICKUP
    good = post(
        platform, courier, f"/deliveries/{order_id}/picked-up", {"event_id": eid(), "pickup_code": row["pickup_code"]}
    )
    assert good.status_code == 200, good.text
    before = delivery_row(platform, order_id)

    bad_handover = post(
        platform, courier, f"/deliveries/{order_id}/delivered", {"event_id": eid(), "handover_code": wrong_handover}
    )

    assert bad_handover.status_code == 422, bad_handover.text
    assert delivery_row(platform, order_id) == before
    assert order_status(platform, order_id) is OrderStatus.PICKED_UP
    assert courier_row(platform, courier.user_id)["state"] == "to_dropoff"


def test_another_couriers_delivery_is_not_found_and_unchanged(platform: Platform) -> None:
    """Every action on a delivery assigned to someone else answers 404 like a missing one; nothing changes."""
    mine, theirs = online_courier(platform), online_courier(platform)
    order_id, _ = paid_order(platform)
    assign(platform, order_id, theirs.user_id)
    before = delivery_row(platform, order_id)
    code = before["pickup_code"]

    answers = [
        post(platform, mine, f"/deliveries/{order_id}/accept", {"event_id": eid()}),
        post(platform, mine, f"/deliveries/{order_id}/arrived", {"event_id": eid()}),
        post(platform, mine, f"/deliveries/{order_id}/picked-up", {"event_id": eid(), "pickup_code": code}),
        post(platform, mine, f"/deliveries/{order_id}/failed", {"event_id": eid(), "reason": "refused"}),
        post(platform, mine, "/deliveries/no-such-order/accept", {"event_id": eid()}),
    ]

    assert [a.status_code for a in answers] == [404] * 5
    assert answers[0].json()["detail"] == f"delivery of order {order_id} not found"
    assert delivery_row(platform, order_id) == before
    assert courier_row(platform, mine.user_id)["state"] == "idle"
    assert count(platform, t.courier_events, t.courier_events.c.courier_id == mine.user_id) == 1  # going online


def test_an_rx_delivery_waits_for_approval_and_is_handed_over_only_after_an_id_check(platform: Platform) -> None:
    """An Rx order's delivery exists from payment but cannot be accepted before the pharmacist approves; at the
    door, the handover without id_checked is refused and changes nothing, with it the order is delivered."""
    courier = online_courier(platform)
    order_id, _ = paid_order(platform, rx=True)
    row = delivery_row(platform, order_id)
    assert row["state"] == "unassigned"
    assert row["id_check"] is True
    assign(platform, order_id, courier.user_id)  # a dispatcher ignoring the rule is still stopped here
    refused = post(platform, courier, f"/deliveries/{order_id}/accept", {"event_id": eid()})
    assert refused.status_code == 409, refused.text
    assert "pharmacist" in refused.json()["detail"]
    assert delivery_row(platform, order_id)["accepted_at"] is None
    approve(platform, order_id)
    make_ready(platform, order_id)
    for action, extra in (("accept", {}), ("arrived", {}), ("picked-up", {"pickup_code": row["pickup_code"]})):
        answer = post(platform, courier, f"/deliveries/{order_id}/{action}", {"event_id": eid(), **extra})
        assert answer.status_code == 200, answer.text
    body = {"event_id": eid(), "handover_code": row["handover_code"]}

    unchecked = post(platform, courier, f"/deliveries/{order_id}/delivered", body)
    checked = post(
        platform, courier, f"/deliveries/{order_id}/delivered", {**body, "event_id": eid(), "id_checked": True}
    )

    assert unchecked.status_code == 422, unchecked.text
    assert unchecked.json()["errors"][0]["field"] == "id_checked"
    assert checked.status_code == 200, checked.text
    assert order_status(platform, order_id) is OrderStatus.DELIVERED


def test_going_offline_while_carrying_is_refused(platform: Platform) -> None:
    """A courier holding an accepted delivery stays online (409); once it has failed at the door they may go."""
    courier = online_courier(platform)
    order_id, _ = paid_order(platform)
    assign(platform, order_id, courier.user_id)
    make_ready(platform, order_id)
    code = delivery_row(platform, order_id)["pickup_code"]
    for action, extra in (("accept", {}), ("arrived", {}), ("picked-up", {"pickup_code": code})):
        assert (
            post(platform, courier, f"/deliveries/{order_id}/{action}", {"event_id": eid(), **extra}).status_code == 200
        )

    refused = post(platform, courier, "/offline", {"event_id": eid()})

    assert refused.status_code == 409, refused.text
    assert courier_row(platform, courier.user_id)["state"] == "to_dropoff"
    failed = post(platform, courier, f"/deliveries/{order_id}/failed", {"event_id": eid(), "reason": "customer_absent"})
    assert failed.status_code == 200, failed.text
    assert order_status(platform, order_id) is OrderStatus.DELIVERY_FAILED
    gone = post(platform, courier, "/offline", {"event_id": eid()})
    assert gone.status_code == 200, gone.text
    assert courier_row(platform, courier.user_id)["state"] == "offline"


def test_going_online_needs_a_shift_and_offline_hands_back_unaccepted_work(platform: Platform) -> None:
    """No shift covering now: 409, still offline. Going offline gives an assigned, unaccepted delivery back."""
    unscheduled = make_courier(platform, shift=False)
    refused = post(platform, unscheduled, "/online", {"event_id": eid()})
    assert refused.status_code == 409, refused.text
    assert courier_row(platform, unscheduled.user_id)["state"] == "offline"
    courier = online_courier(platform)
    order_id, _ = paid_order(platform)
    assign(platform, order_id, courier.user_id)

    gone = post(platform, courier, "/offline", {"event_id": eid()})

    assert gone.status_code == 200, gone.text
    row = delivery_row(platform, order_id)
    assert (row["state"], row["courier_id"]) == ("unassigned", None)


def test_a_cancelled_order_cancels_its_delivery(platform: Platform) -> None:
    """The buyer cancels a paid order before the pharmacy accepts it: once the event is relayed, the delivery is
    cancelled too, and relaying the paid event again does not reopen it."""
    order_id, buyer = paid_order(platform)
    assert delivery_row(platform, order_id)["state"] == "unassigned"

    ordering.cancel_order(uow=platform.container.uow(), actor=buyer, order_id=order_id, reason="changed my mind")
    platform.container.relay.drain()
    reopened = open_delivery(order_id, uow_factory=platform.container.uow)

    assert delivery_row(platform, order_id)["state"] == "cancelled"
    assert reopened is False
    assert count(platform, t.deliveries, t.deliveries.c.order_id == order_id) == 1


@pytest.mark.parametrize("role", [Role.PATIENT, Role.PHARMACIST, Role.STORE_STAFF, None])
def test_only_couriers_may_call_the_courier_api(platform: Platform, role: Role | None) -> None:
    """Patients, pharmacists and store staff get 403 on every courier endpoint; nobody signed in gets 401."""
    headers = platform.auth(role)
    calls = [
        platform.client.get("/api/courier/me", headers=headers),
        platform.client.get("/api/courier/deliveries", headers=headers),
        platform.client.post("/api/courier/online", json={"event_id": eid()}, headers=headers),
        platform.client.post("/api/courier/positions", json=position(platform, 1), headers=headers),
        platform.client.post("/api/courier/deliveries/x/accept", json={"event_id": eid()}, headers=headers),
    ]

    assert [c.status_code for c in calls] == [403 if role else 401] * 5


def test_shifts_never_overlap_and_last_at_most_twelve_hours(platform: Platform) -> None:
    """Admins add shifts; an overlapping one is a 409, a 13-hour or backwards one a 422; couriers may not add any."""
    courier = make_courier(platform)  # has a shift from an hour ago to ten hours on
    admin = platform.auth(Role.ADMIN)
    now = platform.clock.now()
    url = f"/api/admin/couriers/{courier.user_id}/shifts"

    def shift(start_h: float, end_h: float, headers: dict[str, str] = admin) -> int:
        body = {
            "starts_at": (now + timedelta(hours=start_h)).isoformat(),
            "ends_at": (now + timedelta(hours=end_h)).isoformat(),
        }
        return int(platform.client.post(url, json=body, headers=headers).status_code)

    assert shift(9, 12) == 409
    assert shift(11, 24) == 422
    assert shift(12, 11) == 422
    assert shift(10, 14, courier.headers) == 403
    assert shift(10, 14) == 201
    assert count(platform, t.courier_shifts, t.courier_shifts.c.courier_id == courier.user_id) == 2
