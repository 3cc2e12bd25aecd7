"""Prices in integer fen: fees by day and night, the free-delivery threshold, discounts, and the INS1 split."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yaodao.kernel.errors import ValidationFailed
from yaodao.ordering.pricing import PriceBreakdown, PricingRules, allocate_fen, quote

RULES = PricingRules(
    version="hz-2025-06",
    delivery_fee_day_fen=500,
    delivery_fee_night_fen=800,
    night_surcharge_fen=300,
    free_delivery_threshold_fen=3900,
    packaging_fee_fen=100,
)


@dataclass(frozen=True)
class Line:
    product_id: str
    sku: str
    drug_class: str
    line_total_fen: int


IBUPROFEN = Line("pr-ibu", "ibuprofen-tabs", "otc_a", 1250)
AMLODIPINE = Line("pr-aml", "amlodipine-tabs", "rx", 2980)
BANDAGE = Line("pr-band", "elastic-bandage", "device", 600)


def test_a_small_day_order_pays_the_day_delivery_fee_and_packaging() -> None:
    """Below the threshold by day: items + day fee + packaging; no surcharge."""
    price = quote([IBUPROFEN], RULES, False)
    assert (price.items_subtotal_fen, price.delivery_fee_fen, price.night_surcharge_fen) == (1250, 500, 0)
    assert price.total_fen == 1250 + 500 + 100
    assert price.rules_version == "hz-2025-06"


def test_at_night_the_night_fee_replaces_the_day_fee_and_the_surcharge_comes_on_top() -> None:
    """Night: the night delivery fee plus the night surcharge."""
    price = quote([IBUPROFEN], RULES, True)
    assert (price.delivery_fee_fen, price.night_surcharge_fen, price.total_fen) == (800, 300, 1250 + 800 + 300 + 100)


def test_the_threshold_waives_the_delivery_fee_but_not_the_night_surcharge_unless_told() -> None:
    """At or above the threshold the delivery fee goes; the surcharge stays unless the rules waive it."""
    lines = [IBUPROFEN, AMLODIPINE]  # 4230 fen
    assert quote(lines, RULES, True).delivery_fee_fen == 0
    assert quote(lines, RULES, True).night_surcharge_fen == 300
    waiving = PricingRules(
        delivery_fee_night_fen=800, night_surcharge_fen=300, free_delivery_threshold_fen=3900,
        threshold_waives_night_surcharge=True,
    )  # fmt: skip
    assert quote(lines, waiving, True).night_surcharge_fen == 0


def test_the_threshold_counts_items_after_the_discount() -> None:
    """A coupon that takes the basket under the threshold brings the delivery fee back."""
    lines = [IBUPROFEN, AMLODIPINE]
    assert quote(lines, RULES, False, discount_fen=400).delivery_fee_fen == 500
    assert quote(lines, RULES, False, discount_fen=300).delivery_fee_fen == 0


def test_a_pickup_order_pays_no_delivery_fee_nor_night_surcharge() -> None:
    """The customer collects it: only items and packaging."""
    price = quote([IBUPROFEN], RULES, True, pickup=True)
    assert price.total_fen == 1250 + 100
    assert price.non_reimbursable_fen == 100


def test_delivery_and_packaging_fees_never_enter_the_insured_subtotal() -> None:
    """INS1: fees are non-reimbursable; only eligible drug lines are insured."""
    price = quote([IBUPROFEN, AMLODIPINE], RULES, True, insurance_eligible={"pr-aml", "pr-ibu"})
    assert price.insured_fen == 1250 + 2980
    assert price.non_reimbursable_fen == price.night_surcharge_fen + price.packaging_fee_fen + price.delivery_fee_fen
    assert price.non_reimbursable_fen > 0
    assert price.self_paid_fen == 0


def test_devices_are_never_insured_even_when_listed() -> None:
    """INS1: only Rx and OTC drugs can be insured."""
    price = quote([BANDAGE, AMLODIPINE], RULES, False, insurance_eligible={"pr-band", "pr-aml"})
    assert (price.insured_fen, price.self_paid_fen) == (2980, 600)


def test_eligibility_may_be_a_predicate_or_a_set_of_skus() -> None:
    """A scheme's list may name SKUs, or the caller may decide per line."""
    assert quote([IBUPROFEN, AMLODIPINE], RULES, False, insurance_eligible={"amlodipine-tabs"}).insured_fen == 2980
    only_rx = quote([IBUPROFEN, AMLODIPINE], RULES, False, insurance_eligible=lambda line: line.drug_class == "rx")
    assert only_rx.insured_fen == 2980


