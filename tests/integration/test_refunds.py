"""Refunds through the sandbox wallet, on SQLite and PostgreSQL (RELIABILITY I6, I9).

The wallet is the real sandbox (its own app, storage and keys in the platform's wallet folder),
reached in-process: the platform's wallet client has its transport routed into the sandbox app.
A ``FaultyWallet`` around that client counts refund calls and can time out after the wallet has
acted, be down, or refuse. Scenario: a patient buys one OTC pack (¥15 plus delivery) from a fresh
24-hour shop near West Lake and pays at the wallet's pay page.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from shop import NEAR, Shop, make_patients, make_shop, race
from support import Platform
from yaodao.accounts.model import Role
from yaodao.accounts.policy import Actor
from yaodao.adapters.db import tables as t
from yaodao.adapters.wallet_client import AlipayStyleClient
from yaodao.kernel.clock import SystemClock
from yaodao.kernel.errors import Conflict, PermissionDenied
from yaodao.ordering.interactions import FixtureSource
from yaodao.ordering.model import Order, OrderStatus
from yaodao.ordering.services import CheckoutLine, CheckoutRequest, OrderingContext, cancel_order, checkout
from yaodao.payments import refunds
from yaodao.payments.books import RefundExceedsCapture
from yaodao.payments.ledger import WALLET_CLEARING, TxnKind, pot
from yaodao.payments.model import Payment, PaymentState
from yaodao.payments.services import PaymentsContext, confirm_by_query, start_payment
from yaodao.payments.wallet import ProviderRefused, ProviderUnavailable, RefundResult, Trade
from yaodao.wallet_sandbox.app import create_sandbox_app
from yaodao.wallet_sandbox.config import DATABASE_FILE, DEV_APP_ID, PUBLIC_KEY_FILE, load_config
from yaodao.wallet_sandbox.store import SandboxStore
from yaodao.web import api_money
from yaodao.web.app import create_app


class FaultyWallet:
    """The platform's wallet client with scripted faults on refunds; it counts what reached it."""

    def __init__(self, inner: AlipayStyleClient) -> None:
        self.inner = inner
        self.refund_calls = 0
        self.mode = "ok"  # ok | down (nothing reaches the wallet) | timeout_after (the wallet acts, no answer)
        self.refuse_with: str | None = None

    def pay_url(self, **kwargs: Any) -> str:
        return self.inner.pay_url(**kwargs)

    def query(self, out_trade_no: str) -> Trade | None:
        return self.inner.query(out_trade_no)

    def close(self, out_trade_no: str) -> bool:
        return self.inner.close(out_trade_no)

    def refund(self, *, out_trade_no: str, out_request_no: str, amount_fen: int, reason: str) -> RefundResult:
        self.refund_calls += 1
        if self.mode == "down":
            raise ProviderUnavailable("connection refused")
        if self.refuse_with is not None:
            raise ProviderRefused(self.refuse_with, "refused by script")
        result = self.inner.refund(
            out_trade_no=out_trade_no, out_request_no=out_request_no, amount_fen=amount_fen, reason=reason
        )
        if self.mode == "timeout_after":
            raise ProviderUnavailable("read timed out")
        return result


@dataclass
class Wallet:
    """The sandbox wallet and the platform's view of it."""

    http: TestClient
    client: FaultyWallet
    ctx: PaymentsContext
    platform: Platform

    def uow(self) -> Any:
        return self.platform.container.uow()

    def pay(self, payment_id: str, url: str) -> None:
        """The buyer opens the pay page and confirms (no notification is delivered)."""
        parts = urlsplit(url)
        page = self.http.get(f"{parts.path}?{parts.query}")
        assert page.status_code == 200, page.text
        found = re.search(r'action="/pay/([^/"]+)/confirm"', page.text)
        assert found is not None
        assert self.http.post(f"/pay/{found.group(1)}/confirm", follow_redirects=False).status_code == 303

    def trade(self, payment_id: str) -> Trade:
        found = self.client.inner.query(payment_id)
        assert found is not None
        return found


def routed_to(http: TestClient) -> httpx2.MockTransport:
    def handle(request: httpx2.Request) -> httpx2.Response:
        answer = http.request(request.method, str(request.url), content=request.content, headers=request.headers)
        return httpx2.Response(answer.status_code, content=answer.content, headers=answer.headers)

    return httpx2.MockTransport(handle)


