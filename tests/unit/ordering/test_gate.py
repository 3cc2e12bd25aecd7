"""The pharmacy safety gate: blocks refuse an order at checkout, holds send it to a pharmacist.

The shelf: 布洛芬缓释胶囊 (OTC-A, ages 12+), 阿莫西林胶囊 (Rx), 氨酚伪麻美芬片 (an ephedrine-type
combination), 华法林钠片 (on the prohibition list), a bandage, and a TCM cold remedy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from yaodao.catalog.model import DrugClass, Ingredient, Product, ProductKind
from yaodao.catalog.prohibition import check_online_sale
from yaodao.kernel.errors import TooManyRequests, ValidationFailed
from yaodao.ordering.gate import (
    CHINA,
    US_CA,
    CartLine,
    GateDecision,
    GateRules,
    OrderBlocked,
    Patient,
    check_order,
    check_review_capacity,
    order_lines,
    review_day,
)
from yaodao.ordering.interactions import Alert, Drug, FixtureSource, InteractionSource, PatientFacts
from yaodao.ordering.limits import LimitsState
from yaodao.ordering.model import AddressSnapshot, Fulfilment, Order, OrderStatus
from yaodao.ordering.prescriptions import Finding, PrescribedItem, Prescription, valid_until_for
from yaodao.ordering.pricing import PricingRules, quote

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2025, 6, 1, 21, 30, tzinfo=SHANGHAI)
DELIVERY, PICKUP = Fulfilment.DELIVERY, Fulfilment.PICKUP


def product(
    pid: str,
    name_zh: str,
    ingredients: tuple[tuple[str, float | None], ...],
    drug_class: DrugClass = DrugClass.OTC_A,
    *,
    form: str = "tablet",
    min_age: int | None = None,
    max_per_order: int = 5,
    kind: ProductKind = ProductKind.DRUG,
    sellable_flag: bool | None = None,
) -> Product:
    ings = tuple(Ingredient(inn, inn, amount, "mg" if amount else None) for inn, amount in ingredients)
    verdict = check_online_sale(ings, form, name_zh)
    return Product(
        id=pid, sku=pid, kind=kind, generic_name_zh=name_zh, generic_name_en=pid, brand_name_zh=None,
        brand_name_en=None, manufacturer_zh="测试药业", ingredients=ings, dosage_form=form, strength="", pack_size=10,
        pack_unit="tablet", pack_text_zh="", drug_class=drug_class, categories=(), indications_zh=(), indications_en=(),
        contraindications=(), min_age_years=min_age, max_per_order=max_per_order, cold_chain=False, price_fen=1580,
        online_sellable=verdict.sellable if sellable_flag is None else sellable_flag,
        prohibited_reason=None if sellable_flag else verdict.reason, pinyin_full="", pinyin_initials="",
    )  # fmt: skip


IBUPROFEN = product("ibuprofen", "布洛芬缓释胶囊", (("ibuprofen", 300),), form="capsule", min_age=12)
LORATADINE = product("loratadine", "氯雷他定片", (("loratadine", 10),), DrugClass.OTC_B)
AMOXICILLIN = product(
    "amoxicillin", "阿莫西林胶囊", (("amoxicillin", 250),), DrugClass.RX, form="capsule", max_per_order=3
)
CONTAC = product(
    "contac",
    "氨酚伪麻美芬片",
    (("paracetamol", 500), ("pseudoephedrine", 30), ("dextromethorphan", 15)),
    max_per_order=2,
)
WARFARIN = product("warfarin", "华法林钠片", (("warfarin sodium", 2.5),), DrugClass.RX)
BANDAGE = product("bandage", "弹性绷带", (), DrugClass.DEVICE, kind=ProductKind.DEVICE)
TCM = product("ganmao", "感冒清热颗粒", (("schizonepeta", None), ("licorice root", None)), form="granules")
ADULT = Patient("pa-1", 35, identity_key="idk-1")


def rx(**kw: object) -> Prescription:
    issued = AT - timedelta(hours=2)
    fields: dict[str, object] = {
        "id": "rx-1", "patient_id": "pa-1", "doctor_id": "dr-1", "issued_at": issued,
        "valid_until": valid_until_for(issued), "items": (PrescribedItem("amoxicillin", 2, "0.5 g tid", 5),),
        "signature": b"sig", **kw,
    }  # fmt: skip
    return Prescription(**fields)  # type: ignore[arg-type]


def gate(
    lines: Sequence[CartLine],
    patient: Patient = ADULT,
    fulfilment: Fulfilment = DELIVERY,
    prescriptions: Sequence[Prescription] = (),
    *,
    source: InteractionSource | None = None,
    at: datetime = AT,
    rules: GateRules = CHINA,
    ack: bool = True,
) -> GateDecision:
    by_id = {p.id: p for p in prescriptions}
    source = source or FixtureSource()
    return check_order(lines, patient, by_id, LimitsState(), source, at, fulfilment, rules, risk_acknowledged=ack)


def codes(findings: Sequence[Finding]) -> set[str]:
    return {f.code for f in findings}


def test_a_plain_otc_order_passes_with_nothing_to_review() -> None:
    """The control case: one OTC for an adult with no history."""
    decision = gate([CartLine(LORATADINE, 2)])
    assert decision.allowed
    assert (decision.blocks, decision.holds, decision.prescription_ids) == ((), (), ())
    assert (decision.rules_version, decision.source, decision.checked_at) == ("gate-cn-1", "yaodao-fixture 2025.1", AT)
    decision.raise_for_blocks()


@pytest.mark.parametrize("fulfilment", [DELIVERY, PICKUP])
def test_s6_a_prohibited_item_is_blocked_for_delivery_and_pickup(fulfilment: Fulfilment) -> None:
    """S6: single-ingredient warfarin is on the list; no fulfilment mode and no prescription gets it through."""
    decision = gate([CartLine(WARFARIN, 1, "rx-1")], fulfilment=fulfilment, prescriptions=[rx()])
    prohibited = [f for f in decision.blocks if f.code == "prohibited"]
    assert [(f.rule, f.product_id) for f in prohibited] == [("S6", "warfarin")]
    assert "华法林钠片" in prohibited[0].message
    assert "Part 2 item 4" in prohibited[0].message


def test_s6_a_stale_sellable_flag_never_overrides_the_list() -> None:
    """S6: re-checked at checkout; a product wrongly flagged sellable is still blocked."""
    diazepam = product("diazepam", "地西泮片", (("diazepam", 5),), DrugClass.RX, sellable_flag=True)
    assert diazepam.online_sellable
    assert "prohibited" in codes(gate([CartLine(diazepam, 1, "rx-1")], prescriptions=[rx()]).blocks)


def test_s6_a_product_the_catalogue_marked_unsellable_stays_blocked() -> None:
    """S6: the stored verdict counts too, even when today's list check passes."""
    flagged = product("flagged", "氯雷他定片", (("loratadine", 10),), sellable_flag=False)
    assert codes(gate([CartLine(flagged, 1)]).blocks) == {"prohibited"}


