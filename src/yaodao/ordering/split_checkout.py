"""Confirming a split: one order per part, all or nothing, in one transaction.

A basket no single pharmacy can deliver in time is refused with ``SplitNeeded`` and a proposal
(see ``services._propose_split``). The buyer confirms it, or their own split, here: the whole
basket passes the safety gate first (so a block between lines of different parts still blocks,
and a hold between them goes onto the parts it concerns), then each part goes through
``place_order`` at its named pharmacy exactly like a normal checkout (gate, stock held,
prescription fills, limit counters, price, ETA re-checked now). A refusal of any part rolls every
part back and names the part (``split[n]``). Each order is paid on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from yaodao.accounts.policy import Action, Actor, Scope, authorize
from yaodao.kernel.errors import DomainError, NotAuthenticated, ValidationFailed
from yaodao.ordering.model import Fulfilment, Order
from yaodao.ordering.ports import OrderingUnitOfWork
from yaodao.ordering.prescriptions import Finding
from yaodao.ordering.services import (
    MAX_LINES,
    CheckoutLine,
    CheckoutRequest,
    OrderingContext,
    check_request,
    gate_blocks,
    place_order,
)
from yaodao.ordering.split import DEFAULT_SPLIT, SplitParams


@dataclass(frozen=True, slots=True)
class SplitPartRequest:
    pharmacy_id: str
    lines: tuple[CheckoutLine, ...]


def checkout_split(
    *,
    uow: OrderingUnitOfWork,
    actor: Actor,
    request: CheckoutRequest,
    parts: tuple[SplitPartRequest, ...],
    ctx: OrderingContext,
    params: SplitParams = DEFAULT_SPLIT,
) -> list[Order]:
    """Create one order per part (``request`` gives patient, address and fulfilment; its lines are ignored)."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    if request.fulfilment is not Fulfilment.DELIVERY:
        raise ValidationFailed("only a delivery order is split", field="fulfilment")
    if not 2 <= len(parts) <= params.max_parts:
        raise ValidationFailed(f"a split has 2 to {params.max_parts} parts", field="split")
    if len({part.pharmacy_id for part in parts}) != len(parts):
        raise ValidationFailed("each part of a split names a different pharmacy", field="split")
    whole = replace(request, lines=tuple(line for part in parts for line in part.lines), pharmacy_id=None)
    if len(whole.lines) > MAX_LINES:
        raise ValidationFailed(f"an order holds at most {MAX_LINES} lines", field="split")
    check_request(whole)  # a product in two parts is refused here, as a line given twice
    with uow:
        authorize(actor, Action.ORDER_PLACE, Scope(owner_id=actor.user_id))
        now = uow.clock.now()
        _, _, _, decision = gate_blocks(uow, actor, whole, ctx, now)
        orders = []
        for n, part in enumerate(parts):
            try:
                part_request = replace(request, lines=part.lines, pharmacy_id=part.pharmacy_id)
                check_request(part_request)
                holds = _holds_for(decision.holds, {line.product_id for line in part.lines})
                orders.append(place_order(uow, actor, part_request, ctx, now, holds))
            except DomainError as error:
                raise _in_part(error, n) from None
        uow.commit()
        return orders


def _holds_for(holds: tuple[Finding, ...], product_ids: set[str]) -> tuple[Finding, ...]:
    """The whole basket's holds that concern this part: its products, or an interaction with one of them."""
    return tuple(
        h
        for h in holds
        if h.product_id is None or h.product_id in product_ids or product_ids & set(h.subject.split("+"))
    )


def _in_part(error: DomainError, n: int) -> DomainError:
    """The same refusal, naming the part it came from."""
    where = f"split[{n}]"
    error.message = f"part {n} ({where}): {error.message}"
    error.args = (error.message,)
    error.field = f"{where}.{error.field}" if error.field else where
    if isinstance(error, ValidationFailed):
        error.errors = [(f"{where}.{f}" if f else where, m) for f, m in error.errors]
    error.extra = {**(error.extra or {}), "part": n}
    return error
