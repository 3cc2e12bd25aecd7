"""Nearby availability: the H3 index answers exactly like the brute-force scan.

The city here is "Squareville": a 0.1 x 0.1 degree square (about 10 x 11 km) in Asia/Shanghai,
30 min by day (07:00-22:00), 60 min at night, 20 km/h by day and 30 km/h at night.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import replace
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yaodao.catalog.model import OpeningHours, Pharmacy, StockLevel
from yaodao.dispatch.travel import HaversineTravelTimes
from yaodao.kernel.city import City, ServiceWindow
from yaodao.kernel.errors import NotFound, ValidationFailed
from yaodao.kernel.geo import LatLng, haversine_km
from yaodao.search.availability import (
    AvailabilityIndex,
    AvailabilityParams,
    Offer,
    OutsideServiceArea,
    scan_availability,
    stock_table,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
SOUTH, NORTH, WEST, EAST = 30.0, 30.1, 120.0, 120.1
DAY_SPEED, NIGHT_SPEED = 20.0, 30.0


def make_city(*, speeds: tuple[float, ...] | None = None, detour: float = 1.3) -> City:
    square = ((WEST, SOUTH), (EAST, SOUTH), (EAST, NORTH), (WEST, NORTH), (WEST, SOUTH))
    return City(
        id="squareville",
        name_zh="方城",
        name_en="Squareville",
        timezone="Asia/Shanghai",
        datum="gcj02",
        service_area=(square,),
        windows=(
            ServiceWindow("day", time(7, 0), time(22, 0), 30),
            ServiceWindow("night", time(22, 0), time(7, 0), 60),
        ),
        speed_kmh_by_hour=speeds or tuple(DAY_SPEED if 7 <= h < 22 else NIGHT_SPEED for h in range(24)),
        detour_factor=detour,
    )


CITY = make_city()
# A few cities for the property test: building one costs ~15 ms (it checks the timezone).
CITIES = (
    CITY,
    make_city(speeds=tuple(float(5 + 2 * h) for h in range(24)), detour=1.0),
    make_city(speeds=tuple(60.0 if h % 2 else 8.0 for h in range(24)), detour=2.5),
)
CENTRE = LatLng(30.05, 120.05)
NOON = datetime(2025, 3, 14, 12, 0, tzinfo=SHANGHAI)
LATE = datetime(2025, 3, 14, 23, 0, tzinfo=SHANGHAI)


def pharmacy(
    pharmacy_id: str,
    location: LatLng = CENTRE,
    *,
    prep: int = 5,
    open_24h: bool = False,
    hours: tuple[time, time] = (time(8, 0), time(22, 0)),
    active: bool = True,
) -> Pharmacy:
    return Pharmacy(
        id=pharmacy_id,
        city_id="squareville",
        name=f"药房 {pharmacy_id}",
        brand="test",
        district_code=None,
        address="方城路 1 号",
        location=location,
        open_24h=open_24h,
        hours=OpeningHours(*hours),
        prep_minutes=prep,
        licence_no=f"LIC-{pharmacy_id}",
        active=active,
    )


def north_of(point: LatLng, km: float) -> LatLng:
    return LatLng(point.lat + km / 111.195, point.lng)


def stock(rows: dict[str, dict[str, int]]) -> list[StockLevel]:
    return [StockLevel(pid, product, qty) for pid, held in rows.items() for product, qty in held.items()]


def both(
    pharmacies: list[Pharmacy],
    rows: dict[str, dict[str, int]],
    address: LatLng,
    basket: dict[str, int],
    at: datetime,
    *,
    params: AvailabilityParams | None = None,
    promise_minutes: int | None = None,
) -> list[Offer]:
    """The index's answer, after checking the scan gives the same one."""
    params = params or AvailabilityParams()
    travel = HaversineTravelTimes(CITY)
    index = AvailabilityIndex.build(CITY, pharmacies, stock(rows), travel, params)
    got = index.query(address, basket, at, promise_minutes=promise_minutes)
    expected = scan_availability(
        city=CITY,
        pharmacies=pharmacies,
        stock=rows,
        travel=travel,
        params=params,
        address=address,
        basket=basket,
        at=at,
        promise_minutes=promise_minutes,
    )
    assert got == expected
    return got


# --- the property: index == scan ---------------------------------------------------------