@pytest.fixture
def wallet(platform: Platform) -> Iterator[Wallet]:
    folder = platform.container.settings.wallet_data_dir
    base = platform.container.payments()  # creates the sandbox's keys and the platform's app in the folder
    store = SandboxStore(folder / DATABASE_FILE)
    app = create_sandbox_app(load_config(folder), clock=SystemClock(), store=store, background=False)
    with TestClient(app, base_url="http://127.0.0.1:8010", follow_redirects=False) as http:
        private = (folder / "apps" / DEV_APP_ID / "app_private_key.pem").read_text(encoding="utf-8")
        public = (folder / PUBLIC_KEY_FILE).read_text(encoding="utf-8")
        inner = AlipayStyleClient(
            "http://127.0.0.1:8010/gateway.do", DEV_APP_ID, private, public, transport=routed_to(http)
        )
        client = FaultyWallet(inner)
        ctx = dataclasses.replace(base, provider=client)
        platform.container.extras["payments"] = ctx  # the HTTP routes reach the sandbox too
        try:
            yield Wallet(http, client, ctx, platform)
        finally:
            platform.container.extras["payments"] = base
            inner.close_connections()
    store.close()


def ordering_context(platform: Platform) -> OrderingContext:
    city = platform.container.cities.get("hangzhou")
    index = platform.container.availability.index("hangzhou")
    assert city is not None
    assert index is not None
    return OrderingContext(city=city, availability=index, interactions=FixtureSource())


_SHOPS: dict[int, Shop] = {}


def shop_for(platform: Platform) -> Shop:
    """One shop per platform for these tests (a new shop rebuilds the city's availability index)."""
    if id(platform) not in _SHOPS:
        _SHOPS[id(platform)] = make_shop(platform, stock=5_000)
    return _SHOPS[id(platform)]


def place_order(platform: Platform, quantity: int = 1, buyer: Actor | None = None) -> tuple[Actor, Order]:
    shop = shop_for(platform)
    if buyer is None:
        (buyer,) = make_patients(platform, 1)
    request = CheckoutRequest(lines=(CheckoutLine(shop.otc_id, quantity),), location=NEAR, address_text="北山街1号")
    order = checkout(uow=platform.container.uow(), actor=buyer, request=request, ctx=ordering_context(platform))
    return buyer, order


def paid_order(wallet: Wallet, quantity: int = 1, buyer: Actor | None = None) -> tuple[Actor, Order, Payment]:
    """An order paid at the wallet and confirmed by a trade query: paid, captured, accrued."""
    buyer, order = place_order(wallet.platform, quantity, buyer)
    payment, url = start_payment(uow=wallet.uow(), actor=buyer, order_id=order.id, ctx=wallet.ctx)
    wallet.pay(payment.id, url)
    assert confirm_by_query(uow_factory=wallet.uow, payment_id=payment.id, ctx=wallet.ctx) == "paid"
    return buyer, current_order(wallet.platform, order.id), current_payment(wallet.platform, payment.id)


def current_order(platform: Platform, order_id: str) -> Order:
    with platform.container.uow(read_only=True) as uow:
        order = uow.orders.get(order_id)
    assert order is not None
    return order


def current_payment(platform: Platform, payment_id: str) -> Payment:
    with platform.container.uow(read_only=True) as uow:
        payment = uow.payments.get(payment_id)
    assert payment is not None
    return payment


def count(platform: Platform, table: Any, *where: Any) -> int:
    with platform.container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def ledger_refunds(platform: Platform, payment_id: str) -> list[int]:
    """The wallet credits of the ledger's refunds of this payment."""
    with platform.container.uow(read_only=True) as uow:
        capture = uow.ledger.by_reference(TxnKind.CAPTURE, payment_id)
        assert capture is not None
        followers = uow.ledger.followers(capture.id)
    return [-f.amount_on(WALLET_CLEARING) for f in followers if f.kind is TxnKind.REFUND]


_CLIENTS: dict[int, TestClient] = {}


def money_client(platform: Platform) -> TestClient:
    """The platform's app with the money routes included."""
    if id(platform) not in _CLIENTS:
        app = create_app(platform.container, background=False)
        app.include_router(api_money.router)
        _CLIENTS[id(platform)] = TestClient(app, raise_server_exceptions=False)
    return _CLIENTS[id(platform)]


