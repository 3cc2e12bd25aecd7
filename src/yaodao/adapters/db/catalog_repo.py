"""Catalog repositories: rows in, domain objects out; optimistic concurrency on ``version``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, time
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from yaodao.adapters.db import tables as t
from yaodao.catalog.model import DrugClass, Ingredient, OpeningHours, Pharmacy, Product, ProductKind, StockLevel
from yaodao.catalog.prohibition import LIST_VERSION
from yaodao.kernel.errors import Conflict
from yaodao.kernel.geo import LatLng
from yaodao.kernel.paging import Page, PageRequest


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def _time(value: str) -> time:
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


def product_row(p: Product, now: datetime) -> dict[str, Any]:
    return {
        "id": p.id,
        "sku": p.sku,
        "kind": p.kind.value,
        "generic_name_zh": p.generic_name_zh,
        "generic_name_en": p.generic_name_en,
        "brand_name_zh": p.brand_name_zh,
        "brand_name_en": p.brand_name_en,
        "manufacturer_zh": p.manufacturer_zh,
        "ingredients": [
            {"inn": i.inn, "name_zh": i.name_zh, "amount": i.amount, "unit": i.unit} for i in p.ingredients
        ],
        "dosage_form": p.dosage_form,
        "strength": p.strength,
        "pack_size": p.pack_size,
        "pack_unit": p.pack_unit,
        "pack_text_zh": p.pack_text_zh,
        "drug_class": p.drug_class.value,
        "categories": list(p.categories),
        "indications_zh": list(p.indications_zh),
        "indications_en": list(p.indications_en),
        "contraindications": list(p.contraindications),
        "min_age_years": p.min_age_years,
        "max_per_order": p.max_per_order,
        "cold_chain": p.cold_chain,
        "price_fen": p.price_fen,
        "online_sellable": p.online_sellable,
        "prohibited_reason": p.prohibited_reason,
        "prohibition_list_version": LIST_VERSION,
        "pinyin_full": p.pinyin_full,
        "pinyin_initials": p.pinyin_initials,
        "approval_no": p.approval_no,
        "source": p.source,
        "active": p.active,
        "version": p.version,
        "updated_at": now,
    }


def product_from_row(r: Mapping[Any, Any]) -> Product:
    return Product(
        id=r["id"],
        sku=r["sku"],
        kind=ProductKind(r["kind"]),
        generic_name_zh=r["generic_name_zh"],
        generic_name_en=r["generic_name_en"],
        brand_name_zh=r["brand_name_zh"],
        brand_name_en=r["brand_name_en"],
        manufacturer_zh=r["manufacturer_zh"],
        ingredients=tuple(Ingredient(**i) for i in r["ingredients"]),
        dosage_form=r["dosage_form"],
        strength=r["strength"],
        pack_size=r["pack_size"],
        pack_unit=r["pack_unit"],
        pack_text_zh=r["pack_text_zh"],
        drug_class=DrugClass(r["drug_class"]),
        categories=tuple(r["categories"]),
        indications_zh=tuple(r["indications_zh"]),
        indications_en=tuple(r["indications_en"]),
        contraindications=tuple(r["contraindications"]),
        min_age_years=r["min_age_years"],
        max_per_order=r["max_per_order"],
        cold_chain=r["cold_chain"],
        price_fen=r["price_fen"],
        online_sellable=r["online_sellable"],
        prohibited_reason=r["prohibited_reason"],
        pinyin_full=r["pinyin_full"],
        pinyin_initials=r["pinyin_initials"],
        approval_no=r["approval_no"],
        source=r["source"],
        active=r["active"],
        version=r["version"],
        updated_at=r["updated_at"],
    )


class ProductRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, product_id: str) -> Product | None:
        row = self._conn.execute(select(t.products).where(t.products.c.id == product_id)).mappings().first()
        return product_from_row(row) if row else None

    def get_by_sku(self, sku: str) -> Product | None:
        row = self._conn.execute(select(t.products).where(t.products.c.sku == sku)).mappings().first()
        return product_from_row(row) if row else None

    def add(self, product: Product, now: datetime) -> None:
        self._conn.execute(insert(t.products).values(**product_row(product, now), created_at=now))

    def add_many(self, items: Sequence[Product], now: datetime) -> None:
        if items:
            self._conn.execute(insert(t.products), [{**product_row(p, now), "created_at": now} for p in items])

    def update(self, product: Product, expected_version: int, now: datetime) -> None:
        result = self._conn.execute(
            update(t.products)
            .where(t.products.c.id == product.id, t.products.c.version == expected_version)
            .values(**product_row(product, now))
        )
        if result.rowcount != 1:
            raise Conflict(f"product {product.id} was changed by someone else; reload and try again")

    def list_page(
        self, page: PageRequest, *, q: str | None = None, drug_class: str | None = None, category: str | None = None
    ) -> Page[Product]:
        cond = []
        if q:
            like = f"%{q}%"
            cols = (
                t.products.c.generic_name_zh,
                t.products.c.generic_name_en,
                t.products.c.brand_name_zh,
                t.products.c.brand_name_en,
                t.products.c.sku,
                t.products.c.pinyin_full,
            )
            cond.append(or_(*(c.ilike(like) for c in cols)))
        if drug_class:
            cond.append(t.products.c.drug_class == drug_class)
        stmt = select(t.products).where(*cond).order_by(t.products.c.sku)
        if category:  # JSON containment differs by engine; filter the (small) matching set here
            items = [p for p in map(product_from_row, self._conn.execute(stmt).mappings()) if category in p.categories]
            return Page(items[page.offset : page.offset + page.page_size], len(items), page.page, page.page_size)
        total = self._conn.execute(select(func.count()).select_from(t.products).where(*cond)).scalar_one()
        rows = self._conn.execute(stmt.offset(page.offset).limit(page.page_size)).mappings()
        return Page([product_from_row(r) for r in rows], int(total), page.page, page.page_size)

    def all(self) -> list[Product]:
        return [product_from_row(r) for r in self._conn.execute(select(t.products)).mappings()]

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.products)).scalar_one())


def pharmacy_row(p: Pharmacy, now: datetime) -> dict[str, Any]:
    return {
        "id": p.id,
        "city_id": p.city_id,
        "name": p.name,
        "brand": p.brand,
        "district_code": p.district_code,
        "address": p.address,
        "lat": p.location.lat,
        "lng": p.location.lng,
        "open_24h": p.open_24h,
        "opens": _hhmm(p.hours.open),
        "closes": _hhmm(p.hours.close),
        "prep_minutes": p.prep_minutes,
        "licence_no": p.licence_no,
        "extra": dict(p.extra),
        "active": p.active,
        "version": p.version,
        "updated_at": now,
    }


def pharmacy_from_row(r: Mapping[Any, Any]) -> Pharmacy:
    return Pharmacy(
        id=r["id"],
        city_id=r["city_id"],
        name=r["name"],
        brand=r["brand"],
        district_code=r["district_code"],
        address=r["address"],
        location=LatLng(r["lat"], r["lng"]),
        open_24h=r["open_24h"],
        hours=OpeningHours(_time(r["opens"]), _time(r["closes"])),
        prep_minutes=r["prep_minutes"],
        licence_no=r["licence_no"],
        extra=dict(r["extra"]),
        active=r["active"],
        version=r["version"],
        updated_at=r["updated_at"],
    )


class PharmacyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, pharmacy_id: str) -> Pharmacy | None:
        row = self._conn.execute(select(t.pharmacies).where(t.pharmacies.c.id == pharmacy_id)).mappings().first()
        return pharmacy_from_row(row) if row else None

    def add(self, pharmacy: Pharmacy, now: datetime) -> None:
        self._conn.execute(insert(t.pharmacies).values(**pharmacy_row(pharmacy, now), created_at=now))

    def add_many(self, items: Sequence[Pharmacy], now: datetime) -> None:
        if items:
            self._conn.execute(insert(t.pharmacies), [{**pharmacy_row(p, now), "created_at": now} for p in items])

    def update(self, pharmacy: Pharmacy, expected_version: int, now: datetime) -> None:
        result = self._conn.execute(
            update(t.pharmacies)
            .where(t.pharmacies.c.id == pharmacy.id, t.pharmacies.c.version == expected_version)
            .values(**pharmacy_row(pharmacy, now))
        )
        if result.rowcount != 1:
            raise Conflict(f"pharmacy {pharmacy.id} was changed by someone else; reload and try again")

    def list_page(
        self,
        page: PageRequest,
        *,
        city_id: str | None = None,
        district_code: str | None = None,
        open_24h: bool | None = None,
    ) -> Page[Pharmacy]:
        cond = []
        if city_id:
            cond.append(t.pharmacies.c.city_id == city_id)
        if district_code:
            cond.append(t.pharmacies.c.district_code == district_code)
        if open_24h is not None:
            cond.append(t.pharmacies.c.open_24h == open_24h)
        total = self._conn.execute(select(func.count()).select_from(t.pharmacies).where(*cond)).scalar_one()
        rows = self._conn.execute(
            select(t.pharmacies).where(*cond).order_by(t.pharmacies.c.id).offset(page.offset).limit(page.page_size)
        ).mappings()
        return Page([pharmacy_from_row(r) for r in rows], int(total), page.page, page.page_size)

    def in_city(self, city_id: str) -> list[Pharmacy]:
        rows = self._conn.execute(select(t.pharmacies).where(t.pharmacies.c.city_id == city_id)).mappings()
        return [pharmacy_from_row(r) for r in rows]


def stock_from_row(r: Mapping[Any, Any]) -> StockLevel:
    return StockLevel(
        pharmacy_id=r["pharmacy_id"],
        product_id=r["product_id"],
        quantity=r["quantity"],
        reserved=r["reserved"],
        version=r["version"],
        updated_at=r["updated_at"],
    )


class StockRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, pharmacy_id: str, product_id: str) -> StockLevel | None:
        row = (
            self._conn.execute(
                select(t.stock_levels).where(
                    t.stock_levels.c.pharmacy_id == pharmacy_id, t.stock_levels.c.product_id == product_id
                )
            )
            .mappings()
            .first()
        )
        return stock_from_row(row) if row else None

    def set_quantity(
        self, *, city_id: str, pharmacy_id: str, product_id: str, quantity: int, now: datetime
    ) -> StockLevel:
        """Set the packs on hand, creating the row if needed; reserved packs stay reserved."""
        values = {
            "pharmacy_id": pharmacy_id,
            "product_id": product_id,
            "city_id": city_id,
            "quantity": quantity,
            "reserved": 0,
            "version": 1,
            "updated_at": now,
        }
        dialect = self._conn.dialect.name
        ins = pg_insert(t.stock_levels) if dialect == "postgresql" else sqlite_insert(t.stock_levels)
        stmt = ins.values(**values).on_conflict_do_update(
            index_elements=[t.stock_levels.c.pharmacy_id, t.stock_levels.c.product_id],
            set_={"quantity": quantity, "version": t.stock_levels.c.version + 1, "updated_at": now},
        )
        self._conn.execute(stmt)
        level = self.get(pharmacy_id, product_id)
        assert level is not None
        return level

    def add_many(self, items: Iterable[StockLevel], city_by_pharmacy: Mapping[str, str], now: datetime) -> None:
        rows = [
            {
                "pharmacy_id": s.pharmacy_id,
                "product_id": s.product_id,
                "city_id": city_by_pharmacy[s.pharmacy_id],
                "quantity": s.quantity,
                "reserved": s.reserved,
                "version": 1,
                "updated_at": now,
            }
            for s in items
        ]
        for start in range(0, len(rows), 5000):
            self._conn.execute(insert(t.stock_levels), rows[start : start + 5000])

    def list_for_pharmacy(self, pharmacy_id: str, page: PageRequest) -> Page[StockLevel]:
        cond = [t.stock_levels.c.pharmacy_id == pharmacy_id]
        total = self._conn.execute(select(func.count()).select_from(t.stock_levels).where(*cond)).scalar_one()
        rows = self._conn.execute(
            select(t.stock_levels)
            .where(*cond)
            .order_by(t.stock_levels.c.product_id)
            .offset(page.offset)
            .limit(page.page_size)
        ).mappings()
        return Page([stock_from_row(r) for r in rows], int(total), page.page, page.page_size)

    def in_city(self, city_id: str) -> list[StockLevel]:
        rows = self._conn.execute(select(t.stock_levels).where(t.stock_levels.c.city_id == city_id)).mappings()
        return [stock_from_row(r) for r in rows]


class CityRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get_data(self, city_id: str) -> tuple[dict[str, Any], dict[str, Any], int] | None:
        row = self._conn.execute(select(t.cities).where(t.cities.c.id == city_id)).mappings().first()
        return (dict(row["data"]), dict(row["districts"]), int(row["version"])) if row else None

    def ids(self) -> list[str]:
        return list(self._conn.execute(select(t.cities.c.id).order_by(t.cities.c.id)).scalars())

    def add(self, data: Mapping[str, Any], districts: Mapping[str, Any], now: datetime) -> None:
        self._conn.execute(
            insert(t.cities).values(
                id=data["id"],
                name_zh=data["name_zh"],
                name_en=data["name_en"],
                timezone=data["timezone"],
                datum=data["datum"],
                data=dict(data),
                districts=dict(districts),
                version=1,
                created_at=now,
                updated_at=now,
            )
        )

    def update(
        self, data: Mapping[str, Any], districts: Mapping[str, Any], expected_version: int, now: datetime
    ) -> None:
        result = self._conn.execute(
            update(t.cities)
            .where(t.cities.c.id == data["id"], t.cities.c.version == expected_version)
            .values(
                name_zh=data["name_zh"],
                name_en=data["name_en"],
                timezone=data["timezone"],
                datum=data["datum"],
                data=dict(data),
                districts=dict(districts),
                version=expected_version + 1,
                updated_at=now,
            )
        )
        if result.rowcount != 1:
            raise Conflict(f"city {data['id']} was changed by someone else; reload and try again")
