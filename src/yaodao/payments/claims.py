"""Claims on the insurance pot, and the pot statement (DOMAIN INS2, INS3; RELIABILITY I10).

A patient submits a claim for one of their paid orders, a consultation fee, or a receipt from
elsewhere, with the amount and a reference to the uploaded evidence. The adjuster (the
``claim:decide`` role, standing for the licensed insurer) approves it in full or in part, or rejects
it with a reason, and then pays it out of the claimant's *own* pot: the payout transaction's
accounts come from the claim alone, so no member's pot ever funds another's claim.

The pot's ``CHECK (balance_fen >= 0)`` row is the concurrency guard. Payouts racing for one pot
each read a balance that may be stale, but the database moves the row one payout at a time and
refuses the one that would take it below zero (409 ``pot_insufficient``); the unique ledger fact
(one payout per claim) and the claim's version make a replayed payout a 409
``claim_already_paid``, never a second payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn, Protocol

from yaodao.accounts.model import AuditRecord
from yaodao.accounts.policy import Action, Actor, Scope, authorize
from yaodao.kernel.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from yaodao.kernel.ids import new_id
from yaodao.payments.books import DuplicateClaim, claim_payout
from yaodao.payments.ledger import MAX_POSTING_FEN, LedgerTransaction, TxnKind, pot
from yaodao.payments.pot import (
    AccrualRule,
    Claim,
    ClaimAlreadyDecided,
    ClaimAlreadyPaid,
    ClaimKind,
    PotInsufficient,
)
from yaodao.payments.services import PaymentsUnitOfWork, pot_state

MAX_EVIDENCE = 300
MAX_SUBJECT = 120
MAX_REASON = 300


@dataclass(frozen=True, slots=True)
class StoredClaim:
    """A claim with what the store keeps beside it: what it is about and who decided it."""

    claim: Claim
    subject_ref: str | None = None
    decided_by: str | None = None


class ClaimRepo(Protocol):
    def add(self, claim: Claim, subject_ref: str | None) -> bool: ...
    def get(self, claim_id: str) -> StoredClaim | None: ...
    def save(self, claim: Claim, expected_version: int, decided_by: str | None = ...) -> bool: ...
    def record_payout(self, paid: Claim, expected_version: int, txn: LedgerTransaction) -> str: ...
    def for_user(self, user_id: str, limit: int = ...) -> list[StoredClaim]: ...
    def open_for_subject(self, user_id: str, kind: ClaimKind, subject_ref: str) -> StoredClaim | None: ...


class ClaimsUnitOfWork(PaymentsUnitOfWork, Protocol):
    @property
    def claims(self) -> ClaimRepo: ...


# -- the store side, shared by the services and the database-backed books --------------------------


def record_claim(uow: ClaimsUnitOfWork, claim: Claim, subject_ref: str | None = None) -> Claim:
    if not uow.claims.add(claim, subject_ref):
        raise DuplicateClaim(f"claim {claim.id} exists")
    return claim


def decide(
    uow: ClaimsUnitOfWork,
    claim_id: str,
    *,
    approve: bool,
    approved_fen: int | None,
    reason: str | None,
    at: datetime,
    by: str | None = None,
) -> Claim:
    """Approve (all, or ``approved_fen`` of it) or reject with ``reason``; a claim is decided once."""
    stored = _get(uow, claim_id)
    claim = stored.claim
    decided = claim.approve(at, approved_fen) if approve else claim.reject(reason or "", at)
    if not uow.claims.save(decided, claim.version, by):
        raise_already_decided(uow, claim_id)
    return decided


def pay_out(uow: ClaimsUnitOfWork, claim_id: str, at: datetime) -> tuple[Claim, LedgerTransaction]:
    """Pay an approved claim from its claimant's own pot: all or nothing, at most once."""
    claim = _get(uow, claim_id).claim
    paid, txn = claim_payout(claim, txn_id=new_id(), pot_balance_fen=uow.ledger.pot_balance(claim.user_id), at=at)
    outcome = uow.claims.record_payout(paid, claim.version, txn)
    if outcome == "already_paid":
        raise ClaimAlreadyPaid(f"claim {claim_id} was already paid")
    if outcome == "pot_insufficient":
        raise PotInsufficient(
            f"claim {claim_id} needs {paid.approved_fen} fen and the pot holds {uow.ledger.pot_balance(claim.user_id)}",
            field="pot",
        )
    return paid, txn


