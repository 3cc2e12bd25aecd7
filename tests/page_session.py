"""A browser of its own for page tests: a user, signed in through the login form, and a form's hidden fields."""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from typing import cast

from fastapi import FastAPI
from starlette.testclient import TestClient

from support import PASSWORD, Platform
from yaodao.accounts.model import Role, User
from yaodao.kernel.ids import new_id


def _app(platform: Platform) -> FastAPI:
    return cast(FastAPI, platform.client.app)


def _user(
    platform: Platform, role: Role = Role.PATIENT, pharmacy_id: str | None = None, allergies: tuple[str, ...] = ()
) -> User:
    user = User(
        id=new_id(), email=f"{role.value}-{new_id()[-12:]}@test.yaodao.local", display_name="页面测试",
        password_hash=platform.container.passwords.hash(PASSWORD), roles=frozenset({role}), pharmacy_id=pharmacy_id,
        date_of_birth=date(1990, 5, 1), sex="f", id_number_hash=f"id-{new_id()}", allergies=allergies,
    )  # fmt: skip
    with platform.container.uow() as uow:
        uow.users.add(user, platform.clock.now())
        uow.commit()
    return user


def _signed_in(platform: Platform, user: User) -> TestClient:
    """A browser of its own (its own cookie jar), signed in through the login form."""
    client = TestClient(_app(platform), follow_redirects=False)
    login = client.get("/login")
    token = _hidden(login.text, "/login")["csrf_token"]
    answer = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return client


def _hidden(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the (first) form posting to ``action``."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S)
    assert form is not None, f"no form posting to {action}"
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1))
    return {name: unescape(value) for name, value in fields}
