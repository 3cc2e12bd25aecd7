"""The sandbox wallet's own durable log: one SQLite file (standard-library ``sqlite3``).

WAL mode, one connection shared by all threads behind one lock, and ``BEGIN IMMEDIATE`` for
every transaction, so a check-then-write (a refund against what is left) can never interleave
with another. The invariants also live in the schema: one trade per (app, out_trade_no), one
refund per (trade, out_request_no), refunds never above the paid total.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yaodao.kernel.clock import require_aware
from yaodao.payments.wallet import TradeStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS trades (
    id INTEGER PRIMARY KEY,
    app_id TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    trade_no TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    total_fen INTEGER NOT NULL CHECK (total_fen > 0),
    refunded_fen INTEGER NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0 AND refunded_fen <= total_fen),
    status TEXT NOT NULL CHECK (status IN ('WAIT_BUYER_PAY', 'TRADE_SUCCESS', 'TRADE_CLOSED', 'TRADE_FINISHED')),
    buyer_id TEXT,
    notify_url TEXT NOT NULL,
    return_url TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    paid_at TEXT,
    closed_at TEXT,
    UNIQUE (app_id, out_trade_no)
);
CREATE TABLE IF NOT EXISTS refunds (
    id INTEGER PRIMARY KEY,
    trade_id INTEGER NOT NULL REFERENCES trades (id),
    out_request_no TEXT NOT NULL,
    refund_fen INTEGER NOT NULL CHECK (refund_fen > 0),
    total_refunded_fen INTEGER NOT NULL CHECK (total_refunded_fen >= refund_fen),
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (trade_id, out_request_no)
);
CREATE TABLE IF NOT EXISTS notifications (
    notify_id TEXT PRIMARY KEY,
    trade_id INTEGER NOT NULL REFERENCES trades (id),
    notify_url TEXT NOT NULL,
    params TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT,
    delivered_at TEXT,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX IF NOT EXISTS notifications_trade ON notifications (trade_id);
"""


@dataclass(frozen=True, slots=True)
class TradeRecord:
    id: int
    app_id: str
    out_trade_no: str
    trade_no: str
    subject: str
    total_fen: int
    refunded_fen: int
    status: TradeStatus
    buyer_id: str | None
    notify_url: str
    return_url: str
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class RefundRecord:
    id: int
    trade_id: int
    out_request_no: str
    refund_fen: int
    total_refunded_fen: int  # everything refunded on the trade once this refund was made
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    notify_id: str
    trade_id: int
    out_trade_no: str
    notify_url: str
    params: dict[str, str]
    attempts: int
    next_attempt_at: datetime | None  # None once delivered, given up, or when there is nowhere to send
    delivered_at: datetime | None
    last_error: str
    created_at: datetime


