"""One dispatcher tick: ``planner.plan`` on a city snapshot, against the baseline in the same run.

    cd /work/main && .venv/bin/python -m benchmarks.dispatch_tick \\
        [--orders 2000 --couriers 1000 --pharmacies 300 --snapshots 20 --seed 1]

The snapshots are synthetic, built here from the seed: a square around downtown Hangzhou
(30.15-30.40N, 120.00-120.35E) with pharmacies clustered downtown; open orders placed in the last
25 minutes, ready 3-20 minutes after placement, due 30 minutes after (60 at night), dropped off
0.3-4 km from their pharmacy; 5% Rx (half of them approved), 3% cold chain, a tenth of two
units; 15% already given to a courier last tick. Couriers: 40% idle, 40% delivering (free in 1-20
minutes at their last door), 10% riding to a pickup, 5% offline, 5% starting their shift within
30 minutes; 10% with a cold box, capacity 3. Travel is the haversine model (``CityTravelMatrix``).

Each snapshot is planned once per policy after a warm-up; time is wall-clock per call (the CPU
time is printed next to it: equal means one core). Memory is the tracemalloc peak of one more
call (numpy reports its buffers to tracemalloc) and the process's maximum resident set.
The last line is key=value pairs for scripts.
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import random
import resource
import time as clock
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from yaodao.dispatch.baseline import plan_baseline
from yaodao.dispatch.params import PlannerParams
from yaodao.dispatch.plan import Plan
from yaodao.dispatch.planner import plan
from yaodao.dispatch.snapshot import CourierState, CourierStatus, OpenOrder, Snapshot
from yaodao.dispatch.travel_matrix import CityTravelMatrix
from yaodao.kernel.city import City, ServiceWindow
from yaodao.kernel.geo import LatLng

SOUTH, NORTH, WEST, EAST = 30.15, 30.40, 120.00, 120.35
DOWNTOWN = LatLng(30.265, 120.165)
TZ = ZoneInfo("Asia/Shanghai")
SPEEDS = (28, 28, 28, 28, 28, 28, 24, 17, 15, 17, 20, 20, 19, 20, 20, 20, 19, 15, 14, 17, 21, 23, 25, 27)
KM_PER_DEGREE = 111.0

Planner = Callable[[Snapshot[LatLng], CityTravelMatrix, PlannerParams, int], Plan]


def square_city() -> City:
    ring = ((WEST, SOUTH), (EAST, SOUTH), (EAST, NORTH), (WEST, NORTH), (WEST, SOUTH))
    return City(
        id="hangzhou-square",
        name_zh="杭州(合成)",
        name_en="Hangzhou (synthetic square)",
        timezone="Asia/Shanghai",
        datum="gcj02",
        service_area=(ring,),
        windows=(
            ServiceWindow("day", time(7, 0), time(22, 0), 30),
            ServiceWindow("night", time(22, 0), time(7, 0), 60),
        ),
        speed_kmh_by_hour=tuple(float(s) for s in SPEEDS),
        detour_factor=1.3,
    )


def clamp(point: tuple[float, float]) -> LatLng:
    lat, lng = point
    return LatLng(min(NORTH, max(SOUTH, lat)), min(EAST, max(WEST, lng)))


def around(rng: random.Random, centre: LatLng, km_low: float, km_high: float) -> LatLng:
    km, angle = rng.uniform(km_low, km_high), rng.uniform(0, 2 * math.pi)
    dlat = km * math.sin(angle) / KM_PER_DEGREE
    dlng = km * math.cos(angle) / (KM_PER_DEGREE * math.cos(math.radians(centre.lat)))
    return clamp((centre.lat + dlat, centre.lng + dlng))


def somewhere(rng: random.Random) -> LatLng:
    if rng.random() < 0.7:
        return clamp((rng.gauss(DOWNTOWN.lat, 0.045), rng.gauss(DOWNTOWN.lng, 0.055)))
    return LatLng(rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST))


def snapshot(
    rng: random.Random, city: City, at: datetime, orders: int, couriers: int, pharmacies: int
) -> Snapshot[LatLng]:
    stores = [(f"ph-{k:04d}", somewhere(rng)) for k in range(pharmacies)]
    weights = [rng.paretovariate(1.5) for _ in stores]  # a few busy pharmacies, many quiet ones
    courier_ids = [f"rider-{k:05d}" for k in range(couriers)]
    open_orders = []
    for k in range(orders):
        store_id, store = rng.choices(stores, weights)[0]
        placed = at - timedelta(minutes=rng.uniform(0, 25))
        rx = rng.random() < 0.05
        open_orders.append(
            OpenOrder(
                id=f"ord-{k:05d}",
                pickup_id=store_id,
                pickup=store,
                dropoff=around(rng, store, 0.3, 4.0),
                placed_at=placed,
                ready_at=placed + timedelta(minutes=rng.uniform(3, 20)),
                due_at=placed + timedelta(minutes=city.promise_minutes(placed)),
                size=2 if rng.random() < 0.1 else 1,
                cold_chain=rng.random() < 0.03,
                rx=rx,
                rx_approved=rx and rng.random() < 0.5,
                courier_id=rng.choice(courier_ids) if rng.random() < 0.15 else None,
            )
        )
    riders = []
    for rider_id in courier_ids:
        roll = rng.random()
        status = (
            CourierStatus.IDLE
            if roll < 0.45
            else CourierStatus.DELIVERING
            if roll < 0.85
            else CourierStatus.TO_PICKUP
            if roll < 0.95
            else CourierStatus.OFFLINE
        )
        position = somewhere(rng)
        delivering = status is CourierStatus.DELIVERING
        starting = status is CourierStatus.IDLE and rng.random() < 0.1
        riders.append(
            CourierState(
                id=rider_id,
                position=position,
                status=status,
                shift_end=at + timedelta(minutes=rng.uniform(30, 240)),
                shift_start=at + timedelta(minutes=rng.uniform(1, 30)) if starting else None,
                capacity=3,
                cold_chain=rng.random() < 0.1,
                free_at=at + timedelta(minutes=rng.uniform(1, 20)) if delivering else None,
                free_position=around(rng, position, 0.5, 3.0) if delivering else None,
            )
        )
    return Snapshot(at, tuple(open_orders), tuple(riders))


def nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def timed(
    run: Planner, snaps: Sequence[Snapshot[LatLng]], travel: CityTravelMatrix, params: PlannerParams
) -> tuple[list[float], list[float], list[Plan]]:
    run(snaps[0], travel, params, 0)  # warm-up
    wall, cpu, plans = [], [], []
    for k, snap in enumerate(snaps):
        gc.collect()
        w0, c0 = clock.perf_counter(), clock.process_time()
        plans.append(run(snap, travel, params, k))
        cpu.append(clock.process_time() - c0)
        wall.append(clock.perf_counter() - w0)
    return wall, cpu, plans


def peak_mib(run: Planner, snap: Snapshot[LatLng], travel: CityTravelMatrix, params: PlannerParams) -> float:
    gc.collect()
    tracemalloc.start()
    run(snap, travel, params, 0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dispatch_tick", description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--couriers", type=int, default=1000)
    parser.add_argument("--pharmacies", type=int, default=300)
    parser.add_argument("--snapshots", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    started = clock.perf_counter()
    rng = random.Random(args.seed)
    city = square_city()
    travel = CityTravelMatrix(city)
    params = PlannerParams()
    day = datetime(2025, 3, 10, 18, 30, tzinfo=TZ)  # the evening peak
    snaps = [
        snapshot(rng, city, day + timedelta(minutes=7 * k), args.orders, args.couriers, args.pharmacies)
        for k in range(args.snapshots)
    ]
    generated = clock.perf_counter() - started
    results = {
        name: timed(run, snaps, travel, params) for name, run in (("planner", plan), ("baseline", plan_baseline))
    }
    memory = {
        name: peak_mib(run, snaps[0], travel, params) for name, run in (("planner", plan), ("baseline", plan_baseline))
    }
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print("Dispatcher tick benchmark (SYNTHETIC snapshots, generated from the seed; not real data)")
    print(f"  python {platform.python_version()} on {platform.machine()}, seed {args.seed}")
    print(
        f"  snapshots: {len(snaps)} x ({args.orders} open orders, {args.couriers} couriers,"
        f" {args.pharmacies} pharmacies) in Hangzhou's evening peak; generated in {generated:.1f} s"
    )
    print(
        "  per tick (ms)            p50      p95      max  cpu p50  cpu p95  assigned committed bundled deferred held"
    )
    line: dict[str, tuple[float, float, float]] = {}
    for name, (wall, cpu, plans) in results.items():
        ws, cs = sorted(wall), sorted(cpu)
        assigned = sum(len(a.order_ids) for p in plans for a in p.assignments) / len(plans)
        committed = sum(len(a.order_ids) for p in plans for a in p.committed) / len(plans)
        bundled = sum(len(a.order_ids) for p in plans for a in p.assignments if len(a.order_ids) > 1) / len(plans)
        deferred = sum(len(p.deferred) for p in plans) / len(plans)
        held = sum(len(p.held) for p in plans) / len(plans)
        p50, p95 = nearest_rank(ws, 50) * 1000, nearest_rank(ws, 95) * 1000
        line[name] = (p50, p95, nearest_rank(cs, 95) * 1000)
        print(
            f"    {name:<18}{p50:>8.0f} {p95:>8.0f} {ws[-1] * 1000:>8.0f} {nearest_rank(cs, 50) * 1000:>8.0f}"
            f" {nearest_rank(cs, 95) * 1000:>8.0f} {assigned:>9.0f} {committed:>9.0f} {bundled:>7.0f}"
            f" {deferred:>8.0f} {held:>4.0f}"
        )
    print(
        f"  memory: tracemalloc peak per tick planner {memory['planner']:.1f} MiB,"
        f" baseline {memory['baseline']:.1f} MiB; process max RSS {max_rss:.0f} MiB"
    )
    print(f"  whole run {clock.perf_counter() - started:.1f} s")
    print(
        f"orders={args.orders} couriers={args.couriers} snapshots={len(snaps)}"
        f" planner_p50_ms={line['planner'][0]:.0f} planner_p95_ms={line['planner'][1]:.0f}"
        f" planner_cpu_p95_ms={line['planner'][2]:.0f}"
        f" baseline_p50_ms={line['baseline'][0]:.0f} baseline_p95_ms={line['baseline'][1]:.0f}"
        f" planner_peak_mib={memory['planner']:.1f} max_rss_mib={max_rss:.0f}"
    )


if __name__ == "__main__":
    main()
