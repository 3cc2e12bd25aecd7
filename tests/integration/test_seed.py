"""The seed's integrity: real products with unique SKUs, Rx flagged, prohibited items unsellable, pharmacies inside."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from support import Platform
from yaodao.catalog.model import DrugClass
from yaodao.catalog.prohibition import check_online_sale
from yaodao.cities import load_city
from yaodao.seed import product_records, seed_products

# Generics that are prescription-only in China whatever the brand: if the seed has them, they must be Rx.
ALWAYS_RX = {
    "amlodipine",
    "nifedipine",
    "valsartan",
    "losartan",
    "irbesartan",
    "telmisartan",
    "metoprolol",
    "bisoprolol",
    "metformin",
    "acarbose",
    "gliclazide",
    "glimepiride",
    "sitagliptin",
    "dapagliflozin",
    "empagliflozin",
    "insulin",
    "atorvastatin",
    "rosuvastatin",
    "simvastatin",
    "ezetimibe",
    "amoxicillin",
    "cefuroxime",
    "cefalexin",
    "azithromycin",
    "levofloxacin",
    "clopidogrel",
    "warfarin",
    "digoxin",
}


def test_the_catalog_has_at_least_300_products_with_unique_skus() -> None:
    records = list(product_records())
    assert len(records) >= 300
    skus = Counter(r["sku"] for r in records)
    assert [s for s, n in skus.items() if n > 1] == []


def test_every_seed_product_passes_the_same_validation_as_the_admin_api() -> None:
    products = seed_products()  # raises on the first invalid record
    assert len(products) == len(list(product_records()))


def test_every_prescription_generic_is_flagged_rx() -> None:
    for product in seed_products():
        inns = {i.inn.split(" ")[0] for i in product.ingredients}
        if inns & ALWAYS_RX:
            assert product.drug_class is DrugClass.RX, product.sku


def test_every_prohibited_item_is_unsellable_and_the_seed_has_some() -> None:
    products = seed_products()
    prohibited = [
        p for p in products if not check_online_sale(p.ingredients, p.dosage_form, p.generic_name_zh).sellable
    ]
    assert len(prohibited) >= 5
    assert all(not p.online_sellable and p.prohibited_reason for p in prohibited)


def test_the_catalog_covers_every_everyday_need() -> None:
    by_category = Counter(c for p in seed_products() for c in p.categories)
    for category in (
        "cold_flu",
        "fever_pain",
        "cough",
        "allergy",
        "digestion",
        "skin",
        "eye",
        "first_aid",
        "womens_health",
        "childrens_health",
        "hypertension",
        "diabetes",
        "lipids",
    ):
        assert by_category[category] >= 5, category
    classes = Counter(p.drug_class for p in seed_products())
    assert classes[DrugClass.RX] >= 40
    assert classes[DrugClass.OTC_A] >= 40
    assert classes[DrugClass.OTC_B] >= 40


def test_the_pilot_network_is_inside_hangzhou_denser_downtown_and_open_around_the_clock(platform: Platform) -> None:
    city = load_city("hangzhou")
    with platform.container.uow(read_only=True) as uow:
        pharmacies = [p for p in uow.pharmacies.in_city("hangzhou") if p.id.startswith("ph-hangzhou-")]
    assert len(pharmacies) >= 120
    assert sum(p.open_24h for p in pharmacies) >= 15
    for p in pharmacies:
        assert city.contains(p.location), p.id
        district = city.district_of(p.location)
        assert district is not None
        assert district.code == p.district_code, p.id
    per_km2: dict[str, float] = {}
    areas = {"330102": 120.3, "330106": 311.7, "330127": 4428.4}  # km², from the boundary data
    for code, area in areas.items():
        per_km2[code] = sum(p.district_code == code for p in pharmacies) / area
    assert per_km2["330102"] > per_km2["330106"] > per_km2["330127"]
    # Somewhere in every district can buy medicine at 3 a.m.
    night = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
    local = city.local(night).time()
    assert {p.district_code for p in pharmacies if p.is_open_at(local)} >= {"330102", "330105", "330106", "330108"}


def test_every_pharmacy_carries_stock_and_no_level_is_negative(platform: Platform) -> None:
    with platform.container.uow(read_only=True) as uow:
        levels = uow.stock.in_city("hangzhou")
        pharmacies = uow.pharmacies.in_city("hangzhou")
    stocked = Counter(level.pharmacy_id for level in levels if level.quantity > 0)
    assert all(stocked[p.id] >= 20 for p in pharmacies if p.id.startswith("ph-hangzhou-") and p.active)
    assert all(level.quantity >= 0 and 0 <= level.reserved <= level.quantity for level in levels)
