"""The outbox follower: every committed event, once, to this process's cache handlers.

The relay hands each event to one process (its work handlers must run once), but every process
keeps its own in-memory views (availability, cities, the search catalog), and each needs every
event. So each process also follows the outbox table by a cursor on ``outbox.id``, independent of
``published_at``, and broadcasts what it reads to the bus's cache handlers, in id order.

On SQLite ids are handed out under the one write lock, so commit order is id order and the
cursor alone is enough. On PostgreSQL ids come from a sequence before commit: a transaction can
commit id 11 while id 10 is still in flight. An id above the cursor that is not visible yet is a
*hole*, re-read on every pass until it shows up (delivered then) or is known never to:

* ``settle_s`` after the hole was seen, the transaction that took the id has surely taken its
  transaction id too (the insert does both within microseconds); the hole notes the server's
  next transaction id (``pg_snapshot_xmax``) at that moment as its horizon;
* once the oldest running transaction (``pg_snapshot_xmin``) is at or past the horizon, the
  transaction that took the id has ended; still invisible, it rolled back and is dropped;
* a hole older than ``max_hole_s`` (a transaction open that long) is not waited for: the views
  are dropped instead, which is always safe.

The follower starts at the current end of the table (the views are built fresh from the
database after that), taking the missing ids of the last ``window`` as holes, since those may
belong to transactions still committing. If it falls more than ``max_lag`` ids behind, or a read
fails, it gives up on catching up: it moves to the end of the table first, then calls
``on_lost`` to drop the views, so a view rebuilt afterwards misses nothing.

Handlers see each event at most once per process. Events of one row (a pharmacy's stock of one
product) arrive in commit order: the transaction that wrote the later value waited on the row
lock of the earlier one before it took its id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, RowMapping, func, select, text

from yaodao.adapters.db import tables as t
from yaodao.adapters.db.engine import read_only_connection
from yaodao.messagebus import MessageBus

log = structlog.get_logger(__name__)

_SNAPSHOT = text(
    "SELECT pg_snapshot_xmin(s)::text, pg_snapshot_xmax(s)::text FROM (SELECT pg_current_snapshot() AS s) AS now"
)


@dataclass(slots=True)
class _Hole:
    seen_at: float  # monotonic seconds
    horizon: int | None = None  # the server's next transaction id once the hole had settled


class OutboxFollower:
    def __init__(
        self,
        engine: Engine,
        bus: MessageBus,
        *,
        on_lost: Callable[[], None],
        batch_size: int = 500,
        max_lag: int = 20_000,
        window: int = 1_000,
        settle_s: float = 1.0,
        max_hole_s: float = 60.0,
        coalesce_s: float = 0.02,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._bus = bus
        self._on_lost = on_lost
        self._batch = batch_size
        self._max_lag = max_lag
        self._window = window
        self._settle_s = settle_s
        self._max_hole_s = max_hole_s
        self._coalesce_s = coalesce_s
        self._now = monotonic
        self._holes_possible = engine.dialect.name == "postgresql"
        self._cursor: int | None = None  # None: to be placed at the end of the table (and the views dropped)
        self._holes: dict[int, _Hole] = {}
        self._lock = threading.Lock()  # one pass at a time: the loop and drain() may both call catch_up
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def cursor(self) -> int | None:
        return self._cursor

    @property
    def holes(self) -> frozenset[int]:
        return frozenset(self._holes)

    def start_at_end(self) -> None:
        """Begin at the current end of the table (before any view is built from the database)."""
        with self._lock:
            try:
                self._place_at_end()
            except Exception as error:  # the database not reachable yet: placed (and views dropped) on the first pass
                log.warning("outbox_follower_not_placed", error=str(error))
                self._cursor = None

    def catch_up(self) -> int:
        """Broadcast every event committed since the last pass; returns how many were broadcast."""
        with self._lock:
            try:
                if self._cursor is None:
                    self._lose("not placed")
                    return 0
                return self._follow()
            except Exception:
                log.exception("outbox_follower_failed")
                self._cursor = None  # the next pass moves to the end and drops the views
                return 0

    def _follow(self) -> int:
        total = 0
        while True:
            assert self._cursor is not None
            with read_only_connection(self._engine) as conn:
                top, xmin, xmax = self._bounds(conn, snapshot=bool(self._holes))
                if top - self._cursor > self._max_lag:
                    behind = top - self._cursor
                    break
                now = self._now()
                # The snapshot's bounds are read before the rows: an id invisible below is
                # invisible to a reader that already knows every older transaction has ended.
                settled = self._settle_holes(now, xmin, xmax)
                appeared = self._read(conn, t.outbox.c.id.in_(sorted(self._holes))) if self._holes else []
                rows = self._read(conn, t.outbox.c.id > self._cursor, limit=self._batch)
            for hole_id in settled | {r["id"] for r in appeared}:
                self._holes.pop(hole_id, None)
            if any(now - hole.seen_at > self._max_hole_s for hole in self._holes.values()):
                self._lose("an event id stayed invisible too long")
                return total
            new_holes = self._gaps(rows)
            if len(new_holes) > self._window:
                self._lose(f"{len(new_holes)} ids missing at once")
                return total
            self._holes.update((i, _Hole(now)) for i in new_holes)
            if rows:
                self._cursor = rows[-1]["id"]
            self._broadcast([*appeared, *rows])
            total += len(appeared) + len(rows)
            if len(rows) < self._batch:
                return total
        self._lose(f"{behind} events behind")
        return total

    def _gaps(self, rows: Sequence[RowMapping]) -> list[int]:
        """Ids between the cursor and the rows read that are not visible (PostgreSQL only: see above)."""
        if not self._holes_possible:
            return []
        assert self._cursor is not None
        missing: list[int] = []
        previous = self._cursor
        for row in rows:
            missing.extend(range(previous + 1, row["id"]))
            previous = row["id"]
        return missing

    def _settle_holes(self, now: float, xmin: int | None, xmax: int | None) -> set[int]:
        """Holes known to have rolled back: invisible after every transaction that could hold them ended."""
        gone: set[int] = set()
        if xmin is None or xmax is None:
            return gone
        for hole_id, hole in self._holes.items():
            if hole.horizon is None and now - hole.seen_at >= self._settle_s:
                hole.horizon = xmax
            if hole.horizon is not None and xmin >= hole.horizon:
                gone.add(hole_id)
        return gone

    def _lose(self, reason: str) -> None:
        """Move to the end of the table, then drop the views: a view rebuilt from here misses nothing."""
        self._place_at_end()
        log.warning("outbox_follower_reset", reason=reason, cursor=self._cursor)
        self._on_lost()

    def _place_at_end(self) -> None:
        with read_only_connection(self._engine) as conn:
            top, _, _ = self._bounds(conn, snapshot=False)
            low = max(top - self._window, 0)
            window = select(t.outbox.c.id).where(t.outbox.c.id > low, t.outbox.c.id <= top)
            seen = set(conn.execute(window).scalars()) if self._holes_possible else set()
        now = self._now()
        self._holes = {i: _Hole(now) for i in range(low + 1, top + 1) if i not in seen} if self._holes_possible else {}
        self._cursor = top

    def _bounds(self, conn: Connection, *, snapshot: bool) -> tuple[int, int | None, int | None]:
        """The table's highest id, and (``snapshot``, PostgreSQL) the running transactions' bounds (xmin, xmax)."""
        top = int(conn.execute(select(func.coalesce(func.max(t.outbox.c.id), 0))).scalar_one())
        if not (snapshot and self._holes_possible):
            return top, None, None
        xmin, xmax = conn.execute(_SNAPSHOT).one()
        return top, int(xmin), int(xmax)

    @staticmethod
    def _read(conn: Connection, where: Any, *, limit: int | None = None) -> Sequence[RowMapping]:
        stmt = (
            select(t.outbox.c.id, t.outbox.c.event_id, t.outbox.c.topic, t.outbox.c.city_id, t.outbox.c.payload)
            .where(where)
            .order_by(t.outbox.c.id)
        )
        return conn.execute(stmt if limit is None else stmt.limit(limit)).mappings().all()

    def _broadcast(self, rows: Sequence[RowMapping]) -> None:
        # Outside any transaction: a cache handler may write (the search reindex), and SQLite has one writer.
        for row in rows:
            self._bus.broadcast(
                {
                    "event_id": row["event_id"],
                    "topic": row["topic"],
                    "city_id": row["city_id"],
                    "payload": row["payload"],
                }
            )

    def wake(self) -> None:
        self._wake.set()

    def start(self, interval_s: float = 1.0) -> None:
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                self.catch_up()
                self._wake.wait(interval_s)
                # A moment for more commits to land: under load one pass then serves many of them.
                self._stop.wait(self._coalesce_s)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="outbox-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        self._thread = None
