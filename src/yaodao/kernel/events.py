"""Domain events: facts in the past tense, written to the outbox in the changing transaction."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from yaodao.kernel.ids import new_id


@dataclass(frozen=True, kw_only=True)
class Event:
    topic: ClassVar[str] = "event"
    event_id: str = field(default_factory=new_id)
    city_id: str | None = None

    def payload(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("event_id")
        data.pop("city_id")
        return data
