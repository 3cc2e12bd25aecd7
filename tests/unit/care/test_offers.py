"""The live offers' matcher: department, language, load, passed-over doctors, seeded ties, arrival order across
regions; and the stored offer's open/lapsed rule."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from yaodao.care.doctors import Doctor, DoctorLoad
from yaodao.care.offers import ConsultOffer, OfferParams, OfferState, plan_offers, province_of
from yaodao.care.queue import Urgency, WaitingConsult
from yaodao.kernel.errors import Conflict, ValidationFailed

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
PARAMS = OfferParams(offer_seconds=60)


def doctor(did: str, province: str = "zhejiang", **changes: object) -> Doctor:
    fields: dict[str, object] = {
        "id": did, "licence_no": "110330100012345", "hospital": "Provincial People's Hospital",
        "province": province, "city": "somecity", "departments": ("internal_medicine",), "languages": ("zh",),
        "verified": True, "years_practising": 10, "max_concurrent": 3,
    }  # fmt: skip
    fields.update(changes)
    return Doctor(**fields)  # type: ignore[arg-type]


def waiting(cid: str, waited_s: float = 0.0, province: str = "gansu", **changes: object) -> WaitingConsult:
    fields: dict[str, object] = {
        "id": cid, "province": province, "city": "lanzhou", "department": "internal_medicine", "language": "zh",
        "urgency": Urgency.ROUTINE, "requested_at": NOW - timedelta(seconds=waited_s),
    }  # fmt: skip
    fields.update(changes)
    return WaitingConsult(**fields)  # type: ignore[arg-type]


def test_an_offer_goes_to_a_doctor_of_the_department_who_speaks_the_language_and_expires_after_offer_seconds() -> None:
    doctors = [
        DoctorLoad(doctor("derm", departments=("dermatology",))),
        DoctorLoad(doctor("english-only", languages=("en",))),
        DoctorLoad(doctor("right")),
    ]
    [offer] = plan_offers([waiting("c1")], doctors, NOW, PARAMS)
    assert (offer.consult_id, offer.doctor_id) == ("c1", "right")
    assert offer.expires_at - offer.offered_at == timedelta(seconds=60)


def test_the_less_loaded_doctor_is_preferred_and_a_full_one_gets_nothing() -> None:
    doctors = [
        DoctorLoad(doctor("busy"), active=2),
        DoctorLoad(doctor("idle"), active=0),
        DoctorLoad(doctor("full", max_concurrent=1), active=1),
    ]
    offers = plan_offers([waiting("c1"), waiting("c2", waited_s=5)], doctors, NOW, PARAMS)
    assert [o.doctor_id for o in offers] == ["idle", "idle"]  # idle keeps more free share than busy after one
    assert "full" not in {o.doctor_id for o in plan_offers([waiting(f"c{i}") for i in range(9)], doctors, NOW, PARAMS)}


def test_a_doctor_who_declined_or_let_an_offer_lapse_is_skipped() -> None:
    doctors = [DoctorLoad(doctor("best")), DoctorLoad(doctor("second"), active=1)]
    assert plan_offers([waiting("c1")], doctors, NOW, PARAMS)[0].doctor_id == "best"
    passed = waiting("c1", declined_by=frozenset({"best"}))
    assert plan_offers([passed], doctors, NOW, PARAMS)[0].doctor_id == "second"
    nobody = waiting("c1", declined_by=frozenset({"best", "second"}))
    assert plan_offers([nobody], doctors, NOW, PARAMS) == []


def test_the_same_seed_gives_the_same_offers_and_ties_are_spread() -> None:
    doctors = [DoctorLoad(doctor(f"d{i}", max_concurrent=20)) for i in range(4)]
    queue = [waiting(f"c{i}", waited_s=i) for i in range(40)]
    first = plan_offers(queue, doctors, NOW, OfferParams(seed=3))
    again = plan_offers(queue, doctors, NOW, OfferParams(seed=3))
    assert [(o.consult_id, o.doctor_id) for o in first] == [(o.consult_id, o.doctor_id) for o in again]
    assert len(Counter(o.doctor_id for o in first)) == 4


def test_regions_are_served_in_arrival_order_not_region_order() -> None:
    """One free slot in Hangzhou: the patient from Gansu who arrived first gets it, not the local one."""
    doctors = [DoctorLoad(doctor("hz", province="zhejiang", max_concurrent=1))]
    gansu = waiting("gansu-first", waited_s=40, province="gansu")
    zhejiang = waiting("zhejiang-later", waited_s=35, province="zhejiang")
    [offer] = plan_offers([zhejiang, gansu], doctors, NOW, PARAMS)
    assert offer.consult_id == "gansu-first"
    two = [DoctorLoad(doctor("hz", province="zhejiang", max_concurrent=2))]
    assert [o.consult_id for o in plan_offers([zhejiang, gansu], two, NOW, PARAMS)] == ["gansu-first", "zhejiang-later"]


def test_a_nearby_doctor_is_preferred_only_while_the_wait_allows() -> None:
    doctors = [DoctorLoad(doctor("far", province="beijing")), DoctorLoad(doctor("near", province="gansu"), active=2)]
    assert plan_offers([waiting("fresh", waited_s=5)], doctors, NOW, PARAMS)[0].doctor_id == "near"
    assert plan_offers([waiting("long", waited_s=60)], doctors, NOW, PARAMS)[0].doctor_id == "far"


def test_an_open_offer_lapses_at_its_expiry_and_only_an_open_one_may_be_decided() -> None:
    offer = ConsultOffer("o1", "c1", "d1", OfferState.OPEN, NOW, NOW + timedelta(seconds=60))
    offer.require_open(NOW + timedelta(seconds=59))
    assert not offer.lapsed(NOW + timedelta(seconds=59))
    assert offer.lapsed(NOW + timedelta(seconds=60))
    with pytest.raises(Conflict, match="lapsed"):
        offer.require_open(NOW + timedelta(seconds=60))
    withdrawn = ConsultOffer("o2", "c1", "d1", OfferState.WITHDRAWN, NOW, NOW + timedelta(seconds=60))
    with pytest.raises(Conflict, match="withdrawn"):
        withdrawn.require_open(NOW)


def test_offer_params_are_checked_and_cities_map_to_provinces() -> None:
    with pytest.raises(ValidationFailed) as bad:
        OfferParams(offer_seconds=1)
    assert bad.value.field == "offer_seconds"
    assert province_of("hangzhou") == "zhejiang"
    assert province_of(None) == province_of("atlantis") == "unknown"
