"""Server-rendered pages: home (the pilot city now), an availability check, sign-in and sign-out."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import text

from yaodao.accounts import services as accounts
from yaodao.kernel.errors import DomainError
from yaodao.kernel.geo import LatLng
from yaodao.kernel.money import format_yuan
from yaodao.kernel.paging import PageRequest
from yaodao.web.deps import SESSION_COOKIE, ContainerDep
from yaodao.web.search_views import district_points

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["yuan"] = format_yuan
LOGIN_CSRF_COOKIE = "yd_login_csrf"


@router.get("/healthz", include_in_schema=True, tags=["ops"])
def healthz(container: ContainerDep) -> dict[str, str]:
    """Liveness and database reachability."""
    with container.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "database": container.engine.dialect.name}


def _signed_in(request: Request, container: ContainerDep) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    resolved = accounts.resolve_token(uow=container.uow(read_only=True), raw=raw)
    if resolved is None or resolved.actor.user_id is None:
        return None
    request.state.csrf = resolved.csrf
    return resolved.actor.roles_text


@router.get("/", response_class=HTMLResponse)
def home(request: Request, container: ContainerDep) -> HTMLResponse:
    city_id = container.settings.default_city
    city = container.cities.get(city_id)
    now = container.clock.now()
    stats: dict[str, int] = {}
    districts: list[tuple[str, str, float, float]] = []
    products: list[tuple[str, str]] = []
    if city is not None:
        with container.uow(read_only=True) as uow:
            pharmacies = uow.pharmacies.in_city(city.id)
            stats = {
                "pharmacies": len(pharmacies),
                "open_24h": sum(p.open_24h for p in pharmacies),
                "products": uow.products.count(),
            }
            common = uow.products.list_page(PageRequest(1, 200), drug_class="otc_b").items
            common += uow.products.list_page(PageRequest(1, 200), drug_class="otc_a").items
        products = sorted(
            (
                (p.sku, f"{p.brand_name_zh or ''} {p.generic_name_zh} {p.pack_text_zh}".strip())
                for p in common
                if p.online_sellable
            ),
            key=lambda x: x[1],
        )
        districts = district_points(city)
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "city": city,
            "window": city.window_at(now) if city else None,
            "local": city.local(now) if city else None,
            "stats": stats,
            "districts": districts,
            "products": products,
            "roles": _signed_in(request, container),
        },
    )


@router.get("/availability", response_class=HTMLResponse)
def availability_page(
    request: Request,
    container: ContainerDep,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lng: Annotated[float, Query(ge=-180, le=180)],
    sku: Annotated[str, Query(min_length=1, max_length=64)],
    qty: Annotated[int, Query(ge=1, le=100)] = 1,
) -> HTMLResponse:
    city_id = container.settings.default_city
    index = container.availability.index(city_id)
    now = container.clock.now()
    error = None
    offers = []
    product = None
    with container.uow(read_only=True) as uow:
        product = uow.products.get_by_sku(sku)
        if index is None or product is None:
            error = "Unknown product." if product is None else "This city is not set up yet."
        else:
            try:
                found = index.query(LatLng(lat, lng), {product.id: qty}, now, promise_minutes=60)
            except DomainError as exc:
                error = exc.message
                found = []
            offers = [(o, index.pharmacy(o.pharmacy_id)) for o in found]
    window = index.city.window_at(now) if index else None
    return templates.TemplateResponse(
        request,
        "availability.html",
        {
            "product": product,
            "qty": qty,
            "offers": offers,
            "error": error,
            "window": window,
            "local": index.city.local(now) if index else None,
            "lat": lat,
            "lng": lng,
        },
        status_code=200 if error is None else 422,
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(request, "login.html", {"csrf": token, "error": error})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=1800)
    return response


@router.post("/login")
def login_submit(
    request: Request,
    container: ContainerDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)],
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return RedirectResponse("/login?error=expired", status_code=303)
    try:
        issued = accounts.login(
            uow=container.uow(),
            passwords=container.passwords,
            email=email,
            password=password,
            kind="cookie",
            lifetime=container.session_lifetime,
            ip=request.client.host if request.client else None,
        )
    except DomainError as exc:
        return RedirectResponse(f"/login?error={exc.code}", status_code=303)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issued.raw,
        httponly=True,
        samesite="lax",
        secure=bool(container.settings.cookie_secure),
        max_age=issued.expires_in_s,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout_submit(
    request: Request, container: ContainerDep, csrf_token: Annotated[str, Form(max_length=100)]
) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        resolved = accounts.resolve_token(uow=container.uow(read_only=True), raw=raw)
        if resolved is not None and resolved.csrf and hmac.compare_digest(resolved.csrf, csrf_token):
            accounts.logout(uow=container.uow(), raw=raw)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def local_time(value: datetime) -> str:
    return value.strftime("%H:%M")


templates.env.filters["hhmm"] = local_time
