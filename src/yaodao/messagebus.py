"""The in-process message bus: topic -> handlers. A failing handler is logged; the others still run.

Two kinds of subscriber, because the platform may run as several processes on one database:

* work handlers (``subscribe(topic, handler)``) act on the database or the outside world (a refund,
  a delivery row). Each event must reach them once across all processes, so only the outbox
  relay calls them (``publish``), and the relays share the outbox so that one of them takes each
  event.
* cache handlers (``subscribe(topic, handler, every_process=True)``) keep a process's in-memory
  views fresh (availability, cities, the search catalog). Every process holds its own copy, so
  every process must see every event: each process's outbox follower calls them (``broadcast``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

Message = dict[str, Any]
Handler = Callable[[Message], None]


class MessageBus:
    def __init__(self) -> None:
        self._work: dict[str, list[Handler]] = defaultdict(list)
        self._caches: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler, *, every_process: bool = False) -> None:
        """Subscribe a work handler (once per event across processes) or, with ``every_process``, a cache handler."""
        (self._caches if every_process else self._work)[topic].append(handler)

    def publish(self, message: Message) -> None:
        """Run the work handlers of ``message``'s topic (the relay's side)."""
        self._run(self._work, message)

    def broadcast(self, message: Message) -> None:
        """Run the cache handlers of ``message``'s topic (every process's follower)."""
        self._run(self._caches, message)

    @staticmethod
    def _run(handlers: dict[str, list[Handler]], message: Message) -> None:
        for handler in handlers.get(message["topic"], ()):
            try:
                handler(message)
            except Exception:
                log.exception("event_handler_failed", topic=message["topic"], event_id=message["event_id"])
