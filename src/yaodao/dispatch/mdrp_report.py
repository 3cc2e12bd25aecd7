"""The MDRP metrics of Reyes et al. 2018, the evaluator's solution files, and its feasibility rules.

Metrics follow the upstream evaluator (``compute_performance_summary.py`` in grubhub/mdrplib):
order figures over delivered orders, percentiles by linear interpolation (pandas' ``describe``),
utilisation per courier = (driving + pickup service per bundle + drop-off service per order) /
shift minutes over every courier, pay = max(pay per order x orders, hourly guarantee x shift).

``check_solution`` re-reads the three solution files and applies the evaluator's checks, so a run
can be declared feasible without pandas; the files themselves are what the evaluator reads.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from yaodao.dispatch.lateness import LateCause, late_cause_minutes
from yaodao.dispatch.mdrp import Instance
from yaodao.dispatch.mdrp_sim import SimResult

ASSIGNMENTS_FILE = "solution_info_assignments.txt"
ORDERS_FILE = "solution_info_orders.txt"
COURIERS_FILE = "solution_info_couriers.txt"


@dataclass(frozen=True, slots=True)
class InstanceMetrics:
    instance: str
    orders: int
    delivered: int
    pct_undelivered: float
    ctd_mean: float
    ctd_p90: float
    ctd_overage_mean: float
    rtp_mean: float
    rtp_p90: float
    rtd_mean: float
    util_mean: float
    util_p10: float
    cost_per_order: float
    orders_per_bundle: float
    pct_ctd_over_30: float
    pct_ctd_over_60: float
    ctd_lower_bound_mean: float
    late_causes: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # wall-clock time of the replay
    cpu_seconds: float = 0.0  # CPU time of the replay (one process, one core)


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else math.nan


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(np.asarray(values, dtype=np.float64))) if values else math.nan


def instance_metrics(result: SimResult, seconds: float = 0.0, cpu_seconds: float = 0.0) -> InstanceMetrics:
    """The paper's per-instance figures for one simulated day."""
    inst = result.instance
    p = inst.params
    ctd, rtp, rtd, lower = [], [], [], []
    causes: Counter[str] = Counter()
    for d in result.deliveries.values():
        order = inst.order_by_id[d.order_id]
        ctd.append(d.dropoff_time - order.placement_time)
        rtp.append(d.pickup_time - order.ready_time)
        rtd.append(d.dropoff_time - order.ready_time)
        direct = inst.travel_minutes(order.restaurant, order.id) + p.pickup_after + p.dropoff_before
        cause = late_cause_minutes(
            promise=p.target_click_to_door,
            prep=order.ready_time - order.placement_time,
            courier_wait=d.pickup_time - order.ready_time,
            ride=d.dropoff_time - d.pickup_time,
            direct_ride=direct,
        )
        if cause is not None:
            causes[cause.value] += 1
    lower = [inst.ctd_lower_bound(o) for o in inst.orders]
    util, pay = [], 0.0
    driving: Counter[str] = Counter()
    for move in result.moves:
        driving[move.courier_id] += move.arrival - move.departure
    bundles = Counter(a.courier_id for a in result.assignments)
    dropped = Counter(d.courier_id for d in result.deliveries.values())
    for c in inst.couriers:
        shift = c.off_time - c.on_time
        busy = driving[c.id] + p.pickup_service_minutes * bundles[c.id] + p.dropoff_service_minutes * dropped[c.id]
        util.append(busy / shift if shift > 0 else 0.0)
        pay += max(p.pay_per_order * dropped[c.id], p.guaranteed_pay_per_hour * shift / 60.0)
    delivered = len(result.deliveries)
    n = len(inst.orders)
    return InstanceMetrics(
        instance=inst.name,
        orders=n,
        delivered=delivered,
        pct_undelivered=100.0 * (n - delivered) / n if n else 0.0,
        ctd_mean=_mean(ctd),
        ctd_p90=_percentile(ctd, 90),
        ctd_overage_mean=_mean([max(0.0, v - p.target_click_to_door) for v in ctd]),
        rtp_mean=_mean(rtp),
        rtp_p90=_percentile(rtp, 90),
        rtd_mean=_mean(rtd),
        util_mean=_mean(util),
        util_p10=_percentile(util, 10),
        cost_per_order=pay / delivered if delivered else math.inf,
        orders_per_bundle=_mean([len(a.order_ids) for a in result.assignments]),
        pct_ctd_over_30=100.0 * sum(v > 30 for v in ctd) / len(ctd) if ctd else 0.0,
        pct_ctd_over_60=100.0 * sum(v > 60 for v in ctd) / len(ctd) if ctd else 0.0,
        ctd_lower_bound_mean=_mean(lower),
        late_causes=dict(sorted(causes.items())),
        seconds=seconds,
        cpu_seconds=cpu_seconds,
    )