PRODUCTS = ("amoxicillin", "ibuprofen", "loratadine", "omeprazole", "vitamin-c", "bandage")
HOURS = (
    (time(8, 0), time(22, 0)),
    (time(7, 30), time(23, 0)),
    (time(21, 0), time(9, 0)),  # night pharmacy, wraps past midnight
    (time(0, 0), time(0, 0)),  # around the clock by hours
)
lats = st.one_of(st.floats(SOUTH - 0.02, NORTH + 0.02), st.sampled_from([SOUTH, NORTH, 30.05]))
lngs = st.one_of(st.floats(WEST - 0.02, EAST + 0.02), st.sampled_from([WEST, EAST, 120.05]))
times = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds with timezones=
    max_value=datetime(2025, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, SHANGHAI]),
)


@st.composite
def networks(draw: st.DrawFn) -> tuple[list[Pharmacy], dict[str, dict[str, int]]]:
    count = draw(st.integers(0, 40))
    pharmacies = [
        pharmacy(
            f"ph{i}",
            LatLng(draw(lats), draw(lngs)),
            prep=draw(st.integers(0, 20)),
            open_24h=draw(st.booleans()),
            hours=draw(st.sampled_from(HOURS)),
            active=draw(st.sampled_from([True, True, True, False])),
        )
        for i in range(count)
    ]
    rows = {
        p.id: draw(st.dictionaries(st.sampled_from(PRODUCTS), st.integers(-1, 5), max_size=len(PRODUCTS)))
        for p in pharmacies
    }
    return pharmacies, rows


baskets = st.dictionaries(st.sampled_from(PRODUCTS), st.integers(1, 3), min_size=1, max_size=3)


@settings(
    max_examples=300,
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
    updates=st.lists(
        st.tuples(st.integers(0, 24), st.sampled_from(PRODUCTS), st.integers(-1, 4), st.booleans()), max_size=5
    ),
    queries=st.lists(
        st.tuples(st.builds(LatLng, lats, lngs), baskets, times, st.one_of(st.none(), st.integers(1, 120))),
        min_size=1,
        max_size=5,
    ),
)
def test_index_answers_exactly_like_the_brute_force_scan(
    city: City,
    network: tuple[list[Pharmacy], dict[str, dict[str, int]]],
    params: AvailabilityParams,
    updates: list[tuple[int, str, int, bool]],
    queries: list[tuple[LatLng, dict[str, int], datetime, int | None]],
) -> None:
    """For random small networks, updates and queries, the index and the scan agree, errors included."""
    pharmacies, rows = network
    travel = HaversineTravelTimes(city)
    index = AvailabilityIndex.build(city, pharmacies, stock(rows), travel, params)
    for position, product, available, active in updates:
        if position >= len(pharmacies):
            continue
        pid = pharmacies[position].id
        index.update_stock(pid, product, available)
        rows[pid][product] = available
        index.set_pharmacy_active(pid, active)
        pharmacies[position] = replace(pharmacies[position], active=active)
    for address, basket, at, horizon in queries:
        try:
            expected: list[Offer] | type[OutsideServiceArea] = scan_availability(
                city=city,
                pharmacies=pharmacies,
                stock=rows,
                travel=travel,
                params=params,
                address=address,
                basket=basket,
                at=at,
                promise_minutes=horizon,
            )
        except OutsideServiceArea:
            expected = OutsideServiceArea
        try:
            got: list[Offer] | type[OutsideServiceArea] = index.query(address, basket, at, promise_minutes=horizon)
        except OutsideServiceArea:
            got = OutsideServiceArea
        assert got == expected
        assert index.contains(address) == city.contains(address)


def dense_network(seed: int, count: int) -> tuple[list[Pharmacy], dict[str, dict[str, int]]]:
    """A seeded network dense enough that the H3 disk prunes most pharmacies."""
    rng = random.Random(seed)
    pharmacies = [
        pharmacy(
            f"d{i}",
            LatLng(rng.uniform(SOUTH - 0.01, NORTH + 0.01), rng.uniform(WEST - 0.01, EAST + 0.01)),
            prep=rng.randint(2, 12),
            open_24h=rng.random() < 0.3,
            hours=rng.choice(HOURS),
        )
        for i in range(count)
    ]
    rows = {p.id: {product: rng.randint(0, 4) for product in PRODUCTS if rng.random() < 0.6} for p in pharmacies}
    return pharmacies, rows


