"""Refund requests in SQL, and the payment-side queries refunds and reconciliation need.

A payment's refunds are serialised by locking its row (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so the amount left is computed with
every other request counted. What the database itself guarantees, at any isolation level:
``out_request_no`` is unique, a request leaves ``requested`` once (a conditional update), and
``payments.refunded_fen`` rises only while it stays within the paid amount.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, and_, func, or_, select, update

from yaodao.adapters.db import tables as t
from yaodao.adapters.db.orders_repo import insert_ignore
from yaodao.adapters.db.payments_repo import PaymentRepository
from yaodao.payments.ledger import WALLET_CLEARING, TxnKind
from yaodao.payments.model import Payment, PaymentState
from yaodao.payments.refunds import UNFULFILLED, PaymentBooks, Refund, RefundState

_OPEN = (RefundState.REQUESTED.value, RefundState.SUCCEEDED.value)


class RefundRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def by_request_no(self, out_request_no: str) -> Refund | None:
        row = self._conn.execute(select(t.refunds).where(t.refunds.c.out_request_no == out_request_no)).first()
        return None if row is None else _refund(row._mapping)

    def add(self, refund: Refund) -> bool:
        """Insert a new request; False when its out_request_no is already taken."""
        return insert_ignore(
            self._conn,
            t.refunds,
            {
                "id": refund.id, "payment_id": refund.payment_id, "out_request_no": refund.out_request_no,
                "amount_fen": refund.amount_fen, "reason": refund.reason, "state": refund.state.value,
                "created_at": refund.created_at, "completed_at": refund.completed_at,
                "failure_code": refund.failure_code,
            },
        )  # fmt: skip

    def lock_payment(self, payment_id: str) -> Payment | None:
        """The payment, its row locked until commit so its refunds are requested one at a time."""
        self._conn.execute(select(t.payments.c.id).where(t.payments.c.id == payment_id).with_for_update()).first()
        return PaymentRepository(self._conn).get(payment_id)

    def reserved_fen(self, payment_id: str) -> int:
        """What the payment's refunds take: those requested and those done."""
        total = self._conn.execute(
            select(func.coalesce(func.sum(t.refunds.c.amount_fen), 0)).where(
                t.refunds.c.payment_id == payment_id, t.refunds.c.state.in_(_OPEN)
            )
        ).scalar_one()
        return int(total)

    def finish(self, refund_id: str, state: RefundState, at: datetime, failure_code: str | None = None) -> bool:
        """requested -> succeeded | failed, once: False when it had already left ``requested``."""
        c = t.refunds.c
        return (
            self._conn.execute(
                update(t.refunds)
                .where(c.id == refund_id, c.state == RefundState.REQUESTED.value)
                .values(state=state.value, completed_at=at, failure_code=failure_code)
            ).rowcount
            == 1
        )

    def add_refunded(self, payment_id: str, amount_fen: int, at: datetime) -> bool:
        """Raise the payment's refunded total, only while it stays within what was paid."""
        c = t.payments.c
        return (
            self._conn.execute(
                update(t.payments)
                .where(
                    c.id == payment_id,
                    c.state == PaymentState.PAID.value,
                    c.refunded_fen + amount_fen <= c.amount_fen,
                )
                .values(refunded_fen=c.refunded_fen + amount_fen, updated_at=at, version=c.version + 1)
            ).rowcount
            == 1
        )

    def for_payment(self, payment_id: str) -> list[Refund]:
        rows = self._conn.execute(
            select(t.refunds).where(t.refunds.c.payment_id == payment_id).order_by(t.refunds.c.created_at)
        ).all()
        return [_refund(r._mapping) for r in rows]

    def stuck(self, older_than: datetime, limit: int = 100) -> list[Refund]:
        """Requests still waiting for the wallet's answer, oldest first."""
        rows = self._conn.execute(
            select(t.refunds)
            .where(t.refunds.c.state == RefundState.REQUESTED.value, t.refunds.c.created_at <= older_than)
            .order_by(t.refunds.c.created_at)
            .limit(limit)
        ).all()
        return [_refund(r._mapping) for r in rows]

    def auto_refund_candidates(self, limit: int = 100) -> list[str]:
        """Paid payments with money left whose order will not be fulfilled or never counted them (paid late)."""
        p, o = t.payments.c, t.orders.c
        rows = self._conn.execute(
            select(p.id)
            .select_from(t.payments.join(t.orders, o.id == p.order_id))
            .where(
                p.state == PaymentState.PAID.value,
                p.refunded_fen < p.amount_fen,
                o.status != "awaiting_payment",
                or_(o.status.in_([s.value for s in UNFULFILLED]), o.payment_ref.is_(None), o.payment_ref != p.id),
            )
            .order_by(p.updated_at)
            .limit(limit)
        ).scalars()
        return [str(r) for r in rows]

    def books(self, limit: int = 10_000) -> list[PaymentBooks]:
        """The most recently changed payments as the payments table, the refund requests and the ledger hold them."""
        p, r, lt, lp = t.payments.c, t.refunds.c, t.ledger_transactions.c, t.ledger_postings.c
        payments = self._conn.execute(
            select(p.id, p.order_id, p.state, p.amount_fen, p.refunded_fen).order_by(p.updated_at.desc()).limit(limit)
        ).all()
        ids = [row.id for row in payments]
        if not ids:
            return []
        succeeded = dict(
            self._conn.execute(
                select(r.payment_id, func.sum(r.amount_fen))
                .where(r.payment_id.in_(ids), r.state == RefundState.SUCCEEDED.value)
                .group_by(r.payment_id)
            ).all()
        )
        wallet = lp.account == str(WALLET_CLEARING)
        captured: dict[str, tuple[int, int]] = {
            ref: (int(total), int(n))
            for ref, total, n in self._conn.execute(
                select(lt.reference, func.sum(lp.amount_fen), func.count(func.distinct(lt.id)))
                .select_from(t.ledger_transactions.join(t.ledger_postings, lp.txn_id == lt.id))
                .where(lt.kind == TxnKind.CAPTURE.value, lt.reference.in_(ids), wallet)
                .group_by(lt.reference)
            ).all()
        }
        capture = t.ledger_transactions.alias("capture")
        refunded = dict(
            self._conn.execute(
                select(capture.c.reference, func.sum(lp.amount_fen))
                .select_from(
                    t.ledger_transactions.join(t.ledger_postings, lp.txn_id == lt.id).join(
                        capture, and_(capture.c.id == lt.parent_id, capture.c.kind == TxnKind.CAPTURE.value)
                    )
                )
                .where(lt.kind == TxnKind.REFUND.value, capture.c.reference.in_(ids), wallet)
                .group_by(capture.c.reference)
            ).all()
        )
        return [
            PaymentBooks(
                payment_id=row.id, order_id=row.order_id, state=row.state, amount_fen=int(row.amount_fen),
                refunded_fen=int(row.refunded_fen), succeeded_fen=int(succeeded.get(row.id) or 0),
                captured_fen=captured.get(row.id, (0, 0))[0], ledger_refunded_fen=-int(refunded.get(row.id) or 0),
                captures=captured.get(row.id, (0, 0))[1],
            )
            for row in payments
        ]  # fmt: skip


def _refund(row: RowMapping) -> Refund:
    return Refund(
        id=row["id"], payment_id=row["payment_id"], out_request_no=row["out_request_no"],
        amount_fen=int(row["amount_fen"]), reason=row["reason"], state=RefundState(row["state"]),
        created_at=row["created_at"], completed_at=row["completed_at"], failure_code=row["failure_code"],
    )  # fmt: skip