# -- solution files -------------------------------------------------------------------------


def solution_files(result: SimResult) -> dict[str, str]:
    """The three files the upstream evaluator reads, space-separated, minutes as in the instance."""
    inst = result.instance
    lines = ["assignment_time pickup_time courier orders"]
    lines += [f"{a.assignment_time} {a.pickup_time} {a.courier_id} {' '.join(a.order_ids)}" for a in result.assignments]
    assignments = "\n".join(lines) + "\n"
    lines = ["order placement_time ready_time pickup_time dropoff_time courier"]
    for o in inst.orders:
        d = result.deliveries.get(o.id)
        tail = "NaN NaN NaN" if d is None else f"{d.pickup_time} {d.dropoff_time} {d.courier_id}"
        lines.append(f"{o.id} {o.placement_time} {o.ready_time} {tail}")
    orders = "\n".join(lines) + "\n"
    lines = ["courier departure_time origin destination"]
    by_courier: dict[str, list[str]] = {}
    for m in result.moves:
        origin = "0" if m.origin == m.courier_id else m.origin
        by_courier.setdefault(m.courier_id, []).append(f"{m.courier_id} {m.departure} {origin} {m.destination}")
    for c in inst.couriers:
        lines += by_courier.get(c.id, [])
    couriers = "\n".join(lines) + "\n"
    return {ASSIGNMENTS_FILE: assignments, ORDERS_FILE: orders, COURIERS_FILE: couriers}


def _data_rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()[1:] if line.strip()]


def check_solution(instance: Instance, files: Mapping[str, str]) -> list[str]:
    """The evaluator's feasibility checks on the solution files; an empty list means FEASIBLE."""
    p = instance.params
    problems: list[str] = []
    assignments = [(int(r[0]), int(r[1]), r[2], r[3:]) for r in _data_rows(files[ASSIGNMENTS_FILE])]
    order_rows = {r[0]: r for r in _data_rows(files[ORDERS_FILE])}
    seen: Counter[str] = Counter(o for a in assignments for o in a[3])
    problems += [f"order {o} is in {k} assignments" for o, k in seen.items() if k > 1]
    for t, pickup, courier_id, bundle in assignments:
        courier = instance.courier_by_id.get(courier_id)
        if courier is None:
            problems.append(f"assignment at {t} names unknown courier {courier_id}")
            continue
        if courier.off_time < pickup:
            problems.append(f"{courier_id} picks up {bundle} at {pickup}, after its off_time {courier.off_time}")
        for o in bundle:
            order = instance.order_by_id[o]
            if t < order.placement_time:
                problems.append(f"{o} assigned at {t}, before its placement at {order.placement_time}")
            if order.ready_time > pickup:
                problems.append(f"{o} picked up at {pickup}, before it is ready at {order.ready_time}")
        drops = [_number(order_rows[o][4]) for o in bundle]
        problems += [
            f"{bundle}: drop-offs out of sequence"
            for a, b in itertools.pairwise(drops)
            if b < a + p.dropoff_service_minutes
        ]
    timelines, problems_moves = _timelines(instance, _data_rows(files[COURIERS_FILE]))
    problems += problems_moves
    for o, row in order_rows.items():
        if row[5] in ("NaN", "nan"):
            continue
        place = _place_at(timelines.get(row[5]), _number(row[4]))
        if place != o:
            problems.append(f"{row[5]} is at {place}, not at {o}, when dropping it off at {row[4]}")
    for _, pickup, courier_id, bundle in assignments:
        restaurant = instance.order_by_id[bundle[0]].restaurant
        place = _place_at(timelines.get(courier_id), pickup)
        if place != restaurant:
            problems.append(f"{courier_id} is at {place}, not at {restaurant}, when picking up {bundle} at {pickup}")
    return problems


def _number(text: str) -> float:
    return float(text)


