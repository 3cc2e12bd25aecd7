"""Insurance claims in SQL, and their payouts.

A claim row is replaced only at the version it was read at. A payout writes the ledger's payout
transaction and the paid claim in one savepoint: the pot's ``CHECK (balance_fen >= 0)`` (moved by
the postings trigger of migration 0006) refuses a payout the pot cannot cover, and the unique
ledger fact (one ``claim_payout`` per claim) together with the version check refuses a second one.
Either way the savepoint rolls back and the caller's transaction stays usable.
"""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, select, update
from sqlalchemy.exc import IntegrityError

from yaodao.adapters.db import tables as t
from yaodao.adapters.db.ledger_repo import LedgerRepository
from yaodao.adapters.db.orders_repo import insert_ignore
from yaodao.payments.claims import StoredClaim
from yaodao.payments.ledger import LedgerTransaction, TxnKind
from yaodao.payments.pot import Claim, ClaimKind, ClaimStatus


class _AlreadyPaid(Exception):
    pass


class ClaimRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, claim: Claim, subject_ref: str | None) -> bool:
        """Insert a submitted claim; False when its id is taken."""
        return insert_ignore(self._conn, t.insurance_claims, {**_values(claim), "subject_ref": subject_ref})

    def get(self, claim_id: str) -> StoredClaim | None:
        row = self._conn.execute(select(t.insurance_claims).where(t.insurance_claims.c.id == claim_id)).first()
        return None if row is None else _stored(row._mapping)

    def save(self, claim: Claim, expected_version: int, decided_by: str | None = None) -> bool:
        """Write the claim's new state if it is still at ``expected_version``."""
        c = t.insurance_claims.c
        values = _values(claim)
        if decided_by is not None:
            values["decided_by"] = decided_by
        return (
            self._conn.execute(
                update(t.insurance_claims).where(c.id == claim.id, c.version == expected_version).values(**values)
            ).rowcount
            == 1
        )

    def record_payout(self, paid: Claim, expected_version: int, txn: LedgerTransaction) -> str:
        """``paid``, ``already_paid`` (a payout exists or the claim moved on) or ``pot_insufficient``."""
        ledger = LedgerRepository(self._conn)
        try:
            with self._conn.begin_nested():
                if not ledger.record(txn) or not self.save(paid, expected_version):
                    raise _AlreadyPaid
        except _AlreadyPaid:
            return "already_paid"
        except IntegrityError:
            if ledger.by_reference(TxnKind.CLAIM_PAYOUT, paid.id) is not None:
                return "already_paid"
            return "pot_insufficient"  # the pot's CHECK refused to go below zero
        return "paid"

    def for_user(self, user_id: str, limit: int = 200) -> list[StoredClaim]:
        c = t.insurance_claims.c
        rows = self._conn.execute(
            select(t.insurance_claims)
            .where(c.user_id == user_id)
            .order_by(c.submitted_at.desc(), c.id.desc())
            .limit(limit)
        ).all()
        return [_stored(r._mapping) for r in rows]

    def open_for_subject(self, user_id: str, kind: ClaimKind, subject_ref: str) -> StoredClaim | None:
        """A claim of this user on the same subject that was not rejected."""
        c = t.insurance_claims.c
        row = self._conn.execute(
            select(t.insurance_claims).where(
                c.user_id == user_id,
                c.kind == kind.value,
                c.subject_ref == subject_ref,
                c.status != ClaimStatus.REJECTED.value,
            )
        ).first()
        return None if row is None else _stored(row._mapping)


def _values(claim: Claim) -> dict[str, object]:
    return {
        "id": claim.id, "user_id": claim.user_id, "kind": claim.kind.value, "claimed_fen": claim.claimed_fen,
        "evidence_ref": claim.evidence_ref, "submitted_at": claim.submitted_at, "status": claim.status.value,
        "approved_fen": claim.approved_fen, "decided_at": claim.decided_at, "rejection_reason": claim.rejection_reason,
        "paid_at": claim.paid_at, "version": claim.version,
    }  # fmt: skip


def _stored(row: RowMapping) -> StoredClaim:
    claim = Claim(
        id=row["id"], user_id=row["user_id"], kind=ClaimKind(row["kind"]), claimed_fen=int(row["claimed_fen"]),
        evidence_ref=row["evidence_ref"], submitted_at=row["submitted_at"], status=ClaimStatus(row["status"]),
        approved_fen=None if row["approved_fen"] is None else int(row["approved_fen"]), decided_at=row["decided_at"],
        rejection_reason=row["rejection_reason"], paid_at=row["paid_at"], version=int(row["version"]),
    )  # fmt: skip
    return StoredClaim(claim, row["subject_ref"], row["decided_by"])
