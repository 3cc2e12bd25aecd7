"""Business facts turned into ledger transactions: captures, refunds, accruals, clawbacks, payouts.

Pure functions: each takes the ids, amounts, time and prior ledger state it needs and returns
the transaction(s) to append; the caller persists them in one unit of work. ``followers`` is
always the list of transactions whose ``parent_id`` is the capture's id (its refunds and its
accrual), which a SQL store reads with one indexed query.

A capture is two linked transfers through the customer's account, so the customer's postings
read as their statement and their balance returns to zero (yaodao holds no stored value):

=====================  =====================================  =====================================
account                capture (debit +, credit -)            refund of ``r``
=====================  =====================================  =====================================
wallet_clearing        + paid                                 - r
customer:<user>        - paid, - discount, + gross            - r, + r
platform_revenue       + discount, - (commission + share)     proportional reversal of its net share
pharmacy_payable:<id>  - (items - commission)                 proportional reversal
courier_payable        - (delivery - share)                   proportional reversal
=====================  =====================================  =====================================

``Books`` is the port the payment services write through; the state-machine test drives any
implementation of it against a reference model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from yaodao.kernel.errors import Conflict, ValidationFailed
from yaodao.payments.ledger import (
    COURIER_PAYABLE,
    INSURANCE_POOL,
    MAX_POSTING_FEN,
    PLATFORM_REVENUE,
    WALLET_CLEARING,
    Account,
    AccountKind,
    LedgerTransaction,
    Posting,
    TxnKind,
    apportion,
    claims,
    customer,
    pharmacy_payable,
    pot,
)
from yaodao.payments.pot import (
    BPS,
    AccrualRule,
    Claim,
    ClaimKind,
    PaymentKind,
    PotState,
    accrual_for,
    clawback_for,
)

# The payees of a capture, in the order refund rounding ties are settled.
_PAYEES = (AccountKind.PHARMACY_PAYABLE, AccountKind.COURIER_PAYABLE, AccountKind.PLATFORM_REVENUE)


class RefundExceedsCapture(Conflict):
    code = "refund_exceeds_capture"


class DuplicateRefund(Conflict):
    code = "duplicate_refund"


class AlreadyAccrued(Conflict):
    code = "already_accrued"


class RefundedBeforeAccrual(Conflict):
    code = "refunded_before_accrual"


class PaymentAlreadyCaptured(Conflict):
    code = "already_captured"


class PaymentCancelled(Conflict):
    code = "payment_cancelled"


class DuplicateClaim(Conflict):
    code = "duplicate_claim"


@dataclass(frozen=True, slots=True)
class SplitRule:
    """How a captured order payment is split between the pharmacy, the couriers and the platform.

    Both shares round down, so an odd fen stays with the pharmacy or the courier.
    """

    version: str = "default"
    commission_bps: int = 500  # platform commission on the items
    delivery_share_bps: int = 2_000  # the platform's share of the delivery fee

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not self.version.strip():
            raise ValueError("version: must name the policy version")
        for name in ("commission_bps", "delivery_share_bps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= BPS:
                raise ValueError(f"{name}: must be an integer between 0 and {BPS} basis points, got {value!r}")


@dataclass(frozen=True, slots=True)
class OrderAmounts:
    """An order's money: items, the delivery fee and a platform-funded discount, in fen."""

    items_fen: int
    delivery_fen: int = 0
    discount_fen: int = 0

    def __post_init__(self) -> None:
        for name, low in (("items_fen", 1), ("delivery_fen", 0), ("discount_fen", 0)):
            _require_fen(name, getattr(self, name), low)
        if self.paid_fen < 1:
            raise ValidationFailed("discount_fen: the discount must leave something to pay", field="discount_fen")

    @property
    def gross_fen(self) -> int:
        return self.items_fen + self.delivery_fen

    @property
    def paid_fen(self) -> int:
        return self.gross_fen - self.discount_fen


