"""The pharmacy safety gate: what refuses an order at checkout, and what holds it for a pharmacist.

``check_order`` is pure: the service loads the products, the patient, the prescriptions the lines
name and the identity's restricted-ingredient usage, and passes them in with the time. ``blocks``
refuse the order (a 4xx; ``GateDecision.raise_for_blocks``); ``holds`` let it be paid but send it to
a pharmacist, whose review must resolve each one (``Order.apply_review``). Every finding has a stable
``code`` and a message naming the product. The checks run again, unchanged, wherever the service
wants a second look (at review or dispensing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from yaodao.catalog.model import DrugClass, Product, ProductKind
from yaodao.catalog.prohibition import check_online_sale
from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import TooManyRequests, ValidationFailed
from yaodao.ordering.interactions import Alert, AlertKind, Drug, FailClosed, InteractionSource, same_inn
from yaodao.ordering.limits import (
    CHINA_RULES,
    US_RULES,
    LimitMode,
    LimitRule,
    LimitsState,
    Usage,
    limit_findings,
    usage_needed,
)
from yaodao.ordering.model import Fulfilment, OrderLine
from yaodao.ordering.prescriptions import RX_TIMEZONE, Finding, Prescription

REVIEW_CAP_PER_DAY = 300  # S8 (draft): reviews per pharmacist per local day


@dataclass(frozen=True, slots=True)
class CartLine:
    """A product and a number of packs at checkout, with the prescription an Rx line is filled from."""

    product: Product
    quantity: int
    prescription_id: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity < 1:
            raise ValidationFailed(
                f"{self.product.sku}: quantity must be a whole number of packs, 1 or more", field="quantity"
            )


def product_label(product: Product) -> str:
    return f"{product.generic_name_zh} ({product.generic_name_en})"


def order_lines(lines: Sequence[CartLine]) -> tuple[OrderLine, ...]:
    """Snapshot cart lines at today's catalogue prices."""
    out: list[OrderLine] = []
    for line in lines:
        p, n = line.product, line.quantity
        out.append(
            OrderLine(
                p.id, p.sku, product_label(p), p.drug_class, n, p.price_fen, p.price_fen * n, line.prescription_id
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Patient:
    """The person the medicine is for (the buyer or a family member), as the gate sees them."""

    id: str
    age_years: int | None
    sex: str | None = None
    pregnant: bool = False
    allergies: tuple[str, ...] = ()  # coded: an allergen class ("penicillin") or an INN
    current_medicines: tuple[str, ...] = ()  # INNs
    identity_key: str | None = None  # opaque hash of the verified real-name ID; None = not verified (S2, S7)

    def __post_init__(self) -> None:
        if self.age_years is not None and not 0 <= self.age_years <= 150:
            raise ValidationFailed("age_years must be between 0 and 150", field="age_years")


@dataclass(frozen=True, slots=True)
class GateRules:
    """Policy the gate applies; ``version`` is stored with each decision."""

    version: str = "gate-cn-1"
    limits: tuple[LimitRule, ...] = CHINA_RULES
    timezone: str = "Asia/Shanghai"  # the days restricted-ingredient windows count in
    require_rx_risk_acknowledgement: bool = True  # S3
    ingredient_min_age: tuple[tuple[str, int], ...] = ()  # e.g. (("dextromethorphan", 18),) in US-CA mode

    def __post_init__(self) -> None:
        if not self.version.strip():
            raise ValidationFailed("version must not be empty", field="version")
        if not all(isinstance(r, LimitRule) for r in self.limits):
            raise ValidationFailed("limits must hold LimitRule values", field="limits")
        try:
            ZoneInfo(self.timezone)
        except (ValueError, KeyError) as exc:
            raise ValidationFailed(f"unknown timezone {self.timezone!r}", field="timezone") from exc
        if any(not inn.strip() or not 0 < age <= 150 for inn, age in self.ingredient_min_age):
            raise ValidationFailed("ingredient_min_age needs (INN, age 1-150) pairs", field="ingredient_min_age")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


CHINA = GateRules()
US_CA = GateRules("gate-us-ca-1", US_RULES, "America/Los_Angeles", True, (("dextromethorphan", 18),))


class OrderBlocked(ValidationFailed):
    code = "order_blocked"

    def __init__(self, blocks: Sequence[Finding]) -> None:
        errors = [(b.code, b.message) for b in blocks]
        super().__init__("; ".join(b.message for b in blocks), field=blocks[0].code if blocks else None, errors=errors)
        self.findings = tuple(blocks)


@dataclass(frozen=True, slots=True)
class GateDecision:
    blocks: tuple[Finding, ...]
    holds: tuple[Finding, ...]
    alerts: tuple[Alert, ...]
    usage: Mapping[LimitRule, Usage]  # what to add to the identity's counters (limits.py)
    prescription_ids: tuple[str, ...]  # the prescriptions to fill, one fill each
    rules_version: str
    source: str = ""  # the interaction source and version consulted
    checked_at: datetime | None = None

    @property
    def allowed(self) -> bool:
        return not self.blocks

    def raise_for_blocks(self) -> None:
        if self.blocks:
            raise OrderBlocked(self.blocks)


def check_order(
    lines: Sequence[CartLine],
    patient: Patient,
    prescriptions: Mapping[str, Prescription],
    limits_state: LimitsState,
    interaction_source: InteractionSource,
    at: datetime,
    fulfilment: Fulfilment,
    rules: GateRules = CHINA,
    *,
    risk_acknowledged: bool = False,
) -> GateDecision:
    """Run every check on a cart for ``patient`` at ``at``; see the module docstring."""
    require_aware(at)
    if not lines:
        raise ValidationFailed("an order needs at least one line", field="lines")
    blocks: list[Finding] = []
    for product, quantity in _packs_per_product(lines):
        blocks += _product_blocks(product, quantity, patient, fulfilment, rules)
    blocks += limit_findings(lines, rules.limits, fulfilment, patient.identity_key, limits_state)
    rx_blocks, holds, rx_ids = _prescription_findings(lines, patient, prescriptions, at, rules, risk_acknowledged)
    blocks += rx_blocks

    source = FailClosed(interaction_source)
    drugs = {line.product.id: line.product for line in lines if line.product.kind is ProductKind.DRUG}
    alerts: list[Alert] = []
    if drugs:
        as_drugs = [Drug(p.id, product_label(p), p.inns) for p in drugs.values()]
        alerts = source.check(as_drugs, patient.current_medicines, patient.allergies, patient)
        holds += [_hold(alert, drugs) for alert in alerts]
    blocks, holds = _unique(blocks), _unique(holds)
    usage = usage_needed(lines, rules.limits, fulfilment) if not blocks else {}
    return GateDecision(
        tuple(blocks), tuple(holds), tuple(alerts), usage, rx_ids, rules.version, f"{source.name} {source.version}", at
    )


def _packs_per_product(lines: Sequence[CartLine]) -> list[tuple[Product, int]]:
    packs: dict[str, tuple[Product, int]] = {}
    for line in lines:
        product, before = packs.get(line.product.id, (line.product, 0))
        packs[line.product.id] = (product, before + line.quantity)
    return list(packs.values())


def _prohibited(product: Product, fulfilment: Fulfilment, rules: GateRules) -> str | None:
    """S6: why the list bans this product here, or None. Never overridden, with one exception the
    rules must name: a pickup-only restricted ingredient (China: ephedrine-type combinations) may be
    collected at the counter when the rest of the product passes the list on its own."""
    verdict = check_online_sale(product.ingredients, product.dosage_form, product.generic_name_zh)
    reason = verdict.reason if not verdict.sellable else product.prohibited_reason
    if reason is None and not product.online_sellable:
        reason = "marked not sellable online in the catalogue"
    if reason is None or fulfilment is not Fulfilment.PICKUP:
        return reason
    pickup_only = [r for r in rules.limits if r.mode is LimitMode.PICKUP_ONLY and r.applies_to(product)]
    rest = [i for i in product.ingredients if not any(same_inn(i.inn.lower(), m) for r in pickup_only for m in r.inns)]
    if pickup_only and rest and check_online_sale(rest, product.dosage_form, product.generic_name_zh).sellable:
        return None
    return reason


def _product_blocks(
    product: Product, quantity: int, patient: Patient, fulfilment: Fulfilment, rules: GateRules
) -> list[Finding]:
    name, pid = product_label(product), product.id
    out: list[Finding] = []
    if (reason := _prohibited(product, fulfilment, rules)) is not None:
        out.append(Finding("prohibited", f"{name} may not be sold online: {reason}", pid, rule="S6"))
    if not product.active:
        out.append(Finding("product_unavailable", f"{name} is no longer sold", pid))
    if quantity > product.max_per_order:
        out.append(Finding("max_per_order", f"{name}: {quantity} packs, at most {product.max_per_order} an order", pid))
    ages: list[tuple[int, str | None]] = [(product.min_age_years or 0, None)] + [
        (age, "S7") for inn, age in rules.ingredient_min_age if any(same_inn(i, inn) for i in product.inns)
    ]
    for min_age, rule in ages:
        if min_age > 0 and patient.age_years is None:
            out.append(
                Finding(
                    "age_unknown", f"{name} is for ages {min_age}+ and the patient's age is unknown", pid, rule=rule
                )
            )
        elif patient.age_years is not None and patient.age_years < min_age:
            out.append(
                Finding(
                    "under_min_age",
                    f"{name} is for ages {min_age}+; the patient is {patient.age_years}",
                    pid,
                    rule=rule,
                )
            )
    return out


def _prescription_findings(
    lines: Sequence[CartLine],
    patient: Patient,
    prescriptions: Mapping[str, Prescription],
    at: datetime,
    rules: GateRules,
    risk_acknowledged: bool,
) -> tuple[list[Finding], list[Finding], tuple[str, ...]]:
    rx_lines = [line for line in lines if line.product.drug_class is DrugClass.RX]
    if not rx_lines:
        return [], [], ()
    names = ", ".join(product_label(line.product) for line in rx_lines)
    blocks: list[Finding] = []
    holds: list[Finding] = []
    if patient.identity_key is None:
        blocks.append(Finding("identity_unverified", f"{names}: Rx drugs need a real-name verified buyer", rule="S2"))
    if rules.require_rx_risk_acknowledgement and not risk_acknowledged:
        blocks.append(
            Finding("rx_risk_not_acknowledged", f"{names}: the Rx risk notice has not been confirmed", rule="S3")
        )
    ids: list[str] = []
    for line in rx_lines:
        rx_id, name = line.prescription_id, product_label(line.product)
        if rx_id is None or rx_id not in prescriptions:
            missing = "no prescription" if rx_id is None else f"prescription {rx_id} was not found"
            blocks.append(Finding("rx_missing", f"{name} is Rx only and has {missing}", line.product.id, rule="S2"))
        elif rx_id not in ids:
            ids.append(rx_id)
    for rx_id in ids:
        rx = prescriptions[rx_id]
        blocks += rx.dispensing_problems(at, patient.id)
        blocks += rx.covers([line for line in rx_lines if line.prescription_id == rx_id])
        holds += rx.supply_holds()
    return blocks, holds, tuple(ids)


def _hold(alert: Alert, drugs: Mapping[str, Product]) -> Finding:
    labels = [product_label(drugs[c]) for c in alert.drug_codes if c in drugs]
    message = (
        alert.evidence if all(label in alert.evidence for label in labels) else f"{', '.join(labels)}: {alert.evidence}"
    )
    subject = "+".join([*alert.drug_codes[1:], *([alert.other] if alert.other else [])])
    rule = "DDI3" if alert.kind is AlertKind.UNCHECKED else "DDI1"
    product_id = alert.drug_codes[0] if alert.drug_codes else None
    return Finding(alert.kind.value, message, product_id, subject, alert.severity.value, rule)


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: dict[str, Finding] = {}
    for f in findings:
        seen.setdefault(f"{f.key}:{f.message}", f)
    return list(seen.values())


def review_day(at: datetime, tz: ZoneInfo = RX_TIMEZONE) -> date:
    """The local day a review counts towards (S8)."""
    return require_aware(at).astimezone(tz).date()


def check_review_capacity(pharmacist_id: str, reviews_today: int, cap: int | None = REVIEW_CAP_PER_DAY) -> None:
    """S8 (draft, behind a flag: ``cap=None`` turns it off): refuse a pharmacist's review past ``cap`` a day.

    Enforce it with a counter row per (pharmacist_id, review_day) and ``UPDATE ... SET reviews =
    reviews + 1 WHERE pharmacist_id = :id AND day = :day AND reviews < :cap`` in the review's
    transaction; this function is the same rule for the message and for tests.
    """
    if cap is not None and reviews_today >= cap:
        raise TooManyRequests(f"pharmacist {pharmacist_id} has done {reviews_today} reviews today; the cap is {cap}")
