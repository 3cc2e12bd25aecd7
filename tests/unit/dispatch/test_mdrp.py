"""The MDRP benchmark: instance files, the simulator's rules, the metrics, the evaluator's files, the CLI.

One tiny instance, written here in the real five-file format: two restaurants, four orders, two
couriers, 100 m per minute, so every ride is a whole number of minutes read off the coordinates.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Sequence
from pathlib import Path

import pytest

from yaodao.dispatch import mdrp_cli
from yaodao.dispatch.mdrp import Instance, MdrpTravel, parse_instance
from yaodao.dispatch.mdrp_policy import EPOCH, PlannerPolicy, minute
from yaodao.dispatch.mdrp_report import (
    ASSIGNMENTS_FILE,
    COURIERS_FILE,
    ORDERS_FILE,
    check_solution,
    instance_metrics,
    solution_files,
)
from yaodao.dispatch.mdrp_sim import Commit, SimView, simulate
from yaodao.dispatch.params import PlannerParams
from yaodao.dispatch.planner import plan

FILES = {
    "orders.txt": "order\tx\ty\tplacement_time\trestaurant\tready_time\n"
    "o1\t1300\t1400\t5\tr1\t15\n"  # 500 m from r1: 5 min
    "o2\t4000\t5700\t20\tr2\t30\n"  # 700 m from r2: 7 min
    "o3\t1600\t1800\t8\tr1\t16\n"  # 1000 m from r1: 10 min
    "o4\t4000\t5400\t200\tr2\t210\n",  # placed after every shift: undeliverable
    "restaurants.txt": "restaurant\tx\ty\nr1\t1000\t1000\nr2\t4000\t5000\n",
    "couriers.txt": "courier\tx\ty\ton_time\toff_time\n"
    "c1\t1000\t1600\t0\t120\n"  # 600 m from r1
    "c2\t4000\t5300\t10\t60\n",  # 300 m from r2
    "instance_parameters.txt": "meters_per_minute\tpickup service minutes\tdropoff service minutes\t"
    "target click-to-door\tmaximum click-to-door\tpay per order\tguaranteed pay per hour\n"
    "100\t4\t4\t40\t90\t10\t15\n",
    "instance_characteristics.txt": "number of orders: 4\n",
}


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "instances" / "9o50t100s1p100"
    folder.mkdir(parents=True)
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="ascii")
    return folder


@pytest.fixture
def instance() -> Instance:
    return parse_instance("tiny", FILES)


class Scripted:
    """Commits given by hand, per minute; records what it was shown."""

    def __init__(self, script: dict[int, list[Commit]]) -> None:
        self.script = script
        self.views: list[SimView] = []

    def decide(self, view: SimView) -> Sequence[Commit]:
        self.views.append(view)
        return self.script.get(view.now, [])


def test_an_instance_loads_from_its_files(instance_dir: Path) -> None:
    """Counts, parameters and the half-service split come from the files."""
    inst = mdrp_cli.read_instance(instance_dir)
    assert inst.name == "9o50t100s1p100"
    assert (len(inst.orders), len(inst.restaurants), len(inst.couriers)) == (4, 2, 2)
    assert inst.params.meters_per_minute == 100
    assert (inst.params.pickup_before, inst.params.pickup_after) == (2, 2)
    assert inst.order_by_id["o3"].ready_time == 16


def test_travel_is_the_ceiling_of_distance_over_speed(instance: Instance) -> None:
    """500 m at 100 m/min is 5 minutes; 4,534 m is 46 minutes, rounded up like the evaluator."""
    assert instance.travel_minutes("r1", "o1") == 5
    assert instance.travel_minutes("c1", "r1") == 6
    matrix = MdrpTravel(instance).matrix(["c1", "c2"], ["r1", "r2"], EPOCH)
    assert matrix.tolist() == [[6.0, 46.0], [53.0, 3.0]]  # 4534 m and 5243 m round up
    assert MdrpTravel(instance).pairwise(["r1", "r2"], ["o3", "o2"], EPOCH).tolist() == [10.0, 7.0]


def test_malformed_files_are_refused_with_the_file_named() -> None:
    """A row with a missing field names its file and line."""
    broken = dict(FILES, **{"orders.txt": "order\tx\ty\tplacement_time\trestaurant\tready_time\no1\t1\t2\t3\tr1\n"})
    with pytest.raises(ValueError, match=r"orders.txt: line 2"):
        parse_instance("broken", broken)


def test_the_simulator_applies_the_pickup_and_dropoff_rules(instance: Instance) -> None:
    """c1 leaves at 5, reaches r1 at 11, waits for ready 15, drops o1 at 15 + 2 + 5 + 2 = 24."""
    result = simulate(instance, Scripted({5: [Commit("c1", ("o1",))], 20: [Commit("c2", ("o2",))]}))
    d1, d2 = result.deliveries["o1"], result.deliveries["o2"]
    assert (d1.arrival_at_restaurant, d1.pickup_time, d1.dropoff_time) == (11, 15, 24)
    # c2 starts its shift at 10 but o2 is placed at 20: leaves at 20, r2 at 23, ready 30, door at 39 + 2.
    assert (d2.arrival_at_restaurant, d2.pickup_time, d2.dropoff_time) == (23, 30, 41)
    assert [(m.departure, m.origin, m.destination, m.arrival) for m in result.moves if m.courier_id == "c1"] == [
        (5, "c1", "r1", 11),
        (17, "r1", "o1", 22),
    ]


def test_a_bundle_leaves_when_its_last_order_is_ready_and_drops_in_the_given_order(instance: Instance) -> None:
    """o1 (ready 15) and o3 (ready 16) together: pickup 16, o3 first at 16 + 2 + 10 + 2 = 30, then o1."""
    result = simulate(instance, Scripted({8: [Commit("c1", ("o3", "o1"))]}))
    d3, d1 = result.deliveries["o3"], result.deliveries["o1"]
    assert d3.pickup_time == d1.pickup_time == 16
    assert d3.dropoff_time == 30
    assert d1.dropoff_time == 30 + 2 + instance.travel_minutes("o3", "o1") + 2
    assert result.assignments[0].order_ids == ("o3", "o1")


def test_an_assigned_courier_starts_its_next_bundle_after_the_last_drop_off(instance: Instance) -> None:
    """Committed while busy, c1 leaves o1's door at 26 for r1, not before."""
    result = simulate(instance, Scripted({5: [Commit("c1", ("o1",))], 8: [Commit("c1", ("o3",))]}))
    assert result.deliveries["o3"].arrival_at_restaurant == 26 + instance.travel_minutes("o1", "r1")


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ({5: [Commit("c1", ("o2",))]}, "not open"),  # o2 is placed at 20
        ({20: [Commit("c1", ("o1", "o2"))]}, "single restaurant"),
        ({20: [Commit("c2", ("o3",))]}, "off_time"),  # c2 cannot reach r1 before 60
        ({20: [Commit("c9", ("o1",))]}, "unknown courier"),
        ({5: [Commit("c1", ("o1",))], 8: [Commit("c2", ("o1",))]}, "not open"),  # twice
    ],
)
def test_a_commit_that_breaks_a_rule_is_refused(
    instance: Instance, script: dict[int, list[Commit]], message: str
) -> None:
    """Policies cannot bend the instance's rules."""
    with pytest.raises(ValueError, match=message):
        simulate(instance, Scripted(script))


