"""Tracking: what the buyer sees of an order on its way (JSON, stream, page), who may see it, and the promise
report operators read. Deliveries and couriers are written straight into their tables, as the delivery and
dispatch contexts would."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from sqlalchemy import insert

from shop import make_shop
from support import Platform, free_port
from tracking_support import (
    COURIER_FIRST_NAME,
    COURIER_MASKED,
    COURIER_PHONE,
    move_courier,
    new_courier,
    new_patient,
    open_delivery,
    paid_order,
    set_order_status,
    update_delivery,
)
from yaodao.accounts.model import Role
from yaodao.adapters.db import tables as t
from yaodao.web import tracking

HERE = (30.2640, 120.1560)  # a few hundred metres from the test shop, inside Xihu district


@pytest.fixture
def quick_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracking, "STREAM", tracking.StreamParams(poll_seconds=0.05, lifetime_seconds=30))


def _events(body: str) -> list[tuple[str, Any]]:
    """(event name, data) of each event in an SSE body; comments and retry lines are left out."""
    out = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_the_buyer_sees_first_name_and_masked_phone_and_nothing_else_of_the_courier(platform: Platform) -> None:
    """JSON and page: courier first name, masked phone, position and its age, live ETA and the promise; the full
    phone number, the courier's account id and display name appear nowhere."""
    _, buyer = new_patient(platform)
    order_id, pharmacy_id = paid_order(platform, buyer)
    open_delivery(platform, order_id, pharmacy_id)
    courier_id = new_courier(platform, *HERE)
    now = platform.clock.now()
    move_courier(platform, courier_id, *HERE, at=now - timedelta(seconds=12))
    update_delivery(
        platform, order_id, state="assigned", courier_id=courier_id, assigned_at=now, eta_at=now + timedelta(minutes=35)
    )

    answer = platform.client.get(f"/api/orders/{order_id}/tracking", headers=buyer)
    page = platform.client.get(f"/orders/{order_id}/track", headers=buyer)

    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["courier"] == {
        "first_name": COURIER_FIRST_NAME, "phone_masked": COURIER_MASKED,
        "position": {"lat": HERE[0], "lng": HERE[1]}, "position_at": (now - timedelta(seconds=12)).isoformat(),
        "position_age_s": 12,
    }  # fmt: skip
    assert view["stage"] == "assigned"
    assert view["status"] == "paid"
    assert view["eta_source"] == "live"
    assert datetime.fromisoformat(view["eta_at"]) == now + timedelta(minutes=35)
    assert datetime.fromisoformat(view["due_at"]) == now + timedelta(minutes=30)
    assert view["at_risk"] is True  # the live estimate is past the promise
    assert view["final"] is False
    assert page.status_code == 200, page.text
    assert COURIER_MASKED in page.text
    assert COURIER_FIRST_NAME in page.text
    assert 'id="courier-dot"' in page.text
    assert (
        '<p class="track-status" id="track-status" data-stage="assigned">骑手已接单 Courier assigned</p>' in page.text
    )
    assert 'class="district"' in page.text
    for leak in (COURIER_PHONE, courier_id, "Wang Xiaoming"):
        assert leak not in answer.text
        assert leak not in page.text


def test_before_a_courier_the_view_shows_the_quote_and_no_courier(platform: Platform) -> None:
    """No delivery row yet: ETA and promise come from the order's quote and payment time; not at risk."""
    _, buyer = new_patient(platform)
    order_id, _ = paid_order(platform, buyer)
    view = platform.client.get(f"/api/orders/{order_id}/tracking", headers=buyer).json()
    paid_at = next(datetime.fromisoformat(s["at"]) for s in view["timeline"] if s["status"] == "paid")
    assert view["courier"] is None
    assert view["delivery_state"] is None
    assert view["eta_source"] == "quote"
    assert datetime.fromisoformat(view["due_at"]) == paid_at + timedelta(minutes=30)
    assert view["at_risk"] is False


