"""The sandbox wallet, driven through its HTTP interface by the platform's client.

Most tests run the app in-process (Starlette's TestClient, with the client's transport routed
into it) on a ManualClock; one runs it as a real uvicorn server on a loopback port. Scenario:
one merchant app (seller 2088…0001) selling a ¥25.80 basket; the buyer pays on the pay page.
"""

from __future__ import annotations

import random
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx2
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from yaodao.adapters.wallet_client import AlipayStyleClient
from yaodao.kernel.clock import ManualClock, SystemClock
from yaodao.payments.notifications import NotificationRejected, parse_and_verify_notification
from yaodao.payments.signing import (
    NOTIFICATION_UNSIGNED,
    canonical_string,
    generate_keypair,
    load_private_key,
    load_public_key,
    sign_rsa2,
    verify_rsa2,
)
from yaodao.payments.wallet import ProviderRefused, ProviderUnavailable, TradeStatus
from yaodao.wallet_sandbox import (
    MAX_ATTEMPTS,
    AppRegistration,
    SandboxConfig,
    SandboxStore,
    create_sandbox_app,
    init_data_dir,
    load_config,
)
from yaodao.wallet_sandbox.service import SandboxWallet
from yaodao.wallet_sandbox.store import TradeRecord, WalletTx

APP_ID, SELLER_ID = "2021000000000001", "2088000000000001"
OTHER_APP, OTHER_SELLER = "2021000000000002", "2088000000000002"
START = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
GATEWAY = "http://wallet.test/gateway.do"
NOTIFY, RETURN = "http://platform.test/wallet/notify", "http://platform.test/orders/return"
BASKET_FEN = 2580


@dataclass(frozen=True)
class Keys:
    sandbox_private: str
    sandbox_public: str
    app_private: str
    app_public: str
    other_private: str
    other_public: str


@pytest.fixture(scope="module")
def keys() -> Keys:
    sandbox, app, other = generate_keypair(), generate_keypair(), generate_keypair()
    return Keys(*sandbox, *app, *other)


@dataclass
class Receiver:
    """The platform's notify endpoint, scripted: it answers from ``replies`` (then the default)."""

    default: tuple[int, str] = (200, "success")
    replies: list[tuple[int, str] | Exception] = field(default_factory=list)
    received: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, url: str, params: Mapping[str, str]) -> tuple[int, str]:
        assert url == NOTIFY
        self.received.append(dict(params))
        reply = self.replies.pop(0) if self.replies else self.default
        if isinstance(reply, Exception):
            raise reply
        return reply


@dataclass
class Sandbox:
    app: Starlette
    http: TestClient
    clock: ManualClock
    receiver: Receiver
    client: AlipayStyleClient
    keys: Keys

    def deliver(self) -> int:
        return int(self.app.state.notifier.deliver_due(self.clock.now()))

    def open(self, out_trade_no: str, amount_fen: int = BASKET_FEN, timeout_minutes: int = 30) -> str:
        """Open the pay page for an order and return the sandbox's trade_no."""
        page = self.http.get(self.pay_url(out_trade_no, amount_fen, timeout_minutes))
        assert page.status_code == 200, page.text
        found = re.search(r'action="/pay/([0-9]+)/confirm"', page.text)
        assert found, page.text
        return found.group(1)

    def pay_url(self, out_trade_no: str, amount_fen: int = BASKET_FEN, timeout_minutes: int = 30) -> str:
        return self.client.pay_url(
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            subject="布洛芬缓释胶囊 Ibuprofen SR ×2",
            notify_url=NOTIFY,
            return_url=RETURN,
            timeout_minutes=timeout_minutes,
        )

    def pay(self, out_trade_no: str, amount_fen: int = BASKET_FEN) -> str:
        trade_no = self.open(out_trade_no, amount_fen)
        answer = self.http.post(f"/pay/{trade_no}/confirm", data={"buyer_id": "2088102100000007"})
        assert answer.status_code == 303, answer.text
        return trade_no

    def notifications(self, out_trade_no: str) -> list[dict[str, Any]]:
        answer = self.http.get("/sandbox/notifications", params={"out_trade_no": out_trade_no})
        assert answer.status_code == 200
        return list(answer.json()["notifications"])


