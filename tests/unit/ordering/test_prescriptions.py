"""E-prescriptions: P1 validity by Asia/Shanghai day, P2/P3 supply, P4 fills, and what blocks dispensing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from yaodao.catalog.model import DrugClass, Ingredient, Product, ProductKind
from yaodao.kernel.clock import SystemClock
from yaodao.kernel.errors import Conflict, ValidationFailed
from yaodao.ordering.gate import CartLine
from yaodao.ordering.prescriptions import (
    ChecklistItem,
    PrescribedItem,
    Prescription,
    Review,
    ReviewResult,
    ReviewState,
    end_of_day,
    valid_until_for,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
LATE = datetime(2025, 6, 1, 23, 50, tzinfo=SHANGHAI)  # ten minutes before day 2 begins


def product(pid: str, *inns: str, drug_class: DrugClass = DrugClass.RX) -> Product:
    return Product(
        id=pid, sku=pid, kind=ProductKind.DRUG, generic_name_zh=pid, generic_name_en=pid, brand_name_zh=None,
        brand_name_en=None, manufacturer_zh="测试药业", ingredients=tuple(Ingredient(i, i) for i in inns),
        dosage_form="capsule", strength="", pack_size=24, pack_unit="capsule", pack_text_zh="", drug_class=drug_class,
        categories=(), indications_zh=(), indications_en=(), contraindications=(), min_age_years=None, max_per_order=5,
        cold_chain=False, price_fen=1800, online_sellable=True, prohibited_reason=None, pinyin_full="",
        pinyin_initials="",
    )  # fmt: skip


AMOXICILLIN = product("pr-amox", "amoxicillin")
AUGMENTIN = product("pr-aug", "amoxicillin", "clavulanic acid")
WARFARIN_SALT = product("pr-war", "warfarin sodium")


def rx(issued_at: datetime = LATE, days: int = 1, *items: PrescribedItem, **kw: object) -> Prescription:
    return Prescription(
        id="rx-1",
        patient_id="pa-1",
        doctor_id="dr-1",
        issued_at=issued_at,
        valid_until=valid_until_for(issued_at, days),
        items=items or (PrescribedItem("amoxicillin", 2, "0.5 g three times a day", 5),),
        **{"signature": b"signed", **kw},  # type: ignore[arg-type]
    )


def test_p1_an_rx_issued_at_2350_local_expires_at_local_midnight() -> None:
    """P1: valid on the issue day only by default; day 1 ends at 00:00 Asia/Shanghai, ten minutes later."""
    p = rx(LATE)
    assert p.valid_until == datetime(2025, 6, 2, 0, 0, tzinfo=SHANGHAI)
    assert p.is_valid_at(datetime(2025, 6, 1, 23, 59, 59, tzinfo=SHANGHAI))
    assert not p.is_valid_at(datetime(2025, 6, 2, 0, 0, tzinfo=SHANGHAI))


def test_p1_day_one_is_the_shanghai_date_not_the_utc_date() -> None:
    """Issued 2025-06-01 16:30 UTC = 2025-06-02 00:30 in Shanghai: day 1 is June 2 there, to its end."""
    issued = datetime(2025, 6, 1, 16, 30, tzinfo=UTC)
    p = rx(issued)
    assert p.valid_until == datetime(2025, 6, 3, 0, 0, tzinfo=SHANGHAI)
    assert p.is_valid_at(datetime(2025, 6, 2, 15, 59, tzinfo=UTC))  # 23:59 on June 2 in Shanghai


def test_p1_an_extension_reaches_the_end_of_day_three_and_day_four_is_always_expired() -> None:
    """P1: extended to 3 days from 23:50 on June 1, it ends at 00:00 on June 4, local."""
    p = rx(LATE, 3)
    assert p.is_valid_at(datetime(2025, 6, 3, 23, 59, tzinfo=SHANGHAI))
    assert not p.is_valid_at(datetime(2025, 6, 4, 0, 0, tzinfo=SHANGHAI))
    with pytest.raises(ValidationFailed, match="1 to 3 days"):
        valid_until_for(LATE, 4)
    with pytest.raises(ValidationFailed, match="day 3"):
        Prescription(
            id="rx-2", patient_id="pa-1", doctor_id="dr-1", issued_at=LATE,
            valid_until=datetime(2025, 6, 4, 0, 1, tzinfo=SHANGHAI), items=rx().items,
        )  # fmt: skip


@given(
    issued=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
    days=st.integers(1, 3),
    into_day_four=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=23, minutes=59)),
)
def test_p1_every_instant_of_local_day_four_is_expired(issued: datetime, days: int, into_day_four: timedelta) -> None:
    """P1: whatever the issue time and extension, local day 4 onwards is expired and the last valid instant is
    just before a local midnight."""
    p = rx(issued, days)
    day_four = datetime.combine(issued.astimezone(SHANGHAI).date() + timedelta(days=3), datetime.min.time(), SHANGHAI)
    assert not p.is_valid_at(day_four + into_day_four)
    assert p.valid_until.astimezone(SHANGHAI).time() == datetime.min.time()
    assert p.is_valid_at(p.valid_until - timedelta(microseconds=1))
    assert p.valid_until == end_of_day(issued, days)


def test_i11_a_fill_against_the_server_clock_on_day_four_is_refused() -> None:
    """RELIABILITY I11: travel the server clock to day 4; filling with that clock is refused."""
    p = rx(LATE, 3)
    day_four = datetime(2025, 6, 4, 0, 0, 1, tzinfo=SHANGHAI)
    with time_machine.travel(day_four, tick=False), pytest.raises(Conflict, match="not valid"):
        p.fill(SystemClock().now())
    assert (p.fills_used, p.used_at) == (0, None)


def test_p4_a_single_use_rx_fills_once_and_the_fill_sets_the_used_mark() -> None:
    """P4/S2: the last fill sets used_at; a second fill of a used Rx is refused and changes nothing."""
    p = rx(LATE)
    p.fill(LATE + timedelta(minutes=1))
    assert (p.fills_used, p.used_at, p.version) == (1, LATE + timedelta(minutes=1), 2)
    with pytest.raises(Conflict, match="has been used"):
        p.fill(LATE + timedelta(minutes=2))
    assert (p.fills_used, p.version) == (1, 2)


def test_p4_the_used_mark_waits_for_the_last_of_several_fills() -> None:
    """fills_allowed = 2: the first fill leaves used_at empty, the second sets it."""
    p = rx(LATE, 3, fills_allowed=2)
    p.fill(LATE)
    assert p.used_at is None
    p.fill(LATE + timedelta(days=1))
    assert p.used_at == LATE + timedelta(days=1)


def test_a_fill_returned_by_a_cancelled_order_can_be_used_again() -> None:
    """Cancelled before acceptance: the fill goes back and the used mark is cleared."""
    p = rx(LATE)
    p.fill(LATE)
    p.return_fill()
    assert (p.fills_used, p.used_at) == (0, None)
    with pytest.raises(Conflict, match="no fill to return"):
        p.return_fill()


def test_s2_a_rejected_rx_is_never_filled() -> None:
    """S2: a pharmacist's rejection ends the prescription."""
    p = rx(LATE)
    checklist = {**dict.fromkeys(ChecklistItem, "ok"), ChecklistItem.FITS_DIAGNOSIS: "does_not_fit"}
    p.apply_review(Review(ReviewResult.REJECT, checklist, "not indicated", "pharm-1", LATE, source="kb 1"))
    assert (p.review_state, p.reviewed_by, p.kb_version) == (ReviewState.REJECTED, "pharm-1", "kb 1")
    with pytest.raises(Conflict, match="rejected"):
        p.fill(LATE)
    assert "rx_rejected" in {f.code for f in p.dispensing_problems(LATE, "pa-1")}


