"""Cart use cases: see, change and empty the cart, fill it from a prescription, and check it out.

The cart is the signed-in account's; checking it out runs the same ``checkout`` as a direct order
(the safety gate, stock, limits and the promise are all asked then), and removes the lines that
went into the order. That removal is its own short transaction after the order's: if it is lost
(a crash in between), the patient sees the lines still in the cart, never an order without lines.
A cart no single pharmacy can deliver is checked out as a confirmed split
(``checkout_cart_split``): one order per part, all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from yaodao.accounts.model import AuditRecord
from yaodao.accounts.policy import Action, Actor, Scope, allowed, authorize
from yaodao.catalog.model import Product
from yaodao.kernel.errors import NotAuthenticated, NotFound, ValidationFailed
from yaodao.ordering import cart as rules
from yaodao.ordering.cart import CartView
from yaodao.ordering.model import Order
from yaodao.ordering.ports import OrderingUnitOfWork
from yaodao.ordering.prescriptions import Prescription
from yaodao.ordering.services import CheckoutLine, CheckoutRequest, OrderingContext, checkout
from yaodao.ordering.split_checkout import SplitPartRequest, checkout_split


def get_cart(*, uow: OrderingUnitOfWork, actor: Actor) -> CartView:
    user_id = _owner(actor)
    with uow:
        return _view(uow, user_id)


def set_line(
    *, uow: OrderingUnitOfWork, actor: Actor, product_id: str, quantity: int, prescription_id: str | None = None
) -> CartView:
    """Put ``quantity`` packs of the product in the cart (replacing what was there for it)."""
    user_id = _owner(actor)
    with uow:
        items = uow.carts.items(user_id)
        replacing = any(item.product_id == product_id for item in items)
        product = uow.products.get(product_id)
        packs = rules.check_line(product, quantity, product_id=product_id, lines_now=len(items), replacing=replacing)
        if prescription_id is not None:
            _own_prescription(uow, actor, user_id, prescription_id)
        uow.carts.put(user_id, product_id, packs, prescription_id, uow.clock.now())
        shown = _view(uow, user_id)
        uow.commit()
        return shown


def remove_line(*, uow: OrderingUnitOfWork, actor: Actor, product_id: str) -> CartView:
    user_id = _owner(actor)
    with uow:
        if not uow.carts.remove(user_id, [product_id]):
            raise NotFound(f"product {product_id} is not in your cart", field="product_id")
        shown = _view(uow, user_id)
        uow.commit()
        return shown


def clear_cart(*, uow: OrderingUnitOfWork, actor: Actor) -> None:
    user_id = _owner(actor)
    with uow:
        uow.carts.remove(user_id, [item.product_id for item in uow.carts.items(user_id)])
        uow.commit()


def cart_from_prescription(*, uow: OrderingUnitOfWork, actor: Actor, rx_id: str) -> CartView:
    """One step from an e-prescription to a cart: each prescribed drug with its packs and the prescription.

    A drug the prescription names by product is taken as named; one named only by its generic takes
    the cheapest sellable product with that generic and dosage form. A prescription that can no
    longer be filled (expired, used) is refused here, before the patient shops.
    """
    user_id = _owner(actor)
    with uow:
        rx = _own_prescription(uow, actor, user_id, rx_id)
        now = uow.clock.now()
        if not rx.is_valid_at(now) or rx.fills_left <= 0:
            raise ValidationFailed(f"prescription {rx_id} is expired or already used", field="prescription_id")
        catalog: list[Product] | None = None
        chosen: list[tuple[Product, int]] = []
        for n, item in enumerate(rx.items):
            product = uow.products.get(item.product_id) if item.product_id else None
            if product is None or not product.active:
                catalog = catalog if catalog is not None else uow.products.all()
                candidates = [p for p in catalog if p.active and p.online_sellable and item.matches(p)]
                if not candidates:
                    raise NotFound(f"no product in the catalog matches {item.drug}", field=f"items[{n}]")
                product = min(candidates, key=lambda p: (p.price_fen, p.sku))
            chosen.append((product, item.quantity_packs))
        items = uow.carts.items(user_id)
        in_cart = {item.product_id for item in items}
        for product, packs in chosen:
            lines_now = len(in_cart)
            rules.check_line(
                product, packs, product_id=product.id, lines_now=lines_now, replacing=product.id in in_cart
            )
            uow.carts.put(user_id, product.id, packs, rx.id, now)
            in_cart.add(product.id)
        shown = _view(uow, user_id)
        uow.commit()
        return shown


def checkout_cart(
    *,
    uow_factory: Callable[[], OrderingUnitOfWork],
    actor: Actor,
    request: CheckoutRequest,
    ctx: OrderingContext,
) -> Order:
    """Check out everything in the cart with ``request``'s patient, address and fulfilment."""
    user_id = _owner(actor)
    with uow_factory() as uow:
        items = uow.carts.items(user_id)
    if not items:
        raise ValidationFailed("your cart is empty", field="cart")
    lines = tuple(CheckoutLine(item.product_id, item.quantity, item.prescription_id) for item in items)
    order = checkout(uow=uow_factory(), actor=actor, request=replace(request, lines=lines), ctx=ctx)
    with uow_factory() as uow:
        uow.carts.remove(user_id, [line.product_id for line in order.lines])
        uow.commit()
    return order


