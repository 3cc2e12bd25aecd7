"""``yaodao simulate --city hangzhou --hours 24 --seed N``: the simulated city under the planner and the baseline.

Both policies run on the same demand, network and fleet in one run. The report gives, for day and
night orders (the city's window at placement), the on-time rate against the promise, click-to-door
percentiles, the wait from ready to pickup, courier utilisation, orders per courier-hour, km per
order and late orders by cause, then what the planner saves over the baseline, and ends with one
summary line. ``window_metrics`` is the pure summary the report is built from.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

import numpy as np

from yaodao.catalog.network import NetworkParams, generate_pharmacies
from yaodao.cities import load_city
from yaodao.dispatch.baseline import plan_baseline
from yaodao.dispatch.city_sim import CityResult, CitySimParams, Policy, generate_demand, simulate_city
from yaodao.dispatch.planner import plan
from yaodao.kernel.city import MINUTES_PER_DAY, City

POLICIES: dict[str, Policy] = {"planner": plan, "baseline": plan_baseline}
SUMMARY_KEYS = (
    "orders",
    "day_ontime",
    "night_ontime",
    "ctd_p90",
    "baseline_day_ontime",
    "baseline_night_ontime",
    "couriers",
)
DEFAULT_COURIERS = CitySimParams().couriers


@dataclass(frozen=True, slots=True)
class WindowMetrics:
    """One policy's figures for the orders placed in one service window (``day`` or ``night``)."""

    window: str
    orders: int
    delivered: int
    on_time: int
    ctd_p50: float  # click-to-door minutes over delivered orders
    ctd_p90: float
    ctd_p99: float
    ready_wait_mean: float  # minutes from ready at the pharmacy to picked up
    ready_wait_p90: float
    utilisation: float  # courier minutes busy / on shift, within the window's hours
    orders_per_courier_hour: float
    km_per_order: float
    late_by_cause: dict[str, int]

    @property
    def on_time_rate(self) -> float:
        return self.on_time / self.orders if self.orders else 1.0

    @property
    def late(self) -> int:
        """Late or never delivered."""
        return self.orders - self.on_time


