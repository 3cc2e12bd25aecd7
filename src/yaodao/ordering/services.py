"""Checkout and the order's life at the pharmacy: the use cases behind the orders API.

Checkout runs in one transaction: the safety gate (DOMAIN S2-S8, DDI), the pharmacy that can
deliver the whole basket within the promise now, the stock held for it (all or nothing), one fill
of each prescription, the restricted-ingredient counters of the buyer's real-name identity, the
price, and the order itself. Any refusal rolls every part back. Every guard that concurrency could
beat is a conditional statement in the repositories (see ``adapters/db/orders_repo.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from yaodao.accounts.model import AuditRecord
from yaodao.accounts.policy import Action, Actor, Scope, allowed, authorize
from yaodao.care.services import signature_problems
from yaodao.catalog.events import StockChanged
from yaodao.catalog.model import Pharmacy, Product
from yaodao.kernel.city import City
from yaodao.kernel.errors import Conflict, NotAuthenticated, NotFound, ValidationFailed
from yaodao.kernel.geo import LatLng
from yaodao.kernel.ids import new_id
from yaodao.kernel.paging import Page, PageRequest
from yaodao.ordering.gate import (
    CHINA,
    CartLine,
    GateDecision,
    GateRules,
    OrderBlocked,
    Patient,
    check_order,
    order_lines,
)
from yaodao.ordering.interactions import InteractionSource
from yaodao.ordering.limits import LimitRule, LimitsState, Usage, counter_keys
from yaodao.ordering.model import PAYMENT_WINDOW, ActorRole, AddressSnapshot, Fulfilment, Order, OrderStatus
from yaodao.ordering.ports import OrderingUnitOfWork
from yaodao.ordering.prescriptions import Finding, Review
from yaodao.ordering.pricing import PricingRules, quote
from yaodao.ordering.split import LineOffer, SplitNeeded, find_split
from yaodao.search.availability import AvailabilityIndex, Offer

MAX_LINES = 20


class NotDeliverable(Conflict):
    code = "not_deliverable"


@dataclass(frozen=True, slots=True)
class CheckoutLine:
    product_id: str
    quantity: int
    prescription_id: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    lines: tuple[CheckoutLine, ...]
    fulfilment: Fulfilment = Fulfilment.DELIVERY
    patient_id: str | None = None  # None: the buyer; else one of the buyer's family members
    address_id: str | None = None  # a saved address, or:
    location: LatLng | None = None
    address_text: str = ""
    pharmacy_id: str | None = None  # required for pickup; for delivery a choice among those that can
    rx_risk_acknowledged: bool = False  # S3: the buyer saw the Rx risk notice and confirmed


@dataclass(frozen=True, slots=True)
class OrderingPolicy:
    pricing: PricingRules = field(default_factory=PricingRules)
    gate: GateRules = CHINA
    payment_window: timedelta = PAYMENT_WINDOW
    insurance_eligible: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class OrderingContext:
    """What checkout needs besides the database: the city, its live availability, the interaction source."""

    city: City
    availability: AvailabilityIndex
    interactions: InteractionSource
    policy: OrderingPolicy = field(default_factory=OrderingPolicy)


def checkout(*, uow: OrderingUnitOfWork, actor: Actor, request: CheckoutRequest, ctx: OrderingContext) -> Order:
    """Create an order awaiting payment, or refuse with a 4xx that names what is wrong.

    When no single pharmacy can deliver the whole basket within the promise now (and the buyer named
    none), up to three together may: then the refusal is ``SplitNeeded`` (409 ``split_needed``) whose
    ``extra["split"]`` proposes the parts (split.py); ``split_checkout.checkout_split`` confirms them
    as one order per part, each paid on its own. Otherwise it is ``NotDeliverable``.
    """
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    check_request(request)
    with uow:
        authorize(actor, Action.ORDER_PLACE, Scope(owner_id=actor.user_id))
        order = place_order(uow, actor, request, ctx, uow.clock.now())
        uow.commit()
        return order


def place_order(
    uow: OrderingUnitOfWork, actor: Actor, request: CheckoutRequest, ctx: OrderingContext, now: datetime,
    extra_holds: Sequence[Finding] = (),
) -> Order:  # fmt: skip
    """Checkout's work inside the caller's open transaction (the caller checked the request and commits).

    ``extra_holds``: findings of a wider basket (a split's) this order must also be reviewed for.
    """
    assert actor.user_id is not None
    products, patient, lines, decision = gate_blocks(uow, actor, request, ctx, now)
    holds = decision.holds + tuple(h for h in extra_holds if h not in decision.holds)
    rules = ctx.policy.gate
    address = _address(uow, actor.user_id, request, ctx.city)
    pharmacy, offer = _choose_pharmacy(uow, request, address, products, ctx, now)
    basket = [(line.product_id, line.quantity) for line in request.lines]
    left = uow.reservations.reserve(pharmacy.id, basket, now)
    for product_id, available in left.items():
        uow.emit(StockChanged(pharmacy_id=pharmacy.id, product_id=product_id, available=available, city_id=ctx.city.id))
    for rx_id in decision.prescription_ids:
        if not uow.prescriptions.fill(rx_id, now):
            raise Conflict(f"prescription {rx_id} has just been used or has expired", field="prescription_id")
    if patient.identity_key is not None:
        _record_usage(uow, patient.identity_key, decision.usage, rules, now)
    order_lines_ = order_lines(lines)
    price = quote(
        order_lines_, ctx.policy.pricing, ctx.city.window_at(now).name == "night",
        insurance_eligible=ctx.policy.insurance_eligible, pickup=request.fulfilment is Fulfilment.PICKUP,
    )  # fmt: skip
    order = Order.create(
        id=new_id(), city_id=ctx.city.id, user_id=actor.user_id, patient_id=patient.id, pharmacy_id=pharmacy.id,
        lines=order_lines_, price=price, fulfilment=request.fulfilment, address=address,
        promise_minutes=ctx.city.promise_minutes(now), quoted_eta_minutes=offer.eta_minutes, at=now,
        holds=holds, payment_window=ctx.policy.payment_window,
    )  # fmt: skip
    order.submit_for_payment(now)
    uow.orders.add(
        order, gate=_gate_record(decision, patient.identity_key, rules.timezone),
        risk_acknowledged_at=now if request.rx_risk_acknowledged else None, now=now,
    )  # fmt: skip
    _emit(uow, order)
    _audit(uow, actor, "create", order)
    return order


def gate_blocks(
    uow: OrderingUnitOfWork, actor: Actor, request: CheckoutRequest, ctx: OrderingContext, now: datetime
) -> tuple[dict[str, Product], Patient, list[CartLine], GateDecision]:
    """The safety gate for ``request`` (raises its blocks); writes nothing."""
    assert actor.user_id is not None
    products = _products(uow, request.lines)
    patient = _patient(uow, actor.user_id, request.patient_id, ctx.city, now)
    lines = [CartLine(products[line.product_id], line.quantity, line.prescription_id) for line in request.lines]
    rx_ids = sorted({line.prescription_id for line in request.lines if line.prescription_id})
    prescriptions = uow.prescriptions.get_many(rx_ids)
    untrusted = [p for rx in prescriptions.values() for p in signature_problems(uow, rx)]
    if untrusted:
        raise OrderBlocked(untrusted)  # D2/D3: a forged, altered or unverified prescription dispenses nothing
    rules = ctx.policy.gate
    state = _limits_state(uow, patient.identity_key, rules, now)
    decision = check_order(
        lines, patient, prescriptions, state, ctx.interactions, now, request.fulfilment, rules,
        risk_acknowledged=request.rx_risk_acknowledged,
    )  # fmt: skip
    decision.raise_for_blocks()
    return products, patient, lines, decision


def get_order(*, uow: OrderingUnitOfWork, actor: Actor, order_id: str) -> Order:
    with uow:
        order = _readable(uow, actor, order_id)
        _audit(uow, actor, "read", order)
        uow.commit()
        return order


def list_my_orders(*, uow: OrderingUnitOfWork, actor: Actor, page: PageRequest) -> Page[Order]:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        authorize(actor, Action.ORDER_READ, Scope(owner_id=actor.user_id))
        result = uow.orders.list_for_user(actor.user_id, page)
        uow.audit(_record(uow, actor, "search", "order", None, actor.user_id))
        uow.commit()
        return result


def pharmacy_queue(
    *, uow: OrderingUnitOfWork, actor: Actor, pharmacy_id: str, statuses: Sequence[OrderStatus], page: PageRequest
) -> Page[Order]:
    with uow:
        pharmacy = uow.pharmacies.get(pharmacy_id)
        if pharmacy is None:
            raise NotFound(f"pharmacy {pharmacy_id} not found", field="pharmacy_id")
        authorize(actor, Action.ORDER_READ, Scope(pharmacy_id=pharmacy_id, city_id=pharmacy.city_id))
        result = uow.orders.list_for_pharmacy(pharmacy_id, statuses, page)
        uow.audit(_record(uow, actor, "search", "order", pharmacy_id, None))
        uow.commit()
        return result


def cancel_order(*, uow: OrderingUnitOfWork, actor: Actor, order_id: str, reason: str) -> Order:
    """The buyer (or an operator) cancels; stock, fills and counters go back. A paid order needs a refund."""
    with uow:
        order = _readable(uow, actor, order_id)
        authorize(actor, Action.ORDER_CANCEL, Scope(owner_id=order.user_id, city_id=order.city_id))
        role = ActorRole.PATIENT if actor.user_id == order.user_id else ActorRole.OPERATOR
        before = order.version
        order.cancel(uow.clock.now(), role, reason)
        _let_go(uow, order)
        uow.orders.save(order, before, uow.clock.now())
        _emit(uow, order)
        _audit(uow, actor, "update", order)
        uow.commit()
        return order


def expire_unpaid(*, uow_factory: Any, limit: int = 100) -> int:
    """Cancel orders whose payment window has passed (one transaction each); returns how many."""
    with uow_factory() as uow:
        ids = uow.orders.expired_unpaid(uow.clock.now(), limit)
    done = 0
    for order_id in ids:
        with uow_factory() as uow:
            order = uow.orders.get(order_id)
            now = uow.clock.now()
            if order is None or order.status not in (OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT):
                continue
            before = order.version
            order.expire(now)
            _let_go(uow, order)
            uow.orders.save(order, before, now)
            _emit(uow, order)
            uow.commit()
            done += 1
    return done


def review_order(*, uow: OrderingUnitOfWork, actor: Actor, order_id: str, review: Review) -> Order:
    """A pharmacist of the order's pharmacy approves or rejects it (S2, S8, DDI1)."""
    with uow:
        order = _get(uow, order_id)
        authorize(actor, Action.ORDER_REVIEW, Scope(pharmacy_id=order.pharmacy_id))
        if review.pharmacist_id != actor.user_id:
            raise ValidationFailed("a review is signed by the pharmacist who makes it", field="pharmacist_id")
        before = order.version
        order.apply_review(review)
        uow.orders.save(order, before, uow.clock.now())
        _emit(uow, order)
        _audit(uow, actor, "update", order)
        uow.commit()
        return order


FULFILMENT_STEPS = ("accept", "start_picking", "mark_ready")


def advance_order(*, uow: OrderingUnitOfWork, actor: Actor, order_id: str, step: str) -> Order:
    """The pharmacy moves its order on: accept (stock leaves the shelf), start picking, ready for pickup."""
    if step not in FULFILMENT_STEPS:
        raise ValidationFailed(f"step must be one of {', '.join(FULFILMENT_STEPS)}", field="step")
    with uow:
        order = _get(uow, order_id)
        authorize(actor, Action.ORDER_FULFIL, Scope(pharmacy_id=order.pharmacy_id))
        now = uow.clock.now()
        role = ActorRole.PHARMACIST if any(r.value == "pharmacist" for r in actor.roles) else ActorRole.STORE_STAFF
        before = order.version
        getattr(order, step)(now, role)
        if step == "accept" and uow.orders.move_stock_state(order.id, "reserved", "consumed"):
            uow.reservations.consume(order.pharmacy_id, [(li.product_id, li.quantity) for li in order.lines], now)
        uow.orders.save(order, before, now)
        _emit(uow, order)
        _audit(uow, actor, "update", order)
        uow.commit()
        return order


# Helpers ---------------------------------------------------------------------------------------


def check_request(request: CheckoutRequest) -> None:
    if not request.lines:
        raise ValidationFailed("an order needs at least one line", field="lines")
    if len(request.lines) > MAX_LINES:
        raise ValidationFailed(f"an order holds at most {MAX_LINES} lines", field="lines")
    seen: set[str] = set()
    for n, line in enumerate(request.lines):
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int) or not 1 <= line.quantity <= 99:
            raise ValidationFailed(
                "quantity must be a whole number of packs from 1 to 99", field=f"lines[{n}].quantity"
            )
        if line.product_id in seen:
            raise ValidationFailed(f"product {line.product_id} appears twice", field=f"lines[{n}].product_id")
        seen.add(line.product_id)
    if request.fulfilment is Fulfilment.PICKUP and not request.pharmacy_id:
        raise ValidationFailed("a pickup order names its pharmacy", field="pharmacy_id")
    if request.fulfilment is Fulfilment.DELIVERY and request.address_id is None and request.location is None:
        raise ValidationFailed("a delivery order needs address_id or a location", field="address")


