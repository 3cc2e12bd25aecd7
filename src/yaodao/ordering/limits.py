"""Restricted-ingredient limits as data, keyed per real-name identity (DOMAIN S7; RELIABILITY I13).

A limit is never per account or address: accounts sharing one verified ID share one allowance.

How the persistence layer enforces a window exactly, under concurrency
-----------------------------------------------------------------------
One counter row per ``CounterKey(identity_key, counter, window_start)`` holds the packs and mg an
identity bought on the local days ``window_start .. window_start + window_days - 1``. A purchase on
day ``d`` adds to the ``window_days`` rows whose window covers ``d`` (``counter_keys``), so every run
of ``window_days`` consecutive days has its own row and a rolling limit holds exactly, with no summing
of past orders (which would be write skew). In the checkout transaction, for each key in sorted order
(so concurrent checkouts queue instead of deadlocking)::

    INSERT INTO restricted_usage (identity_key, counter, window_start, packs, mg)
    VALUES (:identity_key, :counter, :window_start, 0, 0) ON CONFLICT DO NOTHING;
    UPDATE restricted_usage SET packs = packs + :packs, mg = mg + :mg
     WHERE identity_key = :identity_key AND counter = :counter AND window_start = :window_start
       AND packs + :packs <= :max_packs AND mg + :mg <= :max_mg;   -- omit a bound the rule lacks

Zero rows updated means the limit would be exceeded: roll the whole checkout back (a 4xx, never a 5xx).
On PostgreSQL at READ COMMITTED a waiting UPDATE re-checks its WHERE on the committed row, and on
SQLite ``BEGIN IMMEDIATE`` serialises writers, so N concurrent orders across accounts sharing one ID
never total more than the limit. A cancelled order subtracts its usage from the same rows.
``UsageLedger`` is the same algorithm in memory.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from yaodao.catalog.model import DrugClass, Product
from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import ValidationFailed
from yaodao.ordering.model import Fulfilment
from yaodao.ordering.prescriptions import Finding, LineWithProduct

LIQUID_FORMS = frozenset({"oral_solution", "oral_liquid", "syrup", "suspension", "drops", "tincture"})
EPHEDRINES = ("ephedrine", "pseudoephedrine", "methylephedrine", "norephedrine")
_MG_PER_UNIT = {"mg": Fraction(1), "g": Fraction(1000), "μg": Fraction(1, 1000), "ug": Fraction(1, 1000)}
_PER_ML = {"mg/ml": Fraction(1), "mg/5ml": Fraction(1, 5), "g/10ml": Fraction(100), "mg/10ml": Fraction(1, 10)}


class LimitMode(enum.StrEnum):
    PICKUP_ONLY = "pickup_only"  # never delivered; the limits count pickups
    ANY = "any"  # counts every order
    DELIVERED = "delivered"  # counts delivered orders only (a mail/internet cap)


@dataclass(frozen=True, slots=True)
class LimitRule:
    """A cap on one restricted ingredient (or family of them) per real-name identity.

    ``members`` are the INNs counted under ``ingredient`` (default: the ingredient itself).
    ``combinations_only`` limits the rule to multi-ingredient products; ``otc_max_mg_per_unit`` and
    the per-pack caps are product rules (more than that needs Rx, or may not be sold at all).
    """

    ingredient: str
    max_units_per_order: int | None
    max_amount_mg_per_window: int | None
    window_days: int
    mode: LimitMode
    members: tuple[str, ...] = ()
    max_units_per_window: int | None = None
    combinations_only: bool = False
    otc_max_mg_per_unit: int | None = None
    max_mg_per_pack_solid: int | None = None
    max_mg_per_pack_liquid: int | None = None

    def __post_init__(self) -> None:
        if not self.ingredient.strip():
            raise ValidationFailed("ingredient must not be empty", field="ingredient")
        if (
            isinstance(self.window_days, bool)
            or not isinstance(self.window_days, int)
            or not 1 <= self.window_days <= 366
        ):
            raise ValidationFailed("window_days must be a whole number from 1 to 366", field="window_days")
        for name in (
            "max_units_per_order",
            "max_amount_mg_per_window",
            "max_units_per_window",
            "otc_max_mg_per_unit",
            "max_mg_per_pack_solid",
            "max_mg_per_pack_liquid",
        ):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValidationFailed(f"{name} must be a whole number, 1 or more, or None", field=name)
        if not isinstance(self.mode, LimitMode):
            raise ValidationFailed(f"mode must be one of {', '.join(LimitMode)}", field="mode")

    @property
    def inns(self) -> tuple[str, ...]:
        return self.members or (self.ingredient,)

    @property
    def counter(self) -> str:
        """The counter's name in ``CounterKey``: two rules on one ingredient never share a row."""
        return f"{self.ingredient}/{self.window_days}d/{self.mode}"

    def applies_to(self, product: Product) -> bool:
        if self.combinations_only and len(product.ingredients) < 2:
            return False
        return any(_same_inn(i.inn.strip().lower(), m) for i in product.ingredients for m in self.inns)

    def counts(self, fulfilment: Fulfilment) -> bool:
        if self.mode is LimitMode.PICKUP_ONLY:
            return fulfilment is Fulfilment.PICKUP
        return self.mode is LimitMode.ANY or fulfilment is Fulfilment.DELIVERY


