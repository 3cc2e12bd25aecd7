"""The promise report's arithmetic: on time against due_at, percentiles of the quote gap, late by cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from yaodao.tracking.promise import DeliveredRow, percentile, promise_report

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([-4, 0, 2, 6, 10], 50) == 2
    assert percentile([-4, 0, 2, 6, 10], 90) == pytest.approx(8.4)
    assert percentile([7], 90) == 7
    assert percentile([], 50) == 0.0


def test_delivered_exactly_at_due_is_on_time_and_late_rows_count_by_cause() -> None:
    def row(late_min: int, gap_min: int, cause: str | None = None) -> DeliveredRow:
        done = T0 + timedelta(minutes=30 + late_min)
        return DeliveredRow("o", T0 + timedelta(minutes=30), done - timedelta(minutes=gap_min), done, cause)

    report = promise_report([row(0, 1), row(-3, 0), row(5, 8, "pharmacy_slow"), row(2, 3), row(1, 4, "pharmacy_slow")])
    assert (report.n, report.on_time, report.late) == (5, 2, 3)
    assert report.on_time_rate == 0.4
    assert report.late_by_cause == {"pharmacy_slow": 2, "unrecorded": 1}
    assert report.gap_p50_min == 3.0


def test_an_empty_window_is_all_zeros() -> None:
    assert promise_report([]).as_json() == {
        "n": 0, "on_time": 0, "on_time_rate": 0.0, "gap_p50_min": 0.0, "gap_p90_min": 0.0, "late": 0,
        "late_by_cause": {},
    }  # fmt: skip
