"""Why a delivery missed its promise: one cause per late delivery, from its timeline.

The minutes from the clock start (payment, or pharmacist approval for Rx) to the door split into
preparation (until the order is ready), the courier wait (ready until picked up), and the ride
(picked up until delivered). The ride splits again into the direct ride the model promised, the
detour for earlier drop-offs of the same bundle, and the time travel took beyond the model.

* If preparation plus the direct ride could never fit the promise, the delivery was lost before
  dispatch had a say: ``PHARMACY_SLOW`` when preparation is the larger part, ``OUT_OF_REACH``
  when the ride alone is (the address is too far from that pharmacy for the promise).
* Otherwise the largest of the lost minutes names the cause: the pharmacy finishing later than it
  said (``PHARMACY_SLOW``), the courier reaching the pharmacy after the order was ready
  (``NO_COURIER_NEAR``), the bundle's earlier drop-offs (``BUNDLE_DETOUR``), or travel slower than
  modelled (``TRAVEL_LONGER_THAN_MODELLED``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from yaodao.kernel.clock import require_aware


class LateCause(enum.StrEnum):
    PHARMACY_SLOW = "pharmacy_slow"
    OUT_OF_REACH = "out_of_reach"
    NO_COURIER_NEAR = "no_courier_near"
    BUNDLE_DETOUR = "bundle_detour"
    TRAVEL_LONGER_THAN_MODELLED = "travel_longer_than_modelled"


@dataclass(frozen=True, slots=True)
class DeliveryTimeline:
    """One delivery as it happened, with what the model expected of it.

    ``direct_ride_minutes`` is the modelled pickup-to-door time of this order alone, services
    included; ``ride_overrun_minutes`` is how much longer its legs took than modelled;
    ``expected_ready_at`` is when the pharmacy said the order would be ready (``None``: as it was).
    """

    clock_start: datetime
    promise_minutes: float
    ready_at: datetime
    picked_up_at: datetime
    delivered_at: datetime
    direct_ride_minutes: float
    ride_overrun_minutes: float = 0.0
    expected_ready_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("clock_start", "ready_at", "picked_up_at", "delivered_at"):
            require_aware(getattr(self, name))
        if self.promise_minutes <= 0:
            raise ValueError("promise_minutes must be positive.")
        if self.direct_ride_minutes < 0:
            raise ValueError("direct_ride_minutes must be >= 0.")


def late_cause_minutes(
    *,
    promise: float,
    prep: float,
    courier_wait: float,
    ride: float,
    direct_ride: float,
    ride_overrun: float = 0.0,
    ready_delay: float = 0.0,
) -> LateCause | None:
    """The cause of lateness from the timeline's parts in minutes; ``None`` when on time."""
    if prep + courier_wait + ride <= promise + 1e-9:
        return None
    if prep - ready_delay + direct_ride > promise + 1e-9:  # even the expected preparation could not fit
        return LateCause.PHARMACY_SLOW if prep >= direct_ride else LateCause.OUT_OF_REACH
    detour = max(0.0, ride - direct_ride - max(0.0, ride_overrun))
    lost = {
        LateCause.PHARMACY_SLOW: max(0.0, ready_delay),
        LateCause.NO_COURIER_NEAR: max(0.0, courier_wait),
        LateCause.BUNDLE_DETOUR: detour,
        LateCause.TRAVEL_LONGER_THAN_MODELLED: max(0.0, ride_overrun),
    }
    return max(lost, key=lambda cause: lost[cause])  # ties: the first listed, dict order is stable


def late_cause(timeline: DeliveryTimeline) -> LateCause | None:
    """The cause of a late delivery, or ``None`` when it kept its promise."""

    def minutes(a: datetime, b: datetime) -> float:
        return (b - a).total_seconds() / 60.0

    expected = timeline.expected_ready_at or timeline.ready_at
    return late_cause_minutes(
        promise=timeline.promise_minutes,
        prep=minutes(timeline.clock_start, timeline.ready_at),
        courier_wait=minutes(timeline.ready_at, timeline.picked_up_at),
        ride=minutes(timeline.picked_up_at, timeline.delivered_at),
        direct_ride=timeline.direct_ride_minutes,
        ride_overrun=timeline.ride_overrun_minutes,
        ready_delay=max(0.0, minutes(expected, timeline.ready_at)),
    )