DENSE = dense_network(seed=7, count=300)
DENSE_INDEXES = {
    res: AvailabilityIndex.build(
        CITY, DENSE[0], stock(DENSE[1]), HaversineTravelTimes(CITY), AvailabilityParams(h3_resolution=res)
    )
    for res in (7, 8, 9)
}


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    res=st.sampled_from(sorted(DENSE_INDEXES)),
    address=st.builds(LatLng, st.floats(SOUTH, NORTH), st.floats(WEST, EAST)),
    basket=baskets,
    at=times,
    horizon=st.one_of(st.none(), st.integers(1, 90)),
)
def test_a_dense_network_prunes_by_h3_disk_and_still_answers_like_the_scan(
    res: int, address: LatLng, basket: dict[str, int], at: datetime, horizon: int | None
) -> None:
    """300 pharmacies in Squareville: index == scan, at three H3 resolutions."""
    index = DENSE_INDEXES[res]
    try:
        expected: list[Offer] | type[OutsideServiceArea] = scan_availability(
            city=CITY,
            pharmacies=DENSE[0],
            stock=DENSE[1],
            travel=HaversineTravelTimes(CITY),
            params=index.params,
            address=address,
            basket=basket,
            at=at,
            promise_minutes=horizon,
        )
    except OutsideServiceArea:
        expected = OutsideServiceArea
    try:
        got: list[Offer] | type[OutsideServiceArea] = index.query(address, basket, at, promise_minutes=horizon)
    except OutsideServiceArea:
        got = OutsideServiceArea
    assert got == expected


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    res=st.sampled_from(sorted(DENSE_INDEXES)),
    address=st.builds(LatLng, st.floats(SOUTH, NORTH), st.floats(WEST, EAST)),
    at=times,
    horizon=st.one_of(st.none(), st.integers(1, 90)),
)
def test_best_offers_for_a_page_of_products_equal_one_query_per_product(
    res: int, address: LatLng, at: datetime, horizon: int | None
) -> None:
    """The landing page's one-pass lookup gives each product the offer its own query ranks first."""
    index = DENSE_INDEXES[res]
    if not index.contains(address):
        return
    best = index.best_offers(address, [*PRODUCTS, "not-stocked"], at, promise_minutes=horizon)
    for product in PRODUCTS:
        offers = index.query(address, {product: 1}, at, promise_minutes=horizon)
        if offers:
            assert best[product] == offers[0]
        else:
            assert product not in best
    assert "not-stocked" not in best


def test_the_prefilter_keeps_every_pharmacy_reachable_at_the_edge_of_the_disk() -> None:
    """A deterministic sweep: pharmacies on rings around the address, index == scan at each res."""
    pharmacies = [
        pharmacy(f"r{ring}-{step}", LatLng(30.05 + r * math.sin(a), 120.05 + r * math.cos(a)), prep=0, open_24h=True)
        for ring, r in enumerate((0.005, 0.01, 0.02, 0.03, 0.04, 0.045))
        for step, a in enumerate(2 * math.pi * s / 24 for s in range(24))
    ]
    rows = {p.id: {"ibuprofen": 1} for p in pharmacies}
    for res in (5, 6, 7, 8, 9, 10):
        params = AvailabilityParams(h3_resolution=res, handover_minutes=0, max_results=1000)
        for horizon in (5, 10, 15, 20):
            offers = both(pharmacies, rows, CENTRE, {"ibuprofen": 1}, NOON, params=params, promise_minutes=horizon)
            assert offers, (res, horizon)


# --- the rules, one at a time -------------------------------------------------------------


def test_closed_pharmacies_are_left_out() -> None:
    """At 23:00 a shop open 08:00-22:00 is closed; the 24-hour one next door still delivers."""
    shops = [pharmacy("day-shop"), pharmacy("all-night", north_of(CENTRE, 0.1), open_24h=True)]
    rows = {"day-shop": {"ibuprofen": 5}, "all-night": {"ibuprofen": 5}}
    assert [o.pharmacy_id for o in both(shops, rows, CENTRE, {"ibuprofen": 1}, LATE)] == ["all-night"]
    assert [o.pharmacy_id for o in both(shops, rows, CENTRE, {"ibuprofen": 1}, NOON)] == ["day-shop", "all-night"]


