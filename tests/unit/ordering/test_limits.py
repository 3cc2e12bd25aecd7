"""DOMAIN S7 / RELIABILITY I13: restricted-ingredient limits per real-name identity, China and US modes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yaodao.catalog.model import DrugClass, Ingredient, Product, ProductKind
from yaodao.kernel.errors import ValidationFailed
from yaodao.ordering.gate import CartLine
from yaodao.ordering.limits import (
    CHINA_RULES,
    US_RULES,
    LimitMode,
    LimitRule,
    LimitsState,
    Usage,
    UsageLedger,
    counter_keys,
    limit_findings,
    usage_needed,
)
from yaodao.ordering.model import Fulfilment

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
AT = datetime(2025, 6, 1, 10, 0, tzinfo=SHANGHAI)
PICKUP, DELIVERY = Fulfilment.PICKUP, Fulfilment.DELIVERY
EPHEDRINE_TYPE = CHINA_RULES[0]


def product(
    pid: str,
    ingredients: tuple[tuple[str, float | None, str | None], ...],
    *,
    pack_size: int = 10,
    pack_unit: str = "tablet",
    form: str = "tablet",
    drug_class: DrugClass = DrugClass.OTC_A,
) -> Product:
    return Product(
        id=pid, sku=pid, kind=ProductKind.DRUG, generic_name_zh=pid, generic_name_en=pid, brand_name_zh=None,
        brand_name_en=None, manufacturer_zh="测试药业", dosage_form=form, strength="", pack_size=pack_size,
        ingredients=tuple(Ingredient(inn, inn, amount, unit) for inn, amount, unit in ingredients),
        pack_unit=pack_unit, pack_text_zh="", drug_class=drug_class, categories=(), indications_zh=(),
        indications_en=(), contraindications=(), min_age_years=12, max_per_order=2, cold_chain=False, price_fen=2480,
        online_sellable=False, prohibited_reason=None, pinyin_full="", pinyin_initials="",
    )  # fmt: skip


# 氨酚伪麻美芬片: 30 mg pseudoephedrine a tablet, 10 tablets = 300 mg a pack.
CONTAC = product("contac", (("paracetamol", 500, "mg"), ("pseudoephedrine", 30, "mg"), ("dextromethorphan", 15, "mg")))
# Children's suspension: 15 mg / 5 ml, 100 ml = 300 mg a pack.
KIDS = product(
    "kids-susp", (("paracetamol", 160, "mg/5ml"), ("pseudoephedrine", 15, "mg/5ml")), pack_size=100, pack_unit="ml",
    form="suspension",
)  # fmt: skip
SUDAFED = product("sudafed", (("pseudoephedrine", 30, "mg"),), pack_size=24)  # US single-ingredient, 720 mg a pack
EPHEDRA_TCM = product("tongxuan", (("ephedra herb", None, None), ("licorice root", None, None)))


def findings(
    lines: list[CartLine],
    fulfilment: Fulfilment,
    identity: str | None = "id-1",
    rules: tuple[LimitRule, ...] = CHINA_RULES,
    used: dict[str, Usage] | None = None,
) -> set[str]:
    return {f.code for f in limit_findings(lines, rules, fulfilment, identity, LimitsState(used or {}))}


def test_s7_ephedrine_combinations_are_never_delivered_in_china() -> None:
    """S7 China: pickup only; a delivery order is blocked."""
    assert findings([CartLine(CONTAC, 1)], DELIVERY) == {"restricted_pickup_only"}


def test_s7_two_packs_per_sale_for_pickup_and_no_more() -> None:
    """S7 China: <= 2 minimum packs per sale, across all ephedrine-type products in the order."""
    assert findings([CartLine(CONTAC, 2)], PICKUP) == set()
    assert findings([CartLine(CONTAC, 1), CartLine(KIDS, 2)], PICKUP) == {
        "restricted_order_limit",
        "restricted_window_limit",
    }


def test_s7_a_restricted_sale_needs_a_real_name_identity() -> None:
    """S7: no verified ID, no ephedrine-type product."""
    assert findings([CartLine(CONTAC, 1)], PICKUP, identity=None) == {"identity_unverified"}


def test_s7_splitting_a_sale_across_orders_the_same_day_is_refused() -> None:
    """Decision: 2 packs per identity per local day, so a second order cannot add a third pack."""
    today = {EPHEDRINE_TYPE.counter: Usage(packs=2, mg=600)}
    assert findings([CartLine(CONTAC, 1)], PICKUP, used=today) == {"restricted_window_limit"}


def test_s7_more_than_30_mg_a_dose_unit_is_rx_only_and_packs_are_capped() -> None:
    """S7 China: > 30 mg ephedrine per dose unit needs Rx; a pack may hold at most 720 mg (solid)."""
    strong = product("strong", (("pseudoephedrine", 60, "mg"), ("chlorphenamine", 4, "mg")))
    assert "restricted_dose_requires_rx" in findings([CartLine(strong, 1)], PICKUP)
    as_rx = product("strong-rx", (("pseudoephedrine", 60, "mg"), ("chlorphenamine", 4, "mg")), drug_class=DrugClass.RX)
    assert "restricted_dose_requires_rx" not in findings([CartLine(as_rx, 1)], PICKUP)
    big = product("big", (("pseudoephedrine", 30, "mg"), ("paracetamol", 500, "mg")), pack_size=30)  # 900 mg
    assert "restricted_pack_too_large" in findings([CartLine(big, 1)], PICKUP)
    assert "restricted_pack_too_large" not in findings([CartLine(KIDS, 1)], PICKUP)  # 300 mg liquid, cap 800


def test_s7_tcm_with_ephedra_herb_is_not_an_ephedrine_combination() -> None:
    """S6/S7: TCM patent medicines with 麻黄 are excepted."""
    assert findings([CartLine(EPHEDRA_TCM, 5)], DELIVERY) == set()


def test_s7_us_mode_caps_pseudoephedrine_at_3_6_g_a_day() -> None:
    """S7 US: 5 packs of 720 mg = 3.6 g pass; a sixth pack is over the daily limit."""
    assert findings([CartLine(SUDAFED, 5)], PICKUP, rules=US_RULES) == set()
    assert findings([CartLine(SUDAFED, 6)], PICKUP, rules=US_RULES) == {"restricted_window_limit"}


def test_s7_us_mode_caps_30_days_at_9_g_and_mail_orders_at_7_5_g() -> None:
    """S7 US: 9 g in 30 days for any sale, 7.5 g in 30 days by mail or internet."""
    daily, monthly, mail = US_RULES
    used = {monthly.counter: Usage(mg=7200), mail.counter: Usage(mg=7200)}
    lines = [CartLine(SUDAFED, 1)]  # 720 mg more
    assert {f.subject for f in limit_findings(lines, US_RULES, PICKUP, "id-1", LimitsState(used))} == set()
    blocked = limit_findings(lines, US_RULES, DELIVERY, "id-1", LimitsState(used))
    assert [(f.code, f.subject) for f in blocked] == [("restricted_window_limit", mail.counter)]
    assert daily.counter != monthly.counter != mail.counter


def test_an_unknown_amount_cannot_be_counted_against_a_milligram_limit() -> None:
    """Fail closed: a label without the amount blocks where a mg limit applies."""
    vague = product("vague", (("pseudoephedrine", None, None),))
    assert findings([CartLine(vague, 1)], PICKUP, rules=US_RULES) == {"restricted_amount_unknown"}
    with pytest.raises(ValidationFailed, match="unknown"):
        usage_needed([CartLine(vague, 1)], US_RULES, PICKUP)


def test_usage_counts_packs_and_milligrams_for_solids_and_liquids() -> None:
    """300 mg a tablet pack, 15 mg/5 ml x 100 ml = 300 mg a bottle; only rules counting the fulfilment."""
    need = usage_needed([CartLine(CONTAC, 1), CartLine(KIDS, 1)], CHINA_RULES, PICKUP)
    assert need == {EPHEDRINE_TYPE: Usage(packs=2, mg=600)}
    assert usage_needed([CartLine(CONTAC, 1)], CHINA_RULES, DELIVERY) == {}


def test_counter_keys_cover_every_window_that_contains_the_local_day() -> None:
    """I13: a purchase on local day d updates the rows starting d-(N-1) .. d, in lock order."""
    at = datetime(2025, 6, 1, 16, 30, tzinfo=UTC)  # 00:30 on June 2 in Shanghai
    daily = counter_keys("id-1", EPHEDRINE_TYPE, at, SHANGHAI)
    assert [k.window_start for k in daily] == [date(2025, 6, 2)]
    monthly = counter_keys("id-1", US_RULES[1], at, LOS_ANGELES)  # 09:30 on June 1 in Los Angeles
    assert len(monthly) == 30
    assert (monthly[0].window_start, monthly[-1].window_start) == (date(2025, 5, 3), date(2025, 6, 1))
    assert monthly == sorted(monthly, key=lambda k: k.window_start)


@settings(max_examples=150, deadline=None)
@given(
    purchases=st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 3), st.sampled_from(["acct-a", "acct-b", "acct-c"])), max_size=25
    )
)
def test_i13_the_ledger_holds_every_rolling_window_exactly(purchases: list[tuple[int, int, str]]) -> None:
    """I13: packs bought by one identity through several accounts never exceed the cap in any run of
    window_days consecutive days, and a purchase is refused only when it would break some such window."""
    rule = LimitRule("pseudoephedrine", None, 2000, 3, LimitMode.ANY)
    ledger, accepted = UsageLedger(), list[tuple[int, int]]()
    day = 0
    for gap, packs, _account in purchases:  # accounts share one identity, so they share one allowance
        day += gap
        at = AT + timedelta(days=day)
        need = {rule: Usage(packs, packs * 720)}
        would_break = any(
            sum(mg for d, mg in accepted if start <= d <= start + 2) + packs * 720 > 2000
            for start in range(day - 2, day + 1)
        )
        assert ledger.try_record("id-1", need, at, SHANGHAI) is not would_break
        if not would_break:
            accepted.append((day, packs * 720))
    for start in range(day + 1):
        assert sum(mg for d, mg in accepted if start <= d <= start + 2) <= 2000


def test_i13_orders_from_several_accounts_sharing_one_id_stop_at_the_limit() -> None:
    """I13: 20 one-pack orders from 5 accounts, one ID, China pickup: 2 accepted, whatever the order."""
    ledger = UsageLedger()
    results = []
    for _ in range(20):
        state = ledger.state_for("id-shared", CHINA_RULES, AT, SHANGHAI)
        lines = [CartLine(CONTAC, 1)]
        if limit_findings(lines, CHINA_RULES, PICKUP, "id-shared", state):
            results.append(False)
            continue
        results.append(ledger.try_record("id-shared", usage_needed(lines, CHINA_RULES, PICKUP), AT, SHANGHAI))
    assert results.count(True) == 2
    assert ledger.try_record("id-shared", {EPHEDRINE_TYPE: Usage(1, 300)}, AT + timedelta(days=1), SHANGHAI)


def test_a_refused_ledger_update_changes_no_row() -> None:
    """All or nothing: when one window would overflow, no row moves."""
    daily, monthly, _ = US_RULES
    ledger = UsageLedger()
    assert ledger.try_record("id-1", {daily: Usage(1, 3000), monthly: Usage(1, 3000)}, AT, LOS_ANGELES)
    before = dict(ledger.rows)
    assert not ledger.try_record("id-1", {daily: Usage(1, 700), monthly: Usage(1, 700)}, AT, LOS_ANGELES)
    assert ledger.rows == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"window_days": 0}, "window_days"),
        ({"window_days": True}, "window_days"),
        ({"max_units_per_order": 0}, "max_units_per_order"),
        ({"max_amount_mg_per_window": 1.5}, "max_amount_mg_per_window"),
        ({"ingredient": " "}, "ingredient"),
        ({"mode": "sometimes"}, "mode"),
    ],
)
def test_a_limit_rule_validates_itself_naming_the_field(changes: dict[str, object], field: str) -> None:
    """Rules are data; bad data is refused with the field's name."""
    base: dict[str, object] = {
        "ingredient": "pseudoephedrine",
        "max_units_per_order": 2,
        "max_amount_mg_per_window": 3600,
        "window_days": 1,
        "mode": LimitMode.ANY,
    }
    with pytest.raises(ValidationFailed) as caught:
        LimitRule(**{**base, **changes})  # type: ignore[arg-type]
    assert caught.value.field == field
