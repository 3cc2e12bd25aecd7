"""The outbox relay: publishes committed events to the bus's work handlers, at least once, in order.

Several relays may share the table (one per process): on PostgreSQL ``FOR UPDATE SKIP LOCKED``
hands each row to one of them. On SQLite the relay reads, publishes outside any transaction (a
work handler writes, and SQLite has one writer) and then marks, so two relays would both publish
what they read: there one process at a time relays, the holder of the ``outbox-relay`` lease
(see ``leases.py``; another process takes it over when the holder ends). Handlers must be
idempotent (they may see an event again after a crash between publish and mark).

The caches of every process need every event, not one process's share: the relay drives this
process's ``OutboxFollower`` (see ``follower.py``) alongside, waking it with itself after a local
commit and letting ``drain()`` catch it up, so one process sees its own changes at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, RowMapping, select, update

from yaodao.adapters.db import tables as t
from yaodao.adapters.db.engine import read_only_connection
from yaodao.adapters.db.follower import OutboxFollower
from yaodao.adapters.db.leases import Leases
from yaodao.kernel.clock import Clock
from yaodao.messagebus import MessageBus

log = structlog.get_logger(__name__)

RELAY_LEASE = "outbox-relay"


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        bus: MessageBus,
        clock: Clock,
        *,
        batch_size: int = 200,
        follower: OutboxFollower | None = None,
        leases: Leases | None = None,
    ) -> None:
        self._engine = engine
        self.follower = follower
        self._leases = leases  # SQLite: who relays (None: this process)
        self._draining = threading.Lock()  # the loop and drain() in one process take turns
        self._bus = bus
        self._clock = clock
        self._batch = batch_size
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def drain(self, *, follow: bool = True) -> int:
        """Publish every unpublished event, then (``follow``) catch the follower up; returns how many were published.

        The loop passes ``follow=False``: the follower has a loop of its own.
        """
        total = 0
        if self._engine.dialect.name == "postgresql" or self._leases is None or self._leases.hold(RELAY_LEASE):
            with self._draining:
                while True:
                    n = self._publish_batch()
                    total += n
                    if n < self._batch:
                        break
        if follow and self.follower is not None:
            self.follower.catch_up()
        return total

    def _publish_batch(self) -> int:
        stmt = (
            select(t.outbox.c.id, t.outbox.c.event_id, t.outbox.c.topic, t.outbox.c.city_id, t.outbox.c.payload)
            .where(t.outbox.c.published_at.is_(None))
            .order_by(t.outbox.c.id)
            .limit(self._batch)
        )
        if self._engine.dialect.name == "postgresql":
            # Row locks hand each event to one relay; handlers' own writes touch other rows.
            with self._engine.begin() as conn:
                rows = conn.execute(stmt.with_for_update(skip_locked=True)).mappings().all()
                self._publish(rows)
                self._mark(conn, rows)
            return len(rows)
        # SQLite has one writer: a handler that writes (the search reindex) must not wait on a
        # transaction held open around it. Read, publish outside any transaction, then mark.
        with read_only_connection(self._engine) as conn:
            rows = conn.execute(stmt).mappings().all()
        self._publish(rows)
        with self._engine.begin() as conn:
            self._mark(conn, rows)
        return len(rows)

    def _publish(self, rows: Sequence[RowMapping]) -> None:
        for row in rows:
            message: dict[str, Any] = {
                "event_id": row["event_id"],
                "topic": row["topic"],
                "city_id": row["city_id"],
                "payload": row["payload"],
            }
            self._bus.publish(message)

    def _mark(self, conn: Connection, rows: Sequence[RowMapping]) -> None:
        if rows:
            conn.execute(
                update(t.outbox)
                .where(t.outbox.c.id.in_([r["id"] for r in rows]))
                .values(published_at=self._clock.now(), attempts=t.outbox.c.attempts + 1)
            )

    def wake(self) -> None:
        self._wake.set()
        if self.follower is not None:
            self.follower.wake()

    def start(self, interval_s: float = 1.0) -> None:
        if self.follower is not None:
            self.follower.start(interval_s)

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.drain(follow=False)
                except Exception:  # keep relaying after a transient database error
                    log.exception("outbox_relay_failed")
                self._wake.wait(interval_s)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.follower is not None:
            self.follower.stop()
