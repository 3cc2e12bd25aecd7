"""A deliberately simple model of the payment books, for the state-machine test.

It never builds a transaction: it keeps running balances in a dict keyed by the accounts' string
forms ("pot:u1") and a few plain records per payment, pot and claim. The amounts follow the rules
as the books document them (DOMAIN INS2, ``yaodao.payments.books``), computed with ``Fraction``
and written out step by step, so an arithmetic or bookkeeping slip on either side shows up as a
disagreement. Refusals raise ``Refused`` with the error code the books must raise.

Only the rules' parameters are read from the implementation's rule objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

from yaodao.payments.books import SplitRule
from yaodao.payments.pot import AccrualRule, PaymentKind


class Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Payment:
    user: str
    captured: int
    payees: list[tuple[str, int]]  # (account, what it still holds from this payment; credits negative)
    refunded: int = 0
    accrued: int = 0  # the cover this payment added to its payer's pot (0: none yet)


@dataclass
class Pot:
    balance: int = 0
    paid_out: int = 0
    term_start: datetime | None = None


@dataclass
class Claim:
    user: str
    claimed: int
    status: str = "submitted"
    approved: int = 0
    payouts: int = 0


@dataclass
class ReferenceBooks:
    split: SplitRule
    rule: AccrualRule
    balances: dict[str, int] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    refund_nos: set[str] = field(default_factory=set)
    pots: dict[str, Pot] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)

    def nonzero_balances(self) -> dict[str, int]:
        return {account: amount for account, amount in self.balances.items() if amount != 0}

    def remaining(self, payment_id: str) -> int:
        payment = self.payments.get(payment_id)
        return 0 if payment is None else payment.captured - payment.refunded

    def pot(self, user: str) -> Pot:
        return self.pots.setdefault(user, Pot())

    def capture(self, payment_id: str, user: str, pharmacy: str, items: int, delivery: int, discount: int) -> None:
        if payment_id in self.cancelled:
            raise Refused("payment_cancelled")
        if payment_id in self.payments:
            raise Refused("already_captured")
        commission = math.floor(Fraction(items * self.split.commission_bps, 10_000))
        delivery_share = math.floor(Fraction(delivery * self.split.delivery_share_bps, 10_000))
        paid = items + delivery - discount
        payees = [
            (f"pharmacy_payable:{pharmacy}", -(items - commission)),
            ("courier_payable", -(delivery - delivery_share)),
            ("platform_revenue", -(commission + delivery_share) + discount),
        ]
        payees = [(account, amount) for account, amount in payees if amount != 0]
        self.payments[payment_id] = Payment(user=user, captured=paid, payees=payees)
        self._add("wallet_clearing", paid)
        for account, amount in payees:
            self._add(account, amount)

    def cancel(self, payment_id: str) -> None:
        if payment_id in self.payments:
            raise Refused("already_captured")
        self.cancelled.add(payment_id)

    def refund(self, payment_id: str, refund_no: str, amount: int) -> int:
        """Refund ``amount``; returns the cover clawed back from the payer's pot."""
        payment = self.payments.get(payment_id)
        if payment is None:
            raise Refused("not_found")
        if refund_no in self.refund_nos:
            raise Refused("duplicate_refund")
        if amount < 1:
            raise Refused("validation_failed")
        left = payment.captured - payment.refunded
        if amount > left:
            raise Refused("refund_exceeds_capture")
        # Largest remainder over what each payee still holds, ties to the earlier payee.
        quotas = [Fraction(held * amount, left) for _, held in payment.payees]
        parts = [math.floor(q) for q in quotas]
        short = -amount - sum(parts)
        by_remainder = sorted(range(len(quotas)), key=lambda i: (parts[i] - quotas[i], i))
        for i in by_remainder[:short]:
            parts[i] += 1
        new_payees = []
        for (account, held), part in zip(payment.payees, parts, strict=True):
            self._add(account, -part)
            new_payees.append((account, held - part))
        payment.payees = new_payees
        self._add("wallet_clearing", -amount)
        self.refund_nos.add(refund_no)

        clawed = 0
        if payment.accrued:
            owed_after = math.floor(Fraction(payment.accrued * (payment.refunded + amount), payment.captured))
            owed_before = math.floor(Fraction(payment.accrued * payment.refunded, payment.captured))
            pot = self.pot(payment.user)
            clawed = min(owed_after - owed_before, pot.balance)
            pot.balance -= clawed
            self._add(f"pot:{payment.user}", -clawed)
            self._add("insurance_pool", clawed)
        payment.refunded += amount
        return clawed

    def accrue(self, payment_id: str, age_years: int, kind: PaymentKind, at: datetime) -> int:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise Refused("not_found")
        if payment.accrued:
            raise Refused("already_accrued")
        if payment.refunded:
            raise Refused("refunded_before_accrual")
        rule = self.rule
        pot = self.pot(payment.user)
        if age_years >= rule.max_age_years or kind not in rule.eligible_kinds:
            return 0
        if pot.term_start is not None and at >= pot.term_start + timedelta(days=rule.term_days):
            return 0
        if rule.fixed_fen is not None:
            amount = rule.fixed_fen
        else:
            amount = math.floor(Fraction(payment.captured * (rule.rate_bps or 0), 10_000))
        if rule.per_payment_cap_fen is not None and amount > rule.per_payment_cap_fen:
            amount = rule.per_payment_cap_fen
        room = rule.term_cap_fen - (pot.balance + pot.paid_out)
        amount = max(0, min(amount, room))
        if amount == 0:
            return 0
        if pot.term_start is None or at < pot.term_start:
            pot.term_start = at
        pot.balance += amount
        payment.accrued = amount
        self._add(f"pot:{payment.user}", amount)
        self._add("insurance_pool", -amount)
        return amount

    def submit_claim(self, claim_id: str, user: str, claimed: int) -> None:
        if claim_id in self.claims:
            raise Refused("duplicate_claim")
        if claimed < 1:
            raise Refused("validation_failed")
        self.claims[claim_id] = Claim(user=user, claimed=claimed)

    def approve_claim(self, claim_id: str, approved: int | None) -> None:
        claim = self._claim(claim_id)
        if claim.status != "submitted":
            raise Refused("claim_already_decided")
        amount = claim.claimed if approved is None else approved
        if not 1 <= amount <= claim.claimed:
            raise Refused("validation_failed")
        claim.status, claim.approved = "approved", amount

    def reject_claim(self, claim_id: str) -> None:
        claim = self._claim(claim_id)
        if claim.status != "submitted":
            raise Refused("claim_already_decided")
        claim.status = "rejected"

    def pay_claim(self, claim_id: str) -> int:
        claim = self._claim(claim_id)
        if claim.status == "paid":
            raise Refused("claim_already_paid")
        if claim.status != "approved":
            raise Refused("claim_not_payable")
        pot = self.pot(claim.user)
        if claim.approved > pot.balance:
            raise Refused("pot_insufficient")
        pot.balance -= claim.approved
        pot.paid_out += claim.approved
        claim.status = "paid"
        claim.payouts += 1
        self._add(f"pot:{claim.user}", -claim.approved)
        self._add(f"claims:{claim.user}", claim.approved)
        return claim.approved

    def _claim(self, claim_id: str) -> Claim:
        claim = self.claims.get(claim_id)
        if claim is None:
            raise Refused("not_found")
        return claim

    def _add(self, account: str, amount: int) -> None:
        self.balances[account] = self.balances.get(account, 0) + amount