@pytest.mark.parametrize(
    ("changes", "code", "rule"),
    [
        ({"signature": None}, "rx_unsigned", "D3"),
        ({"first_visit": True}, "rx_first_visit", "D1"),
        ({"long_term_weeks": 13}, "rx_long_term_too_long", "P3"),
        ({"fills_used": 1}, "rx_used", "P4"),
    ],
)
def test_what_blocks_dispensing_carries_its_rule(changes: dict[str, object], code: str, rule: str) -> None:
    """D3 unsigned, D1 first visit, P3 over 12 weeks, P4 used: each is a block with its rule id."""
    p = rx(LATE, 1, **changes)
    found = {(f.code, f.rule) for f in p.dispensing_problems(LATE, "pa-1")}
    assert found == {(code, rule)}


def test_a_valid_signed_rx_for_its_patient_has_no_problems() -> None:
    """The control case: nothing to report."""
    assert rx(LATE).dispensing_problems(LATE, "pa-1") == []


def test_s2_an_rx_for_someone_else_or_not_yet_issued_is_refused() -> None:
    """S2/P1: another patient's prescription, or one dated after the order."""
    codes = {f.code for f in rx(LATE).dispensing_problems(LATE - timedelta(minutes=1), "pa-2")}
    assert codes == {"rx_wrong_patient", "rx_not_yet_valid"}


