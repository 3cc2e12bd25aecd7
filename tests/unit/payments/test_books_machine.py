"""The payment books against a reference model, step by random step (RELIABILITY I8, I9, I10).

``BooksMachine`` drives any ``Books`` implementation through captures, cancellations, full and
partial refunds, replayed refund numbers, accruals, claims (submit, approve, reject, pay) and the
passing of time, and after every step checks the ledger's invariants and that its balances equal
the reference model's. To run it against another store, subclass it, override ``make_books``
and collect the subclass's ``TestCase``:

    class SqlBooksMachine(BooksMachine):
        def make_books(self, split, rule): return SqlBooks(engine, split, rule)

    class TestSqlBooksAgreeWithTheReferenceModel(SqlBooksMachine.TestCase):
        settings = PROFILES[PROFILE]

Profiles: the unit suite runs a modest number of examples. ``YAODAO_HYPOTHESIS_PROFILE=thorough``
runs 2,000 examples of 50 steps each (about 80 s on 2 cores); failures print a reproduction blob.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

from unit.payments.reference import ReferenceBooks, Refused
from yaodao.kernel.errors import DomainError, NotFound
from yaodao.payments.books import (
    Books,
    DuplicateClaim,
    DuplicateRefund,
    OrderAmounts,
    PaymentAlreadyCaptured,
    PaymentCancelled,
    SplitRule,
    accrue_for_capture,
    capture_order,
    claim_payout,
    clawback_on_refund,
    refund_payment,
)
from yaodao.payments.ledger import (
    WALLET_CLEARING,
    AccountKind,
    Book,
    LedgerTransaction,
    TxnKind,
    balance_of,
    balances,
    pot,
)
from yaodao.payments.pot import AccrualRule, Claim, ClaimKind, ClaimStatus, PaymentKind, pot_state_of

T = TypeVar("T")

PROFILES = {
    "default": settings(
        max_examples=200, stateful_step_count=40, deadline=None, print_blob=True, suppress_health_check=[]
    ),
    "thorough": settings(
        max_examples=2_000,
        stateful_step_count=50,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    ),
}
PROFILE = os.environ.get("YAODAO_HYPOTHESIS_PROFILE", "default")

USERS = ("u-li", "u-wang", "u-zhao")
PHARMACIES = ("ph-xihu", "ph-binjiang")
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class MemoryBooks:
    """``Books`` over a list: the pure functions of ``yaodao.payments.books``, nothing else."""

    def __init__(self, split: SplitRule, rule: AccrualRule) -> None:
        self._split, self._rule = split, rule
        self._txns: list[LedgerTransaction] = []
        self._captures: dict[str, LedgerTransaction] = {}
        self._followers: dict[str, list[LedgerTransaction]] = defaultdict(list)
        self._cancelled: set[str] = set()
        self._refund_nos: set[str] = set()
        self._claims: dict[str, Claim] = {}
        self._serial = 0

    def capture(
        self, *, payment_id: str, user_id: str, pharmacy_id: str, amounts: OrderAmounts, at: datetime
    ) -> LedgerTransaction:
        if payment_id in self._cancelled:
            raise PaymentCancelled(f"payment {payment_id} was cancelled")
        if payment_id in self._captures:
            raise PaymentAlreadyCaptured(f"payment {payment_id} was already captured")
        txn = capture_order(
            self._split,
            txn_id=self._id(),
            payment_id=payment_id,
            user_id=user_id,
            pharmacy_id=pharmacy_id,
            amounts=amounts,
            at=at,
        )
        self._captures[payment_id] = txn
        self._txns.append(txn)
        return txn

    def cancel(self, *, payment_id: str, at: datetime) -> None:
        if payment_id in self._captures:
            raise PaymentAlreadyCaptured(f"payment {payment_id} was already captured")
        self._cancelled.add(payment_id)

    def refund(
        self, *, payment_id: str, refund_no: str, amount_fen: int, at: datetime
    ) -> tuple[LedgerTransaction, ...]:
        capture = self._capture(payment_id)
        if refund_no in self._refund_nos:
            raise DuplicateRefund(f"refund {refund_no} was already made")
        followers = tuple(self._followers[capture.id])
        refund = refund_payment(
            capture, followers, txn_id=self._id(), refund_no=refund_no, amount_fen=amount_fen, at=at
        )
        pot_balance = balance_of(pot(capture.user_id or ""), self._txns)
        clawback = clawback_on_refund(capture, followers, refund, txn_id=self._id(), pot_balance_fen=pot_balance, at=at)
        written = (refund,) if clawback is None else (refund, clawback)
        self._refund_nos.add(refund_no)
        self._followers[capture.id].append(refund)
        self._txns.extend(written)
        return written

    def accrue(
        self, *, payment_id: str, age_years: int, payment_kind: PaymentKind, at: datetime
    ) -> LedgerTransaction | None:
        capture = self._capture(payment_id)
        txn = accrue_for_capture(
            self._rule,
            capture,
            tuple(self._followers[capture.id]),
            txn_id=self._id(),
            age_years=age_years,
            payment_kind=payment_kind,
            pot_state=pot_state_of(capture.user_id or "", self._txns),
            at=at,
        )
        if txn is not None:
            self._followers[capture.id].append(txn)
            self._txns.append(txn)
        return txn

    def submit_claim(
        self, *, claim_id: str, user_id: str, kind: ClaimKind, claimed_fen: int, evidence_ref: str, at: datetime
    ) -> Claim:
        if claim_id in self._claims:
            raise DuplicateClaim(f"claim {claim_id} exists")
        claim = Claim(
            id=claim_id, user_id=user_id, kind=kind, claimed_fen=claimed_fen, evidence_ref=evidence_ref, submitted_at=at
        )
        self._claims[claim_id] = claim
        return claim

    def approve_claim(self, *, claim_id: str, approved_fen: int | None, at: datetime) -> Claim:
        claim = self._claim(claim_id).approve(at, approved_fen)
        self._claims[claim_id] = claim
        return claim

    def reject_claim(self, *, claim_id: str, reason: str, at: datetime) -> Claim:
        claim = self._claim(claim_id).reject(reason, at)
        self._claims[claim_id] = claim
        return claim

    def pay_claim(self, *, claim_id: str, at: datetime) -> LedgerTransaction:
        claim = self._claim(claim_id)
        pot_balance = balance_of(pot(claim.user_id), self._txns)
        paid, txn = claim_payout(claim, txn_id=self._id(), pot_balance_fen=pot_balance, at=at)
        self._claims[claim_id] = paid
        self._txns.append(txn)
        return txn

    def transactions(self) -> Sequence[LedgerTransaction]:
        return tuple(self._txns)

    def _capture(self, payment_id: str) -> LedgerTransaction:
        capture = self._captures.get(payment_id)
        if capture is None:
            raise NotFound(f"no captured payment {payment_id}")
        return capture

    def _claim(self, claim_id: str) -> Claim:
        claim = self._claims.get(claim_id)
        if claim is None:
            raise NotFound(f"no claim {claim_id}")
        return claim

    def _id(self) -> str:
        self._serial += 1
        return f"txn-{self._serial:05d}"


def _splits() -> st.SearchStrategy[SplitRule]:
    return st.builds(SplitRule, commission_bps=st.integers(0, 10_000), delivery_share_bps=st.integers(0, 10_000))


def _accrual_rules() -> st.SearchStrategy[AccrualRule]:
    rate = st.builds(
        AccrualRule,
        rate_bps=st.integers(1, 2_000),
        per_payment_cap_fen=st.none() | st.integers(1, 5_000),
        term_cap_fen=st.integers(1, 20_000),
        term_days=st.integers(1, 400),
        max_age_years=st.integers(18, 70),
        eligible_kinds=st.frozensets(st.sampled_from(PaymentKind), min_size=1),
    )
    fixed = st.builds(
        AccrualRule,
        rate_bps=st.none(),
        fixed_fen=st.integers(1, 3_000),
        term_cap_fen=st.integers(1, 20_000),
        term_days=st.integers(1, 400),
    )
    return rate | fixed


class BooksMachine(RuleBasedStateMachine):
    """Random walks over the books, checked against ``ReferenceBooks`` after every step."""

    payments = Bundle("payments")
    cancelled = Bundle("cancelled")
    refund_nos = Bundle("refund_nos")
    claims = Bundle("claims")

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.serial = 0

    def make_books(self, split: SplitRule, rule: AccrualRule) -> Books:
        """The implementation under test; override to plug in another store."""
        return MemoryBooks(split, rule)

    @initialize(split=_splits(), rule=_accrual_rules())
    def open_books(self, split: SplitRule, rule: AccrualRule) -> None:
        self.books = self.make_books(split, rule)
        self.model = ReferenceBooks(split=split, rule=rule)

    def _new(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    def _both(self, step: str, run: Callable[[], T], model: Callable[[], object]) -> T | None:
        """Run one step on the books and the model; both must succeed or refuse with one code."""
        before = len(self.books.transactions())
        try:
            result: T | None = run()
            got = "ok"
        except DomainError as exc:
            result, got = None, exc.code
        try:
            model()
            want = "ok"
        except Refused as exc:
            want = exc.code
        assert got == want, f"{step}: books answered {got}, the model {want}"
        event(f"{step}: {got}")
        if got != "ok":
            assert len(self.books.transactions()) == before, "a refused step wrote transactions"
        return result

    @rule(
        target=payments,
        user=st.sampled_from(USERS),
        pharmacy=st.sampled_from(PHARMACIES),
        items=st.integers(1, 60_000) | st.integers(1, 12),  # tiny orders make rounding ties
        delivery=st.sampled_from([0, 1, 3, 500, 800, 1_299]),
        discount=st.integers(0, 3_000),
        accrue_at_age=st.none() | st.integers(0, 80) | st.integers(20, 45),
    )
    def pay(self, user: str, pharmacy: str, items: int, delivery: int, discount: int, accrue_at_age: int | None) -> str:
        """Capture a paid order, and accrue its cover in the same step when the payer's age is known."""
        payment_id = self._new("pay")
        discount = min(discount, items + delivery - 1)
        amounts = OrderAmounts(items_fen=items, delivery_fen=delivery, discount_fen=discount)
        self._both(
            "capture",
            lambda: self.books.capture(
                payment_id=payment_id, user_id=user, pharmacy_id=pharmacy, amounts=amounts, at=self.now
            ),
            lambda: self.model.capture(payment_id, user, pharmacy, items, delivery, discount),
        )
        if accrue_at_age is not None:
            self.accrue(payment_id, accrue_at_age, PaymentKind.ORDER)
        return payment_id

    @rule(target=cancelled)
    def cancel_before_capture(self) -> str:
        """A payment cancelled before capture writes nothing."""
        payment_id = self._new("pay")
        before = len(self.books.transactions())
        self._both(
            "cancel",
            lambda: self.books.cancel(payment_id=payment_id, at=self.now),
            lambda: self.model.cancel(payment_id),
        )
        assert len(self.books.transactions()) == before
        return payment_id

    @rule(payment=cancelled, items=st.integers(1, 1_000), amount=st.integers(1, 1_000))
    def touch_a_cancelled_payment(self, payment: str, items: int, amount: int) -> None:
        """A cancelled payment can be cancelled again, but never captured, refunded or accrued."""
        self._both(
            "cancel again",
            lambda: self.books.cancel(payment_id=payment, at=self.now),
            lambda: self.model.cancel(payment),
        )
        self._capture_again(payment, items)
        self._refund(payment, self._new("rf"), amount)
        self.accrue(payment, 30, PaymentKind.ORDER)

    @rule(payment=payments, items=st.integers(1, 1_000))
    def touch_a_captured_payment(self, payment: str, items: int) -> None:
        """A captured payment can be neither captured again nor cancelled."""
        self._capture_again(payment, items)
        self._both(
            "cancel captured",
            lambda: self.books.cancel(payment_id=payment, at=self.now),
            lambda: self.model.cancel(payment),
        )

    def _capture_again(self, payment: str, items: int) -> None:
        amounts = OrderAmounts(items_fen=items)
        self._both(
            "capture again",
            lambda: self.books.capture(
                payment_id=payment, user_id=USERS[0], pharmacy_id=PHARMACIES[0], amounts=amounts, at=self.now
            ),
            lambda: self.model.capture(payment, USERS[0], PHARMACIES[0], items, 0, 0),
        )

    @rule(target=refund_nos, payment=payments, permille=st.integers(0, 1_200) | st.sampled_from([250, 333, 500]))
    def refund_part(self, payment: str, permille: int) -> str:
        """Refund a share of what is left (0 or beyond the rest must be refused)."""
        amount = self.model.remaining(payment) * permille // 1_000
        return self._refund(payment, self._new("rf"), amount)

    @rule(target=refund_nos, payment=payments, extra=st.integers(0, 2))
    def refund_rest(self, payment: str, extra: int) -> str:
        """Refund everything left, or a fen or two more than that."""
        return self._refund(payment, self._new("rf"), self.model.remaining(payment) + extra)

    @rule(payment=payments, refund_no=refund_nos, amount=st.integers(1, 100))
    def replay_refund(self, payment: str, refund_no: str, amount: int) -> None:
        """A refund number is used once, on any payment."""
        self._refund(payment, refund_no, amount)

    def _refund(self, payment: str, refund_no: str, amount: int) -> str:
        self._both(
            "refund",
            lambda: self.books.refund(payment_id=payment, refund_no=refund_no, amount_fen=amount, at=self.now),
            lambda: self.model.refund(payment, refund_no, amount),
        )
        return refund_no

    @rule(
        payment=payments,
        age=st.integers(0, 80) | st.sampled_from([59, 60]),
        kind=st.sampled_from(PaymentKind),
    )
    def accrue(self, payment: str, age: int, kind: PaymentKind) -> None:
        self._both(
            "accrue",
            lambda: self.books.accrue(payment_id=payment, age_years=age, payment_kind=kind, at=self.now),
            lambda: self.model.accrue(payment, age, kind, self.now),
        )

    @rule(
        target=claims,
        user=st.sampled_from(USERS),
        kind=st.sampled_from(ClaimKind),
        amount=st.integers(1, 3_000) | st.integers(3_000, 30_000),
    )
    def submit_claim(self, user: str, kind: ClaimKind, amount: int) -> str:
        claim_id = self._new("cl")
        self._both(
            "submit claim",
            lambda: self.books.submit_claim(
                claim_id=claim_id, user_id=user, kind=kind, claimed_fen=amount, evidence_ref="upload-1", at=self.now
            ),
            lambda: self.model.submit_claim(claim_id, user, amount),
        )
        return claim_id

    @rule(claim=claims, permille=st.none() | st.integers(0, 1_100))
    def approve_claim(self, claim: str, permille: int | None) -> None:
        """Approve the whole claim or a share of it (0 or more than claimed must be refused)."""
        record = self.model.claims.get(claim)
        approved = None if permille is None or record is None else record.claimed * permille // 1_000
        self._both(
            "approve claim",
            lambda: self.books.approve_claim(claim_id=claim, approved_fen=approved, at=self.now),
            lambda: self.model.approve_claim(claim, approved),
        )

    @rule(claim=claims)
    def reject_claim(self, claim: str) -> None:
        self._both(
            "reject claim",
            lambda: self.books.reject_claim(claim_id=claim, reason="not a covered condition", at=self.now),
            lambda: self.model.reject_claim(claim),
        )

    @rule(claim=claims)
    def pay_claim(self, claim: str) -> None:
        self._both(
            "pay claim", lambda: self.books.pay_claim(claim_id=claim, at=self.now), lambda: self.model.pay_claim(claim)
        )

    @rule(claim=consumes(claims))
    def pay_claim_twice(self, claim: str) -> None:
        """Replaying a payout never pays a claim a second time."""
        for _ in range(2):
            self.pay_claim(claim)

    @rule(user=st.none() | st.sampled_from(USERS), kind=st.sampled_from(ClaimKind), permille=st.integers(0, 1_200))
    def claim_and_pay(self, user: str | None, kind: ClaimKind, permille: int) -> None:
        """Submit, approve and pay a claim sized against the claimant's pot (sometimes beyond it).

        Without a user, the claimant is whoever holds the most cover.
        """
        if user is None:
            user = max(USERS, key=lambda u: self.model.pot(u).balance)
        claim = self.submit_claim(user, kind, max(1, self.model.pot(user).balance * permille // 1_000))
        self.approve_claim(claim, None)
        self.pay_claim(claim)

    @rule(minutes=st.integers(0, 120 * 24 * 60))
    def wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(user=st.sampled_from(USERS), offset_seconds=st.integers(-1, 1))
    def wait_until_a_term_ends(self, user: str, offset_seconds: int) -> None:
        """Move to a second either side of a pot's term end, where accrual stops."""
        start = self.model.pot(user).term_start
        if start is not None:
            edge = start + timedelta(days=self.model.rule.term_days, seconds=offset_seconds)
            self.now = max(self.now, edge)

    # -- invariants, after every step -------------------------------------------------------------

    @invariant()
    def every_transaction_balances_within_one_book(self) -> None:
        for txn in self.books.transactions():
            assert sum(p.amount_fen for p in txn.postings) == 0, txn
            assert len({p.account.book for p in txn.postings}) == 1, txn

    @invariant()
    def money_is_neither_created_nor_destroyed(self) -> None:
        totals = balances(self.books.transactions())
        assert sum(totals.values()) == 0
        for book in Book:
            assert sum(v for a, v in totals.items() if a.book is book) == 0

    @invariant()
    def balances_equal_the_reference_model(self) -> None:
        got = {str(a): v for a, v in balances(self.books.transactions()).items() if v != 0}
        assert got == self.model.nonzero_balances()

    @invariant()
    def no_pot_or_claims_account_goes_negative_and_customers_hold_nothing(self) -> None:
        for account, amount in balances(self.books.transactions()).items():
            if account.kind in (AccountKind.POT, AccountKind.CLAIMS):
                assert amount >= 0, (account, amount)
            if account.kind is AccountKind.CUSTOMER:
                assert amount == 0, (account, amount)

    @invariant()
    def refunds_never_exceed_captures(self) -> None:
        txns = self.books.transactions()
        captured = {t.id: t.amount_on(WALLET_CLEARING) for t in txns if t.kind is TxnKind.CAPTURE}
        refunded: Counter[str] = Counter()
        for txn in txns:
            if txn.kind is TxnKind.REFUND:
                assert txn.parent_id in captured
                refunded[txn.parent_id or ""] -= txn.amount_on(WALLET_CLEARING)
        assert all(0 < refunded[c] <= captured[c] for c in refunded)
        refund_nos = [t.reference for t in txns if t.kind is TxnKind.REFUND]
        assert len(refund_nos) == len(set(refund_nos))

    @invariant()
    def each_claim_is_paid_at_most_once_and_only_when_the_model_paid_it(self) -> None:
        payouts = Counter(t.reference for t in self.books.transactions() if t.kind is TxnKind.CLAIM_PAYOUT)
        assert all(n == 1 for n in payouts.values())
        assert set(payouts) == {c for c, rec in self.model.claims.items() if rec.status == ClaimStatus.PAID}

    @invariant()
    def accrued_cover_stays_within_the_term_cap(self) -> None:
        txns = self.books.transactions()
        for user in USERS:
            assert pot_state_of(user, txns).accrued_fen <= self.model.rule.term_cap_fen


class TestBooksAgreeWithTheReferenceModel(BooksMachine.TestCase):  # type: ignore[misc,valid-type]
    """Every step agrees with the reference model and leaves the ledger's invariants intact."""

    settings = PROFILES[PROFILE]
