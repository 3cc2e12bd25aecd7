"""The patient's cart: what they mean to buy, for themselves or a family member, before checkout.

A cart belongs to the signed-in account; who the order is for is chosen at checkout. The cart
refuses only what could never be sold online (prohibited, withdrawn, more packs than one order may
hold); whether an Rx line has a valid prescription, whether a pharmacy can deliver it now and
whether limits hold are checkout's questions, asked again at the moment of buying.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from yaodao.catalog.model import DrugClass, Product
from yaodao.kernel.errors import ValidationFailed

MAX_CART_LINES = 20  # the same as an order's
MAX_PACKS = 99


@dataclass(frozen=True, slots=True)
class CartItem:
    product_id: str
    quantity: int
    prescription_id: str | None
    added_at: datetime


@dataclass(frozen=True, slots=True)
class CartView:
    """A cart as the patient sees it: each line with its product, and what checkout will ask for."""

    items: tuple[tuple[CartItem, Product], ...]
    missing: tuple[str, ...]  # product ids no longer in the catalog: dropped from the view, kept for the record

    @property
    def subtotal_fen(self) -> int:
        return sum(item.quantity * product.price_fen for item, product in self.items)

    @property
    def needs_prescription(self) -> tuple[str, ...]:
        """Rx lines without a prescription attached: checkout will refuse them (DOMAIN S2)."""
        return tuple(
            product.id
            for item, product in self.items
            if product.drug_class is DrugClass.RX and not item.prescription_id
        )


def check_line(product: Product | None, quantity: object, *, product_id: str, lines_now: int, replacing: bool) -> int:
    """The packs to store for ``product``, or a ValidationFailed naming what is wrong."""
    if product is None or not product.active:
        raise ValidationFailed(f"product {product_id} is not in the catalog", field="product_id")
    if product.prohibited_reason is not None or not product.online_sellable:
        reason = product.prohibited_reason or "it is not sold online"
        raise ValidationFailed(f"{product.sku} cannot be bought online: {reason}", field="product_id")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_PACKS:
        raise ValidationFailed(f"quantity must be a whole number from 1 to {MAX_PACKS}", field="quantity")
    if quantity > product.max_per_order:
        raise ValidationFailed(f"{product.sku}: at most {product.max_per_order} packs per order", field="quantity")
    if not replacing and lines_now >= MAX_CART_LINES:
        raise ValidationFailed(f"a cart holds at most {MAX_CART_LINES} different products", field="product_id")
    return quantity


def view(items: Sequence[CartItem], products: Mapping[str, Product]) -> CartView:
    shown = tuple((item, products[item.product_id]) for item in items if item.product_id in products)
    missing = tuple(item.product_id for item in items if item.product_id not in products)
    return CartView(items=shown, missing=missing)
