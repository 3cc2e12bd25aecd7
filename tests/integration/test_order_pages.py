"""The ordering pages over a cookie session: checkout, my orders, one order (pay at the sandbox wallet, cancel),
and the pharmacy's review queue and fulfilment; on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import date
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx2
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from page_session import _app, _hidden, _signed_in, _user
from shop import NEAR, Shop, make_shop, prescribe
from support import Platform
from yaodao.accounts import services as accounts
from yaodao.accounts.model import Role, User
from yaodao.accounts.policy import Actor
from yaodao.adapters.db import tables as t
from yaodao.adapters.wallet_client import AlipayStyleClient
from yaodao.kernel.clock import SystemClock
from yaodao.kernel.geo import LatLng
from yaodao.kernel.ids import new_id
from yaodao.kernel.money import format_yuan
from yaodao.ordering import services as ordering
from yaodao.ordering.model import Order, OrderStatus
from yaodao.wallet_sandbox.app import create_sandbox_app
from yaodao.wallet_sandbox.config import DATABASE_FILE, DEV_APP_ID, PUBLIC_KEY_FILE, load_config
from yaodao.wallet_sandbox.store import SandboxStore
from yaodao.web import order_pages
from yaodao.web.api_orders import ordering_context as _context

RX_NOTICE = "处方药须凭处方在药师指导下购买和使用"


def _orders_of(platform: Platform, user: User) -> int:
    with platform.container.engine.connect() as conn:
        where = t.orders.c.user_id == user.id
        return int(conn.execute(select(func.count()).select_from(t.orders).where(where)).scalar_one())


def _order(platform: Platform, order_id: str) -> Order:
    with platform.container.uow(read_only=True) as uow:
        order: Order | None = uow.orders.get(order_id)
    assert order is not None
    return order


def _checkout_form(client: TestClient, product_id: str, at: LatLng = NEAR) -> dict[str, str]:
    page = client.get("/checkout", params={"product": product_id, "lat": at.lat, "lng": at.lng})
    assert page.status_code == 200, page.text
    return {**_hidden(page.text, "/checkout"), "quantity": "1", "address": "point", "address_text": "北山街1号"}


def _place(client: TestClient, product_id: str) -> str:
    placed = client.post("/checkout", data=_checkout_form(client, product_id))
    assert placed.status_code == 303, placed.text
    return placed.headers["location"].removeprefix("/orders/")


@pytest.fixture(scope="module")
def sqlite_shop(sqlite_platform: Platform) -> Shop:
    return make_shop(sqlite_platform, stock=1000)


@pytest.fixture(scope="module")
def postgres_shop(postgres_platform: Platform) -> Shop:
    return make_shop(postgres_platform, stock=1000)


@pytest.fixture
def shop(request: pytest.FixtureRequest, platform: Platform) -> Shop:
    """One shop per engine for this module; tests tell their orders apart by buyer."""
    shop: Shop = request.getfixturevalue(f"{request.node.callspec.params['platform']}_shop")
    return shop


def test_the_checkout_page_offers_the_buyer_their_family_saved_addresses_and_for_rx_the_notice_and_prescriptions(
    platform: Platform, shop: Shop
) -> None:
    """OTC: product, price, patients and addresses, no Rx notice. Rx: DOMAIN S3's notice, the risk checkbox, and a
    select holding the buyer's valid prescription for it (not another product's)."""
    user = _user(platform)
    actor = Actor(user_id=user.id, roles=user.roles)
    accounts.add_family_member(
        uow=platform.container.uow(), actor=actor, name="小明", relation="child", date_of_birth=date(2015, 3, 1),
        sex="m", allergies=[], current_medicines=[],
    )  # fmt: skip
    accounts.add_address(
        uow=platform.container.uow(), actor=actor, cities=platform.container.cities, city_id="hangzhou", label="家",
        recipient="张三", phone="13800000000", text="北山街88号", location=NEAR, is_default=True,
    )  # fmt: skip
    rx_id = prescribe(platform, user.id, shop.rx_id)
    client = _signed_in(platform, user)

    otc = client.get("/checkout", params={"product": shop.otc_id, "lat": NEAR.lat, "lng": NEAR.lng})
    rx = client.get("/checkout", params={"product": shop.rx_id, "lat": NEAR.lat, "lng": NEAR.lng})

    assert otc.status_code == rx.status_code == 200
    assert "布洛芬片" in otc.text
    assert "¥15.00" in otc.text
    assert "小明 (child)" in otc.text
    assert "北山街88号" in otc.text
    assert RX_NOTICE not in otc.text
    assert 'name="rx_risk_acknowledged"' not in otc.text
    assert RX_NOTICE in rx.text
    assert 'name="rx_risk_acknowledged"' in rx.text
    assert f'<option value="{rx_id}"' in rx.text
    hidden = _hidden(rx.text, "/checkout")
    assert hidden["product_id"] == shop.rx_id
    assert hidden["idempotency_key"]
    assert hidden["csrf_token"]


def test_signed_out_pages_send_the_visitor_to_sign_in_and_come_back(platform: Platform) -> None:
    """Every page answers 303 to /login?next=<the page>; a signed-out form post places nothing."""
    client = TestClient(_app(platform), follow_redirects=False)
    for path in ("/checkout?product=x", "/orders", f"/orders/{new_id()}", "/pharmacy/review", "/pharmacy/orders"):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == f"/login?next={quote(path, safe='')}"
    posted = client.post("/checkout", data={"product_id": "x", "lat": NEAR.lat, "lng": NEAR.lng})
    assert posted.status_code == 303
    assert posted.headers["location"].startswith("/login?next=%2Fcheckout")


def test_a_double_submitted_checkout_form_makes_one_order(platform: Platform, shop: Shop) -> None:
    """The same rendered form posted twice: both answers lead to the same order, and only one exists. Its page
    shows the status, the price breakdown with the INS1 split, the promise and a pay button."""
    buyer = _user(platform)
    client = _signed_in(platform, buyer)
    form = _checkout_form(client, shop.otc_id)

    first = client.post("/checkout", data=form)
    second = client.post("/checkout", data=form)

    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert _orders_of(platform, buyer) == 1
    page = client.get(first.headers["location"])
    order = _order(platform, first.headers["location"].removeprefix("/orders/"))
    assert page.status_code == 200
    assert 'data-status="awaiting_payment"' in page.text
    assert "待付款" in page.text
    for label in ("配送费 Delivery fee", "夜间附加费 Night surcharge", "医保可报销 Insured", "自付 Self-paid"):
        assert label in page.text
    assert format_yuan(order.price.total_fen) in page.text
    assert f"承诺 <strong>{order.promise_minutes} 分钟</strong>" in page.text
    assert f'action="/orders/{order.id}/pay"' in page.text
    assert f'action="/orders/{order.id}/cancel"' in page.text


def test_a_refused_checkout_comes_back_with_the_problem_in_chinese_and_english(platform: Platform, shop: Shop) -> None:
    """An Rx order without the risk acknowledgement: 422, the form again with both languages, no order; confirmed,
    it goes through."""
    user = _user(platform)
    rx_id = prescribe(platform, user.id, shop.rx_id)
    client = _signed_in(platform, user)
    form = {**_checkout_form(client, shop.rx_id), "prescription_id": rx_id}

    refused = client.post("/checkout", data=form)

    assert refused.status_code == 422
    assert "请阅读处方药风险提示并勾选确认" in refused.text
    assert "the Rx risk notice has not been confirmed" in refused.text
    assert _orders_of(platform, user) == 0
    again = _hidden(refused.text, "/checkout")
    placed = client.post("/checkout", data={**form, **again, "rx_risk_acknowledged": "yes"})
    assert placed.status_code == 303, placed.text
    assert _orders_of(platform, user) == 1


def test_a_form_without_the_sessions_csrf_token_changes_nothing(platform: Platform, shop: Shop) -> None:
    """A cross-site post carries the cookie but not the token: 403, and no order."""
    buyer = _user(platform)
    client = _signed_in(platform, buyer)
    form = {**_checkout_form(client, shop.otc_id), "csrf_token": "forged"}

    answer = client.post("/checkout", data=form)

    assert answer.status_code == 403
    assert _orders_of(platform, buyer) == 0


def test_another_users_order_is_not_found_and_cannot_be_paid_or_cancelled(platform: Platform, shop: Shop) -> None:
    """Someone else's order answers 404 on its page and its forms, exactly like a missing one, and stays as it was."""
    owner = _signed_in(platform, _user(platform))
    order_id = _place(owner, shop.otc_id)
    other = _signed_in(platform, _user(platform))
    token = _hidden(other.get("/orders").text, "/logout")["csrf_token"]

    page = other.get(f"/orders/{order_id}")
    paid = other.post(f"/orders/{order_id}/pay", data={"csrf_token": token, "idempotency_key": new_id()})
    cancelled = other.post(f"/orders/{order_id}/cancel", data={"csrf_token": token, "reason": "changed my mind"})

    missing = new_id()
    assert page.status_code == paid.status_code == cancelled.status_code == 404
    assert page.text.replace(order_id, "?") == other.get(f"/orders/{missing}").text.replace(missing, "?")
    assert _order(platform, order_id).status is OrderStatus.AWAITING_PAYMENT
    assert owner.get(f"/orders/{order_id}").status_code == 200


