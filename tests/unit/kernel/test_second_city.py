"""A second city is added by data alone: Ningbo, from a folder outside the package."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from yaodao.catalog.network import NetworkParams, generate_pharmacies
from yaodao.cities import available_cities, load_city, load_city_from_dir
from yaodao.kernel.city import City
from yaodao.kernel.errors import NotFound
from yaodao.kernel.geo import LatLng

NINGBO_DIR = Path(__file__).parents[2] / "fixtures" / "cities" / "ningbo"


@pytest.fixture(scope="module")
def ningbo() -> City:
    return load_city_from_dir(NINGBO_DIR)


def test_ningbo_loads_from_a_folder_of_data(ningbo: City) -> None:
    """city.json and districts.geojson are all it takes: names, timezone, datum, three districts."""
    assert (ningbo.id, ningbo.name_zh, ningbo.name_en) == ("ningbo", "宁波", "Ningbo")
    assert (ningbo.timezone, ningbo.datum) == ("Asia/Shanghai", "gcj02")
    assert {d.code: (d.name_zh, d.name_en) for d in ningbo.districts} == {
        "330203": ("海曙区", "Haishu District"),
        "330205": ("江北区", "Jiangbei District"),
        "330212": ("鄞州区", "Yinzhou District"),
    }
    assert ningbo.detour_factor == 1.35


def test_a_city_kept_outside_the_package_is_not_listed_as_shipped() -> None:
    """available_cities names only the package's own cities; Ningbo is a deployment's."""
    assert "ningbo" not in available_cities()


def test_a_folder_without_city_json_is_not_found(tmp_path: Path) -> None:
    """load_city_from_dir refuses a folder that holds no city.json."""
    with pytest.raises(NotFound) as err:
        load_city_from_dir(tmp_path)
    assert err.value.field == "path"


def test_ningbo_keeps_its_own_windows(ningbo: City) -> None:
    """At 21:30 local Ningbo's night (60 min) has begun while Hangzhou is still in its day (30 min)."""
    at = datetime(2026, 3, 10, 13, 30, tzinfo=UTC)  # 21:30 in Asia/Shanghai
    assert ningbo.window_at(at).name == "night"
    assert ningbo.promise_minutes(at) == 60
    assert load_city("hangzhou").promise_minutes(at) == 30
    assert ningbo.promise_minutes(datetime(2026, 3, 10, 0, 30, tzinfo=UTC)) == 30  # 08:30 local


def test_ningbo_points_fall_in_the_right_district(ningbo: City) -> None:
    """Sanjiangkou's three banks lie in Jiangbei, Haishu and Yinzhou; Hangzhou is outside."""
    cases = {
        LatLng(29.8950, 121.5500): "330205",
        LatLng(29.8700, 121.5450): "330203",
        LatLng(29.8650, 121.5650): "330212",
    }
    for point, code in cases.items():
        district = ningbo.district_of(point)
        assert district is not None
        assert district.code == code
    assert not ningbo.contains(LatLng(30.2741, 120.1551))


def test_a_pharmacy_network_for_ningbo_lies_inside_the_city_and_its_districts(ningbo: City) -> None:
    """The generator needs no Ningbo code: every store is inside the service area and its district."""
    params = NetworkParams(total=40, min_24h=4, licence_prefix="浙CA5740")
    pharmacies = generate_pharmacies(ningbo, seed=11, params=params)
    assert len(pharmacies) == 40
    for p in pharmacies:
        assert ningbo.contains(p.location), p
        district = ningbo.district_of(p.location)
        assert district is not None
        assert district.code == p.district_code
        assert p.city_id == "ningbo"
        assert p.address.startswith(f"宁波市{district.name_zh}")
        assert p.licence_no.startswith("浙CA5740")
    counts = Counter(p.district_code for p in pharmacies)
    assert counts["330212"] > counts["330203"] > counts["330205"] >= 2  # weights 80 : 60 : 30
    assert sum(p.open_24h for p in pharmacies) == params.count_24h == 5  # 12 % of 40, above min_24h
    assert pharmacies == generate_pharmacies(ningbo, seed=11, params=params)
