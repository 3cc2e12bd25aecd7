"""The staffing simulation: seeded demand and roster, the real matcher against the regional baseline."""

from __future__ import annotations

import argparse
import dataclasses
import io
import math
import re
from datetime import timedelta

import pytest

from yaodao.care import simulate_cli
from yaodao.care.doctors import CONSULT_DEPARTMENTS, roster_gaps
from yaodao.care.simulate_cli import summary_line
from yaodao.care.staffing_sim import (
    REGIONS,
    Region,
    SimParams,
    SimResult,
    build_roster,
    demand_weights,
    doctors_needed,
    generate_demand,
    percentile,
    simulate,
)
from yaodao.kernel.errors import ValidationFailed

# A small evening: 3 hours from 19:00, 240 requests in the peak hour, two provinces far apart in doctors.
SMALL = SimParams(
    hours=3,
    peak_per_hour=240,
    start=SimParams().start + timedelta(hours=19),
    regions=(Region("beijing", "beijing", "Beijing", 2154, 4.63), Region("gansu", "lanzhou", "Gansu", 2637, 2.26)),
)


@pytest.fixture(scope="module")
def small_run() -> SimResult:
    return simulate(SMALL, seed=3)


def region_p90(result: SimResult, waits: list[float], province: str) -> float:
    index = next(i for i, r in enumerate(result.params.regions) if r.province == province)
    return percentile([w for a, w in zip(result.arrivals, waits, strict=True) if a.region == index], 90)


def test_the_same_seed_gives_the_same_figures(small_run: SimResult) -> None:
    """Determinism: demand, roster, every wait and every counter repeat exactly."""
    again = simulate(SMALL, seed=3)
    assert again.arrivals == small_run.arrivals
    assert again.roster.doctors == small_run.roster.doctors
    for a, b in ((again.national, small_run.national), (again.regional, small_run.regional)):
        assert a.waits == b.waits
        assert (a.offers, a.declined, a.timed_out, a.utilisation) == (b.offers, b.declined, b.timed_out, b.utilisation)
    assert summary_line(again) == summary_line(small_run)


def test_another_seed_gives_other_demand() -> None:
    """The seed drives the draws; nothing is fixed by accident."""
    assert [a.t for a in generate_demand(SMALL, 3)] != [a.t for a in generate_demand(SMALL, 4)]


def test_cross_region_matching_beats_the_regional_baseline_in_the_worst_region(small_run: SimResult) -> None:
    """With the same demand and roster, the doctor-poor province's p90 is far lower when doctors come from anywhere."""
    national = max(region_p90(small_run, small_run.national.waits, p) for p in ("beijing", "gansu"))
    regional = max(region_p90(small_run, small_run.regional.waits, p) for p in ("beijing", "gansu"))
    assert national < regional
    abandoned = {r.policy: sum(math.isinf(w) for w in r.waits) for r in (small_run.national, small_run.regional)}
    assert abandoned["national"] < abandoned["regional"]


def test_every_consult_is_replied_to_or_abandoned(small_run: SimResult) -> None:
    """A wait is a finite non-negative time or infinite (abandoned); replies never precede the request."""
    for result in (small_run.national, small_run.regional):
        assert len(result.waits) == len(small_run.arrivals)
        assert all(w >= 0 for w in result.waits)
        assert 0.0 < result.utilisation < 1.0
    replied = [w for w in small_run.national.waits if math.isfinite(w)]
    assert len(replied) >= 0.95 * len(small_run.arrivals)


def test_the_wait_shown_is_close_to_the_wait_had(small_run: SimResult) -> None:
    """The estimate (C2) is recorded for replied consults, and its median error stays under a minute."""
    errors = small_run.national.estimate_errors
    assert len(errors) > 0.9 * len(small_run.arrivals)
    assert percentile(errors, 50) < 60


def test_demand_leans_toward_provinces_with_fewer_doctors() -> None:
    """Per head, a province with fewer doctors per 1,000 asks more often; shares sum to one."""
    weights = demand_weights(REGIONS, 1.0)
    assert sum(weights) == pytest.approx(1.0)
    per_head = {r.province: w / r.population_10k for r, w in zip(REGIONS, weights, strict=True)}
    ranked = sorted(REGIONS, key=lambda r: r.doctors_per_1000)
    assert [per_head[r.province] for r in ranked] == sorted(per_head.values(), reverse=True)


def test_the_roster_covers_every_department_every_hour_with_fewer_doctors_at_night() -> None:
    """No department is ever without a doctor; 04:00 needs fewer doctors than 21:00."""
    params = SimParams(hours=24, peak_per_hour=400)
    roster = build_roster(params, seed=1)
    end = params.start + timedelta(hours=params.hours)
    for department in CONSULT_DEPARTMENTS:
        assert roster_gaps(roster.shifts, params.start, end, doctors=roster.doctors, department=department) == []

    def on_duty(hour: int) -> int:
        at = params.start + timedelta(hours=hour, minutes=30)
        return sum(1 for s in roster.shifts if s.on_duty(at))

    assert on_duty(4) < on_duty(21)
    assert all(min(hours) >= params.min_doctors for hours in doctors_needed(params).values())


def test_online_doctors_come_from_provinces_in_proportion_to_their_doctors() -> None:
    """Guangdong (many physicians) supplies more online doctors than Tibet (few)."""
    roster = build_roster(SimParams(hours=24, peak_per_hour=600), seed=2)
    count = {p: sum(1 for d in roster.doctors if d.province == p) for p in ("guangdong", "tibet")}
    assert count["guangdong"] > 5 * count["tibet"]
    assert all(d.may_consult for d in roster.doctors)


def test_percentile_is_nearest_rank_and_lets_abandonment_count() -> None:
    """Nearest rank on sorted values; an infinite wait can be the percentile; no values gives nan."""
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 90) == 4.0
    assert math.isinf(percentile([1.0, math.inf], 90))
    assert math.isnan(percentile([], 50))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hours": 0}, "hours"),
        ({"hourly_curve": (1.0,) * 23}, "hourly_curve"),
        ({"decline_rate": 1.5}, "decline_rate"),
        ({"department_mix": (("astrology", 1.0),)}, "department_mix"),
        ({"staffing_beta": -1.0}, "staffing_beta"),
        ({"min_doctors": 0}, "min_doctors"),
    ],
)
def test_sim_params_name_the_broken_field(changes: dict[str, object], field: str) -> None:
    """Each parameter validates itself with a message naming it."""
    with pytest.raises(ValidationFailed) as caught:
        dataclasses.replace(SimParams(), **changes)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_the_command_prints_both_policies_and_the_summary_line() -> None:
    """`simulate consults` writes the report and ends with every summary field, figures matching the run."""
    parser = argparse.ArgumentParser()
    simulate_cli.add_arguments(parser)
    out = io.StringIO()
    code = simulate_cli.run(parser.parse_args(["--hours", "2", "--seed", "5", "--peak-per-hour", "150"]), out)
    assert code == 0
    text = out.getvalue()
    assert "cross-region matcher" in text
    assert "regional baseline" in text
    last = text.strip().splitlines()[-1]
    keys = re.findall(r"(\w+)=", last)
    assert keys == [
        "consults",
        "p50_wait_s",
        "p90_wait_s",
        "worst_region_p90_s",
        "best_region_p90_s",
        "baseline_worst_region_p90_s",
        "abandoned_pct",
    ]
    expected = simulate(dataclasses.replace(SimParams(), hours=2, peak_per_hour=150), seed=5)
    assert last == summary_line(expected)