@dataclass(frozen=True, slots=True)
class OrderSplit:
    pharmacy_fen: int
    courier_fen: int
    platform_fen: int  # commission + delivery share - discount; negative when the discount costs more

    @property
    def total_fen(self) -> int:
        return self.pharmacy_fen + self.courier_fen + self.platform_fen


def split_order(rule: SplitRule, amounts: OrderAmounts) -> OrderSplit:
    commission = amounts.items_fen * rule.commission_bps // BPS
    share = amounts.delivery_fen * rule.delivery_share_bps // BPS
    return OrderSplit(
        pharmacy_fen=amounts.items_fen - commission,
        courier_fen=amounts.delivery_fen - share,
        platform_fen=commission + share - amounts.discount_fen,
    )


def capture_order(
    rule: SplitRule,
    *,
    txn_id: str,
    payment_id: str,
    user_id: str,
    pharmacy_id: str,
    amounts: OrderAmounts,
    at: datetime,
) -> LedgerTransaction:
    """The capture of a wallet payment for one order, split to its payees (see the module table)."""
    split = split_order(rule, amounts)
    commission_and_share = split.platform_fen + amounts.discount_fen
    payer = customer(user_id)
    lines = [
        (WALLET_CLEARING, amounts.paid_fen),
        (payer, -amounts.paid_fen),
        (PLATFORM_REVENUE, amounts.discount_fen),
        (payer, -amounts.discount_fen),
        (payer, amounts.gross_fen),
        (pharmacy_payable(pharmacy_id), -split.pharmacy_fen),
        (COURIER_PAYABLE, -split.courier_fen),
        (PLATFORM_REVENUE, -commission_and_share),
    ]
    return LedgerTransaction(
        id=txn_id,
        kind=TxnKind.CAPTURE,
        reference=payment_id,
        postings=tuple(Posting(account, amount) for account, amount in lines if amount),
        occurred_at=at,
        memo=f"split rule {rule.version}",
    )


def captured_fen(capture: LedgerTransaction) -> int:
    return capture.amount_on(WALLET_CLEARING)


def refunded_fen(followers: Iterable[LedgerTransaction]) -> int:
    return -sum(t.amount_on(WALLET_CLEARING) for t in followers if t.kind is TxnKind.REFUND)


def payee_shares(capture: LedgerTransaction, followers: Iterable[LedgerTransaction] = ()) -> dict[Account, int]:
    """Each payee's share of the payment still unrefunded (credits negative): pharmacy, courier, platform."""
    shares: dict[Account, int] = {}
    for txn in (capture, *(t for t in followers if t.kind is TxnKind.REFUND)):
        for posting in txn.postings:
            if posting.account.kind in _PAYEES:
                shares[posting.account] = shares.get(posting.account, 0) + posting.amount_fen
    return {
        account: shares[account] for account in sorted(shares, key=lambda a: _PAYEES.index(a.kind)) if shares[account]
    }


def refund_payment(
    capture: LedgerTransaction,
    followers: Sequence[LedgerTransaction],
    *,
    txn_id: str,
    refund_no: str,
    amount_fen: int,
    at: datetime,
) -> LedgerTransaction:
    """A full or partial refund of ``capture``, reversing each payee's share proportionally.

    The refund is spread over what each payee still holds from this payment, by largest
    remainder (ties in the order pharmacy, courier, platform), so every share stays between zero and what is
    left, and the refunds that add up to the payment reverse every share exactly. Raises
    ``DuplicateRefund`` for a refund number used before on this payment (checked first: it is the
    refund's idempotency key), ``ValidationFailed`` for an amount below one fen, and
    ``RefundExceedsCapture`` beyond what is left.
    """
    _require_followers(capture, followers)
    if any(t.kind is TxnKind.REFUND and t.reference == refund_no for t in followers):
        raise DuplicateRefund(f"refund {refund_no} was already made on payment {capture.reference}")
    _require_fen("amount_fen", amount_fen, 1)
    remaining = captured_fen(capture) - refunded_fen(followers)
    if amount_fen > remaining:
        raise RefundExceedsCapture(
            f"refund of {amount_fen} fen exceeds the {remaining} fen left of payment {capture.reference}",
            field="amount_fen",
        )
    shares = payee_shares(capture, followers)
    reversed_shares = apportion(list(shares.values()), amount_fen, remaining)
    payer = customer(_payer(capture))
    lines = [(account, -part) for account, part in zip(shares, reversed_shares, strict=True)]
    lines += [(payer, -amount_fen), (payer, amount_fen), (WALLET_CLEARING, -amount_fen)]
    return LedgerTransaction(
        id=txn_id,
        kind=TxnKind.REFUND,
        reference=refund_no,
        postings=tuple(Posting(account, amount) for account, amount in lines if amount),
        occurred_at=at,
        memo=f"refund of payment {capture.reference}",
        parent_id=capture.id,
    )


