"""Nearby availability: AvailabilityIndex.query against the brute-force scan, on one network.

    cd /work/main && .venv/bin/python -m benchmarks.availability \\
        [--pharmacies 1000 --products 5000 --queries 2000 --seed 1]

The network is synthetic, built here from the seed: a square around downtown Hangzhou
(30.15-30.40N, 120.00-120.35E) whose edges are densified to --vertices points (default 4,600,
the vertex count of the real Hangzhou service area, so the point-in-polygon cost is realistic);
pharmacies clustered around downtown; each store carrying 30-60% of the products, common
products more widely; baskets of 3 products weighted toward common ones; times spread over a
week, day and night. Every query is answered by both implementations and the answers compared.
The last line is key=value pairs for scripts.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import math
import platform
import random
import time as clock
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from yaodao.catalog.model import OpeningHours, Pharmacy, StockLevel
from yaodao.dispatch.travel import HaversineTravelTimes
from yaodao.kernel.city import City, ServiceWindow
from yaodao.kernel.geo import LatLng
from yaodao.search.availability import AvailabilityIndex, AvailabilityParams, scan_availability

SOUTH, NORTH, WEST, EAST = 30.15, 30.40, 120.00, 120.35
DOWNTOWN = LatLng(30.265, 120.165)  # around West Lake
TZ = ZoneInfo("Asia/Shanghai")
# e-bike courier speeds by local hour: quick at night, slow in the rush hours
SPEEDS = (28, 28, 28, 28, 28, 28, 24, 17, 15, 17, 20, 20, 19, 20, 20, 20, 19, 15, 14, 17, 21, 23, 25, 27)
HOURS = ((time(8, 0), time(22, 0)), (time(7, 30), time(22, 30)), (time(9, 0), time(21, 0)), (time(8, 30), time(23, 0)))


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Query:
    address: LatLng
    basket: dict[str, int]
    at: datetime


def square_city(vertices: int) -> City:
    per_side = max(1, math.ceil((vertices - 1) / 4))
    corners = [(WEST, SOUTH), (EAST, SOUTH), (EAST, NORTH), (WEST, NORTH), (WEST, SOUTH)]
    ring: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in itertools.pairwise(corners):
        ring.extend((x0 + (x1 - x0) * i / per_side, y0 + (y1 - y0) * i / per_side) for i in range(per_side))
    ring.append(ring[0])
    return City(
        id="hangzhou-square",
        name_zh="杭州(合成)",
        name_en="Hangzhou (synthetic square)",
        timezone="Asia/Shanghai",
        datum="gcj02",
        service_area=(tuple(ring),),
        windows=(
            ServiceWindow("day", time(7, 0), time(22, 0), 30),
            ServiceWindow("night", time(22, 0), time(7, 0), 60),
        ),
        speed_kmh_by_hour=tuple(float(s) for s in SPEEDS),
        detour_factor=1.3,
    )


def point(rng: random.Random, clustered: float) -> LatLng:
    """Clustered around downtown with probability ``clustered``, else uniform; always inside."""
    if rng.random() < clustered:
        lat = min(NORTH - 1e-4, max(SOUTH + 1e-4, rng.gauss(DOWNTOWN.lat, 0.045)))
        lng = min(EAST - 1e-4, max(WEST + 1e-4, rng.gauss(DOWNTOWN.lng, 0.055)))
        return LatLng(lat, lng)
    return LatLng(rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST))


def network(
    rng: random.Random, city: City, pharmacies: int, products: int
) -> tuple[list[Pharmacy], dict[str, dict[str, int]], list[str], list[float]]:
    product_ids = [f"prod-{j:05d}" for j in range(products)]
    # commonness: the most common products are carried ~2.5x as widely as the average one
    commonness = [2.0 * (1 - j / products) ** 2 + 0.2 for j in range(products)]
    stores: list[Pharmacy] = []
    table: dict[str, dict[str, int]] = {}
    for s in range(pharmacies):
        store = Pharmacy(
            id=f"ph-{s:04d}",
            city_id=city.id,
            name=f"合成药房 {s}",
            brand=rng.choice(["老百姓", "海王星辰", "益丰", "国大", "独立药房"]),
            district_code=None,
            address="synthetic",
            location=point(rng, clustered=0.6),
            open_24h=rng.random() < 0.2,
            hours=OpeningHours(*rng.choice(HOURS)),
            prep_minutes=rng.randint(3, 10),
            licence_no=f"SYN-{s:04d}",
            active=rng.random() < 0.98,
        )
        stores.append(store)
        carried = rng.uniform(0.375, 0.75)  # x mean commonness 0.8: 30-60% of the products
        held: dict[str, int] = {}
        random_ = rng.random
        for product_id, c in zip(product_ids, commonness, strict=True):
            if random_() < carried * c:
                held[product_id] = 0 if random_() < 0.05 else rng.randint(1, 12)  # 5%: all reserved
        table[store.id] = held
    return stores, table, product_ids, commonness


def queries(rng: random.Random, count: int, product_ids: Sequence[str], commonness: Sequence[float]) -> list[Query]:
    weights = [c * c for c in commonness]
    monday = datetime(2025, 3, 10, tzinfo=TZ)
    out: list[Query] = []
    for _ in range(count):
        basket: dict[str, int] = {}
        while len(basket) < 3:
            (product_id,) = rng.choices(product_ids, weights)
            basket[product_id] = rng.choices((1, 2, 3), (80, 15, 5))[0]
        at = monday + timedelta(seconds=rng.randrange(7 * 24 * 3600))
        out.append(Query(point(rng, clustered=0.7), basket, at))
    return out


def timed(run: Callable[[Query], T], qs: Sequence[Query]) -> tuple[list[int], list[T]]:
    for q in qs[:50]:  # warm-up
        run(q)
    latencies: list[int] = []
    answers: list[T] = []
    for q in qs:
        t0 = clock.perf_counter_ns()
        answer = run(q)
        latencies.append(clock.perf_counter_ns() - t0)
        answers.append(answer)
    return latencies, answers


def percentile(sorted_ns: Sequence[int], p: float) -> float:
    """Nearest-rank percentile, in microseconds."""
    return sorted_ns[max(0, math.ceil(p / 100 * len(sorted_ns)) - 1)] / 1000


def stock_rows(table: dict[str, dict[str, int]]) -> Iterator[StockLevel]:
    for pharmacy_id, held in table.items():
        for product_id, available in held.items():
            yield StockLevel(pharmacy_id, product_id, quantity=12, reserved=12 - available)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.availability", description=__doc__.split("\n")[0])
    parser.add_argument("--pharmacies", type=int, default=1000)
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--vertices", type=int, default=4600, help="service-area ring vertices (default 4600)")
    args = parser.parse_args(argv)

    started = clock.perf_counter()
    rng = random.Random(args.seed)
    city = square_city(args.vertices)
    stores, table, product_ids, commonness = network(rng, city, args.pharmacies, args.products)
    qs = queries(rng, args.queries, product_ids, commonness)
    generated = clock.perf_counter() - started
    rows = sum(len(held) for held in table.values())
    travel = HaversineTravelTimes(city)
    params = AvailabilityParams()

    # Memory on a first build under tracemalloc (which slows allocation), time on a second.
    gc.collect()
    tracemalloc.start()
    traced = AvailabilityIndex.build(city, stores, stock_rows(table), travel, params)
    gc.collect()
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced
    gc.collect()
    t0 = clock.perf_counter()
    index = AvailabilityIndex.build(city, stores, stock_rows(table), travel, params)
    build_s = clock.perf_counter() - t0
    gc.collect()
    gc.freeze()  # long-lived index: keep it out of the collector's way, as a server would

    index_ns, index_answers = timed(lambda q: index.query(q.address, q.basket, q.at), qs)
    scan_ns, scan_answers = timed(
        lambda q: scan_availability(
            city=city,
            pharmacies=stores,
            stock=table,
            travel=travel,
            params=params,
            address=q.address,
            basket=q.basket,
            at=q.at,
        ),
        qs,
    )
    mismatches = sum(a != b for a, b in zip(index_answers, scan_answers, strict=True))
    nonempty = sum(bool(a) for a in index_answers)
    night = sum(city.promise_minutes(q.at) == 60 for q in qs)
    kernel_ns, _ = timed(lambda q: city.contains(q.address), qs[:500])
    fast_ns, _ = timed(lambda q: index.contains(q.address), qs[:500])
    index_ns.sort()
    scan_ns.sort()
    kernel_ns.sort()
    fast_ns.sort()
    index_p50, index_p99 = percentile(index_ns, 50), percentile(index_ns, 99)
    scan_p50, scan_p99 = percentile(scan_ns, 50), percentile(scan_ns, 99)
    offers = sum(len(a) for a in index_answers)

    print("Nearby availability benchmark (SYNTHETIC network, generated from the seed; not real data)")
    print(f"  python {platform.python_version()} on {platform.machine()}, seed {args.seed}")
    print(
        f"  city: square {SOUTH}-{NORTH}N {WEST}-{EAST}E, {len(city.service_area[0])}-vertex ring,"
        f" day 07-22 30 min / night 60 min, H3 res {params.h3_resolution}"
    )
    print(
        f"  network: {len(stores)} pharmacies ({sum(p.open_24h for p in stores)} open 24h), {args.products} products,"
        f" {rows:,} stock rows ({rows / len(stores) / args.products:.0%} of products per store on average)"
    )
    print(f"  queries: {len(qs)} baskets of 3 products, {night} at night; generated in {generated:.1f} s")
    print(f"  index build: {build_s:.2f} s for {len(index)} pharmacies (from StockLevel rows)")
    print(
        f"  index memory: {retained / 2**20:.1f} MiB retained, {peak / 2**20:.1f} MiB peak during build (tracemalloc)"
    )
    print("  gc.freeze() after the build, as a long-lived server process would")
    print(f"  answers: {nonempty / len(qs):.1%} non-empty, {offers / len(qs):.1f} offers per query on average")
    print(f"  mismatches index vs scan: {mismatches}")
    print("  latency per query (µs)        p50        p90        p99        max")
    for name, ns in (("index.query", index_ns), ("scan_availability", scan_ns)):
        print(
            f"    {name:<26}{percentile(ns, 50):>9.0f}  {percentile(ns, 90):>9.0f}  {percentile(ns, 99):>9.0f}"
            f"  {ns[-1] / 1000:>9.0f}"
        )
    print(
        f"  service-area check alone (500 addresses, p50 µs): kernel ray casting {percentile(kernel_ns, 50):.1f},"
        f" shapely prepared {percentile(fast_ns, 50):.1f}"
    )
    total_s = clock.perf_counter() - started
    print(f"  speedup p50 {scan_p50 / index_p50:.1f}x, p99 {scan_p99 / index_p99:.1f}x; whole run {total_s:.1f} s")
    print(
        f"pharmacies={len(stores)} products={args.products} queries={len(qs)}"
        f" index_p50_us={index_p50:.0f} index_p99_us={index_p99:.0f}"
        f" scan_p50_us={scan_p50:.0f} scan_p99_us={scan_p99:.0f}"
        f" speedup_p50={scan_p50 / index_p50:.1f} mismatches={mismatches} nonempty_pct={100 * nonempty / len(qs):.1f}"
    )


if __name__ == "__main__":
    main()
