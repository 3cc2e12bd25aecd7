"""Checkout, the safety gate and wallet payments against the real database, on SQLite and PostgreSQL.

Concurrency tests fire N checkouts at once (each thread its own connection, released together by
a barrier) and check what the database holds afterwards, not what the threads believe.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from shop import NEAR, Shop, make_doctor, make_patients, make_shop, prescribe, race
from support import Platform
from yaodao.accounts.policy import Actor
from yaodao.adapters.db import tables as t
from yaodao.adapters.wallet_client import AlipayStyleClient
from yaodao.kernel.errors import Conflict, DomainError, ValidationFailed
from yaodao.kernel.ids import new_id
from yaodao.ordering.gate import OrderBlocked
from yaodao.ordering.interactions import FixtureSource
from yaodao.ordering.model import OrderStatus
from yaodao.ordering.services import CheckoutLine, CheckoutRequest, OrderingContext, checkout
from yaodao.payments.services import PaymentsContext, WalletAccount, handle_notification, start_payment
from yaodao.payments.signing import (
    canonical_string,
    fen_to_yuan,
    generate_keypair,
    load_private_key,
    load_public_key,
    sign_rsa2,
)

WALLET_KEYS = generate_keypair()
APP_KEYS = generate_keypair()


def _ordering(platform: Platform) -> OrderingContext:
    city = platform.container.cities.get("hangzhou")
    index = platform.container.availability.index("hangzhou")
    assert city is not None
    assert index is not None
    return OrderingContext(city=city, availability=index, interactions=FixtureSource())


def _payments() -> PaymentsContext:
    provider = AlipayStyleClient("http://127.0.0.1:9/gateway.do", "app-test", APP_KEYS[0], WALLET_KEYS[1])
    account = WalletAccount(
        app_id="app-test", seller_id="seller-test", wallet_public_key=load_public_key(WALLET_KEYS[1]),
        notify_url="http://127.0.0.1/api/payments/notify", return_url="http://127.0.0.1/orders",
    )  # fmt: skip
    return PaymentsContext(provider=provider, account=account)


def _delivery(product_id: str, quantity: int = 1, rx: str | None = None) -> CheckoutRequest:
    return CheckoutRequest(
        lines=(CheckoutLine(product_id, quantity, rx),),
        location=NEAR,
        address_text="北山街1号",
        rx_risk_acknowledged=rx is not None,
    )


def test_a_checkout_holds_stock_and_prices_the_order(platform: Platform) -> None:
    """One OTC pack: the order awaits payment at the shop that has it, stock is held, the price adds up."""
    shop = make_shop(platform, stock=3)
    (buyer,) = make_patients(platform, 1)
    order = checkout(
        uow=platform.container.uow(), actor=buyer, request=_delivery(shop.otc_id, 2), ctx=_ordering(platform)
    )
    assert order.status is OrderStatus.AWAITING_PAYMENT
    assert order.pharmacy_id == shop.pharmacy_id
    assert order.price.items_subtotal_fen == 3000
    assert order.price.total_fen == 3000 + order.price.delivery_fee_fen + order.price.night_surcharge_fen
    assert order.price.non_reimbursable_fen >= order.price.delivery_fee_fen  # INS1: fees are never insured
    with platform.container.uow(read_only=True) as uow:
        level = uow.stock.get(shop.pharmacy_id, shop.otc_id)
    assert level is not None
    assert (level.quantity, level.reserved) == (3, 2)


def test_concurrent_checkouts_never_sell_more_than_the_stock(platform: Platform) -> None:
    """RELIABILITY I1: 60 buyers race for 10 packs, twice: exactly 10 orders each time, losers get a 409."""
    for _ in range(2):
        shop = make_shop(platform, stock=10)
        buyers = make_patients(platform, 60)
        ctx = _ordering(platform)  # after the new shop: the index is rebuilt with it

        def buy(i: int, buyers: list[Actor] = buyers, shop: Shop = shop, ctx: OrderingContext = ctx) -> Any:
            return checkout(uow=platform.container.uow(), actor=buyers[i], request=_delivery(shop.otc_id), ctx=ctx)

        results = race(60, buy)
        sold = [r for r in results if not isinstance(r, Exception)]
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(sold) == 10
        assert all(isinstance(r, Conflict) for r in refused), {type(r).__name__: str(r) for r in refused}
        with platform.container.engine.connect() as conn:
            orders = conn.execute(
                select(func.count()).select_from(t.order_lines).where(t.order_lines.c.product_id == shop.otc_id)
            ).scalar_one()
            level = conn.execute(
                select(t.stock_levels.c.quantity, t.stock_levels.c.reserved).where(
                    t.stock_levels.c.pharmacy_id == shop.pharmacy_id, t.stock_levels.c.product_id == shop.otc_id
                )
            ).one()
        assert orders == 10
        assert tuple(level) == (10, 10)


def test_one_prescription_raced_by_fifty_orders_is_filled_once(platform: Platform) -> None:
    """RELIABILITY I11: fifty concurrent checkouts on a single-use e-prescription: one order, one fill."""
    shop = make_shop(platform, stock=80)
    (buyer,) = make_patients(platform, 1)
    assert buyer.user_id is not None
    rx_id = prescribe(platform, buyer.user_id, shop.rx_id)
    ctx = _ordering(platform)
    results = race(
        50,
        lambda i: checkout(uow=platform.container.uow(), actor=buyer, request=_delivery(shop.rx_id, 1, rx_id), ctx=ctx),
    )
    assert len([r for r in results if not isinstance(r, Exception)]) == 1
    assert all(isinstance(r, DomainError) for r in results if isinstance(r, Exception))
    with platform.container.uow(read_only=True) as uow:
        rx = uow.prescriptions.get(rx_id)
    assert rx is not None
    assert rx.fills_used == 1
    assert rx.used_at is not None


def test_an_expired_prescription_or_a_missing_one_is_refused(platform: Platform) -> None:
    """DOMAIN P1/S2: an Rx line without a prescription, or with one past its validity, is blocked (4xx)."""
    shop = make_shop(platform, stock=5)
    (buyer,) = make_patients(platform, 1)
    assert buyer.user_id is not None
    expired = prescribe(platform, buyer.user_id, shop.rx_id, days_ago=4)
    ctx = _ordering(platform)
    for rx in (None, expired):
        request = CheckoutRequest(lines=(CheckoutLine(shop.rx_id, 1, rx),), location=NEAR, rx_risk_acknowledged=True)
        with pytest.raises(ValidationFailed):
            checkout(uow=platform.container.uow(), actor=buyer, request=request, ctx=ctx)
    with platform.container.uow(read_only=True) as uow:
        level = uow.stock.get(shop.pharmacy_id, shop.rx_id)
    assert level is not None
    assert level.reserved == 0  # nothing held by the refused orders


def test_a_prohibited_product_is_never_sold(platform: Platform) -> None:
    """DOMAIN S6: a product on the online-sales prohibition list cannot be checked out."""
    with platform.container.uow(read_only=True) as uow:
        banned = next(p for p in uow.products.all() if p.prohibited_reason is not None)
    (buyer,) = make_patients(platform, 1)
    with pytest.raises((OrderBlocked, ValidationFailed, Conflict)):
        checkout(uow=platform.container.uow(), actor=buyer, request=_delivery(banned.id), ctx=_ordering(platform))


def _notification(payment_id: str, amount_fen: int, *, notify_id: str, **changes: str) -> dict[str, str]:
    params = {
        "notify_time": "2026-11-25 14:05:00", "notify_type": "trade_status_sync", "notify_id": notify_id,
        "app_id": "app-test", "seller_id": "seller-test", "charset": "utf-8", "version": "1.0",
        "sign_type": "RSA2", "trade_no": f"2026{payment_id[-16:]}", "out_trade_no": payment_id,
        "trade_status": "TRADE_SUCCESS", "total_amount": fen_to_yuan(amount_fen),
        "receipt_amount": fen_to_yuan(amount_fen), "buyer_id": "2088000000000001",
        "gmt_payment": "2026-11-25 14:04:30",
    }  # fmt: skip
    params["sign"] = sign_rsa2(
        load_private_key(WALLET_KEYS[0]), canonical_string(params, exclude=("sign", "sign_type"))
    )
    params.update(changes)
    return params


def test_notifications_resent_shuffled_and_forged_pay_each_order_once(platform: Platform) -> None:
    """RELIABILITY I3/I5: every genuine notification 8 times, shuffled, plus forgeries: one capture per payment."""
    shop = make_shop(platform, stock=20)
    buyers = make_patients(platform, 4)
    ordering, payments = _ordering(platform), _payments()
    paid_ids = []
    genuine: list[dict[str, str]] = []
    forged: list[dict[str, str]] = []
    for buyer in buyers:
        order = checkout(uow=platform.container.uow(), actor=buyer, request=_delivery(shop.otc_id), ctx=ordering)
        payment, url = start_payment(uow=platform.container.uow(), actor=buyer, order_id=order.id, ctx=payments)
        assert parse_qs(urlsplit(url).query)["method"] == ["alipay.trade.page.pay"]
        paid_ids.append(order.id)
        total = order.price.total_fen
        genuine += [_notification(payment.id, total, notify_id=f"n-{payment.id}")] * 8
        forged += [
            _notification(payment.id, total + 1, notify_id="x1", total_amount=fen_to_yuan(total + 1)),  # amount
            _notification(payment.id, total, notify_id="x2", sign="AAAA"),  # signature
            _notification(payment.id, total, notify_id="x3", seller_id="seller-else"),  # foreign seller
        ]
    forged.append(_notification(new_id(), 100, notify_id="x4"))  # unknown trade
    stream = genuine + forged
    random.Random(7).shuffle(stream)
    factory = platform.container.uow
    replies = race(
        8, lambda i: [handle_notification(uow_factory=factory, params=p, ctx=payments) for p in stream[i::8]]
    )
    flat = [reply for chunk in replies for reply in chunk]
    assert flat.count("success") == len(genuine)
    assert flat.count("fail") == len(forged)
    with platform.container.uow(read_only=True) as uow:
        orders = [uow.orders.get(i) for i in paid_ids]
        problems = uow.ledger.check()
    assert all(o is not None and o.status is OrderStatus.PAID for o in orders)
    assert problems == []
    with platform.container.engine.connect() as conn:
        counts = dict(
            conn.execute(
                select(t.ledger_transactions.c.kind, func.count())
                .where(t.ledger_transactions.c.reference.in_([o.payment_ref for o in orders if o]))
                .group_by(t.ledger_transactions.c.kind)
            ).all()
        )
    assert counts == {"capture": 4, "accrual": 4}


def test_a_forged_altered_unverified_or_first_visit_prescription_is_refused_at_checkout(platform: Platform) -> None:
    """DOMAIN D1/D2/D3: a signature by another key, a prescription changed after signing, one from a doctor
    who is not verified, or one written at a first visit, dispenses nothing; a sound one goes through."""
    shop = make_shop(platform, stock=10)
    (buyer,) = make_patients(platform, 1)
    assert buyer.user_id is not None
    ctx = _ordering(platform)
    doctor_id, _ = make_doctor(platform)
    _, stranger_key = make_doctor(platform)
    forged = prescribe(platform, buyer.user_id, shop.rx_id, doctor=(doctor_id, stranger_key))
    unverified = prescribe(platform, buyer.user_id, shop.rx_id, doctor=make_doctor(platform, verified=False))
    altered = prescribe(platform, buyer.user_id, shop.rx_id)
    first_visit = prescribe(platform, buyer.user_id, shop.rx_id, first_visit=True)
    with platform.container.engine.begin() as conn:  # two packs instead of the one that was signed
        items = conn.execute(select(t.prescriptions.c["items"]).where(t.prescriptions.c.id == altered)).scalar_one()
        items[0]["quantity_packs"] = 2
        conn.execute(t.prescriptions.update().where(t.prescriptions.c.id == altered).values(items=items))
    for rx_id in (forged, unverified, altered, first_visit):
        with pytest.raises(ValidationFailed) as refused:
            checkout(uow=platform.container.uow(), actor=buyer, request=_delivery(shop.rx_id, 1, rx_id), ctx=ctx)
        assert refused.value.errors
    sound = prescribe(platform, buyer.user_id, shop.rx_id)
    order = checkout(uow=platform.container.uow(), actor=buyer, request=_delivery(shop.rx_id, 1, sound), ctx=ctx)
    assert order.status is OrderStatus.AWAITING_PAYMENT
    assert order.needs_review
