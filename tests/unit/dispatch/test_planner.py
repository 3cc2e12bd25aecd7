"""The planner: one tick's snapshot in, a plan out; its hard rules, its choices, its determinism.

The little worlds here are planar: points are (x, y) in km and every courier rides 3 minutes per
km (20 km/h), so the expected times can be read off the coordinates.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yaodao.dispatch.lateness import DeliveryTimeline, LateCause, late_cause, late_cause_minutes
from yaodao.dispatch.params import PlannerParams
from yaodao.dispatch.plan import HoldReason, Plan, StopKind
from yaodao.dispatch.planner import build_problem, plan
from yaodao.dispatch.routing import pyvrp_sequence
from yaodao.dispatch.snapshot import CourierState, CourierStatus, OpenOrder, Snapshot
from yaodao.dispatch.travel import HaversineTravelTimes
from yaodao.dispatch.travel_matrix import CityTravelMatrix, PortTravelMatrix
from yaodao.kernel.city import City, ServiceWindow
from yaodao.kernel.geo import LatLng

Point = tuple[float, float]
NOW = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
MINUTES_PER_KM = 3.0
PHARMACY: Point = (0.0, 0.0)
OTHER_PHARMACY: Point = (4.0, 0.0)


class PlaneTravel:
    """3 minutes per km, straight line."""

    def matrix(self, origins: Sequence[Point], destinations: Sequence[Point], at: datetime) -> npt.NDArray[np.float64]:
        a, b = np.array(origins, dtype=float).reshape(-1, 2), np.array(destinations, dtype=float).reshape(-1, 2)
        return np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1]) * MINUTES_PER_KM

    def pairwise(
        self, origins: Sequence[Point], destinations: Sequence[Point], at: datetime
    ) -> npt.NDArray[np.float64]:
        a, b = np.array(origins, dtype=float).reshape(-1, 2), np.array(destinations, dtype=float).reshape(-1, 2)
        return np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1]) * MINUTES_PER_KM


TRAVEL = PlaneTravel()


def minutes(m: float) -> datetime:
    return NOW + timedelta(minutes=m)


def order(
    id: str,
    *,
    door: Point = (1.0, 0.0),
    ready: float = 0.0,
    placed: float = -10.0,
    promise: float = 30.0,
    pharmacy: Point = PHARMACY,
    **changes: object,
) -> OpenOrder[Point]:
    base = OpenOrder(
        id=id,
        pickup_id=f"ph{pharmacy}",
        pickup=pharmacy,
        dropoff=door,
        placed_at=minutes(placed),
        ready_at=minutes(ready),
        due_at=minutes(placed + promise),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def courier(id: str, at: Point = (0.0, 1.0), *, shift_left: float = 240.0, **changes: object) -> CourierState[Point]:
    base = CourierState(id=id, position=at, status=CourierStatus.IDLE, shift_end=minutes(shift_left))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def planned(orders: Sequence[OpenOrder[Point]], couriers: Sequence[CourierState[Point]], **params: object) -> Plan:
    return plan(Snapshot(NOW, tuple(orders), tuple(couriers)), TRAVEL, PlannerParams(**params), seed=7)  # type: ignore[arg-type]


def check_hard_rules(snapshot: Snapshot[Point], result: Plan) -> None:
    """Every rule a plan must keep, whatever the costs say."""
    orders = {o.id: o for o in snapshot.orders}
    couriers = {c.id: c for c in snapshot.couriers}
    seen: list[str] = []
    assert len({a.courier_id for a in result.assignments}) == len(result.assignments), "a courier twice"
    for a in result.assignments:
        c = couriers[a.courier_id]
        bundle = [orders[i] for i in a.order_ids]
        seen += a.order_ids
        assert c.status is not CourierStatus.OFFLINE
        assert len({o.pickup_id for o in bundle}) == 1, "one pharmacy per bundle"
        assert sum(o.size for o in bundle) <= c.capacity, "capacity"
        assert all(o.releasable for o in bundle), "an Rx order before approval"
        assert c.cold_chain or not any(o.cold_chain for o in bundle), "cold chain"
        pickup = a.pickup
        assert pickup.kind is StopKind.PICKUP
        assert pickup.handover_at <= c.shift_end, "pickup after the shift ends"
        assert pickup.handover_at >= max(o.ready_at for o in bundle), "pickup before the order is ready"
        assert [s.place_id for s in a.stops[1:]] == list(a.order_ids)
        times = [t for s in a.stops for t in (s.arrive_at, s.handover_at, s.leave_at)]
        assert times == sorted(times)
    assert len(seen) == len(set(seen)), "an order twice"
    assert set(seen).isdisjoint(result.deferred)
    assert set(seen).isdisjoint(result.held)
    assert set(seen) | set(result.deferred) | set(result.held) == set(orders), "an order lost"


def test_an_rx_order_is_never_planned_before_a_pharmacist_approves_it() -> None:
    """Rx without approval is held with its reason; the same order approved is planned."""
    waiting = order("rx-1", rx=True, rx_approved=False)
    result = planned([waiting], [courier("c1")])
    assert result.assignments == ()
    assert result.held == {"rx-1": HoldReason.AWAITING_PHARMACIST}
    approved = planned([dataclasses.replace(waiting, rx_approved=True)], [courier("c1")])
    assert [a.order_ids for a in approved.assignments] == [("rx-1",)]


def test_a_cold_chain_order_goes_only_to_a_courier_with_a_cold_box() -> None:
    """The nearer courier has no cold box, so the farther one takes it; with neither it is held."""
    cold = order("cold-1", cold_chain=True)
    near, far = courier("near", (0.0, 0.5)), courier("far", (0.0, 3.0), cold_chain=True)
    result = planned([cold], [near, far])
    assert [a.courier_id for a in result.assignments] == ["far"]
    assert planned([cold], [near]).held == {"cold-1": HoldReason.NO_ELIGIBLE_COURIER}


def test_a_bundle_never_holds_more_than_the_couriers_capacity() -> None:
    """Five small orders from one pharmacy and one courier that carries two: at most two go."""
    orders = [order(f"o{k}", door=(1.0, 0.1 * k)) for k in range(5)]
    result = planned(orders, [courier("c1", capacity=2)])
    assert len(result.assignments) == 1
    assert len(result.assignments[0].order_ids) == 2
    assert len(result.deferred) == 3


def test_a_large_order_does_not_fit_a_courier_without_room() -> None:
    """Size counts against capacity: a size-3 order is held when every courier carries two."""
    result = planned([order("big", size=3)], [courier("c1", capacity=2)])
    assert result.held == {"big": HoldReason.NO_ELIGIBLE_COURIER}


def test_no_pickup_is_planned_after_the_couriers_shift_ends() -> None:
    """The order is ready at +20 min; the courier ending at +15 goes home, the other takes it."""
    result = planned([order("o1", ready=20.0)], [courier("leaving", shift_left=15.0), courier("staying", (0.0, 3.0))])
    assert [a.courier_id for a in result.assignments] == ["staying"]
    assert planned([order("o1", ready=20.0)], [courier("leaving", shift_left=15.0)]).held == {
        "o1": HoldReason.NO_ELIGIBLE_COURIER
    }


def test_the_pickup_waits_for_the_order_to_be_ready() -> None:
    """A courier 3 minutes away from an order ready in 10 is planned to hand over at +10, not +5."""
    result = planned([order("o1", ready=10.0)], [courier("c1", (0.0, 1.0))])
    (a,) = result.assignments
    assert a.pickup.handover_at == minutes(10.0)
    assert a.stops[1].handover_at == minutes(10.0 + 2 + 3 + 2)  # half service, 1 km, half service


def test_an_assignment_is_committed_only_when_the_courier_must_leave_now() -> None:
    """Ready in 30 min and 3 min away: tentative, leaving at +25; ready now: dispatched at once."""
    later = planned([order("o1", ready=30.0)], [courier("c1", (0.0, 1.0))]).assignments[0]
    assert not later.commit
    assert later.depart_at == minutes(30.0 - 2 - 3)
    now = planned([order("o1", ready=0.0)], [courier("c1", (0.0, 1.0))]).assignments[0]
    assert now.commit
    assert now.depart_at == NOW


def test_a_busy_courier_is_planned_from_where_and_when_its_work_ends() -> None:
    """Delivering until +6 at the pharmacy's door: it beats an idle courier 12 minutes away."""
    busy = courier("busy", (5.0, 5.0), status=CourierStatus.DELIVERING, free_at=minutes(6.0), free_position=(0.0, 0.5))
    idle = courier("idle", (0.0, 4.0))
    result = planned([order("o1", ready=10.0)], [busy, idle])
    (a,) = result.assignments
    assert a.courier_id == "busy"
    assert not a.commit  # it is still delivering: nothing to dispatch yet
    assert a.pickup.arrive_at >= minutes(6.0 + 1.5)


