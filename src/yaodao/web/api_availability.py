"""Nearby availability: which open pharmacies can deliver a basket here within the promise."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from yaodao.catalog.model import Pharmacy
from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import NotFound, ValidationFailed
from yaodao.kernel.geo import LatLng
from yaodao.search.availability import Offer
from yaodao.web import schemas as s
from yaodao.web.deps import ContainerDep

router = APIRouter(prefix="/api", tags=["availability"])


def parse_items(items: str) -> dict[str, int]:
    """'sku-a:2,sku-b' -> {'sku-a': 2, 'sku-b': 1}."""
    basket: dict[str, int] = {}
    for part in items.split(","):
        part = part.strip()
        if not part:
            continue
        sku, _, qty = part.partition(":")
        if not qty:
            qty = "1"
        if not sku or not qty.isdigit() or not 1 <= int(qty) <= 100:
            raise ValidationFailed(f"items: {part!r} must be SKU or SKU:packs with 1-100 packs", field="items")
        basket[sku] = basket.get(sku, 0) + int(qty)
    if not basket or len(basket) > 20:
        raise ValidationFailed("items: give 1 to 20 products as SKU:packs, comma-separated", field="items")
    return basket


def _offer_out(offer: Offer, pharmacy: Pharmacy | None) -> s.OfferOut:
    return s.OfferOut(
        pharmacy_id=offer.pharmacy_id,
        pharmacy_name=pharmacy.name if pharmacy else "",
        district_code=pharmacy.district_code if pharmacy else None,
        eta_minutes=offer.eta_minutes,
        distance_km=round(offer.distance_km, 2),
        open_24h=offer.open_24h,
        promise_minutes=offer.promise_minutes,
        within_promise=offer.within_promise,
        eta_basis=offer.eta_basis,
    )


@router.get("/availability", response_model=s.AvailabilityOut)
def availability(
    container: ContainerDep,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lng: Annotated[float, Query(ge=-180, le=180)],
    items: Annotated[str, Query(min_length=1, max_length=2000, description="SKU:packs, comma-separated")],
    city_id: Annotated[str, Query(max_length=40)] = "hangzhou",
    at: Annotated[datetime | None, Query(description="ISO time with offset; default now")] = None,
    within_minutes: Annotated[int | None, Query(ge=5, le=240, description="override the promise horizon")] = None,
) -> s.AvailabilityOut:
    """Open pharmacies that hold the whole basket and can deliver it within the city's promise."""
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise ValidationFailed("at: must include a timezone offset, e.g. 2026-11-25T14:00:00+08:00", field="at")
    when = require_aware(at) if at is not None else container.clock.now()
    index = container.availability.index(city_id)
    if index is None:
        raise NotFound(f"no city {city_id}", field="city_id")
    by_sku = parse_items(items)
    with container.uow(read_only=True) as uow:
        basket: dict[str, int] = {}
        for sku, qty in by_sku.items():
            product = uow.products.get_by_sku(sku)
            if product is None:
                raise ValidationFailed(f"items: unknown SKU {sku!r}", field="items")
            basket[product.id] = qty
        offers = index.query(LatLng(lat, lng), basket, when, promise_minutes=within_minutes)
        stores = {o.pharmacy_id: index.pharmacy(o.pharmacy_id) for o in offers}  # the index holds them
    window = index.city.window_at(when)
    return s.AvailabilityOut(
        city_id=city_id,
        at=when,
        window=window.name,
        promise_minutes=window.promise_minutes,
        basket=by_sku,
        offers=[_offer_out(o, stores.get(o.pharmacy_id)) for o in offers],
    )
