"""Admin API: catalog, pharmacies, stock, cities, users, audit. Access is decided by the policy."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from yaodao.accounts import services as accounts
from yaodao.accounts.model import Role
from yaodao.accounts.policy import Action, authorize
from yaodao.catalog import services as catalog
from yaodao.kernel.errors import NotFound
from yaodao.kernel.geo import LatLng
from yaodao.kernel.paging import PageRequest
from yaodao.web import schemas as s
from yaodao.web.convert import page_out, pharmacy_out, product_out, stock_out, user_out
from yaodao.web.deps import ActorDep, ContainerDep, UowDep

router = APIRouter(prefix="/api/admin", tags=["admin"])

PageNo = Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=200, description="items per page (at most 200)")]
Id = Annotated[str, Query(max_length=80)]


def _time(value: str) -> time:
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


# Products ---------------------------------------------------------------------------------------


@router.get("/products", response_model=s.PageOut[s.ProductOut])
def list_products(
    uow: UowDep,
    actor: ActorDep,
    page: PageNo = 1,
    page_size: PageSize = 50,
    q: Annotated[str | None, Query(max_length=100)] = None,
    drug_class: Annotated[s.DrugClassIn | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
) -> s.PageOut[s.ProductOut]:
    found = catalog.list_products(
        uow=uow, actor=actor, page=PageRequest(page, page_size), q=q, drug_class=drug_class, category=category
    )
    return page_out(found, product_out)


@router.post("/products", response_model=s.ProductOut, status_code=status.HTTP_201_CREATED)
def create_product(body: s.ProductIn, uow: UowDep, actor: ActorDep) -> s.ProductOut:
    return product_out(catalog.create_product(uow=uow, actor=actor, data=body.model_dump()))


@router.get("/products/{product_id}", response_model=s.ProductOut)
def get_product(product_id: str, uow: UowDep, actor: ActorDep) -> s.ProductOut:
    return product_out(catalog.get_product(uow=uow, actor=actor, product_id=product_id))


@router.patch("/products/{product_id}", response_model=s.ProductOut)
def update_product(product_id: str, body: s.ProductPatch, uow: UowDep, actor: ActorDep) -> s.ProductOut:
    changes = body.model_dump(exclude_unset=True)
    expected = changes.pop("expected_version", None)
    return product_out(
        catalog.update_product(uow=uow, actor=actor, product_id=product_id, changes=changes, expected_version=expected)
    )


# Pharmacies -------------------------------------------------------------------------------------


@router.get("/pharmacies", response_model=s.PageOut[s.PharmacyOut])
def list_pharmacies(
    uow: UowDep,
    actor: ActorDep,
    page: PageNo = 1,
    page_size: PageSize = 50,
    city_id: Annotated[str | None, Query(max_length=40)] = None,
    district_code: Annotated[str | None, Query(max_length=20)] = None,
    open_24h: bool | None = None,
) -> s.PageOut[s.PharmacyOut]:
    found = catalog.list_pharmacies(
        uow=uow,
        actor=actor,
        page=PageRequest(page, page_size),
        city_id=city_id,
        district_code=district_code,
        open_24h=open_24h,
    )
    return page_out(found, pharmacy_out)


@router.post("/pharmacies", response_model=s.PharmacyOut, status_code=status.HTTP_201_CREATED)
def create_pharmacy(body: s.PharmacyIn, uow: UowDep, actor: ActorDep, container: ContainerDep) -> s.PharmacyOut:
    inp = catalog.PharmacyInput(
        city_id=body.city_id,
        name=body.name,
        brand=body.brand,
        address=body.address,
        location=LatLng(body.location.lat, body.location.lng),
        open_24h=body.open_24h,
        opens=_time(body.opens),
        closes=_time(body.closes),
        prep_minutes=body.prep_minutes,
        licence_no=body.licence_no,
        district_code=body.district_code,
        active=body.active,
    )
    return pharmacy_out(catalog.create_pharmacy(uow=uow, actor=actor, cities=container.cities, inp=inp))


@router.get("/pharmacies/{pharmacy_id}", response_model=s.PharmacyOut)
def get_pharmacy(pharmacy_id: str, uow: UowDep, actor: ActorDep) -> s.PharmacyOut:
    return pharmacy_out(catalog.get_pharmacy(uow=uow, actor=actor, pharmacy_id=pharmacy_id))


@router.patch("/pharmacies/{pharmacy_id}", response_model=s.PharmacyOut)
def update_pharmacy(
    pharmacy_id: str, body: s.PharmacyPatch, uow: UowDep, actor: ActorDep, container: ContainerDep
) -> s.PharmacyOut:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    expected = changes.pop("expected_version", None)
    if "location" in changes:
        changes["location"] = LatLng(changes["location"]["lat"], changes["location"]["lng"])
    for key in ("opens", "closes"):
        if key in changes:
            changes[key] = _time(changes[key])
    for key in [k for k, v in changes.items() if v is None and k != "district_code"]:
        del changes[key]  # null means "leave as it is" for required fields
    return pharmacy_out(
        catalog.update_pharmacy(
            uow=uow,
            actor=actor,
            cities=container.cities,
            pharmacy_id=pharmacy_id,
            changes=changes,
            expected_version=expected,
        )
    )


# Stock ------------------------------------------------------------------------------------------


@router.get("/pharmacies/{pharmacy_id}/stock", response_model=s.PageOut[s.StockOut])
def list_stock(
    pharmacy_id: str, uow: UowDep, actor: ActorDep, page: PageNo = 1, page_size: PageSize = 50
) -> s.PageOut[s.StockOut]:
    found = catalog.list_stock(uow=uow, actor=actor, pharmacy_id=pharmacy_id, page=PageRequest(page, page_size))
    return page_out(found, stock_out)


@router.get("/pharmacies/{pharmacy_id}/stock/{product_id}", response_model=s.StockOut)
def get_stock(pharmacy_id: str, product_id: str, uow: UowDep, actor: ActorDep) -> s.StockOut:
    return stock_out(catalog.get_stock(uow=uow, actor=actor, pharmacy_id=pharmacy_id, product_id=product_id))


@router.put("/pharmacies/{pharmacy_id}/stock/{product_id}", response_model=s.StockOut)
def set_stock(pharmacy_id: str, product_id: str, body: s.StockIn, uow: UowDep, actor: ActorDep) -> s.StockOut:
    return stock_out(
        catalog.set_stock(uow=uow, actor=actor, pharmacy_id=pharmacy_id, product_id=product_id, quantity=body.quantity)
    )


# Cities -----------------------------------------------------------------------------------------


def _city_out(container: ContainerDep, city_id: str) -> s.CityOut:
    city = container.cities.get(city_id)
    if city is None:
        raise NotFound(f"no city {city_id}")
    now = container.clock.now()
    window = city.window_at(now)
    return s.CityOut(
        id=city.id,
        name_zh=city.name_zh,
        name_en=city.name_en,
        timezone=city.timezone,
        datum=city.datum,
        windows=[
            {
                "name": w.name,
                "start": w.start.strftime("%H:%M"),
                "end": w.end.strftime("%H:%M"),
                "promise_minutes": w.promise_minutes,
            }
            for w in city.windows
        ],
        districts=[{"code": d.code, "name_zh": d.name_zh, "name_en": d.name_en} for d in city.districts],
        current_window=window.name,
        current_promise_minutes=window.promise_minutes,
    )


@router.get("/cities", response_model=s.PageOut[s.CityOut])
def list_cities(
    actor: ActorDep, container: ContainerDep, page: PageNo = 1, page_size: PageSize = 50
) -> s.PageOut[s.CityOut]:
    authorize(actor, Action.CITY_READ)
    ids = container.cities.ids()
    chunk = ids[(page - 1) * page_size : page * page_size]
    items = [_city_out(container, i) for i in chunk]
    return s.PageOut[s.CityOut](
        items=items, total=len(ids), page=page, page_size=page_size, pages=max(1, -(-len(ids) // page_size))
    )


@router.get("/cities/{city_id}", response_model=s.CityOut)
def get_city(city_id: str, actor: ActorDep, container: ContainerDep) -> s.CityOut:
    authorize(actor, Action.CITY_READ)
    return _city_out(container, city_id)


@router.post("/cities", response_model=s.CityOut, status_code=status.HTTP_201_CREATED)
def create_city(body: s.CityIn, uow: UowDep, actor: ActorDep, container: ContainerDep) -> s.CityOut:
    data = body.model_dump(exclude={"districts"})
    districts = body.districts or {"type": "FeatureCollection", "features": []}
    city = catalog.create_city(uow=uow, actor=actor, data=data, districts=districts)
    container.cities.forget(city.id)
    return _city_out(container, city.id)


# Users and audit --------------------------------------------------------------------------------


@router.post("/users", response_model=s.UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: s.UserCreateIn, uow: UowDep, actor: ActorDep, container: ContainerDep) -> s.UserOut:
    user = accounts.register_user(
        uow=uow,
        passwords=container.passwords,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        roles=frozenset(Role(r) for r in body.roles),
        pharmacy_id=body.pharmacy_id,
        city_id=body.city_id,
        actor=actor,
    )
    return user_out(user)


@router.get("/audit", response_model=s.PageOut[s.AuditOut])
def list_audit(
    uow: UowDep,
    actor: ActorDep,
    page: PageNo = 1,
    page_size: PageSize = 50,
    patient_id: Annotated[str | None, Query(max_length=40)] = None,
) -> s.PageOut[s.AuditOut]:
    found = accounts.list_audit(uow=uow, actor=actor, page=PageRequest(page, page_size), patient_id=patient_id)
    return page_out(
        found,
        lambda r: s.AuditOut(
            at=r.at,
            actor_id=r.actor_id,
            actor_roles=r.actor_roles,
            action=r.action,
            resource_type=r.resource_type,
            resource_id=r.resource_id,
            patient_id=r.patient_id,
            outcome=r.outcome,
        ),
    )