def test_offline_couriers_get_no_work() -> None:
    """An offline courier next door is ignored; the order waits for the one on its way."""
    result = planned(
        [order("o1")], [courier("off", (0.0, 0.1), status=CourierStatus.OFFLINE), courier("on", (0.0, 2.0))]
    )
    assert [a.courier_id for a in result.assignments] == ["on"]


def test_an_order_whose_courier_went_offline_is_given_to_another() -> None:
    """Last tick it went to c1; c1 is offline now, so c2 takes it."""
    gone = courier("c1", (0.0, 0.5), status=CourierStatus.OFFLINE)
    result = planned([order("o1", courier_id="c1")], [gone, courier("c2", (0.0, 2.0))])
    assert result.courier_of("o1") == "c2"


def test_a_pharmacy_delay_moves_the_pickup_and_the_departure() -> None:
    """The pharmacy now says +25 instead of now: the dispatch waits and the handover moves with it."""
    on_time = planned([order("o1", ready=0.0)], [courier("c1")]).assignments[0]
    delayed = planned([order("o1", ready=25.0)], [courier("c1")]).assignments[0]
    assert on_time.commit
    assert not delayed.commit
    assert delayed.pickup.handover_at == minutes(25.0)


def test_orders_of_one_pharmacy_ride_together_when_there_is_one_courier() -> None:
    """Two ready orders, neighbouring doors, one courier: one bundle, the nearer door first."""
    orders = [order("far", door=(2.0, 0.0)), order("near", door=(1.0, 0.0))]
    (a,) = planned(orders, [courier("c1")]).assignments
    assert a.order_ids == ("near", "far")
    assert [s.kind for s in a.stops] == [StopKind.PICKUP, StopKind.DROPOFF, StopKind.DROPOFF]