def test_inactive_pharmacies_are_left_out_even_when_open() -> None:
    """A pharmacy taken off the platform offers nothing, whatever its hours."""
    shops = [pharmacy("off", active=False, open_24h=True)]
    assert both(shops, {"off": {"ibuprofen": 5}}, CENTRE, {"ibuprofen": 1}, NOON) == []


def test_out_of_stock_pharmacies_are_left_out() -> None:
    """Zero available, all packs reserved, or fewer packs than asked: no offer."""
    shops = [pharmacy("empty"), pharmacy("reserved"), pharmacy("short"), pharmacy("ok", north_of(CENTRE, 1))]
    levels = [
        StockLevel("empty", "ibuprofen", 0),
        StockLevel("reserved", "ibuprofen", 3, reserved=3),
        StockLevel("short", "ibuprofen", 1),
        StockLevel("ok", "ibuprofen", 2),
    ]
    index = AvailabilityIndex.build(CITY, shops, levels, HaversineTravelTimes(CITY))
    assert [o.pharmacy_id for o in index.query(CENTRE, {"ibuprofen": 2}, NOON)] == ["ok"]
    assert [o.pharmacy_id for o in both(shops, stock_table(levels), CENTRE, {"ibuprofen": 2}, NOON)] == ["ok"]


def test_a_basket_needs_every_line_in_one_store() -> None:
    """Two shops that each hold half the basket offer nothing; the shop holding both does."""
    shops = [pharmacy("a"), pharmacy("b"), pharmacy("both", north_of(CENTRE, 2))]
    rows = {"a": {"ibuprofen": 5}, "b": {"loratadine": 5}, "both": {"ibuprofen": 1, "loratadine": 1}}
    basket = {"ibuprofen": 1, "loratadine": 1}
    assert [o.pharmacy_id for o in both(shops, rows, CENTRE, basket, NOON)] == ["both"]
    assert both(shops, {"a": rows["a"], "b": rows["b"]}, CENTRE, basket, NOON) == []


def test_night_orders_get_the_sixty_minute_promise() -> None:
    """A 24-hour shop 15 km away (about 39 min at 30 km/h) makes the night promise only."""
    far = pharmacy("far", north_of(LatLng(30.0, 120.05), 0.5), open_24h=True)
    address = north_of(LatLng(30.0, 120.05), 0.5 + 9.0)
    rows = {"far": {"ibuprofen": 3}}
    assert both([far], rows, address, {"ibuprofen": 1}, NOON) == []
    (offer,) = both([far], rows, address, {"ibuprofen": 1}, LATE)
    assert offer.promise_minutes == 60
    assert offer.within_promise
    assert 30 < offer.eta_minutes <= 60


def test_the_eta_adds_prep_travel_and_handover_rounded_up() -> None:
    """ETA = prep + haversine x detour / speed x 60 + handover, rounded up to the minute."""
    shop = pharmacy("p", north_of(CENTRE, 3.0), prep=7)
    params = AvailabilityParams(handover_minutes=4)
    (offer,) = both([shop], {"p": {"ibuprofen": 1}}, CENTRE, {"ibuprofen": 1}, NOON, params=params)
    km = haversine_km(shop.location, CENTRE)
    assert offer == Offer(
        pharmacy_id="p",
        eta_minutes=math.ceil(7 + km * 1.3 / DAY_SPEED * 60 + 4),
        distance_km=km,
        open_24h=False,
        promise_minutes=30,
        within_promise=True,
    )
    assert offer.eta_minutes == 23  # 7 prep + 11.7 riding 3 km (x1.3 at 20 km/h) + 4 handover = 22.7


def test_prep_and_handover_can_push_a_near_shop_past_the_promise() -> None:
    """The same shop makes 30 minutes with a quick counter and misses it with a slow one."""
    quick, slow = pharmacy("quick", prep=5), pharmacy("slow", prep=26)
    rows = {"quick": {"ibuprofen": 1}, "slow": {"ibuprofen": 1}}
    assert [o.pharmacy_id for o in both([quick, slow], rows, north_of(CENTRE, 0.5), {"ibuprofen": 1}, NOON)] == [
        "quick"
    ]


