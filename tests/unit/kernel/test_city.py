"""The Hangzhou pilot city: its data loads, its districts and windows behave, bad data is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from yaodao.cities import available_cities, load_city
from yaodao.kernel.city import City, city_from_data
from yaodao.kernel.errors import NotFound, ValidationFailed
from yaodao.kernel.geo import LatLng, haversine_km, wgs84_to_gcj02

# From hangzhou_districts_summary.csv (GCJ-02 centroids and areas of the 13 divisions).
CENTROIDS = {
    "330102": ("上城区", 120.2190, 30.2889, 120.3),
    "330105": ("拱墅区", 120.1610, 30.3290, 98.9),
    "330106": ("西湖区", 120.0836, 30.2007, 311.7),
    "330108": ("滨江区", 120.1853, 30.1804, 71.2),
    "330109": ("萧山区", 120.3128, 30.1067, 998.9),
    "330110": ("余杭区", 119.9142, 30.3668, 946.5),
    "330111": ("富阳区", 119.8397, 29.9949, 1828.7),
    "330112": ("临安区", 119.3438, 30.2015, 3114.0),
    "330113": ("临平区", 120.2453, 30.4300, 285.1),
    "330114": ("钱塘区", 120.5250, 30.3152, 522.8),
    "330122": ("桐庐县", 119.5541, 29.8304, 1838.7),
    "330127": ("淳安县", 118.8889, 29.6077, 4428.4),
    "330182": ("建德市", 119.3727, 29.4805, 2328.9),
}
DOWNTOWN = ("330102", "330105", "330106", "330108")


@pytest.fixture(scope="module")
def hangzhou() -> City:
    return load_city("hangzhou")


def small_city_data() -> dict[str, Any]:
    """A valid 2 km square city, to break one field at a time."""
    square = [[120.15, 30.25], [120.17, 30.25], [120.17, 30.27], [120.15, 30.27], [120.15, 30.25]]
    return {
        "id": "square",
        "name_zh": "方城",
        "name_en": "Square",
        "timezone": "Asia/Shanghai",
        "datum": "gcj02",
        "service_area": {"type": "Polygon", "coordinates": [square]},
        "windows": [
            {"name": "day", "start": "07:00", "end": "22:00", "promise_minutes": 30},
            {"name": "night", "start": "22:00", "end": "07:00", "promise_minutes": 60},
        ],
        "speed_kmh_by_hour": [18.0] * 24,
    }


def test_hangzhou_loads_with_its_thirteen_divisions(hangzhou: City) -> None:
    """The pilot city loads from the package with its names, timezone, datum and 13 divisions."""
    assert (hangzhou.id, hangzhou.name_zh, hangzhou.name_en) == ("hangzhou", "杭州", "Hangzhou")
    assert (hangzhou.timezone, hangzhou.datum) == ("Asia/Shanghai", "gcj02")
    assert {d.code: d.name_zh for d in hangzhou.districts} == {code: c[0] for code, c in CENTROIDS.items()}
    assert all(d.name_en and d.name_en != d.code for d in hangzhou.districts)
    assert len(hangzhou.service_area) == 1
    assert len(hangzhou.service_area[0]) == 4623


def test_hangzhou_is_listed_and_loaded_once() -> None:
    """available_cities lists the shipped city, and load_city hands back the same parsed object."""
    assert "hangzhou" in available_cities()
    assert load_city("hangzhou") is load_city("hangzhou")


@pytest.mark.parametrize("city_id", ["atlantis", "../hangzhou", "hangzhou/city.json"])
def test_an_unknown_city_is_not_found(city_id: str) -> None:
    """Only shipped city folders load; a path in the id does not escape the package."""
    with pytest.raises(NotFound) as err:
        load_city(city_id)
    assert err.value.field == "city_id"


@pytest.mark.parametrize("code", sorted(CENTROIDS))
def test_every_district_centroid_lies_in_its_own_district_and_the_service_area(hangzhou: City, code: str) -> None:
    """Each published centroid is inside its own division, in no other, and inside the city."""
    _, lng, lat, _ = CENTROIDS[code]
    point = LatLng(lat, lng)
    assert hangzhou.contains(point)
    district = hangzhou.district_of(point)
    assert district is not None
    assert district.code == code
    assert [d.code for d in hangzhou.districts if d.contains(point)] == [code]


def test_points_outside_hangzhou_are_outside_the_service_area(hangzhou: City) -> None:
    """Shanghai's People's Square and Ningbo's Sanjiangkou are not served from Hangzhou."""
    for point in (LatLng(31.2304, 121.4737), LatLng(29.8750, 121.5550)):
        assert not hangzhou.contains(point)
        assert hangzhou.district_of(point) is None


def test_downtown_districts_are_the_densest_per_square_kilometre(hangzhou: City) -> None:
    """District weights make Shangcheng, Gongshu, Xihu and Binjiang denser than every other division."""
    density = {d.code: d.weight / CENTROIDS[d.code][3] for d in hangzhou.districts}
    least_downtown = min(density[c] for c in DOWNTOWN)
    assert all(density[c] < least_downtown for c in density if c not in DOWNTOWN)
    rural = ("330122", "330127", "330182")
    assert max(density[c] for c in rural) < min(density[c] for c in density if c not in rural)