def routed_to(http: TestClient) -> httpx2.MockTransport:
    """A transport that hands the client's requests to the in-process app."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        answer = http.request(request.method, str(request.url), content=request.content, headers=request.headers)
        return httpx2.Response(answer.status_code, content=answer.content, headers=answer.headers)

    return httpx2.MockTransport(handle)


def config_for(keys: Keys) -> SandboxConfig:
    return SandboxConfig(
        apps={
            APP_ID: AppRegistration(APP_ID, keys.app_public, SELLER_ID),
            OTHER_APP: AppRegistration(OTHER_APP, keys.other_public, OTHER_SELLER),
        },
        private_key_pem=keys.sandbox_private,
    )


@pytest.fixture
def sandbox(keys: Keys, tmp_path: Path) -> Iterator[Sandbox]:
    clock = ManualClock(START)
    store = SandboxStore(tmp_path / "wallet.db")
    receiver = Receiver()
    app = create_sandbox_app(config_for(keys), clock=clock, store=store, http_post=receiver)
    with TestClient(app, base_url="http://wallet.test", follow_redirects=False) as http:
        client = AlipayStyleClient(
            GATEWAY, APP_ID, keys.app_private, keys.sandbox_public, transport=routed_to(http), clock=clock
        )
        yield Sandbox(app, http, clock, receiver, client, keys)
        client.close_connections()
    store.close()


def ref(prefix: str = "ord") -> str:
    return f"{prefix}-{random.getrandbits(48):012x}"


# -- the pay page ---------------------------------------------------------------------------------


def test_the_pay_page_shows_the_amount_in_yuan_the_item_and_both_buttons(sandbox: Sandbox) -> None:
    """A phone-width page in Chinese and English, standing in for the wallet app."""
    page = sandbox.http.get(sandbox.pay_url(ref()))
    assert page.status_code == 200
    assert "¥25.80" in page.text
    assert "布洛芬缓释胶囊 Ibuprofen SR ×2" in page.text
    assert "确认付款 Pay" in page.text
    assert "取消 Cancel" in page.text
    assert 'name="viewport"' in page.text
    assert 'name="buyer_id"' in page.text


def test_the_pay_page_also_opens_from_an_auto_submitted_form(sandbox: Sandbox) -> None:
    """Merchant sites often POST the signed parameters as a form; it is the same trade as the GET link."""
    order = ref()
    trade_no = sandbox.open(order)
    params = dict(parse_qsl(urlsplit(sandbox.pay_url(order)).query))
    page = sandbox.http.post("/gateway.do", data=params)
    assert page.status_code == 200
    assert f'action="/pay/{trade_no}/confirm"' in page.text


def test_the_subject_is_escaped_on_the_pay_page(sandbox: Sandbox) -> None:
    """Merchant text never becomes markup."""
    url = sandbox.client.pay_url(
        out_trade_no=ref(),
        amount_fen=100,
        subject="<script>alert(1)</script>",
        notify_url=NOTIFY,
        return_url=RETURN,
        timeout_minutes=5,
    )
    page = sandbox.http.get(url)
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_opening_the_same_order_again_reuses_its_trade(sandbox: Sandbox) -> None:
    """One out_trade_no is one trade, however often the buyer opens the page."""
    order = ref()
    assert sandbox.open(order) == sandbox.open(order)


def test_the_same_order_with_another_amount_gets_an_error_page_and_changes_nothing(sandbox: Sandbox) -> None:
    """The first amount stands; a second request for the order at a different amount is refused with 400."""
    order = ref()
    sandbox.open(order, 2580)
    page = sandbox.http.get(sandbox.pay_url(order, 2581))
    assert page.status_code == 400
    assert "ACQ.CONTEXT_INCONSISTENT" in page.text
    trade = sandbox.client.query(order)
    assert trade is not None
    assert trade.total_fen == 2580


def test_a_pay_url_with_a_tampered_amount_is_refused_and_creates_no_trade(sandbox: Sandbox) -> None:
    """The app's signature covers biz_content: lowering the amount in the URL breaks it."""
    order = ref()
    url = sandbox.pay_url(order, 2580)
    page = sandbox.http.get(url.replace("%2225.80%22", "%220.01%22"))
    assert "%2225.80%22" in url
    assert page.status_code == 400
    assert "isv.invalid-signature" in page.text
    assert sandbox.client.query(order) is None


def test_paying_redirects_to_the_return_url_with_signed_parameters(sandbox: Sandbox) -> None:
    """The browser comes back to the platform with a result the sandbox signed (303, See Other)."""
    order = ref()
    trade_no = sandbox.open(order)
    answer = sandbox.http.post(f"/pay/{trade_no}/confirm", data={"buyer_id": ""})
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == RETURN
    back = dict(parse_qsl(location.query))
    assert (back["out_trade_no"], back["trade_no"], back["total_amount"]) == (order, trade_no, "25.80")
    public = load_public_key(sandbox.keys.sandbox_public)
    assert verify_rsa2(public, canonical_string(back, exclude=NOTIFICATION_UNSIGNED), back["sign"])


