"""The simulated city: seeded demand over Hangzhou's pharmacies, the planner and the baseline on one clock.

The small scenario: Hangzhou from 21:00 to 23:00 local (the last day hour and the first night
hour), a thirtieth of a full day's demand, a peak fleet of 40.
"""

from __future__ import annotations

import argparse
import io
import itertools
from dataclasses import replace
from datetime import timedelta

import pytest

from yaodao.catalog.model import Pharmacy
from yaodao.catalog.network import NetworkParams, generate_pharmacies
from yaodao.cities import load_city
from yaodao.dispatch import city_sim_cli
from yaodao.dispatch.baseline import plan_baseline
from yaodao.dispatch.city_sim import CityResult, CitySimParams, Demand, generate_demand, simulate_city
from yaodao.dispatch.planner import plan
from yaodao.kernel.city import City

SEED = 7
PARAMS = CitySimParams(hours=2, start_hour=21, orders_per_day=1000, couriers=40)


@pytest.fixture(scope="module")
def city() -> City:
    return load_city("hangzhou")


@pytest.fixture(scope="module")
def pharmacies(city: City) -> list[Pharmacy]:
    return generate_pharmacies(city, seed=SEED, params=NetworkParams())


@pytest.fixture(scope="module")
def demand(city: City, pharmacies: list[Pharmacy]) -> Demand:
    return generate_demand(city, pharmacies, PARAMS, SEED)


@pytest.fixture(scope="module")
def planned(city: City, pharmacies: list[Pharmacy], demand: Demand) -> CityResult:
    return simulate_city(city, pharmacies, PARAMS, plan, SEED, demand=demand)


@pytest.fixture(scope="module")
def baseline(city: City, pharmacies: list[Pharmacy], demand: Demand) -> CityResult:
    return simulate_city(city, pharmacies, PARAMS, plan_baseline, SEED, demand=demand)


def test_the_same_seed_gives_the_same_orders_timelines_and_figures(
    city: City, pharmacies: list[Pharmacy], planned: CityResult
) -> None:
    """Demand, shifts, noise and dispatch are all seeded: a second run repeats every record and figure."""
    again = simulate_city(city, pharmacies, PARAMS, plan, SEED)
    assert again.orders == planned.orders
    assert again.couriers == planned.couriers
    for window in ("day", "night"):
        assert city_sim_cli.window_metrics(city, again, window) == city_sim_cli.window_metrics(city, planned, window)


def test_another_seed_gives_other_demand(city: City, pharmacies: list[Pharmacy], demand: Demand) -> None:
    """The seed drives the demand: another seed places other orders."""
    other = generate_demand(city, pharmacies, PARAMS, SEED + 1)
    assert [o.address for o in other.orders] != [o.address for o in demand.orders]


def test_demand_spans_both_windows_with_the_city_promise_at_placement(
    city: City, demand: Demand, planned: CityResult
) -> None:
    """Orders before 22:00 are day orders promised 30 minutes, later ones night orders promised 60."""
    start = city.local(planned.start)
    assert (start.hour, start.minute) == (21, 0)
    windows = {o.window for o in demand.orders}
    assert windows == {"day", "night"}
    for o in demand.orders:
        local_hour = (start.hour * 60 + o.placed) // 60
        assert o.window == ("day" if local_hour < 22 else "night")
        assert o.promise_minutes == (30 if o.window == "day" else 60)


def test_every_order_is_delivered_or_accounted_for(demand: Demand, planned: CityResult, baseline: CityResult) -> None:
    """Each placed order has exactly one record; a delivered one was picked up once ready, then dropped off."""
    for result in (planned, baseline):
        assert [r.order.id for r in result.orders] == sorted(o.id for o in demand.orders)
        for r in result.orders:
            if r.delivered is None:
                assert r.late_cause is not None
                assert not r.on_time
                continue
            assert r.picked_up is not None
            assert r.courier_id is not None
            assert r.ready - 1e-9 <= r.picked_up < r.delivered
            assert r.bundle_size >= 1
        delivered = sum(r.delivered is not None for r in result.orders)
        assert sum(c.orders for c in result.couriers) == delivered


def test_night_orders_come_only_from_pharmacies_open_at_placement(
    city: City, pharmacies: list[Pharmacy], demand: Demand, planned: CityResult
) -> None:
    """Every order's pharmacy is open when it is placed; at night that means a 24-hour store (DL2)."""
    night = [o for o in demand.orders if o.window == "night"]
    assert night
    for o in demand.orders:
        store = pharmacies[o.pharmacy]
        local = city.local(planned.start + timedelta(minutes=o.placed)).time()
        assert store.is_open_at(local)
    assert all(pharmacies[o.pharmacy].open_24h for o in night)