def _products(uow: OrderingUnitOfWork, lines: Sequence[CheckoutLine]) -> dict[str, Product]:
    products: dict[str, Product] = {}
    for n, line in enumerate(lines):
        product = uow.products.get(line.product_id)
        if product is None or not product.active:
            raise NotFound(f"product {line.product_id} is not in the catalog", field=f"lines[{n}].product_id")
        products[product.id] = product
    return products


def _patient(uow: OrderingUnitOfWork, user_id: str, patient_id: str | None, city: City, now: datetime) -> Patient:
    user = uow.users.get(user_id)
    if user is None:
        raise NotAuthenticated("sign in first")
    today = city.local(now).date()
    if patient_id is None or patient_id == user_id:
        return Patient(
            id=user.id, age_years=age_on(user.date_of_birth, today), sex=user.sex, allergies=user.allergies,
            current_medicines=user.current_medicines, identity_key=user.id_number_hash,
        )  # fmt: skip
    member = uow.family.get(patient_id)
    if member is None or member.owner_id != user_id:
        raise NotFound(f"family member {patient_id} not found", field="patient_id")
    return Patient(
        id=member.id, age_years=age_on(member.date_of_birth, today), sex=member.sex, allergies=member.allergies,
        current_medicines=member.current_medicines, identity_key=user.id_number_hash,
    )  # fmt: skip