def signed_in_patient(platform: Platform) -> Actor:
    """The platform's patient (who holds a bearer token), with the date of birth accrual needs."""
    profile = {"date_of_birth": "1988-02-01", "sex": "m", "allergies": [], "current_medicines": []}
    answer = platform.client.put("/api/me/profile", json=profile, headers=platform.auth(Role.PATIENT))
    assert answer.status_code == 200, answer.text
    return Actor(user_id=platform.users[Role.PATIENT].id, roles=frozenset({Role.PATIENT}))


def operator() -> Actor:
    return Actor(user_id="op-" + uuid.uuid4().hex[:8], roles=frozenset({Role.OPERATOR}), city_id="hangzhou")


def refund(wallet: Wallet, order: Order, amount: int, number: str | None = None) -> refunds.RefundOutcome:
    return refunds.refund_order(
        uow_factory=wallet.uow, provider=wallet.client, actor=operator(), order_id=order.id, amount_fen=amount,
        out_request_no=number or f"rf-{uuid.uuid4().hex[:16]}", reason="pack damaged",
    )  # fmt: skip


def assert_books_sound(platform: Platform) -> None:
    with platform.container.uow(read_only=True) as uow:
        assert uow.ledger.check() == []


# -- tests -------------------------------------------------------------------------------------


def test_a_partial_refund_then_the_rest_after_cancelling_refund_the_order_and_book_each_once(wallet: Wallet) -> None:
    """¥5 back while the order is paid, the rest once it is cancelled: the wallet, the payment row,
    the ledger and the order agree, the accrual is clawed back, and the ledger still balances."""
    buyer, order, payment = paid_order(wallet)
    with wallet.platform.container.uow(read_only=True) as uow:
        pot_before = uow.ledger.pot_balance(buyer.user_id or "")
    assert pot_before > 0

    first = refund(wallet, order, 500)
    assert first.refund.state is refunds.RefundState.SUCCEEDED
    assert first.refunded_fen == 500
    assert current_order(wallet.platform, order.id).status is OrderStatus.PAID

    cancel_order(uow=wallet.platform.container.uow(), actor=buyer, order_id=order.id, reason="changed my mind")
    rest = payment.amount_fen - 500
    second = refund(wallet, order, rest)
    assert second.refund.state is refunds.RefundState.SUCCEEDED
    assert second.refunded_fen == payment.amount_fen

    after = current_order(wallet.platform, order.id)
    assert after.status is OrderStatus.REFUNDED
    assert after.refunded_fen == payment.amount_fen
    assert wallet.trade(payment.id).refunded_fen == payment.amount_fen
    assert sorted(ledger_refunds(wallet.platform, payment.id)) == sorted([500, rest])
    with wallet.platform.container.uow(read_only=True) as uow:
        assert uow.ledger.pot_balance(buyer.user_id or "") == 0
        assert uow.ledger.balance(pot(buyer.user_id or "")) == 0
    assert wallet.client.refund_calls == 2
    assert_books_sound(wallet.platform)


def test_the_same_out_request_no_returns_the_first_refund_and_changes_nothing(wallet: Wallet) -> None:
    """A repeat is answered from the first refund; the wallet, the rows and the ledger see one refund.
    The same number for another amount is refused."""
    _, order, payment = paid_order(wallet)
    first = refund(wallet, order, 300, "rf-repeat-" + payment.id[-12:])
    again = refund(wallet, order, 300, "rf-repeat-" + payment.id[-12:])
    assert not first.replayed
    assert again.replayed
    assert again.refund == first.refund
    assert wallet.client.refund_calls == 1
    with pytest.raises(refunds.RefundRequestReused):
        refund(wallet, order, 301, "rf-repeat-" + payment.id[-12:])
    assert wallet.client.refund_calls == 1
    assert count(wallet.platform, t.refunds, t.refunds.c.payment_id == payment.id) == 1
    assert ledger_refunds(wallet.platform, payment.id) == [300]
    assert current_payment(wallet.platform, payment.id).refunded_fen == 300
    assert wallet.trade(payment.id).refunded_fen == 300


