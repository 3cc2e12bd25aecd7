"""Position reports through the courier API on both engines: every bad report gets its 4xx and changes nothing.

Scenario: a courier online near West Lake whose report 5 was accepted; the next report breaks one rule.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import pytest

from courier_support import online_courier, position, post, snapshot
from support import Platform

# Xiaoshan airport: inside Hangzhou, 25 km from West Lake. Shanghai's Bund: outside the service area.
FAR_IN_CITY = (30.2295, 120.4344)
SHANGHAI = (31.2397, 121.4998)


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("outside_city", 422),
        ("teleport", 422),
        ("future_time", 422),
        ("duplicate_seq", 409),
        ("older_seq", 409),
        ("older_time", 409),
        ("too_soon", 429),
        ("nan", 422),
        ("lat_out_of_range", 422),
        ("missing_lng", 422),
        ("bad_accuracy", 422),
    ],
)
def test_a_bad_position_is_refused_and_changes_nothing(platform: Platform, case: str, status: int) -> None:
    """Each implausible, stale or hurried report gets its 4xx naming the rule; the stored position, seq, state and
    trail stay as they were."""
    courier = online_courier(platform)
    first = post(platform, courier, "/positions", position(platform, 5))
    assert first.status_code == 200, first.text
    # One second after the accepted report for the rate limit, five for the other rules.
    platform.clock.advance(timedelta(seconds=1 if case == "too_soon" else 5))
    bodies: dict[str, Any] = {
        "outside_city": position(platform, 6, *SHANGHAI),
        "teleport": position(platform, 6, *FAR_IN_CITY),
        "future_time": {**position(platform, 6), "at": (platform.clock.now() + timedelta(seconds=45)).isoformat()},
        "duplicate_seq": position(platform, 5),
        "older_seq": position(platform, 4),
        "older_time": {**position(platform, 6), "at": (platform.clock.now() - timedelta(seconds=30)).isoformat()},
        "too_soon": position(platform, 6),
        "nan": position(platform, 6, lat=math.nan),
        "lat_out_of_range": position(platform, 6, lat=91.0),
        "missing_lng": {k: v for k, v in position(platform, 6).items() if k != "lng"},
        "bad_accuracy": position(platform, 6, accuracy_m=5000.0),
    }
    before = snapshot(platform, courier)

    if case == "nan":
        raw = json.dumps(bodies["nan"])  # the JSON extension NaN, which Python's parser accepts
        answer = platform.client.post(
            "/api/courier/positions", content=raw, headers={**courier.headers, "Content-Type": "application/json"}
        )
    else:
        answer = post(platform, courier, "/positions", bodies[case])

    assert answer.status_code == status, answer.text
    assert snapshot(platform, courier) == before
    if case == "too_soon":
        assert answer.headers["Retry-After"] == "1"
    if case in ("duplicate_seq", "older_seq"):
        assert "seq" in answer.json()["detail"]
    if case == "teleport":
        assert "km/h" in answer.json()["detail"]
