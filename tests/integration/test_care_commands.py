"""The measuring commands for consultations: ``yaodao simulate consults`` and ``yaodao eval triage``."""

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


def test_eval_triage_reads_the_repo_set_and_meets_the_issue_targets(capsys: pytest.CaptureFixture[str]) -> None:
    """``yaodao eval triage`` on eval/triage/cases.jsonl: red-flag recall 100%, department accuracy >= 85%."""
    assert main(["eval", "triage", "eval/triage/cases.jsonl"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    pairs = dict(item.split("=", 1) for item in last.split())
    assert list(pairs) == ["dept_acc", "redflag_recall", "redflag_precision", "n"]
    assert float(pairs["redflag_recall"]) == 1.0
    assert float(pairs["dept_acc"]) >= 0.85
    assert int(pairs["n"]) >= 300


def test_eval_triage_names_the_line_of_a_bad_case(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed case stops the run with its line number and field, and a non-zero exit."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "cases.jsonl"
    path.write_text(
        '{"text": "头疼", "age": 30, "sex": "f", "red_flag": false, "department": "neurology"}\n{"text": 5}\n'
    )
    assert main(["eval", "triage", str(path)]) != 0
    captured = capsys.readouterr()
    assert ":2:" in captured.out + captured.err
