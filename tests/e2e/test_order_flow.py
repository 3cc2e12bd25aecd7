"""In Chromium: a patient signs in, searches 布洛芬 at a Hangzhou address, buys one pack, pays at the sandbox
wallet's pay page, comes back and sees the order paid."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from support import PASSWORD, Platform, screenshot
from yaodao.accounts.model import Role


def test_a_patient_buys_one_pack_of_ibuprofen_pays_at_the_wallet_and_sees_the_order_paid(
    page: Page, live_server: str, platform: Platform
) -> None:
    """Search card -> checkout (one pack, the searched point) -> order awaiting payment -> the wallet's pay page in
    its own server -> back on the order's page, which shows it paid and offers no pay button."""
    patient = platform.users[Role.PATIENT]
    profile = {"date_of_birth": "1990-05-01", "sex": "f", "allergies": [], "current_medicines": []}
    assert platform.client.put("/api/me/profile", json=profile, headers=platform.auth(Role.PATIENT)).status_code == 200

    page.goto(live_server + "/login")
    page.get_by_label("邮箱 Email").fill(patient.email)
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    expect(page).to_have_url(live_server + "/")

    page.get_by_placeholder("搜索药品、症状").fill("布洛芬")
    page.get_by_label("送到 Deliver to").select_option("330106")  # 西湖区
    page.get_by_role("button", name="搜索 Search").click()
    card = page.locator("#deliverable .card").first
    expect(card).to_contain_text("布洛芬")
    card.get_by_role("button", name="购买 Buy").click()

    expect(page).to_have_url(re.compile(r"/checkout\?product="))
    expect(page.get_by_role("heading", name="确认订单 · Checkout")).to_be_visible()
    expect(page.get_by_label("数量（盒） Packs")).to_have_value("1")
    page.get_by_label("详细地址 Street address").fill("西湖区北山街1号")
    screenshot(page, "order-checkout")
    page.get_by_role("button", name="提交订单 Place order").click()

    expect(page).to_have_url(re.compile(r"/orders/[0-9a-f-]+$"))
    order = page.locator("#order")
    expect(order).to_have_attribute("data-status", "awaiting_payment")
    expect(page.locator("table.lines tbody tr")).to_have_count(1)
    expect(page.locator("table.lines")).to_contain_text("1 ×")
    screenshot(page, "order-awaiting-payment")
    order_url = page.url
    page.get_by_role("button", name=re.compile("去付款 Pay")).click()

    expect(page.get_by_text("沙箱钱包 Sandbox wallet")).to_be_visible()
    screenshot(page, "order-wallet-pay-page")
    page.get_by_role("button", name="确认付款 Pay").click()

    expect(page).to_have_url(order_url)
    expect(order).to_have_attribute("data-status", "paid")
    expect(page.locator(".order-status")).to_contain_text("已付款 Paid")
    expect(page.get_by_role("button", name=re.compile("去付款 Pay"))).to_have_count(0)
    screenshot(page, "order-paid")
