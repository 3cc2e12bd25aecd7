"""Leases: which process runs a background loop (a city's dispatcher, the consultation matcher).

With several server processes on one database, each loop must run in one of them, or the
dispatcher plans every city twice and the matcher offers a consultation twice. A loop asks
``hold(name)`` before each pass and skips the pass when another process holds the lease.

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) per lease, on one
  connection of its own kept open in autocommit (an idle transaction would hold back the
  server's horizon). The lock lives as long as that session: a process that dies, or whose
  connection is cut, frees its leases and another process takes them at its next pass. Session
  locks need a direct connection: a transaction-pooling pgbouncer in between breaks them.
* SQLite (one machine): an exclusive ``flock`` on a file per lease beside the database file,
  freed by the kernel when the process ends.
* An in-memory database has one process: every lease is held.

A lease is checked before a pass, not during it: a process that loses its lease mid-pass
finishes that pass while another may start one. The loops tolerate that (the dispatcher leaves
a delivery someone else changed meanwhile alone).
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
from pathlib import Path
from typing import IO, Protocol

import structlog
from sqlalchemy import Connection, Engine, text

log = structlog.get_logger(__name__)


class Leases(Protocol):
    def hold(self, name: str) -> bool:
        """Take or keep the lease ``name``; True while this process holds it."""
        ...

    def release_all(self) -> None: ...


def lease_key(name: str) -> int:
    """A signed 64-bit advisory lock key for ``name`` (stable across processes and versions)."""
    return int.from_bytes(hashlib.sha256(f"yaodao:{name}".encode()).digest()[:8], "big", signed=True)


class PostgresLeases:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def hold(self, name: str) -> bool:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                if name in self._held:
                    self._conn.execute(text("SELECT 1"))  # the session, and so its lock, is still there
                    return True
                taken = bool(
                    self._conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": lease_key(name)}).scalar_one()
                )
            except Exception as error:  # the session is gone, and its locks with it
                log.warning("lease_session_lost", lease=name, error=str(error))
                self._drop()
                return False
            if taken:
                self._held.add(name)
                log.info("lease_taken", lease=name)
            return taken

    def release_all(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        self._held.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # closes the session outright: the server frees every advisory lock it held
                conn.close()
            except Exception:  # already gone
                log.debug("lease_session_close_failed", exc_info=True)


class FileLeases:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._files: dict[str, IO[bytes]] = {}
        self._lock = threading.Lock()

    def hold(self, name: str) -> bool:
        with self._lock:
            if name in self._files:
                return True
            self._folder.mkdir(parents=True, exist_ok=True)
            path = self._folder / (hashlib.sha256(name.encode()).hexdigest()[:16] + ".lock")
            handle = path.open("ab")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # another process holds it
                handle.close()
                return False
            self._files[name] = handle
            log.info("lease_taken", lease=name)
            return True

    def release_all(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()  # closing the file frees the lock
            self._files.clear()


class SoleProcess:
    """Every lease is held: a database no other process can open (SQLite in memory)."""

    def hold(self, name: str) -> bool:
        return True

    def release_all(self) -> None:
        return None


def build_leases(engine: Engine) -> Leases:
    if engine.dialect.name == "postgresql":
        return PostgresLeases(engine)
    database = engine.url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        return FileLeases(Path(database + ".leases"))
    return SoleProcess()