def test_orders_of_different_pharmacies_never_share_a_bundle() -> None:
    """One courier, two pharmacies: one order goes, the other waits."""
    orders = [order("a"), order("b", pharmacy=OTHER_PHARMACY, door=(5.0, 0.0))]
    result = planned(orders, [courier("c1")])
    assert len(result.assignments) == 1
    assert len(result.assignments[0].order_ids) == 1
    assert len(result.deferred) == 1


def test_with_couriers_to_spare_orders_ride_alone() -> None:
    """Two orders, two couriers, nobody late: no detour for either customer."""
    orders = [order("a", door=(1.0, 0.0)), order("b", door=(0.0, -1.0))]
    result = planned(orders, [courier("c1", (0.0, 0.5)), courier("c2", (0.5, 0.0))])
    assert sorted(len(a.order_ids) for a in result.assignments) == [1, 1]


def test_bundling_can_be_turned_off() -> None:
    """max_bundle_orders=1: the second order of the pharmacy waits instead of riding along."""
    orders = [order("a", door=(1.0, 0.0)), order("b", door=(1.0, 0.2))]
    result = planned(orders, [courier("c1")], max_bundle_orders=1)
    assert [len(a.order_ids) for a in result.assignments] == [1]


def test_an_order_stays_with_its_courier_when_nothing_better_turns_up() -> None:
    """Two couriers equally far: the one the order was given to last tick keeps it."""
    couriers = [courier("c1", (0.0, 1.0)), courier("c2", (0.0, -1.0))]
    for keeper in ("c1", "c2"):
        result = planned([order("o1", ready=20.0, courier_id=keeper)], couriers)
        assert result.courier_of("o1") == keeper


def test_the_urgent_order_gets_the_only_courier() -> None:
    """One courier, two pharmacies: the order ready now goes before the one ready in 25 minutes."""
    orders = [order("later", ready=25.0, pharmacy=OTHER_PHARMACY, door=(5.0, 0.0)), order("now", ready=0.0)]
    result = planned(orders, [courier("c1", (2.0, 0.0))])
    assert result.courier_of("now") == "c1"
    assert result.deferred == ("later",)


def test_a_courier_inside_its_guaranteed_pay_is_preferred() -> None:
    """With pay_weight, the courier still inside its guarantee takes the order over a slightly nearer one."""
    couriers = [
        courier("paid-out", (0.0, 1.0), guarantee_left=0.0),
        courier("guaranteed", (0.0, 1.5), guarantee_left=3.0),
    ]
    assert planned([order("o1", ready=20.0)], couriers, pay_weight=10.0).courier_of("o1") == "guaranteed"
    assert planned([order("o1", ready=20.0)], couriers, pay_weight=0.0).courier_of("o1") == "paid-out"


