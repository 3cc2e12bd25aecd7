"""The patient's own pages: real-name verification (the form behind "verify your real name" at checkout)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yaodao.accounts import services as accounts
from yaodao.kernel.errors import DomainError
from yaodao.web.api_me import identity_provider
from yaodao.web.deps import ContainerDep
from yaodao.web.order_pages import _actor, _error_page, _render, _status, problems_of

router = APIRouter(include_in_schema=False)


def _safe_back(back: str) -> str:
    """Only a path on this site: never an address elsewhere (an open redirect)."""
    return back if back.startswith("/") and not back.startswith("//") else ""


@router.get("/me/identity", response_class=HTMLResponse)
def identity_page(
    request: Request, container: ContainerDep, back: Annotated[str, Query(max_length=300)] = ""
) -> Response:
    actor = _actor(request, container)
    if isinstance(actor, Response):
        return actor
    try:
        user = accounts.read_profile(uow=container.uow(), actor=actor)
    except DomainError as exc:
        return _error_page(request, actor, exc)
    context = {"verified": user.id_number_hash is not None, "back": _safe_back(back), "problems": []}
    return _render(request, actor, "identity.html", context)


@router.post("/me/identity")
def identity_submit(
    request: Request,
    container: ContainerDep,
    full_name: Annotated[str, Form(max_length=60)] = "",
    id_number: Annotated[str, Form(max_length=24)] = "",
    back: Annotated[str, Form(max_length=300)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    actor = _actor(request, container, csrf_token, "/me/identity")
    if isinstance(actor, Response):
        return actor
    try:
        accounts.verify_identity(
            uow=container.uow(), actor=actor, full_name=full_name, id_number=id_number,
            pepper=container.settings.id_number_pepper, provider=identity_provider(container),
        )  # fmt: skip
    except DomainError as exc:
        context = {"verified": False, "back": _safe_back(back), "problems": problems_of(exc)}
        return _render(request, actor, "identity.html", context, _status(exc))
    return RedirectResponse(_safe_back(back) or "/me/identity", status_code=303)
