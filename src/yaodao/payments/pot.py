"""The insurance pot: payment-accrued cover (DOMAIN INS2) and the claims paid out of it.

A user's captured payments accrue cover into that user's pot under an ``AccrualRule`` (fixed fen
or a rate of the captured amount, a cap per payment, a cap per term, a term from the first
accrual, an age limit, the payment kinds that count). The cover itself is a licensed insurer's
product: the pot records what the user has earned, and a paid claim is cover the insurer pays
out, never the platform's money or another member's (INS3, enforced by the ledger's shapes).

Decisions where the sources are silent:

* The term is one period of ``term_days`` starting at the first accrual. Nothing accrues at or
  after its end; renewal into a new term is a later rule.
* ``accrued`` counts cover net of clawbacks, so a refunded payment frees room under the term cap.
* A refund claws back that payment's proportional share of its accrual, but never more than the
  pot holds. When a claim has already consumed the cover, the shortfall is forgone: the cover was
  used in good faith, and the pot never goes negative (RELIABILITY I10).
* Partial approval is explicit: the adjuster approves an amount up to the claimed one. Paying is
  all or nothing: a payout larger than the pot is refused, and the claim stays approved until the
  pot covers it. Each claim is paid at most once.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import Conflict, ValidationFailed
from yaodao.payments.ledger import MAX_POSTING_FEN, LedgerTransaction, TxnKind, claims, pot

BPS = 10_000  # basis points in a whole


class PaymentKind(enum.StrEnum):
    ORDER = "order"
    CONSULTATION = "consultation"


class AccrualBasis(enum.StrEnum):
    RATE = "rate"  # rate_bps of the captured amount, rounded down
    FIXED = "fixed"  # fixed_fen per eligible payment


@dataclass(frozen=True, slots=True)
class AccrualRule:
    """How payments accrue cover. Exactly one of ``rate_bps`` and ``fixed_fen`` is set."""

    version: str = "2017-alipay-like"  # stored in each accrual's memo (policy values are versioned)
    rate_bps: int | None = 100  # 1% of the captured amount
    fixed_fen: int | None = None
    per_payment_cap_fen: int | None = 2_000  # ¥20 per payment at most
    term_cap_fen: int = 200_000  # ¥2,000 of cover per term
    term_days: int = 365
    max_age_years: int = 60  # eligible when strictly younger
    eligible_kinds: frozenset[PaymentKind] = frozenset(PaymentKind)

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not self.version.strip():
            raise ValueError("version: must name the policy version")
        if (self.rate_bps is None) == (self.fixed_fen is None):
            raise ValueError("rate_bps: set exactly one of rate_bps and fixed_fen")
        if self.rate_bps is not None:
            _require_int("rate_bps", self.rate_bps, 1, BPS)
        if self.fixed_fen is not None:
            _require_int("fixed_fen", self.fixed_fen, 1, MAX_POSTING_FEN)
        if self.per_payment_cap_fen is not None:
            _require_int("per_payment_cap_fen", self.per_payment_cap_fen, 1, MAX_POSTING_FEN)
        _require_int("term_cap_fen", self.term_cap_fen, 1, MAX_POSTING_FEN)
        _require_int("term_days", self.term_days, 1, 3660)
        _require_int("max_age_years", self.max_age_years, 1, 150)
        if not isinstance(self.eligible_kinds, frozenset) or not all(
            isinstance(k, PaymentKind) for k in self.eligible_kinds
        ):
            raise ValueError("eligible_kinds: must be a frozenset of PaymentKind")

    @property
    def basis(self) -> AccrualBasis:
        return AccrualBasis.RATE if self.rate_bps is not None else AccrualBasis.FIXED


@dataclass(frozen=True, slots=True)
class PotState:
    """What the rule needs to know about one user's pot, derived from the ledger.

    ``accrued_fen`` is the cover accrued this term net of clawbacks (pot balance plus claims paid
    out); ``balance_fen`` is what the pot holds now.
    """

    term_started_at: datetime | None = None
    accrued_fen: int = 0
    balance_fen: int = 0

    def __post_init__(self) -> None:
        if self.term_started_at is not None:
            require_aware(self.term_started_at)
        _require_int("accrued_fen", self.accrued_fen, 0, MAX_POSTING_FEN)
        _require_int("balance_fen", self.balance_fen, 0, self.accrued_fen)

    def term_ends_at(self, rule: AccrualRule) -> datetime | None:
        if self.term_started_at is None:
            return None
        return self.term_started_at + timedelta(days=rule.term_days)


def is_eligible(rule: AccrualRule, *, age_years: int, payment_kind: PaymentKind) -> bool:
    _require_int("age_years", age_years, 0, 150)
    return age_years < rule.max_age_years and payment_kind in rule.eligible_kinds


def accrual_for(
    rule: AccrualRule,
    *,
    captured_fen: int,
    age_years: int,
    payment_kind: PaymentKind,
    pot_state: PotState,
    at: datetime,
) -> int:
    """The cover one captured payment adds to its payer's pot (0 when nothing accrues).

    Respects the payer's eligibility, the term end, the cap per payment and the cap per term, so
    that over a term ``accrued == min(term_cap, sum of uncapped accruals)``.
    """
    require_aware(at)
    _require_int("captured_fen", captured_fen, 1, MAX_POSTING_FEN)
    if not is_eligible(rule, age_years=age_years, payment_kind=payment_kind):
        return 0
    ends = pot_state.term_ends_at(rule)
    if ends is not None and at >= ends:
        return 0
    amount = captured_fen * rule.rate_bps // BPS if rule.rate_bps is not None else (rule.fixed_fen or 0)
    if rule.per_payment_cap_fen is not None:
        amount = min(amount, rule.per_payment_cap_fen)
    return max(0, min(amount, rule.term_cap_fen - pot_state.accrued_fen))


def clawback_for(
    *,
    payment_accrual_fen: int,
    captured_fen: int,
    refunded_before_fen: int,
    refund_fen: int,
    pot_balance_fen: int,
) -> int:
    """The cover a refund takes back: that payment's proportional share, at most the pot balance.

    Shares are cumulative and rounded down (``accrual * refunded // captured``), so partial
    refunds that add up to the whole payment claw back exactly its accrual while the pot allows.
    """
    _require_int("captured_fen", captured_fen, 1, MAX_POSTING_FEN)
    _require_int("refunded_before_fen", refunded_before_fen, 0, captured_fen)
    _require_int("refund_fen", refund_fen, 1, captured_fen - refunded_before_fen)
    _require_int("payment_accrual_fen", payment_accrual_fen, 0, MAX_POSTING_FEN)
    _require_int("pot_balance_fen", pot_balance_fen, 0, MAX_POSTING_FEN)
    after = payment_accrual_fen * (refunded_before_fen + refund_fen) // captured_fen
    before = payment_accrual_fen * refunded_before_fen // captured_fen
    return min(after - before, pot_balance_fen)


class ClaimKind(enum.StrEnum):
    ORDER = "order"  # a yaodao order
    CONSULTATION_FEE = "consultation_fee"
    OUTSIDE_RECEIPT = "outside_receipt"  # a hospital or pharmacy receipt from elsewhere


class ClaimStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"


class ClaimAlreadyDecided(Conflict):
    code = "claim_already_decided"


class ClaimNotPayable(Conflict):
    code = "claim_not_payable"


class ClaimAlreadyPaid(Conflict):
    code = "claim_already_paid"


class PotInsufficient(Conflict):
    code = "pot_insufficient"


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim on one user's pot: submitted -> approved | rejected; approved -> paid (once).

    Transitions return a new ``Claim``; the stored row is replaced under a version check.
    """

    id: str
    user_id: str
    kind: ClaimKind
    claimed_fen: int
    evidence_ref: str  # the uploaded proof (diagnosis, receipt) the adjuster reviewed
    submitted_at: datetime
    status: ClaimStatus = ClaimStatus.SUBMITTED
    approved_fen: int | None = None
    decided_at: datetime | None = None
    rejection_reason: str | None = None
    paid_at: datetime | None = None
    version: int = 0

    def __post_init__(self) -> None:
        for name in ("id", "user_id", "evidence_ref"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValidationFailed(f"{name}: must not be empty", field=name)
        if not isinstance(self.kind, ClaimKind):
            raise ValidationFailed(f"kind: {self.kind!r} is not a claim kind", field="kind")
        if isinstance(self.claimed_fen, bool) or not isinstance(self.claimed_fen, int):
            raise ValidationFailed("claimed_fen: must be an integer number of fen", field="claimed_fen")
        if not 1 <= self.claimed_fen <= MAX_POSTING_FEN:
            raise ValidationFailed(f"claimed_fen: must be between 1 and {MAX_POSTING_FEN}", field="claimed_fen")
        for name in ("submitted_at", "decided_at", "paid_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, require_aware(value).astimezone(UTC))
        decided = self.status is not ClaimStatus.SUBMITTED
        approved = self.status in (ClaimStatus.APPROVED, ClaimStatus.PAID)
        if (self.decided_at is not None) != decided or (self.approved_fen is not None) != approved:
            raise ValueError(f"status: a {self.status} claim has inconsistent decision fields")
        if (self.paid_at is not None) != (self.status is ClaimStatus.PAID):
            raise ValueError(f"paid_at: set exactly when the claim is paid, not when {self.status}")
        if (self.rejection_reason is not None) != (self.status is ClaimStatus.REJECTED):
            raise ValueError(f"rejection_reason: set exactly when the claim is rejected, not when {self.status}")

    def approve(self, at: datetime, approved_fen: int | None = None) -> Claim:
        """Approve the whole claim, or ``approved_fen`` of it (1..claimed)."""
        self._require_submitted()
        amount = self.claimed_fen if approved_fen is None else approved_fen
        if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= self.claimed_fen:
            raise ValidationFailed(
                f"approved_fen: must be a whole number of fen between 1 and the claimed {self.claimed_fen}",
                field="approved_fen",
            )
        return dataclasses.replace(
            self, status=ClaimStatus.APPROVED, approved_fen=amount, decided_at=at, version=self.version + 1
        )

    def reject(self, reason: str, at: datetime) -> Claim:
        self._require_submitted()
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationFailed("reason: a rejection states its reason", field="reason")
        return dataclasses.replace(
            self, status=ClaimStatus.REJECTED, rejection_reason=reason, decided_at=at, version=self.version + 1
        )

    def pay(self, pot_balance: int, at: datetime) -> Claim:
        """Mark the approved amount paid out of a pot holding ``pot_balance`` fen: all or nothing."""
        if self.status is ClaimStatus.PAID:
            raise ClaimAlreadyPaid(f"claim {self.id} was already paid")
        if self.status is not ClaimStatus.APPROVED or self.approved_fen is None:
            raise ClaimNotPayable(f"claim {self.id} is {self.status}, only an approved claim is paid")
        _require_int("pot_balance", pot_balance, 0, MAX_POSTING_FEN)
        if self.approved_fen > pot_balance:
            raise PotInsufficient(
                f"claim {self.id} needs {self.approved_fen} fen and the pot holds {pot_balance}", field="pot"
            )
        return dataclasses.replace(self, status=ClaimStatus.PAID, paid_at=at, version=self.version + 1)

    def _require_submitted(self) -> None:
        if self.status is not ClaimStatus.SUBMITTED:
            raise ClaimAlreadyDecided(f"claim {self.id} is already {self.status}")


def pot_state_of(user_id: str, transactions: Iterable[LedgerTransaction]) -> PotState:
    """A user's pot as the accrual rule sees it, derived from the ledger.

    Accrued cover is what the pot holds plus what claims took out of it; the term starts at the
    first accrual.
    """
    user_pot, user_claims = pot(user_id), claims(user_id)
    balance = paid_out = 0
    started: datetime | None = None
    for txn in transactions:
        in_pot = txn.amount_on(user_pot)
        balance += in_pot
        paid_out += txn.amount_on(user_claims)
        if txn.kind is TxnKind.ACCRUAL and in_pot and (started is None or txn.occurred_at < started):
            started = txn.occurred_at
    return PotState(term_started_at=started, accrued_fen=balance + paid_out, balance_fen=balance)


def _require_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name}: must be between {low} and {high}, got {value}")