def test_asking_for_sixty_minutes_by_day_shows_what_misses_the_promise() -> None:
    """promise_minutes=60 widens the horizon; within_promise still tells the 30-minute offers apart."""
    near, far = pharmacy("near", north_of(CENTRE, 1)), pharmacy("far", north_of(CENTRE, 5.5), prep=10)
    rows = {"near": {"ibuprofen": 1}, "far": {"ibuprofen": 1}}
    assert [o.pharmacy_id for o in both([near, far], rows, CENTRE, {"ibuprofen": 1}, NOON)] == ["near"]
    offers = both([near, far], rows, CENTRE, {"ibuprofen": 1}, NOON, promise_minutes=60)
    assert [(o.pharmacy_id, o.promise_minutes, o.within_promise) for o in offers] == [
        ("near", 30, True),
        ("far", 30, False),
    ]


def test_offers_are_sorted_by_eta_then_distance_and_capped() -> None:
    """Closest ETA first; equal ETAs by distance; never more than max_results."""
    shops = [pharmacy(f"s{i}", north_of(CENTRE, 0.3 * i), prep=10 - i) for i in range(8)]
    rows = {p.id: {"ibuprofen": 1} for p in shops}
    offers = both(shops, rows, CENTRE, {"ibuprofen": 1}, NOON, params=AvailabilityParams(max_results=5))
    assert len(offers) == 5
    assert [(o.eta_minutes, o.distance_km) for o in offers] == sorted((o.eta_minutes, o.distance_km) for o in offers)


def test_an_address_outside_the_service_area_raises_outside_service_area() -> None:
    """Both the index and the scan refuse an address outside Squareville with one error type."""
    shops = [pharmacy("p", open_24h=True)]
    outside = LatLng(NORTH + 0.01, 120.05)
    index = AvailabilityIndex.build(CITY, shops, [StockLevel("p", "ibuprofen", 1)], HaversineTravelTimes(CITY))
    with pytest.raises(OutsideServiceArea) as raised:
        index.query(outside, {"ibuprofen": 1}, NOON)
    assert raised.value.code == "outside_service_area"
    assert raised.value.field == "address"
    with pytest.raises(OutsideServiceArea):
        scan_availability(
            city=CITY,
            pharmacies=shops,
            stock={"p": {"ibuprofen": 1}},
            travel=HaversineTravelTimes(CITY),
            params=AvailabilityParams(),
            address=outside,
            basket={"ibuprofen": 1},
            at=NOON,
        )


def test_the_fast_service_area_check_agrees_with_the_kernel_on_the_boundary() -> None:
    """On the edges and corners, shapely is not asked: the kernel's ray casting decides."""
    index = AvailabilityIndex.build(CITY, [], [], HaversineTravelTimes(CITY))
    edge_points = [LatLng(lat, lng) for lat in (SOUTH, 30.05, NORTH) for lng in (WEST, 120.05, EAST)]
    edge_points += [LatLng(SOUTH - 1e-9, 120.05), LatLng(NORTH - 1e-9, 120.05), LatLng(30.05, EAST + 1e-12)]
    for point in edge_points:
        assert index.contains(point) == CITY.contains(point), point