def world(seed: int, n_orders: int, n_couriers: int) -> Snapshot[Point]:
    rng = np.random.default_rng(seed)
    pharmacies = [(float(x), float(y)) for x, y in rng.uniform(0, 6, size=(3, 2))]
    orders = []
    for k in range(n_orders):
        pharmacy = pharmacies[int(rng.integers(len(pharmacies)))]
        placed = float(rng.uniform(-20, 0))
        orders.append(
            order(
                f"o{k}",
                pharmacy=pharmacy,
                door=(pharmacy[0] + float(rng.uniform(-2, 2)), pharmacy[1] + float(rng.uniform(-2, 2))),
                placed=placed,
                ready=placed + float(rng.uniform(0, 25)),
                size=int(rng.integers(1, 3)),
                cold_chain=bool(rng.random() < 0.2),
                rx=bool(rng.random() < 0.3),
                rx_approved=bool(rng.random() < 0.5),
            )
        )
    statuses = list(CourierStatus)
    couriers = []
    for k in range(n_couriers):
        status = statuses[int(rng.integers(len(statuses)))]
        delivering = status is CourierStatus.DELIVERING
        couriers.append(
            courier(
                f"c{k}",
                (float(rng.uniform(0, 6)), float(rng.uniform(0, 6))),
                shift_left=float(rng.uniform(-5, 60)),
                status=status,
                capacity=int(rng.integers(1, 4)),
                cold_chain=bool(rng.random() < 0.4),
                free_at=minutes(float(rng.uniform(0, 30))) if delivering else None,
                free_position=(float(rng.uniform(0, 6)), float(rng.uniform(0, 6))) if delivering else None,
            )
        )
    return Snapshot(NOW, tuple(orders), tuple(couriers))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n_orders=st.integers(0, 14), n_couriers=st.integers(0, 8))
def test_every_plan_keeps_capacity_shifts_ready_times_cold_chain_and_approvals(
    seed: int, n_orders: int, n_couriers: int
) -> None:
    """Random little cities: whatever the costs, no plan breaks a hard rule or loses an order."""
    snapshot = world(seed, n_orders, n_couriers)
    check_hard_rules(snapshot, plan(snapshot, TRAVEL, PlannerParams(), seed))


def test_the_same_seed_gives_the_same_plan() -> None:
    """Planning one snapshot twice with one seed gives equal plans, assignment for assignment."""
    snapshot = world(3, 40, 12)
    first, second = plan(snapshot, TRAVEL, PlannerParams(), 11), plan(snapshot, TRAVEL, PlannerParams(), 11)
    assert first == second
    assert first.assignments, "the world is busy enough to plan something"


def test_the_pyvrp_sequencer_keeps_the_hard_rules_and_visits_every_door() -> None:
    """PyVRP sequencing every bundle of two or more: a last-chance courier takes all four doors, rules kept."""
    params = PlannerParams(sequencer="pyvrp", exact_sequence_limit=1, pyvrp_iterations=50)
    doors = [(3.0, 1.0), (1.0, 0.0), (4.0, 1.5), (2.0, 0.5)]
    orders = tuple(order(f"o{k}", door=door, promise=90.0) for k, door in enumerate(doors))
    snapshot = Snapshot(NOW, orders, (courier("c1", shift_left=5.0, capacity=4),))  # last pickup of its shift
    result = plan(snapshot, TRAVEL, params, seed=1)
    check_hard_rules(snapshot, result)
    (a,) = result.assignments
    assert a.order_ids == ("o1", "o3", "o0", "o2")  # doors on a line away from the pharmacy: nearest first


