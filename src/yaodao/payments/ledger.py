"""The double-entry ledger: typed accounts, postings, immutable transactions, derived balances.

Sign convention: a posting's ``amount_fen`` is positive for a debit and negative for a credit,
and the postings of every transaction sum to zero. A balance is the plain sum of an account's
postings, so assets (cash at the wallet provider) and the cover a user holds in the insurance pot
show positive balances, while what the platform owes (pharmacy and courier payables) and what it
earned (platform revenue) show negative ones.

Accounts live in one of two books, and a transaction never mixes them:

* ``money``: customer, wallet clearing, pharmacy payable, courier payable, platform revenue. Real
  money the platform collects through the wallet provider and owes onwards.
* ``cover``: insurance pool, pot, claims. Not money the platform holds: the pool stands for a
  licensed insurer's cover capacity, a user's pot for the cover their payments accrued, and the
  claims account for cover paid out to that user by the insurer (DOMAIN INS2). Because the books
  never meet, no transaction can fund a claim with platform or customer money.

Every transaction concerns at most one user: the user-owned accounts it touches (customer, pot,
claims) all share one owner. So no transaction can debit one member's pot to fund another
member's claim (DOMAIN INS3); that holds for corrections too.

Transactions are immutable. A mistake is corrected by a new transaction (``reverse``) that
points at the one it corrects, as in an append-only ``postings`` table guarded by a zero-sum
check per transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from yaodao.kernel.clock import require_aware

# Far above any single payment, far below BIGINT: sums over millions of postings cannot overflow.
MAX_POSTING_FEN = 10**12
_MAX_ID_LENGTH = 255


class Book(enum.StrEnum):
    MONEY = "money"
    COVER = "cover"


class AccountKind(enum.StrEnum):
    CUSTOMER = "customer"  # per user: meets the wallet payment and the order's charge; nets to zero
    WALLET_CLEARING = "wallet_clearing"  # cash held for the platform at the wallet provider
    PHARMACY_PAYABLE = "pharmacy_payable"  # per pharmacy: what the platform owes the store
    COURIER_PAYABLE = "courier_payable"  # delivery fees owed to the courier fleet
    PLATFORM_REVENUE = "platform_revenue"  # commission and delivery share, less funded discounts
    INSURANCE_POOL = "insurance_pool"  # the licensed insurer's cover capacity (no risk pooled here)
    POT = "pot"  # per user: cover accrued from that user's own payments
    CLAIMS = "claims"  # per user: cover paid out on that user's claims (payable by the insurer)

    @property
    def book(self) -> Book:
        return _BOOK[self]

    @property
    def owned(self) -> bool:
        """Whether accounts of this kind exist once per owner (user or pharmacy)."""
        return self in _OWNED

    @property
    def per_user(self) -> bool:
        return self in _PER_USER


_BOOK = dict.fromkeys((AccountKind.INSURANCE_POOL, AccountKind.POT, AccountKind.CLAIMS), Book.COVER) | dict.fromkeys(
    (
        AccountKind.CUSTOMER,
        AccountKind.WALLET_CLEARING,
        AccountKind.PHARMACY_PAYABLE,
        AccountKind.COURIER_PAYABLE,
        AccountKind.PLATFORM_REVENUE,
    ),
    Book.MONEY,
)
_PER_USER = frozenset({AccountKind.CUSTOMER, AccountKind.POT, AccountKind.CLAIMS})
_OWNED = _PER_USER | {AccountKind.PHARMACY_PAYABLE}


@dataclass(frozen=True, slots=True, order=True)
class Account:
    """A ledger account: a kind, and an owner id for the kinds kept per user or per pharmacy.

    Its stable string form is ``"<kind>"`` or ``"<kind>:<owner>"`` (``"pot:<user_id>"``); that
    string is what a ``postings.account`` column stores, and ``Account.parse`` reads it back.
    """

    kind: AccountKind
    owner: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, AccountKind):
            raise ValueError(f"kind: {self.kind!r} is not an account kind")
        if self.kind.owned:
            if self.owner is None:
                raise ValueError(f"owner: a {self.kind} account needs an owner id")
            _require_id("owner", self.owner)
        elif self.owner is not None:
            raise ValueError(f"owner: a {self.kind} account is shared and takes no owner id")

    def __str__(self) -> str:
        return self.kind.value if self.owner is None else f"{self.kind.value}:{self.owner}"

    @property
    def book(self) -> Book:
        return self.kind.book

    @classmethod
    def parse(cls, text: str) -> Account:
        """Read the string form back; unknown kinds and missing or extra owners raise ValueError."""
        kind_text, sep, owner = text.partition(":")
        try:
            kind = AccountKind(kind_text)
        except ValueError:
            raise ValueError(f"account: unknown account kind {kind_text!r} in {text!r}") from None
        return cls(kind, owner if sep else None)


def customer(user_id: str) -> Account:
    return Account(AccountKind.CUSTOMER, user_id)


def pharmacy_payable(pharmacy_id: str) -> Account:
    return Account(AccountKind.PHARMACY_PAYABLE, pharmacy_id)


def pot(user_id: str) -> Account:
    return Account(AccountKind.POT, user_id)


def claims(user_id: str) -> Account:
    return Account(AccountKind.CLAIMS, user_id)


WALLET_CLEARING = Account(AccountKind.WALLET_CLEARING)
COURIER_PAYABLE = Account(AccountKind.COURIER_PAYABLE)
PLATFORM_REVENUE = Account(AccountKind.PLATFORM_REVENUE)
INSURANCE_POOL = Account(AccountKind.INSURANCE_POOL)


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of a transaction: a debit (positive fen) or a credit (negative fen) to an account."""

    account: Account
    amount_fen: int

    def __post_init__(self) -> None:
        if not isinstance(self.account, Account):
            raise ValueError(f"account: expected an Account, got {type(self.account).__name__}")
        if isinstance(self.amount_fen, bool) or not isinstance(self.amount_fen, int):
            raise ValueError(f"amount_fen: must be an integer number of fen, got {type(self.amount_fen).__name__}")
        if self.amount_fen == 0:
            raise ValueError(f"amount_fen: a posting to {self.account} must not be zero")
        if abs(self.amount_fen) > MAX_POSTING_FEN:
            raise ValueError(f"amount_fen: {self.amount_fen} is beyond the largest posting ({MAX_POSTING_FEN} fen)")

    @property
    def is_debit(self) -> bool:
        return self.amount_fen > 0


