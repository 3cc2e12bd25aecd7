"""Engines for SQLite (embedded) and PostgreSQL (at scale), configured for safe concurrency."""

from __future__ import annotations

import select
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

READ_ONLY = "yaodao.read_only"


@contextmanager
def read_only_connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose transactions only read: on SQLite a plain BEGIN, not BEGIN IMMEDIATE, so it
    neither waits for nor holds up a writer. Its transaction is rolled back when it closes."""
    with engine.connect() as conn:
        conn.info[READ_ONLY] = True
        try:
            yield conn
            conn.rollback()
        finally:
            conn.info.pop(READ_ONLY, None)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite file (``var/`` on a fresh clone) before anything opens it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def build_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine for ``url``: SQLite gets WAL and serialised writers, PostgreSQL a pool."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        ensure_sqlite_dir(url)
        engine = create_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=2 * pool_size,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        _serialise_sqlite_writers(engine)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, echo=echo, pool_size=pool_size, max_overflow=2 * pool_size)
    _ping_when_the_server_spoke(engine)
    return engine


def _ping_when_the_server_spoke(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip on every checkout.

    ``pool_pre_ping`` sends ``SELECT 1`` each time a connection leaves the pool: a third of a
    search's round trips. A pooled connection is idle, so the server has nothing to say to it
    unless it is going away (a restart, ``pg_terminate_backend``, an idle timeout: each sends an
    error and closes the socket) or, rarely, reports a setting or a notice. So the socket is
    polled without waiting, and only a connection with something to read is pinged; one that is
    broken or fails the ping is replaced (the pool retries the checkout with a new connection).
    """

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_conn.closed or dbapi_conn.broken:
            raise DisconnectionError("the connection was closed")
        try:
            readable, _, _ = select.select([dbapi_conn.pgconn.socket], [], [], 0)
        except (OSError, ValueError) as exc:
            raise DisconnectionError("the connection's socket is gone") from exc
        if not readable:
            return
        try:
            dbapi_conn.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as exc:
            raise DisconnectionError("the server closed the connection") from exc


def _serialise_sqlite_writers(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN until the first write, so two
    # read-then-write transactions can both read stale rows. Take the write lock at BEGIN:
    # SQLite has no SELECT ... FOR UPDATE, and BEGIN IMMEDIATE is what serialises writers.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Read-only units of work (marked by the unit of work) keep WAL's concurrent readers.
        conn.exec_driver_sql("BEGIN" if conn.info.get(READ_ONLY) else "BEGIN IMMEDIATE")