def test_someone_else_gets_404_and_nobody_signed_in_401(platform: Platform) -> None:
    """Another patient and a courier get 404 from JSON, stream and page, as for a missing order; anonymous 401
    (the page sends them to sign in)."""
    _, buyer = new_patient(platform)
    _, stranger = new_patient(platform)
    order_id, _ = paid_order(platform, buyer)
    for who in (stranger, platform.auth(Role.COURIER)):
        assert platform.client.get(f"/api/orders/{order_id}/tracking", headers=who).status_code == 404
        assert platform.client.get(f"/api/orders/{order_id}/tracking/stream", headers=who).status_code == 404
        assert platform.client.get(f"/orders/{order_id}/track", headers=who).status_code == 404
    assert platform.client.get(f"/api/orders/{order_id}/tracking").status_code == 401
    page = platform.client.get(f"/orders/{order_id}/track", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")
    assert platform.client.get("/api/orders/nope/tracking", headers=buyer).status_code == 404


def test_the_stream_sends_an_event_for_each_change_and_ends_when_delivered(
    platform: Platform, quick_stream: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Assigned, courier moved, ETA changed, picked up, delivered: one event each (nothing for unchanged polls),
    then an end event; the last view is final and shows no courier position."""
    _, buyer = new_patient(platform)
    order_id, pharmacy_id = paid_order(platform, buyer)
    open_delivery(platform, order_id, pharmacy_id)
    courier_id = new_courier(platform, *HERE)
    now = platform.clock.now()
    steps = [
        lambda: update_delivery(platform, order_id, state="assigned", courier_id=courier_id, assigned_at=now,
                                eta_at=now + timedelta(minutes=18)),
        lambda: move_courier(platform, courier_id, 30.2620, 120.1530),
        lambda: update_delivery(platform, order_id, eta_at=now + timedelta(minutes=16)),
        lambda: (update_delivery(platform, order_id, state="picked_up", picked_up_at=now),
                 set_order_status(platform, order_id, "picked_up")),
        lambda: (update_delivery(platform, order_id, state="delivered", delivered_at=now + timedelta(minutes=15)),
                 set_order_status(platform, order_id, "delivered")),
    ]  # fmt: skip

    # Lockstep, not sleeps: each change waits until the stream has sent the view before it, so a busy
    # machine cannot fold two changes into one poll.
    sent = threading.Condition()
    count = [0]
    original = tracking._event

    def counted(view: Any) -> str:
        with sent:
            count[0] += 1
            sent.notify_all()
        return original(view)

    monkeypatch.setattr(tracking, "_event", counted)

    def drive() -> None:
        for n, step in enumerate(steps, start=1):
            with sent:
                assert sent.wait_for(lambda n=n: count[0] >= n, timeout=20), f"the stream never sent view {n}"
            step()

    driver = threading.Thread(target=drive)
    driver.start()
    started = time.monotonic()
    answer = platform.client.get(f"/api/orders/{order_id}/tracking/stream", headers=buyer)
    driver.join()

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert time.monotonic() - started < 25
    events = _events(answer.text)
    views = [data for name, data in events if name == "tracking"]
    assert [name for name, _ in events][-1] == "end"
    assert [v["stage"] for v in views] == ["paid", "assigned", "assigned", "assigned", "picked_up", "delivered"]
    assert views[1]["courier"]["position"] == {"lat": HERE[0], "lng": HERE[1]}
    assert views[2]["courier"]["position"] == {"lat": 30.2620, "lng": 120.1530}
    assert datetime.fromisoformat(views[2]["eta_at"]) == now + timedelta(minutes=18)
    assert datetime.fromisoformat(views[3]["eta_at"]) == now + timedelta(minutes=16)
    assert views[-1]["final"] is True
    assert views[-1]["late"] is False
    assert views[-1]["courier"]["position"] is None
    assert COURIER_PHONE not in answer.text
    assert courier_id not in answer.text


def test_a_quiet_stream_sends_heartbeats_and_ends_at_its_lifetime(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing changes: one event, keep-alive comments, and the stream closes at its lifetime without an end
    event (so EventSource reconnects)."""
    monkeypatch.setattr(
        tracking, "STREAM", tracking.StreamParams(poll_seconds=0.05, heartbeat_seconds=0.1, lifetime_seconds=0.6)
    )
    _, buyer = new_patient(platform)
    order_id, _ = paid_order(platform, buyer)
    answer = platform.client.get(f"/api/orders/{order_id}/tracking/stream", headers=buyer)
    events = _events(answer.text)
    assert answer.text.startswith("retry: ")
    assert [name for name, _ in events] == ["tracking"]
    assert answer.text.count(": keep-alive") >= 2


def test_a_finished_order_streams_its_final_view_and_ends(platform: Platform) -> None:
    """A delivered order: one final view and the end event, at once."""
    _, buyer = new_patient(platform)
    order_id, _ = paid_order(platform, buyer)
    set_order_status(platform, order_id, "picked_up")
    set_order_status(platform, order_id, "delivered")
    events = _events(platform.client.get(f"/api/orders/{order_id}/tracking/stream", headers=buyer).text)
    assert [name for name, _ in events] == ["tracking", "end"]
    assert events[0][1]["final"] is True
    assert events[0][1]["stage"] == "delivered"


# The promise report ------------------------------------------------------------------------------


def _delivered(platform: Platform, order_id: str, pharmacy_id: str, **at: Any) -> None:
    now = platform.clock.now()
    with platform.container.engine.begin() as conn:
        conn.execute(
            insert(t.deliveries).values(
                order_id=order_id, city_id="hangzhou", pharmacy_id=pharmacy_id, courier_id=at.pop("courier_id"),
                pickup_code="1", handover_code="2", id_check=False, cold_chain=False, size=1, dropoff_lat=HERE[0],
                dropoff_lng=HERE[1], placed_at=at["due_at"] - timedelta(minutes=30), ready_at=at["due_at"],
                created_at=now, updated_at=now, version=1, **at,
            )
        )  # fmt: skip


def test_the_promise_report_counts_on_time_gaps_and_late_causes(platform: Platform) -> None:
    """Five deliveries in the window (three on time, one late for the pharmacy, one late with no cause) and two
    outside it (delivered too early, or failed): n 5, on time 0.6, gap p50 2 min and p90 8.4 min."""
    _, buyer = new_patient(platform)
    courier_id = new_courier(platform, *HERE)
    base = datetime(2031, 1, 1, tzinfo=UTC) + timedelta(days=random.randrange(3000))
    rows = [  # (due - delivered, delivered - quoted) in minutes, cause, state, delivered offset
        (5, 2, None, "delivered", 10), (0, 0, None, "delivered", 20), (-10, 10, "pharmacy_slow", "delivered", 30),
        (-4, 6, None, "delivered", 40), (3, -4, None, "delivered", 50), (0, 0, None, "delivered", -30),
        (-20, 20, "no_courier_near", "failed", 60),
    ]  # fmt: skip
    shop = make_shop(platform, stock=20)
    for early, gap, cause, state, offset in rows:
        order_id, pharmacy_id = paid_order(platform, buyer, shop)
        delivered_at = base + timedelta(minutes=offset)
        _delivered(
            platform, order_id, pharmacy_id, courier_id=courier_id, state=state, delivered_at=delivered_at,
            due_at=delivered_at + timedelta(minutes=early), quoted_at=delivered_at - timedelta(minutes=gap),
            late_cause=cause,
        )  # fmt: skip
    window = {"city": "hangzhou", "since": base.isoformat(), "until": (base + timedelta(hours=2)).isoformat()}

    report = platform.client.get("/api/ops/promise", params=window, headers=platform.auth(Role.OPERATOR))
    admin = platform.client.get("/api/ops/promise", params=window, headers=platform.auth(Role.ADMIN))

    assert report.status_code == 200, report.text
    assert admin.json() == report.json()
    assert report.json() == {
        "city": "hangzhou", "since": base.isoformat(), "until": (base + timedelta(hours=2)).isoformat(),
        "n": 5, "on_time": 3, "on_time_rate": 0.6, "gap_p50_min": 2.0, "gap_p90_min": 8.4, "late": 2,
        "late_by_cause": {"pharmacy_slow": 1, "unrecorded": 1},
    }  # fmt: skip


def test_the_promise_report_of_an_empty_window_is_zeros_and_bad_windows_are_422(platform: Platform) -> None:
    """n=0 and zeros for a window without deliveries; 422 naming the field for unparseable, naive or reversed
    times; 403 for a patient, 401 for nobody, 404 for an unknown city."""
    ops = platform.auth(Role.OPERATOR)
    empty = platform.client.get(
        "/api/ops/promise", params={"since": "1990-01-01T00:00:00+08:00", "until": "1990-01-02T00:00:00+08:00"},
        headers=ops,
    )  # fmt: skip
    assert empty.status_code == 200, empty.text
    assert {k: v for k, v in empty.json().items() if k not in ("city", "since", "until")} == {
        "n": 0, "on_time": 0, "on_time_rate": 0.0, "gap_p50_min": 0.0, "gap_p90_min": 0.0, "late": 0,
        "late_by_cause": {},
    }  # fmt: skip
    bad = [
        ({"since": "yesterday"}, "since"),
        ({"until": "2031-01-01T00:00:00"}, "until"),
        ({"since": "2031-01-02T00:00:00Z", "until": "2031-01-01T00:00:00Z"}, "since"),
        ({"since": "2030-01-01T00:00:00Z", "until": "2032-01-01T00:00:00Z"}, "since"),
    ]
    for params, field in bad:
        answer = platform.client.get("/api/ops/promise", params=params, headers=ops)
        assert answer.status_code == 422, (params, answer.text)
        assert field in answer.text
    assert platform.client.get("/api/ops/promise", headers=platform.auth(Role.PATIENT)).status_code == 403
    assert platform.client.get("/api/ops/promise", headers=platform.auth(Role.COURIER)).status_code == 403
    assert platform.client.get("/api/ops/promise").status_code == 401
    assert platform.client.get("/api/ops/promise", params={"city": "atlantis"}, headers=ops).status_code in (403, 404)
    assert (
        platform.client.get(
            "/api/ops/promise", params={"city": "atlantis"}, headers=platform.auth(Role.ADMIN)
        ).status_code
        == 404
    )


def test_over_a_real_server_events_arrive_as_they_happen_and_a_hang_up_ends_the_stream(
    platform: Platform, quick_stream: None
) -> None:
    """Through uvicorn (no buffering test client): the first event comes at once, a change arrives within a
    few polls while the stream stays open, and when the client hangs up the server's stream task ends."""
    _, buyer = new_patient(platform)
    order_id, pharmacy_id = paid_order(platform, buyer)
    open_delivery(platform, order_id, pharmacy_id)
    courier_id = new_courier(platform, *HERE)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(platform.client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/api/orders/{order_id}/tracking/stream", headers=buyer)
        answer = conn.getresponse()
        assert answer.getheader("content-type", "").startswith("text/event-stream")
        stages = []
        while len(stages) < 2:
            line = answer.readline().decode()
            assert line, "the stream ended early"
            if line.startswith("data: "):
                stages.append(json.loads(line[6:])["stage"])
                if len(stages) == 1:
                    changed_at = time.monotonic()
                    update_delivery(platform, order_id, state="assigned", courier_id=courier_id)
        assert time.monotonic() - changed_at < 5
        conn.close()
        assert stages == ["paid", "assigned"]
        deadline = time.monotonic() + 5
        while server.server_state.tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.server_state.tasks
    finally:
        server.should_exit = True
        thread.join(5)
