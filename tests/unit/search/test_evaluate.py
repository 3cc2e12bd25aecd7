"""Scoring a search run: each metric counts what it says it counts."""

from __future__ import annotations

import pytest

from yaodao.search.evaluate import Labelled, Predicted, render, score


def pair(query: str, label: str, predicted: str, expect: tuple[str, ...] = (), top: tuple[tuple[str, ...], ...] = ()):  # type: ignore[no-untyped-def]
    return Labelled(query, label, expect), Predicted(query, predicted, 0.9, top)


def test_metrics_follow_their_definitions() -> None:
    """2 of 4 intents right; 1 of 2 emergencies found; 1 of 2 predicted non_medical right; ranks 1 and 3."""
    report = score(
        [
            pair("胸痛", "emergency", "emergency"),
            pair("can't breathe", "emergency", "non_medical"),
            pair("头疼", "symptom", "symptom", ("ibuprofen",), (("paracetamol",), ("x",), ("ibuprofen",))),
            pair("手机壳", "non_medical", "non_medical", ("paracetamol",), (("paracetamol", "caffeine"),)),
        ]
    )
    assert report.n == 4
    assert report.intent_accuracy == pytest.approx(3 / 4)
    assert report.emergency_recall == pytest.approx(1 / 2)
    assert report.nonmed_precision == pytest.approx(1 / 2)
    assert report.recall_at_5 == pytest.approx(1.0)
    assert report.mrr_at_5 == pytest.approx((1 / 3 + 1) / 2)
    assert report.confusion["emergency"]["non_medical"] == 1


def test_a_product_beyond_rank_five_is_a_miss() -> None:
    tops = (*tuple((f"p{i}",) for i in range(5)), ("ibuprofen",))
    report = score([pair("布洛芬", "drug", "drug", ("ibuprofen",), tops)])
    assert report.recall_at_5 == 0.0
    assert report.product_misses[0][0] == "布洛芬"


def test_the_report_ends_with_the_stable_key_value_line() -> None:
    text = render(score([pair("头疼", "symptom", "symptom")]))
    last = text.splitlines()[-1]
    assert last.startswith("intent_acc=1.0000 emergency_recall=1.0000 nonmed_precision=1.0000 recall@5=1.0000")
    assert last.endswith("n=1")


def test_an_empty_run_is_refused() -> None:
    with pytest.raises(ValueError, match="no queries"):
        score([])
