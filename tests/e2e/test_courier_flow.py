"""In Chromium at a 375 px wide phone screen: a courier goes online and takes one paid order from the pharmacy to
the door with the pharmacy's and the customer's codes."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from courier_support import assign, delivery_row, make_courier, make_ready, order_status, paid_order
from support import PASSWORD, Platform, screenshot
from yaodao.ordering.model import OrderStatus


def test_a_courier_delivers_an_order_from_the_phone_page(
    browser: Browser, live_server: str, platform: Platform
) -> None:
    """Sign in -> go online -> accept -> arrived -> a wrong pickup code is shown as refused -> the right one ->
    the customer's code -> delivered; the page never scrolls sideways at 375 px."""
    courier = make_courier(platform)
    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN")
    page = context.new_page()
    page.goto(live_server + "/login")
    page.get_by_label("邮箱 Email").fill(courier.email)
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    page.wait_for_url(live_server + "/")
    page.goto(live_server + "/courier")
    expect(page.locator("#courier-state")).to_have_text("offline")
    page.get_by_role("button", name="上线 Go online").click()
    expect(page.locator("#courier-state")).to_have_text("idle")

    order_id, _ = paid_order(platform)
    assign(platform, order_id, courier.user_id)
    make_ready(platform, order_id)
    codes = delivery_row(platform, order_id)
    page.reload()
    card = page.locator(f"#delivery-{order_id}")
    card.get_by_role("button", name="接单 Accept").click()
    expect(page.locator("#courier-state")).to_have_text("to_pickup")
    page.locator(f"#delivery-{order_id}").get_by_role("button", name="已到店 Arrived at pharmacy").click()
    expect(page.locator("#courier-state")).to_have_text("waiting")
    screenshot(page, "courier-at-pharmacy")
    wrong = "000000" if codes["pickup_code"] != "000000" else "111111"
    page.locator(f"#pickup-{order_id}").fill(wrong)
    page.get_by_role("button", name="已取货 Picked up").click()
    expect(page.locator(f"#delivery-{order_id} .msg")).to_contain_text("pickup code does not match")
    page.locator(f"#pickup-{order_id}").fill(codes["pickup_code"])
    page.get_by_role("button", name="已取货 Picked up").click()
    expect(page.locator("#courier-state")).to_have_text("to_dropoff")
    page.locator(f"#handover-{order_id}").fill(codes["handover_code"])
    screenshot(page, "courier-at-the-door")
    page.get_by_role("button", name="已送达 Delivered").click()

    expect(page.locator("#courier-state")).to_have_text("idle")
    expect(page.locator("#no-delivery")).to_be_visible()
    assert order_status(platform, order_id) is OrderStatus.DELIVERED
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    context.close()