def test_my_orders_lists_them_by_page_and_says_so_when_there_are_none(platform: Platform, shop: Shop) -> None:
    """A new buyer sees the empty state; after 11 orders, page 1 holds 10 and page 2 the eleventh."""
    client = _signed_in(platform, _user(platform))
    assert 'id="no-orders"' in client.get("/orders").text
    placed = {_place(client, shop.otc_id) for _ in range(11)}

    first, second = client.get("/orders"), client.get("/orders", params={"page": 2})

    shown = [set(re.findall(r'data-order="([^"]+)"', p.text)) for p in (first, second)]
    assert len(shown[0]) == 10
    assert len(shown[1]) == 1
    assert shown[0] | shown[1] == placed
    assert "page 1 of 2" in first.text


def test_cancelling_on_the_order_page_gives_the_stock_back(platform: Platform, shop: Shop) -> None:
    """The cancel button closes an unpaid order with the reason and releases its reserved pack."""
    client = _signed_in(platform, _user(platform))
    order_id = _place(client, shop.otc_id)
    form = _hidden(client.get(f"/orders/{order_id}").text, f"/orders/{order_id}/cancel")
    held = _reserved(platform, shop)

    answer = client.post(f"/orders/{order_id}/cancel", data={**form, "reason": "ordered by mistake"})

    assert answer.status_code == 303
    page = client.get(f"/orders/{order_id}").text
    assert 'data-status="cancelled"' in page
    assert "ordered by mistake" in page
    assert f'action="/orders/{order_id}/pay"' not in page
    assert _reserved(platform, shop) == held - 1


