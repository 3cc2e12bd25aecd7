"""Generated assortments: skewed the way real pharmacies are, and a pure function of the seed."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from yaodao.catalog.model import DrugClass, Ingredient, Pharmacy, Product, ProductKind, StockLevel
from yaodao.catalog.network import NetworkParams, StoreFormat, generate_pharmacies, is_cold_chain_capable, store_format
from yaodao.catalog.stocking import StockingParams, carry_chance, generate_stock
from yaodao.cities import load_city
from yaodao.kernel.errors import ValidationFailed


def make_product(
    pid: str,
    name_zh: str,
    inn: str,
    categories: tuple[str, ...],
    drug_class: DrugClass,
    *,
    kind: ProductKind = ProductKind.DRUG,
    cold_chain: bool = False,
    online_sellable: bool = True,
    active: bool = True,
) -> Product:
    return Product(
        id=pid,
        sku=pid,
        kind=kind,
        generic_name_zh=name_zh,
        generic_name_en=inn,
        brand_name_zh=None,
        brand_name_en=None,
        manufacturer_zh="某某制药有限公司",
        ingredients=(Ingredient(inn=inn, name_zh=name_zh),),
        dosage_form="bandage" if kind is ProductKind.DEVICE else "tablet",
        strength="",
        pack_size=10,
        pack_unit="片",
        pack_text_zh="10片/盒",
        drug_class=drug_class,
        categories=categories,
        indications_zh=(),
        indications_en=(),
        contraindications=(),
        min_age_years=None,
        max_per_order=5,
        cold_chain=cold_chain,
        price_fen=1500,
        online_sellable=online_sellable,
        prohibited_reason=None if online_sellable else "psychotropic",
        pinyin_full="",
        pinyin_initials="",
        active=active,
    )


IBUPROFEN = make_product("ibuprofen-sr-caps", "布洛芬缓释胶囊", "ibuprofen", ("fever_pain",), DrugClass.OTC_B)
PARACETAMOL = make_product("paracetamol-tabs", "对乙酰氨基酚片", "paracetamol", ("fever_pain",), DrugClass.OTC_A)
COLD = make_product("cold-granules", "感冒灵颗粒", "cold remedy", ("cold_flu", "tcm"), DrugClass.OTC_A)
SMECTA = make_product("montmorillonite", "蒙脱石散", "montmorillonite", ("digestion",), DrugClass.OTC_B)
VITAMIN_C = make_product("vitamin-c", "维生素C片", "ascorbic acid", ("vitamins",), DrugClass.OTC_B)
BANDAGE = make_product(
    "elastic-bandage", "弹力绷带", "bandage", ("first_aid",), DrugClass.DEVICE, kind=ProductKind.DEVICE
)
AMLODIPINE = make_product("amlodipine", "苯磺酸氨氯地平片", "amlodipine", ("hypertension",), DrugClass.RX)
AMOXICILLIN = make_product("amoxicillin", "阿莫西林胶囊", "amoxicillin", ("antibiotic",), DrugClass.RX)
INSULIN = make_product(
    "insulin-glargine", "甘精胰岛素注射液", "insulin glargine", ("diabetes",), DrugClass.RX, cold_chain=True
)
DIAZEPAM = make_product("diazepam", "地西泮片", "diazepam", ("mental_health",), DrugClass.RX, online_sellable=False)
DELISTED = make_product("old-cough-syrup", "止咳糖浆", "cough syrup", ("cough",), DrugClass.OTC_B, active=False)

PRODUCTS = [
    IBUPROFEN,
    PARACETAMOL,
    COLD,
    SMECTA,
    VITAMIN_C,
    BANDAGE,
    AMLODIPINE,
    AMOXICILLIN,
    INSULIN,
    DIAZEPAM,
    DELISTED,
]


@pytest.fixture(scope="module")
def stores() -> list[Pharmacy]:
    return generate_pharmacies(load_city("hangzhou"), seed=2026, params=NetworkParams())


@pytest.fixture(scope="module")
def stock(stores: list[Pharmacy]) -> list[StockLevel]:
    return generate_stock(stores, PRODUCTS, seed=7, params=StockingParams())


def carriers(stock: list[StockLevel], product: Product) -> set[str]:
    return {s.pharmacy_id for s in stock if s.product_id == product.id}


def test_the_same_seed_gives_the_identical_stock(stores: list[Pharmacy], stock: list[StockLevel]) -> None:
    """Stocking is a pure function of stores, products, seed and params."""
    assert generate_stock(stores, PRODUCTS, seed=7, params=StockingParams()) == stock


def test_another_seed_gives_other_stock(stores: list[Pharmacy], stock: list[StockLevel]) -> None:
    """The seed changes which stores carry what and how much."""
    assert generate_stock(stores, PRODUCTS, seed=8, params=StockingParams()) != stock


def test_adding_a_product_leaves_the_other_stock_untouched(stores: list[Pharmacy], stock: list[StockLevel]) -> None:
    """Draws are per (store, product), so a new catalog entry does not reshuffle the rest."""
    loratadine = make_product("loratadine", "氯雷他定片", "loratadine", ("allergy",), DrugClass.OTC_B)
    grown = generate_stock(stores, [loratadine, *reversed(PRODUCTS)], seed=7, params=StockingParams())
    assert sorted((s.pharmacy_id, s.product_id, s.quantity) for s in grown if s.product_id != "loratadine") == sorted(
        (s.pharmacy_id, s.product_id, s.quantity) for s in stock
    )


@pytest.mark.parametrize("product", [IBUPROFEN, PARACETAMOL, COLD, SMECTA], ids=lambda p: p.id)
def test_everyday_otc_medicines_are_in_more_than_80_percent_of_stores(
    stores: list[Pharmacy], stock: list[StockLevel], product: Product
) -> None:
    """Fever, cold and digestion OTC products are carried almost everywhere, small stores included."""
    assert len(carriers(stock, product)) > 0.8 * len(stores)
    community = {p.id for p in stores if store_format(p) is StoreFormat.COMMUNITY}
    assert len(carriers(stock, product) & community) > 0.8 * len(community)


def test_prescription_drugs_are_in_fewer_stores_chronic_ones_more_than_others(
    stores: list[Pharmacy], stock: list[StockLevel]
) -> None:
    """Amlodipine (Rx, hypertension) is in fewer stores than OTC ibuprofen, amoxicillin (Rx) in fewer still."""
    n = len(stores)
    ibuprofen, amlodipine, amoxicillin = (len(carriers(stock, p)) for p in (IBUPROFEN, AMLODIPINE, AMOXICILLIN))
    assert ibuprofen > amlodipine > amoxicillin > 0
    assert amlodipine < 0.7 * n
    assert len(carriers(stock, VITAMIN_C)) > amlodipine


def test_cold_chain_products_are_only_in_stores_with_a_fridge(stores: list[Pharmacy], stock: list[StockLevel]) -> None:
    """Insulin sits only in the ~30 % of stores flagged cold-chain capable, and in most of those."""
    fridges = {p.id for p in stores if is_cold_chain_capable(p)}
    insulin = carriers(stock, INSULIN)
    assert insulin <= fridges
    assert len(insulin) > 0.5 * len(fridges)


def test_products_not_sold_online_are_still_stocked_for_the_counter(stock: list[StockLevel]) -> None:
    """Diazepam may not be sold online, but stores still keep it for in-store prescriptions."""
    assert carriers(stock, DIAZEPAM)


def test_delisted_products_are_not_stocked(stock: list[StockLevel]) -> None:
    """An inactive product gets no stock rows."""
    assert not carriers(stock, DELISTED)


def test_flagship_and_24_hour_stores_carry_more_than_community_stores(
    stores: list[Pharmacy], stock: list[StockLevel]
) -> None:
    """Range grows with the store: flagships and 24-hour stores list more products on average."""
    lines = Counter(s.pharmacy_id for s in stock)

    def mean_range(group: list[Pharmacy]) -> float:
        return sum(lines[p.id] for p in group) / len(group)

    community = [p for p in stores if store_format(p) is StoreFormat.COMMUNITY]
    flagship = [p for p in stores if store_format(p) is StoreFormat.FLAGSHIP]
    all_night = [p for p in stores if p.open_24h]
    assert mean_range(flagship) > mean_range(community)
    assert mean_range(all_night) > mean_range(community)


def test_quantities_are_0_to_40_packs_skewed_low_with_some_out_of_stock(stock: list[StockLevel]) -> None:
    """Most lines hold a handful of packs, a few hold many, and some are at zero right now."""
    quantities = [s.quantity for s in stock]
    assert min(quantities) == 0
    assert max(quantities) <= 40
    zero = quantities.count(0) / len(quantities)
    assert 0.03 < zero < 0.15
    ordered = sorted(quantities)
    median = ordered[len(ordered) // 2]
    assert median < sum(quantities) / len(quantities)  # a long right tail
    assert all(s.reserved == 0 for s in stock)


def test_everyday_medicines_are_stocked_deeper_than_prescription_drugs(stock: list[StockLevel]) -> None:
    """A store keeps more packs of ibuprofen than of amlodipine, on average."""
    packs: defaultdict[str, list[int]] = defaultdict(list)
    for s in stock:
        packs[s.product_id].append(s.quantity)
    mean = {pid: sum(q) / len(q) for pid, q in packs.items()}
    assert mean[IBUPROFEN.id] > mean[AMLODIPINE.id]


def test_the_carry_chance_never_reaches_certainty() -> None:
    """Even a 24-hour flagship sometimes lacks a product: chances are capped at max_carry."""
    params = StockingParams()
    assert carry_chance(INSULIN, StoreFormat.FLAGSHIP, True, params) == params.max_carry
    assert carry_chance(IBUPROFEN, StoreFormat.COMMUNITY, False, params) == params.essential_otc


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"essential_otc": 1.2}, "essential_otc"),
        ({"out_of_stock": -0.1}, "out_of_stock"),
        ({"flagship_factor": 0.0}, "flagship_factor"),
        ({"mean_packs_other": 0.5}, "mean_packs_other"),
        ({"max_packs": 0}, "max_packs"),
    ],
)
def test_bad_params_are_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    """StockingParams validates itself when built."""
    with pytest.raises(ValidationFailed) as err:
        StockingParams(**changes)  # type: ignore[arg-type]
    assert err.value.field == field
