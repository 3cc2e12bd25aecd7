"""Live order tracking: the customer's view as JSON, as a server-sent event stream and as a page with a map;
and the promise report for operators.

Who may track is the ordering read rule (``ordering.get_order``: the buyer, and whoever else may read the
order), checked and audited once per request or stream. The stream then polls the database every
``STREAM.poll_seconds``, so any web process can serve it whichever process or worker changed the order;
it sends the view when it changes, a comment when it has been quiet for ``heartbeat_seconds``, and ends
when the order is over, when the client goes away, or after ``lifetime_seconds`` (EventSource reconnects).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from yaodao.accounts.policy import Action, Actor, Scope, authorize
from yaodao.adapters.db.tracking_repo import TrackingRepository
from yaodao.bootstrap import Container
from yaodao.kernel.errors import DomainError, NotAuthenticated, NotFound, ValidationFailed
from yaodao.ordering import services as ordering
from yaodao.tracking.mapview import SIZE, district_shapes, fit
from yaodao.tracking.promise import promise_report
from yaodao.tracking.view import Point, TrackingView, build_view, fingerprint
from yaodao.web.deps import ActorDep, ContainerDep, get_actor
from yaodao.web.errors import STATUS
from yaodao.web.order_pages import problems_of, templates

router = APIRouter(tags=["tracking"])

MAX_REPORT_WINDOW = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class StreamParams:
    poll_seconds: float = 1.5
    heartbeat_seconds: float = 15.0
    lifetime_seconds: float = 30 * 60.0
    retry_ms: int = 2000  # how long EventSource waits before reconnecting

    def __post_init__(self) -> None:
        if self.poll_seconds <= 0 or self.heartbeat_seconds <= 0 or self.lifetime_seconds <= 0:
            raise ValueError("poll_seconds, heartbeat_seconds and lifetime_seconds must be positive")


STREAM = StreamParams()


# The read side -----------------------------------------------------------------------------------


def _read_view(container: Container, order_id: str) -> TrackingView | None:
    """The view now, straight from the database (no access check: callers have made it)."""
    with container.uow(read_only=True) as uow:
        snapshot = TrackingRepository(uow.conn).snapshot(order_id)
        now = uow.clock.now()
    return build_view(snapshot, now) if snapshot is not None else None


def track(container: Container, actor: Actor, order_id: str) -> TrackingView:
    """The view of an order the actor may read (the read is audited); anyone else gets 404 as for the order."""
    ordering.get_order(uow=container.uow(), actor=actor, order_id=order_id)
    view = _read_view(container, order_id)
    if view is None:
        raise NotFound(f"order {order_id} not found", field="order_id")
    return view


# JSON and the event stream -----------------------------------------------------------------------


@router.get("/api/orders/{order_id}/tracking")
def tracking_json(order_id: str, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    return track(container, actor, order_id).as_json()


def _event(view: TrackingView) -> str:
    return f"event: tracking\ndata: {json.dumps(view.as_json(), ensure_ascii=False)}\n\n"


async def _events(request: Request, container: Container, order_id: str, view: TrackingView) -> AsyncIterator[str]:
    params = STREAM
    clock = asyncio.get_running_loop().time
    started = last_sent = clock()
    yield f"retry: {params.retry_ms}\n\n"
    yield _event(view)
    sent = fingerprint(view)
    while not view.final:
        if clock() - started >= params.lifetime_seconds or await request.is_disconnected():
            return
        await asyncio.sleep(params.poll_seconds)
        latest = await run_in_threadpool(_read_view, container, order_id)
        if latest is None:
            return
        view = latest
        if fingerprint(view) != sent:
            yield _event(view)
            sent, last_sent = fingerprint(view), clock()
        elif clock() - last_sent >= params.heartbeat_seconds:
            yield ": keep-alive\n\n"
            last_sent = clock()
    yield "event: end\ndata: {}\n\n"


@router.get(
    "/api/orders/{order_id}/tracking/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "tracking events (server-sent)"}},
)
async def tracking_stream(order_id: str, request: Request, container: ContainerDep, actor: ActorDep) -> Response:
    view = await run_in_threadpool(track, container, actor, order_id)
    return StreamingResponse(
        _events(request, container, order_id, view),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# The page ----------------------------------------------------------------------------------------


def _page_error(request: Request, exc: DomainError) -> Response:
    if isinstance(exc, NotAuthenticated):
        return RedirectResponse(f"/login?next={quote(request.url.path, safe='')}", status_code=303)
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
    context = {"roles": None, "csrf": "", "problems": problems_of(exc)}
    return templates.TemplateResponse(request, "order_problem.html", context, status_code=status)


def _map(container: Container, city_id: str, view: TrackingView) -> dict[str, Any]:
    points = [view.pharmacy] + ([view.dropoff] if view.dropoff else [])
    courier = view.courier.position if view.courier else None
    projection = fit(points + ([courier] if courier else []))
    city = container.cities.get(city_id)
    districts = [(d.code, d.name_zh, d.rings) for d in city.districts] if city else []

    def xy(p: Point | None) -> tuple[float, float] | None:
        return projection.xy(p.lat, p.lng) if p else None

    pins = [projection.xy(p.lat, p.lng) for p in points]
    return {
        "size": int(SIZE), "projection": projection, "districts": district_shapes(projection, districts, pins),
        "pharmacy": xy(view.pharmacy), "dropoff": xy(view.dropoff), "courier": xy(courier),
        "timezone": city.timezone if city else "UTC",
    }  # fmt: skip


@router.get("/orders/{order_id}/track", response_class=HTMLResponse, include_in_schema=False)
def tracking_page(request: Request, container: ContainerDep, order_id: str) -> Response:
    try:
        actor = get_actor(request, container)
        if not actor.authenticated:
            raise NotAuthenticated("sign in first")
        view = track(container, actor, order_id)
    except DomainError as exc:
        return _page_error(request, exc)
    map_ = _map(container, view.city_id, view)
    tz = container.cities.get(view.city_id)

    def when(at: datetime | None) -> str:
        return (tz.local(at) if tz else at).strftime("%H:%M") if at else "—"

    context = {
        "roles": actor.roles_text or None, "csrf": getattr(request.state, "csrf", None) or "",
        "view": view, "data": view.as_json(), "map": map_, "when": when,
    }  # fmt: skip
    return templates.TemplateResponse(request, "track.html", context)


# The promise report ------------------------------------------------------------------------------


def _instant(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw.strip())
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or at.utcoffset() is None:
        raise ValidationFailed(
            f"{name}: an ISO 8601 time with a timezone offset, e.g. 2026-11-25T00:00:00%2B08:00 (+ encoded) or "
            f"2026-11-24T16:00:00Z",
            field=name,
        )
    return at


@router.get("/api/ops/promise")
def promise(
    container: ContainerDep,
    actor: ActorDep,
    city: Annotated[str, Query(min_length=1, max_length=40)] = "hangzhou",
    since: Annotated[str | None, Query(max_length=64, description="start (inclusive); default until - 24 h")] = None,
    until: Annotated[str | None, Query(max_length=64, description="end (exclusive); default now")] = None,
) -> dict[str, Any]:
    """Delivered orders of the window: on-time rate against the promise, quoted-vs-actual gap, late by cause."""
    authorize(actor, Action.PROMISE_REPORT, Scope(city_id=city))
    end = _instant(until, "until") or container.clock.now()
    start = _instant(since, "since") or end - timedelta(days=1)
    if start >= end:
        raise ValidationFailed("since must be before until", field="since")
    if end - start > MAX_REPORT_WINDOW:
        raise ValidationFailed("the window is at most 366 days", field="since")
    if container.cities.get(city) is None:
        raise NotFound(f"no city {city}", field="city")
    with container.uow(read_only=True) as uow:
        rows = TrackingRepository(uow.conn).delivered_between(city, start, end)
    return {"city": city, "since": start.isoformat(), "until": end.isoformat(), **promise_report(rows).as_json()}
