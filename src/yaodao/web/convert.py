"""Domain objects to API schemas (one place, so routes stay one-liners)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from yaodao.accounts.model import Address, FamilyMember, User
from yaodao.catalog.model import Pharmacy, Product, StockLevel
from yaodao.kernel.paging import Page
from yaodao.web import schemas as s

A = TypeVar("A")
B = TypeVar("B")


def page_out(page: Page[A], convert: Callable[[A], B]) -> s.PageOut[B]:
    return s.PageOut[B](
        items=[convert(x) for x in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
        pages=page.pages,
    )


def product_out(p: Product) -> s.ProductOut:
    return s.ProductOut(
        id=p.id,
        sku=p.sku,
        kind=p.kind.value,
        generic_name_zh=p.generic_name_zh,
        generic_name_en=p.generic_name_en,
        brand_name_zh=p.brand_name_zh,
        brand_name_en=p.brand_name_en,
        manufacturer_zh=p.manufacturer_zh,
        ingredients=[
            s.IngredientOut(inn=i.inn, name_zh=i.name_zh, amount=i.amount, unit=i.unit) for i in p.ingredients
        ],
        dosage_form=p.dosage_form,
        strength=p.strength,
        pack_size=p.pack_size,
        pack_unit=p.pack_unit,
        pack_text_zh=p.pack_text_zh,
        drug_class=p.drug_class.value,
        categories=list(p.categories),
        indications_zh=list(p.indications_zh),
        indications_en=list(p.indications_en),
        contraindications=list(p.contraindications),
        min_age_years=p.min_age_years,
        max_per_order=p.max_per_order,
        cold_chain=p.cold_chain,
        price_fen=p.price_fen,
        online_sellable=p.online_sellable,
        prohibited_reason=p.prohibited_reason,
        pinyin_full=p.pinyin_full,
        pinyin_initials=p.pinyin_initials,
        approval_no=p.approval_no,
        source=p.source,
        active=p.active,
        version=p.version,
    )


def pharmacy_out(p: Pharmacy) -> s.PharmacyOut:
    return s.PharmacyOut(
        id=p.id,
        city_id=p.city_id,
        name=p.name,
        brand=p.brand,
        district_code=p.district_code,
        address=p.address,
        location=s.Point(lat=p.location.lat, lng=p.location.lng),
        open_24h=p.open_24h,
        opens=p.hours.open.strftime("%H:%M"),
        closes=p.hours.close.strftime("%H:%M"),
        prep_minutes=p.prep_minutes,
        licence_no=p.licence_no,
        active=p.active,
        version=p.version,
    )


def stock_out(level: StockLevel) -> s.StockOut:
    return s.StockOut(
        pharmacy_id=level.pharmacy_id,
        product_id=level.product_id,
        quantity=level.quantity,
        reserved=level.reserved,
        available=level.available,
        version=level.version,
    )


def user_out(u: User) -> s.UserOut:
    return s.UserOut(
        id=u.id,
        email=u.email,
        display_name=u.display_name,
        roles=sorted(r.value for r in u.roles),
        pharmacy_id=u.pharmacy_id,
        city_id=u.city_id,
    )


def family_out(m: FamilyMember) -> s.FamilyOut:
    return s.FamilyOut(
        id=m.id,
        name=m.name,
        relation=m.relation,
        date_of_birth=m.date_of_birth,
        sex=m.sex,
        allergies=list(m.allergies),
        current_medicines=list(m.current_medicines),
    )


def mask_phone(phone: str) -> str:
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:] if len(phone) >= 7 else "*" * len(phone)


def address_out(a: Address) -> s.AddressOut:
    return s.AddressOut(
        id=a.id,
        city_id=a.city_id,
        label=a.label,
        recipient=a.recipient,
        phone_masked=mask_phone(a.phone),
        text=a.text,
        location=s.Point(lat=a.location.lat, lng=a.location.lng),
        district_code=a.district_code,
        is_default=a.is_default,
    )