def accrue_for_capture(
    rule: AccrualRule,
    capture: LedgerTransaction,
    followers: Sequence[LedgerTransaction],
    *,
    txn_id: str,
    age_years: int,
    payment_kind: PaymentKind,
    pot_state: PotState,
    at: datetime,
) -> LedgerTransaction | None:
    """The accrual a captured payment earns its payer, or None when the rule grants nothing.

    A payment accrues once (``AlreadyAccrued``), in the capture's unit of work: once any of it
    has been refunded it no longer accrues (``RefundedBeforeAccrual``).
    """
    _require_followers(capture, followers)
    if any(t.kind is TxnKind.ACCRUAL for t in followers):
        raise AlreadyAccrued(f"payment {capture.reference} has already accrued")
    if refunded_fen(followers):
        raise RefundedBeforeAccrual(f"payment {capture.reference} was refunded before it accrued")
    amount = accrual_for(
        rule,
        captured_fen=captured_fen(capture),
        age_years=age_years,
        payment_kind=payment_kind,
        pot_state=pot_state,
        at=at,
    )
    if amount == 0:
        return None
    return LedgerTransaction(
        id=txn_id,
        kind=TxnKind.ACCRUAL,
        reference=capture.reference,
        postings=(Posting(pot(_payer(capture)), amount), Posting(INSURANCE_POOL, -amount)),
        occurred_at=at,
        memo=f"accrual rule {rule.version}",
        parent_id=capture.id,
    )


def clawback_on_refund(
    capture: LedgerTransaction,
    followers: Sequence[LedgerTransaction],
    refund: LedgerTransaction,
    *,
    txn_id: str,
    pot_balance_fen: int,
    at: datetime,
) -> LedgerTransaction | None:
    """The accrual reversal ``refund`` causes, or None (no accrual, or nothing to take back).

    ``followers`` are the capture's transactions before this refund, as ``refund_payment`` saw them.
    """
    _require_followers(capture, followers)
    if refund.kind is not TxnKind.REFUND or refund.parent_id != capture.id:
        raise ValueError("refund: must be a refund of this capture")
    accrual = next((t for t in followers if t.kind is TxnKind.ACCRUAL), None)
    if accrual is None:
        return None
    user_pot = pot(_payer(capture))
    amount = clawback_for(
        payment_accrual_fen=accrual.amount_on(user_pot),
        captured_fen=captured_fen(capture),
        refunded_before_fen=refunded_fen(followers),
        refund_fen=-refund.amount_on(WALLET_CLEARING),
        pot_balance_fen=pot_balance_fen,
    )
    if amount == 0:
        return None
    return LedgerTransaction(
        id=txn_id,
        kind=TxnKind.ACCRUAL_REVERSAL,
        reference=refund.reference,
        postings=(Posting(user_pot, -amount), Posting(INSURANCE_POOL, amount)),
        occurred_at=at,
        memo=f"clawback for refund of payment {capture.reference}",
        parent_id=accrual.id,
    )