def test_s6_s7_an_ephedrine_combination_is_never_delivered_but_may_be_collected() -> None:
    """S6 bans it online; the China pickup-only rule lets a verified buyer collect <= 2 packs."""
    delivered = gate([CartLine(CONTAC, 1)], fulfilment=DELIVERY)
    assert codes(delivered.blocks) == {"prohibited", "restricted_pickup_only"}
    collected = gate([CartLine(CONTAC, 2)], fulfilment=PICKUP)
    assert collected.allowed
    assert [(rule.ingredient, use.packs, use.mg) for rule, use in collected.usage.items()] == [
        ("ephedrine-type", 2, 600)
    ]


def test_s6_the_pickup_exception_never_frees_another_banned_ingredient() -> None:
    """S6: pseudoephedrine + codeine is an oral narcotic combination as well; pickup does not help."""
    codeine = product("codeine-pse", "复方磷酸可待因片", (("pseudoephedrine", 30), ("codeine", 10)))
    assert "prohibited" in codes(gate([CartLine(codeine, 1)], fulfilment=PICKUP).blocks)


def test_s2_an_approved_looking_rx_order_passes_and_names_the_prescription_to_fill() -> None:
    """S2: a valid, signed, covering prescription for this verified patient; the order still goes to review."""
    decision = gate([CartLine(AMOXICILLIN, 2, "rx-1")], prescriptions=[rx()])
    assert decision.allowed
    assert decision.prescription_ids == ("rx-1",)