# China: ephedrine-type combinations are banned online (S6) and, for pickup, limited to 2 packs a sale
# (2012 joint notice). Decision: also 2 packs per identity per local day, so splitting a sale fails.
CHINA_RULES: tuple[LimitRule, ...] = (
    LimitRule(
        "ephedrine-type", 2, None, 1, LimitMode.PICKUP_ONLY, members=EPHEDRINES, max_units_per_window=2,
        combinations_only=True, otc_max_mg_per_unit=30, max_mg_per_pack_solid=720, max_mg_per_pack_liquid=800,
    ),
)  # fmt: skip
# US (optional): CMEA 2005, 3.6 g a day, 9 g in 30 days, 7.5 g in 30 days by mail or internet.
US_RULES: tuple[LimitRule, ...] = (
    LimitRule("pseudoephedrine", None, 3600, 1, LimitMode.ANY, members=("pseudoephedrine", "ephedrine")),
    LimitRule("pseudoephedrine", None, 9000, 30, LimitMode.ANY, members=("pseudoephedrine", "ephedrine")),
    LimitRule("pseudoephedrine", None, 7500, 30, LimitMode.DELIVERED, members=("pseudoephedrine", "ephedrine")),
)


def _same_inn(a: str, b: str) -> bool:
    return a == b or a.startswith(b + " ") or b.startswith(a + " ")


def _dose_mg(product: Product, rule: LimitRule) -> tuple[Fraction | None, Fraction | None]:
    """(mg per dose unit, mg per pack) of the rule's ingredients; None where the label does not say."""
    unit_mg: Fraction | None = Fraction(0)
    pack_mg: Fraction | None = Fraction(0)
    for ing in product.ingredients:
        if not any(_same_inn(ing.inn.strip().lower(), m) for m in rule.inns):
            continue
        amount = None if ing.amount is None else Fraction(str(ing.amount))
        unit = (ing.unit or "").replace(" ", "").lower()
        if amount is not None and unit in _MG_PER_UNIT and product.pack_unit != "ml":
            unit_mg = None if unit_mg is None else unit_mg + amount * _MG_PER_UNIT[unit]
            pack_mg = None if pack_mg is None else pack_mg + amount * _MG_PER_UNIT[unit] * product.pack_size
        elif amount is not None and unit in _PER_ML and product.pack_unit == "ml":
            # A liquid has no dose unit: only its pack total counts.
            pack_mg = None if pack_mg is None else pack_mg + amount * _PER_ML[unit] * product.pack_size
        else:
            unit_mg = pack_mg = None
    return unit_mg, pack_mg


@dataclass(frozen=True, slots=True)
class Usage:
    packs: int = 0
    mg: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.packs + other.packs, self.mg + other.mg)

    def within(self, rule: LimitRule) -> bool:
        packs_ok = rule.max_units_per_window is None or self.packs <= rule.max_units_per_window
        return packs_ok and (rule.max_amount_mg_per_window is None or self.mg <= rule.max_amount_mg_per_window)


def usage_needed(
    lines: Sequence[LineWithProduct], rules: Iterable[LimitRule], fulfilment: Fulfilment
) -> dict[LimitRule, Usage]:
    """What ``lines`` add to each rule that counts this fulfilment; mg are rounded up."""
    out: dict[LimitRule, Usage] = {}
    for rule in rules:
        if not rule.counts(fulfilment):
            continue
        for line in lines:
            if not rule.applies_to(line.product):
                continue
            _, pack_mg = _dose_mg(line.product, rule)
            if pack_mg is None and rule.max_amount_mg_per_window is not None:
                raise ValidationFailed(f"{line.product.sku}: the amount of {rule.ingredient} is unknown", field="lines")
            mg = math.ceil((pack_mg or 0) * line.quantity)
            out[rule] = out.get(rule, Usage()) + Usage(line.quantity, mg)
    return out


@dataclass(frozen=True, slots=True)
class CounterKey:
    identity_key: str
    counter: str
    window_start: date


def counter_keys(identity_key: str, rule: LimitRule, at: datetime, tz: ZoneInfo) -> list[CounterKey]:
    """The rows a purchase at ``at`` updates for ``rule``, in the order to lock them."""
    day = require_aware(at).astimezone(tz).date()
    starts = [day - timedelta(days=back) for back in range(rule.window_days - 1, -1, -1)]
    return [CounterKey(identity_key, rule.counter, start) for start in starts]