def test_a_dispatcher_sees_orders_only_once_they_are_placed(instance: Instance) -> None:
    """No view shows an order before its placement time, and views stop when every shift is over."""
    policy = Scripted({})
    simulate(instance, policy)
    for view in policy.views:
        assert all(o.placement_time <= view.now for o in view.open_orders)
        assert all(c.courier.off_time >= view.now for c in view.couriers)
    assert max(v.now for v in policy.views) <= 121
    assert policy.views[0].now == 5


def test_restaurant_mean_information_shows_estimated_ready_times(instance: Instance) -> None:
    """r1's mean preparation is 9 minutes: o1 looks ready at 14, o3 at 17; pickups use the real times."""
    policy = Scripted({17: [Commit("c1", ("o1", "o3"))]})
    result = simulate(instance, policy, ready_information="restaurant_mean")
    seen = {o.id: o.ready_time for v in policy.views for o in v.open_orders}
    assert (seen["o1"], seen["o3"]) == (14, 17)
    assert result.deliveries["o1"].pickup_time == 25  # leaves at 17, r1 at 23 + 2


def test_with_estimated_ready_times_a_shift_can_end_before_the_food_is_ready(instance: Instance) -> None:
    """o2 looks ready at 50 (r2's mean) but is ready at 70; c2 ends at 60: it rides there, o2 goes back."""
    slow = dict(
        FILES, **{"orders.txt": FILES["orders.txt"].replace("o2\t4000\t5700\t20\tr2\t30", "o2\t4000\t5700\t20\tr2\t70")}
    )
    late = parse_instance("slow", slow)
    script = {40: [Commit("c2", ("o2",))]}
    result = simulate(late, Scripted(script), ready_information="restaurant_mean")
    assert result.missed_pickups == 1
    assert "o2" not in result.deliveries
    assert [(m.courier_id, m.departure, m.destination) for m in result.moves] == [("c2", 40, "r2")]
    assert check_solution(late, solution_files(result)) == []
    with pytest.raises(ValueError, match="off_time"):
        simulate(late, Scripted(script))  # with exact ready times it is the policy's mistake


def test_metrics_follow_the_papers_definitions(instance: Instance) -> None:
    """Two of four delivered; CtD 19 and 21; pay max($10 x orders, $15/h x shift) per delivered order."""
    result = simulate(instance, Scripted({5: [Commit("c1", ("o1",))], 20: [Commit("c2", ("o2",))]}))
    m = instance_metrics(result)
    assert (m.orders, m.delivered, m.pct_undelivered) == (4, 2, 50.0)
    assert m.ctd_mean == 20.0
    assert m.ctd_p90 == pytest.approx(20.8)  # linear interpolation, as pandas' describe
    assert (m.rtp_mean, m.ctd_overage_mean) == (0.0, 0.0)
    assert m.cost_per_order == pytest.approx((30.0 + 12.5) / 2)
    assert m.util_mean == pytest.approx(((6 + 5 + 8) / 120 + (3 + 7 + 8) / 50) / 2)
    assert m.orders_per_bundle == 1.0