class TxnKind(enum.StrEnum):
    CAPTURE = "capture"  # a captured wallet payment, split to its payees
    REFUND = "refund"  # a full or partial refund of one capture
    ACCRUAL = "accrual"  # cover a captured payment added to its payer's pot
    ACCRUAL_REVERSAL = "accrual_reversal"  # cover clawed back when that payment is refunded
    CLAIM_PAYOUT = "claim_payout"  # cover paid out of a user's pot on that user's claim
    CORRECTION = "correction"  # the exact reversal of an earlier transaction


# The book each kind belongs to (corrections follow the transaction they reverse).
_KIND_BOOK = {
    TxnKind.CAPTURE: Book.MONEY,
    TxnKind.REFUND: Book.MONEY,
    TxnKind.ACCRUAL: Book.COVER,
    TxnKind.ACCRUAL_REVERSAL: Book.COVER,
    TxnKind.CLAIM_PAYOUT: Book.COVER,
}
# Cover transactions have a fixed shape: exactly these two postings (kind, sign), in any order.
_COVER_SHAPE = {
    TxnKind.ACCRUAL: {(AccountKind.POT, 1), (AccountKind.INSURANCE_POOL, -1)},
    TxnKind.ACCRUAL_REVERSAL: {(AccountKind.POT, -1), (AccountKind.INSURANCE_POOL, 1)},
    TxnKind.CLAIM_PAYOUT: {(AccountKind.POT, -1), (AccountKind.CLAIMS, 1)},
}
# Captured and refunded amounts are read off the single wallet posting, so it must be unambiguous.
_WALLET_SIGN = {TxnKind.CAPTURE: 1, TxnKind.REFUND: -1}
_NEEDS_PARENT = frozenset({TxnKind.REFUND, TxnKind.ACCRUAL, TxnKind.ACCRUAL_REVERSAL, TxnKind.CORRECTION})