def raise_already_decided(uow: ClaimsUnitOfWork, claim_id: str) -> NoReturn:
    """A concurrent decision won: say what the claim now is."""
    raise ClaimAlreadyDecided(f"claim {claim_id} is already {_get(uow, claim_id).claim.status}")


# -- the services -------------------------------------------------------------------------------


def submit_claim(
    *,
    uow: ClaimsUnitOfWork,
    actor: Actor,
    kind: ClaimKind,
    claimed_fen: int,
    evidence_ref: str,
    subject_ref: str,
) -> StoredClaim:
    """A patient claims on their own pot: for a paid order of theirs, a consultation fee or an outside receipt."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    _check_claim(kind, claimed_fen, evidence_ref, subject_ref)
    with uow:
        authorize(actor, Action.CLAIM_SUBMIT, Scope(owner_id=actor.user_id))
        now = uow.clock.now()
        if kind is ClaimKind.ORDER:
            order = uow.orders.get(subject_ref)
            if order is None or order.user_id != actor.user_id:
                raise NotFound(f"order {subject_ref} not found", field="subject_ref")
            if order.paid_fen - order.refunded_fen <= 0:
                raise ValidationFailed(f"order {subject_ref} has nothing paid to claim for", field="subject_ref")
        if uow.claims.open_for_subject(actor.user_id, kind, subject_ref) is not None:
            raise DuplicateClaim(f"there is already a claim for {kind.value} {subject_ref}", field="subject_ref")
        claim = Claim(
            id=new_id(), user_id=actor.user_id, kind=kind, claimed_fen=claimed_fen, evidence_ref=evidence_ref.strip(),
            submitted_at=now,
        )  # fmt: skip
        record_claim(uow, claim, subject_ref.strip())
        uow.audit(_record(actor, now, "create", "claim", claim.id, actor.user_id))
        uow.commit()
    return StoredClaim(claim, subject_ref.strip())


def list_claims(*, uow: ClaimsUnitOfWork, actor: Actor, user_id: str | None = None) -> list[StoredClaim]:
    """A patient's own claims (an adjuster may name the patient), newest first."""
    owner = user_id or actor.user_id
    if actor.user_id is None or owner is None:
        raise NotAuthenticated("sign in first")
    with uow:
        authorize(actor, Action.CLAIM_READ, Scope(owner_id=owner))
        found = uow.claims.for_user(owner)
        uow.audit(_record(actor, uow.clock.now(), "list", "claim", None, owner))
        uow.commit()
    return found


def decide_claim(
    *,
    uow: ClaimsUnitOfWork,
    actor: Actor,
    claim_id: str,
    approve: bool,
    approved_fen: int | None = None,
    reason: str | None = None,
) -> StoredClaim:
    """The adjuster approves (in full, or ``approved_fen`` of it) or rejects with a reason."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    if not approve and (not reason or not reason.strip() or len(reason) > MAX_REASON):
        raise ValidationFailed(f"a rejection states its reason (at most {MAX_REASON} characters)", field="reason")
    if approve and reason:
        raise ValidationFailed("an approval takes no rejection reason", field="reason")
    with uow:
        authorize(actor, Action.CLAIM_DECIDE)
        stored = _get(uow, claim_id)
        _not_own(actor, stored.claim)
        now = uow.clock.now()
        decided = decide(
            uow, claim_id, approve=approve, approved_fen=approved_fen, reason=reason, at=now, by=actor.user_id
        )
        uow.audit(_record(actor, now, "update", "claim", claim_id, decided.user_id))
        uow.commit()
    return StoredClaim(decided, stored.subject_ref, actor.user_id)


def pay_claim(*, uow: ClaimsUnitOfWork, actor: Actor, claim_id: str) -> tuple[StoredClaim, LedgerTransaction]:
    """The adjuster pays an approved claim out of its claimant's pot."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        authorize(actor, Action.CLAIM_DECIDE)
        stored = _get(uow, claim_id)
        _not_own(actor, stored.claim)
        now = uow.clock.now()
        paid, txn = pay_out(uow, claim_id, now)
        uow.audit(_record(actor, now, "update", "claim", claim_id, paid.user_id))
        uow.commit()
    return StoredClaim(paid, stored.subject_ref, stored.decided_by), txn


