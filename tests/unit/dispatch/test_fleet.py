"""The live fleet's reach: which couriers can take new work, and how soon one stands at each pharmacy."""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from unit.search.test_availability import make_city
from yaodao.dispatch.fleet import FleetCourier, FleetParams, FleetReach, FleetView, fleet_couriers, fleet_reach
from yaodao.dispatch.plan import Assignment, Plan, Stop, StopKind
from yaodao.dispatch.snapshot import CourierState, CourierStatus, OpenOrder, Snapshot
from yaodao.dispatch.travel_matrix import CityTravelMatrix
from yaodao.kernel.geo import LatLng, haversine_km

CITY = make_city()  # 20 km/h by day, detour 1.3: 3.9 minutes per km
AT = datetime(2025, 3, 14, 4, 0, tzinfo=UTC)  # 12:00 local
PER_KM = 1.3 / 20.0 * 60.0
SHOP = LatLng(30.05, 120.05)
PARAMS = FleetParams(max_age_s=60, min_shift_minutes_left=5)


def north(km: float, of: LatLng = SHOP) -> LatLng:
    return LatLng(of.lat + km / 111.195, of.lng)


def courier(cid: str, position: LatLng, *, shift_h: float = 4, **changes: object) -> CourierState[LatLng]:
    return CourierState(
        id=cid, position=position, status=changes.pop("status", CourierStatus.IDLE),  # type: ignore[arg-type]
        shift_end=AT + timedelta(hours=shift_h), **changes,  # type: ignore[arg-type]
    )  # fmt: skip


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def view(*couriers: FleetCourier, online: int | None = None) -> FleetView:
    return FleetView(CITY.id, AT, tuple(couriers), len(couriers) if online is None else online, PARAMS)


def test_an_idle_courier_reaches_a_pharmacy_in_its_ride_time() -> None:
    snapshot = Snapshot(AT, (), (courier("c1", north(2.0)),))
    found = fleet_couriers(snapshot, Plan(AT, (), ()), PARAMS)
    assert [(c.id, c.free_in_minutes, c.position) for c in found] == [("c1", 0.0, north(2.0))]
    reach = fleet_reach(view(*found), ["a", "b"], [SHOP, north(2.0)], CityTravelMatrix(CITY))
    assert reach is not None
    assert reach.minutes["a"] == pytest.approx(haversine_km(north(2.0), SHOP) * PER_KM)
    assert reach.minutes["b"] == pytest.approx(0.0)
    assert reach.couriers == 1
    assert reach.at == AT
    assert reach.max_age_s == 60


def test_a_busy_courier_is_free_where_its_work_ends_and_the_nearest_arrival_wins() -> None:
    busy = courier(
        "busy", SHOP, status=CourierStatus.DELIVERING, free_at=AT + timedelta(minutes=10), free_position=SHOP
    )
    far = courier("far", north(3.0))
    found = fleet_couriers(Snapshot(AT, (), (far, busy)), Plan(AT, (), ()), PARAMS)
    assert [(c.id, c.free_in_minutes) for c in found] == [("busy", 10.0), ("far", 0.0)]
    reach = fleet_reach(view(*found), ["shop"], [SHOP], CityTravelMatrix(CITY))
    assert reach is not None
    assert reach.minutes["shop"] == pytest.approx(10.0)  # 10 min from the shop beats 11.7 min of riding
    reach = fleet_reach(view(found[1]), ["shop"], [SHOP], CityTravelMatrix(CITY))
    assert reach is not None
    assert reach.minutes["shop"] == pytest.approx(haversine_km(north(3.0), SHOP) * PER_KM)