def test_p2_an_rx_lists_at_most_five_drugs() -> None:
    """P2: a sixth drug blocks the prescription."""
    items = tuple(PrescribedItem(inn, 1, "as directed", 5) for inn in ("a", "b", "c", "d", "e", "f"))
    assert "rx_too_many_drugs" in {f.code for f in rx(LATE, 1, *items).dispensing_problems(LATE, "pa-1")}
    assert "rx_too_many_drugs" not in {f.code for f in rx(LATE, 1, *items[:5]).dispensing_problems(LATE, "pa-1")}


@pytest.mark.parametrize("drug", ["diazepam", "morphine sulfate", "tramadol"])
def test_d4_narcotic_and_psychotropic_drugs_are_not_dispensed_online(drug: str) -> None:
    """D4, through the S6 prohibition list."""
    p = rx(LATE, 1, PrescribedItem(drug, 1, "as directed", 3))
    assert [f.rule for f in p.dispensing_problems(LATE, "pa-1")] == ["D4"]


@pytest.mark.parametrize(
    ("days", "changes", "held"),
    [
        (7, {}, False),
        (10, {}, True),
        (10, {"long_supply_reason": "chronic hypertension, stable for two years"}, False),
        (4, {"emergency": True}, True),
        (28, {"long_term_weeks": 4}, False),
        (84, {"long_term_weeks": 12}, True),
        (84, {"long_term_weeks": 12, "long_supply_reason": "assessed; patient signed"}, False),
    ],
)
def test_p2_p3_a_long_supply_without_a_reason_is_a_pharmacist_hold(
    days: int, changes: dict[str, object], held: bool
) -> None:
    """P2: > 7 days (emergency > 3) without a stated reason holds; P3 long-term up to 4 weeks plainly."""
    p = rx(LATE, 1, PrescribedItem("amlodipine", 2, "5 mg daily", days), **changes)
    holds = p.supply_holds()
    assert bool(holds) is held
    assert all(h.code == "rx_long_supply" and h.rule == "P2" for h in holds)
    assert p.dispensing_problems(LATE, "pa-1") == []  # a hold, never a block


def test_s2_every_rx_line_must_be_covered_by_drug_and_quantity() -> None:
    """S2: ordered packs beyond the prescribed quantity, or a drug not on it, are problems."""
    p = rx(LATE)  # amoxicillin, 2 packs
    assert p.covers([CartLine(AMOXICILLIN, 2, "rx-1")]) == []
    over = p.covers([CartLine(AMOXICILLIN, 1, "rx-1"), CartLine(AMOXICILLIN, 2, "rx-1")])
    assert [f.code for f in over] == ["rx_quantity_exceeds"]
    assert [f.code for f in p.covers([CartLine(AUGMENTIN, 1, "rx-1")])] == ["rx_not_prescribed"]


def test_coverage_matches_salts_combinations_and_named_products() -> None:
    """'warfarin' covers warfarin sodium; a combination needs every INN; an item naming a product binds it."""
    warfarin = rx(LATE, 1, PrescribedItem("Warfarin", 1, "3 mg daily", 7))
    assert warfarin.covers([CartLine(WARFARIN_SALT, 1, "rx-1")]) == []
    combo = rx(LATE, 1, PrescribedItem("amoxicillin + clavulanic acid", 1, "375 mg tid", 5))
    assert combo.covers([CartLine(AUGMENTIN, 1, "rx-1")]) == []
    assert [f.code for f in combo.covers([CartLine(AMOXICILLIN, 1, "rx-1")])] == ["rx_not_prescribed"]
    named = rx(LATE, 1, PrescribedItem("amoxicillin", 1, "0.5 g tid", 5, product_id="pr-other"))
    assert [f.code for f in named.covers([CartLine(AMOXICILLIN, 1, "rx-1")])] == ["rx_not_prescribed"]


def test_coverage_skips_otc_lines_and_lines_on_other_prescriptions() -> None:
    """Only this prescription's Rx lines (or unattached ones) are its business."""
    ibuprofen = product("pr-ibu", "ibuprofen", drug_class=DrugClass.OTC_A)
    assert rx(LATE).covers([CartLine(ibuprofen, 3), CartLine(AUGMENTIN, 1, "rx-9")]) == []


def test_a_prescription_refuses_malformed_data() -> None:
    """Naive times, an empty drug list, impossible fill counts and zero quantities are refused."""
    with pytest.raises(ValueError, match="timezone-aware"):
        rx(datetime(2025, 6, 1, 10, 0))  # noqa: DTZ001
    with pytest.raises(ValidationFailed, match="fills"):
        rx(LATE, 1, fills_used=2)
    with pytest.raises(ValidationFailed, match="quantity_packs"):
        PrescribedItem("amoxicillin", 0, "tid", 5)
    with pytest.raises(ValidationFailed, match="ingredient"):
        PrescribedItem(" + ", 1, "tid", 5)