def age_on(born: date | None, today: date) -> int | None:
    """Whole years of age on ``today`` (None when the date of birth is unknown)."""
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _limits_state(uow: OrderingUnitOfWork, identity_key: str | None, rules: GateRules, now: datetime) -> LimitsState:
    if identity_key is None:
        return LimitsState()
    used: dict[str, Usage] = {}
    for rule in rules.limits:
        keys = counter_keys(identity_key, rule, now, rules.tz)
        rows = uow.restricted.read(identity_key, [(k.counter, k.window_start) for k in keys])
        values = [rows.get((k.counter, k.window_start), (0, 0)) for k in keys]
        used[rule.counter] = Usage(max(v[0] for v in values), max(v[1] for v in values))
    return LimitsState(used)


def _record_usage(
    uow: OrderingUnitOfWork, identity_key: str, needed: Mapping[LimitRule, Usage], rules: GateRules, now: datetime
) -> None:
    keys = sorted(
        (
            (key, rule, usage)
            for rule, usage in needed.items()
            for key in counter_keys(identity_key, rule, now, rules.tz)
        ),
        key=lambda item: (item[0].counter, item[0].window_start),
    )
    for key, rule, usage in keys:
        if not uow.restricted.add(
            identity_key, key.counter, key.window_start, usage.packs, usage.mg,
            max_packs=rule.max_units_per_window, max_mg=rule.max_amount_mg_per_window,
        ):  # fmt: skip
            raise ValidationFailed(
                f"this would pass the limit on {rule.ingredient} for your real-name identity "
                f"({rule.window_days}-day window)",
                field="lines",
            )


