"""``yaodao simulate consults``: the staffing simulation, cross-region matcher against the regional baseline.

Prints time to first doctor reply (p50/p90/p99) overall, per region and per hour, doctor
utilisation and abandoned consultations for both policies on the same demand and roster, and
ends with one summary line for scripts.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TextIO

from yaodao.care.staffing_sim import PolicyResult, SimParams, SimResult, demand_weights, percentile, simulate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=int, default=24, help="simulated hours of demand (default 24)")
    parser.add_argument("--seed", type=int, default=1, help="seed for demand, roster and doctor behaviour")
    parser.add_argument("--peak-per-hour", type=int, default=2000, help="requests in the busiest hour (design load)")
    parser.add_argument("--staffing-beta", type=float, default=None, help="safety staffing: slots = a + beta*sqrt(a)")
    parser.add_argument("--no-hourly", action="store_true", help="leave out the table by hour")


def run(args: argparse.Namespace, out: TextIO) -> int:
    params = SimParams(hours=args.hours, peak_per_hour=args.peak_per_hour)
    if args.staffing_beta is not None:
        params = dataclasses.replace(params, staffing_beta=args.staffing_beta)
    began = time.perf_counter()
    result = simulate(params, args.seed)
    elapsed = time.perf_counter() - began
    write_report(result, out, elapsed_s=elapsed, hourly=not args.no_hourly)
    return 0


def summary_line(result: SimResult) -> str:
    """The one-line summary: both policies' figures from the same run."""
    national, regional = result.national, result.regional
    p90s = _region_p90s(result, national)
    baseline_p90s = _region_p90s(result, regional)
    return (
        f"consults={len(result.arrivals)} p50_wait_s={_num(percentile(national.waits, 50))} "
        f"p90_wait_s={_num(percentile(national.waits, 90))} worst_region_p90_s={_num(max(p90s))} "
        f"best_region_p90_s={_num(min(p90s))} baseline_worst_region_p90_s={_num(max(baseline_p90s))} "
        f"abandoned_pct={_abandoned_pct(national.waits):.2f}"
    )


def write_report(result: SimResult, out: TextIO, *, elapsed_s: float | None = None, hourly: bool = True) -> None:
    p = result.params
    national, regional = result.national, result.regional
    shifts = result.roster.shifts
    out.write("Consultation staffing simulation (SYNTHETIC demand and roster, generated from the seed)\n")
    out.write(
        f"  seed {result.seed}, {p.hours} h from {p.start.isoformat()}, design load {p.peak_per_hour:,} "
        f"requests in the peak hour, {len(result.arrivals):,} requests in all\n"
    )
    on_duty = [sum(1 for s in shifts if s.start <= p.start + _hours(h) < s.end) for h in range(p.hours)]
    out.write(
        f"  roster: {len(result.roster.doctors):,} doctors in {p.session_hours}-h sessions, up to "
        f"{p.max_concurrent} consultations each; on duty {min(on_duty)}-{max(on_duty)} "
        f"(staffing beta {p.staffing_beta}, mean length {p.mean_service_s:.0f} s, "
        f"mean reply {p.mean_reply_s:.0f} s, offer timeout {p.match.offer_timeout_s:.0f} s)\n"
    )
    out.write("  wait = request to first doctor reply; an abandoned consultation counts as never replied (inf)\n\n")
    policies = f"{'cross-region matcher':^31} | {'regional baseline':^31}"
    out.write(f"{'':11}{'doctors':>8}{'demand':>8}{'doctors':>9}{'':>8} | {policies}\n")
    sub = "".join(f"{h:>7}" for h in ("p50 s", "p90 s", "p99 s")) + f"{'aband.':>10}"
    out.write(f"{'region':<11}{'/1,000':>8}{'share':>8}{'rostered':>9}{'reqs':>8} | {sub} | {sub}\n")
    shares = demand_weights(p.regions, p.demand_tilt)
    for i, region in enumerate(p.regions):
        doctors = sum(1 for d in result.roster.doctors if d.province == region.province)
        picks = [j for j, a in enumerate(result.arrivals) if a.region == i]
        out.write(
            f"{region.name_en:<11}{region.doctors_per_1000:>8.2f}{shares[i]:>8.1%}{doctors:>9}{len(picks):>8} | "
            f"{_cells([national.waits[j] for j in picks])} | {_cells([regional.waits[j] for j in picks])}\n"
        )
    n = len(result.arrivals)
    out.write(f"{'overall':<11}{'':>8}{'':>8}{len(result.roster.doctors):>9}{n:>8} | ")
    out.write(f"{_cells(national.waits)} | {_cells(regional.waits)}\n\n")
    for res in (national, regional):
        replied = [w for w in res.waits if math.isfinite(w)]
        out.write(
            f"{res.policy:>9}: utilisation {res.utilisation:.1%}, offers {res.offers:,} "
            f"(declined {res.declined:,}, timed out {res.timed_out:,}), "
            f"replies from another province {res.cross_region / len(replied) if replied else 0:.1%}\n"
            f"{'':>11}region p90 worst/best {_ratio(_region_p90s(result, res))}; among the {len(replied):,} "
            f"replied: p50 {_num(percentile(replied, 50))} s, p90 {_num(percentile(replied, 90))} s, "
            f"worst region p90 {_num(max(_region_p90s(result, res, replied_only=True)))} s\n"
        )
    if errors := national.estimate_errors:
        out.write(
            f"  wait shown at request vs wait had (matcher): median error {percentile(errors, 50):.0f} s, "
            f"p90 error {percentile(errors, 90):.0f} s\n"
        )
    if hourly:
        out.write("\nby local hour (cross-region matcher; DOMAIN.md C1):\n  hour  reqs  p50 s  p90 s  aband.\n")
        for h in range(p.hours):
            waits = [national.waits[j] for j, a in enumerate(result.arrivals) if int(a.t // 3600) == h]
            local = (p.start + _hours(h)).strftime("%H")
            out.write(
                f"  {local}:00{len(waits):>6}{_num(percentile(waits, 50)):>7}{_num(percentile(waits, 90)):>7}"
                f"{_abandoned_pct(waits):>7.1f}%\n"
            )
    if elapsed_s is not None:
        out.write(f"\nsimulated both policies in {elapsed_s:.1f} s\n")
    out.write(summary_line(result) + "\n")


def _region_p90s(result: SimResult, res: PolicyResult, *, replied_only: bool = False) -> list[float]:
    by_region: dict[int, list[float]] = {i: [] for i in range(len(result.params.regions))}
    for arrival, wait in zip(result.arrivals, res.waits, strict=True):
        if not replied_only or math.isfinite(wait):
            by_region[arrival.region].append(wait)
    return [percentile(w, 90) for w in by_region.values() if w]


def _cells(waits: Sequence[float]) -> str:
    values = list(waits)
    return "".join(f"{_num(percentile(values, q)):>7}" for q in (50, 90, 99)) + f"{_abandoned_pct(values):>9.1f}%"


def _abandoned_pct(waits: Sequence[float]) -> float:
    return 100.0 * sum(1 for w in waits if math.isinf(w)) / len(waits) if waits else 0.0


def _ratio(values: list[float]) -> str:
    worst, best = max(values), min(values)
    if math.isinf(worst):
        return "inf"
    return f"{worst / best:.2f}" if best > 0 else "n/a"


def _num(value: float) -> str:
    if math.isnan(value):
        return "-"
    return "inf" if math.isinf(value) else f"{value:.0f}"


def _hours(h: int) -> timedelta:
    return timedelta(hours=h)