def checkout_cart_split(
    *,
    uow_factory: Callable[[], OrderingUnitOfWork],
    actor: Actor,
    request: CheckoutRequest,
    parts: tuple[SplitPartRequest, ...],
    ctx: OrderingContext,
) -> list[Order]:
    """Check out the cart as a confirmed split: the parts together hold exactly the cart's lines.

    A part's line without a prescription takes the one its cart line carries.
    """
    user_id = _owner(actor)
    with uow_factory() as uow:
        items = {item.product_id: item for item in uow.carts.items(user_id)}
    if not items:
        raise ValidationFailed("your cart is empty", field="cart")
    named = sorted((line.product_id, line.quantity) for part in parts for line in part.lines)
    if named != sorted((item.product_id, item.quantity) for item in items.values()):
        raise ValidationFailed("the parts of the split must hold exactly the lines of your cart", field="split")
    filled = tuple(
        replace(part, lines=tuple(
            replace(line, prescription_id=line.prescription_id or items[line.product_id].prescription_id)
            for line in part.lines
        ))
        for part in parts
    )  # fmt: skip
    orders = checkout_split(uow=uow_factory(), actor=actor, request=request, parts=filled, ctx=ctx)
    with uow_factory() as uow:
        uow.carts.remove(user_id, [line.product_id for order in orders for line in order.lines])
        uow.commit()
    return orders


def _owner(actor: Actor) -> str:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    authorize(actor, Action.ORDER_PLACE, Scope(owner_id=actor.user_id))
    return actor.user_id


def _view(uow: OrderingUnitOfWork, user_id: str) -> CartView:
    items = uow.carts.items(user_id)
    products = {item.product_id: p for item in items if (p := uow.products.get(item.product_id)) and p.active}
    return rules.view(items, products)


def _own_prescription(uow: OrderingUnitOfWork, actor: Actor, user_id: str, rx_id: str) -> Prescription:
    """The prescription if it is the account's own or a family member's; anything else is 404."""
    rx = uow.prescriptions.get(rx_id)
    owner = None
    if rx is not None:
        member = uow.family.get(rx.patient_id)
        owner = member.owner_id if member is not None else rx.patient_id
    if rx is None or owner != user_id or not allowed(actor, Action.PRESCRIPTION_READ, Scope(owner_id=owner)):
        raise NotFound(f"prescription {rx_id} not found", field="prescription_id")
    record = AuditRecord(
        at=uow.clock.now(), actor_id=actor.user_id, actor_roles=actor.roles_text, action="read",
        resource_type="prescription", resource_id=rx.id, patient_id=rx.patient_id, outcome="ok",
        request_id=actor.request_id, ip=actor.ip,
    )  # fmt: skip
    uow.audit(record)
    return rx
