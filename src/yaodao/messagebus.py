"""The in-process message bus: topic -> handlers. A failing handler is logged; the others still run."""

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
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    def publish(self, message: Message) -> None:
        for handler in self._handlers.get(message["topic"], ()):
            try:
                handler(message)
            except Exception:
                log.exception("event_handler_failed", topic=message["topic"], event_id=message["event_id"])
