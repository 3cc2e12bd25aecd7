"""Position checks: each rule refuses what breaks it and names it; a believable report passes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from yaodao.cities import load_city
from yaodao.delivery.positions import (
    ImplausiblePosition,
    LastAccepted,
    PositionLimits,
    PositionReport,
    StaleReport,
    TooFrequent,
    check_position,
)
from yaodao.kernel.errors import ValidationFailed
from yaodao.kernel.geo import LatLng

HANGZHOU = load_city("hangzhou")
NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
WEST_LAKE = LatLng(30.2587, 120.1485)
LIMITS = PositionLimits()
# Accepted 10 s ago at West Lake as report 7.
LAST = LastAccepted(seq=7, at=NOW - timedelta(seconds=10), where=WEST_LAKE, received_at=NOW - timedelta(seconds=10))


def report(
    seq: int = 8, lat: float = 30.2590, lng: float = 120.1490, at: datetime = NOW, **kw: float
) -> PositionReport:
    return PositionReport(seq=seq, lat=lat, lng=lng, at=at, accuracy_m=kw.get("accuracy_m"))


def check(r: PositionReport, last: LastAccepted = LAST, limits: PositionLimits = LIMITS) -> LatLng:
    return check_position(r, last, city=HANGZHOU, now=NOW, limits=limits)


def test_a_believable_report_is_accepted() -> None:
    """50 m in 10 s, 1 s old, inside Hangzhou, 8 m accuracy: accepted as the reported point."""
    assert check(report(accuracy_m=8.0)) == LatLng(30.2590, 120.1490)


def test_the_first_report_needs_no_history() -> None:
    """With nothing accepted before, any well-formed report inside the city passes (no speed or rate check)."""
    assert check(report(seq=1), LastAccepted(0, None, None, None)) == LatLng(30.2590, 120.1490)


@pytest.mark.parametrize("seq", [7, 3])
def test_a_duplicate_or_older_seq_is_stale(seq: int) -> None:
    """A seq equal to or below the last accepted is a conflict that names seq and says duplicate or older."""
    with pytest.raises(StaleReport) as caught:
        check(report(seq=seq))
    assert caught.value.field == "seq"
    assert ("duplicate" if seq == 7 else "older") in caught.value.message


def test_a_report_more_than_30_s_ahead_of_our_clock_is_refused() -> None:
    """29 s ahead passes (clock drift); 31 s ahead is a wrong clock."""
    check(report(at=NOW + timedelta(seconds=29)))
    with pytest.raises(ImplausiblePosition) as caught:
        check(report(at=NOW + timedelta(seconds=31)))
    assert caught.value.field == "at"


def test_a_report_measured_before_the_last_accepted_is_stale() -> None:
    """A higher seq cannot carry an older measurement."""
    with pytest.raises(StaleReport):
        check(report(at=LAST.at - timedelta(seconds=1)))  # type: ignore[operator]


def test_a_point_outside_the_service_area_is_refused() -> None:
    """Shanghai is not Hangzhou, however plausible the rest of the report."""
    far = LastAccepted(7, NOW - timedelta(hours=3), WEST_LAKE, NOW - timedelta(hours=3))
    with pytest.raises(ImplausiblePosition, match="outside the service area"):
        check(report(lat=31.2397, lng=121.4998), far)


def test_a_teleport_is_refused_and_a_ride_at_the_limit_passes() -> None:
    """1.5 km in 60 s is 90 km/h: at the limit, accepted; 1.6 km in 60 s is above it."""
    last = LastAccepted(7, NOW - timedelta(seconds=60), WEST_LAKE, NOW - timedelta(seconds=60))
    north = 1.49 / 111.195  # degrees of latitude for 1.49 km
    check(report(lat=WEST_LAKE.lat + north, lng=WEST_LAKE.lng), last)
    with pytest.raises(ImplausiblePosition, match="km/h"):
        check(report(lat=WEST_LAKE.lat + 1.6 / 111.195, lng=WEST_LAKE.lng), last)


def test_a_second_report_within_two_seconds_is_too_frequent() -> None:
    """Received 0.5 s after the last accepted one: 429 with a whole-second Retry-After of at least 1."""
    last = LastAccepted(7, NOW - timedelta(seconds=5), WEST_LAKE, NOW - timedelta(milliseconds=500))
    with pytest.raises(TooFrequent) as caught:
        check(report(), last)
    assert caught.value.retry_after_s == 2
    check(report(), LastAccepted(7, NOW - timedelta(seconds=5), WEST_LAKE, NOW - timedelta(seconds=2)))


@pytest.mark.parametrize(
    ("lat", "lng", "accuracy", "field"),
    [
        (math.nan, 120.1490, None, "lat"),
        (30.2590, math.inf, None, "lng"),
        (91.0, 120.1490, None, "lat"),
        (30.2590, 120.1490, -1.0, "accuracy_m"),
        (30.2590, 120.1490, 501.0, "accuracy_m"),
        (30.2590, 120.1490, math.nan, "accuracy_m"),
    ],
)
def test_malformed_numbers_are_invalid(lat: float, lng: float, accuracy: float | None, field: str) -> None:
    """Non-finite or out-of-range coordinates and insane accuracies are 422s naming the field."""
    r = PositionReport(seq=8, lat=lat, lng=lng, at=NOW, accuracy_m=accuracy)
    with pytest.raises(ValidationFailed) as caught:
        check(r)
    assert caught.value.field == field


def test_a_naive_time_or_a_zero_seq_is_invalid() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check(report(at=NOW.replace(tzinfo=None)))
    assert caught.value.field == "at"
    with pytest.raises(ValidationFailed) as caught:
        check(report(seq=0), LastAccepted(0, None, None, None))
    assert caught.value.field == "seq"


def test_limits_validate_themselves() -> None:
    with pytest.raises(ValueError, match="max_speed_kmh"):
        PositionLimits(max_speed_kmh=0)
    with pytest.raises(ValueError, match="max_accuracy_m"):
        PositionLimits(max_accuracy_m=-5)
