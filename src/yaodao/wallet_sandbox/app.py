"""The sandbox wallet as an HTTP service (Starlette): the gateway, the pay page, and a notification log.

* ``GET|POST /gateway.do`` with ``method=alipay.trade.page.pay``: the pay page (HTML).
* ``POST /gateway.do`` (or GET) with ``alipay.trade.query | close | refund | fastpay.refund.query``:
  signed JSON, always HTTP 200 as the wallet answers, errors in the ``code``/``sub_code`` fields.
* ``GET /pay/{trade_no}``, ``POST /pay/{trade_no}/confirm`` (form field ``buyer_id`` optional),
  ``POST /pay/{trade_no}/cancel``: what the buyer does on the pay page.
* ``GET /sandbox/notifications?out_trade_no=…&app_id=…``: the signed notification parameter sets
  produced, with their delivery state, for tests that replay them and for operators.
* ``GET /healthz``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from yaodao.kernel.clock import Clock
from yaodao.wallet_sandbox import pages
from yaodao.wallet_sandbox.config import SandboxConfig
from yaodao.wallet_sandbox.notifier import HttpPost, Notifier
from yaodao.wallet_sandbox.protocol import (
    CLOSE,
    PAGE_PAY,
    QUERY,
    REFUND,
    REFUND_QUERY,
    GatewayError,
    SignedRequest,
    invalid,
    signed_response,
    verify_request,
)
from yaodao.wallet_sandbox.service import SandboxWallet
from yaodao.wallet_sandbox.store import NotificationRecord, SandboxStore

_NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def create_sandbox_app(
    config: SandboxConfig,
    *,
    clock: Clock,
    store: SandboxStore,
    http_post: HttpPost | None = None,
    background: bool = False,
) -> Starlette:
    """Build the sandbox; ``app.state.notifier`` delivers notifications (in a thread when ``background``)."""
    wallet = SandboxWallet(config, store, clock)
    notifier = Notifier(store, clock=clock, http_post=http_post)
    api: dict[str, Callable[[str, dict[str, Any]], dict[str, str]]] = {
        QUERY: wallet.query,
        CLOSE: wallet.close,
        REFUND: wallet.refund,
        REFUND_QUERY: wallet.refund_query,
    }

    async def gateway(request: Request) -> Response:
        params: dict[str, str] = {}
        try:
            params = await _params(request)
            signed = verify_request(config, params)
        except GatewayError as exc:
            method = params.get("method") or request.query_params.get("method")
            if method is None and request.method == "POST":
                form_method = (await request.form()).get("method")  # the form is cached after the first read
                method = form_method if isinstance(form_method, str) else None
            if method == PAGE_PAY:
                return _error_page(exc, 400)
            return _json(signed_response(config.private_key, method, exc.body()))
        if signed.method == PAGE_PAY:
            return await _open_pay_page(signed)
        try:
            body = await run_in_threadpool(api[signed.method], signed.app.app_id, signed.biz)
        except GatewayError as exc:
            body = exc.body()
        if signed.method == REFUND and body.get("fund_change") == "Y":
            notifier.wake()
        return _json(signed_response(config.private_key, signed.method, body))

    async def _open_pay_page(signed: SignedRequest) -> Response:
        try:
            notify_url = _url(signed.params, "notify_url")
            return_url = _url(signed.params, "return_url")
            trade = await run_in_threadpool(
                wallet.open_page_pay, signed.app.app_id, signed.biz, notify_url=notify_url, return_url=return_url
            )
        except GatewayError as exc:
            return _error_page(exc, 400)
        return HTMLResponse(pages.pay_page(trade), headers=_NO_STORE)

    async def show(request: Request) -> Response:
        trade = await run_in_threadpool(wallet.trade, request.path_params["trade_no"])
        if trade is None:
            return HTMLResponse(pages.error_page("ACQ.TRADE_NOT_EXIST", "交易不存在 No such trade"), 404, _NO_STORE)
        return HTMLResponse(pages.pay_page(trade), headers=_NO_STORE)

    async def confirm(request: Request) -> Response:
        form = await request.form()
        buyer_id = form.get("buyer_id", "")
        try:
            trade = await run_in_threadpool(
                wallet.confirm, request.path_params["trade_no"], buyer_id if isinstance(buyer_id, str) else ""
            )
        except GatewayError as exc:
            return _error_page(exc, 404 if exc.sub_code == "ACQ.TRADE_NOT_EXIST" else 409)
        notifier.wake()
        if trade.return_url:
            back = await run_in_threadpool(wallet.return_params, trade)
            return RedirectResponse(_with_query(trade.return_url, back), status_code=303)
        return HTMLResponse(pages.status_page(trade), headers=_NO_STORE)

    async def cancel(request: Request) -> Response:
        trade = await run_in_threadpool(wallet.trade, request.path_params["trade_no"])
        if trade is None:
            return HTMLResponse(pages.error_page("ACQ.TRADE_NOT_EXIST", "交易不存在 No such trade"), 404, _NO_STORE)
        if trade.return_url:
            return RedirectResponse(trade.return_url, status_code=303)
        note = "已取消，订单仍在等待付款 Cancelled: the order still waits for payment"
        return HTMLResponse(pages.status_page(trade, note), headers=_NO_STORE)

    async def notifications(request: Request) -> Response:
        out_trade_no = request.query_params.get("out_trade_no")
        app_id = request.query_params.get("app_id")
        records = await run_in_threadpool(lambda: store.notifications(out_trade_no=out_trade_no, app_id=app_id))
        return JSONResponse({"notifications": [_notification_view(n) for n in records]})

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if background:
            notifier.start()
        try:
            yield
        finally:
            if background:
                notifier.stop()

    app = Starlette(
        routes=[
            Route("/gateway.do", gateway, methods=["GET", "POST"]),
            Route("/pay/{trade_no}", show, methods=["GET"]),
            Route("/pay/{trade_no}/confirm", confirm, methods=["POST"]),
            Route("/pay/{trade_no}/cancel", cancel, methods=["POST"]),
            Route("/sandbox/notifications", notifications, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.wallet = wallet
    app.state.notifier = notifier
    app.state.store = store
    return app


async def _params(request: Request) -> dict[str, str]:
    """Query and form parameters together; a name given twice is refused rather than guessed at."""
    items: list[tuple[str, Any]] = list(request.query_params.multi_items())
    if request.method == "POST":
        form = await request.form()
        items += form.multi_items()
    params: dict[str, str] = {}
    for name, value in items:
        if isinstance(value, UploadFile) or not isinstance(value, str):
            raise invalid("isv.invalid-parameter", f"{name[:40]} must be text")
        if name in params:
            raise invalid("isv.invalid-parameter", f"{name[:40]} is given more than once")
        params[name] = value
    return params


def _url(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 1024:
        raise invalid("isv.invalid-parameter", f"{name} must be an http(s) URL of at most 1024 characters")
    return value


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}"


def _json(text: str) -> Response:
    return Response(text, media_type="application/json;charset=utf-8")


def _error_page(exc: GatewayError, status: int) -> Response:
    return HTMLResponse(pages.error_page(exc.sub_code, exc.sub_msg), status, _NO_STORE)


def _notification_view(note: NotificationRecord) -> dict[str, Any]:
    return {
        "notify_id": note.notify_id,
        "out_trade_no": note.out_trade_no,
        "notify_url": note.notify_url,
        "params": note.params,
        "attempts": note.attempts,
        "delivered_at": note.delivered_at.isoformat() if note.delivered_at else None,
        "next_attempt_at": note.next_attempt_at.isoformat() if note.next_attempt_at else None,
        "last_error": note.last_error,
    }