def test_work_planned_this_tick_keeps_the_courier_busy_until_its_last_drop_off() -> None:
    drop = north(1.0)
    order = OpenOrder(
        id="o1",
        pickup_id="shop",
        pickup=SHOP,
        dropoff=drop,
        placed_at=AT,
        ready_at=AT,
        due_at=AT + timedelta(minutes=30),
    )
    stops = (
        Stop(StopKind.PICKUP, "shop", ("o1",), AT, AT + timedelta(minutes=2), AT + timedelta(minutes=3)),
        Stop(StopKind.DROPOFF, "o1", ("o1",), AT + minutes(7), AT + minutes(8), AT + minutes(9)),
    )
    plan = Plan(AT, (Assignment("c1", ("o1",), stops, AT, True, 1.0),), ())
    found = fleet_couriers(Snapshot(AT, (order,), (courier("c1", SHOP),)), plan, PARAMS)
    assert [(c.free_in_minutes, c.position) for c in found] == [(9.0, drop)]


def test_couriers_near_the_end_of_their_shift_or_offline_do_not_count() -> None:
    couriers = (
        courier("ending", SHOP, shift_h=4 / 60),  # 4 minutes left: under the 5 asked for
        courier("off", SHOP, status=CourierStatus.OFFLINE),
        courier("late", SHOP, status=CourierStatus.DELIVERING, shift_h=0.5, free_at=AT + timedelta(minutes=27),
                free_position=SHOP),
    )  # fmt: skip
    assert fleet_couriers(Snapshot(AT, (), couriers), Plan(AT, (), ()), PARAMS) == ()
    # A courier that could only get to a pharmacy after its shift's last pickup does not reach it.
    soon = FleetCourier("soon", north(2.0), free_in_minutes=0.0, shift_left_minutes=10.0, capacity=3)
    reach = fleet_reach(view(soon), ["near", "far"], [north(2.1), SHOP], CityTravelMatrix(CITY))
    assert reach is not None
    assert reach.minutes["near"] < 1.0
    assert reach.minutes["far"] == math.inf  # 7.8 min of riding, 5 minutes before the shift ends


def test_no_courier_online_is_no_fleet_data_but_none_able_is_an_honest_inf() -> None:
    travel = CityTravelMatrix(CITY)
    assert fleet_reach(view(online=0), ["a"], [SHOP], travel) is None
    reach = fleet_reach(view(online=3), ["a"], [SHOP], travel)
    assert reach is not None
    assert reach.minutes == {"a": math.inf}


def test_a_reach_is_fresh_within_its_age_on_either_side() -> None:
    reach = FleetReach(CITY.id, AT, {}, 0, max_age_s=60)
    assert reach.fresh_at(AT + timedelta(seconds=60))
    assert reach.fresh_at(AT - timedelta(seconds=60))
    assert not reach.fresh_at(AT + timedelta(seconds=61))


@pytest.mark.parametrize("changes", [{"max_age_s": 0}, {"max_age_s": math.inf}, {"min_shift_minutes_left": -1}])
def test_params_refuse_bad_values(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(changes))):
        FleetParams(**changes)


def test_a_thousand_couriers_by_a_thousand_pharmacies_well_under_100_ms() -> None:
    rng = random.Random(7)

    def point() -> LatLng:
        return LatLng(rng.uniform(30.0, 30.1), rng.uniform(120.0, 120.1))

    couriers = tuple(
        FleetCourier(f"c{i}", point(), rng.choice([0.0, rng.uniform(0, 30)]), rng.uniform(0, 240), 3)
        for i in range(1000)
    )
    ids = [f"p{i}" for i in range(1000)]
    locations = [point() for _ in ids]
    travel = CityTravelMatrix(CITY)
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        reach = fleet_reach(view(*couriers), ids, locations, travel)
        best = min(best, time.perf_counter() - started)
    assert best < 0.1
    assert reach is not None
    # Against the definition, for a sample of pharmacies.
    for j in rng.sample(range(1000), 20):
        expected = min(
            (
                c.free_in_minutes + haversine_km(c.position, locations[j]) * PER_KM
                for c in couriers
                if c.free_in_minutes + haversine_km(c.position, locations[j]) * PER_KM
                <= c.shift_left_minutes - PARAMS.min_shift_minutes_left
            ),
            default=math.inf,
        )
        assert reach.minutes[ids[j]] == pytest.approx(expected, rel=1e-9)
    assert np.isfinite(list(reach.minutes.values())).any()