def _reserved(platform: Platform, shop: Shop) -> int:
    with platform.container.uow(read_only=True) as uow:
        level = uow.stock.get(shop.pharmacy_id, shop.otc_id)
    assert level is not None
    return int(level.reserved)


@pytest.fixture
def wallet(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The sandbox wallet in-process, and the platform's wallet client routed to it."""
    folder: Path = platform.container.settings.wallet_data_dir
    ctx = platform.container.payments()  # creates the sandbox's keys and the platform's app in the folder
    store = SandboxStore(folder / DATABASE_FILE)
    app = create_sandbox_app(load_config(folder), clock=SystemClock(), store=store, background=False)
    with TestClient(app, follow_redirects=False) as http:

        def handle(request: Any) -> Any:
            answer = http.request(request.method, str(request.url), content=request.content, headers=request.headers)
            return httpx2.Response(answer.status_code, content=answer.content, headers=answer.headers)

        provider = AlipayStyleClient(
            platform.container.settings.wallet_gateway_url, DEV_APP_ID,
            (folder / "apps" / DEV_APP_ID / "app_private_key.pem").read_text(), (folder / PUBLIC_KEY_FILE).read_text(),
            transport=httpx2.MockTransport(handle),
        )  # fmt: skip
        monkeypatch.setitem(platform.container.extras, "payments", dataclasses.replace(ctx, provider=provider))
        yield http
    store.close()


def test_paying_at_the_wallet_and_coming_back_shows_the_order_paid(
    platform: Platform, shop: Shop, wallet: TestClient
) -> None:
    """Pay -> the wallet's pay page -> confirm -> back at /orders?out_trade_no=… -> the order's page, which asks the
    wallet once (no notification has arrived) and shows the order paid."""
    client = _signed_in(platform, _user(platform))
    order_id = _place(client, shop.otc_id)
    pay = _hidden(client.get(f"/orders/{order_id}").text, f"/orders/{order_id}/pay")

    to_wallet = client.post(f"/orders/{order_id}/pay", data=pay)
    assert to_wallet.status_code == 303
    url = urlsplit(to_wallet.headers["location"])
    pay_page = wallet.get(f"{url.path}?{url.query}")
    trade = re.search(r'action="(/pay/[^"]+/confirm)"', pay_page.text)
    assert pay_page.status_code == 200
    assert trade is not None
    assert _order(platform, order_id).status is OrderStatus.AWAITING_PAYMENT
    back = urlsplit(wallet.post(trade.group(1)).headers["location"])
    assert back.path == "/orders"

    returned = client.get(f"{back.path}?{back.query}")
    assert returned.status_code == 303
    assert returned.headers["location"] == f"/orders/{order_id}"
    page = client.get(returned.headers["location"])
    assert 'data-status="paid"' in page.text
    assert "已付款 Paid" in page.text
    assert f'action="/orders/{order_id}/pay"' not in page.text
    assert _order(platform, order_id).paid_fen == _order(platform, order_id).price.total_fen


def _rx_order_in_review(platform: Platform, buyer: User, product_id: str, pharmacy_id: str, at: LatLng) -> str:
    """An Rx order at ``pharmacy_id``, paid, so awaiting the pharmacist's review."""
    request = ordering.CheckoutRequest(
        lines=(ordering.CheckoutLine(product_id, 1, prescribe(platform, buyer.id, product_id)),), location=at,
        address_text="测试地址1号", pharmacy_id=pharmacy_id, rx_risk_acknowledged=True,
    )  # fmt: skip
    actor = Actor(user_id=buyer.id, roles=buyer.roles)
    order = ordering.checkout(
        uow=platform.container.uow(), actor=actor, request=request, ctx=_context(platform.container)
    )
    with platform.container.uow() as uow:  # as a verified wallet notification would
        paid = uow.orders.get(order.id)
        assert paid is not None
        before, now = paid.version, uow.clock.now()
        paid.mark_paid(f"test-{order.id}", paid.price.total_fen, now)
        uow.orders.save(paid, before, now)
        uow.commit()
    return order.id


def test_the_pharmacist_reviews_only_their_pharmacys_orders_then_accepts_them(platform: Platform, shop: Shop) -> None:
    """The queue lists the review orders of the pharmacist's own pharmacy with their holds and prescription. A
    contraindicated hold left unresolved comes back with the problem and changes nothing; resolved with a second
    pharmacist it approves. Another pharmacy's order is refused unchanged, and the fulfilment page accepts."""
    admin = platform.auth(Role.ADMIN)
    home = platform.pharmacy_id
    put = platform.client.put(f"/api/admin/pharmacies/{home}/stock/{shop.rx_id}", json={"quantity": 10}, headers=admin)
    assert put.status_code == 200, put.text
    platform.container.relay.drain()
    with platform.container.uow(read_only=True) as uow:
        where = uow.pharmacies.get(home)
    assert where is not None
    buyer = _user(platform, allergies=("penicillin",))
    mine = _rx_order_in_review(platform, buyer, shop.rx_id, home, where.location)
    theirs = _rx_order_in_review(platform, buyer, shop.rx_id, shop.pharmacy_id, NEAR)
    client = _signed_in(platform, _user(platform, Role.PHARMACIST, home))
    second = _user(platform, Role.PHARMACIST, home)

    queue = client.get("/pharmacy/review")

    assert queue.status_code == 200
    assert f'data-order="{mine}"' in queue.text
    assert f'data-order="{theirs}"' not in queue.text
    assert "amoxicillin × 1" in queue.text
    assert "the patient is allergic to penicillin" in queue.text
    section = queue.text.split(f'action="/pharmacy/review/{mine}"')[1].split("</form>")[0]
    holds = [unescape(key) for key in re.findall(r'name="hold_key" value="([^"]*)"', section)]
    assert len(holds) == 1
    assert 'name="second_pharmacist_id"' in section
    decision: dict[str, Any] = {
        "csrf_token": _hidden(queue.text, f"/pharmacy/review/{mine}")["csrf_token"], "result": "approve",
        **{f"checklist_{item.value}": "ok" for item in order_pages.CHECKLIST_PROBLEMS}, "hold_key": holds,
    }  # fmt: skip
    unresolved = client.post(f"/pharmacy/review/{mine}", data=decision)
    unchanged = _order(platform, mine)
    decision |= {"resolution": ["benefit_outweighs_risk"], "second_pharmacist_id": second.id}
    refused = client.post(f"/pharmacy/review/{theirs}", data=decision)
    approved = client.post(f"/pharmacy/review/{mine}", data=decision)

    assert unresolved.status_code == 422
    assert "每条待处理提示都须选择处理结论" in unresolved.text
    assert "has no resolution code" in unresolved.text
    assert unchanged.review is None
    assert refused.status_code == 403
    assert "您的账户不能进行这项操作" in refused.text
    assert _order(platform, theirs).review is None
    assert approved.status_code == 303, approved.text
    assert _order(platform, mine).approved
    fulfil = client.get("/pharmacy/orders")
    assert f'data-order="{mine}"' in fulfil.text
    assert f'data-order="{theirs}"' not in fulfil.text
    step = _hidden(fulfil.text, f"/pharmacy/orders/{mine}/advance")
    assert step["step"] == "accept"
    assert client.post(f"/pharmacy/orders/{mine}/advance", data=step).status_code == 303
    assert _order(platform, mine).status is OrderStatus.ACCEPTED


def test_a_patient_on_the_pharmacy_pages_is_refused(platform: Platform) -> None:
    """The review queue and the fulfilment page are for pharmacy accounts: a patient gets 403 pages."""
    client = _signed_in(platform, _user(platform))

    for path in ("/pharmacy/review", "/pharmacy/orders"):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "您的账户不能进行这项操作" in answer.text