def test_an_over_refund_is_refused_before_the_wallet_is_asked(wallet: Wallet) -> None:
    """One fen more than was paid: 409 refund_exceeds_capture, no request row, no wallet call."""
    _, order, payment = paid_order(wallet)
    with pytest.raises(RefundExceedsCapture):
        refund(wallet, order, payment.amount_fen + 1)
    assert wallet.client.refund_calls == 0
    assert count(wallet.platform, t.refunds, t.refunds.c.payment_id == payment.id) == 0
    assert wallet.trade(payment.id).refunded_fen == 0


def test_a_full_refund_of_an_order_still_being_fulfilled_is_refused_before_the_wallet(wallet: Wallet) -> None:
    """The order is paid, not cancelled: giving all the money back first needs it closed (409)."""
    _, order, payment = paid_order(wallet)
    with pytest.raises(Conflict, match="cancelled, rejected, failed or delivered"):
        refund(wallet, order, payment.amount_fen)
    assert wallet.client.refund_calls == 0
    assert count(wallet.platform, t.refunds, t.refunds.c.payment_id == payment.id) == 0


def test_only_operators_and_admins_refund(wallet: Wallet) -> None:
    """The buyer cannot refund their own order; nothing is written and the wallet is not asked."""
    buyer, order, payment = paid_order(wallet)
    with pytest.raises(PermissionDenied):
        refunds.refund_order(
            uow_factory=wallet.uow, provider=wallet.client, actor=buyer, order_id=order.id, amount_fen=100,
            out_request_no="rf-self-" + payment.id[-12:], reason="want it back",
        )  # fmt: skip
    assert wallet.client.refund_calls == 0
    assert count(wallet.platform, t.refunds, t.refunds.c.payment_id == payment.id) == 0


def test_a_wallet_timeout_after_refunding_leaves_the_request_for_a_retry_with_the_same_number(wallet: Wallet) -> None:
    """The wallet refunds but its answer is lost: the request stays requested and nothing is booked;
    resuming asks again with the original number, the wallet answers from its first execution, and
    the refund is booked once."""
    _, order, payment = paid_order(wallet)
    wallet.client.mode = "timeout_after"
    pending = refund(wallet, order, 700, "rf-lost-" + payment.id[-12:])
    assert pending.refund.state is refunds.RefundState.REQUESTED
    assert current_payment(wallet.platform, payment.id).refunded_fen == 0
    assert ledger_refunds(wallet.platform, payment.id) == []
    assert wallet.trade(payment.id).refunded_fen == 700  # the money did move

    wallet.client.mode = "ok"
    done = refunds.resume_refund(
        uow_factory=wallet.uow, provider=wallet.client, out_request_no="rf-lost-" + payment.id[-12:]
    )
    assert done.refund.state is refunds.RefundState.SUCCEEDED
    assert done.refunded_fen == 700
    assert wallet.trade(payment.id).refunded_fen == 700  # executed once
    assert ledger_refunds(wallet.platform, payment.id) == [700]
    assert current_order(wallet.platform, order.id).refunded_fen == 700
    assert_books_sound(wallet.platform)


def test_a_wallet_that_is_down_keeps_the_amount_reserved_until_the_request_is_settled(wallet: Wallet) -> None:
    """While one request waits for the wallet, its amount counts: a second refund for the rest plus
    one fen is refused before the wallet is asked."""
    _, order, payment = paid_order(wallet)
    wallet.client.mode = "down"
    pending = refund(wallet, order, 1000)
    assert pending.refund.state is refunds.RefundState.REQUESTED
    wallet.client.mode = "ok"
    calls = wallet.client.refund_calls
    with pytest.raises(RefundExceedsCapture):
        refund(wallet, order, payment.amount_fen - 1000 + 1)
    assert wallet.client.refund_calls == calls


def test_a_refused_refund_is_failed_and_frees_its_amount(wallet: Wallet) -> None:
    """The wallet says no: the request is failed with the wallet's code, nothing is booked, and the
    amount can be refunded under a new number."""
    _, order, payment = paid_order(wallet)
    wallet.client.refuse_with = "ACQ.SELLER_BALANCE_NOT_ENOUGH"
    with pytest.raises(refunds.RefundRefused) as refused:
        refund(wallet, order, 900, "rf-no-" + payment.id[-12:])
    assert refused.value.wallet_code == "ACQ.SELLER_BALANCE_NOT_ENOUGH"
    with wallet.platform.container.uow(read_only=True) as uow:
        row = uow.refunds.by_request_no("rf-no-" + payment.id[-12:])
    assert row is not None
    assert (row.state, row.failure_code) == (refunds.RefundState.FAILED, "ACQ.SELLER_BALANCE_NOT_ENOUGH")
    assert ledger_refunds(wallet.platform, payment.id) == []
    wallet.client.refuse_with = None
    assert refund(wallet, order, 900).refund.state is refunds.RefundState.SUCCEEDED
    assert current_payment(wallet.platform, payment.id).refunded_fen == 900