def test_pyvrp_finds_the_shortest_round_of_doors() -> None:
    """The sequencer's order is the one that finishes the last drop-off soonest (checked by brute force)."""
    doors = [(2.0, 0.0), (-1.0, 0.0), (2.5, 1.0), (-1.5, -0.5)]
    snapshot = Snapshot(
        NOW, tuple(order(f"o{k}", door=d, promise=120.0) for k, d in enumerate(doors)), (courier("c1"),)
    )
    problem, _, _, _ = build_problem(snapshot, TRAVEL, PlannerParams(pyvrp_iterations=200))

    def finish(sequence: Sequence[int]) -> float:
        points = [PHARMACY, *(doors[i] for i in sequence)]
        return sum(math.dist(a, b) for a, b in itertools.pairwise(points))

    best = min(itertools.permutations(range(4)), key=finish)
    found = pyvrp_sequence(problem, 0, [0, 1, 2, 3])
    assert sorted(found) == [0, 1, 2, 3]
    assert finish(found) == pytest.approx(finish(best))
    assert finish(found) < finish([0, 1, 2, 3])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tick_seconds": 0}, "tick_seconds"),
        ({"wait_weight": -1.0}, "wait_weight"),
        ({"max_bundle_orders": 0}, "max_bundle_orders"),
        ({"exact_sequence_limit": 9}, "exact_sequence_limit"),
        ({"sequencer": "ortools"}, "sequencer"),
        ({"late_weight": math.nan}, "late_weight"),
    ],
)
def test_planner_params_refuse_bad_values_naming_the_field(change: dict[str, object], field: str) -> None:
    """Each bad value raises, and the message names the field."""
    with pytest.raises(ValueError, match=field):
        PlannerParams(**change)  # type: ignore[arg-type]


def test_a_snapshot_refuses_naive_times_and_duplicate_ids() -> None:
    """Times must be aware; an order id may appear once."""
    with pytest.raises(ValueError, match="timezone-aware"):
        order("o1", placed_at=datetime(2025, 6, 1, 10, 0))  # noqa: DTZ001
    with pytest.raises(ValueError, match="twice"):
        Snapshot(NOW, (order("o1"), order("o1")), ())


def timeline(
    *, ready: float, picked: float, delivered: float, ride: float = 10.0, **changes: object
) -> DeliveryTimeline:
    base = DeliveryTimeline(
        clock_start=NOW,
        promise_minutes=30.0,
        ready_at=minutes(ready),
        picked_up_at=minutes(picked),
        delivered_at=minutes(delivered),
        direct_ride_minutes=ride,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_an_on_time_delivery_has_no_late_cause() -> None:
    """Delivered at the promise: no cause."""
    assert late_cause(timeline(ready=10, picked=12, delivered=30)) is None


def test_a_late_delivery_records_why_it_was_late() -> None:
    """Each dominant lost part names its cause."""
    assert late_cause(timeline(ready=25, picked=25, delivered=35)) is LateCause.PHARMACY_SLOW
    assert late_cause(timeline(ready=5, picked=5, delivered=40, ride=32)) is LateCause.OUT_OF_REACH
    assert late_cause(timeline(ready=10, picked=25, delivered=35)) is LateCause.NO_COURIER_NEAR
    assert late_cause(timeline(ready=10, picked=11, delivered=40)) is LateCause.BUNDLE_DETOUR
    assert (
        late_cause(timeline(ready=10, picked=11, delivered=40, ride_overrun_minutes=18.0))
        is LateCause.TRAVEL_LONGER_THAN_MODELLED
    )
    slower = timeline(ready=18, picked=18, delivered=36, expected_ready_at=minutes(8))
    assert late_cause(slower) is LateCause.PHARMACY_SLOW


def test_late_causes_from_minutes_match_the_timeline_version() -> None:
    """The minutes form used by the benchmark agrees with the datetime form."""
    assert (
        late_cause_minutes(promise=30, prep=10, courier_wait=15, ride=10, direct_ride=10) is LateCause.NO_COURIER_NEAR
    )


def test_the_city_travel_matrix_agrees_with_the_haversine_port() -> None:
    """Vectorised or pair by pair, the planner sees the same minutes as search and the promise."""
    city = City(
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
        speed_kmh_by_hour=tuple(float(10 + h) for h in range(24)),
        detour_factor=1.4,
    )
    port = HaversineTravelTimes(city)
    points = [LatLng(30.01, 120.01), LatLng(30.08, 120.07), LatLng(30.05, 120.02)]
    expected = [[port.minutes(a, b, NOW) for b in points] for a in points]
    assert CityTravelMatrix(city).matrix(points, points, NOW) == pytest.approx(np.array(expected))
    assert PortTravelMatrix(port).matrix(points, points, NOW) == pytest.approx(np.array(expected))
    pairwise = CityTravelMatrix(city).pairwise(points, points[::-1], NOW)
    assert pairwise == pytest.approx(np.array([expected[0][2], expected[1][1], expected[2][0]]))
