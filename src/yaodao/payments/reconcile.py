"""Reconciliation: the platform's payments, refunds and ledger against the wallet (RELIABILITY I6, I8, I9).

One run, safe to repeat and to run beside live traffic (every step is idempotent):

1. Pending payments older than ``pending_after_minutes``: ask the wallet. Paid there -> confirm it
   here (capture, accrual; or ``paid_late`` when the order had lapsed). Not paid and the order can
   no longer be paid -> close the wallet trade, then the payment.
2. Refund requests still ``requested`` after ``refund_retry_after_minutes``: ask the wallet again
   with the *original* ``out_request_no`` (it executes each number at most once) and book the answer.
3. Paid payments whose order will not be fulfilled, or that arrived after the order lapsed: refund
   everything left, automatically (``refunds.auto_refund``).
4. Compare: each recent payment's row, its refund requests, its ledger capture and refunds, and the
   wallet's trade must agree; then the ledger's own ``check()``. Differences are reported, not fixed.

``Report.render()`` is a readable report ending in one ``key=value`` line for logs and alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from yaodao.ordering.model import OrderStatus
from yaodao.payments import refunds
from yaodao.payments.model import Payment, PaymentState
from yaodao.payments.refunds import PaymentBooks, RefundRefused, RefundState
from yaodao.payments.services import PaymentsContext, confirm_by_query
from yaodao.payments.wallet import ProviderRefused, ProviderUnavailable, Trade

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ReconcileParams:
    pending_after_minutes: int = 30  # a pending payment this old is asked about
    refund_retry_after_minutes: int = 5  # a refund requested this long ago is retried
    limit: int = 500  # payments or refunds handled per step and run
    compare_limit: int = 200  # the most recently changed payments compared with the wallet
    only: frozenset[str] | None = None  # restrict the run to these payment ids (checking one complaint)

    def __post_init__(self) -> None:
        for name, low, high in (
            ("pending_after_minutes", 0, 7 * 24 * 60),
            ("refund_retry_after_minutes", 0, 7 * 24 * 60),
            ("limit", 1, 100_000),
            ("compare_limit", 0, 100_000),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name}: must be an integer between {low} and {high}, got {value!r}")
        if self.only is not None and not isinstance(self.only, frozenset):
            raise ValueError("only: must be a frozenset of payment ids, or None")

    def includes(self, payment_id: str) -> bool:
        return self.only is None or payment_id in self.only


class ReconcileDeps(Protocol):
    """What a run needs: units of work and the wallet (the platform's container has both)."""

    def uow(self) -> Any: ...
    def payments(self) -> PaymentsContext: ...


@dataclass
class Report:
    started_at: datetime
    pending_checked: int = 0
    confirmed: int = 0
    paid_late: int = 0
    closed: int = 0
    waiting: int = 0
    refunds_retried: int = 0
    refunds_completed: int = 0
    refunds_failed: int = 0
    refunds_still_requested: int = 0
    auto_refunds: int = 0
    auto_refunds_pending: int = 0
    payments_compared: int = 0
    wallet_unreachable: int = 0
    differences: list[str] = field(default_factory=list)
    ledger_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.ledger_problems and not self.wallet_unreachable

    def summary(self) -> str:
        counts = (
            ("ok", int(self.ok)), ("pending_checked", self.pending_checked), ("confirmed", self.confirmed),
            ("paid_late", self.paid_late), ("closed", self.closed), ("waiting", self.waiting),
            ("refunds_retried", self.refunds_retried), ("refunds_completed", self.refunds_completed),
            ("refunds_failed", self.refunds_failed), ("refunds_still_requested", self.refunds_still_requested),
            ("auto_refunds", self.auto_refunds), ("auto_refunds_pending", self.auto_refunds_pending),
            ("payments_compared", self.payments_compared), ("wallet_unreachable", self.wallet_unreachable),
            ("differences", len(self.differences)), ("ledger_problems", len(self.ledger_problems)),
        )  # fmt: skip
        return "reconcile " + " ".join(f"{k}={v}" for k, v in counts)

    def render(self) -> str:
        lines = [
            f"Payments reconciliation, {self.started_at.isoformat()}",
            f"  pending payments asked about: {self.pending_checked} (confirmed {self.confirmed}, of which paid "
            f"after their order lapsed {self.paid_late}; closed {self.closed}; still payable {self.waiting})",
            f"  refund requests retried: {self.refunds_retried} (completed {self.refunds_completed}, refused "
            f"{self.refunds_failed}, still waiting for the wallet {self.refunds_still_requested})",
            f"  automatic refunds: {self.auto_refunds} (waiting for the wallet {self.auto_refunds_pending})",
            f"  payments compared with the wallet: {self.payments_compared}"
            + (f" (wallet unreachable {self.wallet_unreachable} times)" if self.wallet_unreachable else ""),
            f"  differences: {len(self.differences)}",
            *(f"    - {d}" for d in self.differences),
            f"  ledger check: {'sound' if not self.ledger_problems else f'{len(self.ledger_problems)} problems'}",
            *(f"    - {p}" for p in self.ledger_problems),
            self.summary(),
        ]
        return "\n".join(lines)


def run_reconcile(deps: ReconcileDeps, params: ReconcileParams | None = None) -> Report:
    """One reconciliation run (see the module notes); never raises for a single payment's trouble."""
    params = params or ReconcileParams()
    ctx = deps.payments()
    with deps.uow() as uow:
        now = uow.clock.now()
        pending = uow.payments.pending(now - timedelta(minutes=params.pending_after_minutes), params.limit)
    report = Report(started_at=now)
    for payment in pending:
        if params.includes(payment.id):
            _settle_pending(deps, ctx, payment, report)
    _retry_refunds(deps, ctx, params, report)
    _refund_orphans(deps, ctx, params, report)
    _compare(deps, ctx, params, report)
    log.info("reconciled", summary=report.summary())
    return report


def _settle_pending(deps: ReconcileDeps, ctx: PaymentsContext, payment: Payment, report: Report) -> None:
    report.pending_checked += 1
    try:
        trade = ctx.provider.query(payment.id)
        if trade is not None and trade.is_paid:
            _confirm(deps, ctx, payment.id, report)
            return
        with deps.uow() as uow:
            order = uow.orders.get(payment.order_id)
            now = uow.clock.now()
        if order is not None and order.status is OrderStatus.AWAITING_PAYMENT and order.expires_at > now:
            report.waiting += 1
            return
        try:
            ctx.provider.close(payment.id)
        except ProviderRefused as refused:
            if refused.code == "ACQ.TRADE_STATUS_ERROR":  # paid a moment ago
                _confirm(deps, ctx, payment.id, report)
                return
            raise
        with deps.uow() as uow:
            if uow.payments.mark_closed(payment.id, uow.clock.now()):
                report.closed += 1
            uow.commit()
    except ProviderUnavailable:
        report.wallet_unreachable += 1
    except ProviderRefused as refused:
        report.differences.append(f"payment {payment.id}: the wallet refused to close it ({refused.code})")


def _confirm(deps: ReconcileDeps, ctx: PaymentsContext, payment_id: str, report: Report) -> None:
    outcome = confirm_by_query(uow_factory=deps.uow, payment_id=payment_id, ctx=ctx)
    if outcome == "paid" or outcome.startswith("paid_late"):
        report.confirmed += 1
        report.paid_late += outcome.startswith("paid_late")
    elif outcome != "duplicate":
        report.differences.append(f"payment {payment_id}: the wallet says paid, confirming it gave {outcome}")


def _retry_refunds(deps: ReconcileDeps, ctx: PaymentsContext, params: ReconcileParams, report: Report) -> None:
    with deps.uow() as uow:
        older_than = uow.clock.now() - timedelta(minutes=params.refund_retry_after_minutes)
        stuck = [r for r in uow.refunds.stuck(older_than, params.limit) if params.includes(r.payment_id)]
    for request in stuck:
        report.refunds_retried += 1
        try:
            outcome = refunds.resume_refund(
                uow_factory=deps.uow, provider=ctx.provider, out_request_no=request.out_request_no
            )
        except RefundRefused:
            report.refunds_failed += 1
            continue
        if outcome.refund.state is RefundState.SUCCEEDED:
            report.refunds_completed += 1
        else:
            report.refunds_still_requested += 1


def _refund_orphans(deps: ReconcileDeps, ctx: PaymentsContext, params: ReconcileParams, report: Report) -> None:
    with deps.uow() as uow:
        candidates = [p for p in uow.refunds.auto_refund_candidates(params.limit) if params.includes(p)]
    for payment_id in candidates:
        try:
            outcome = refunds.auto_refund(uow_factory=deps.uow, provider=ctx.provider, payment_id=payment_id)
        except RefundRefused as refused:
            report.differences.append(f"payment {payment_id}: the wallet refused its automatic refund ({refused})")
            continue
        if outcome is None or outcome.replayed:
            if outcome is not None and outcome.refund.state is RefundState.FAILED:
                report.differences.append(
                    f"payment {payment_id}: its automatic refund was refused ({outcome.refund.failure_code})"
                )
            continue
        if outcome.refund.state is RefundState.SUCCEEDED:
            report.auto_refunds += 1
        else:
            report.auto_refunds_pending += 1


def _compare(deps: ReconcileDeps, ctx: PaymentsContext, params: ReconcileParams, report: Report) -> None:
    with deps.uow() as uow:
        books = uow.refunds.books(params.compare_limit) if params.compare_limit else []
        books = [b for b in books if params.includes(b.payment_id)]
        in_flight = {b.payment_id: uow.refunds.reserved_fen(b.payment_id) - b.succeeded_fen for b in books}
        report.ledger_problems.extend(uow.ledger.check())
    for b in books:
        report.payments_compared += 1
        where = f"payment {b.payment_id} (order {b.order_id}, {b.state})"
        if b.state == PaymentState.PAID.value:
            if b.captures != 1 or b.captured_fen != b.amount_fen:
                report.differences.append(
                    f"{where}: paid {b.amount_fen} fen but the ledger holds {b.captures} captures of {b.captured_fen}"
                )
        elif b.captures:
            report.differences.append(f"{where}: not paid, yet the ledger holds a capture")
        if not b.refunded_fen == b.succeeded_fen == b.ledger_refunded_fen:
            report.differences.append(
                f"{where}: refunded {b.refunded_fen} fen by the payment, {b.succeeded_fen} by its refund requests, "
                f"{b.ledger_refunded_fen} by the ledger"
            )
        try:
            trade = ctx.provider.query(b.payment_id)
        except ProviderUnavailable:
            report.wallet_unreachable += 1
            continue
        report.differences.extend(_against_wallet(where, b, in_flight.get(b.payment_id, 0), trade))


def _against_wallet(where: str, b: PaymentBooks, in_flight: int, trade: Trade | None) -> list[str]:
    paid = b.state == PaymentState.PAID.value
    if trade is None:
        return [f"{where}: paid here, unknown to the wallet"] if paid else []
    found: list[str] = []
    if trade.total_fen != b.amount_fen:
        found.append(f"{where}: {b.amount_fen} fen here, {trade.total_fen} at the wallet")
    if trade.is_paid and b.state == PaymentState.CLOSED.value:
        found.append(f"{where}: closed here, but the wallet took the money (trade {trade.trade_no})")
    if paid and not trade.is_paid:
        found.append(f"{where}: paid here, {trade.status.value} at the wallet")
    if not b.refunded_fen <= trade.refunded_fen <= b.refunded_fen + in_flight:
        found.append(
            f"{where}: {b.refunded_fen} fen refunded here ({in_flight} in flight), {trade.refunded_fen} at the wallet"
        )
    return found
