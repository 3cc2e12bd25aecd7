"""Catalog use cases: products, pharmacies, stock and cities, behind the one access policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from yaodao.accounts.policy import Action, Actor, Scope, authorize
from yaodao.catalog import events
from yaodao.catalog.geometry import ring_self_intersections
from yaodao.catalog.model import (
    CATEGORIES,
    DOSAGE_FORMS,
    SKU_PATTERN,
    DrugClass,
    Ingredient,
    OpeningHours,
    Pharmacy,
    Product,
    ProductKind,
    StockLevel,
)
from yaodao.catalog.naming import pinyin_of
from yaodao.catalog.prohibition import check_online_sale
from yaodao.kernel.city import City, city_from_data
from yaodao.kernel.errors import Conflict, NotFound, ValidationFailed
from yaodao.kernel.geo import LatLng
from yaodao.kernel.ids import new_id
from yaodao.kernel.money import MAX_PRICE_FEN
from yaodao.kernel.paging import Page, PageRequest
from yaodao.ports import CityRegistry, UnitOfWorkPort

MAX_STOCK = 100_000

PRODUCT_FIELDS = (
    "sku",
    "kind",
    "generic_name_zh",
    "generic_name_en",
    "brand_name_zh",
    "brand_name_en",
    "manufacturer_zh",
    "ingredients",
    "dosage_form",
    "strength",
    "pack_size",
    "pack_unit",
    "pack_text_zh",
    "drug_class",
    "categories",
    "indications_zh",
    "indications_en",
    "contraindications",
    "min_age_years",
    "max_per_order",
    "cold_chain",
    "price_fen",
    "approval_no",
    "source",
    "active",
)


def product_problems(p: Product) -> list[tuple[str, str]]:
    """Every rule a product breaks, as (field, message) pairs."""
    out: list[tuple[str, str]] = []
    if not SKU_PATTERN.match(p.sku):
        out.append(("sku", "must be 2-64 characters of a-z, 0-9 and '-', starting with a letter or digit"))
    for name in ("generic_name_zh", "generic_name_en", "manufacturer_zh", "strength", "pack_unit", "pack_text_zh"):
        if not str(getattr(p, name)).strip():
            out.append((name, "must not be empty"))
    if p.dosage_form not in DOSAGE_FORMS:
        out.append(("dosage_form", f"unknown dosage form {p.dosage_form!r}"))
    unknown = sorted(set(p.categories) - CATEGORIES)
    if unknown:
        out.append(("categories", f"unknown categories: {', '.join(unknown)}"))
    if not 0 < p.price_fen <= MAX_PRICE_FEN:
        out.append(("price_fen", f"must be a whole number of fen between 1 and {MAX_PRICE_FEN}"))
    if not 0 < p.pack_size <= 10_000:
        out.append(("pack_size", "must be between 1 and 10000"))
    if not 1 <= p.max_per_order <= 100:
        out.append(("max_per_order", "must be between 1 and 100"))
    if p.min_age_years is not None and not 0 <= p.min_age_years <= 120:
        out.append(("min_age_years", "must be between 0 and 120"))
    if p.kind is ProductKind.DRUG and not p.ingredients:
        out.append(("ingredients", "a drug needs at least one active ingredient"))
    if (p.kind is ProductKind.DEVICE) != (p.drug_class is DrugClass.DEVICE):
        out.append(("drug_class", "medical devices, and only they, have class 'device'"))
    for i, ing in enumerate(p.ingredients):
        if not ing.inn.strip() or not ing.name_zh.strip():
            out.append((f"ingredients[{i}]", "needs an INN (English) and a Chinese name"))
        if ing.amount is not None and ing.amount <= 0:
            out.append((f"ingredients[{i}].amount", "must be positive"))
    return out


def build_product(data: Mapping[str, Any], *, product_id: str, requested_sellable: bool | None) -> Product:
    """A validated Product from typed input; online_sellable comes from the prohibition list."""
    ingredients = tuple(
        Ingredient(
            inn=str(i["inn"]).strip().lower(), name_zh=str(i["name_zh"]), amount=i.get("amount"), unit=i.get("unit")
        )
        for i in data["ingredients"]
    )
    verdict = check_online_sale(ingredients, data["dosage_form"], data["generic_name_zh"])
    if requested_sellable and not verdict.sellable:
        raise ValidationFailed(
            f"online_sellable: cannot be true, the product is on the online-sales prohibition list ({verdict.reason})",
            field="online_sellable",
        )
    full, initials = pinyin_of(data["generic_name_zh"], data.get("brand_name_zh"))
    product = Product(
        id=product_id,
        sku=data["sku"],
        kind=ProductKind(data["kind"]),
        generic_name_zh=data["generic_name_zh"],
        generic_name_en=data["generic_name_en"],
        brand_name_zh=data.get("brand_name_zh"),
        brand_name_en=data.get("brand_name_en"),
        manufacturer_zh=data["manufacturer_zh"],
        ingredients=ingredients,
        dosage_form=data["dosage_form"],
        strength=data["strength"],
        pack_size=data["pack_size"],
        pack_unit=data["pack_unit"],
        pack_text_zh=data["pack_text_zh"],
        drug_class=DrugClass(data["drug_class"]),
        categories=tuple(data.get("categories", ())),
        indications_zh=tuple(data.get("indications_zh", ())),
        indications_en=tuple(data.get("indications_en", ())),
        contraindications=tuple(data.get("contraindications", ())),
        min_age_years=data.get("min_age_years"),
        max_per_order=data["max_per_order"],
        cold_chain=bool(data.get("cold_chain", False)),
        price_fen=data["price_fen"],
        online_sellable=verdict.sellable if requested_sellable is None else bool(requested_sellable),
        prohibited_reason=verdict.reason,
        pinyin_full=full,
        pinyin_initials=initials,
        approval_no=data.get("approval_no"),
        source=data.get("source"),
        active=bool(data.get("active", True)),
    )
    problems = product_problems(product)
    if problems:
        raise ValidationFailed("; ".join(f"{f}: {m}" for f, m in problems), field=problems[0][0], errors=problems)
    return product


def _product_data(p: Product) -> dict[str, Any]:
    data = {name: getattr(p, name) for name in PRODUCT_FIELDS}
    data["kind"] = p.kind.value
    data["drug_class"] = p.drug_class.value
    data["ingredients"] = [
        {"inn": i.inn, "name_zh": i.name_zh, "amount": i.amount, "unit": i.unit} for i in p.ingredients
    ]
    return data


def create_product(*, uow: UnitOfWorkPort, actor: Actor, data: Mapping[str, Any]) -> Product:
    authorize(actor, Action.CATALOG_WRITE)
    with uow:
        if uow.products.get_by_sku(data["sku"]) is not None:
            raise Conflict(f"sku {data['sku']!r} already exists", field="sku")
        product = build_product(data, product_id=new_id(), requested_sellable=data.get("online_sellable"))
        uow.products.add(product, uow.clock.now())
        uow.emit(events.ProductSaved(product_id=product.id, online_sellable=product.online_sellable))
        uow.commit()
    return product


def update_product(
    *, uow: UnitOfWorkPort, actor: Actor, product_id: str, changes: Mapping[str, Any], expected_version: int | None
) -> Product:
    authorize(actor, Action.CATALOG_WRITE)
    with uow:
        current = uow.products.get(product_id)
        if current is None:
            raise NotFound(f"no product {product_id}")
        if expected_version is not None and expected_version != current.version:
            raise Conflict(f"product {product_id} is at version {current.version}, not {expected_version}")
        if "sku" in changes and changes["sku"] != current.sku and uow.products.get_by_sku(changes["sku"]):
            raise Conflict(f"sku {changes['sku']!r} already exists", field="sku")
        merged = {**_product_data(current), **{k: v for k, v in changes.items() if k != "online_sellable"}}
        requested = changes.get(
            "online_sellable", current.online_sellable if current.prohibited_reason is None else None
        )
        product = build_product(merged, product_id=current.id, requested_sellable=requested)
        product.version = current.version + 1
        uow.products.update(product, current.version, uow.clock.now())
        uow.emit(events.ProductSaved(product_id=product.id, online_sellable=product.online_sellable))
        uow.commit()
    return product


def get_product(*, uow: UnitOfWorkPort, actor: Actor, product_id: str) -> Product:
    authorize(actor, Action.CATALOG_READ)
    with uow:
        product = uow.products.get(product_id)
    if product is None:
        raise NotFound(f"no product {product_id}")
    return product


def list_products(
    *,
    uow: UnitOfWorkPort,
    actor: Actor,
    page: PageRequest,
    q: str | None = None,
    drug_class: str | None = None,
    category: str | None = None,
) -> Page[Product]:
    authorize(actor, Action.CATALOG_READ)
    with uow:
        return uow.products.list_page(page, q=q, drug_class=drug_class, category=category)


# Pharmacies -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PharmacyInput:
    city_id: str
    name: str
    brand: str
    address: str
    location: LatLng
    open_24h: bool
    opens: time
    closes: time
    prep_minutes: int
    licence_no: str
    district_code: str | None = None
    active: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)  # store format, cold-chain capability


def build_pharmacy(inp: PharmacyInput, *, pharmacy_id: str, city: City) -> Pharmacy:
    problems: list[tuple[str, str]] = []
    if not city.contains(inp.location):
        problems.append(
            ("location", f"({inp.location.lat}, {inp.location.lng}) is outside {city.name_en}'s service area")
        )
    district = city.district_of(inp.location) if not problems else None
    if inp.district_code is not None and district is not None and inp.district_code != district.code:
        problems.append(("district_code", f"the location lies in district {district.code}, not {inp.district_code}"))
    if inp.district_code is not None and city.districts and inp.district_code not in {d.code for d in city.districts}:
        problems.append(("district_code", f"{city.name_en} has no district {inp.district_code}"))
    for name in ("name", "brand", "address", "licence_no"):
        if not str(getattr(inp, name)).strip():
            problems.append((name, "must not be empty"))
    if not 0 <= inp.prep_minutes <= 240:
        problems.append(("prep_minutes", "must be between 0 and 240"))
    if not inp.open_24h and inp.opens == inp.closes:
        problems.append(("closes", "opening and closing times are equal; set open_24h for a 24-hour pharmacy"))
    if problems:
        raise ValidationFailed("; ".join(f"{f}: {m}" for f, m in problems), field=problems[0][0], errors=problems)
    return Pharmacy(
        id=pharmacy_id,
        city_id=city.id,
        name=inp.name.strip(),
        brand=inp.brand.strip(),
        district_code=district.code if district else inp.district_code,
        address=inp.address.strip(),
        location=inp.location,
        open_24h=inp.open_24h,
        hours=OpeningHours(inp.opens, inp.closes),
        prep_minutes=inp.prep_minutes,
        licence_no=inp.licence_no.strip(),
        active=inp.active,
        extra=dict(inp.extra),
    )


def create_pharmacy(*, uow: UnitOfWorkPort, actor: Actor, cities: CityRegistry, inp: PharmacyInput) -> Pharmacy:
    authorize(actor, Action.PHARMACY_CREATE)
    city = cities.get(inp.city_id)
    if city is None:
        raise ValidationFailed(f"city_id: unknown city {inp.city_id!r}", field="city_id")
    pharmacy = build_pharmacy(inp, pharmacy_id=new_id(), city=city)
    with uow:
        uow.pharmacies.add(pharmacy, uow.clock.now())
        uow.emit(events.PharmacySaved(pharmacy_id=pharmacy.id, active=pharmacy.active, city_id=pharmacy.city_id))
        uow.commit()
    return pharmacy


def update_pharmacy(
    *,
    uow: UnitOfWorkPort,
    actor: Actor,
    cities: CityRegistry,
    pharmacy_id: str,
    changes: Mapping[str, Any],
    expected_version: int | None,
) -> Pharmacy:
    with uow:
        current = uow.pharmacies.get(pharmacy_id)
        if current is None:
            authorize(actor, Action.PHARMACY_UPDATE)
            raise NotFound(f"no pharmacy {pharmacy_id}")
        authorize(actor, Action.PHARMACY_UPDATE, Scope(city_id=current.city_id))
        if expected_version is not None and expected_version != current.version:
            raise Conflict(f"pharmacy {pharmacy_id} is at version {current.version}, not {expected_version}")
        base = {
            "city_id": current.city_id,
            "name": current.name,
            "brand": current.brand,
            "address": current.address,
            "location": current.location,
            "open_24h": current.open_24h,
            "opens": current.hours.open,
            "closes": current.hours.close,
            "prep_minutes": current.prep_minutes,
            "licence_no": current.licence_no,
            "district_code": current.district_code,
            "active": current.active,
            "extra": current.extra,
        }
        if "city_id" in changes and changes["city_id"] != current.city_id:
            raise ValidationFailed("city_id: a pharmacy cannot move to another city", field="city_id")
        if "location" in changes and "district_code" not in changes:
            base["district_code"] = None
        merged = PharmacyInput(**{**base, **changes})
        city = cities.get(current.city_id)
        assert city is not None
        pharmacy = build_pharmacy(merged, pharmacy_id=current.id, city=city)
        pharmacy.version = current.version + 1
        uow.pharmacies.update(pharmacy, current.version, uow.clock.now())
        uow.emit(events.PharmacySaved(pharmacy_id=pharmacy.id, active=pharmacy.active, city_id=pharmacy.city_id))
        uow.commit()
    return pharmacy


def get_pharmacy(*, uow: UnitOfWorkPort, actor: Actor, pharmacy_id: str) -> Pharmacy:
    authorize(actor, Action.PHARMACY_READ)
    with uow:
        pharmacy = uow.pharmacies.get(pharmacy_id)
    if pharmacy is None:
        raise NotFound(f"no pharmacy {pharmacy_id}")
    return pharmacy


def list_pharmacies(
    *,
    uow: UnitOfWorkPort,
    actor: Actor,
    page: PageRequest,
    city_id: str | None = None,
    district_code: str | None = None,
    open_24h: bool | None = None,
) -> Page[Pharmacy]:
    authorize(actor, Action.PHARMACY_READ)
    with uow:
        return uow.pharmacies.list_page(page, city_id=city_id, district_code=district_code, open_24h=open_24h)


# Stock ------------------------------------------------------------------------------------------


def _pharmacy_authorized(uow: UnitOfWorkPort, actor: Actor, action: Action, pharmacy_id: str) -> Pharmacy:
    """The pharmacy, once the actor may take ``action`` on it (its staff, its city's operators, admins)."""
    pharmacy = uow.pharmacies.get(pharmacy_id)
    if pharmacy is None:
        authorize(actor, action)  # an outsider learns nothing, not even that the id is unknown
        raise NotFound(f"no pharmacy {pharmacy_id}")
    authorize(actor, action, Scope(pharmacy_id=pharmacy.id, city_id=pharmacy.city_id))
    return pharmacy


def set_stock(*, uow: UnitOfWorkPort, actor: Actor, pharmacy_id: str, product_id: str, quantity: int) -> StockLevel:
    if isinstance(quantity, bool) or not 0 <= quantity <= MAX_STOCK:
        raise ValidationFailed(f"quantity: must be a whole number of packs between 0 and {MAX_STOCK}", field="quantity")
    with uow:
        pharmacy = _pharmacy_authorized(uow, actor, Action.STOCK_WRITE, pharmacy_id)
        if uow.products.get(product_id) is None:
            raise NotFound(f"no product {product_id}")
        current = uow.stock.get(pharmacy_id, product_id)
        if current is not None and quantity < current.reserved:
            raise Conflict(
                f"quantity: {current.reserved} packs are reserved by open orders; cannot go below that",
                field="quantity",
            )
        level = uow.stock.set_quantity(
            city_id=pharmacy.city_id,
            pharmacy_id=pharmacy_id,
            product_id=product_id,
            quantity=quantity,
            now=uow.clock.now(),
        )
        uow.emit(
            events.StockChanged(
                pharmacy_id=pharmacy_id, product_id=product_id, available=level.available, city_id=pharmacy.city_id
            )
        )
        uow.commit()
    return level


def list_stock(*, uow: UnitOfWorkPort, actor: Actor, pharmacy_id: str, page: PageRequest) -> Page[StockLevel]:
    with uow:
        _pharmacy_authorized(uow, actor, Action.STOCK_READ, pharmacy_id)
        return uow.stock.list_for_pharmacy(pharmacy_id, page)


def get_stock(*, uow: UnitOfWorkPort, actor: Actor, pharmacy_id: str, product_id: str) -> StockLevel:
    with uow:
        _pharmacy_authorized(uow, actor, Action.STOCK_READ, pharmacy_id)
        level = uow.stock.get(pharmacy_id, product_id)
    if level is None:
        raise NotFound(f"pharmacy {pharmacy_id} holds no stock record for product {product_id}")
    return level


# Cities -----------------------------------------------------------------------------------------


def validate_city_data(data: Mapping[str, Any], districts: Mapping[str, Any]) -> City:
    city = city_from_data(data, districts)
    problems = [
        (f"service_area[{i}]", msg) for i, ring in enumerate(city.service_area) for msg in ring_self_intersections(ring)
    ]
    if problems:
        raise ValidationFailed("; ".join(f"{f}: {m}" for f, m in problems), field=problems[0][0], errors=problems)
    return city


def create_city(*, uow: UnitOfWorkPort, actor: Actor, data: Mapping[str, Any], districts: Mapping[str, Any]) -> City:
    authorize(actor, Action.CITY_WRITE)
    city = validate_city_data(data, districts)
    with uow:
        if uow.cities.get_data(city.id) is not None:
            raise Conflict(f"city {city.id!r} already exists", field="id")
        uow.cities.add(data, districts, uow.clock.now())
        uow.emit(events.CitySaved(city_id=city.id))
        uow.commit()
    return city
