"""The generated Hangzhou pharmacy network: deterministic, inside its districts, realistic."""

from __future__ import annotations

import re
from collections import Counter
from datetime import time

import pytest

from yaodao.catalog.model import Pharmacy
from yaodao.catalog.network import (
    BRANDS,
    DISTRICT_CORES,
    DISTRICT_ROADS,
    NetworkParams,
    StoreFormat,
    generate_pharmacies,
    is_cold_chain_capable,
    store_format,
)
from yaodao.cities import load_city
from yaodao.kernel.city import City, city_from_data
from yaodao.kernel.errors import ValidationFailed
from yaodao.kernel.geo import LatLng

DOWNTOWN = {"330102", "330105", "330106", "330108"}  # Shangcheng, Gongshu, Xihu, Binjiang
RURAL = {"330122", "330127", "330182"}  # Tonglu, Chun'an, Jiande
AREA_KM2 = {
    "330102": 120.3,
    "330105": 98.9,
    "330106": 311.7,
    "330108": 71.2,
    "330109": 998.9,
    "330110": 946.5,
    "330111": 1828.7,
    "330112": 3114.0,
    "330113": 285.1,
    "330114": 522.8,
    "330122": 1838.7,
    "330127": 4428.4,
    "330182": 2328.9,
}


@pytest.fixture(scope="module")
def hangzhou() -> City:
    return load_city("hangzhou")


@pytest.fixture(scope="module")
def network(hangzhou: City) -> list[Pharmacy]:
    return generate_pharmacies(hangzhou, seed=2026, params=NetworkParams())


def test_the_same_seed_gives_the_identical_network(hangzhou: City, network: list[Pharmacy]) -> None:
    """Generation is a pure function of city, seed and params."""
    assert generate_pharmacies(hangzhou, seed=2026, params=NetworkParams()) == network


def test_another_seed_gives_another_network(hangzhou: City, network: list[Pharmacy]) -> None:
    """The seed matters: other locations and names, with the same ids and size."""
    other = generate_pharmacies(hangzhou, seed=2027, params=NetworkParams())
    assert [p.id for p in other] == [p.id for p in network]
    assert [p.location for p in other] != [p.location for p in network]


def test_every_pharmacy_lies_inside_the_city_and_its_own_district(hangzhou: City, network: list[Pharmacy]) -> None:
    """Rejection sampling keeps each store inside the service area and the district it is filed under."""
    for p in network:
        assert hangzhou.contains(p.location), p.name
        district = hangzhou.district_of(p.location)
        assert district is not None, p.name
        assert district.code == p.district_code, p.name


def test_the_network_has_the_requested_size_and_stable_ids(network: list[Pharmacy]) -> None:
    """180 stores by default, ids ph-hangzhou-0001 upward, licence numbers in the Zhejiang format, all distinct."""
    assert len(network) == 180
    assert [p.id for p in network] == [f"ph-hangzhou-{i:04d}" for i in range(1, 181)]
    assert all(re.fullmatch(r"浙CA5710\d{4}", p.licence_no) for p in network)
    assert len({p.licence_no for p in network}) == 180
    assert len({p.name for p in network}) == 180
    assert all(p.city_id == "hangzhou" and p.active for p in network)


def test_every_district_gets_stores_and_downtown_is_densest(network: list[Pharmacy]) -> None:
    """Each division has at least two stores; per km² the four downtown districts beat every other."""
    counts = Counter(p.district_code for p in network)
    assert set(counts) == set(AREA_KM2)
    assert min(counts.values()) >= 2
    density = {code: counts[code] / area for code, area in AREA_KM2.items()}
    assert min(density[c] for c in DOWNTOWN) > max(density[c] for c in density if c not in DOWNTOWN)
    assert max(density[c] for c in RURAL) < 0.005


def test_rural_stores_cluster_around_their_town_centre(hangzhou: City, network: list[Pharmacy]) -> None:
    """Most of Chun'an's stores are in Qiandaohu town, though the county spans 4,400 km²."""
    town = DISTRICT_CORES["330127"][0]
    chunan = [p for p in network if p.district_code == "330127"]
    near = [p for p in chunan if abs(p.location.lng - town.lng) < 0.1 and abs(p.location.lat - town.lat) < 0.1]
    assert len(near) >= len(chunan) - 1


def test_24_hour_stores_are_mostly_downtown_with_one_in_each_populous_district(
    hangzhou: City, network: list[Pharmacy]
) -> None:
    """24 round-the-clock stores: more than half downtown, and every district with ≥ 4 % of the weight has one."""
    all_night = [p for p in network if p.open_24h]
    assert len(all_night) == 24
    assert sum(p.district_code in DOWNTOWN for p in all_night) > 12
    total_weight = sum(d.weight for d in hangzhou.districts)
    populous = {d.code for d in hangzhou.districts if d.weight / total_weight >= 0.04}
    assert populous >= DOWNTOWN | {"330109", "330110", "330113"}  # and Xiaoshan, Yuhang, Linping
    assert populous <= {p.district_code for p in all_night}
    assert all(p.is_open_at(time(3, 0)) for p in all_night)


