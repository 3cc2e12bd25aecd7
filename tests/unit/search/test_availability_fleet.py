"""The availability index with the live fleet's reach: max(prep, reach) + ride + handover, or the model."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unit.search.test_availability import (
    CENTRE,
    CITIES,
    CITY,
    LATE,
    NOON,
    PRODUCTS,
    baskets,
    lats,
    lngs,
    networks,
    north_of,
    pharmacy,
    stock,
    times,
)
from yaodao.catalog.model import Pharmacy
from yaodao.dispatch.fleet import FleetReach
from yaodao.dispatch.travel import HaversineTravelTimes
from yaodao.kernel.city import City
from yaodao.kernel.errors import ValidationFailed
from yaodao.kernel.geo import LatLng
from yaodao.search.availability import (
    FLEET,
    MODEL,
    AvailabilityIndex,
    AvailabilityParams,
    Offer,
    OutsideServiceArea,
    scan_availability,
)

PARAMS = AvailabilityParams(handover_minutes=5)


def reach(minutes: dict[str, float], at: datetime = NOON, *, city: City = CITY, max_age_s: float = 60.0) -> FleetReach:
    return FleetReach(city_id=city.id, at=at, minutes=minutes, couriers=1, max_age_s=max_age_s)


def index_and_scan(
    pharmacies: list[Pharmacy], fleet: FleetReach | None, address: LatLng, at: datetime, horizon: int | None = None
) -> list[Offer]:
    rows = {p.id: {"ibuprofen": 5} for p in pharmacies}
    travel = HaversineTravelTimes(CITY)
    index = AvailabilityIndex.build(CITY, pharmacies, stock(rows), travel, PARAMS)
    index.set_fleet(fleet)
    got = index.query(address, {"ibuprofen": 1}, at, promise_minutes=horizon)
    expected = scan_availability(
        city=CITY, pharmacies=pharmacies, stock=rows, travel=travel, params=PARAMS, address=address,
        basket={"ibuprofen": 1}, at=at, promise_minutes=horizon, fleet=fleet,
    )  # fmt: skip
    assert got == expected
    return got


def test_a_courier_farther_than_the_prep_time_pushes_the_eta_out() -> None:
    shop = pharmacy("a", CENTRE, prep=5)
    address = north_of(CENTRE, 1.0)  # 1 km x 1.3 / 20 km/h = 3.9 min ride
    model = index_and_scan([shop], None, address, NOON)
    assert [(o.eta_minutes, o.eta_basis) for o in model] == [(14, MODEL)]  # ceil(5 + 3.9 + 5)
    near = index_and_scan([shop], reach({"a": 2.0}), address, NOON)
    assert [(o.eta_minutes, o.eta_basis) for o in near] == [(14, FLEET)]  # the pack is the later one
    far = index_and_scan([shop], reach({"a": 12.5}), address, NOON)
    assert [(o.eta_minutes, o.eta_basis, o.within_promise) for o in far] == [(22, FLEET, True)]  # ceil(12.5+3.9+5)


def test_a_reach_past_the_promise_takes_the_offer_out_of_the_promise_or_out_altogether() -> None:
    shop = pharmacy("a", CENTRE, prep=5)
    address = north_of(CENTRE, 1.0)
    later = index_and_scan([shop], reach({"a": 25.0}), address, NOON, horizon=60)
    assert [(o.eta_minutes, o.within_promise) for o in later] == [(34, False)]
    assert index_and_scan([shop], reach({"a": 25.0}), address, NOON) == []  # not within the 30 min promise


def test_no_courier_able_to_reach_means_no_offer_while_the_reach_is_fresh() -> None:
    shops = [pharmacy("a", CENTRE, prep=5), pharmacy("b", north_of(CENTRE, 2.0), prep=5)]
    address = north_of(CENTRE, 1.0)
    offers = index_and_scan(shops, reach({"a": math.inf, "b": 1.0}), address, NOON, horizon=120)
    assert [o.pharmacy_id for o in offers] == ["b"]
    # A pharmacy the reach does not name is one no courier can reach.
    assert index_and_scan(shops, reach({"b": 1.0}), address, NOON) == offers


def test_a_stale_reach_or_none_falls_back_to_the_model() -> None:
    shop = pharmacy("a", CENTRE, prep=5)
    address = north_of(CENTRE, 1.0)
    model = index_and_scan([shop], None, address, NOON)
    assert model[0].eta_basis == MODEL
    stale = reach({"a": math.inf}, NOON - timedelta(seconds=61))
    assert index_and_scan([shop], stale, address, NOON) == model
    fresh = reach({"a": math.inf}, NOON - timedelta(seconds=59))
    assert index_and_scan([shop], fresh, address, NOON) == []


def test_set_fleet_none_clears_and_another_citys_reach_is_refused() -> None:
    shop = pharmacy("a", CENTRE, prep=5)
    index = AvailabilityIndex.build(CITY, [shop], stock({"a": {"ibuprofen": 5}}), HaversineTravelTimes(CITY), PARAMS)
    index.set_fleet(reach({"a": math.inf}))
    assert index.fleet is not None
    assert index.query(CENTRE, {"ibuprofen": 1}, NOON) == []
    index.set_fleet(None)
    assert index.fleet is None
    assert index.query(CENTRE, {"ibuprofen": 1}, NOON)[0].eta_basis == MODEL
    with pytest.raises(ValidationFailed) as caught:
        index.set_fleet(FleetReach(city_id="elsewhere", at=NOON, minutes={}, couriers=0, max_age_s=60))
    assert caught.value.field == "city_id"


def test_best_offers_follow_the_fleet_too() -> None:
    shops = [pharmacy("a", CENTRE, prep=5), pharmacy("b", north_of(CENTRE, 3.0), prep=5)]
    rows = {"a": {"ibuprofen": 5}, "b": {"ibuprofen": 5}}
    index = AvailabilityIndex.build(CITY, shops, stock(rows), HaversineTravelTimes(CITY), PARAMS)
    address = north_of(CENTRE, 1.0)
    assert index.best_offers(address, ["ibuprofen"], NOON)["ibuprofen"].pharmacy_id == "a"
    index.set_fleet(reach({"a": 20.0, "b": 0.0}))
    best = index.best_offers(address, ["ibuprofen"], NOON)["ibuprofen"]
    assert (best.pharmacy_id, best.eta_basis) == ("b", FLEET)
    assert best == index.query(address, {"ibuprofen": 1}, NOON)[0]


def test_night_reach_keeps_the_sixty_minute_promise() -> None:
    shop = pharmacy("a", CENTRE, prep=5, open_24h=True)
    offers = index_and_scan([shop], reach({"a": 40.0}, LATE), CENTRE, LATE)
    assert [(o.eta_minutes, o.promise_minutes, o.within_promise) for o in offers] == [(45, 60, True)]


reach_minutes = st.one_of(st.just(math.inf), st.floats(0, 90, allow_nan=False), st.integers(0, 40).map(float))


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    city=st.sampled_from(CITIES),
    network=networks(),
    params=st.builds(
        AvailabilityParams,
        h3_resolution=st.integers(5, 9),
        handover_minutes=st.integers(0, 10),
        max_results=st.integers(1, 30),
    ),
    fleet_minutes=st.lists(st.one_of(st.none(), reach_minutes), max_size=40),
    age_s=st.sampled_from([0.0, 30.0, -30.0, 120.0, None]),
    queries=st.lists(
        st.tuples(st.builds(LatLng, lats, lngs), baskets, times, st.one_of(st.none(), st.integers(1, 120))),
        min_size=1,
        max_size=4,
    ),
)
def test_with_a_fleet_reach_the_index_answers_exactly_like_the_scan(
    city: City,
    network: tuple[list[Pharmacy], dict[str, dict[str, int]]],
    params: AvailabilityParams,
    fleet_minutes: list[float | None],
    age_s: float | None,
    queries: list[tuple[LatLng, dict[str, int], datetime, int | None]],
) -> None:
    """Random networks, reaches (some pharmacies unnamed, some unreachable, fresh or stale) and queries."""
    pharmacies, rows = network
    pharmacies = [replace(p, city_id=city.id) for p in pharmacies]
    travel = HaversineTravelTimes(city)
    index = AvailabilityIndex.build(city, pharmacies, stock(rows), travel, params)
    for address, basket, at, horizon in queries:
        fleet = None
        if age_s is not None:
            minutes = {p.id: m for p, m in zip(pharmacies, fleet_minutes, strict=False) if m is not None}
            fleet = FleetReach(city.id, at - timedelta(seconds=age_s), minutes, couriers=1, max_age_s=60.0)
        index.set_fleet(fleet)
        try:
            expected: list[Offer] | type[OutsideServiceArea] = scan_availability(
                city=city, pharmacies=pharmacies, stock=rows, travel=travel, params=params, address=address,
                basket=basket, at=at, promise_minutes=horizon, fleet=fleet,
            )  # fmt: skip
        except OutsideServiceArea:
            expected = OutsideServiceArea
        try:
            got: list[Offer] | type[OutsideServiceArea] = index.query(address, basket, at, promise_minutes=horizon)
        except OutsideServiceArea:
            got = OutsideServiceArea
        assert got == expected
        if isinstance(expected, list):
            fresh = fleet is not None and fleet.fresh_at(at)
            assert all(o.eta_basis == (FLEET if fresh else MODEL) for o in expected)
            for product in PRODUCTS[:3]:
                single = index.query(address, {product: 1}, at, promise_minutes=horizon)
                best = index.best_offers(address, [product], at, promise_minutes=horizon).get(product)
                assert best == (single[0] if single else None)
