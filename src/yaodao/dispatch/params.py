"""The planner's parameters: one frozen object, validated on construction.

Costs are in "minutes of a customer's wait": one minute an order waits at the pharmacy after it is
ready, or rides longer because of a bundle, costs ``wait_weight`` / ``detour_weight``; a minute past
the promise costs ``late_weight`` on top. The defaults are the ones the MDRP benchmark measured best
(see docs/benchmarks.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

Sequencer = Literal["exact", "pyvrp"]


@dataclass(frozen=True, slots=True)
class PlannerParams:
    tick_seconds: float = 20.0  # how often the dispatcher plans; a commit is due when waiting a tick would be late
    pickup_service_minutes: float = 4.0  # at the pharmacy: half before the handover, half after
    dropoff_service_minutes: float = 4.0  # at the door: half before the handover, half after
    lookahead_minutes: float = 60.0  # couriers free later than this are left out of the tick
    wait_weight: float = 1.0  # per minute an order is ready but not yet picked up
    detour_weight: float = 1.0  # per minute an order rides longer than alone
    late_weight: float = 1.0  # per minute past the promise, on top of the above
    travel_weight: float = 0.1  # per courier minute (riding, handing over) when couriers are plentiful
    congestion_weight: float = 0.5  # added per courier minute for each open order per usable courier beyond one
    pay_weight: float = 10.0  # per order given to a courier beyond its guaranteed pay (CourierState.guarantee_left)
    keep_weight: float = 2.0  # bonus for keeping an order with the courier it was given to last tick
    regret_rank: int = 2  # an unmatched order is valued at its cost with its regret_rank-th best courier
    no_alternative_minutes: float = 30.0  # ... or at its best cost plus this, when fewer couriers can take it
    match_bonus: float = 1.0  # every order served now is worth this much
    rematch_rounds: int = 3  # re-match after revaluing orders whose runner-up couriers the matching took
    max_bundle_orders: int = 10  # orders per bundle (1 turns bundling off); courier capacity limits it too
    merge_passes: int = 1  # passes of moving orders between bundles of one pharmacy
    bundle_slack_minutes: float = 10.0  # an order joins a bundle only if ready at most this long after its pickup
    commit_lead_minutes: float = 0.0  # commit this much earlier than the last moment
    exact_sequence_limit: int = 5  # drop-off orders of bundles up to this size are enumerated
    sequencer: Sequencer = "exact"  # "pyvrp" sequences bundles above the limit with PyVRP
    pyvrp_iterations: int = 200  # iteration limit per PyVRP solve (deterministic, unlike a time limit)

    def __post_init__(self) -> None:
        problems: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"{f.name} must be a finite number.")
        if self.tick_seconds <= 0:
            problems.append("tick_seconds must be positive.")
        for name in (
            "pickup_service_minutes",
            "dropoff_service_minutes",
            "wait_weight",
            "detour_weight",
            "late_weight",
            "travel_weight",
            "congestion_weight",
            "keep_weight",
            "pay_weight",
            "no_alternative_minutes",
            "match_bonus",
            "bundle_slack_minutes",
            "commit_lead_minutes",
        ):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0.")
        if self.lookahead_minutes <= 0:
            problems.append("lookahead_minutes must be positive.")
        if self.rematch_rounds < 0:
            problems.append("rematch_rounds must be >= 0.")
        if self.merge_passes < 0:
            problems.append("merge_passes must be >= 0.")
        if self.regret_rank < 1:
            problems.append("regret_rank must be >= 1.")
        if self.max_bundle_orders < 1:
            problems.append("max_bundle_orders must be >= 1.")
        if not 1 <= self.exact_sequence_limit <= 7:
            problems.append("exact_sequence_limit must be between 1 and 7 (7! sequences).")
        if self.sequencer not in ("exact", "pyvrp"):
            problems.append("sequencer must be 'exact' or 'pyvrp'.")
        if self.pyvrp_iterations < 1:
            problems.append("pyvrp_iterations must be >= 1.")
        if problems:
            raise ValueError(" ".join(problems))

    @property
    def tick_minutes(self) -> float:
        return self.tick_seconds / 60.0