class WalletTx:
    """The reads and writes of one transaction; obtained from ``SandboxStore.transaction()``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def trade_by_out(self, app_id: str, out_trade_no: str) -> TradeRecord | None:
        row = self._conn.execute(
            "SELECT * FROM trades WHERE app_id = ? AND out_trade_no = ?", (app_id, out_trade_no)
        ).fetchone()
        return _trade(row) if row else None

    def trade_by_no(self, trade_no: str) -> TradeRecord | None:
        row = self._conn.execute("SELECT * FROM trades WHERE trade_no = ?", (trade_no,)).fetchone()
        return _trade(row) if row else None

    def insert_trade(
        self,
        *,
        app_id: str,
        out_trade_no: str,
        trade_no: str,
        subject: str,
        total_fen: int,
        notify_url: str,
        return_url: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> TradeRecord:
        self._conn.execute(
            "INSERT INTO trades (app_id, out_trade_no, trade_no, subject, total_fen, status, notify_url, return_url,"
            " created_at, expires_at) VALUES (?, ?, ?, ?, ?, 'WAIT_BUYER_PAY', ?, ?, ?, ?)",
            (
                app_id,
                out_trade_no,
                trade_no,
                subject,
                total_fen,
                notify_url,
                return_url,
                _ts(created_at),
                _ts(expires_at),
            ),
        )
        trade = self.trade_by_no(trade_no)
        assert trade is not None
        return trade

    def update_trade(
        self,
        trade_id: int,
        *,
        status: TradeStatus,
        refunded_fen: int,
        buyer_id: str | None,
        paid_at: datetime | None,
        closed_at: datetime | None,
    ) -> None:
        self._conn.execute(
            "UPDATE trades SET status = ?, refunded_fen = ?, buyer_id = ?, paid_at = ?, closed_at = ? WHERE id = ?",
            (status.value, refunded_fen, buyer_id, _ts_or_none(paid_at), _ts_or_none(closed_at), trade_id),
        )

    def refund_by_request(self, trade_id: int, out_request_no: str) -> RefundRecord | None:
        row = self._conn.execute(
            "SELECT * FROM refunds WHERE trade_id = ? AND out_request_no = ?", (trade_id, out_request_no)
        ).fetchone()
        return _refund(row) if row else None

    def insert_refund(
        self, *, trade_id: int, out_request_no: str, refund_fen: int, total_refunded_fen: int, reason: str, at: datetime
    ) -> RefundRecord:
        self._conn.execute(
            "INSERT INTO refunds (trade_id, out_request_no, refund_fen, total_refunded_fen, reason, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (trade_id, out_request_no, refund_fen, total_refunded_fen, reason, _ts(at)),
        )
        refund = self.refund_by_request(trade_id, out_request_no)
        assert refund is not None
        return refund

    def insert_notification(
        self, *, notify_id: str, trade_id: int, notify_url: str, params: dict[str, str], at: datetime
    ) -> None:
        """Queue a notification; its first attempt is due at once (none when there is no notify_url)."""
        self._conn.execute(
            "INSERT INTO notifications (notify_id, trade_id, notify_url, params, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                notify_id,
                trade_id,
                notify_url,
                json.dumps(params, ensure_ascii=False),
                _ts(at) if notify_url else None,
                _ts(at),
            ),
        )


class SandboxStore:
    """The SQLite file behind the sandbox; safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")  # a payment log: a committed trade survives power loss
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[WalletTx]:
        """One writing transaction: BEGIN IMMEDIATE takes SQLite's write lock up front."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield WalletTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def notifications(
        self, *, out_trade_no: str | None = None, app_id: str | None = None, limit: int = 500
    ) -> list[NotificationRecord]:
        """Notifications in the order they were produced, optionally for one out_trade_no and/or app."""
        where: list[str] = []
        args: list[Any] = []
        if out_trade_no is not None:
            where.append("t.out_trade_no = ?")
            args.append(out_trade_no)
        if app_id is not None:
            where.append("t.app_id = ?")
            args.append(app_id)
        sql = "SELECT n.*, t.out_trade_no FROM notifications n JOIN trades t ON t.id = n.trade_id"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY n.created_at, n.rowid LIMIT ?", (*args, limit)).fetchall()
        return [_notification(r) for r in rows]

    def due_notifications(self, now: datetime, *, limit: int = 100) -> list[NotificationRecord]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT n.*, t.out_trade_no FROM notifications n JOIN trades t ON t.id = n.trade_id"
                " WHERE n.delivered_at IS NULL AND n.next_attempt_at IS NOT NULL AND n.next_attempt_at <= ?"
                " ORDER BY n.next_attempt_at, n.rowid LIMIT ?",
                (_ts(now), limit),
            ).fetchall()
        return [_notification(r) for r in rows]

    def record_attempt(
        self, notify_id: str, *, at: datetime, delivered: bool, next_attempt_at: datetime | None, error: str
    ) -> None:
        """Count one delivery attempt: delivered, or failed with the time of the next one (None: give up)."""
        with self._lock:
            self._conn.execute(
                "UPDATE notifications SET attempts = attempts + 1, delivered_at = ?, next_attempt_at = ?,"
                " last_error = ? WHERE notify_id = ?",
                (_ts(at) if delivered else None, _ts_or_none(next_attempt_at), error[:500], notify_id),
            )

    def refunds_of(self, trade_id: int) -> list[RefundRecord]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM refunds WHERE trade_id = ? ORDER BY id", (trade_id,)).fetchall()
        return [_refund(r) for r in rows]


def _ts(at: datetime) -> str:
    # One fixed UTC format, so text order is time order in SQL comparisons.
    return require_aware(at).astimezone(UTC).isoformat(timespec="microseconds")


def _ts_or_none(at: datetime | None) -> str | None:
    return None if at is None else _ts(at)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _trade(row: sqlite3.Row) -> TradeRecord:
    return TradeRecord(
        id=row["id"],
        app_id=row["app_id"],
        out_trade_no=row["out_trade_no"],
        trade_no=row["trade_no"],
        subject=row["subject"],
        total_fen=row["total_fen"],
        refunded_fen=row["refunded_fen"],
        status=TradeStatus(row["status"]),
        buyer_id=row["buyer_id"],
        notify_url=row["notify_url"],
        return_url=row["return_url"],
        created_at=datetime.fromisoformat(row["created_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
        paid_at=_time(row["paid_at"]),
        closed_at=_time(row["closed_at"]),
    )


def _refund(row: sqlite3.Row) -> RefundRecord:
    return RefundRecord(
        id=row["id"],
        trade_id=row["trade_id"],
        out_request_no=row["out_request_no"],
        refund_fen=row["refund_fen"],
        total_refunded_fen=row["total_refunded_fen"],
        reason=row["reason"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _notification(row: sqlite3.Row) -> NotificationRecord:
    return NotificationRecord(
        notify_id=row["notify_id"],
        trade_id=row["trade_id"],
        out_trade_no=row["out_trade_no"],
        notify_url=row["notify_url"],
        params=json.loads(row["params"]),
        attempts=row["attempts"],
        next_attempt_at=_time(row["next_attempt_at"]),
        delivered_at=_time(row["delivered_at"]),
        last_error=row["last_error"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )
