"""What an order costs: items, discounts, fees, and the INS1 split into insured, self-paid and non-reimbursable.

Everything is integer fen. A breakdown validates its own arithmetic, so one read back from a row is
checked as strictly as one just quoted. Fees (delivery, night surcharge, packaging) are never insured
(DOMAIN INS1: delivery fees are not covered).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from yaodao.kernel.errors import ValidationFailed

INSURABLE_CLASSES = frozenset({"rx", "otc_a", "otc_b"})  # drugs; devices are never insured here


class PricedLine(Protocol):
    """What pricing needs from a line; ``OrderLine`` has it."""

    @property
    def product_id(self) -> str: ...

    @property
    def sku(self) -> str: ...

    @property
    def drug_class(self) -> str: ...

    @property
    def line_total_fen(self) -> int: ...


InsuranceEligible = Callable[[PricedLine], bool] | Collection[str]


def require_fen(value: object, field: str, *, positive: bool = False) -> int:
    """``value`` as fen, or ValidationFailed naming ``field``: no floats, no booleans, no negatives."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be an integer number of fen, got {type(value).__name__}", field=field)
    if value < 0 or (positive and value == 0):
        raise ValidationFailed(
            f"{field} must be {'positive' if positive else 'zero or more'}, got {value}", field=field
        )
    return value


@dataclass(frozen=True, slots=True)
class PricingRules:
    """Fees in fen. The night delivery fee replaces the day fee; the night surcharge comes on top.

    ``free_delivery_threshold_fen``: items (after discounts) at or above it ship without the delivery
    fee; the night surcharge stays unless ``threshold_waives_night_surcharge``. ``None`` means never free.
    """

    version: str = "pricing-default-1"
    delivery_fee_day_fen: int = 500
    delivery_fee_night_fen: int = 800
    night_surcharge_fen: int = 0
    free_delivery_threshold_fen: int | None = 3900
    threshold_waives_night_surcharge: bool = False
    packaging_fee_fen: int = 0

    def __post_init__(self) -> None:
        if not self.version.strip():
            raise ValidationFailed("version must not be empty", field="version")
        for name in ("delivery_fee_day_fen", "delivery_fee_night_fen", "night_surcharge_fen", "packaging_fee_fen"):
            require_fen(getattr(self, name), name)
        if self.free_delivery_threshold_fen is not None:
            require_fen(self.free_delivery_threshold_fen, "free_delivery_threshold_fen")
        if not isinstance(self.threshold_waives_night_surcharge, bool):
            raise ValidationFailed(
                "threshold_waives_night_surcharge must be a boolean", field="threshold_waives_night_surcharge"
            )


@dataclass(frozen=True, slots=True)
class PriceBreakdown:
    """One order's price; ``total = items - discount + fees = insured + self_paid + non_reimbursable``."""

    rules_version: str
    items_subtotal_fen: int
    discount_fen: int
    delivery_fee_fen: int
    night_surcharge_fen: int
    packaging_fee_fen: int
    total_fen: int
    insured_fen: int
    self_paid_fen: int
    non_reimbursable_fen: int

    def __post_init__(self) -> None:
        for name in (
            "items_subtotal_fen",
            "discount_fen",
            "delivery_fee_fen",
            "night_surcharge_fen",
            "packaging_fee_fen",
            "total_fen",
            "insured_fen",
            "self_paid_fen",
            "non_reimbursable_fen",
        ):
            require_fen(getattr(self, name), name)
        if self.discount_fen > self.items_subtotal_fen:
            raise ValidationFailed("discount_fen must not exceed items_subtotal_fen", field="discount_fen")
        if self.non_reimbursable_fen != self.fees_fen:
            raise ValidationFailed("non_reimbursable_fen must equal the sum of the fees", field="non_reimbursable_fen")
        if self.insured_fen + self.self_paid_fen != self.items_subtotal_fen - self.discount_fen:
            raise ValidationFailed(
                "insured_fen + self_paid_fen must equal the items after discount", field="insured_fen"
            )
        if self.total_fen != self.items_subtotal_fen - self.discount_fen + self.fees_fen:
            raise ValidationFailed("total_fen must equal items - discount + fees", field="total_fen")

    @property
    def fees_fen(self) -> int:
        return self.delivery_fee_fen + self.night_surcharge_fen + self.packaging_fee_fen


def allocate_fen(amount: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount`` over ``weights`` in proportion, exactly (largest remainder; ties to the earlier)."""
    total = sum(weights)
    if amount == 0 or total == 0:
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in remainders[: amount - sum(shares)]:
        shares[i] += 1
    return shares


def _eligible(line: PricedLine, insurance_eligible: InsuranceEligible) -> bool:
    if str(line.drug_class) not in INSURABLE_CLASSES:
        return False
    if callable(insurance_eligible):
        return bool(insurance_eligible(line))
    return line.product_id in insurance_eligible or line.sku in insurance_eligible


def quote(
    lines: Sequence[PricedLine],
    rules: PricingRules,
    at_local_is_night: bool,
    *,
    discount_fen: int = 0,
    insurance_eligible: InsuranceEligible = frozenset(),
    pickup: bool = False,
) -> PriceBreakdown:
    """Price ``lines`` under ``rules``.

    ``discount_fen`` comes off the items (never off fees) and is shared over the lines in proportion
    to their totals, so an insured line carries its share of the discount: insurance never pays for
    what the pharmacy gave away. ``insurance_eligible`` is a predicate or a set of product ids / SKUs
    a public scheme could cover; only Rx and OTC drug lines can be insured. Pickup orders pay no
    delivery fee and no night surcharge.
    """
    if not lines:
        raise ValidationFailed("an order needs at least one line", field="lines")
    totals = [require_fen(line.line_total_fen, f"lines[{i}].line_total_fen") for i, line in enumerate(lines)]
    discount = require_fen(discount_fen, "discount_fen")
    subtotal = sum(totals)
    if discount > subtotal:
        raise ValidationFailed(f"discount_fen {discount} exceeds the items subtotal {subtotal}", field="discount_fen")
    net = [t - d for t, d in zip(totals, allocate_fen(discount, totals), strict=True)]
    insured = sum(n for n, line in zip(net, lines, strict=True) if _eligible(line, insurance_eligible))

    delivery = surcharge = 0
    if not pickup:
        delivery = rules.delivery_fee_night_fen if at_local_is_night else rules.delivery_fee_day_fen
        surcharge = rules.night_surcharge_fen if at_local_is_night else 0
        threshold = rules.free_delivery_threshold_fen
        if threshold is not None and subtotal - discount >= threshold:
            delivery = 0
            if rules.threshold_waives_night_surcharge:
                surcharge = 0
    fees = delivery + surcharge + rules.packaging_fee_fen
    return PriceBreakdown(
        rules_version=rules.version,
        items_subtotal_fen=subtotal,
        discount_fen=discount,
        delivery_fee_fen=delivery,
        night_surcharge_fen=surcharge,
        packaging_fee_fen=rules.packaging_fee_fen,
        total_fen=subtotal - discount + fees,
        insured_fen=insured,
        self_paid_fen=subtotal - discount - insured,
        non_reimbursable_fen=fees,
    )