def _gate_record(decision: GateDecision, identity_key: str | None, timezone: str) -> dict[str, Any]:
    """What the order keeps of its gate decision: enough to give counters back and to explain it."""
    return {
        "rules_version": decision.rules_version,
        "source": decision.source,
        "checked_at": decision.checked_at.isoformat() if decision.checked_at else None,
        "prescription_ids": list(decision.prescription_ids),
        "identity_key": identity_key,
        "timezone": timezone,
        "usage": [
            {"counter": rule.counter, "window_days": rule.window_days, "packs": u.packs, "mg": u.mg}
            for rule, u in decision.usage.items()
        ],
    }


def _address(uow: OrderingUnitOfWork, user_id: str, request: CheckoutRequest, city: City) -> AddressSnapshot | None:
    if request.fulfilment is Fulfilment.PICKUP:
        return None
    if request.address_id is not None:
        saved = next((a for a in uow.addresses.of_user(user_id) if a.id == request.address_id), None)
        if saved is None:
            raise NotFound(f"address {request.address_id} not found", field="address_id")
        return AddressSnapshot(saved.location.lat, saved.location.lng, saved.text)
    assert request.location is not None
    if not city.contains(request.location):
        raise ValidationFailed(f"the address is outside the service area of {city.name_en}", field="location")
    return AddressSnapshot(request.location.lat, request.location.lng, request.address_text.strip()[:300])


