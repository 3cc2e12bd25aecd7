"""In Chromium: 急用药 at a Hangzhou address opens the landing page with deliverable OTC products and ETAs;
a red-flag phrase shows the emergency banner first, with nothing to buy."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from support import screenshot


def test_urgent_medicine_at_a_hangzhou_address_lists_deliverable_otc_products_with_etas(
    page: Page, live_server: str
) -> None:
    page.goto(live_server + "/")
    page.get_by_placeholder("搜索药品、症状").fill("急用药")
    page.get_by_label("送到 Deliver to").select_option("330106")  # 西湖区
    page.get_by_role("button", name="搜索 Search").click()
    expect(page).to_have_url(re.compile(r"/search\?q="))
    deliverable = page.locator("#deliverable .card")
    expect(deliverable.first).to_be_visible()
    assert deliverable.count() >= 3
    first = deliverable.first
    expect(first.locator(".eta")).to_contain_text("分钟送达")
    expect(first.locator(".cls")).to_contain_text("OTC")
    expect(page.locator("#ask-doctor")).to_be_visible()
    expect(page.locator("#emergency")).to_have_count(0)
    screenshot(page, "search-urgent-medicine")


def test_a_red_flag_phrase_shows_the_emergency_banner_first_and_nothing_to_buy(page: Page, live_server: str) -> None:
    page.goto(live_server + "/")
    page.get_by_placeholder("搜索药品、症状").fill("胸口疼 出冷汗")
    page.get_by_role("button", name="搜索 Search").click()
    banner = page.locator("#emergency")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("120")
    expect(banner.locator("a[href='tel:120']")).to_be_visible()
    first_section = page.locator("main > section").first
    expect(first_section).to_have_id("emergency")
    expect(page.locator(".card")).to_have_count(0)
    expect(page.locator("#prescription")).to_have_count(0)
    screenshot(page, "search-emergency")