def test_many_threads_may_ask_a_fresh_index_whether_it_serves_an_address() -> None:
    """GEOS prepared polygons are not thread-safe before their lazy indexes exist: without the
    index's lock this crashes the interpreter (double free) within a few rounds."""
    circle = tuple(
        (120.05 + 0.04 * math.cos(2 * math.pi * k / 2000), 30.05 + 0.04 * math.sin(2 * math.pi * k / 2000))
        for k in range(2001)
    )
    round_city = replace(CITY, service_area=(circle,))
    points = [LatLng(30.05 + 0.001 * k, 120.05) for k in range(50)]
    for _ in range(30):
        index = AvailabilityIndex.build(round_city, [], [], HaversineTravelTimes(round_city))
        barrier = threading.Barrier(16)
        answers: list[list[bool]] = []

        def ask(
            index: AvailabilityIndex = index, barrier: threading.Barrier = barrier, answers: list[list[bool]] = answers
        ) -> None:
            barrier.wait()
            answers.append([index.contains(p) for p in points])

        threads = [threading.Thread(target=ask) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [[k < 40 for k in range(50)]] * 16


def test_update_stock_takes_effect_without_a_rebuild() -> None:
    """Stock arriving adds the shop; selling out removes it; an unknown shop is NotFound."""
    shop = pharmacy("p")
    index = AvailabilityIndex.build(CITY, [shop], [], HaversineTravelTimes(CITY))
    assert index.query(CENTRE, {"ibuprofen": 2}, NOON) == []
    index.update_stock("p", "ibuprofen", 2)
    assert [o.pharmacy_id for o in index.query(CENTRE, {"ibuprofen": 2}, NOON)] == ["p"]
    index.update_stock("p", "ibuprofen", 1)
    assert index.query(CENTRE, {"ibuprofen": 2}, NOON) == []
    index.update_stock("p", "ibuprofen", 0)
    assert index.query(CENTRE, {"ibuprofen": 1}, NOON) == []
    with pytest.raises(NotFound):
        index.update_stock("nope", "ibuprofen", 1)


def test_set_pharmacy_active_takes_effect_without_touching_the_callers_pharmacy() -> None:
    """Deactivating hides the shop, reactivating shows it again; the caller's object is unchanged."""
    shop = pharmacy("p")
    index = AvailabilityIndex.build(CITY, [shop], [StockLevel("p", "ibuprofen", 1)], HaversineTravelTimes(CITY))
    index.set_pharmacy_active("p", False)
    assert index.query(CENTRE, {"ibuprofen": 1}, NOON) == []
    assert shop.active
    index.set_pharmacy_active("p", True)
    assert len(index.query(CENTRE, {"ibuprofen": 1}, NOON)) == 1


def test_the_index_copies_pharmacies_and_follows_only_its_own_updates() -> None:
    """Mutating a Pharmacy after build does not change the index's answers."""
    shop = pharmacy("p")
    index = AvailabilityIndex.build(CITY, [shop], [StockLevel("p", "ibuprofen", 1)], HaversineTravelTimes(CITY))
    shop.active = False
    assert len(index.query(CENTRE, {"ibuprofen": 1}, NOON)) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"h3_resolution": 16}, "h3_resolution"),
        ({"h3_resolution": True}, "h3_resolution"),
        ({"handover_minutes": -1}, "handover_minutes"),
        ({"max_results": 0}, "max_results"),
    ],
)
def test_params_refuse_bad_values_naming_the_field(changes: dict[str, object], field: str) -> None:
    """Each bad parameter fails at construction, and the message names it."""
    with pytest.raises(ValueError, match=field):
        AvailabilityParams(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("basket", "horizon", "field"),
    [
        ({}, None, "basket"),
        ({"ibuprofen": 0}, None, "basket"),
        ({"ibuprofen": 1.5}, None, "basket"),
        ({"ibuprofen": 1}, 0, "promise_minutes"),
    ],
)
def test_bad_baskets_and_horizons_are_refused(basket: dict[str, int], horizon: int | None, field: str) -> None:
    """An empty basket, a line of no packs, or a zero horizon is a validation error."""
    index = AvailabilityIndex.build(CITY, [], [], HaversineTravelTimes(CITY))
    with pytest.raises(ValidationFailed) as raised:
        index.query(CENTRE, basket, NOON, promise_minutes=horizon)
    assert raised.value.field == field


def test_pharmacies_of_another_city_or_twice_over_are_refused() -> None:
    """An index serves one city, and each pharmacy once."""
    stranger = replace(pharmacy("p"), city_id="elsewhere")
    with pytest.raises(ValidationFailed, match="elsewhere"):
        AvailabilityIndex.build(CITY, [stranger], [], HaversineTravelTimes(CITY))
    with pytest.raises(ValidationFailed, match="twice"):
        AvailabilityIndex.build(CITY, [pharmacy("p"), pharmacy("p")], [], HaversineTravelTimes(CITY))


def test_naive_times_are_refused() -> None:
    """A 30-minute promise is arithmetic on aware times."""
    index = AvailabilityIndex.build(
        CITY, [pharmacy("p")], [StockLevel("p", "ibuprofen", 1)], HaversineTravelTimes(CITY)
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        index.query(CENTRE, {"ibuprofen": 1}, NOON.replace(tzinfo=None))


def test_the_index_at_one_instant_answers_the_same_in_any_timezone() -> None:
    """12:00 in Shanghai and 04:00 UTC are the same order time."""
    shop = pharmacy("p")
    rows = {"p": {"ibuprofen": 1}}
    assert both([shop], rows, CENTRE, {"ibuprofen": 1}, NOON) == both(
        [shop], rows, CENTRE, {"ibuprofen": 1}, NOON.astimezone(UTC)
    )