def test_the_day_window_at_14_00_local_promises_30_minutes(hangzhou: City) -> None:
    """14:00 in Hangzhou is 06:00 UTC: the day window, a 30-minute promise."""
    at = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    assert hangzhou.window_at(at).name == "day"
    assert hangzhou.promise_minutes(at) == 30


def test_the_night_window_at_23_40_local_promises_60_minutes(hangzhou: City) -> None:
    """23:40 in Hangzhou is 15:40 UTC: the night window, a 60-minute promise."""
    at = datetime(2026, 3, 10, 15, 40, tzinfo=UTC)
    assert hangzhou.window_at(at).name == "night"
    assert hangzhou.promise_minutes(at) == 60


@pytest.mark.parametrize(
    ("utc_hour", "utc_minute", "window"),
    [(23, 0, "day"), (13, 59, "day"), (14, 0, "night"), (22, 59, "night")],
)
def test_windows_switch_at_07_00_and_22_00_local(hangzhou: City, utc_hour: int, utc_minute: int, window: str) -> None:
    """Day starts at 07:00 local (23:00 UTC the evening before) and night at 22:00 local (14:00 UTC)."""
    assert hangzhou.window_at(datetime(2026, 3, 10, utc_hour, utc_minute, tzinfo=UTC)).name == window


def test_a_naive_time_is_refused(hangzhou: City) -> None:
    """A promise is arithmetic on aware times; a naive datetime is a bug, not a local time."""
    with pytest.raises(ValueError, match="timezone-aware"):
        hangzhou.promise_minutes(datetime(2026, 3, 10, 14, 0))  # noqa: DTZ001


def test_couriers_ride_slower_in_the_rush_hours_than_at_night(hangzhou: City) -> None:
    """Speeds dip in the 07-09 and 17-19 rush hours and are highest at night."""
    speeds = hangzhou.speed_kmh_by_hour
    rush = [speeds[h] for h in (7, 8, 9, 17, 18, 19)]
    assert max(rush) < min(speeds[h] for h in (0, 1, 2, 3, 4, 23))
    assert max(rush) < min(speeds[h] for h in (10, 11, 12, 13, 14, 15, 16))
    assert hangzhou.speed_kmh(datetime(2026, 3, 10, 0, 30, tzinfo=UTC)) == speeds[8]  # 08:30 local
    assert hangzhou.detour_factor == 1.3


def break_windows_overlapping(data: dict[str, Any]) -> None:
    data["windows"][0]["end"] = "23:00"


def break_windows_leaving_a_gap(data: dict[str, Any]) -> None:
    data["windows"][0]["end"] = "21:00"


def break_ring_closure(data: dict[str, Any]) -> None:
    data["service_area"]["coordinates"][0].pop()


def break_timezone(data: dict[str, Any]) -> None:
    data["timezone"] = "Asia/Hangzhou"


def break_speeds(data: dict[str, Any]) -> None:
    data["speed_kmh_by_hour"] = [18.0] * 23


@pytest.mark.parametrize(
    ("breakage", "field"),
    [
        (break_windows_overlapping, "windows"),
        (break_windows_leaving_a_gap, "windows"),
        (break_ring_closure, "service_area[0]"),
        (break_timezone, "timezone"),
        (break_speeds, "speed_kmh_by_hour"),
    ],
)
def test_bad_city_data_is_refused_naming_the_field(breakage: Callable[[dict[str, Any]], None], field: str) -> None:
    """Overlapping or gapped windows, an unclosed ring, an unknown timezone and 23 speeds each fail."""
    data = small_city_data()
    city_from_data(data)  # valid before the breakage
    breakage(data)
    with pytest.raises(ValidationFailed) as err:
        city_from_data(data)
    assert err.value.field == field
    assert field in str(err.value)


def test_a_phone_fix_on_the_hubin_lakeshore_lands_in_shangcheng_only_after_conversion(hangzhou: City) -> None:
    """A WGS-84 GPS fix read as GCJ-02 lies about 520 m north-west: here, out in West Lake.

    The fix is on the east shore of West Lake at Hubin (湖滨), 180 m inland in Shangcheng. Read
    raw, it falls in the lake, which belongs to Xihu District. Converted to GCJ-02, it lands
    back in Shangcheng.
    """
    gps_fix = LatLng(30.2570, 120.1570)
    raw = hangzhou.district_of(gps_fix)
    assert raw is not None
    assert raw.code == "330106"
    converted = wgs84_to_gcj02(gps_fix)
    assert (round(converted.lng, 4), round(converted.lat, 4)) == (120.1617, 30.2547)
    district = hangzhou.district_of(converted)
    assert district is not None
    assert district.code == "330102"


@pytest.mark.parametrize("code", sorted(CENTROIDS))
def test_the_gcj02_shift_near_hangzhou_is_about_half_a_kilometre_east_and_south(code: str) -> None:
    """At every division centroid the datum shift moves a point 0.4-0.6 km, to the east and south."""
    _, lng, lat, _ = CENTROIDS[code]
    gps = LatLng(lat, lng)
    shifted = wgs84_to_gcj02(gps)
    assert 0.4 <= haversine_km(gps, shifted) <= 0.6
    assert shifted.lng > gps.lng
    assert shifted.lat < gps.lat
