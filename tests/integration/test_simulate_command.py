"""``yaodao simulate consults`` runs the real queue and matcher and ends with its key=value line."""

from __future__ import annotations

import pytest

from yaodao.cli import main

KEYS = (
    "consults p50_wait_s p90_wait_s worst_region_p90_s best_region_p90_s baseline_worst_region_p90_s abandoned_pct"
).split()


def test_the_staffing_simulation_reports_the_issue_keys(capsys: pytest.CaptureFixture[str]) -> None:
    """Two simulated hours: the summary names every key, and the matcher waits no longer than the baseline."""
    assert main(["simulate", "consults", "--hours", "2", "--seed", "3"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    pairs = dict(item.split("=", 1) for item in last.split())
    assert list(pairs) == KEYS
    assert int(pairs["consults"]) > 0
    assert float(pairs["p90_wait_s"]) <= 300
    assert float(pairs["worst_region_p90_s"]) <= float(pairs["baseline_worst_region_p90_s"])