def test_paying_makes_the_trade_successful_and_queues_one_notification(sandbox: Sandbox) -> None:
    """TRADE_SUCCESS with gmt_payment now; paying again changes nothing and queues nothing."""
    order = ref()
    trade_no = sandbox.pay(order)
    sandbox.clock.advance(timedelta(minutes=1))
    again = sandbox.http.post(f"/pay/{trade_no}/confirm", data={})
    assert again.status_code == 303
    trade = sandbox.client.query(order)
    assert trade is not None
    assert (trade.status, trade.paid_at, trade.buyer_id, trade.total_fen) == (
        TradeStatus.TRADE_SUCCESS,
        START,
        "2088102100000007",
        BASKET_FEN,
    )
    assert len(sandbox.notifications(order)) == 1


def test_cancelling_leaves_the_trade_waiting_for_payment(sandbox: Sandbox) -> None:
    """Cancel sends the buyer back to the platform; the order can still be paid later."""
    order = ref()
    trade_no = sandbox.open(order)
    answer = sandbox.http.post(f"/pay/{trade_no}/cancel")
    assert answer.status_code == 303
    assert answer.headers["location"] == RETURN
    trade = sandbox.client.query(order)
    assert trade is not None
    assert trade.status is TradeStatus.WAIT_BUYER_PAY
    assert sandbox.notifications(order) == []
    assert sandbox.http.post(f"/pay/{trade_no}/confirm").status_code == 303


def test_an_unpaid_trade_closes_at_its_expiry_and_can_no_longer_be_paid(sandbox: Sandbox) -> None:
    """time_expire comes from the pay URL; after it the pay button answers 409 and the trade reads closed."""
    order = ref()
    trade_no = sandbox.open(order, timeout_minutes=15)
    sandbox.clock.advance(timedelta(minutes=15))
    assert sandbox.http.post(f"/pay/{trade_no}/confirm").status_code == 409
    trade = sandbox.client.query(order)
    assert trade is not None
    assert trade.status is TradeStatus.TRADE_CLOSED
    assert trade.paid_at is None
    assert sandbox.notifications(order) == []


def test_confirming_an_unknown_trade_is_404(sandbox: Sandbox) -> None:
    """No trade, nothing to pay."""
    assert sandbox.http.post("/pay/2026112522009999999999999999/confirm").status_code == 404


# -- query and close ------------------------------------------------------------------------------


def test_an_order_whose_page_was_never_opened_is_unknown_to_the_wallet(sandbox: Sandbox) -> None:
    """query answers None and close answers False (ACQ.TRADE_NOT_EXIST)."""
    assert sandbox.client.query(ref()) is None
    assert sandbox.client.close(ref()) is False


def test_closing_a_waiting_trade_stops_it_being_paid(sandbox: Sandbox) -> None:
    """close turns WAIT_BUYER_PAY into TRADE_CLOSED; closing again is still True."""
    order = ref()
    trade_no = sandbox.open(order)
    assert sandbox.client.close(order) is True
    assert sandbox.client.close(order) is True
    assert sandbox.http.post(f"/pay/{trade_no}/confirm").status_code == 409
    trade = sandbox.client.query(order)
    assert trade is not None
    assert trade.status is TradeStatus.TRADE_CLOSED


def test_a_paid_trade_cannot_be_closed(sandbox: Sandbox) -> None:
    """Only a waiting trade closes; the paid one stays paid."""
    order = ref()
    sandbox.pay(order)
    with pytest.raises(ProviderRefused) as refused:
        sandbox.client.close(order)
    assert refused.value.code == "ACQ.TRADE_STATUS_ERROR"
    trade = sandbox.client.query(order)
    assert trade is not None
    assert trade.status is TradeStatus.TRADE_SUCCESS


# -- refunds (I9) -----------------------------------------------------------------------------------


def test_partial_refunds_add_up_and_a_repeat_returns_the_first_result_without_moving_money(sandbox: Sandbox) -> None:
    """Each out_request_no refunds once; its retry answers fund_change N with the first figures."""
    order = ref()
    sandbox.pay(order)
    first = sandbox.client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=580, reason="缺货 out of stock")
    second = sandbox.client.refund(out_trade_no=order, out_request_no="rf-2", amount_fen=1000, reason="")
    repeat = sandbox.client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=580, reason="retry")
    assert (first.refund_fen, first.total_refunded_fen, first.fund_change) == (580, 580, True)
    assert (second.refund_fen, second.total_refunded_fen, second.fund_change) == (1000, 1580, True)
    assert (repeat.refund_fen, repeat.total_refunded_fen, repeat.fund_change) == (580, 580, False)
    trade = sandbox.client.query(order)
    assert trade is not None
    assert (trade.status, trade.refunded_fen) == (TradeStatus.TRADE_SUCCESS, 1580)
    assert sandbox.client.query_refund(order, "rf-2") == 1000
    assert sandbox.client.query_refund(order, "rf-9") is None