@pytest.mark.parametrize(
    ("line", "prescriptions", "patient", "ack", "expected"),
    [
        (CartLine(AMOXICILLIN, 1), [], ADULT, True, {"rx_missing"}),
        (CartLine(AMOXICILLIN, 1, "rx-9"), [rx()], ADULT, True, {"rx_missing"}),
        (CartLine(AMOXICILLIN, 1, "rx-1"), [rx(patient_id="pa-2")], ADULT, True, {"rx_wrong_patient"}),
        (CartLine(AMOXICILLIN, 1, "rx-1"), [rx(fills_used=1)], ADULT, True, {"rx_used"}),
        (CartLine(AMOXICILLIN, 3, "rx-1"), [rx()], ADULT, True, {"rx_quantity_exceeds"}),
        (CartLine(AMOXICILLIN, 1, "rx-1"), [rx(signature=None)], ADULT, True, {"rx_unsigned"}),
        (CartLine(AMOXICILLIN, 1, "rx-1"), [rx()], Patient("pa-1", 35), True, {"identity_unverified"}),
        (CartLine(AMOXICILLIN, 1, "rx-1"), [rx()], ADULT, False, {"rx_risk_not_acknowledged"}),
    ],
    ids=["no-rx", "unknown-rx", "other-patient", "used", "over-quantity", "unsigned", "no-real-name", "no-risk-ack"],
)
def test_s2_s3_dropping_any_condition_blocks_an_rx_order(
    line: CartLine, prescriptions: list[Prescription], patient: Patient, ack: bool, expected: set[str]
) -> None:
    """S2: prescription, its patient, unused, covering, signed, real-name; S3: the stored risk acknowledgement."""
    decision = gate([line], patient, prescriptions=prescriptions, ack=ack)
    assert codes(decision.blocks) == expected
    with pytest.raises(OrderBlocked) as caught:
        decision.raise_for_blocks()
    assert {code for code, _ in caught.value.errors} == expected
    assert isinstance(caught.value, ValidationFailed)


def test_p1_an_rx_order_on_day_four_is_blocked() -> None:
    """P1: issued 23:50 local and extended to 3 days, it is expired at 00:00 on day 4."""
    issued = datetime(2025, 6, 1, 23, 50, tzinfo=SHANGHAI)
    three_days = rx(issued_at=issued, valid_until=valid_until_for(issued, 3))
    on_day_three = datetime(2025, 6, 3, 23, 59, tzinfo=SHANGHAI)
    assert gate([CartLine(AMOXICILLIN, 1, "rx-1")], prescriptions=[three_days], at=on_day_three).allowed
    on_day_four = datetime(2025, 6, 4, 0, 0, tzinfo=SHANGHAI)
    blocked = gate([CartLine(AMOXICILLIN, 1, "rx-1")], prescriptions=[three_days], at=on_day_four)
    assert codes(blocked.blocks) == {"rx_expired"}


def test_p2_a_long_supply_is_a_hold_not_a_block() -> None:
    """P2: 14 days without a stated reason lets the order through to a pharmacist."""
    long = rx(items=(PrescribedItem("amoxicillin", 2, "0.5 g tid", 14),))
    decision = gate([CartLine(AMOXICILLIN, 1, "rx-1")], prescriptions=[long])
    assert decision.allowed
    assert [(h.code, h.rule) for h in decision.holds] == [("rx_long_supply", "P2")]


def test_an_ibuprofen_for_an_eight_year_old_is_blocked_and_an_unknown_age_too() -> None:
    """The label's minimum age: under it, or unknown, is a block naming the product."""
    child = gate([CartLine(IBUPROFEN, 1)], Patient("pa-2", 8))
    assert codes(child.blocks) == {"under_min_age"}
    assert "布洛芬缓释胶囊" in child.blocks[0].message
    assert codes(gate([CartLine(IBUPROFEN, 1)], Patient("pa-3", None)).blocks) == {"age_unknown"}


def test_s7_us_ca_mode_refuses_dextromethorphan_to_under_18s() -> None:
    """S7 (US mode): no dextromethorphan to under-18s in California."""
    cough = product("dxm-combo", "右美沙芬愈创甘油醚糖浆", (("dextromethorphan", 15), ("guaifenesin", 100)))
    teen = Patient("pa-4", 16, identity_key="idk-4")
    decision = gate([CartLine(cough, 1)], teen, rules=US_CA)
    assert [(f.code, f.rule) for f in decision.blocks] == [("under_min_age", "S7")]
    assert gate([CartLine(cough, 1)], teen, rules=CHINA).allowed


def test_packs_of_one_product_count_together_against_its_per_order_maximum() -> None:
    """max_per_order: 3 + 3 packs on two lines is 6, over 5."""
    decision = gate([CartLine(IBUPROFEN, 3), CartLine(IBUPROFEN, 3)])
    assert codes(decision.blocks) == {"max_per_order"}


