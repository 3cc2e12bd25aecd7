"""The courier's page (``/courier``): a phone-width view of the courier's state and current deliveries.

The page is rendered from the same service as ``GET /api/courier/me``; its buttons call the JSON
API (``/api/courier/...``) with the session cookie and the session's CSRF token, each action
with an ``event_id`` minted once per tap and reused if the tap is retried, so a flaky network
cannot do an action twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from yaodao.delivery import services
from yaodao.delivery.model import FailureReason
from yaodao.kernel.errors import DomainError, NotAuthenticated
from yaodao.web.deps import ContainerDep, get_actor
from yaodao.web.errors import STATUS

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

FAILURE_LABELS = {
    FailureReason.CUSTOMER_ABSENT: "联系不上顾客 Customer absent",
    FailureReason.ADDRESS_WRONG: "地址错误 Wrong address",
    FailureReason.REFUSED: "顾客拒收 Refused",
    FailureReason.ID_CHECK_FAILED: "身份核验未通过 ID check failed",
    FailureReason.DAMAGED: "药品破损 Damaged",
    FailureReason.UNSAFE: "现场不安全 Unsafe",
}


@router.get("/courier", response_class=HTMLResponse)
def courier_page(request: Request, container: ContainerDep) -> Response:
    try:
        actor = get_actor(request, container)
        if not actor.authenticated:
            raise NotAuthenticated("sign in first")
        me = services.me(uow=container.uow(), actor=actor)
    except NotAuthenticated:
        return RedirectResponse(f"/login?next={quote('/courier', safe='')}", status_code=303)
    except DomainError as exc:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        context: dict[str, Any] = {
            "roles": None, "csrf": "", "problem": exc.message, "me": None, "reasons": FAILURE_LABELS,
        }  # fmt: skip
        return templates.TemplateResponse(request, "courier.html", context, status_code=status)
    context = {
        "roles": actor.roles_text or None,
        "csrf": getattr(request.state, "csrf", None) or "",
        "me": me,
        "problem": None,
        "reasons": FAILURE_LABELS,
    }
    return templates.TemplateResponse(request, "courier.html", context)
