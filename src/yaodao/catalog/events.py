"""Catalog events: what changed in products, pharmacies and stock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from yaodao.kernel.events import Event


@dataclass(frozen=True, kw_only=True)
class ProductSaved(Event):
    topic: ClassVar[str] = "catalog.product_saved"
    product_id: str
    online_sellable: bool


@dataclass(frozen=True, kw_only=True)
class PharmacySaved(Event):
    topic: ClassVar[str] = "catalog.pharmacy_saved"
    pharmacy_id: str
    active: bool


@dataclass(frozen=True, kw_only=True)
class StockChanged(Event):
    topic: ClassVar[str] = "catalog.stock_changed"
    pharmacy_id: str
    product_id: str
    available: int


@dataclass(frozen=True, kw_only=True)
class CitySaved(Event):
    topic: ClassVar[str] = "catalog.city_saved"
