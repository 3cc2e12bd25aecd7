"""The search box's landing page (server-rendered) and the JSON behind it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from shapely import Polygon

from yaodao.kernel.city import City
from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import NotFound, ValidationFailed
from yaodao.kernel.geo import LatLng
from yaodao.kernel.money import format_yuan
from yaodao.search.landing import LandingPage, ProductCard
from yaodao.web import schemas as s
from yaodao.web.deps import ContainerDep

router = APIRouter(tags=["search"])
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["yuan"] = format_yuan

MAX_QUERY = 200  # longer input is cut (the analyser reads 200 characters), never refused
EMERGENCY_ADVICE = (
    "这可能是急症：请立即拨打 120，或去最近的急诊。不要等待线上问诊。"
    " This may be an emergency: call 120 now or go to the nearest emergency department. Do not wait for an online chat."
)

Q = Annotated[str, Query(max_length=20_000, description="what the person typed; any text")]
Lat = Annotated[float | None, Query(ge=-90, le=90)]
Lng = Annotated[float | None, Query(ge=-180, le=180)]


def district_points(city: City) -> list[tuple[str, str, float, float]]:
    """(code, name, lat, lng) of a point inside each district, densest first: the address picker."""
    out = []
    for d in sorted(city.districts, key=lambda d: -d.weight / max(Polygon(d.rings[0]).area, 1e-9)):
        inside = Polygon(d.rings[0]).representative_point()  # guaranteed inside, unlike a centroid
        out.append((d.code, f"{d.name_zh} {d.name_en}", round(inside.y, 6), round(inside.x, 6)))
    return out


def _resolve(container: ContainerDep, city_id: str, lat: float | None, lng: float | None) -> tuple[City, LatLng]:
    city = container.cities.get(city_id)
    if city is None:
        raise NotFound(f"no city {city_id}", field="city_id")
    if (lat is None) != (lng is None):
        raise ValidationFailed("lat and lng go together: give both or neither", field="lat" if lat is None else "lng")
    if lat is not None and lng is not None:
        return city, LatLng(lat, lng)
    points = district_points(city)
    if not points:
        raise ValidationFailed("this city has no districts to default to; give lat and lng", field="lat")
    return city, LatLng(points[0][2], points[0][3])


def _search(container: ContainerDep, q: str, city: City, address: LatLng, at: datetime | None) -> LandingPage:
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise ValidationFailed("at: must include a timezone offset, e.g. 2026-11-25T14:00:00+08:00", field="at")
    when = require_aware(at) if at is not None else container.clock.now()
    return container.search.search(q[:MAX_QUERY], city=city, address=address, at=when)


def _card_out(card: ProductCard) -> s.ProductCardOut:
    return s.ProductCardOut(
        product_id=card.product_id,
        sku=card.sku,
        name_zh=card.name_zh,
        name_en=card.name_en,
        brand_zh=card.brand_zh,
        pack_text_zh=card.pack_text_zh,
        drug_class=card.drug_class,
        badge=card.badge,
        price_fen=card.price_fen,
        generic_names=list(card.inns),
        adult_only=card.adult_only,
        eta_minutes=card.eta_minutes,
        pharmacy_id=card.pharmacy_id,
        pharmacy_name=card.pharmacy_name,
        open_24h=card.open_24h,
        within_promise=card.within_promise,
        eta_basis=card.eta_basis,
    )


def page_out(page: LandingPage) -> s.SearchOut:
    emergency = (
        s.EmergencyOut(
            red_flags=list(page.emergency.codes),
            call=page.emergency.call,
            crisis_line=page.emergency.crisis_line,
            advice=EMERGENCY_ADVICE,
        )
        if page.emergency
        else None
    )
    return s.SearchOut(
        query=page.query,
        normalized=page.normalized,
        intent=page.intent,  # type: ignore[arg-type]
        confidence=round(page.confidence, 3),
        entities=page.entities,
        city_id=page.city_id,
        window=page.window,
        promise_minutes=page.promise_minutes,
        local_time=page.local_time,
        emergency=emergency,
        outside_service_area=page.outside_service_area,
        deliverable=[_card_out(c) for c in page.deliverable],
        later=[_card_out(c) for c in page.later],
        prescription=[_card_out(c) for c in page.prescription],
        not_nearby=page.not_nearby,
        ask_doctor=page.ask_doctor,
        message=page.message,
    )


@router.get("/api/search", response_model=s.SearchOut)
def search_api(
    container: ContainerDep,
    q: Q = "",
    lat: Lat = None,
    lng: Lng = None,
    city_id: Annotated[str, Query(max_length=40)] = "hangzhou",
    at: Annotated[datetime | None, Query(description="ISO time with offset; default now")] = None,
) -> s.SearchOut:
    """Medical-intent search: the landing page's data for what the person typed, at an address and time."""
    city, address = _resolve(container, city_id, lat, lng)
    return page_out(_search(container, q, city, address, at))


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(
    request: Request,
    container: ContainerDep,
    q: Q = "",
    lat: Lat = None,
    lng: Lng = None,
    district: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    city_id = container.settings.default_city
    points = []
    city = container.cities.get(city_id)
    if city is not None:
        points = district_points(city)
        if lat is None and lng is None and district:
            chosen = next((p for p in points if p[0] == district), None)
            if chosen:
                lat, lng = chosen[2], chosen[3]
    city, address = _resolve(container, city_id, lat, lng)
    page = _search(container, q, city, address, None)
    return templates.TemplateResponse(
        request,
        "search.html",
        {
            "page": page,
            "q": q[:MAX_QUERY],
            "districts": points,
            "district": district,
            "lat": address.lat,
            "lng": address.lng,
            "advice": EMERGENCY_ADVICE,
        },
    )