def test_the_same_refund_number_with_another_amount_is_refused(sandbox: Sandbox) -> None:
    """An out_request_no is bound to its first amount."""
    order = ref()
    sandbox.pay(order)
    sandbox.client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=500, reason="")
    with pytest.raises(ProviderRefused) as refused:
        sandbox.client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=600, reason="")
    assert refused.value.code == "ACQ.DISCORDANT_REPEAT_REQUEST"
    trade = sandbox.client.query(order)
    assert trade is not None
    assert trade.refunded_fen == 500


def test_refunds_never_exceed_what_was_paid(sandbox: Sandbox) -> None:
    """One fen over the remainder is refused, and the refunded total does not move."""
    order = ref()
    sandbox.pay(order)
    sandbox.client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=2000, reason="")
    with pytest.raises(ProviderRefused) as refused:
        sandbox.client.refund(out_trade_no=order, out_request_no="rf-2", amount_fen=581, reason="")
    assert refused.value.code == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    trade = sandbox.client.query(order)
    assert trade is not None
    assert trade.refunded_fen == 2000
    assert sandbox.client.query_refund(order, "rf-2") is None


def test_a_full_refund_closes_the_trade_and_nothing_more_can_be_refunded(sandbox: Sandbox) -> None:
    """Refunding the remainder turns the trade TRADE_CLOSED; its retry still answers fund_change N."""
    order = ref()
    sandbox.pay(order)
    sandbox.client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=80, reason="")
    last = sandbox.client.refund(out_trade_no=order, out_request_no="rf-2", amount_fen=2500, reason="")
    assert last.total_refunded_fen == BASKET_FEN
    trade = sandbox.client.query(order)
    assert trade is not None
    assert trade.status is TradeStatus.TRADE_CLOSED
    assert trade.is_paid
    retry = sandbox.client.refund(out_trade_no=order, out_request_no="rf-2", amount_fen=2500, reason="")
    assert retry.fund_change is False
    with pytest.raises(ProviderRefused) as refused:
        sandbox.client.refund(out_trade_no=order, out_request_no="rf-3", amount_fen=1, reason="")
    assert refused.value.code == "ACQ.TRADE_STATUS_ERROR"


def test_an_unpaid_trade_cannot_be_refunded(sandbox: Sandbox) -> None:
    """Nothing was captured, so nothing goes back."""
    order = ref()
    sandbox.open(order)
    with pytest.raises(ProviderRefused) as refused:
        sandbox.client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=100, reason="")
    assert refused.value.code == "ACQ.TRADE_STATUS_ERROR"


def test_each_refund_queues_its_own_notification_with_the_refunded_total(sandbox: Sandbox) -> None:
    """Payment, then two refunds: three notifications; the last is TRADE_CLOSED with refund_fee = total."""
    order = ref()
    sandbox.pay(order)
    sandbox.client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=580, reason="")
    sandbox.client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=580, reason="")  # a retry: none
    sandbox.client.refund(out_trade_no=order, out_request_no="rf-2", amount_fen=2000, reason="")
    notes = [n["params"] for n in sandbox.notifications(order)]
    assert [(p["trade_status"], p.get("refund_fee"), p.get("out_biz_no")) for p in notes] == [
        ("TRADE_SUCCESS", None, None),
        ("TRADE_SUCCESS", "5.80", "rf-1"),
        ("TRADE_CLOSED", "25.80", "rf-2"),
    ]


def test_concurrent_refunds_on_one_trade_never_over_refund(sandbox: Sandbox, keys: Keys) -> None:
    """24 threads race 300-fen refunds (some sharing a refund number) on a 2,580-fen trade: 8 succeed."""
    order = ref()
    sandbox.pay(order)
    wallet: SandboxWallet = sandbox.app.state.wallet
    barrier = threading.Barrier(24)
    outcomes: list[str] = []

    def refund(i: int) -> None:
        barrier.wait()
        biz = {"out_trade_no": order, "out_request_no": f"rf-{i % 16}", "refund_amount": "3.00"}
        try:
            outcomes.append(wallet.refund(APP_ID, biz)["fund_change"])
        except Exception as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=refund, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    trade = sandbox.client.query(order)
    assert trade is not None
    assert trade.refunded_fen == 2400
    assert outcomes.count("Y") == 8
    assert len(outcomes) == 24


# -- the gateway's own checks ---------------------------------------------------------------------


def gateway_answer(sandbox: Sandbox, params: dict[str, str]) -> tuple[str, dict[str, Any]]:
    answer = sandbox.http.post("/gateway.do", data=params)
    assert answer.status_code == 200
    body = answer.json()
    (key,) = [k for k in body if k != "sign"]
    return key, body[key]


