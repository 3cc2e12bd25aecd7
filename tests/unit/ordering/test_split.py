"""Splitting a basket across pharmacies: the fewest parts, then the fastest, always the same answer."""

from __future__ import annotations

import pytest

from yaodao.ordering.split import LineOffer, SplitParams, SplitPart, find_split


def _always(etas: dict[str, int]):  # type: ignore[no-untyped-def]
    """A recheck that passes every sub-basket at the pharmacy's own ETA."""
    return lambda pharmacy, lines: etas[pharmacy]


def test_two_pharmacies_each_holding_one_line_make_a_two_part_split() -> None:
    offers = {"a": [LineOffer("p1", 20)], "b": [LineOffer("p2", 25)]}
    split = find_split(["a", "b"], offers, _always({"p1": 20, "p2": 25}))
    assert split == (SplitPart("p1", ("a",), 20), SplitPart("p2", ("b",), 25))


def test_fewer_parts_win_over_faster_parts() -> None:
    """p3 holds b and c: two parts (p1 + p3) beat three faster ones (p1 + p2 + p4)."""
    etas = {"p1": 10, "p2": 5, "p3": 29, "p4": 5}
    offers = {
        "a": [LineOffer("p1", 10)],
        "b": [LineOffer("p2", 5), LineOffer("p3", 29)],
        "c": [LineOffer("p4", 5), LineOffer("p3", 29)],
    }
    split = find_split(["a", "b", "c"], offers, _always(etas))
    assert split is not None
    assert [(p.pharmacy_id, p.product_ids) for p in split] == [("p1", ("a",)), ("p3", ("b", "c"))]


def test_among_equal_sizes_the_smaller_worst_eta_wins_then_the_sum() -> None:
    offers = {"a": [LineOffer("p1", 10), LineOffer("p2", 20)], "b": [LineOffer("p3", 15), LineOffer("p4", 12)]}
    split = find_split(["a", "b"], offers, _always({"p1": 10, "p2": 20, "p3": 15, "p4": 12}))
    assert split is not None
    assert [p.pharmacy_id for p in split] == ["p1", "p4"]  # worst 12, not 15 (p3) or 20 (p2)


def test_a_line_nobody_delivers_means_no_split() -> None:
    offers = {"a": [LineOffer("p1", 10)], "b": []}
    assert find_split(["a", "b"], offers, _always({"p1": 10})) is None


def test_more_parts_than_allowed_means_no_split() -> None:
    offers = {k: [LineOffer(f"p{k}", 10)] for k in "abcd"}
    etas = {f"p{k}": 10 for k in "abcd"}
    assert find_split(list("abcd"), offers, _always(etas)) is None  # four pharmacies, max three
    assert find_split(list("abcd"), offers, _always(etas), SplitParams(max_parts=4)) is not None


def test_a_sub_basket_the_recheck_refuses_falls_back_to_the_next_split() -> None:
    """p1 delivers a and b one at a time but not together; p2 (slower) holds both: the split is p2(a, b) + p3(c)."""
    offers = {
        "a": [LineOffer("p1", 10), LineOffer("p2", 20)],
        "b": [LineOffer("p1", 10), LineOffer("p2", 20)],
        "c": [LineOffer("p3", 5)],
    }
    asked: list[tuple[str, tuple[str, ...]]] = []

    def recheck(pharmacy: str, lines: tuple[str, ...]) -> int | None:
        asked.append((pharmacy, lines))
        if pharmacy == "p1" and lines == ("a", "b"):
            return None
        return {"p1": 10, "p2": 20, "p3": 5}[pharmacy]

    split = find_split(["a", "b", "c"], offers, recheck)
    assert split == (SplitPart("p2", ("a", "b"), 20), SplitPart("p3", ("c",), 5))
    assert asked[0] == ("p1", ("a", "b"))  # the faster split was tried first


def test_ties_break_by_pharmacy_id_whatever_the_order_of_the_offers() -> None:
    forward = {"a": [LineOffer("p1", 10), LineOffer("p2", 10)], "b": [LineOffer("p3", 10), LineOffer("p4", 10)]}
    backward = {k: list(reversed(v)) for k, v in forward.items()}
    etas = {"p1": 10, "p2": 10, "p3": 10, "p4": 10}
    first = find_split(["a", "b"], forward, _always(etas))
    assert first is not None
    assert [p.pharmacy_id for p in first] == ["p1", "p3"]
    again = find_split(["a", "b"], backward, _always(etas))
    assert again == first


def test_params_are_checked() -> None:
    with pytest.raises(ValueError, match="max_parts"):
        SplitParams(max_parts=0)