def test_other_stores_keep_day_hours(network: list[Pharmacy]) -> None:
    """Stores that are not 24-hour open 07:30-08:00 and close 21:00-22:30, mostly 08:00-22:00."""
    day_stores = [p for p in network if not p.open_24h]
    assert all(time(7, 30) <= p.hours.open <= time(8, 0) for p in day_stores)
    assert all(time(21, 0) <= p.hours.close <= time(22, 30) for p in day_stores)
    assert not any(p.is_open_at(time(3, 0)) for p in day_stores)
    usual = Counter((p.hours.open, p.hours.close) for p in day_stores).most_common(1)[0][0]
    assert usual == (time(8, 0), time(22, 0))


def test_stores_look_like_real_hangzhou_chain_stores(hangzhou: City, network: list[Pharmacy]) -> None:
    """Names are brand(road店) with a real road of the district; addresses read 杭州市<district><road><n>号."""
    districts = {d.code: d for d in hangzhou.districts}
    brands = {b.name for b in BRANDS}
    for p in network:
        assert p.district_code is not None
        district = districts[p.district_code]
        match = re.fullmatch(r"(.+)\((.+?)(?:[二三四五六七八九十]|\d+)?店\)", p.name)
        assert match is not None, p.name
        assert match.group(1) == p.brand
        assert p.brand in brands
        road = match.group(2)
        assert road in DISTRICT_ROADS[p.district_code], p.name
        assert re.fullmatch(rf"杭州市{district.name_zh}{road}\d+号", p.address), p.address
        assert 4 <= p.prep_minutes <= 10
    assert len({p.brand for p in network}) >= 8


def test_heritage_tcm_houses_stay_downtown(network: list[Pharmacy]) -> None:
    """张同泰, 方回春堂 and 胡庆余堂 open only in the downtown districts."""
    heritage = {b.name for b in BRANDS if b.downtown_only}
    assert heritage == {"张同泰", "方回春堂", "胡庆余堂国药号"}
    assert all(p.district_code in DOWNTOWN for p in network if p.brand in heritage)


def test_about_thirty_percent_of_stores_have_a_fridge_and_formats_are_flagged(network: list[Pharmacy]) -> None:
    """cold_chain_share 0.3 flags 54 of 180 stores; each store has a format, 15 % flagships."""
    assert sum(is_cold_chain_capable(p) for p in network) == 54
    formats = Counter(store_format(p) for p in network)
    assert formats[StoreFormat.FLAGSHIP] == 27
    assert formats[StoreFormat.COMMUNITY] > 0
    assert formats[StoreFormat.STANDARD] > 0


def test_stores_without_flags_count_as_standard_and_without_a_fridge(network: list[Pharmacy]) -> None:
    """A store loaded from elsewhere, with an empty extra, has no cold chain and a standard format."""
    p = network[0]
    bare = Pharmacy(
        id="ph-x",
        city_id=p.city_id,
        name=p.name,
        brand=p.brand,
        district_code=p.district_code,
        address=p.address,
        location=p.location,
        open_24h=False,
        hours=p.hours,
        prep_minutes=5,
        licence_no=p.licence_no,
    )
    assert not is_cold_chain_capable(bare)
    assert store_format(bare) is StoreFormat.STANDARD


@pytest.mark.parametrize("code", sorted(DISTRICT_CORES))
def test_every_hand_written_core_lies_in_its_district(hangzhou: City, code: str) -> None:
    """The urban cores of each division are inside it, so stores cluster where the town really is."""
    for core in DISTRICT_CORES[code]:
        district = hangzhou.district_of(LatLng(core.lat, core.lng))
        assert district is not None, core.name
        assert district.code == code, core.name
    assert 5 <= len(DISTRICT_ROADS[code]) <= 12


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"total": 0}, "total"),
        ({"total": 10, "min_24h": 11}, "min_24h"),
        ({"share_24h": 1.5}, "share_24h"),
        ({"cold_chain_share": -0.1}, "cold_chain_share"),
        ({"min_per_district": -1}, "min_per_district"),
        ({"prep_minutes_min": 11}, "prep_minutes_min"),
        ({"licence_prefix": " "}, "licence_prefix"),
    ],
)
def test_bad_params_are_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    """NetworkParams validates itself when built."""
    with pytest.raises(ValidationFailed) as err:
        NetworkParams(**changes)  # type: ignore[arg-type]
    assert err.value.field == field


def test_too_few_stores_for_the_districts_are_refused(hangzhou: City) -> None:
    """13 divisions with at least 2 stores each need a total of 26 or more."""
    with pytest.raises(ValidationFailed) as err:
        generate_pharmacies(hangzhou, seed=1, params=NetworkParams(total=25, min_24h=3))
    assert err.value.field == "total"
    assert len(generate_pharmacies(hangzhou, seed=1, params=NetworkParams(total=26, min_24h=3))) == 26


def test_a_city_without_districts_gets_stores_inside_its_service_area() -> None:
    """Districts are optional: stores then carry no district code and common road names."""
    square = [[120.15, 30.25], [120.17, 30.25], [120.17, 30.27], [120.15, 30.27], [120.15, 30.25]]
    city = city_from_data(
        {
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
    )
    pharmacies = generate_pharmacies(city, seed=3, params=NetworkParams(total=12, min_24h=2))
    assert len(pharmacies) == 12
    assert all(city.contains(p.location) and p.district_code is None for p in pharmacies)
    assert all(p.address.startswith("方城市") for p in pharmacies)