def test_a_request_with_a_bad_signature_gets_the_wallets_invalid_signature_error(sandbox: Sandbox) -> None:
    """40002 isv.invalid-signature, under the method's response key, signed by the sandbox."""
    params = sandbox.client.signed_params("alipay.trade.query", {"out_trade_no": "ord-1"})
    params["biz_content"] = '{"out_trade_no":"ord-2"}'
    key, body = gateway_answer(sandbox, params)
    assert key == "alipay_trade_query_response"
    assert (body["code"], body["sub_code"]) == ("40002", "isv.invalid-signature")


@pytest.mark.parametrize(
    ("change", "response_key", "code", "sub_code"),
    [
        ({"app_id": "2021999999999999"}, "alipay_trade_query_response", "40002", "isv.invalid-app-id"),
        ({"app_id": ""}, "alipay_trade_query_response", "40001", "isv.missing-app-id"),
        ({"method": "alipay.trade.pay"}, "error_response", "40002", "isv.invalid-method"),
        ({"sign": ""}, "alipay_trade_query_response", "40001", "isv.missing-signature"),
        ({"sign_type": "RSA"}, "alipay_trade_query_response", "40002", "isv.invalid-signature-type"),
    ],
)
def test_bad_common_parameters_get_wallet_shaped_errors(
    sandbox: Sandbox, change: dict[str, str], response_key: str, code: str, sub_code: str
) -> None:
    """Missing parameters are 40001, invalid ones 40002, each with the wallet's sub code."""
    params = {**sandbox.client.signed_params("alipay.trade.query", {"out_trade_no": "ord-1"}), **change}
    key, body = gateway_answer(sandbox, params)
    assert (key, body["code"], body["sub_code"]) == (response_key, code, sub_code)


def test_a_request_signed_by_another_registered_app_does_not_pass_as_ours(sandbox: Sandbox, keys: Keys) -> None:
    """The signature is checked with the key registered for the app_id the request names."""
    other = AlipayStyleClient(
        GATEWAY, APP_ID, keys.other_private, keys.sandbox_public, transport=routed_to(sandbox.http)
    )
    with pytest.raises(ProviderRefused) as refused:
        other.query(ref())
    assert refused.value.code == "isv.invalid-signature"


@pytest.mark.parametrize("biz_content", ["not json", "[1, 2]", '"text"'])
def test_biz_content_that_is_not_a_json_object_is_refused(sandbox: Sandbox, biz_content: str) -> None:
    """Correctly signed, but malformed: 40002 isv.invalid-parameter."""
    params = sandbox.client.signed_params("alipay.trade.query", {})
    params["biz_content"] = biz_content
    params["sign"] = sign_rsa2(load_private_key(sandbox.keys.app_private), canonical_string(params))
    _, body = gateway_answer(sandbox, params)
    assert (body["code"], body["sub_code"]) == ("40002", "isv.invalid-parameter")