@dataclass(frozen=True, slots=True)
class LedgerTransaction:
    """A balanced, immutable set of postings recording one business fact.

    ``reference`` names the fact in its own domain (a payment id, a refund request number, a
    claim id); ``parent_id`` is the ledger transaction this one follows (a refund's capture, an
    accrual's capture, a clawback's accrual, a correction's original). ``occurred_at`` is stored
    in UTC. Construction refuses (ValueError) an empty, unbalanced or mixed-book transaction,
    zero or non-integer postings, and a cover transaction of the wrong shape.
    """

    id: str
    kind: TxnKind
    reference: str
    postings: tuple[Posting, ...]
    occurred_at: datetime
    memo: str = ""
    parent_id: str | None = None

    def __post_init__(self) -> None:
        _require_id("id", self.id)
        _require_id("reference", self.reference)
        if not isinstance(self.kind, TxnKind):
            raise ValueError(f"kind: {self.kind!r} is not a transaction kind")
        if not isinstance(self.memo, str):
            raise ValueError("memo: must be text")
        if not isinstance(self.occurred_at, datetime):
            raise ValueError("occurred_at: must be a datetime")
        require_aware(self.occurred_at)
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))
        if isinstance(self.postings, (str, bytes)) or not hasattr(self.postings, "__iter__"):
            raise ValueError("postings: must be a sequence of Posting")
        object.__setattr__(self, "postings", tuple(self.postings))
        if self.parent_id is not None:
            _require_id("parent_id", self.parent_id)
        elif self.kind in _NEEDS_PARENT:
            raise ValueError(f"parent_id: a {self.kind} names the transaction it follows")
        self._check_postings()

    def _check_postings(self) -> None:
        if not self.postings:
            raise ValueError("postings: a transaction needs at least two postings")
        for posting in self.postings:
            if not isinstance(posting, Posting):
                raise ValueError(f"postings: expected Posting, got {type(posting).__name__}")
        total = sum(p.amount_fen for p in self.postings)
        if total != 0:
            raise ValueError(f"postings: debits and credits differ by {total} fen")
        books = {p.account.book for p in self.postings}
        if len(books) > 1:
            raise ValueError("postings: a transaction stays within one book (money or cover)")
        expected = _KIND_BOOK.get(self.kind)
        if expected is not None and books != {expected}:
            raise ValueError(f"postings: a {self.kind} belongs to the {expected} book")
        users = {p.account.owner for p in self.postings if p.account.kind.per_user}
        if len(users) > 1:
            raise ValueError(f"postings: a transaction concerns at most one user, not {sorted(map(str, users))}")
        shape = _COVER_SHAPE.get(self.kind)
        if shape is not None and (
            len(self.postings) != 2 or {(p.account.kind, 1 if p.is_debit else -1) for p in self.postings} != shape
        ):
            raise ValueError(f"postings: a {self.kind} moves cover between exactly {_describe(shape)}")
        sign = _WALLET_SIGN.get(self.kind)
        if sign is not None:
            wallet = [p for p in self.postings if p.account == WALLET_CLEARING]
            if len(wallet) != 1 or (wallet[0].amount_fen > 0) != (sign > 0):
                side = "debit" if sign > 0 else "credit"
                raise ValueError(f"postings: a {self.kind} has exactly one wallet_clearing {side}")

    @property
    def book(self) -> Book:
        return self.postings[0].account.book

    @property
    def user_id(self) -> str | None:
        """The one user this transaction concerns, if any."""
        return next((p.account.owner for p in self.postings if p.account.kind.per_user), None)

    def amount_on(self, account: Account) -> int:
        """The net fen this transaction posts to ``account`` (0 when it does not touch it)."""
        return sum(p.amount_fen for p in self.postings if p.account == account)


def reverse(txn: LedgerTransaction, id: str, at: datetime, memo: str | None = None) -> LedgerTransaction:
    """The correction that undoes ``txn``: the same postings with opposite signs, never an edit."""
    require_aware(at)
    if at < txn.occurred_at:
        raise ValueError("at: a correction cannot precede the transaction it corrects")
    return LedgerTransaction(
        id=id,
        kind=TxnKind.CORRECTION,
        reference=txn.reference,
        postings=tuple(Posting(p.account, -p.amount_fen) for p in txn.postings),
        occurred_at=at,
        memo=memo if memo is not None else f"reverses {txn.kind} {txn.id}",
        parent_id=txn.id,
    )


def balances(transactions: Iterable[LedgerTransaction]) -> dict[Account, int]:
    """Every touched account's balance (debit positive), derived from the postings alone."""
    totals: dict[Account, int] = {}
    for txn in transactions:
        for posting in txn.postings:
            totals[posting.account] = totals.get(posting.account, 0) + posting.amount_fen
    return totals


def balance_of(account: Account, transactions: Iterable[LedgerTransaction]) -> int:
    return sum(txn.amount_on(account) for txn in transactions)


def apportion(values: Sequence[int], numerator: int, denominator: int) -> list[int]:
    """``values`` scaled by ``numerator / denominator``, rounded by largest remainder.

    Needs ``sum(values) * numerator`` divisible by ``denominator`` (here ``sum(values)`` is minus
    the denominator); each result is the exact quota's floor or ceiling, and they sum exactly.
    """
    if denominator <= 0:
        raise ValueError("denominator: must be positive")
    floors: list[int] = []
    remainders: list[int] = []
    for value in values:
        floor, remainder = divmod(value * numerator, denominator)
        floors.append(floor)
        remainders.append(remainder)
    target, leftover = divmod(sum(values) * numerator, denominator)
    if leftover:
        raise ValueError("values: their scaled sum is not a whole number of fen")
    missing = target - sum(floors)
    for index in sorted(range(len(values)), key=lambda i: (-remainders[i], i))[:missing]:
        floors[index] += 1
    return floors


def _describe(shape: set[tuple[AccountKind, int]]) -> str:
    return " and ".join(f"a {kind} {'debit' if sign > 0 else 'credit'}" for kind, sign in sorted(shape))


def _require_id(name: str, value: object) -> None:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID_LENGTH:
        raise ValueError(f"{name}: must be a non-empty string of at most {_MAX_ID_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(f"{name}: must not contain spaces or control characters")
