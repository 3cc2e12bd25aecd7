"""The ledger in SQL: append-only postings, one balanced transaction per business fact.

``record`` writes a transaction's postings, then its row; the row's insert trigger refuses an
unbalanced set (migration 0006). A fact already recorded (the same kind and reference: one capture
per payment, one refund per request number, one accrual per capture, one payout per claim) is
not written twice: the unique index ``uq_ledger_fact`` refuses the row, ``record`` answers False and
the caller replays. The insert runs in a savepoint, so a duplicate (already committed, or racing in
from another transaction) leaves the caller's transaction usable; the common case, a new fact,
costs no look-up first.

The pot's figures for the accrual rule are aggregates over indexed columns (the first accrual of a
term, the cover accrued since), never the user's whole history: ``pot_balances`` keeps the balance.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, RowMapping, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from yaodao.adapters.db import tables as t
from yaodao.payments.ledger import Account, LedgerTransaction, Posting, TxnKind

# Built once with bound parameters (see orders_repo): every paid order runs these.
_l, _lp = t.ledger_transactions.c, t.ledger_postings.c
_INSERT_POSTINGS = insert(t.ledger_postings)
_INSERT_TXN = insert(t.ledger_transactions)
_BY_REFERENCE = select(t.ledger_transactions).where(_l.kind == bindparam("kind"), _l.reference == bindparam("ref"))
_POT_BALANCE = select(t.pot_balances.c.balance_fen).where(t.pot_balances.c.account == bindparam("account"))
_FIRST_ACCRUAL = select(func.min(_l.occurred_at)).where(
    _l.user_id == bindparam("user_id"), _l.kind == TxnKind.ACCRUAL.value
)
_FIRST_ACCRUAL_FROM = _FIRST_ACCRUAL.where(_l.occurred_at >= bindparam("since"))
_POT_ACCRUED_SINCE = (
    select(func.coalesce(func.sum(_lp.amount_fen), 0))
    .select_from(t.ledger_postings.join(t.ledger_transactions, _l.id == _lp.txn_id))
    .where(
        _lp.account == bindparam("account"),
        _l.user_id == bindparam("user_id"),
        _l.kind.in_([TxnKind.ACCRUAL.value, TxnKind.ACCRUAL_REVERSAL.value]),
        _l.occurred_at >= bindparam("since"),
    )
)


class LedgerRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record(self, txn: LedgerTransaction) -> bool:
        """Write ``txn``; False when its fact (kind and reference) is already in the ledger."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    _INSERT_POSTINGS,
                    [
                        {"txn_id": txn.id, "seq": seq, "account": str(p.account), "amount_fen": p.amount_fen}
                        for seq, p in enumerate(txn.postings)
                    ],
                )
                self._conn.execute(
                    _INSERT_TXN,
                    {
                        "id": txn.id, "kind": txn.kind.value, "reference": txn.reference, "parent_id": txn.parent_id,
                        "user_id": txn.user_id, "occurred_at": txn.occurred_at, "memo": txn.memo,
                    },
                )  # fmt: skip
        except IntegrityError:
            if txn.kind is not TxnKind.CORRECTION and self.by_reference(txn.kind, txn.reference) is not None:
                return False  # the same fact, written by a transaction that committed first
            raise
        return True

    def by_reference(self, kind: TxnKind, reference: str) -> LedgerTransaction | None:
        row = self._conn.execute(_BY_REFERENCE, {"kind": kind.value, "ref": reference}).first()
        return None if row is None else self._load([row._mapping])[0]

    def get(self, txn_id: str) -> LedgerTransaction | None:
        row = self._conn.execute(select(t.ledger_transactions).where(t.ledger_transactions.c.id == txn_id)).first()
        return None if row is None else self._load([row._mapping])[0]

    def followers(self, parent_id: str) -> list[LedgerTransaction]:
        """The transactions that follow ``parent_id`` (a capture's refunds and accrual), oldest first."""
        rows = self._conn.execute(
            select(t.ledger_transactions)
            .where(t.ledger_transactions.c.parent_id == parent_id)
            .order_by(t.ledger_transactions.c.occurred_at, t.ledger_transactions.c.id)
        ).all()
        return self._load([r._mapping for r in rows])

    def for_user(self, user_id: str, *, since: datetime | None = None) -> list[LedgerTransaction]:
        """Every transaction concerning one user, oldest first (the pot statement)."""
        query = select(t.ledger_transactions).where(t.ledger_transactions.c.user_id == user_id)
        if since is not None:
            query = query.where(t.ledger_transactions.c.occurred_at >= since)
        rows = self._conn.execute(query.order_by(t.ledger_transactions.c.occurred_at, t.ledger_transactions.c.id)).all()
        return self._load([r._mapping for r in rows])

    def first_accrual_at(self, user_id: str, *, at_or_after: datetime | None = None) -> datetime | None:
        """When the user's first accrual (at or after ``at_or_after``) happened: where a pot term starts."""
        if at_or_after is None:
            value: datetime | None = self._conn.execute(_FIRST_ACCRUAL, {"user_id": user_id}).scalar_one()
        else:
            value = self._conn.execute(_FIRST_ACCRUAL_FROM, {"user_id": user_id, "since": at_or_after}).scalar_one()
        return value

    def pot_accrued_since(self, user_id: str, since: datetime) -> int:
        """Cover accrued into the user's pot since ``since``, net of clawbacks (accruals and their reversals)."""
        params = {"account": f"pot:{user_id}", "user_id": user_id, "since": since}
        return int(self._conn.execute(_POT_ACCRUED_SINCE, params).scalar_one())

    def balance(self, account: Account) -> int:
        """An account's balance, summed from its postings (debit positive)."""
        total = self._conn.execute(
            select(func.coalesce(func.sum(t.ledger_postings.c.amount_fen), 0)).where(
                t.ledger_postings.c.account == str(account)
            )
        ).scalar_one()
        return int(total)

    def pot_balance(self, user_id: str) -> int:
        """What a user's pot holds now, from the row every pot posting moves (locked by writers)."""
        value = self._conn.execute(_POT_BALANCE, {"account": f"pot:{user_id}"}).scalar_one_or_none()
        return int(value or 0)

    def balances(self) -> dict[str, int]:
        rows = self._conn.execute(
            select(t.ledger_postings.c.account, func.sum(t.ledger_postings.c.amount_fen)).group_by(
                t.ledger_postings.c.account
            )
        ).all()
        return {str(account): int(total) for account, total in rows}

    def check(self) -> list[str]:
        """The ledger's invariants, as problems (empty: sound). The reconciliation report runs this."""
        problems: list[str] = []
        total = self._conn.execute(select(func.coalesce(func.sum(t.ledger_postings.c.amount_fen), 0))).scalar_one()
        if int(total) != 0:
            problems.append(f"postings sum to {int(total)} fen, not 0")
        per_txn = self._conn.execute(
            select(t.ledger_postings.c.txn_id, func.sum(t.ledger_postings.c.amount_fen))
            .group_by(t.ledger_postings.c.txn_id)
            .having(func.sum(t.ledger_postings.c.amount_fen) != 0)
        ).all()
        problems += [f"transaction {txn_id} sums to {int(s)} fen" for txn_id, s in per_txn]
        orphans = self._conn.execute(
            select(func.count())
            .select_from(t.ledger_postings)
            .where(~t.ledger_postings.c.txn_id.in_(select(t.ledger_transactions.c.id)))
        ).scalar_one()
        if orphans:
            problems.append(f"{orphans} postings without a transaction")
        derived = {a: v for a, v in self.balances().items() if a.startswith("pot:")}
        kept = {
            str(a): int(b)
            for a, b in self._conn.execute(select(t.pot_balances.c.account, t.pot_balances.c.balance_fen)).all()
        }
        for account in sorted(set(derived) | set(kept)):
            if derived.get(account, 0) != kept.get(account, 0):
                problems.append(f"{account}: postings say {derived.get(account, 0)}, pot_balances {kept.get(account)}")
        return problems

    def _load(self, headers: Iterable[RowMapping]) -> list[LedgerTransaction]:
        rows = list(headers)
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        postings: dict[str, list[Posting]] = {}
        for p in self._conn.execute(
            select(t.ledger_postings)
            .where(t.ledger_postings.c.txn_id.in_(ids))
            .order_by(t.ledger_postings.c.txn_id, t.ledger_postings.c.seq)
        ):
            postings.setdefault(p.txn_id, []).append(Posting(Account.parse(p.account), int(p.amount_fen)))
        return [
            LedgerTransaction(
                id=r["id"],
                kind=TxnKind(r["kind"]),
                reference=r["reference"],
                postings=tuple(postings[r["id"]]),
                occurred_at=r["occurred_at"],
                memo=r["memo"],
                parent_id=r["parent_id"],
            )
            for r in rows
        ]
