# ruff: noqa: F811
"""Reconciliation against the sandbox wallet, on SQLite and PostgreSQL (RELIABILITY I6, I9).

Each scenario leaves the platform and the wallet out of step the way a crash or a lost message
would, runs ``run_reconcile`` restricted to its own payments (the platform is shared with other
tests), and checks what the database and the wallet hold afterwards and what the report says.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import update

# The sandbox wallet fixture is shared with the refund tests; tests take it as a parameter (F811).
from integration.test_refunds import (  # noqa: F401
    Wallet,
    current_order,
    current_payment,
    ledger_refunds,
    paid_order,
    place_order,
    refund,
    wallet,
)
from yaodao.adapters.db import tables as t
from yaodao.ordering.model import OrderStatus
from yaodao.ordering.services import cancel_order
from yaodao.payments import refunds
from yaodao.payments.model import PaymentState
from yaodao.payments.reconcile import ReconcileParams, Report, run_reconcile
from yaodao.payments.services import PaymentsContext, start_payment
from yaodao.payments.wallet import TradeStatus


@dataclass
class Deps:
    """The container's two members a run needs, with the wallet routed into the sandbox."""

    wallet: Wallet

    def uow(self) -> object:
        return self.wallet.platform.container.uow()

    def payments(self) -> PaymentsContext:
        return self.wallet.ctx


def reconcile(wallet: Wallet, *payment_ids: str) -> Report:
    params = ReconcileParams(pending_after_minutes=0, refund_retry_after_minutes=0, only=frozenset(payment_ids))
    return run_reconcile(Deps(wallet), params)


def summary(report: Report) -> dict[str, str]:
    last = report.render().splitlines()[-1]
    assert last.startswith("reconcile ")
    return dict(pair.split("=", 1) for pair in last.split()[1:])


def test_a_payment_whose_notification_was_lost_is_confirmed_from_the_wallet(wallet: Wallet) -> None:
    """The buyer paid but no notification arrived: the run asks the wallet, the order is paid and
    captured, and the books agree with the wallet."""
    buyer, order = place_order(wallet.platform)
    payment, url = start_payment(uow=wallet.uow(), actor=buyer, order_id=order.id, ctx=wallet.ctx)
    wallet.pay(payment.id, url)
    assert current_payment(wallet.platform, payment.id).state is PaymentState.PENDING

    report = reconcile(wallet, payment.id)
    assert (report.pending_checked, report.confirmed, report.paid_late) == (1, 1, 0)
    assert report.ok, report.render()
    assert current_payment(wallet.platform, payment.id).state is PaymentState.PAID
    assert current_order(wallet.platform, order.id).status is OrderStatus.PAID
    assert summary(report)["ok"] == "1"
    assert summary(report)["confirmed"] == "1"

    again = reconcile(wallet, payment.id)
    assert (again.pending_checked, again.confirmed) == (0, 0)
    assert again.ok


def test_money_paid_after_a_cancellation_is_confirmed_then_refunded_in_full(wallet: Wallet) -> None:
    """RELIABILITY I6: the buyer cancels, pays the open trade anyway, and the notification is lost.
    One run confirms the charge as paid late and refunds all of it; a second run does nothing."""
    buyer, order = place_order(wallet.platform)
    payment, url = start_payment(uow=wallet.uow(), actor=buyer, order_id=order.id, ctx=wallet.ctx)
    cancel_order(uow=wallet.platform.container.uow(), actor=buyer, order_id=order.id, reason="bought elsewhere")
    wallet.pay(payment.id, url)

    report = reconcile(wallet, payment.id)
    assert (report.confirmed, report.paid_late, report.auto_refunds) == (1, 1, 1)
    assert report.ok, report.render()
    assert current_payment(wallet.platform, payment.id).refunded_fen == payment.amount_fen
    assert wallet.trade(payment.id).refunded_fen == payment.amount_fen
    assert ledger_refunds(wallet.platform, payment.id) == [payment.amount_fen]
    assert current_order(wallet.platform, order.id).status is OrderStatus.CANCELLED

    again = reconcile(wallet, payment.id)
    assert (again.confirmed, again.auto_refunds) == (0, 0)
    assert wallet.client.refund_calls == 1
    assert again.ok


def test_an_unpaid_trade_of_a_cancelled_order_is_closed_at_the_wallet_and_here(wallet: Wallet) -> None:
    """The buyer opened the pay page and walked away, then cancelled: the run closes the wallet trade
    so it can no longer be paid, and the payment."""
    buyer, order = place_order(wallet.platform)
    payment, url = start_payment(uow=wallet.uow(), actor=buyer, order_id=order.id, ctx=wallet.ctx)
    page = wallet.http.get(url.split("8010", 1)[1])
    assert page.status_code == 200
    cancel_order(uow=wallet.platform.container.uow(), actor=buyer, order_id=order.id, reason="too expensive")

    report = reconcile(wallet, payment.id)
    assert (report.pending_checked, report.closed, report.confirmed) == (1, 1, 0)
    assert current_payment(wallet.platform, payment.id).state is PaymentState.CLOSED
    assert wallet.trade(payment.id).status is TradeStatus.TRADE_CLOSED
    assert report.ok, report.render()


def test_a_payable_order_is_left_waiting(wallet: Wallet) -> None:
    """An order still inside its payment window keeps its pending payment."""
    buyer, order = place_order(wallet.platform)
    payment, _ = start_payment(uow=wallet.uow(), actor=buyer, order_id=order.id, ctx=wallet.ctx)
    report = reconcile(wallet, payment.id)
    assert (report.waiting, report.closed) == (1, 0)
    assert current_payment(wallet.platform, payment.id).state is PaymentState.PENDING


@pytest.mark.parametrize("fault", ["down", "timeout_after"])
def test_a_refund_left_requested_is_retried_with_its_original_number(wallet: Wallet, fault: str) -> None:
    """The wallet was down, or refunded without answering: the run asks again with the same number,
    the wallet moves the money once, and the refund is booked once."""
    _, order, payment = paid_order(wallet)
    wallet.client.mode = fault
    number = f"rf-{fault}-{payment.id[-12:]}"
    assert refund(wallet, order, 600, number).refund.state is refunds.RefundState.REQUESTED
    wallet.client.mode = "ok"

    report = reconcile(wallet, payment.id)
    assert (report.refunds_retried, report.refunds_completed) == (1, 1)
    assert report.ok, report.render()
    with wallet.platform.container.uow(read_only=True) as uow:
        row = uow.refunds.by_request_no(number)
    assert row is not None
    assert row.state is refunds.RefundState.SUCCEEDED
    assert wallet.trade(payment.id).refunded_fen == 600
    assert current_payment(wallet.platform, payment.id).refunded_fen == 600
    assert ledger_refunds(wallet.platform, payment.id) == [600]


def test_books_that_disagree_are_reported_and_fail_the_run(wallet: Wallet) -> None:
    """A payment row that claims a refund nobody made: the run reports it against the refund requests,
    the ledger and the wallet, and its final line says ok=0."""
    _, _, payment = paid_order(wallet)
    with wallet.platform.container.engine.begin() as conn:
        conn.execute(update(t.payments).where(t.payments.c.id == payment.id).values(refunded_fen=1))
    report = reconcile(wallet, payment.id)
    assert not report.ok
    assert len(report.differences) == 2
    assert all(payment.id in d for d in report.differences)
    assert summary(report)["ok"] == "0"
    assert summary(report)["differences"] == "2"
    assert "refunded 1 fen by the payment, 0 by its refund requests, 0 by the ledger" in report.render()
