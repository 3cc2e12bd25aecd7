"""Signing in through the login page in Chromium, for browser tests that play several people at once."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from support import PASSWORD


def signed_in_page(browser: Browser, base: str, email: str) -> Page:
    """A phone-sized browser context of its own (its own cookies), signed in as ``email``."""
    page = browser.new_context(viewport={"width": 412, "height": 915}, locale="zh-CN").new_page()
    page.goto(base + "/login")
    page.get_by_label("邮箱 Email").fill(email)
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    expect(page).to_have_url(base + "/")
    return page
