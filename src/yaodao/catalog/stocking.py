"""A pure, seeded generator of realistic store assortments and stock levels.

Everyday OTC medicines (fever and pain, colds, digestion) are in almost every store; other OTC
products and devices in many; prescription drugs in fewer, chronic-disease ones more often than
the rest; cold-chain products only in stores with a pharmacy fridge. Flagship and 24-hour stores
carry more, small community stores less. Products that may not be sold online are still stocked:
the store sells them over the counter.

Every draw is a hash of (seed, pharmacy id, product id), not a step of one shared generator, so
the stock of one (store, product) pair does not change when other stores or products are added,
removed or reordered.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from yaodao.catalog.model import DrugClass, Pharmacy, Product, ProductKind, StockLevel
from yaodao.catalog.network import StoreFormat, is_cold_chain_capable, store_format
from yaodao.kernel.errors import ValidationFailed

ESSENTIAL_CATEGORIES = frozenset({"fever_pain", "cold_flu", "digestion"})
CHRONIC_CATEGORIES = frozenset({"hypertension", "diabetes", "lipids", "cardiovascular"})


@dataclass(frozen=True, slots=True)
class StockingParams:
    # Chance that a standard store carries a product of each kind.
    essential_otc: float = 0.95  # OTC for fever/pain, colds, digestion; the same in every format
    other_otc: float = 0.6
    device: float = 0.55
    rx_chronic: float = 0.45
    rx_other: float = 0.3
    cold_chain: float = 0.7  # among stores with a fridge
    # Format multipliers on the chances above (capped at max_carry).
    flagship_factor: float = 1.35
    community_factor: float = 0.7
    open_24h_factor: float = 1.15
    max_carry: float = 0.98
    # Quantities, in packs.
    out_of_stock: float = 0.08  # a carried product at zero right now
    mean_packs_essential: float = 14.0
    mean_packs_other: float = 6.0
    flagship_packs_factor: float = 1.5
    max_packs: int = 40

    def __post_init__(self) -> None:
        for name in ("essential_otc", "other_otc", "device", "rx_chronic", "rx_other", "cold_chain", "out_of_stock"):
            _require_share(name, getattr(self, name))
        _require_share("max_carry", self.max_carry)
        for name in ("flagship_factor", "community_factor", "open_24h_factor", "flagship_packs_factor"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 < value <= 10.0):
                raise ValidationFailed(f"{name}: must be a factor between 0 and 10", field=name)
        for name in ("mean_packs_essential", "mean_packs_other"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 1.0 <= value <= 1000.0):
                raise ValidationFailed(f"{name}: must be between 1 and 1000 packs", field=name)
        if not 1 <= self.max_packs <= 10_000:
            raise ValidationFailed("max_packs: must be between 1 and 10000", field="max_packs")


def _require_share(name: str, value: float) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValidationFailed(f"{name}: must be a share between 0 and 1", field=name)


def generate_stock(
    pharmacies: Iterable[Pharmacy], products: Sequence[Product], *, seed: int, params: StockingParams
) -> list[StockLevel]:
    """Stock levels for every (store, product) pair a store carries, in input order.

    A carried product gets a row even at quantity 0 (out of stock); one not carried gets none.
    Inactive (delisted) products are never stocked.
    """
    levels: list[StockLevel] = []
    for pharmacy in pharmacies:
        fmt = store_format(pharmacy)
        fridge = is_cold_chain_capable(pharmacy)
        for product in products:
            if not product.active or (product.cold_chain and not fridge):
                continue
            draw = _Draw(seed, pharmacy.id, product.id)
            if draw.unit("carry") >= carry_chance(product, fmt, pharmacy.open_24h, params):
                continue
            levels.append(StockLevel(pharmacy.id, product.id, _quantity(product, fmt, draw, params)))
    return levels


def carry_chance(product: Product, fmt: StoreFormat, open_24h: bool, params: StockingParams) -> float:
    """The chance that a store of this format carries ``product``, given it can keep it (a fridge for cold chain)."""
    if product.cold_chain:
        base = params.cold_chain
    elif _is_essential(product):
        return params.essential_otc  # every store keeps the basics, whatever its size
    elif product.kind is ProductKind.DEVICE:
        base = params.device
    elif product.drug_class is DrugClass.RX:
        base = params.rx_chronic if CHRONIC_CATEGORIES.intersection(product.categories) else params.rx_other
    else:
        base = params.other_otc
    factor = {
        StoreFormat.FLAGSHIP: params.flagship_factor,
        StoreFormat.COMMUNITY: params.community_factor,
    }.get(fmt, 1.0)
    if open_24h:
        factor *= params.open_24h_factor
    return min(params.max_carry, base * factor)


def _is_essential(product: Product) -> bool:
    return product.drug_class.is_otc and bool(ESSENTIAL_CATEGORIES.intersection(product.categories))


def _quantity(product: Product, fmt: StoreFormat, draw: _Draw, params: StockingParams) -> int:
    if draw.unit("out_of_stock") < params.out_of_stock:
        return 0
    mean = params.mean_packs_essential if _is_essential(product) else params.mean_packs_other
    if fmt is StoreFormat.FLAGSHIP:
        mean *= params.flagship_packs_factor
    # 1 + exponential: many stores hold a few packs, a few hold many.
    packs = 1 + math.floor(-(mean - 1.0) * math.log(1.0 - draw.unit("packs")))
    return min(params.max_packs, packs)


@dataclass(frozen=True, slots=True)
class _Draw:
    seed: int
    pharmacy_id: str
    product_id: str

    def unit(self, purpose: str) -> float:
        """A uniform number in [0, 1) that depends only on the seed, the pair and the purpose."""
        key = f"{self.seed}\x1f{self.pharmacy_id}\x1f{self.product_id}\x1f{purpose}".encode()
        digest = hashlib.blake2b(key, digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64
