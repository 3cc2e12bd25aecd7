"""Typed dependencies: the container, a unit of work, and who is asking."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from yaodao.accounts.policy import ANONYMOUS, Actor
from yaodao.accounts.services import resolve_token
from yaodao.adapters.db.uow import UnitOfWork
from yaodao.bootstrap import Container
from yaodao.kernel.errors import NotAuthenticated, PermissionDenied

SESSION_COOKIE = "yd_session"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_uow(container: ContainerDep) -> UnitOfWork:
    return container.uow()


UowDep = Annotated[UnitOfWork, Depends(get_uow)]


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def get_actor(request: Request, container: ContainerDep) -> Actor:
    """Bearer token (API clients) or session cookie (pages); cookie writes need the CSRF token."""
    request_id = getattr(request.state, "request_id", None)
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, raw = auth.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
        resolved = resolve_token(
            uow=container.uow(read_only=True), raw=raw.strip(), request_id=request_id, ip=_client_ip(request)
        )
        if resolved is None or resolved.kind != "bearer":
            raise NotAuthenticated("the token is unknown, expired or revoked")
        return resolved.actor
    raw_cookie = request.cookies.get(SESSION_COOKIE)
    if raw_cookie:
        resolved = resolve_token(
            uow=container.uow(read_only=True), raw=raw_cookie, request_id=request_id, ip=_client_ip(request)
        )
        if resolved is None or resolved.kind != "cookie":
            return ANONYMOUS
        if request.method in UNSAFE:
            sent = request.headers.get(CSRF_HEADER) or getattr(request.state, "form_csrf", None) or ""
            if not resolved.csrf or not hmac.compare_digest(sent, resolved.csrf):
                raise PermissionDenied("missing or wrong CSRF token for a cookie-authenticated change")
        request.state.csrf = resolved.csrf
        return resolved.actor
    return ANONYMOUS


ActorDep = Annotated[Actor, Depends(get_actor)]
