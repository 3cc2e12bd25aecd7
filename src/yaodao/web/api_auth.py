"""Sign-up, sign-in (bearer tokens for API clients), sign-out, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from fastapi.responses import Response

from yaodao.accounts import services as accounts
from yaodao.kernel.errors import NotAuthenticated
from yaodao.web import schemas as s
from yaodao.web.convert import user_out
from yaodao.web.deps import ActorDep, ContainerDep, UowDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", response_model=s.UserOut, status_code=status.HTTP_201_CREATED)
def register(body: s.RegisterIn, uow: UowDep, container: ContainerDep) -> s.UserOut:
    """Patients create their own account; staff accounts come from an admin."""
    user = accounts.register_user(
        uow=uow, passwords=container.passwords, email=body.email, password=body.password, display_name=body.display_name
    )
    return user_out(user)


@router.post("/token", response_model=s.TokenOut)
def issue_token(body: s.LoginIn, request: Request, uow: UowDep, container: ContainerDep) -> s.TokenOut:
    """Exchange email and password for a bearer token (shown once; store it safely)."""
    issued = accounts.login(
        uow=uow,
        passwords=container.passwords,
        email=body.email,
        password=body.password,
        kind="bearer",
        lifetime=container.bearer_lifetime,
        label=body.label,
        ip=request.client.host if request.client else None,
    )
    return s.TokenOut(
        access_token=issued.raw,
        expires_in=issued.expires_in_s,
        user_id=issued.user.id,
        roles=sorted(r.value for r in issued.user.roles),
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def revoke_token(
    actor: ActorDep, container: ContainerDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Revoke the bearer token used for this request."""
    if not actor.authenticated or not authorization:
        raise NotAuthenticated("send the bearer token to revoke")
    accounts.logout(uow=container.uow(), raw=authorization.partition(" ")[2].strip())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=s.UserOut)
def me(uow: UowDep, actor: ActorDep) -> s.UserOut:
    return user_out(accounts.get_user(uow=uow, actor=actor))
