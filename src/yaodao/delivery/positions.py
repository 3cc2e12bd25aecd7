"""Is a position report from a courier's phone believable? A pure check with a parameter object.

A report is accepted only if it is well-formed, newer than the last accepted one (by the phone's
sequence number and by its clock), not from the future, inside the city's service area, measured
with a sane accuracy, reachable from the last accepted position at a plausible speed, and not too
soon after the last accepted report. Each refusal names its rule; the service maps it to a status:
stale or duplicate reports are conflicts (409), implausible ones invalid (422), hurried ones 429.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from yaodao.kernel.city import City
from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import Conflict, TooManyRequests, ValidationFailed
from yaodao.kernel.geo import LatLng, haversine_km


@dataclass(frozen=True, slots=True)
class PositionLimits:
    max_future: timedelta = timedelta(seconds=30)  # phone clocks drift; more than this is a wrong clock
    max_speed_kmh: float = 90.0  # faster than any e-bike in traffic: a "teleport"
    max_accuracy_m: float = 500.0  # a fix worse than this says nothing useful about where the courier is
    min_interval: timedelta = timedelta(seconds=2)  # at most one accepted report per courier per interval

    def __post_init__(self) -> None:
        if self.max_future < timedelta(0):
            raise ValueError("max_future must be >= 0.")
        if not self.max_speed_kmh > 0:
            raise ValueError("max_speed_kmh must be positive.")
        if not self.max_accuracy_m > 0:
            raise ValueError("max_accuracy_m must be positive.")
        if self.min_interval < timedelta(0):
            raise ValueError("min_interval must be >= 0.")


@dataclass(frozen=True, slots=True)
class PositionReport:
    seq: int
    lat: float
    lng: float
    at: datetime  # measured on the phone
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class LastAccepted:
    """The courier's last accepted report: the phone's sequence and time, where, and when we received it."""

    seq: int
    at: datetime | None
    where: LatLng | None
    received_at: datetime | None


class StaleReport(Conflict):
    code = "stale_position"


class ImplausiblePosition(ValidationFailed):
    code = "implausible_position"


class TooFrequent(TooManyRequests):
    code = "too_frequent"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, field="at")
        self.retry_after_s = retry_after_s


def check_position(
    report: PositionReport, last: LastAccepted, *, city: City, now: datetime, limits: PositionLimits
) -> LatLng:
    """The reported point if the report may be accepted; otherwise raise the rule it breaks."""
    require_aware(now)
    point = _well_formed(report)
    if report.seq <= last.seq:
        what = "a duplicate of" if report.seq == last.seq else "older than"
        raise StaleReport(
            f"report {report.seq} is {what} the last accepted report ({last.seq}); send a higher seq", field="seq"
        )
    if report.at > now + limits.max_future:
        raise ImplausiblePosition(
            f"the report's time {report.at.isoformat()} is in the future; check the phone's clock", field="at"
        )
    if last.at is not None and report.at < last.at:
        raise StaleReport(f"the report's time is before the last accepted report's ({last.at.isoformat()})", field="at")
    if not city.contains(point):
        raise ImplausiblePosition(f"the position is outside the service area of {city.name_en}", field="lat")
    if report.accuracy_m is not None and not (
        math.isfinite(report.accuracy_m) and 0 <= report.accuracy_m <= limits.max_accuracy_m
    ):
        raise ImplausiblePosition(f"accuracy_m must be from 0 to {limits.max_accuracy_m:g} metres", field="accuracy_m")
    if last.where is not None and last.at is not None:
        km = haversine_km(last.where, point)
        hours = max((report.at - last.at).total_seconds(), 1.0) / 3600.0
        speed = km / hours
        if speed > limits.max_speed_kmh:
            raise ImplausiblePosition(
                f"moving {km:.2f} km since the last report means {speed:.0f} km/h, above the "
                f"{limits.max_speed_kmh:g} km/h limit",
                field="lat",
            )
    if last.received_at is not None and now - last.received_at < limits.min_interval:
        wait = limits.min_interval - (now - last.received_at)
        raise TooFrequent(
            f"at most one position every {limits.min_interval.total_seconds():g} s",
            retry_after_s=max(1, math.ceil(wait.total_seconds())),
        )
    return point


def _well_formed(report: PositionReport) -> LatLng:
    if isinstance(report.seq, bool) or not isinstance(report.seq, int) or report.seq < 1:
        raise ValidationFailed("seq must be a whole number, 1 or more", field="seq")
    try:
        require_aware(report.at)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("at must be a time with its UTC offset", field="at") from exc
    for name, value in (("lat", report.lat), ("lng", report.lng)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValidationFailed(f"{name} must be a finite number", field=name)
    try:
        return LatLng(float(report.lat), float(report.lng))
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="lat" if abs(report.lat) > 90 else "lng") from exc