def _choose_pharmacy(
    uow: OrderingUnitOfWork,
    request: CheckoutRequest,
    address: AddressSnapshot | None,
    products: dict[str, Product],
    ctx: OrderingContext,
    now: datetime,
) -> tuple[Pharmacy, Offer]:
    basket = {line.product_id: line.quantity for line in request.lines}
    if address is None:  # pickup: the named pharmacy, open now, holding the basket
        assert request.pharmacy_id is not None
        pharmacy = uow.pharmacies.get(request.pharmacy_id)
        if pharmacy is None or pharmacy.city_id != ctx.city.id:
            raise NotFound(f"pharmacy {request.pharmacy_id} not found", field="pharmacy_id")
        if not pharmacy.is_open_at(ctx.city.local(now).time()):
            raise NotDeliverable(f"{pharmacy.name} is closed now", field="pharmacy_id")
        promise = ctx.city.promise_minutes(now)
        eta = max(1, pharmacy.prep_minutes)
        return pharmacy, Offer(pharmacy.id, eta, 0.0, pharmacy.open_24h, promise, eta <= promise)
    offers = ctx.availability.query(address.location, basket, now)
    if request.pharmacy_id is not None:
        offers = [o for o in offers if o.pharmacy_id == request.pharmacy_id]
    if not offers:
        if request.pharmacy_id is None and len(request.lines) > 1:
            _propose_split(uow, request, address, products, ctx, now)
        names = ", ".join(sorted(p.generic_name_zh for p in products.values()))
        raise NotDeliverable(
            f"no single pharmacy can deliver all of {names} here within {ctx.city.promise_minutes(now)} minutes now",
            field="lines",
        )
    offer = offers[0]
    pharmacy = uow.pharmacies.get(offer.pharmacy_id)
    if pharmacy is None:
        raise NotDeliverable("the pharmacy that could deliver has just left the platform", field="pharmacy_id")
    return pharmacy, offer


