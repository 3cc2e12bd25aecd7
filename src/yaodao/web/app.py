"""The ASGI application, built around a bootstrapped container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from yaodao.bootstrap import Container
from yaodao.web import (
    api_admin,
    api_auth,
    api_availability,
    api_care,
    api_cart,
    api_consult,
    api_courier,
    api_dispatch,
    api_me,
    api_money,
    api_orders,
    api_payments,
    api_rosters,
    cart_pages,
    consult_pages,
    courier_pages,
    errors,
    me_pages,
    order_pages,
    pages,
    search_views,
    tracking,
    ws_consult,
)
from yaodao.web.middleware import BodyLimit, RequestId


def create_app(container: Container, *, background: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background:
            container.start_background()
        yield
        if background:
            container.stop_dispatcher()
            container.relay.stop()

    app = FastAPI(
        title="yaodao 药到",
        version="0.1.0",
        description="Medicine at your door in 30 minutes by day and 60 at night; doctors online around the clock.",
        responses=errors.ERROR_RESPONSES,
        lifespan=lifespan,
    )
    app.state.container = container
    errors.install(app)
    app.include_router(api_auth.router)
    app.include_router(api_me.router)
    app.include_router(api_orders.router)
    app.include_router(api_cart.router)
    app.include_router(api_payments.router)
    app.include_router(api_care.router)
    app.include_router(api_consult.router)
    app.include_router(api_rosters.router)
    app.include_router(api_money.router)
    app.include_router(api_admin.router)
    app.include_router(api_courier.router)
    app.include_router(api_dispatch.router)
    app.include_router(api_availability.router)
    app.include_router(search_views.router)
    app.include_router(order_pages.router)
    app.include_router(courier_pages.router)
    app.include_router(cart_pages.router)
    app.include_router(me_pages.router)
    app.include_router(consult_pages.router)
    app.include_router(tracking.router)
    app.include_router(ws_consult.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    app.add_middleware(
        BodyLimit,
        max_bytes=container.settings.max_body_bytes,
        wider=[(api_consult.ATTACHMENT_PATH, api_consult.ATTACHMENT_BODY_BYTES)],
    )
    app.add_middleware(RequestId)
    return app