def test_solution_files_have_the_evaluators_layout_and_pass_its_checks(instance: Instance) -> None:
    """Headers, NaN for the undelivered, origin 0 for a courier's start; the checks find nothing."""
    result = simulate(instance, Scripted({8: [Commit("c1", ("o3", "o1"))], 20: [Commit("c2", ("o2",))]}))
    files = solution_files(result)
    assert files[ASSIGNMENTS_FILE].splitlines() == [
        "assignment_time pickup_time courier orders",
        "8 16 c1 o3 o1",
        "20 30 c2 o2",
    ]
    orders = files[ORDERS_FILE].splitlines()
    assert orders[0] == "order placement_time ready_time pickup_time dropoff_time courier"
    assert "o4 200 210 NaN NaN NaN" in orders
    couriers = files[COURIERS_FILE].splitlines()
    assert couriers[0] == "courier departure_time origin destination"
    assert couriers[1] == "c1 8 0 r1"
    assert check_solution(instance, files) == []


def test_the_checks_catch_a_pickup_before_the_order_is_ready(instance: Instance) -> None:
    """Moving a pickup two minutes earlier breaks the ready rule and the courier's timeline."""
    files = solution_files(simulate(instance, Scripted({5: [Commit("c1", ("o1",))]})))
    files[ASSIGNMENTS_FILE] = files[ASSIGNMENTS_FILE].replace("5 15 c1 o1", "5 13 c1 o1")
    problems = check_solution(instance, files)
    assert any("before it is ready" in p for p in problems)


def test_the_planner_as_a_policy_delivers_everything_deliverable(instance: Instance) -> None:
    """Through the snapshot adapter the planner delivers o1-o3, feasibly; o4 comes after every shift."""
    result = simulate(instance, PlannerPolicy(instance, plan, PlannerParams()))
    assert sorted(result.deliveries) == ["o1", "o2", "o3"]
    assert check_solution(instance, solution_files(result)) == []
    assert all(a.assignment_time >= instance.order_by_id[a.order_ids[0]].placement_time for a in result.assignments)


def test_minutes_map_to_aware_datetimes() -> None:
    """Minute 90 of the instance's day is 01:30 UTC on the epoch day."""
    assert minute(90).isoformat() == "2018-01-01T01:30:00+00:00"


def run_cli(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    mdrp_cli.add_arguments(parser)
    out = io.StringIO()
    code = mdrp_cli.run(parser.parse_args(list(argv)), out)
    return code, out.getvalue()


def test_the_cli_reports_a_table_and_ends_with_the_summary_line(instance_dir: Path, tmp_path: Path) -> None:
    """A folder of instances in, the table, the feasibility verdict and one key=value line out."""
    code, text = run_cli(str(instance_dir.parent), "--solutions", str(tmp_path / "solutions"))
    assert code == 0
    lines = text.strip().splitlines()
    assert lines[-1].startswith("instances=1 undelivered_pct=25.000 ctd_mean=")
    for key in ("ctd_p90=", "r2p_mean=", "utilisation=", "cost_per_order=", "orders_per_bundle="):
        assert key in lines[-1]
    assert any(line.startswith("9o50t100s1p100") for line in lines)
    assert "all 1 FEASIBLE" in text
    written = sorted(p.name for p in (tmp_path / "solutions" / "9o50t100s1p100").iterdir())
    assert written == sorted([ASSIGNMENTS_FILE, ORDERS_FILE, COURIERS_FILE])


def test_the_cli_runs_the_baseline_and_accepts_parameter_overrides(instance_dir: Path) -> None:
    """--policy baseline and --set NAME=VALUE; an unknown name is refused."""
    code, text = run_cli(str(instance_dir), "--policy", "baseline")
    assert code == 0
    assert "policy=baseline" in text
    code, text = run_cli(str(instance_dir), "--set", "max_bundle_orders=1")
    assert code == 0
    assert "max_bundle_orders=1" in text
    with pytest.raises(ValueError, match="NAME=VALUE"):
        run_cli(str(instance_dir), "--set", "no_such_knob=1")


def test_the_cli_says_when_there_is_nothing_to_run(tmp_path: Path) -> None:
    """An empty folder is not an error in the code, but exit status 2."""
    code, text = run_cli(str(tmp_path))
    assert code == 2
    assert "no MDRP instance" in text


def test_yaodao_bench_mdrp_is_the_same_run_from_the_command_line(
    instance_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``yaodao bench mdrp PATH`` reaches the same report and summary line."""
    from yaodao.cli import main

    assert main(["bench", "mdrp", str(instance_dir)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("instances=1 undelivered_pct=")
