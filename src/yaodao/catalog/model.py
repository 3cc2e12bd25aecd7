"""The catalog's domain: products (drugs and medical devices), pharmacies, stock levels.

Pure Python: no I/O, no framework imports. Rules that decide what may be sold live in
``prohibition.py``; this module holds the shapes and their own invariants.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time

from yaodao.kernel.geo import LatLng


class DrugClass(enum.StrEnum):
    RX = "rx"
    OTC_A = "otc_a"  # 甲类, red mark: pharmacies, pharmacist guidance
    OTC_B = "otc_b"  # 乙类, green mark
    DEVICE = "device"  # medical devices (dressings, bandages): not drugs, no class mark

    @property
    def is_otc(self) -> bool:
        return self in (DrugClass.OTC_A, DrugClass.OTC_B)


class ProductKind(enum.StrEnum):
    DRUG = "drug"
    DEVICE = "device"


ORAL_FORMS = frozenset(
    "tablet film_coated_tablet sustained_release_tablet enteric_coated_tablet chewable_tablet effervescent_tablet "
    "orally_disintegrating_tablet capsule sustained_release_capsule soft_capsule granules powder oral_solution "
    "oral_liquid syrup suspension drops pill honey_pill tincture lozenge".split()
)
TOPICAL_FORMS = frozenset(
    "ointment cream gel lotion liniment spray aerosol eye_drops eye_gel eye_ointment ear_drops nasal_spray "
    "vaginal_tablet vaginal_suppository suppository enema patch plaster solution dressing bandage".split()
)
DOSAGE_FORMS = ORAL_FORMS | TOPICAL_FORMS | {"injection", "inhaler"}
CATEGORIES = frozenset(
    "cold_flu fever_pain cough allergy digestion skin eye ear_nose_throat first_aid womens_health childrens_health "
    "vitamins hypertension diabetes lipids cardiovascular antibiotic respiratory urology neurology mental_health "
    "tcm".split()
)
SKU_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


@dataclass(frozen=True, slots=True)
class Ingredient:
    inn: str  # English INN (lower case) or herb name for TCM
    name_zh: str
    amount: float | None = None  # per dose unit
    unit: str | None = None


@dataclass(slots=True)
class Product:
    id: str
    sku: str
    kind: ProductKind
    generic_name_zh: str
    generic_name_en: str
    brand_name_zh: str | None
    brand_name_en: str | None
    manufacturer_zh: str
    ingredients: tuple[Ingredient, ...]
    dosage_form: str
    strength: str
    pack_size: int
    pack_unit: str
    pack_text_zh: str
    drug_class: DrugClass
    categories: tuple[str, ...]
    indications_zh: tuple[str, ...]
    indications_en: tuple[str, ...]
    contraindications: tuple[str, ...]
    min_age_years: int | None
    max_per_order: int
    cold_chain: bool
    price_fen: int
    online_sellable: bool
    prohibited_reason: str | None
    pinyin_full: str  # of the Chinese generic (and brand) names: "buluofen huanshi jiaonang"
    pinyin_initials: str  # "blfhsjn"
    approval_no: str | None = None
    source: str | None = None
    active: bool = True
    version: int = 1
    updated_at: datetime | None = None

    def with_changes(self, **changes: object) -> Product:
        updated = replace(self, **changes)  # type: ignore[arg-type]
        updated.version = self.version + 1
        return updated

    @property
    def inns(self) -> tuple[str, ...]:
        return tuple(i.inn for i in self.ingredients)


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Daily opening hours in city-local time; ``close`` before ``open`` wraps past midnight."""

    open: time
    close: time

    def contains(self, local: time) -> bool:
        if self.open == self.close:
            return True  # 00:00-00:00 means around the clock
        if self.open < self.close:
            return self.open <= local < self.close
        return local >= self.open or local < self.close


@dataclass(slots=True)
class Pharmacy:
    id: str
    city_id: str
    name: str
    brand: str
    district_code: str | None
    address: str
    location: LatLng
    open_24h: bool
    hours: OpeningHours
    prep_minutes: int  # typical time to pick and pack an order
    licence_no: str
    active: bool = True
    version: int = 1
    updated_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def is_open_at(self, local: time) -> bool:
        return self.active and (self.open_24h or self.hours.contains(local))


@dataclass(slots=True)
class StockLevel:
    pharmacy_id: str
    product_id: str
    quantity: int  # packs on hand
    reserved: int = 0  # packs held by unpaid orders
    version: int = 1
    updated_at: datetime | None = None

    @property
    def available(self) -> int:
        return self.quantity - self.reserved
