"""Payments, wallet notifications and idempotency keys in SQL.

A payment moves from pending to paid by one conditional UPDATE (``WHERE state = 'pending'``), so
of any number of notifications and trade queries racing for one trade exactly one applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, insert, select, update

from yaodao.adapters.db import tables as t
from yaodao.adapters.db.orders_repo import insert_ignore
from yaodao.payments.model import Payment, PaymentState

# Built once with bound parameters (see orders_repo): every paid order runs these.
_p = t.payments.c
_PAYMENT_BY_ID = select(t.payments).where(_p.id == bindparam("payment_id"))
_PAYMENT_OF_ORDER = select(t.payments).where(_p.order_id == bindparam("order_id"))
_MARK_PAID = (
    update(t.payments)
    .where(_p.id == bindparam("where_id"), _p.state == PaymentState.PENDING.value)
    .values(state=PaymentState.PAID.value, version=_p.version + 1)
)
_LOG_NOTIFICATION = insert(t.wallet_notifications)
_k = t.idempotency_keys.c
_KEY = (_k.principal_id == bindparam("where_principal"), _k.route == bindparam("where_route"))
_GET_KEY = select(t.idempotency_keys).where(*_KEY, _k.key == bindparam("where_key"))
_FINISH_KEY = (
    update(t.idempotency_keys)
    .where(*_KEY, _k.key == bindparam("where_key"), _k.state == "started")
    .values(state="finished")
)


class PaymentRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, payment: Payment, now: datetime) -> bool:
        """Insert the payment for its order; False when the order already has one."""
        return insert_ignore(
            self._conn,
            t.payments,
            {
                "id": payment.id, "order_id": payment.order_id, "user_id": payment.user_id,
                "city_id": payment.city_id, "amount_fen": payment.amount_fen, "state": payment.state.value,
                "refunded_fen": 0, "created_at": payment.created_at, "updated_at": now, "version": 1,
            },
        )  # fmt: skip

    def get(self, payment_id: str) -> Payment | None:
        row = self._conn.execute(_PAYMENT_BY_ID, {"payment_id": payment_id}).first()
        return None if row is None else _payment(row._mapping)

    def for_order(self, order_id: str) -> Payment | None:
        row = self._conn.execute(_PAYMENT_OF_ORDER, {"order_id": order_id}).first()
        return None if row is None else _payment(row._mapping)

    def pending(self, older_than: datetime, limit: int = 100) -> list[Payment]:
        rows = self._conn.execute(
            select(t.payments)
            .where(t.payments.c.state == PaymentState.PENDING.value, t.payments.c.created_at <= older_than)
            .order_by(t.payments.c.created_at)
            .limit(limit)
        ).all()
        return [_payment(r._mapping) for r in rows]

    def mark_paid(self, payment_id: str, *, trade_no: str, buyer_id: str | None, paid_at: datetime) -> bool:
        """pending -> paid, once: False when it was already paid or closed."""
        values = {"trade_no": trade_no, "buyer_id": buyer_id, "paid_at": paid_at, "updated_at": paid_at}
        return self._conn.execute(_MARK_PAID, {**values, "where_id": payment_id}).rowcount == 1

    def mark_closed(self, payment_id: str, now: datetime) -> bool:
        c = t.payments.c
        return (
            self._conn.execute(
                update(t.payments)
                .where(c.id == payment_id, c.state == PaymentState.PENDING.value)
                .values(state=PaymentState.CLOSED.value, updated_at=now, version=c.version + 1)
            ).rowcount
            == 1
        )

    def log_notification(self, params: Mapping[str, str], outcome: str, now: datetime) -> None:
        """Keep every notification and what was done with it (duplicates and forgeries included)."""
        self._conn.execute(
            _LOG_NOTIFICATION,
            {
                "notify_id": (params.get("notify_id") or "")[:128] or None,
                "out_trade_no": (params.get("out_trade_no") or "")[:64] or None,
                "trade_status": (params.get("trade_status") or "")[:20] or None,
                "outcome": outcome[:40], "received_at": now, "params": {k: str(v)[:2000] for k, v in params.items()},
            },
        )  # fmt: skip

    def notification_outcomes(self, out_trade_no: str) -> list[str]:
        rows = self._conn.execute(
            select(t.wallet_notifications.c.outcome)
            .where(t.wallet_notifications.c.out_trade_no == out_trade_no)
            .order_by(t.wallet_notifications.c.id)
        ).scalars()
        return [str(r) for r in rows]


def _payment(row: RowMapping) -> Payment:
    return Payment(
        id=row["id"], order_id=row["order_id"], user_id=row["user_id"], city_id=row["city_id"],
        amount_fen=int(row["amount_fen"]), state=PaymentState(row["state"]), created_at=row["created_at"],
        trade_no=row["trade_no"], buyer_id=row["buyer_id"], paid_at=row["paid_at"],
        refunded_fen=int(row["refunded_fen"]), version=row["version"],
    )  # fmt: skip


class IdempotencyRepository:
    """Keys per (principal, route, key): claimed before the work, finished with its response."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def claim(self, principal_id: str, route: str, key: str, request_sha256: str, now: datetime) -> bool:
        return insert_ignore(
            self._conn,
            t.idempotency_keys,
            {
                "principal_id": principal_id, "route": route, "key": key, "request_sha256": request_sha256,
                "state": "started", "created_at": now,
            },
        )  # fmt: skip

    def get(self, principal_id: str, route: str, key: str) -> dict[str, Any] | None:
        where = {"where_principal": principal_id, "where_route": route, "where_key": key}
        row = self._conn.execute(_GET_KEY, where).first()
        return None if row is None else dict(row._mapping)

    def finish(
        self, principal_id: str, route: str, key: str, status: int, body: Mapping[str, Any], now: datetime
    ) -> bool:
        where = {"where_principal": principal_id, "where_route": route, "where_key": key}
        values = {"response_status": status, "response_body": dict(body), "finished_at": now}
        return self._conn.execute(_FINISH_KEY, {**values, **where}).rowcount == 1

    def release(self, principal_id: str, route: str, key: str) -> None:
        """Forget a claim whose request failed before it changed anything, so a retry runs afresh."""
        c = t.idempotency_keys.c
        self._conn.execute(
            delete(t.idempotency_keys).where(
                c.principal_id == principal_id, c.route == route, c.key == key, c.state == "started"
            )
        )