def test_an_insured_line_carries_its_share_of_the_discount() -> None:
    """A 1000-fen discount over 1250 + 2980 takes 296 off the 1250 line and 704 off the 2980 line."""
    price = quote([IBUPROFEN, AMLODIPINE], RULES, False, discount_fen=1000, insurance_eligible={"pr-aml"})
    assert price.insured_fen == 2980 - 704
    assert price.self_paid_fen == 1250 - 296


@pytest.mark.parametrize("bad", [-1, 1.0, True, "100", None])
def test_amounts_must_be_whole_non_negative_fen(bad: object) -> None:
    """Floats, booleans, strings and negatives are refused, naming the field."""
    with pytest.raises(ValidationFailed) as caught:
        quote([IBUPROFEN], RULES, False, discount_fen=bad)  # type: ignore[arg-type]
    assert caught.value.field == "discount_fen"
    with pytest.raises(ValidationFailed) as caught:
        PricingRules(packaging_fee_fen=bad)  # type: ignore[arg-type]
    assert caught.value.field == "packaging_fee_fen"
    with pytest.raises(ValidationFailed, match="line_total_fen"):
        quote([Line("p", "s", "otc_a", bad)], RULES, False)  # type: ignore[arg-type]


def test_a_discount_cannot_exceed_the_items_and_an_order_needs_lines() -> None:
    """Nothing is priced below zero, and an empty basket has no price."""
    with pytest.raises(ValidationFailed, match="exceeds the items subtotal"):
        quote([IBUPROFEN], RULES, False, discount_fen=1251)
    with pytest.raises(ValidationFailed, match="at least one line"):
        quote([], RULES, False)


def test_a_breakdown_read_back_from_a_row_is_checked_too() -> None:
    """A breakdown whose parts do not add up is refused (e.g. a fee moved into the insured part)."""
    good = quote([AMLODIPINE], RULES, False, insurance_eligible={"pr-aml"})
    fields = {name: getattr(good, name) for name in PriceBreakdown.__dataclass_fields__}
    assert PriceBreakdown(**fields) == good
    with pytest.raises(ValidationFailed, match="insured_fen"):
        PriceBreakdown(**{**fields, "insured_fen": good.insured_fen + 100, "self_paid_fen": good.self_paid_fen})
    with pytest.raises(ValidationFailed, match="non_reimbursable_fen"):
        PriceBreakdown(**{**fields, "non_reimbursable_fen": 0})


lines_strategy = st.lists(
    st.builds(
        Line,
        product_id=st.sampled_from(["a", "b", "c", "d"]),
        sku=st.just("sku"),
        drug_class=st.sampled_from(["rx", "otc_a", "otc_b", "device"]),
        line_total_fen=st.integers(min_value=0, max_value=5_000_000),
    ),
    min_size=1,
    max_size=8,
)


@given(
    lines=lines_strategy,
    night=st.booleans(),
    pickup=st.booleans(),
    share=st.floats(0, 1),
    eligible=st.sets(st.sampled_from("abcd")),
)
def test_the_split_always_adds_up_to_the_total(
    lines: list[Line], night: bool, pickup: bool, share: float, eligible: set[str]
) -> None:
    """INS1: insured + self_paid + non_reimbursable == total, and insured <= the eligible drug lines."""
    subtotal = sum(line.line_total_fen for line in lines)
    discount = int(subtotal * share)
    price = quote(lines, RULES, night, discount_fen=discount, insurance_eligible=eligible, pickup=pickup)
    assert price.insured_fen + price.self_paid_fen + price.non_reimbursable_fen == price.total_fen
    assert price.total_fen == subtotal - discount + price.fees_fen
    eligible_total = sum(x.line_total_fen for x in lines if x.product_id in eligible and x.drug_class != "device")
    assert 0 <= price.insured_fen <= eligible_total
    assert price.non_reimbursable_fen == price.fees_fen


@given(amount=st.integers(0, 10**7), weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=10))
def test_allocation_is_exact_and_proportional_to_within_one_fen(amount: int, weights: list[int]) -> None:
    """Shares sum to the amount (when there is any weight) and each is within one fen of its exact share."""
    shares = allocate_fen(amount, weights)
    total = sum(weights)
    if total == 0:
        assert shares == [0] * len(weights)
        return
    assert sum(shares) == amount
    for share, weight in zip(shares, weights, strict=True):
        assert abs(share * total - amount * weight) < total