def test_couriers_work_one_bundle_at_a_time_and_start_pickups_within_their_shift(planned: CityResult) -> None:
    """A courier's busy spells never overlap, and none starts outside its shift."""
    for c in planned.couriers:
        spells = sorted(c.busy)
        for (_, end), (start, _) in itertools.pairwise(spells):
            assert start >= end - 1e-9
        for start, _ in spells:
            assert c.shift.start - 1e-9 <= start <= c.shift.end


def test_the_planner_is_no_worse_than_the_baseline_on_the_same_demand(
    city: City, planned: CityResult, baseline: CityResult
) -> None:
    """Same orders, fleet and noise: the planner keeps at least as many promises as nearest-idle FCFS."""
    ours = sum(r.on_time for r in planned.orders)
    theirs = sum(r.on_time for r in baseline.orders)
    assert ours >= theirs
    for window in ("day", "night"):
        m = city_sim_cli.window_metrics(city, planned, window)
        assert m.orders > 0
        assert m.on_time + sum(m.late_by_cause.values()) == m.orders


def test_window_metrics_count_what_the_records_say(city: City, planned: CityResult) -> None:
    """On-time counts, click-to-door order statistics and courier ratios agree with the records."""
    for window in ("day", "night"):
        m = city_sim_cli.window_metrics(city, planned, window)
        records = [r for r in planned.orders if r.order.window == window]
        assert m.orders == len(records)
        assert m.on_time == sum(r.delivered is not None and r.delivered <= r.order.promise_minutes for r in records)
        assert m.ctd_p50 <= m.ctd_p90 <= m.ctd_p99
        assert 0.0 < m.utilisation <= 1.0
        assert m.km_per_order > 0


def test_the_command_ends_with_the_summary_line_and_exactly_the_issue_keys() -> None:
    """The last line is ``orders=… day_ontime=… night_ontime=… ctd_p90=… baseline_…=… couriers=…``."""
    parser = argparse.ArgumentParser()
    city_sim_cli.add_arguments(parser)
    args = parser.parse_args(
        ["--hours", "1", "--start-hour", "21", "--orders", "600", "--couriers", "30", "--seed", str(SEED)]
    )
    out = io.StringIO()
    assert city_sim_cli.run(args, out) == 0
    lines = out.getvalue().splitlines()
    pairs = [part.split("=") for part in lines[-1].split(" ")]
    assert [k for k, _ in pairs] == [
        "orders",
        "day_ontime",
        "night_ontime",
        "ctd_p90",
        "baseline_day_ontime",
        "baseline_night_ontime",
        "couriers",
    ]
    values = dict(pairs)
    assert values["couriers"] == "30"
    assert 0.0 <= float(values["day_ontime"]) <= 1.0
    assert 0.0 <= float(values["baseline_day_ontime"]) <= 1.0
    assert any(line.startswith("== planner against baseline") for line in lines)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hours": 0}, "hours"),
        ({"couriers": 0}, "couriers"),
        ({"tick_seconds": 0.5}, "tick_seconds"),
        ({"travel_noise_sigma": -0.1}, "travel_noise_sigma"),
        ({"demand_by_hour": (1.0,) * 23}, "demand_by_hour"),
        ({"start_hour": 24}, "start_hour"),
    ],
)
def test_parameters_refuse_nonsense_naming_the_field(change: dict[str, object], field: str) -> None:
    """A bad parameter fails on construction, and the message names it."""
    with pytest.raises(ValueError, match=field):
        replace(PARAMS, **change)  # type: ignore[arg-type]


def test_yaodao_simulate_runs_the_city_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    """``yaodao simulate --city hangzhou …`` (no subcommand) is the city simulation, with the issue's keys."""
    from yaodao.cli import main

    argv = ["simulate", "--city", "hangzhou", "--hours", "1", "--start-hour", "12", "--orders", "400"]
    assert main([*argv, "--couriers", "60", "--seed", "2"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    keys = [item.split("=", 1)[0] for item in last.split()]
    assert keys == ["orders", "day_ontime", "night_ontime", "ctd_p90", "baseline_day_ontime", "baseline_night_ontime",
                    "couriers"]  # fmt: skip