@pytest.mark.parametrize(
    "biz",
    [
        {"out_trade_no": "ord-1", "out_request_no": "r", "refund_amount": 1.5},
        {"out_trade_no": "ord-1", "out_request_no": "r", "refund_amount": "0.1e1"},
        {"out_trade_no": "ord-1", "out_request_no": "r", "refund_amount": "-1.00"},
        {"out_trade_no": "ord-1", "out_request_no": "r", "refund_amount": "0.00"},
        {"out_trade_no": "ord 1", "out_request_no": "r", "refund_amount": "1.00"},
    ],
)
def test_refund_amounts_that_are_not_positive_yuan_text_are_invalid(sandbox: Sandbox, biz: dict[str, Any]) -> None:
    """Floats, exponents, negatives and zero are ACQ.INVALID_PARAMETER; nothing is refunded."""
    _, body = gateway_answer(sandbox, sandbox.client.signed_params("alipay.trade.refund", biz))
    assert (body["code"], body["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")


def test_a_parameter_given_twice_is_refused(sandbox: Sandbox) -> None:
    """Duplicated parameters are not guessed at."""
    params = sandbox.client.signed_params("alipay.trade.query", {"out_trade_no": "ord-1"})
    body = f"{urlencode(params)}&app_id={OTHER_APP}"
    answer = sandbox.http.post(
        "/gateway.do", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert answer.json()["alipay_trade_query_response"]["sub_code"] == "isv.invalid-parameter"


# -- the client's view of failures ----------------------------------------------------------------


def test_a_response_signed_with_another_key_is_not_believed(sandbox: Sandbox, keys: Keys) -> None:
    """A client that trusts a different wallet key treats every answer as untrustworthy."""
    client = AlipayStyleClient(GATEWAY, APP_ID, keys.app_private, keys.other_public, transport=routed_to(sandbox.http))
    with pytest.raises(ProviderUnavailable, match="signature"):
        client.query(ref())


def test_a_tampered_response_is_not_believed(sandbox: Sandbox, keys: Keys) -> None:
    """A man in the middle turning WAIT_BUYER_PAY into TRADE_SUCCESS breaks the sandbox's signature."""
    order = ref()
    sandbox.open(order)
    inner = routed_to(sandbox.http)

    def tamper(request: httpx2.Request) -> httpx2.Response:
        answer = inner.handle_request(request)
        answer.read()
        return httpx2.Response(200, content=answer.content.replace(b"WAIT_BUYER_PAY", b"TRADE_SUCCESS"))

    client = AlipayStyleClient(
        GATEWAY, APP_ID, keys.app_private, keys.sandbox_public, transport=httpx2.MockTransport(tamper)
    )
    with pytest.raises(ProviderUnavailable, match="signature"):
        client.query(order)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda r: (_ for _ in ()).throw(httpx2.ReadTimeout("slow", request=r)), id="timeout"),
        pytest.param(lambda r: (_ for _ in ()).throw(httpx2.ConnectError("refused", request=r)), id="refused"),
        pytest.param(lambda r: httpx2.Response(502, text="bad gateway"), id="502"),
        pytest.param(lambda r: httpx2.Response(200, text="<html>maintenance</html>"), id="not-json"),
        pytest.param(
            lambda r: httpx2.Response(200, text='{"alipay_trade_query_response":{"code":"10000"}}'), id="unsigned"
        ),
    ],
)
def test_timeouts_server_errors_and_junk_are_provider_unavailable(
    keys: Keys, fault: Callable[[httpx2.Request], httpx2.Response]
) -> None:
    """The outcome is unknown: the caller retries with the same references or reconciles."""
    client = AlipayStyleClient(
        GATEWAY, APP_ID, keys.app_private, keys.sandbox_public, transport=httpx2.MockTransport(fault)
    )
    with pytest.raises(ProviderUnavailable):
        client.refund(out_trade_no="ord-1", out_request_no="rf-1", amount_fen=100, reason="")


def test_the_client_refuses_amounts_and_references_the_wallet_would_not_take(sandbox: Sandbox) -> None:
    """Nothing leaves the platform with a float amount, zero, or a reference with spaces."""
    with pytest.raises(ValueError, match="amount_fen"):
        sandbox.client.refund(out_trade_no="ord-1", out_request_no="rf-1", amount_fen=0, reason="")
    with pytest.raises(ValueError, match="amount_fen"):
        sandbox.client.pay_url(
            out_trade_no="o-1",
            amount_fen=12.3,  # type: ignore[arg-type]
            subject="x",
            notify_url=NOTIFY,
            return_url=RETURN,
            timeout_minutes=5,
        )
    with pytest.raises(ValueError, match="out_trade_no"):
        sandbox.client.query("ord 1")


# -- notifications --------------------------------------------------------------------------------


SCHEDULE_MINUTES = (0, 2, 12, 22, 82, 202, 562, 1462)  # when attempts 1..8 fall, after the payment


def test_a_receiver_that_never_says_success_gets_exactly_eight_attempts_on_the_wallets_schedule(
    sandbox: Sandbox,
) -> None:
    """At once, then after 2m, 10m, 10m, 1h, 2h, 6h and 15h; never early, never a ninth; one notify_id."""
    sandbox.receiver.default = (200, "fail")
    sandbox.pay(ref())
    for minutes in SCHEDULE_MINUTES:
        sandbox.clock.set(START + timedelta(minutes=minutes) - timedelta(seconds=1))
        assert sandbox.deliver() == 0
        sandbox.clock.set(START + timedelta(minutes=minutes))
        assert sandbox.deliver() == 1
    sandbox.clock.advance(timedelta(days=3))
    assert sandbox.deliver() == 0
    assert len(sandbox.receiver.received) == MAX_ATTEMPTS == 8
    assert len({p["notify_id"] for p in sandbox.receiver.received}) == 1
    assert all(p == sandbox.receiver.received[0] for p in sandbox.receiver.received)


def test_delivery_stops_once_the_receiver_answers_success(sandbox: Sandbox) -> None:
    """A timeout, then an error page, then `success`: three attempts, and none after."""
    sandbox.receiver.replies = [httpx2.ReadTimeout("slow"), (500, "success"), (200, "success")]
    order = ref()
    sandbox.pay(order)
    for minutes in SCHEDULE_MINUTES[:3]:
        sandbox.clock.set(START + timedelta(minutes=minutes))
        assert sandbox.deliver() == 1
    sandbox.clock.advance(timedelta(days=2))
    assert sandbox.deliver() == 0
    assert len(sandbox.receiver.received) == 3
    (note,) = sandbox.notifications(order)
    assert note["attempts"] == 3
    assert note["delivered_at"] is not None
    assert note["next_attempt_at"] is None


