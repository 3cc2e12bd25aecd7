"""``yaodao bench mdrp PATH``: run a dispatcher on MDRP instances and report the paper's metrics.

PATH is one instance folder (holding ``orders.txt``) or a folder of them, searched recursively.
Each instance is replayed by ``mdrp_sim`` under the chosen policy; the per-instance table, the
means and std over instances, the late deliveries by cause, the feasibility verdict of the
evaluator's checks and a one-line summary are written to ``out``. ``--solutions DIR`` also writes,
per instance, the three files the upstream evaluator reads, to ``DIR/<instance>/``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TextIO

from yaodao.dispatch.baseline import plan_baseline
from yaodao.dispatch.mdrp import INSTANCE_FILES, Instance, parse_instance
from yaodao.dispatch.mdrp_policy import Planner, PlannerPolicy
from yaodao.dispatch.mdrp_report import (
    InstanceMetrics,
    check_solution,
    instance_metrics,
    late_cause_line,
    solution_files,
    summary_line,
    table,
)
from yaodao.dispatch.mdrp_sim import ReadyInformation, simulate
from yaodao.dispatch.params import PlannerParams
from yaodao.dispatch.planner import plan

POLICIES: dict[str, Planner] = {"planner": plan, "baseline": plan_baseline}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="an MDRP instance folder, or a folder of them")
    parser.add_argument("--policy", choices=sorted(POLICIES), default="planner", help="dispatcher to run")
    parser.add_argument("--solutions", type=Path, help="write the evaluator's three files per instance here")
    parser.add_argument("--tick", type=int, default=1, help="minutes between planning ticks (default 1)")
    parser.add_argument(
        "--ready",
        choices=["exact", "restaurant_mean"],
        default="exact",
        help="what the dispatcher knows of ready times: exact at placement, or the restaurant's mean prep",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="instances run in parallel processes (default 1)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a PlannerParams field, e.g. --set max_bundle_orders=1 (repeatable)",
    )
    parser.add_argument("--reference", type=Path, help="published_reference_values.csv: compare CtD per instance")


def read_instance(folder: Path) -> Instance:
    return parse_instance(folder.name, {name: (folder / name).read_text(encoding="ascii") for name in INSTANCE_FILES})


def find_instances(path: Path) -> list[Path]:
    if (path / "orders.txt").is_file():
        return [path]
    found = {p for p in path.iterdir() if (p / "orders.txt").is_file()} if path.is_dir() else set()
    found |= {p.parent for p in path.rglob("orders.txt")}
    return sorted(found, key=lambda p: p.name)


def planner_params(overrides: Sequence[str]) -> PlannerParams:
    """PlannerParams with ``NAME=VALUE`` overrides, each converted to the field's default's type."""
    defaults = PlannerParams()
    changes: dict[str, object] = {}
    names = {f.name for f in dataclasses.fields(PlannerParams)}
    for item in overrides:
        name, _, text = item.partition("=")
        if name not in names or not text:
            raise ValueError(f"--set {item!r}: expected NAME=VALUE with NAME one of {', '.join(sorted(names))}")
        kind = type(getattr(defaults, name))
        changes[name] = kind(text) if kind is not bool else text.lower() in ("1", "true", "yes")
    return dataclasses.replace(defaults, **changes)  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class _Job:
    folder: Path
    policy: str
    params: PlannerParams
    tick: int
    ready: ReadyInformation
    seed: int


def _run_one(job: _Job) -> tuple[InstanceMetrics, dict[str, str], list[str]]:
    instance = read_instance(job.folder)
    policy = PlannerPolicy(instance, POLICIES[job.policy], job.params, tick_minutes=job.tick, seed=job.seed)
    started, cpu = time.perf_counter(), time.process_time()
    result = simulate(instance, policy, tick_minutes=job.tick, ready_information=job.ready)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    files = solution_files(result)
    return instance_metrics(result, seconds, cpu), files, check_solution(instance, files)


def _reference_ctd(path: Path) -> dict[str, dict[str, float]]:
    """Published CtD means per instance and source (Yildiz exact, Reyes heuristic)."""
    found: dict[str, dict[str, float]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if not row.get("ctd_mean"):
                continue
            if row["source"].startswith("Yildiz"):
                label = "exact"
            elif row["method"].startswith("Reyes"):
                label = "reyes"
            else:
                continue
            found.setdefault(row["instance"], {})[label] = float(row["ctd_mean"])
    return found


def _comparison(rows: Sequence[InstanceMetrics], reference: dict[str, dict[str, float]]) -> str:
    lines = ["instance          CtD   exact  gap%   reyes"]
    ours, exact = [], []
    for r in rows:
        ref = reference.get(r.instance, {})
        if "exact" not in ref:
            continue
        gap = 100.0 * (r.ctd_mean / ref["exact"] - 1.0)
        reyes = f"{ref['reyes']:7.2f}" if "reyes" in ref else "      -"
        lines.append(f"{r.instance:<16} {r.ctd_mean:6.2f} {ref['exact']:6.2f} {gap:5.2f} {reyes}")
        ours.append(r.ctd_mean)
        exact.append(ref["exact"])
    if not ours:
        return ""
    mine, best = sum(ours) / len(ours), sum(exact) / len(exact)
    lines.append(
        f"mean over {len(ours)} instances with an exact optimum: CtD {mine:.2f} vs {best:.2f}"
        f" ({100 * (mine / best - 1):+.2f}%)"
    )
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    folders = find_instances(args.path)
    if not folders:
        out.write(f"no MDRP instance (a folder with orders.txt) under {args.path}\n")
        return 2
    params = planner_params(args.set)
    jobs = [_Job(f, args.policy, params, args.tick, args.ready, args.seed) for f in folders]
    started = time.perf_counter()
    if args.jobs > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(_run_one, jobs))
    else:
        results = [_run_one(job) for job in jobs]
    wall = time.perf_counter() - started
    rows = [r[0] for r in results]
    infeasible = [(m.instance, problems) for m, _, problems in results if problems]
    if args.solutions is not None:
        for metrics, files, _ in results:
            target = args.solutions / metrics.instance
            target.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                (target / name).write_text(text, encoding="ascii")
    out.write(f"MDRP benchmark: policy={args.policy} tick={args.tick} min ready={args.ready} seed={args.seed}\n")
    if args.policy == "planner":
        changed = [f"{k}={v}" for k, v in dataclasses.asdict(params).items() if v != getattr(PlannerParams(), k)]
        out.write(
            f"planner params: {', '.join(changed) or 'defaults'}"
            " (tick and service times from --tick and each instance)\n"
        )
    out.write(table(rows))
    out.write(late_cause_line(rows))
    if args.reference is not None:
        out.write(_comparison(rows, _reference_ctd(args.reference)))
    slowest = max(rows, key=lambda r: r.seconds)
    out.write(
        f"run time: {sum(r.seconds for r in rows):.1f} s over {len(rows)} instances "
        f"(max {slowest.seconds:.2f} s on {slowest.instance}); CPU {sum(r.cpu_seconds for r in rows):.1f} s "
        f"(max {max(r.cpu_seconds for r in rows):.2f} s); wall {wall:.1f} s with {args.jobs} job(s)\n"
    )
    if infeasible:
        for name, problems in infeasible:
            out.write(f"INFEASIBLE {name}: {len(problems)} violations, first: {problems[0]}\n")
    else:
        out.write(f"feasibility (the evaluator's checks): all {len(rows)} FEASIBLE\n")
    out.write(summary_line(rows))
    return 1 if infeasible else 0