def window_segments(city: City, result: CityResult, until: float) -> list[tuple[float, float, str]]:
    """(from, to, window name) in minutes after the start, covering [0, until)."""
    local0 = city.local(result.start)
    offset = local0.hour * 60 + local0.minute
    starts = {w.start.hour * 60 + w.start.minute for w in city.windows}
    days = int(until // MINUTES_PER_DAY) + 2
    cuts = sorted({0.0, until} | {float(d * MINUTES_PER_DAY + s - offset) for d in range(days) for s in starts})
    cuts = [c for c in cuts if 0.0 <= c <= until]
    return [
        (a, b, city.window_at(result.start + timedelta(minutes=a)).name) for a, b in itertools.pairwise(cuts) if b > a
    ]


def _overlap(a: float, b: float, segments: list[tuple[float, float, str]], window: str) -> float:
    return sum(max(0.0, min(b, t) - max(a, f)) for f, t, name in segments if name == window)


def window_metrics(city: City, result: CityResult, window: str) -> WindowMetrics:
    """The figures for orders placed in ``window``; courier time counts the hours of that window."""
    records = [r for r in result.orders if r.order.window == window]
    delivered = [r for r in records if r.delivered is not None]
    ctd = np.array([r.delivered for r in delivered if r.delivered is not None], dtype=np.float64)
    wait = np.array([max(0.0, r.picked_up - r.ready) for r in delivered if r.picked_up is not None], dtype=np.float64)
    until = max([c.shift.end for c in result.couriers] + [b for c in result.couriers for _, b in c.busy] + [0.0])
    segments = window_segments(city, result, until)
    on_shift = busy = 0.0
    for c in result.couriers:
        last = max([c.shift.end] + [b for _, b in c.busy])
        on_shift += _overlap(c.shift.start, last, segments, window)
        busy += sum(_overlap(a, b, segments, window) for a, b in c.busy)
    causes = Counter(str(r.late_cause) for r in records if not r.on_time)

    def pct(values: np.ndarray, q: float) -> float:
        return float(np.percentile(values, q)) if values.size else 0.0

    return WindowMetrics(
        window=window,
        orders=len(records),
        delivered=len(delivered),
        on_time=sum(r.on_time for r in records),
        ctd_p50=pct(ctd, 50),
        ctd_p90=pct(ctd, 90),
        ctd_p99=pct(ctd, 99),
        ready_wait_mean=float(wait.mean()) if wait.size else 0.0,
        ready_wait_p90=pct(wait, 90),
        utilisation=busy / on_shift if on_shift else 0.0,
        orders_per_courier_hour=len(delivered) / (on_shift / 60.0) if on_shift else 0.0,
        km_per_order=sum(r.km for r in delivered) / len(delivered) if delivered else 0.0,
        late_by_cause=dict(sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def ctd_p90(result: CityResult) -> float:
    """Click-to-door p90 in minutes over every delivered order, day and night."""
    ctd = [r.delivered for r in result.orders if r.delivered is not None]
    return float(np.percentile(ctd, 90)) if ctd else 0.0


def summary_line(
    *,
    orders: int,
    couriers: int,
    planner: dict[str, WindowMetrics] | None,
    baseline: dict[str, WindowMetrics] | None,
    p90: float | None,
) -> str:
    """The one-line summary, keys in ``SUMMARY_KEYS`` order; ``-`` for a policy that did not run."""

    def rate(m: dict[str, WindowMetrics] | None, window: str) -> str:
        return "-" if m is None or window not in m else f"{m[window].on_time_rate:.4f}"

    values = (
        str(orders),
        rate(planner, "day"),
        rate(planner, "night"),
        "-" if p90 is None else f"{p90:.1f}",
        rate(baseline, "day"),
        rate(baseline, "night"),
        str(couriers),
    )
    return " ".join(f"{k}={v}" for k, v in zip(SUMMARY_KEYS, values, strict=True))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--city", default="hangzhou", help="a shipped city id (default hangzhou)")
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours from local midnight (default 24)")
    parser.add_argument("--start-hour", type=int, default=0, help="local hour the run starts (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the pharmacy network, demand, shifts and noise")
    parser.add_argument("--orders", type=int, default=30_000, help="promised orders in a whole day (default 30000)")
    parser.add_argument(
        "--couriers",
        type=int,
        default=DEFAULT_COURIERS,
        help=f"couriers on shift at the busiest hour ({DEFAULT_COURIERS})",
    )
    parser.add_argument(
        "--policy", choices=["both", *POLICIES], default="both", help="dispatchers to run (default both)"
    )
    parser.add_argument("--tick", type=float, default=20.0, help="seconds between planning ticks (default 20)")


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Simulate, write the report and the summary line; 0 on success."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    city = load_city(args.city)
    pharmacies = generate_pharmacies(city, seed=args.seed, params=NetworkParams())
    params = CitySimParams(
        hours=args.hours,
        start_hour=args.start_hour,
        orders_per_day=args.orders,
        couriers=args.couriers,
        tick_seconds=args.tick,
    )
    demand = generate_demand(city, pharmacies, params, args.seed)
    windows = sorted({w.name for w in city.windows})
    out.write(
        f"{city.name_en}: {len(demand.orders)} promised orders over {args.hours:g} h, {len(pharmacies)} pharmacies "
        f"({sum(p.open_24h for p in pharmacies)} open 24 h), {len(demand.shifts)} courier shifts of "
        f"{params.shift_hours:g} h, at most {args.couriers} on shift; seed {args.seed}, tick {args.tick:g} s\n"
        f"OTC only (Rx share 0): the clock starts at payment. Addresses whose quote did not fit the promise "
        f"(not offered 30/60): {demand.not_offered}\n"
    )
    metrics: dict[str, dict[str, WindowMetrics]] = {}
    p90: float | None = None
    for name in POLICIES if args.policy == "both" else [args.policy]:
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        result = simulate_city(city, pharmacies, params, POLICIES[name], args.seed, demand=demand)
        metrics[name] = {w: window_metrics(city, result, w) for w in windows}
        if name == "planner":
            p90 = ctd_p90(result)
        out.write(
            f"\n== {name}: {result.ticks} ticks, {time.perf_counter() - started:.1f} s wall, "
            f"{_cpu_seconds() - cpu_started:.1f} s CPU\n"
        )
        for w in windows:
            _write_window(out, metrics[name][w])
    if "planner" in metrics and "baseline" in metrics:
        out.write("\n== planner against baseline (same demand, same fleet)\n")
        for w in windows:
            ours, base = metrics["planner"][w], metrics["baseline"][w]
            out.write(
                f"  {w}: late or undelivered {ours.late} vs {base.late}: {base.late - ours.late} late orders saved; "
                f"on time {ours.on_time_rate:.2%} vs {base.on_time_rate:.2%}\n"
            )
    out.write(f"\ntotal {time.perf_counter() - wall:.1f} s wall, {_cpu_seconds() - cpu:.1f} s CPU\n")
    out.write(
        summary_line(
            orders=len(demand.orders),
            couriers=args.couriers,
            planner=metrics.get("planner"),
            baseline=metrics.get("baseline"),
            p90=p90,
        )
        + "\n"
    )
    return 0


def _write_window(out: TextIO, m: WindowMetrics) -> None:
    causes = ", ".join(f"{k} {v}" for k, v in m.late_by_cause.items()) or "none"
    out.write(
        f"  {m.window}: {m.orders} orders, {m.delivered} delivered, on time {m.on_time_rate:.2%} ({m.late} late)\n"
        f"    click-to-door p50/p90/p99 {m.ctd_p50:.1f}/{m.ctd_p90:.1f}/{m.ctd_p99:.1f} min; "
        f"ready-to-pickup wait mean {m.ready_wait_mean:.1f} p90 {m.ready_wait_p90:.1f} min\n"
        f"    couriers {m.utilisation:.0%} busy, {m.orders_per_courier_hour:.2f} orders per courier-hour, "
        f"{m.km_per_order:.2f} km per order\n"
        f"    late by cause: {causes}\n"
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