def _propose_split(
    uow: OrderingUnitOfWork,
    request: CheckoutRequest,
    address: AddressSnapshot,
    products: dict[str, Product],
    ctx: OrderingContext,
    now: datetime,
) -> None:
    """Raise SplitNeeded with the best split of the basket (split.py), if there is one."""
    quantities = {line.product_id: line.quantity for line in request.lines}
    where = address.location
    offers = {
        pid: [LineOffer(o.pharmacy_id, o.eta_minutes) for o in ctx.availability.query(where, {pid: n}, now)]
        for pid, n in quantities.items()
    }

    def recheck(pharmacy_id: str, product_ids: tuple[str, ...]) -> int | None:
        found = ctx.availability.query(where, {pid: quantities[pid] for pid in product_ids}, now)
        return next((o.eta_minutes for o in found if o.pharmacy_id == pharmacy_id), None)

    parts = find_split(list(quantities), offers, recheck)
    if parts is None:
        return
    night = ctx.city.window_at(now).name == "night"
    proposal = []
    for part in parts:
        pharmacy = uow.pharmacies.get(part.pharmacy_id)
        part_lines = [CartLine(products[pid], quantities[pid]) for pid in part.product_ids]
        fee = quote(order_lines(part_lines), ctx.policy.pricing, night)

        proposal.append({
            "pharmacy_id": part.pharmacy_id, "pharmacy_name": pharmacy.name if pharmacy else "",
            "lines": [{"product_id": pid, "quantity": quantities[pid]} for pid in part.product_ids],
            "eta_minutes": part.eta_minutes, "delivery_fee_fen": fee.delivery_fee_fen,
        })  # fmt: skip
    raise SplitNeeded(
        f"no single pharmacy can deliver the whole basket within {ctx.city.promise_minutes(now)} minutes now; "
        f"{len(parts)} pharmacies together can: confirm the split to order it",
        field="lines", extra={"split": proposal},
    )  # fmt: skip


def _let_go(uow: OrderingUnitOfWork, order: Order) -> None:
    """Give back what an unfulfilled order held: stock (once), prescription fills, limit counters."""
    now = uow.clock.now()
    if uow.orders.move_stock_state(order.id, "reserved", "released"):
        left = uow.reservations.release(order.pharmacy_id, [(li.product_id, li.quantity) for li in order.lines], now)
        for product_id, available in left.items():
            uow.emit(
                StockChanged(
                    pharmacy_id=order.pharmacy_id, product_id=product_id, available=available, city_id=order.city_id
                )
            )
        gate = uow.orders.gate(order.id)
        for rx_id in gate.get("prescription_ids", []):
            uow.prescriptions.unfill(rx_id)
        identity_key = gate.get("identity_key")
        checked_at = gate.get("checked_at")
        if identity_key and checked_at:
            at = datetime.fromisoformat(checked_at)
            for usage in gate.get("usage", []):
                day = at.astimezone(ZoneInfo(gate.get("timezone", CHINA.timezone))).date()
                for back in range(usage["window_days"]):
                    uow.restricted.subtract(
                        identity_key, usage["counter"], day - timedelta(days=back), usage["packs"], usage["mg"]
                    )


def _get(uow: OrderingUnitOfWork, order_id: str) -> Order:
    order = uow.orders.get(order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found", field="order_id")
    return order


def _readable(uow: OrderingUnitOfWork, actor: Actor, order_id: str) -> Order:
    """The order if the actor may read it; someone else's order answers 404, like a missing one."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    order = uow.orders.get(order_id)
    if order is None or not allowed(
        actor, Action.ORDER_READ, Scope(owner_id=order.user_id, pharmacy_id=order.pharmacy_id, city_id=order.city_id)
    ):
        if order is not None:
            uow.audit_now(_record(uow, actor, "denied", "order", order_id, order.patient_id, outcome="denied"))
        raise NotFound(f"order {order_id} not found", field="order_id")
    return order


def _emit(uow: OrderingUnitOfWork, order: Order) -> None:
    events, order.events = order.events, []
    for event in events:
        uow.emit(event)


def _record(
    uow: OrderingUnitOfWork, actor: Actor, action: str, kind: str, resource_id: str | None, patient_id: str | None,
    outcome: str = "ok",
) -> AuditRecord:  # fmt: skip
    return AuditRecord(
        at=uow.clock.now(), actor_id=actor.user_id, actor_roles=actor.roles_text, action=action,
        resource_type=kind, resource_id=resource_id, patient_id=patient_id, outcome=outcome,
        request_id=actor.request_id, ip=actor.ip,
    )  # fmt: skip


def _audit(uow: OrderingUnitOfWork, actor: Actor, action: str, order: Order) -> None:
    uow.audit(_record(uow, actor, action, "order", order.id, order.patient_id))
