"""In Chromium: a patient opens the tracking page of a paid order from the order page and watches it arrive. The
test moves the delivery forward in the server's database (assigned, courier moving, picked up, delivered) and
the page follows over its event stream without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from support import PASSWORD, Platform, screenshot
from tracking_support import (
    COURIER_FIRST_NAME,
    COURIER_MASKED,
    COURIER_PHONE,
    move_courier,
    new_courier,
    open_delivery,
    paid_order,
    set_order_status,
    update_delivery,
)
from yaodao.accounts.model import Role
from yaodao.web import tracking

WAIT = 10_000  # ms: a few stream polls


def test_a_patient_follows_a_paid_order_to_its_door_on_the_tracking_page(
    page: Page, live_server: str, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paid -> courier assigned (name and masked phone, dot on the map) -> the dot moves -> on the way ->
    delivered (final state, stream closed); the page is never reloaded."""
    monkeypatch.setattr(tracking, "STREAM", tracking.StreamParams(poll_seconds=0.3))
    patient = platform.users[Role.PATIENT]
    buyer = platform.auth(Role.PATIENT)
    profile = {"date_of_birth": "1990-05-01", "sex": "f", "allergies": [], "current_medicines": []}
    assert platform.client.put("/api/me/profile", json=profile, headers=buyer).status_code == 200
    order_id, pharmacy_id = paid_order(platform, buyer)
    open_delivery(platform, order_id, pharmacy_id)
    courier_id = new_courier(platform, 30.2600, 120.1470)
    now = platform.clock.now()

    page.goto(live_server + "/login")
    page.get_by_label("邮箱 Email").fill(patient.email)
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    expect(page).to_have_url(live_server + "/")
    page.goto(f"{live_server}/orders/{order_id}")
    page.get_by_role("link", name=re.compile("实时跟踪 Track live")).click()
    expect(page).to_have_url(f"{live_server}/orders/{order_id}/track")

    status, dot = page.locator("#track-status"), page.locator("#courier-dot")
    expect(status).to_have_text("已付款 Paid")
    expect(dot).to_have_attribute("visibility", "hidden")
    expect(page.locator("#track-map path.district").first).to_be_attached()
    page.evaluate("window.__sameDocument = true")

    update_delivery(platform, order_id, state="assigned", courier_id=courier_id, assigned_at=now)
    expect(status).to_have_text("骑手已接单 Courier assigned", timeout=WAIT)
    expect(page.locator("#courier-name")).to_have_text(COURIER_FIRST_NAME)
    expect(page.locator("#courier-phone")).to_have_text(COURIER_MASKED)
    expect(dot).to_have_attribute("visibility", "visible")
    first_x, first_y = dot.get_attribute("cx"), dot.get_attribute("cy")

    move_courier(platform, courier_id, 30.2592, 120.1488)
    expect(dot).not_to_have_attribute("cx", first_x or "", timeout=WAIT)
    assert dot.get_attribute("cy") != first_y
    screenshot(page, "tracking-courier-assigned")

    update_delivery(platform, order_id, state="picked_up", picked_up_at=now)
    set_order_status(platform, order_id, "picked_up")
    move_courier(platform, courier_id, 30.2603, 120.1502)
    expect(status).to_have_text("配送中 On the way", timeout=WAIT)
    expect(page.locator("#timeline li[data-state='picked_up']")).to_have_count(1)

    update_delivery(platform, order_id, state="delivered", delivered_at=now)
    set_order_status(platform, order_id, "delivered")
    expect(status).to_have_text("已送达 Delivered", timeout=WAIT)
    expect(page.locator("#track")).to_have_attribute("data-final", "true")
    expect(page.locator("#live-note")).to_contain_text("订单已结束")
    expect(page.locator("#delivered")).to_be_visible()
    expect(dot).to_have_attribute("visibility", "hidden")
    assert page.evaluate("window.__sameDocument") is True
    assert COURIER_PHONE not in page.content()
    screenshot(page, "tracking-delivered")