@dataclass(frozen=True, slots=True)
class LimitsState:
    """Usage already on record for one identity: per ``rule.counter``, the fullest row a purchase now
    would update (what the service reads before the gate; the conditional UPDATE stays the guard)."""

    used: Mapping[str, Usage] = field(default_factory=dict)

    def of(self, rule: LimitRule) -> Usage:
        return self.used.get(rule.counter, Usage())


def limit_findings(
    lines: Sequence[LineWithProduct],
    rules: Sequence[LimitRule],
    fulfilment: Fulfilment,
    identity_key: str | None,
    state: LimitsState,
) -> list[Finding]:
    """Every block the limits raise for these lines (S7); empty when they may be sold."""
    out: list[Finding] = []
    unknown: set[LimitRule] = set()
    for line in lines:
        p = line.product
        name = f"{p.generic_name_zh} ({p.generic_name_en})"
        for rule in (r for r in rules if r.applies_to(p)):
            if identity_key is None:
                out.append(
                    Finding(
                        "identity_unverified",
                        f"{name} needs a real-name verified buyer",
                        p.id,
                        rule.ingredient,
                        rule="S7",
                    )
                )
            if rule.mode is LimitMode.PICKUP_ONLY and fulfilment is Fulfilment.DELIVERY:
                out.append(
                    Finding(
                        "restricted_pickup_only",
                        f"{name} is sold for pickup at the pharmacy only",
                        p.id,
                        rule.ingredient,
                        rule="S7",
                    )
                )
            unit_mg, pack_mg = _dose_mg(p, rule)
            cap = rule.otc_max_mg_per_unit
            if cap is not None and p.drug_class is not DrugClass.RX and (unit_mg is None or unit_mg > cap):
                message = f"{name}: over {cap} mg {rule.ingredient} per dose unit (or unknown) is Rx only"
                out.append(Finding("restricted_dose_requires_rx", message, p.id, rule.ingredient, rule="S7"))
            pack_cap = rule.max_mg_per_pack_liquid if p.dosage_form in LIQUID_FORMS else rule.max_mg_per_pack_solid
            if pack_cap is not None and (pack_mg is None or pack_mg > pack_cap):
                message = f"{name}: a pack holds over {pack_cap} mg {rule.ingredient} (or the label does not say)"
                out.append(Finding("restricted_pack_too_large", message, p.id, rule.ingredient, rule="S7"))
            if pack_mg is None and rule.max_amount_mg_per_window is not None and rule.counts(fulfilment):
                unknown.add(rule)
                message = f"{name}: the amount of {rule.ingredient} is unknown, so its limit cannot be checked"
                out.append(Finding("restricted_amount_unknown", message, p.id, rule.ingredient, rule="S7"))
    counted = [r for r in rules if r.counts(fulfilment) and r not in unknown]
    for rule, need in usage_needed(lines, counted, fulfilment).items():
        names = ", ".join(sorted({line.product.generic_name_zh for line in lines if rule.applies_to(line.product)}))
        if rule.max_units_per_order is not None and need.packs > rule.max_units_per_order:
            message = f"{names}: {need.packs} packs with {rule.ingredient}, at most {rule.max_units_per_order} an order"
            out.append(Finding("restricted_order_limit", message, None, rule.counter, rule="S7"))
        if identity_key is not None and not (state.of(rule) + need).within(rule):
            message = f"{names}: the buyer would pass the {rule.ingredient} limit for {rule.window_days} day(s)"
            out.append(Finding("restricted_window_limit", message, None, rule.counter, rule="S7"))
    return out


class UsageLedger:
    """The counter rows in memory, updated exactly as the SQL above does (all or nothing per order)."""

    def __init__(self) -> None:
        self.rows: dict[CounterKey, Usage] = {}

    def state_for(self, identity_key: str, rules: Iterable[LimitRule], at: datetime, tz: ZoneInfo) -> LimitsState:
        used: dict[str, Usage] = {}
        for rule in rules:
            rows = [self.rows.get(k, Usage()) for k in counter_keys(identity_key, rule, at, tz)]
            used[rule.counter] = Usage(max(r.packs for r in rows), max(r.mg for r in rows))
        return LimitsState(used)

    def try_record(self, identity_key: str, needed: Mapping[LimitRule, Usage], at: datetime, tz: ZoneInfo) -> bool:
        updates = {
            key: self.rows.get(key, Usage()) + need
            for rule, need in needed.items()
            for key in counter_keys(identity_key, rule, at, tz)
        }
        rule_of = {rule.counter: rule for rule in needed}
        if not all(total.within(rule_of[key.counter]) for key, total in updates.items()):
            return False
        self.rows.update(updates)
        return True