# -- the pot statement --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementLine:
    at: datetime
    kind: TxnKind  # accrual, accrual_reversal (a refund's clawback), claim_payout, correction
    amount_fen: int  # the change to the pot (cover in positive)
    balance_fen: int  # the pot after this line
    reference: str  # the payment, refund request or claim it came from
    memo: str


@dataclass(frozen=True, slots=True)
class PotStatement:
    user_id: str
    balance_fen: int  # what the pot holds now (the guarded pot_balances row)
    paid_out_fen: int  # cover paid out on claims, all time
    accrued_fen: int  # cover accrued this term, net of clawbacks
    term_cap_fen: int
    term_started_at: datetime | None
    term_ends_at: datetime | None
    lines: tuple[StatementLine, ...]
    claims: tuple[StoredClaim, ...]


def pot_statement(
    *, uow: ClaimsUnitOfWork, actor: Actor, rule: AccrualRule, user_id: str | None = None
) -> PotStatement:
    """Every accrual, clawback and payout of the user's pot, with the balance after each, and their claims."""
    owner = user_id or actor.user_id
    if actor.user_id is None or owner is None:
        raise NotAuthenticated("sign in first")
    with uow:
        authorize(actor, Action.CLAIM_READ, Scope(owner_id=owner))
        now = uow.clock.now()
        account = pot(owner)
        lines: list[StatementLine] = []
        running = paid_out = 0
        for txn in uow.ledger.for_user(owner):
            change = txn.amount_on(account)
            if not change:
                continue
            running += change
            if txn.kind is TxnKind.CLAIM_PAYOUT:
                paid_out -= change
            lines.append(StatementLine(txn.occurred_at, txn.kind, change, running, txn.reference, txn.memo))
        state = pot_state(uow, owner, rule, now)
        claims = uow.claims.for_user(owner)
        balance = uow.ledger.pot_balance(owner)
        uow.audit(_record(actor, now, "read", "pot", owner, owner))
        uow.commit()
    return PotStatement(
        user_id=owner, balance_fen=balance, paid_out_fen=paid_out, accrued_fen=state.accrued_fen,
        term_cap_fen=rule.term_cap_fen, term_started_at=state.term_started_at, term_ends_at=state.term_ends_at(rule),
        lines=tuple(lines), claims=tuple(claims),
    )  # fmt: skip


# -- helpers ------------------------------------------------------------------------------------


def _check_claim(kind: object, claimed_fen: object, evidence_ref: object, subject_ref: object) -> None:
    problems: list[tuple[str, str]] = []
    if not isinstance(kind, ClaimKind):
        problems.append(("kind", f"must be one of {', '.join(k.value for k in ClaimKind)}"))
    if isinstance(claimed_fen, bool) or not isinstance(claimed_fen, int) or not 1 <= claimed_fen <= MAX_POSTING_FEN:
        problems.append(("claimed_fen", f"must be a whole number of fen between 1 and {MAX_POSTING_FEN}"))
    for name, value, limit in (("evidence_ref", evidence_ref, MAX_EVIDENCE), ("subject_ref", subject_ref, MAX_SUBJECT)):
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            problems.append((name, f"must not be empty, at most {limit} characters"))
    if problems:
        raise ValidationFailed("; ".join(f"{f}: {m}" for f, m in problems), errors=problems)


def _get(uow: ClaimsUnitOfWork, claim_id: str) -> StoredClaim:
    stored = uow.claims.get(claim_id)
    if stored is None:
        raise NotFound(f"claim {claim_id} not found", field="claim_id")
    return stored


def _not_own(actor: Actor, claim: Claim) -> None:
    if claim.user_id == actor.user_id:
        raise PermissionDenied("an adjuster does not decide or pay their own claim")


def _record(
    actor: Actor, at: datetime, action: str, kind: str, resource_id: str | None, patient_id: str | None
) -> AuditRecord:
    return AuditRecord(
        at=at, actor_id=actor.user_id, actor_roles=actor.roles_text, action=action, resource_type=kind,
        resource_id=resource_id, patient_id=patient_id, outcome="ok", request_id=actor.request_id, ip=actor.ip,
    )  # fmt: skip