def test_concurrent_and_replayed_refunds_never_exceed_the_payment(wallet: Wallet) -> None:
    """RELIABILITY I9: 12 refunds of 30% each under new numbers and 12 replays of one number, all
    released together: exactly three numbers succeed, every replay of one number gets the same
    answer, the rest are 409s, and the wallet, the payment row and the ledger agree on the total."""
    _, order, payment = paid_order(wallet, quantity=3)
    share = payment.amount_fen * 3 // 10
    replay_no = "rf-race-" + payment.id[-12:]

    def work(i: int) -> refunds.RefundOutcome:
        number = replay_no if i % 2 else f"rf-{i}-{payment.id[-12:]}"
        return refunds.refund_order(
            uow_factory=wallet.uow, provider=wallet.client, actor=operator(), order_id=order.id, amount_fen=share,
            out_request_no=number, reason="race",
        )  # fmt: skip

    results = race(24, work)
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, Conflict)]
    assert unexpected == []
    succeeded = {r.refund.out_request_no for r in results if isinstance(r, refunds.RefundOutcome)}
    refused = [r for r in results if isinstance(r, RefundExceedsCapture)]
    assert len(succeeded) == 3
    assert len(refused) == 24 - sum(isinstance(r, refunds.RefundOutcome) for r in results)
    replays = [r for i, r in enumerate(results) if i % 2]
    if replay_no in succeeded:
        assert all(isinstance(r, refunds.RefundOutcome) and r.refund.out_request_no == replay_no for r in replays)
    else:
        assert all(isinstance(r, RefundExceedsCapture) for r in replays)
    assert current_payment(wallet.platform, payment.id).refunded_fen == 3 * share
    assert wallet.trade(payment.id).refunded_fen == 3 * share
    assert sorted(ledger_refunds(wallet.platform, payment.id)) == [share] * 3
    assert count(wallet.platform, t.refunds, t.refunds.c.payment_id == payment.id) == 3
    assert_books_sound(wallet.platform)


def test_a_paid_order_that_is_cancelled_is_refunded_automatically_once(wallet: Wallet) -> None:
    """The cancellation event, handled twice (at-least-once delivery), refunds everything once and
    closes the order as refunded."""
    buyer, order, payment = paid_order(wallet)
    cancel_order(uow=wallet.platform.container.uow(), actor=buyer, order_id=order.id, reason="too slow")
    with wallet.platform.container.engine.connect() as conn:
        row = (
            conn.execute(
                select(t.outbox.c.event_id, t.outbox.c.topic, t.outbox.c.city_id, t.outbox.c.payload)
                .where(t.outbox.c.topic == "ordering.order_cancelled")
                .order_by(t.outbox.c.id.desc())
                .limit(50)
            )
            .mappings()
            .all()
        )
    (message,) = [dict(r) for r in row if r["payload"]["order_id"] == order.id]
    for _ in range(2):
        refunds.on_order_closed(message, uow_factory=wallet.uow, provider=lambda: wallet.client)
    after = current_order(wallet.platform, order.id)
    assert after.status is OrderStatus.REFUNDED
    assert after.refunded_fen == payment.amount_fen
    assert wallet.client.refund_calls == 1
    assert wallet.trade(payment.id).refunded_fen == payment.amount_fen
    assert ledger_refunds(wallet.platform, payment.id) == [payment.amount_fen]
    assert_books_sound(wallet.platform)


