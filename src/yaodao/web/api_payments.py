"""Paying for an order through the wallet, and the wallet's asynchronous notifications.

``POST /api/orders/{id}/pay`` is idempotent like checkout (an ``Idempotency-Key`` header): it
commits the payment intent, then answers with the wallet's pay page. ``POST /api/payments/notify``
is the address the wallet posts to; it answers the plain text ``success`` only once the
notification is verified and applied (or a harmless duplicate), and ``fail`` otherwise, so the
wallet resends what was not taken.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from yaodao.ordering import services as ordering
from yaodao.payments import services as payments
from yaodao.web.api_orders import idempotent, order_json
from yaodao.web.deps import ActorDep, ContainerDep

router = APIRouter(tags=["payments"])

MAX_NOTIFY_FIELDS = 60


@router.post("/api/orders/{order_id}/pay")
def pay(
    order_id: str,
    container: ContainerDep,
    actor: ActorDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    def run() -> tuple[int, dict[str, Any]]:
        payment, url = payments.start_payment(
            uow=container.uow(), actor=actor, order_id=order_id, ctx=container.payments()
        )
        return 200, {
            "payment_id": payment.id,
            "order_id": payment.order_id,
            "amount_fen": payment.amount_fen,
            "state": payment.state.value,
            "pay_url": url,
        }

    route = f"POST /api/orders/{order_id}/pay"
    return idempotent(container, actor.user_id, route, idempotency_key, {"order_id": order_id}, run)


@router.post("/api/orders/{order_id}/payment/confirm")
def confirm(order_id: str, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    """Back from the wallet: ask it about the trade in case its notification has not arrived yet."""
    order = ordering.get_order(uow=container.uow(), actor=actor, order_id=order_id)
    with container.uow(read_only=True) as uow:
        payment = uow.payments.for_order(order.id)
    if payment is not None and payment.state.value == "pending":
        payments.confirm_by_query(uow_factory=container.uow, payment_id=payment.id, ctx=container.payments())
        order = ordering.get_order(uow=container.uow(), actor=actor, order_id=order_id)
    return order_json(order)


@router.post(
    "/api/payments/notify",
    responses={200: {"content": {"text/plain": {}}, "description": "`success`, or `fail` for the wallet to resend"}},
)
async def notify(request: Request, container: ContainerDep) -> PlainTextResponse:
    form = await request.form()
    if len(form) > MAX_NOTIFY_FIELDS:
        return PlainTextResponse(payments.FAIL, status_code=400)
    params = {key: value for key, value in form.items() if isinstance(value, str)}
    reply = await run_in_threadpool(
        payments.handle_notification, uow_factory=container.uow, params=params, ctx=container.payments()
    )
    return PlainTextResponse(reply)
