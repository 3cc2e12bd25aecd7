"""Paying for orders through the wallet: the payment intent, the wallet's notifications, the books.

The intent (a ``payments`` row whose id is the wallet's ``out_trade_no``) is committed before the
buyer reaches the wallet, so a crash can never leave a charge the platform does not know about
(RELIABILITY I6). A notification is acted on only when its RSA2 signature, app, seller and amount
check out; the payment moves pending -> paid by one conditional update, so however many copies
arrive, in whatever order, one of them captures: the order is marked paid, the capture is split to
its payees in the ledger and the payer's insurance pot accrues, all in the same transaction. The
wallet gets ``success`` only after that commit (and for harmless duplicates), so anything else is
resent by the wallet and applied then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from yaodao.accounts.policy import Action, Actor, Scope, authorize
from yaodao.kernel.errors import Conflict, NotAuthenticated, NotFound
from yaodao.kernel.ids import new_id
from yaodao.ordering.model import Order, OrderStatus
from yaodao.ordering.ports import OrderingUnitOfWork
from yaodao.ordering.services import age_on
from yaodao.payments.books import AlreadyAccrued, OrderAmounts, SplitRule, accrue_for_capture, capture_order
from yaodao.payments.ledger import LedgerTransaction, TxnKind
from yaodao.payments.model import Payment, PaymentState
from yaodao.payments.notifications import NotificationRejected, parse_and_verify_notification
from yaodao.payments.pot import AccrualRule, PaymentKind, PotState
from yaodao.payments.wallet import PaymentProvider, TradeStatus, WalletNotification

SUCCESS = "success"  # the one reply that stops the wallet resending
FAIL = "fail"


class PaymentsUnitOfWork(OrderingUnitOfWork, Protocol):
    @property
    def payments(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class WalletAccount:
    """The platform's identity at the wallet, and the wallet's key to check notifications with."""

    app_id: str
    seller_id: str
    wallet_public_key: Any  # an RSA public key (cryptography)
    notify_url: str
    return_url: str


@dataclass(frozen=True, slots=True)
class PaymentsContext:
    provider: PaymentProvider
    account: WalletAccount
    split: SplitRule = field(default_factory=SplitRule)
    accrual: AccrualRule = field(default_factory=AccrualRule)
    timeout_minutes: int = 15


def start_payment(*, uow: PaymentsUnitOfWork, actor: Actor, order_id: str, ctx: PaymentsContext) -> tuple[Payment, str]:
    """The payment intent for an order awaiting payment (created once), and the wallet's pay page URL."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        order = uow.orders.get(order_id)
        if order is None or order.user_id != actor.user_id:
            raise NotFound(f"order {order_id} not found", field="order_id")
        authorize(actor, Action.ORDER_PLACE, Scope(owner_id=order.user_id))
        now = uow.clock.now()
        if order.status is not OrderStatus.AWAITING_PAYMENT:
            raise Conflict(f"order {order.id} is {order.status.value}, not awaiting payment", field="order_id")
        if order.expires_at <= now:
            raise Conflict(f"order {order.id} was not paid in time; place it again", field="order_id")
        payment = Payment(
            id=new_id(), order_id=order.id, user_id=order.user_id, city_id=order.city_id,
            amount_fen=order.price.total_fen, state=PaymentState.PENDING, created_at=now,
        )  # fmt: skip
        if not uow.payments.add(payment, now):  # the order has its intent already (one per order): reuse it
            found = uow.payments.for_order(order.id)
            assert found is not None
            payment = found
        uow.commit()
    minutes = max(1, int((order.expires_at - now).total_seconds() // 60))
    url = ctx.provider.pay_url(
        out_trade_no=payment.id, amount_fen=payment.amount_fen, subject=f"药到 order {order.id[-8:]}",
        notify_url=ctx.account.notify_url, return_url=ctx.account.return_url, timeout_minutes=minutes,
    )  # fmt: skip
    return payment, url


UowFactory = Callable[[], PaymentsUnitOfWork]


def handle_notification(*, uow_factory: UowFactory, params: Mapping[str, str], ctx: PaymentsContext) -> str:
    """Act on one wallet notification; the reply for the wallet (``success`` or ``fail``)."""
    account = ctx.account
    try:
        note = parse_and_verify_notification(
            params, wallet_public_key=account.wallet_public_key, app_id=account.app_id, seller_id=account.seller_id
        )
    except NotificationRejected as rejected:
        with uow_factory() as uow:
            uow.payments.log_notification(params, f"rejected:{rejected.reason}", uow.clock.now())
            uow.commit()
        return FAIL
    with uow_factory() as uow:
        outcome, reply = _apply(uow, note, ctx)
        uow.payments.log_notification(params, outcome, uow.clock.now())
        uow.commit()
    return reply


def confirm_by_query(*, uow_factory: UowFactory, payment_id: str, ctx: PaymentsContext) -> str:
    """Ask the wallet about a pending trade (notifications lost, or the buyer came back first)."""
    trade = ctx.provider.query(payment_id)
    if trade is None or trade.status not in (TradeStatus.TRADE_SUCCESS, TradeStatus.TRADE_FINISHED):
        return "pending"
    with uow_factory() as uow:
        note = WalletNotification(
            notify_id=f"query:{payment_id}", notify_time=trade.paid_at or uow.clock.now(), out_trade_no=payment_id,
            trade_no=trade.trade_no, status=trade.status, total_fen=trade.total_fen, refund_fen=trade.refunded_fen,
            seller_id=ctx.account.seller_id, app_id=ctx.account.app_id, buyer_id=trade.buyer_id,
            gmt_payment=trade.paid_at,
        )  # fmt: skip
        outcome, _ = _apply(uow, note, ctx)
        uow.commit()
    return outcome


def _apply(uow: PaymentsUnitOfWork, note: WalletNotification, ctx: PaymentsContext) -> tuple[str, str]:
    payment: Payment | None = uow.payments.get(note.out_trade_no)
    if payment is None:
        return "unknown_trade", FAIL
    if note.total_fen != payment.amount_fen:
        return "rejected:amount", FAIL
    if note.status not in (TradeStatus.TRADE_SUCCESS, TradeStatus.TRADE_FINISHED):
        return f"noted:{note.status.value}", SUCCESS
    if note.refund_fen:
        return "noted:refund", SUCCESS  # refunds are confirmed by the refund call itself
    paid_at = note.gmt_payment or uow.clock.now()
    if not uow.payments.mark_paid(payment.id, trade_no=note.trade_no, buyer_id=note.buyer_id, paid_at=paid_at):
        return "duplicate", SUCCESS
    order = uow.orders.get(payment.order_id)
    assert order is not None  # payments reference orders (foreign key)
    now = uow.clock.now()
    capture, recorded = _capture(uow, order, payment, ctx, now)
    if order.status is OrderStatus.AWAITING_PAYMENT:
        before = order.version
        order.mark_paid(payment.id, payment.amount_fen, now)
        uow.orders.save(order, before, now)
        for event in order.events:
            uow.emit(event)
        order.events.clear()
        _accrue(uow, order, capture, ctx, now, followers=() if recorded else None)
        return "paid", SUCCESS
    # Paid after the order expired or was cancelled: the money is captured and owed back.
    return f"paid_late:{order.status.value}", SUCCESS


def _capture(
    uow: PaymentsUnitOfWork, order: Order, payment: Payment, ctx: PaymentsContext, now: datetime
) -> tuple[LedgerTransaction, bool]:
    """The payment's capture in the ledger, and whether this call recorded it (False: it was there)."""
    price = order.price
    amounts = OrderAmounts(
        items_fen=price.items_subtotal_fen + price.packaging_fee_fen,
        delivery_fen=price.delivery_fee_fen + price.night_surcharge_fen,
        discount_fen=price.discount_fen,
    )
    txn = capture_order(
        ctx.split, txn_id=new_id(), payment_id=payment.id, user_id=order.user_id, pharmacy_id=order.pharmacy_id,
        amounts=amounts, at=now,
    )  # fmt: skip
    if not uow.ledger.record(txn):
        existing = uow.ledger.by_reference(TxnKind.CAPTURE, payment.id)
        assert existing is not None
        return existing, False
    return txn, True


def _accrue(
    uow: PaymentsUnitOfWork,
    order: Order,
    capture: LedgerTransaction,
    ctx: PaymentsContext,
    now: datetime,
    *,
    followers: Sequence[LedgerTransaction] | None = None,
) -> None:
    """Accrue the capture's cover; ``followers`` may be given when known (a capture recorded just now has none)."""
    user = uow.users.get(order.user_id)
    age = age_on(user.date_of_birth if user else None, now.date())
    if age is None:
        return  # eligibility needs an age (DOMAIN INS2: under 60); no date of birth, no accrual
    if followers is None:
        followers = uow.ledger.followers(capture.id)
    try:
        accrual = accrue_for_capture(
            ctx.accrual, capture, followers, txn_id=new_id(), age_years=age, payment_kind=PaymentKind.ORDER,
            pot_state=pot_state(uow, order.user_id, ctx.accrual, now), at=now,
        )  # fmt: skip
    except AlreadyAccrued:
        return
    if accrual is not None:
        uow.ledger.record(accrual)


def pot_state(uow: PaymentsUnitOfWork, user_id: str, rule: AccrualRule, now: datetime) -> PotState:
    """The user's pot as the accrual rule sees it (the current term only), from indexed aggregates.

    Terms follow one another: the first starts at the user's first accrual, each next one at the
    first accrual at or after the previous term's end. ``accrued`` is the cover accrued in the
    current term net of clawbacks, never less than what the pot holds. Each step is one indexed
    query, so the cost does not grow with the user's history.
    """
    start = uow.ledger.first_accrual_at(user_id)
    term = timedelta(days=rule.term_days)
    while start is not None and now - start >= term:
        start = uow.ledger.first_accrual_at(user_id, at_or_after=start + term)
    if start is None:
        return PotState()
    balance = uow.ledger.pot_balance(user_id)
    accrued = uow.ledger.pot_accrued_since(user_id, start)
    return PotState(term_started_at=start, accrued_fen=max(accrued, balance), balance_fen=balance)