def _timelines(
    instance: Instance, rows: Iterable[list[str]]
) -> tuple[dict[str, tuple[list[float], list[str]]], list[str]]:
    timelines: dict[str, tuple[list[float], list[str]]] = {}
    problems: list[str] = []
    for courier_id, departure, origin, destination in rows:
        if courier_id not in timelines:
            timelines[courier_id] = ([float(instance.courier_by_id[courier_id].on_time)], [courier_id])
        times, places = timelines[courier_id]
        origin_id = courier_id if origin == "0" else origin
        if origin_id != places[-1]:
            problems.append(f"{courier_id} leaves {origin_id} at {departure} but is at {places[-1]}")
        start = float(departure)
        times += [start, start + instance.travel_minutes(origin_id, destination)]
        places += ["", destination]
    problems += [f"{c}: a departure before an arrival" for c, (t, _) in timelines.items() if t != sorted(t)]
    return timelines, problems


def _place_at(timeline: tuple[list[float], list[str]] | None, at: float) -> str | None:
    if timeline is None:
        return None
    times, places = timeline
    i = bisect.bisect_left(times, at) - 1
    return places[i] if i >= 0 else None


# -- tables ----------------------------------------------------------------------------------

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("pct_undelivered", "undeliv%", "{:.2f}"),
    ("ctd_mean", "CtD", "{:.2f}"),
    ("ctd_p90", "CtD p90", "{:.1f}"),
    ("ctd_overage_mean", "overage", "{:.2f}"),
    ("rtp_mean", "RtP", "{:.2f}"),
    ("rtp_p90", "RtP p90", "{:.1f}"),
    ("rtd_mean", "RtD", "{:.2f}"),
    ("util_mean", "util", "{:.2f}"),
    ("util_p10", "util p10", "{:.2f}"),
    ("cost_per_order", "$/order", "{:.2f}"),
    ("orders_per_bundle", "ord/bndl", "{:.3f}"),
    ("pct_ctd_over_30", ">30%", "{:.1f}"),
    ("pct_ctd_over_60", ">60%", "{:.1f}"),
    ("ctd_lower_bound_mean", "CtD LB", "{:.2f}"),
    ("seconds", "run s", "{:.2f}"),
)


def metric_means(rows: Sequence[InstanceMetrics]) -> dict[str, float]:
    """Unweighted means over instances, as the paper averages them."""
    return {key: _mean([float(getattr(r, key)) for r in rows]) for key, _, _ in COLUMNS}


def table(rows: Sequence[InstanceMetrics]) -> str:
    """Per-instance table, then the mean and std over instances, as aligned text."""
    width = max([len("instance"), *(len(r.instance) for r in rows)])
    head = f"{'instance':<{width}} " + " ".join(f"{label:>9}" for _, label, _ in COLUMNS)
    out = [head, "-" * len(head)]
    for r in rows:
        out.append(f"{r.instance:<{width}} " + " ".join(f"{fmt.format(getattr(r, k)):>9}" for k, _, fmt in COLUMNS))
    if rows:
        out.append("-" * len(head))
        means = metric_means(rows)
        out.append(f"{'mean':<{width}} " + " ".join(f"{fmt.format(means[k]):>9}" for k, _, fmt in COLUMNS))
        stds = {
            k: float(np.std([float(getattr(r, k)) for r in rows], ddof=1)) if len(rows) > 1 else 0.0
            for k, _, _ in COLUMNS
        }
        out.append(f"{'std':<{width}} " + " ".join(f"{fmt.format(stds[k]):>9}" for k, _, fmt in COLUMNS))
    return "\n".join(out) + "\n"


def late_cause_line(rows: Sequence[InstanceMetrics]) -> str:
    """How many deliveries overshot the target, by cause, over all instances."""
    total: Counter[str] = Counter()
    for r in rows:
        total.update(r.late_causes)
    parts = [f"{cause.value}={total.get(cause.value, 0)}" for cause in LateCause]
    return "late deliveries (CtD > target) by cause: " + " ".join(parts) + "\n"


def summary_line(rows: Sequence[InstanceMetrics]) -> str:
    m = metric_means(rows)
    return (
        f"instances={len(rows)} undelivered_pct={m['pct_undelivered']:.3f} ctd_mean={m['ctd_mean']:.2f} "
        f"ctd_p90={m['ctd_p90']:.2f} r2p_mean={m['rtp_mean']:.2f} utilisation={m['util_mean']:.3f} "
        f"cost_per_order={m['cost_per_order']:.2f} orders_per_bundle={m['orders_per_bundle']:.3f}\n"
    )