def claim_payout(claim: Claim, *, txn_id: str, pot_balance_fen: int, at: datetime) -> tuple[Claim, LedgerTransaction]:
    """Pay an approved claim out of its own claimant's pot: the paid claim and its transaction.

    The accounts come from ``claim.user_id`` alone, so the payout cannot touch another pot.
    """
    paid = claim.pay(pot_balance_fen, at)
    amount = paid.approved_fen or 0
    txn = LedgerTransaction(
        id=txn_id,
        kind=TxnKind.CLAIM_PAYOUT,
        reference=claim.id,
        postings=(Posting(pot(claim.user_id), -amount), Posting(claims(claim.user_id), amount)),
        occurred_at=at,
        memo=f"{claim.kind} claim",
    )
    return paid, txn


def _payer(capture: LedgerTransaction) -> str:
    user_id = capture.user_id
    if capture.kind is not TxnKind.CAPTURE or user_id is None:
        raise ValueError("capture: must be a capture with a paying customer")
    return user_id


def _require_followers(capture: LedgerTransaction, followers: Iterable[LedgerTransaction]) -> None:
    _payer(capture)
    for txn in followers:
        if txn.parent_id != capture.id:
            raise ValueError(f"followers: {txn.kind} {txn.id} does not follow capture {capture.id}")


def _require_fen(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{name}: must be an integer number of fen", field=name)
    if not low <= value <= MAX_POSTING_FEN:
        raise ValidationFailed(f"{name}: must be between {low} and {MAX_POSTING_FEN} fen", field=name)


class Books(Protocol):
    """The payment books as the order, payment and claim services write them.

    One implementation per store (in memory for tests, SQL for the platform); each call is one
    unit of work that appends transactions or changes nothing. Split and accrual rules are the
    implementation's configuration. Failures, by ``code``:

    * ``capture``: ``already_captured`` (payment id seen before), ``payment_cancelled``.
    * ``cancel``: a payment that was never captured is cancelled and writes nothing;
      ``already_captured`` once it was. Cancelling twice is a no-op.
    * ``refund`` (the refund, then its clawback if the payment accrued): ``not_found`` (no
      capture), ``validation_failed`` (amount < 1), ``duplicate_refund`` (refund number used
      anywhere before), ``refund_exceeds_capture``.
    * ``accrue``: ``not_found``, ``already_accrued``, ``refunded_before_accrual``; returns None
      when the rule grants nothing.
    * ``submit_claim``: ``duplicate_claim`` for a claim id seen before, ``validation_failed``. ``approve_claim`` /
      ``reject_claim``: ``not_found``, ``claim_already_decided``, ``validation_failed``.
    * ``pay_claim``: ``not_found``, ``claim_not_payable``, ``claim_already_paid``, ``pot_insufficient``.
    """

    def capture(
        self, *, payment_id: str, user_id: str, pharmacy_id: str, amounts: OrderAmounts, at: datetime
    ) -> LedgerTransaction: ...

    def cancel(self, *, payment_id: str, at: datetime) -> None: ...

    def refund(
        self, *, payment_id: str, refund_no: str, amount_fen: int, at: datetime
    ) -> tuple[LedgerTransaction, ...]: ...

    def accrue(
        self, *, payment_id: str, age_years: int, payment_kind: PaymentKind, at: datetime
    ) -> LedgerTransaction | None: ...

    def submit_claim(
        self, *, claim_id: str, user_id: str, kind: ClaimKind, claimed_fen: int, evidence_ref: str, at: datetime
    ) -> Claim: ...

    def approve_claim(self, *, claim_id: str, approved_fen: int | None, at: datetime) -> Claim: ...

    def reject_claim(self, *, claim_id: str, reason: str, at: datetime) -> Claim: ...

    def pay_claim(self, *, claim_id: str, at: datetime) -> LedgerTransaction: ...

    def transactions(self) -> Sequence[LedgerTransaction]:
        """Every transaction appended so far, in order."""
        ...
