"""The cart page over a cookie session: add from search, change packs, check everything out once."""

from __future__ import annotations

from sqlalchemy import func, select

from page_session import _hidden, _signed_in, _user
from shop import NEAR, make_shop
from support import Platform
from yaodao.adapters.db import tables as t


def test_add_change_and_check_out_the_cart_through_the_page(platform: Platform) -> None:
    """Adding twice makes 2 packs; the checkout form places one order (a resubmit replays it) and empties the cart."""
    shop = make_shop(platform, stock=10)
    user = _user(platform)
    browser = _signed_in(platform, user)
    empty = browser.get(f"/cart?lat={NEAR.lat}&lng={NEAR.lng}")
    assert empty.status_code == 200
    assert 'id="cart-empty"' in empty.text
    csrf = _hidden(empty.text, "/logout")["csrf_token"]
    for _ in range(2):
        added = browser.post(
            "/cart/lines",
            data={"csrf_token": csrf, "product_id": shop.otc_id, "quantity": "1", "add": "1",
                  "lat": str(NEAR.lat), "lng": str(NEAR.lng)},
        )  # fmt: skip
        assert added.status_code == 303, added.text
    page = browser.get(f"/cart?lat={NEAR.lat}&lng={NEAR.lng}")
    assert f'data-product="{shop.otc_id}"' in page.text
    assert 'value="2"' in page.text
    assert "¥30.00" in page.text  # 2 x 15.00
    form = _hidden(page.text, "/cart/checkout")
    placed = browser.post("/cart/checkout", data={**form, "address": "point", "address_text": "北山街1号"})
    assert placed.status_code == 303, placed.text
    assert placed.headers["location"].startswith("/orders/")
    again = browser.post("/cart/checkout", data={**form, "address": "point", "address_text": "北山街1号"})
    assert again.headers.get("location") == placed.headers["location"]
    with platform.container.engine.connect() as conn:
        orders = conn.execute(select(func.count()).select_from(t.orders).where(t.orders.c.user_id == user.id))
        assert orders.scalar_one() == 1
    assert 'id="cart-empty"' in browser.get("/cart").text


def test_a_form_without_the_csrf_token_changes_nothing(platform: Platform) -> None:
    shop = make_shop(platform, stock=10)
    browser = _signed_in(platform, _user(platform))
    answer = browser.post("/cart/lines", data={"product_id": shop.otc_id, "quantity": "1"})
    assert answer.status_code == 403
    assert 'id="cart-empty"' in browser.get("/cart").text


def test_a_bad_quantity_shows_the_problem_on_the_page(platform: Platform) -> None:
    shop = make_shop(platform, stock=10)
    browser = _signed_in(platform, _user(platform))
    csrf = _hidden(browser.get("/cart").text, "/logout")["csrf_token"]
    answer = browser.post("/cart/lines", data={"csrf_token": csrf, "product_id": shop.otc_id, "quantity": "500"})
    assert answer.status_code == 422
    assert "quantity" in answer.text
    assert 'id="cart-empty"' in answer.text
