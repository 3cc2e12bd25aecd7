"""The promise report: of the orders delivered in a window, how many arrived by their promise, how far the
quote was from the truth, and why the late ones were late."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

UNRECORDED = "unrecorded"  # a late delivery whose cause nobody wrote down


@dataclass(frozen=True, slots=True)
class DeliveredRow:
    order_id: str
    due_at: datetime
    quoted_at: datetime
    delivered_at: datetime
    late_cause: str | None


@dataclass(frozen=True, slots=True)
class PromiseReport:
    n: int
    on_time: int
    on_time_rate: float  # 0.0 with n=0
    gap_p50_min: float  # actual - quoted, minutes; positive: later than quoted
    gap_p90_min: float
    late: int
    late_by_cause: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "n": self.n, "on_time": self.on_time, "on_time_rate": self.on_time_rate,
            "gap_p50_min": self.gap_p50_min, "gap_p90_min": self.gap_p90_min,
            "late": self.late, "late_by_cause": dict(sorted(self.late_by_cause.items())),
        }  # fmt: skip


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's default); 0 if empty."""
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def promise_report(rows: Sequence[DeliveredRow]) -> PromiseReport:
    """On time means delivered at or before ``due_at``; every other row counts as late under its cause."""
    on_time = sum(1 for r in rows if r.delivered_at <= r.due_at)
    gaps = [(r.delivered_at - r.quoted_at).total_seconds() / 60 for r in rows]
    causes = Counter((r.late_cause or UNRECORDED) for r in rows if r.delivered_at > r.due_at)
    n = len(rows)
    return PromiseReport(
        n=n,
        on_time=on_time,
        on_time_rate=round(on_time / n, 4) if n else 0.0,
        gap_p50_min=round(percentile(gaps, 50), 2),
        gap_p90_min=round(percentile(gaps, 90), 2),
        late=n - on_time,
        late_by_cause=dict(causes),
    )