@pytest.mark.parametrize("reply", ["success\n", "SUCCESS", " success", "ok", ""])
def test_only_the_exact_word_success_acknowledges(sandbox: Sandbox, reply: str) -> None:
    """Anything else is a failed attempt and the notification stays due for the next one."""
    sandbox.receiver.default = (200, reply)
    order = ref()
    sandbox.pay(order)
    assert sandbox.deliver() == 1
    (note,) = sandbox.notifications(order)
    assert note["delivered_at"] is None
    assert note["next_attempt_at"] == (START + timedelta(minutes=2)).isoformat()


def test_sandbox_notifications_verify_for_us_and_fail_for_another_seller_or_app(sandbox: Sandbox) -> None:
    """What the sandbox sends passes parse_and_verify_notification with its key, our app_id and seller_id."""
    order = ref()
    sandbox.pay(order)
    sandbox.client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=580, reason="")
    sandbox.deliver()
    public = load_public_key(sandbox.keys.sandbox_public)
    paid, refunded = (
        parse_and_verify_notification(p, wallet_public_key=public, app_id=APP_ID, seller_id=SELLER_ID)
        for p in sandbox.receiver.received
    )
    assert (paid.transition, paid.total_fen, paid.gmt_payment) == ("paid", BASKET_FEN, START)
    assert (refunded.transition, refunded.refund_fen) == ("refund:rf-1", 580)
    for app_id, seller_id, expected in ((OTHER_APP, SELLER_ID, "wrong_app"), (APP_ID, OTHER_SELLER, "wrong_seller")):
        with pytest.raises(NotificationRejected) as rejected:
            parse_and_verify_notification(
                sandbox.receiver.received[0], wallet_public_key=public, app_id=app_id, seller_id=seller_id
            )
        assert rejected.value.reason == expected


def test_another_apps_trade_is_notified_with_that_apps_seller(sandbox: Sandbox, keys: Keys) -> None:
    """Each app's notifications carry its own app_id and seller_id, so they fail our checks."""
    other = AlipayStyleClient(
        GATEWAY,
        OTHER_APP,
        keys.other_private,
        keys.sandbox_public,
        transport=routed_to(sandbox.http),
        clock=sandbox.clock,
    )
    order = ref()
    page = sandbox.http.get(
        other.pay_url(
            out_trade_no=order, amount_fen=990, subject="维C", notify_url=NOTIFY, return_url="", timeout_minutes=9
        )
    )
    trade_no = re.search(r"/pay/([0-9]+)/confirm", page.text)
    assert trade_no
    assert sandbox.http.post(f"/pay/{trade_no.group(1)}/confirm").status_code == 200  # no return_url: a status page
    assert sandbox.client.query(order) is None  # the same out_trade_no means nothing to our app
    (note,) = sandbox.notifications(order)
    assert (note["params"]["app_id"], note["params"]["seller_id"]) == (OTHER_APP, OTHER_SELLER)
    with pytest.raises(NotificationRejected) as rejected:
        parse_and_verify_notification(
            note["params"], wallet_public_key=load_public_key(keys.sandbox_public), app_id=APP_ID, seller_id=SELLER_ID
        )
    assert rejected.value.reason == "wrong_app"


def test_replayed_and_shuffled_notifications_name_each_transition_once(sandbox: Sandbox) -> None:
    """8 copies of each notification, shuffled, plus tampered ones: the transitions are exactly the genuine ones."""
    order = ref()
    sandbox.pay(order)
    sandbox.client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=100, reason="")
    genuine = [n["params"] for n in sandbox.notifications(order)]
    storm = [dict(p) for p in genuine for _ in range(8)]
    storm += [{**genuine[0], "total_amount": "0.01"}, {**genuine[1], "sign": genuine[0]["sign"]}]
    random.Random(7).shuffle(storm)
    public = load_public_key(sandbox.keys.sandbox_public)
    seen: set[tuple[str, str]] = set()
    rejected = 0
    for params in storm:
        try:
            note = parse_and_verify_notification(params, wallet_public_key=public, app_id=APP_ID, seller_id=SELLER_ID)
        except NotificationRejected:
            rejected += 1
            continue
        seen.add((note.out_trade_no, note.transition))
    assert seen == {(order, "paid"), (order, "refund:rf-1")}
    assert rejected == 2


# -- storage and configuration --------------------------------------------------------------------