def test_money_paid_after_the_order_was_cancelled_goes_back_in_full(wallet: Wallet) -> None:
    """The buyer cancels, then pays the still-open wallet trade anyway: the capture is booked, then
    the automatic refund returns all of it; the order stays cancelled and never counts the money."""
    buyer, order = place_order(wallet.platform)
    payment, url = start_payment(uow=wallet.uow(), actor=buyer, order_id=order.id, ctx=wallet.ctx)
    cancel_order(uow=wallet.platform.container.uow(), actor=buyer, order_id=order.id, reason="found it at home")
    wallet.pay(payment.id, url)
    assert confirm_by_query(uow_factory=wallet.uow, payment_id=payment.id, ctx=wallet.ctx) == "paid_late:cancelled"
    assert current_payment(wallet.platform, payment.id).state is PaymentState.PAID

    outcome = refunds.auto_refund(uow_factory=wallet.uow, provider=wallet.client, payment_id=payment.id)
    assert outcome is not None
    assert outcome.refund.out_request_no == refunds.AUTO_PREFIX + payment.id
    assert outcome.refund.amount_fen == payment.amount_fen
    assert outcome.refunded_fen == payment.amount_fen
    assert refunds.auto_refund(uow_factory=wallet.uow, provider=wallet.client, payment_id=payment.id) is not None
    assert wallet.client.refund_calls == 1
    assert wallet.trade(payment.id).refunded_fen == payment.amount_fen
    after = current_order(wallet.platform, order.id)
    assert (after.status, after.paid_fen, after.refunded_fen) == (OrderStatus.CANCELLED, 0, 0)
    assert ledger_refunds(wallet.platform, payment.id) == [payment.amount_fen]
    assert_books_sound(wallet.platform)


def test_an_order_being_fulfilled_is_not_refunded_automatically(wallet: Wallet) -> None:
    """A paid order still on its way owes nothing back: the automatic refund does nothing."""
    _, order, payment = paid_order(wallet)
    assert refunds.auto_refund(uow_factory=wallet.uow, provider=wallet.client, payment_id=payment.id) is None
    assert wallet.client.refund_calls == 0
    assert current_order(wallet.platform, order.id).status is OrderStatus.PAID


# -- over HTTP ----------------------------------------------------------------------------------


def test_refunds_over_http_are_idempotent_strict_about_amounts_and_for_operators_only(wallet: Wallet) -> None:
    """An operator refunds ¥2 with an Idempotency-Key: 200, and a replay answers the same without a
    second wallet call. Floats, strings, booleans, negatives, zero and huge amounts are 422; a missing
    key 400; the key with another body 422; the buyer 403; an over-refund 409; nothing else moved."""
    platform = wallet.platform
    client = money_client(platform)
    _, order, payment = paid_order(wallet)
    url = f"/api/orders/{order.id}/refunds"
    operator_headers = {**platform.auth(Role.OPERATOR), "Idempotency-Key": "refund-" + payment.id[-12:]}
    body = {"amount_fen": 200, "reason": "one pack arrived crushed"}

    first = client.post(url, json=body, headers=operator_headers)
    assert first.status_code == 200, first.text
    assert (first.json()["state"], first.json()["amount_fen"], first.json()["refunded_fen"]) == ("succeeded", 200, 200)
    replay = client.post(url, json=body, headers=operator_headers)
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert wallet.client.refund_calls == 1

    for amount in (1.5, "200", -1, 0, True, 10**13, 2.0):
        bad = client.post(
            url, json={**body, "amount_fen": amount}, headers={**operator_headers, "Idempotency-Key": f"k-{amount}"}
        )
        assert bad.status_code == 422, (amount, bad.text)
        assert bad.json()["errors"][0]["field"] == "amount_fen"
    assert client.post(url, json=body, headers=platform.auth(Role.OPERATOR)).status_code == 400
    assert client.post(url, json={**body, "amount_fen": 201}, headers=operator_headers).status_code == 422
    buyer_headers = {**platform.auth(Role.PATIENT), "Idempotency-Key": "self-" + payment.id[-12:]}
    assert client.post(url, json=body, headers=buyer_headers).status_code == 403
    over = client.post(
        url, json={**body, "amount_fen": payment.amount_fen}, headers={**operator_headers, "Idempotency-Key": "over"}
    )
    assert over.status_code == 409
    assert over.json()["code"] == "refund_exceeds_capture"
    missing = client.post(
        "/api/orders/no-such-order/refunds", json=body, headers={**operator_headers, "Idempotency-Key": "nf"}
    )
    assert missing.status_code == 404

    assert wallet.client.refund_calls == 1
    assert current_payment(platform, payment.id).refunded_fen == 200
    assert wallet.trade(payment.id).refunded_fen == 200