def test_ddi3_the_fixture_table_through_the_gate() -> None:
    """DDI3 via the gate: each case becomes a hold with a stable key and the product named."""
    on_warfarin = Patient("pa-1", 60, current_medicines=("warfarin",), identity_key="idk-1")
    held = gate([CartLine(IBUPROFEN, 1)], on_warfarin).holds
    assert [(h.code, h.severity, h.rule, h.key) for h in held] == [
        ("interaction", "major", "DDI1", "interaction:ibuprofen:warfarin")
    ]
    assert "布洛芬缓释胶囊" in held[0].message
    allergic = Patient("pa-1", 30, allergies=("penicillin",), identity_key="idk-1")
    amox = gate([CartLine(AMOXICILLIN, 1, "rx-1")], allergic, prescriptions=[rx()])
    assert [(h.code, h.severity) for h in amox.holds] == [("allergy", "contraindicated")]
    assert amox.allowed  # held for a pharmacist, not refused
    unknown = gate([CartLine(TCM, 1)])
    assert [(h.code, h.rule) for h in unknown.holds] == [("unchecked", "DDI3")]


class DownSource:
    name, version = "licensed-kb", "2025-05"

    def check(
        self, drugs: Sequence[Drug], current_meds: Sequence[str], allergies: Sequence[str], patient: PatientFacts
    ) -> list[Alert]:
        raise TimeoutError("no answer in 800 ms")


def test_ddi3_the_gate_fails_closed_when_the_source_is_down() -> None:
    """DDI3: a timeout becomes an unchecked hold; the order is not refused and not passed silently."""
    decision = gate([CartLine(LORATADINE, 1)], source=DownSource())
    assert decision.allowed
    assert [(h.code, h.severity) for h in decision.holds] == [("unchecked", "unknown")]
    assert decision.source == "licensed-kb 2025-05"


def test_devices_alone_need_no_interaction_check() -> None:
    """A bandage is not a drug: even a dead source adds no hold."""
    assert gate([CartLine(BANDAGE, 1)], source=DownSource()).holds == ()


def test_the_gate_refuses_an_empty_cart_and_a_naive_time() -> None:
    """Inputs that cannot be checked are refused outright."""
    with pytest.raises(ValidationFailed, match="at least one line"):
        gate([])
    with pytest.raises(ValueError, match="timezone-aware"):
        gate([CartLine(LORATADINE, 1)], at=datetime(2025, 6, 1, 12, 0))  # noqa: DTZ001
    with pytest.raises(ValidationFailed, match="quantity"):
        CartLine(LORATADINE, 0)


def test_holds_from_the_gate_travel_with_the_order_to_review() -> None:
    """DDI1: an OTC order with a gate hold is paid into awaiting_review, holding the same findings."""
    on_warfarin = Patient("pa-1", 60, current_medicines=("warfarin",), identity_key="idk-1")
    cart = [CartLine(IBUPROFEN, 1)]
    decision = gate(cart, on_warfarin)
    lines = order_lines(cart)
    assert (lines[0].name, lines[0].line_total_fen) == ("布洛芬缓释胶囊 (ibuprofen)", 1580)
    order = Order.create(
        id="o-9", city_id="hangzhou", user_id="u-1", patient_id="pa-1", pharmacy_id="ph-1", lines=lines,
        price=quote(lines, PricingRules(), True), fulfilment=DELIVERY, promise_minutes=60, quoted_eta_minutes=45,
        address=AddressSnapshot(30.26, 120.15, "北山街1号"), at=AT, holds=decision.holds,
    )  # fmt: skip
    order.submit_for_payment(AT)
    order.mark_paid("pay-9", order.price.total_fen, AT)
    assert order.status is OrderStatus.AWAITING_REVIEW
    assert order.holds == decision.holds


def test_s8_the_301st_review_of_a_pharmacist_in_a_day_is_refused() -> None:
    """S8 (draft): 300 reviews a day; with the flag off (cap None) there is no cap."""
    check_review_capacity("pharm-1", 299)
    with pytest.raises(TooManyRequests, match="cap is 300"):
        check_review_capacity("pharm-1", 300)
    check_review_capacity("pharm-1", 5000, cap=None)


def test_s8_reviews_count_by_the_shanghai_day() -> None:
    """A review at 00:30 local belongs to that local day, not the UTC one."""
    assert str(review_day(datetime(2025, 6, 1, 16, 30, tzinfo=ZoneInfo("UTC")))) == "2025-06-02"