def test_the_schema_itself_refuses_a_second_trade_or_refund_with_the_same_reference(tmp_path: Path) -> None:
    """UNIQUE (app, out_trade_no), UNIQUE (trade, out_request_no) and refunded <= total hold below the code."""
    store = SandboxStore(tmp_path / "w.db")

    def insert_trade(tx: WalletTx, trade_no: str) -> TradeRecord:
        return tx.insert_trade(
            app_id=APP_ID,
            out_trade_no="ord-1",
            trade_no=trade_no,
            subject="x",
            total_fen=100,
            notify_url="",
            return_url="",
            created_at=START,
            expires_at=START + timedelta(hours=1),
        )

    def refund(tx: WalletTx, total_after: int) -> object:
        return tx.insert_refund(
            trade_id=first.id, out_request_no="r", refund_fen=10, total_refunded_fen=total_after, reason="", at=START
        )

    def over_refund(tx: WalletTx) -> None:
        tx.update_trade(
            first.id, status=TradeStatus.TRADE_SUCCESS, refunded_fen=101, buyer_id=None, paid_at=START, closed_at=None
        )

    with store.transaction() as tx:
        first = insert_trade(tx, "1")
        refund(tx, 10)
    writes: list[Callable[[WalletTx], object]] = [
        lambda tx: insert_trade(tx, "2"),
        lambda tx: refund(tx, 20),
        over_refund,
    ]
    for write in writes:
        with pytest.raises(sqlite3.IntegrityError), store.transaction() as tx:
            write(tx)
    with store.transaction() as tx:
        assert tx.trade_by_no("2") is None
        assert tx.trade_by_no("1") == first
    store.close()


def test_the_data_dir_gets_keys_once_and_a_development_app(tmp_path: Path) -> None:
    """init_data_dir is idempotent; the private key file is readable by its owner only."""
    init_data_dir(tmp_path)
    first = load_config(tmp_path)
    init_data_dir(tmp_path)
    again = load_config(tmp_path)
    assert first.public_key_pem == again.public_key_pem == (tmp_path / "sandbox_public_key.pem").read_text()
    assert list(again.apps) == ["2021000000000001"]
    assert (tmp_path / "sandbox_private_key.pem").stat().st_mode & 0o077 == 0
    dev_private = (tmp_path / "apps" / "2021000000000001" / "app_private_key.pem").read_text()
    assert dev_private.startswith("-----BEGIN PRIVATE KEY-----")


# -- a real server on loopback --------------------------------------------------------------------


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", http="h11"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start within 10 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_the_sandbox_serves_the_platform_client_over_real_http(keys: Keys, tmp_path: Path) -> None:
    """Pay page, payment, a verified notification to a live receiver, query and refund, all on loopback."""
    received: list[str] = []
    public = load_public_key(keys.sandbox_public)

    async def notify(request: Request) -> PlainTextResponse:
        params = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        try:
            note = parse_and_verify_notification(params, wallet_public_key=public, app_id=APP_ID, seller_id=SELLER_ID)
        except NotificationRejected:
            return PlainTextResponse("fail")
        received.append(note.transition)
        return PlainTextResponse("success")

    platform = Starlette(routes=[Route("/wallet/notify", notify, methods=["POST"])])
    store = SandboxStore(tmp_path / "wallet.db")
    wallet = create_sandbox_app(config_for(keys), clock=SystemClock(), store=store, background=True)
    with serving(platform) as platform_url, serving(wallet) as wallet_url:
        client = AlipayStyleClient(f"{wallet_url}/gateway.do", APP_ID, keys.app_private, keys.sandbox_public)
        order = ref()
        url = client.pay_url(
            out_trade_no=order,
            amount_fen=BASKET_FEN,
            subject="感冒灵颗粒",
            notify_url=f"{platform_url}/wallet/notify",
            return_url=f"{platform_url}/orders/{order}",
            timeout_minutes=30,
        )
        with httpx2.Client(timeout=5) as browser:
            page = browser.get(url)
            assert page.status_code == 200
            assert "¥25.80" in page.text
            trade_no = re.search(r"/pay/([0-9]+)/confirm", page.text)
            assert trade_no
            paid = browser.post(f"{wallet_url}/pay/{trade_no.group(1)}/confirm", data={"buyer_id": "2088102100000007"})
            assert paid.status_code == 303
            assert paid.headers["location"].startswith(f"{platform_url}/orders/{order}?")
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received == ["paid"]
        trade = client.query(order)
        assert trade is not None
        assert trade.status is TradeStatus.TRADE_SUCCESS
        assert trade.trade_no == trade_no.group(1)
        result = client.refund(out_trade_no=order, out_request_no="rf-1", amount_fen=580, reason="缺货")
        assert (result.total_refunded_fen, result.fund_change) == (580, True)
        assert client.close(ref()) is False
        client.close_connections()
    store.close()
