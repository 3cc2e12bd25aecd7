"""Travel times: the haversine model and the reach bound the spatial prefilter relies on."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yaodao.dispatch.travel import HaversineTravelTimes, TravelTimes
from yaodao.kernel.city import City, ServiceWindow
from yaodao.kernel.geo import LatLng, haversine_km

SHANGHAI = ZoneInfo("Asia/Shanghai")
SPEEDS = tuple(float(10 + h) for h in range(24))  # 10 km/h at 00:xx local, 33 km/h at 23:xx
CITY = City(
    id="squareville",
    name_zh="方城",
    name_en="Squareville",
    timezone="Asia/Shanghai",
    datum="gcj02",
    service_area=(((120.0, 30.0), (120.1, 30.0), (120.1, 30.1), (120.0, 30.1), (120.0, 30.0)),),
    windows=(
        ServiceWindow("day", time(7, 0), time(22, 0), 30),
        ServiceWindow("night", time(22, 0), time(7, 0), 60),
    ),
    speed_kmh_by_hour=SPEEDS,
    detour_factor=1.4,
)
A, B = LatLng(30.01, 120.01), LatLng(30.08, 120.07)


def test_minutes_are_distance_times_detour_over_the_speed_of_the_local_hour() -> None:
    """At 09:15 in Shanghai the speed is SPEEDS[9]; 01:15 UTC is the same instant."""
    travel = HaversineTravelTimes(CITY)
    expected = haversine_km(A, B) * 1.4 / SPEEDS[9] * 60
    assert travel.minutes(A, B, datetime(2025, 6, 1, 9, 15, tzinfo=SHANGHAI)) == pytest.approx(expected)
    assert travel.minutes(A, B, datetime(2025, 6, 1, 1, 15, tzinfo=UTC)) == pytest.approx(expected)


def test_the_speed_follows_the_hour_from_one_call_to_the_next() -> None:
    """The one-entry memo never answers a different instant with a stale speed."""
    travel = HaversineTravelTimes(CITY)
    slow = travel.minutes(A, B, datetime(2025, 6, 1, 0, 30, tzinfo=SHANGHAI))
    fast = travel.minutes(A, B, datetime(2025, 6, 1, 23, 30, tzinfo=SHANGHAI))
    assert slow == pytest.approx(fast * SPEEDS[23] / SPEEDS[0])
    assert travel.minutes(A, B, datetime(2025, 6, 1, 0, 30, tzinfo=SHANGHAI)) == slow


def test_the_same_point_is_zero_minutes_away() -> None:
    """No ride, no time."""
    assert HaversineTravelTimes(CITY).minutes(A, A, datetime(2025, 6, 1, 12, tzinfo=SHANGHAI)) == 0.0


def test_max_speed_is_the_fastest_hour_of_the_city() -> None:
    """A time-independent bound for callers that do not know the hour."""
    assert HaversineTravelTimes(CITY).max_speed_kmh == 33.0


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    origin=st.builds(LatLng, st.floats(29.9, 30.2), st.floats(119.9, 120.2)),
    destination=st.builds(LatLng, st.floats(29.9, 30.2), st.floats(119.9, 120.2)),
    at=st.datetimes(
        min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - naive bounds, aware values via timezones=
        max_value=datetime(2025, 12, 31),  # noqa: DTZ001
        timezones=st.just(SHANGHAI),
    ),
)
def test_anything_reachable_in_n_minutes_is_within_max_reach_km(
    origin: LatLng, destination: LatLng, at: datetime
) -> None:
    """minutes(o, d, at) <= m implies haversine(o, d) <= max_reach_km(m, at), even at m == minutes."""
    travel = HaversineTravelTimes(CITY)
    ride = travel.minutes(origin, destination, at)
    assert haversine_km(origin, destination) <= travel.max_reach_km(ride, at)
    assert haversine_km(origin, destination) <= travel.max_reach_km(math.ceil(ride), at)


def test_max_reach_km_inverts_minutes() -> None:
    """30 minutes at 20 km/h with a 1.4 detour covers 10 / 1.4 km as the crow flies."""
    at = datetime(2025, 6, 1, 10, 0, tzinfo=SHANGHAI)  # SPEEDS[10] == 20
    assert HaversineTravelTimes(CITY).max_reach_km(30, at) == pytest.approx(10 / 1.4)


@pytest.mark.parametrize("minutes", [-1.0, math.inf, math.nan])
def test_max_reach_km_refuses_negative_or_infinite_minutes(minutes: float) -> None:
    """Only a finite budget has a reach."""
    with pytest.raises(ValueError, match="minutes"):
        HaversineTravelTimes(CITY).max_reach_km(minutes, datetime(2025, 6, 1, 10, tzinfo=SHANGHAI))


def test_naive_times_are_refused() -> None:
    """The local hour of a naive time is unknowable."""
    with pytest.raises(ValueError, match="timezone-aware"):
        HaversineTravelTimes(CITY).minutes(A, B, datetime(2025, 6, 1, 10))  # noqa: DTZ001


def test_the_haversine_model_is_a_travel_times_port() -> None:
    """It satisfies the Protocol an OSRM adapter will also implement."""
    travel: TravelTimes = HaversineTravelTimes(CITY)
    assert travel.minutes(A, B, datetime(2025, 6, 1, 10, tzinfo=SHANGHAI)) > 0
