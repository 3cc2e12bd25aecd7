"""The courier's phone page (/courier): what it shows, and that its buttons' API calls work with the session."""

from __future__ import annotations

import re
import uuid
from html import unescape

from fastapi import FastAPI
from starlette.testclient import TestClient

from courier_support import assign, delivery_row, make_courier, paid_order
from support import PASSWORD, Platform
from yaodao.accounts.model import Role


def signed_in(platform: Platform, email: str) -> TestClient:
    """A browser of its own (its own cookie jar), signed in through the login form."""
    app: FastAPI = platform.client.app
    client = TestClient(app, follow_redirects=False)
    login = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]*)"', login.text)
    assert token is not None
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": unescape(token.group(1))})
    assert answer.status_code == 303, answer.text
    return client


def test_the_courier_page_shows_the_assigned_delivery_and_its_buttons_call_the_api(platform: Platform) -> None:
    """Signed in, the courier sees their state and the assigned delivery with an accept button; the button's call
    (session cookie plus the page's CSRF token) accepts it, and the page then offers 'arrived'."""
    courier = make_courier(platform)
    browser = signed_in(platform, courier.email)
    csrf = re.search(r'data-csrf="([^"]+)"', browser.get("/courier").text)
    assert csrf is not None
    headers = {"X-CSRF-Token": csrf.group(1)}
    assert browser.post("/api/courier/online", json={"event_id": uuid.uuid4().hex}, headers=headers).status_code == 200
    order_id, _ = paid_order(platform)
    assign(platform, order_id, courier.user_id)

    page = browser.get("/courier")

    assert page.status_code == 200
    assert 'id="courier-state">idle<' in page.text
    assert f'data-action="/api/courier/deliveries/{order_id}/accept"' in page.text
    assert delivery_row(platform, order_id)["pickup_code"] not in page.text.split('id="delivery-')[1]
    no_csrf = browser.post(f"/api/courier/deliveries/{order_id}/accept", json={"event_id": uuid.uuid4().hex})
    assert no_csrf.status_code == 403
    accepted = browser.post(
        f"/api/courier/deliveries/{order_id}/accept", json={"event_id": uuid.uuid4().hex}, headers=headers
    )
    assert accepted.status_code == 200, accepted.text
    after = browser.get("/courier")
    assert f'data-action="/api/courier/deliveries/{order_id}/arrived"' in after.text
    assert 'id="courier-state">to_pickup<' in after.text


def test_the_courier_page_sends_strangers_to_sign_in_and_refuses_patients(platform: Platform) -> None:
    """Nobody signed in: redirected to the login page. A signed-in patient: 403 with a clear message."""
    anonymous = TestClient(platform.client.app, follow_redirects=False)

    redirected = anonymous.get("/courier")
    refused = signed_in(platform, platform.users[Role.PATIENT].email).get("/courier")

    assert redirected.status_code == 303
    assert redirected.headers["location"] == "/login?next=%2Fcourier"
    assert refused.status_code == 403
    assert 'id="courier-problem"' in refused.text
