"""Refunds through the wallet: written down before the wallet is asked, booked once it has paid back.

A refund request (a ``refunds`` row keyed by its ``out_request_no``) is committed *before* the wallet
is called, with the amount checked against what the payment has left once every other refund that
is requested or done is counted. So a crash between the wallet's answer and our commit leaves a
``requested`` row the reconciler retries with the same ``out_request_no``, which the wallet executes
at most once (RELIABILITY I6, I9). When the wallet confirms, one transaction marks the request
succeeded, raises ``payments.refunded_fen`` by a conditional update that can never pass the paid
amount, writes the ledger refund and the insurance clawback, and records the refund on the order.

* A repeat with the same ``out_request_no`` and amount returns the first result and changes
  nothing; the same number for another payment or amount is a 409.
* An over-refund, an unpaid payment, and a full refund of an order that is still being fulfilled
  are refused (409) before the wallet is called.
* Wallet unreachable: the request stays ``requested`` (the answer says so) for a retry.
* Wallet refused: the request is ``failed`` with the wallet's code, and its amount is free again.

Automatic refunds give back everything left on a payment whose order will not be fulfilled
(cancelled, rejected, failed delivery) or that arrived after its order had already lapsed. Their
request number is derived from the payment (``auto-<payment id>``), so the event handler, the
reconciler and a retry all ask for the same single refund.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import structlog

from yaodao.accounts.model import AuditRecord
from yaodao.accounts.policy import Action, Actor, Scope, authorize
from yaodao.kernel.errors import Conflict, NotAuthenticated, NotFound, ValidationFailed
from yaodao.kernel.ids import new_id
from yaodao.ordering.model import Order, OrderStatus
from yaodao.payments.books import DuplicateRefund, RefundExceedsCapture, clawback_on_refund, refund_payment
from yaodao.payments.ledger import LedgerTransaction, TxnKind
from yaodao.payments.model import Payment, PaymentState
from yaodao.payments.services import PaymentsUnitOfWork
from yaodao.payments.wallet import PaymentProvider, ProviderRefused, ProviderUnavailable, check_reference

log = structlog.get_logger(__name__)

MAX_REASON = 300
COMPLETE_ATTEMPTS = 3  # bookings of a confirmed refund retried when the order changed meanwhile
AUTO_PREFIX = "auto-"
# Orders that will not be fulfilled: what was paid for them is owed back in full.
UNFULFILLED = frozenset({OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.DELIVERY_FAILED})


class RefundState(enum.StrEnum):
    REQUESTED = "requested"  # written down; the wallet has not confirmed it (yet)
    SUCCEEDED = "succeeded"  # the wallet paid it back and the books show it
    FAILED = "failed"  # the wallet refused it; nothing moved


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    payment_id: str
    out_request_no: str
    amount_fen: int
    reason: str
    state: RefundState
    created_at: datetime
    completed_at: datetime | None = None
    failure_code: str | None = None


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    """What a refund request came to. ``replayed``: the request number was known and nothing changed."""

    refund: Refund
    order_id: str
    refunded_fen: int  # the payment's total refunded, as the books hold it now
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class PaymentBooks:
    """One payment as three records see it: the payments row, the refund requests, the ledger."""

    payment_id: str
    order_id: str
    state: str
    amount_fen: int
    refunded_fen: int  # payments.refunded_fen
    succeeded_fen: int  # sum of succeeded refund requests
    captured_fen: int  # the ledger capture's wallet debit (0: none)
    ledger_refunded_fen: int  # the ledger refunds' wallet credits
    captures: int  # capture transactions for this payment (never more than one)


class RefundRequestReused(Conflict):
    code = "refund_request_reused"


class RefundRefused(Conflict):
    code = "refund_refused"

    def __init__(self, message: str, *, wallet_code: str) -> None:
        super().__init__(message, field="out_request_no")
        self.wallet_code = wallet_code


class PaymentNotRefundable(Conflict):
    code = "payment_not_refundable"


class RefundRepo(Protocol):
    def by_request_no(self, out_request_no: str) -> Refund | None: ...
    def add(self, refund: Refund) -> bool: ...
    def lock_payment(self, payment_id: str) -> Payment | None: ...
    def reserved_fen(self, payment_id: str) -> int: ...
    def finish(self, refund_id: str, state: RefundState, at: datetime, failure_code: str | None = None) -> bool: ...
    def add_refunded(self, payment_id: str, amount_fen: int, at: datetime) -> bool: ...
    def for_payment(self, payment_id: str) -> list[Refund]: ...
    def stuck(self, older_than: datetime, limit: int = ...) -> list[Refund]: ...
    def auto_refund_candidates(self, limit: int = ...) -> list[str]: ...
    def books(self, limit: int = ...) -> list[PaymentBooks]: ...


class RefundsUnitOfWork(PaymentsUnitOfWork, Protocol):
    @property
    def refunds(self) -> RefundRepo: ...


UowFactory = Callable[[], RefundsUnitOfWork]


# -- the ledger side, shared by the refund service and the database-backed books -------------------


def book_refund(
    uow: PaymentsUnitOfWork, capture: LedgerTransaction, *, refund_no: str, amount_fen: int, at: datetime
) -> tuple[LedgerTransaction, ...]:
    """Write the refund of ``capture`` and the clawback it causes; a refund number is used once, anywhere."""
    if uow.ledger.by_reference(TxnKind.REFUND, refund_no) is not None:
        raise DuplicateRefund(f"refund {refund_no} was already made")
    followers = uow.ledger.followers(capture.id)
    refund = refund_payment(capture, followers, txn_id=new_id(), refund_no=refund_no, amount_fen=amount_fen, at=at)
    payer = capture.user_id or ""
    clawback = clawback_on_refund(
        capture, followers, refund, txn_id=new_id(), pot_balance_fen=uow.ledger.pot_balance(payer), at=at
    )
    written = (refund,) if clawback is None else (refund, clawback)
    for txn in written:
        if not uow.ledger.record(txn):
            raise DuplicateRefund(f"refund {refund_no} was already made")
    return written


# -- the service --------------------------------------------------------------------------------


def refund_order(
    *,
    uow_factory: UowFactory,
    provider: PaymentProvider,
    actor: Actor,
    order_id: str,
    amount_fen: int,
    out_request_no: str,
    reason: str,
) -> RefundOutcome:
    """An operator (of the order's city) or an admin refunds part or all of an order's payment."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow_factory() as uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise NotFound(f"order {order_id} not found", field="order_id")
        authorize(actor, Action.REFUND_ISSUE, Scope(city_id=order.city_id))
        payment: Payment | None = uow.payments.for_order(order_id)
        uow.audit(
            AuditRecord(
                at=uow.clock.now(), actor_id=actor.user_id, actor_roles=actor.roles_text, action="update",
                resource_type="order", resource_id=order.id, patient_id=order.patient_id, outcome="ok",
                request_id=actor.request_id, ip=actor.ip, detail={"refund": out_request_no[:64]},
            )
        )  # fmt: skip
        uow.commit()
    if payment is None or payment.state is not PaymentState.PAID:
        raise PaymentNotRefundable(f"order {order_id} has no paid payment to refund", field="order_id")
    return request_refund(
        uow_factory=uow_factory, provider=provider, payment_id=payment.id, amount_fen=amount_fen,
        out_request_no=out_request_no, reason=reason,
    )  # fmt: skip


def request_refund(
    *,
    uow_factory: UowFactory,
    provider: PaymentProvider,
    payment_id: str,
    amount_fen: int,
    out_request_no: str,
    reason: str,
) -> RefundOutcome:
    """Refund ``amount_fen`` of a paid payment under ``out_request_no`` (see the module notes)."""
    _check_request(amount_fen, out_request_no, reason)
    with uow_factory() as uow:
        refund, replay = _open_request(uow, payment_id, amount_fen, out_request_no, reason)
        uow.commit()
    if replay:
        return _outcome(uow_factory, refund, replayed=True)
    return _ask_wallet(uow_factory, provider, refund)


def resume_refund(*, uow_factory: UowFactory, provider: PaymentProvider, out_request_no: str) -> RefundOutcome:
    """Ask the wallet again about a request still ``requested``, with its original number and amount."""
    with uow_factory() as uow:
        refund = uow.refunds.by_request_no(out_request_no)
    if refund is None:
        raise NotFound(f"refund {out_request_no} not found", field="out_request_no")
    if refund.state is not RefundState.REQUESTED:
        return _outcome(uow_factory, refund, replayed=True)
    return _ask_wallet(uow_factory, provider, refund)


def auto_refund(*, uow_factory: UowFactory, provider: PaymentProvider, payment_id: str) -> RefundOutcome | None:
    """Give back everything left on a payment whose order will not be fulfilled; None when nothing is due."""
    number = AUTO_PREFIX + payment_id
    with uow_factory() as uow:
        existing = uow.refunds.by_request_no(number)
        if existing is None:
            payment = uow.refunds.lock_payment(payment_id)
            if payment is None or payment.state is not PaymentState.PAID:
                return None
            order = uow.orders.get(payment.order_id)
            assert order is not None  # payments reference orders (foreign key)
            reason = _auto_reason(order, payment)
            due = payment.amount_fen - uow.refunds.reserved_fen(payment_id)
            if reason is None or due <= 0:
                return None
            existing, _ = _open_request(uow, payment_id, due, number, reason)
            uow.commit()
    if existing.state is not RefundState.REQUESTED:
        return _outcome(uow_factory, existing, replayed=True)
    return _ask_wallet(uow_factory, provider, existing)


def refund_unfulfilled_order(
    *, uow_factory: UowFactory, provider: PaymentProvider, order_id: str
) -> RefundOutcome | None:
    """The automatic refund for an order that closed unfulfilled (cancelled, rejected, failed delivery)."""
    with uow_factory() as uow:
        payment: Payment | None = uow.payments.for_order(order_id)
    if payment is None:
        return None
    return auto_refund(uow_factory=uow_factory, provider=provider, payment_id=payment.id)


CLOSING_TOPICS = ("ordering.order_cancelled", "ordering.order_rejected", "ordering.order_delivery_failed")


def on_order_closed(
    message: dict[str, Any], *, uow_factory: UowFactory, provider: Callable[[], PaymentProvider]
) -> None:
    """Bus handler: an order closed with money due back is refunded automatically (idempotent).

    A wallet that cannot be reached leaves the request ``requested``; the reconciler retries it.
    """
    payload = message.get("payload") or {}
    if int(payload.get("refund_due_fen") or 0) <= 0:
        return
    order_id = str(payload.get("order_id") or "")
    try:
        outcome = refund_unfulfilled_order(uow_factory=uow_factory, provider=provider(), order_id=order_id)
    except ProviderUnavailable:
        log.warning("auto_refund_deferred", order_id=order_id)
        return
    if outcome is not None:
        log.info(
            "auto_refund", order_id=order_id, state=outcome.refund.state.value, amount_fen=outcome.refund.amount_fen
        )


def subscribe_auto_refunds(bus: Any, *, uow_factory: UowFactory, provider: Callable[[], PaymentProvider]) -> None:
    """Refund orders that close unfulfilled as soon as their event is published."""
    for topic in CLOSING_TOPICS:
        bus.subscribe(topic, lambda m: on_order_closed(m, uow_factory=uow_factory, provider=provider))


def refunds_of(uow: RefundsUnitOfWork, payment_id: str) -> Sequence[Refund]:
    return uow.refunds.for_payment(payment_id)


# -- steps --------------------------------------------------------------------------------------


def _check_request(amount_fen: object, out_request_no: str, reason: str) -> None:
    problems: list[tuple[str, str]] = []
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 1:
        problems.append(("amount_fen", "must be a whole number of fen, at least 1"))
    try:
        check_reference("out_request_no", out_request_no)
    except ValueError as exc:
        problems.append(("out_request_no", str(exc)))
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        problems.append(("reason", f"a refund states its reason, at most {MAX_REASON} characters"))
    if problems:
        raise ValidationFailed("; ".join(f"{f}: {m}" for f, m in problems), errors=problems)


def _open_request(
    uow: RefundsUnitOfWork, payment_id: str, amount_fen: int, out_request_no: str, reason: str
) -> tuple[Refund, bool]:
    """The request row for this number: the known one (True) or a new one, checked and written (False)."""
    known = uow.refunds.by_request_no(out_request_no)
    if known is not None:
        return _same_request(known, payment_id, amount_fen), known.state is not RefundState.REQUESTED
    payment = uow.refunds.lock_payment(payment_id)  # serialises the refunds of one payment
    if payment is None:
        raise NotFound(f"payment {payment_id} not found", field="payment_id")
    # Whoever wrote this number held the lock until commit, so it is visible now. Looking again
    # answers a replay with its first result, and keeps the insert below from waiting on a row that
    # a completing refund holds while it waits for this payment's lock (a deadlock on PostgreSQL).
    known = uow.refunds.by_request_no(out_request_no)
    if known is not None:
        return _same_request(known, payment_id, amount_fen), known.state is not RefundState.REQUESTED
    if payment.state is not PaymentState.PAID:
        raise PaymentNotRefundable(f"payment {payment_id} is {payment.state.value}; only a paid one is refunded")
    left = payment.amount_fen - uow.refunds.reserved_fen(payment_id)
    if amount_fen > left:
        raise RefundExceedsCapture(
            f"a refund of {amount_fen} fen exceeds the {left} fen left of payment {payment_id} "
            "(refunds requested or made are counted)",
            field="amount_fen",
        )
    order = uow.orders.get(payment.order_id)
    assert order is not None
    now = uow.clock.now()
    if _order_records_it(order, payment):
        # The order must be able to take this refund (a full one needs it closed first): ask a copy.
        copy.deepcopy(order).record_refund(out_request_no, amount_fen, _not_before(order, now))
    refund = Refund(
        id=new_id(), payment_id=payment_id, out_request_no=out_request_no, amount_fen=amount_fen,
        reason=reason.strip(), state=RefundState.REQUESTED, created_at=now,
    )  # fmt: skip
    if not uow.refunds.add(refund):  # the same number, written a moment ago by a concurrent request
        raced = uow.refunds.by_request_no(out_request_no)
        assert raced is not None
        return _same_request(raced, payment_id, amount_fen), raced.state is not RefundState.REQUESTED
    return refund, False


def _same_request(known: Refund, payment_id: str, amount_fen: int) -> Refund:
    if known.payment_id != payment_id or known.amount_fen != amount_fen:
        raise RefundRequestReused(
            f"refund {known.out_request_no} was requested for {known.amount_fen} fen of payment {known.payment_id}; "
            "a new refund needs a new out_request_no",
            field="out_request_no",
        )
    return known


def _ask_wallet(uow_factory: UowFactory, provider: PaymentProvider, refund: Refund) -> RefundOutcome:
    try:
        result = provider.refund(
            out_trade_no=refund.payment_id, out_request_no=refund.out_request_no, amount_fen=refund.amount_fen,
            reason=refund.reason,
        )  # fmt: skip
    except ProviderUnavailable as exc:
        log.warning("refund_pending", out_request_no=refund.out_request_no, error=str(exc))
        return _outcome(uow_factory, refund, replayed=False)
    except ProviderRefused as exc:
        with uow_factory() as uow:
            uow.refunds.finish(refund.id, RefundState.FAILED, uow.clock.now(), failure_code=exc.code[:64])
            uow.commit()
        raise RefundRefused(f"the wallet refused refund {refund.out_request_no}: {exc}", wallet_code=exc.code) from exc
    if result.refund_fen != refund.amount_fen:
        # The wallet holds another amount under this number: leave it requested and let reconciliation report it.
        log.error("refund_amount_mismatch", out_request_no=refund.out_request_no, wallet_fen=result.refund_fen)
        return _outcome(uow_factory, refund, replayed=False)
    for attempt in range(1, COMPLETE_ATTEMPTS + 1):
        try:
            with uow_factory() as uow:
                completed = complete_refund(uow, refund)
                uow.commit()
            break
        except Conflict as conflict:
            # The order changed under us (a pharmacy step, say): the wallet has paid, so read it again and
            # book it; after the last attempt the request stays requested for the reconciler.
            if attempt == COMPLETE_ATTEMPTS or isinstance(conflict, RefundExceedsCapture):
                raise
    return _outcome(uow_factory, completed, replayed=False)


def complete_refund(uow: RefundsUnitOfWork, refund: Refund) -> Refund:
    """Book a refund the wallet has paid back: once, whoever gets here first (the others change nothing)."""
    now = uow.clock.now()
    if not uow.refunds.finish(refund.id, RefundState.SUCCEEDED, now):
        done = uow.refunds.by_request_no(refund.out_request_no)
        assert done is not None
        return done
    if not uow.refunds.add_refunded(refund.payment_id, refund.amount_fen, now):
        raise RefundExceedsCapture(f"refund {refund.out_request_no} would pass what payment {refund.payment_id} paid")
    capture = uow.ledger.by_reference(TxnKind.CAPTURE, refund.payment_id)
    if capture is None:
        raise Conflict(f"payment {refund.payment_id} is paid but its capture is not in the ledger")
    book_refund(uow, capture, refund_no=refund.out_request_no, amount_fen=refund.amount_fen, at=now)
    payment: Payment | None = uow.payments.get(refund.payment_id)
    assert payment is not None
    order = uow.orders.get(payment.order_id)
    assert order is not None
    if _order_records_it(order, payment):
        before = order.version
        order.record_refund(refund.out_request_no, refund.amount_fen, _not_before(order, now))
        uow.orders.save(order, before, now)
        events, order.events = order.events, []
        for event in events:
            uow.emit(event)
    return Refund(
        id=refund.id, payment_id=refund.payment_id, out_request_no=refund.out_request_no,
        amount_fen=refund.amount_fen, reason=refund.reason, state=RefundState.SUCCEEDED,
        created_at=refund.created_at, completed_at=now,
    )  # fmt: skip


def _outcome(uow_factory: UowFactory, refund: Refund, *, replayed: bool) -> RefundOutcome:
    with uow_factory() as uow:
        payment: Payment | None = uow.payments.get(refund.payment_id)
        current = uow.refunds.by_request_no(refund.out_request_no) or refund
    assert payment is not None
    return RefundOutcome(current, payment.order_id, payment.refunded_fen, replayed)


def _order_records_it(order: Order, payment: Payment) -> bool:
    """Whether the order counts this payment as its own (a payment that came after the order lapsed does not)."""
    return order.payment_ref == payment.id and order.paid_fen > 0


def _auto_reason(order: Order, payment: Payment) -> str | None:
    if not _order_records_it(order, payment):
        if order.status is OrderStatus.AWAITING_PAYMENT:
            return None  # being applied right now; not late
        return f"paid after the order was {order.status.value}"
    if order.status in UNFULFILLED:
        return f"order {order.status.value}"
    return None


def _not_before(order: Order, now: datetime) -> datetime:
    """``now``, or the order's last change if a clock behind it would make the order refuse the time."""
    times: list[datetime] = [now, *order.entered_at.values()]
    if order.review is not None:
        times.append(order.review.at)
    return max(times)
