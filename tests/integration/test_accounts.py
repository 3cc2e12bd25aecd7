"""Accounts: sign-up and sign-in, cookie sessions with CSRF, bearer tokens, health records and their audit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from factories import WEST_LAKE, ref
from support import PASSWORD, Platform
from yaodao.accounts.model import Role
from yaodao.accounts.services import MAX_FAILED_LOGINS_PER_HOUR
from yaodao.adapters.db import tables as t


def _patient(p: Platform) -> tuple[str, dict[str, str]]:
    email = f"patient-{ref()}@test.yaodao.local"
    created = p.client.post("/api/auth/register", json={"email": email, "password": PASSWORD, "display_name": "王芳"})
    assert created.status_code == 201, created.text
    assert created.json()["roles"] == ["patient"]
    token = p.client.post("/api/auth/token", json={"email": email, "password": PASSWORD}).json()["access_token"]
    return created.json()["id"], {"Authorization": f"Bearer {token}"}


def _audit_rows(p: Platform, patient_id: str) -> list[tuple[str, str, str]]:
    with p.container.engine.connect() as conn:
        rows = conn.execute(
            select(t.audit_events.c.action, t.audit_events.c.resource_type, t.audit_events.c.outcome)
            .where(t.audit_events.c.patient_id == patient_id)
            .order_by(t.audit_events.c.id)
        ).all()
    return [tuple(r) for r in rows]


def test_sign_up_refuses_duplicates_weak_passwords_and_self_chosen_roles(platform: Platform) -> None:
    email = f"dup-{ref()}@test.yaodao.local"
    body = {"email": email, "password": PASSWORD, "display_name": "A"}
    assert platform.client.post("/api/auth/register", json=body).status_code == 201
    assert platform.client.post("/api/auth/register", json=body).status_code == 409
    weak = platform.client.post("/api/auth/register", json={**body, "email": f"w-{email}", "password": "short"})
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "password"
    escalate = platform.client.post("/api/auth/register", json={**body, "email": f"x-{email}", "roles": ["admin"]})
    assert escalate.status_code == 422  # unknown field: roles are never client-chosen at sign-up


def test_wrong_passwords_do_not_reveal_whether_the_account_exists(platform: Platform) -> None:
    known = platform.client.post("/api/auth/token", json={"email": platform.users[Role.ADMIN].email, "password": "x"})
    unknown = platform.client.post("/api/auth/token", json={"email": f"ghost-{ref()}@x.cn", "password": "x"})
    assert known.status_code == unknown.status_code == 401
    assert known.json()["detail"] == unknown.json()["detail"]


def test_failed_sign_ins_are_capped_per_account_per_hour(platform: Platform) -> None:
    _, _ = _patient(platform)
    email = f"target-{ref()}@test.yaodao.local"
    platform.client.post("/api/auth/register", json={"email": email, "password": PASSWORD, "display_name": "T"})
    for _ in range(MAX_FAILED_LOGINS_PER_HOUR):
        assert platform.client.post("/api/auth/token", json={"email": email, "password": "guess"}).status_code == 401
    blocked = platform.client.post("/api/auth/token", json={"email": email, "password": PASSWORD})
    assert blocked.status_code == 429  # even the right password is not evaluated now
    platform.clock.advance(timedelta(hours=1, minutes=1))
    assert platform.client.post("/api/auth/token", json={"email": email, "password": PASSWORD}).status_code == 200


def test_a_revoked_or_forged_bearer_token_is_refused(platform: Platform) -> None:
    _, auth = _patient(platform)
    assert platform.client.get("/api/auth/me", headers=auth).status_code == 200
    assert platform.client.post("/api/auth/logout", headers=auth).status_code == 204
    assert platform.client.get("/api/auth/me", headers=auth).status_code == 401
    assert platform.client.get("/api/auth/me", headers={"Authorization": "Bearer forged"}).status_code == 401
    assert platform.client.get("/api/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_cookie_sessions_need_the_csrf_token_to_change_anything(platform: Platform) -> None:
    from fastapi.testclient import TestClient

    browser = TestClient(platform.client.app, raise_server_exceptions=False)
    page = browser.get("/login")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    user = platform.users[Role.PATIENT]
    signed_in = browser.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf}, follow_redirects=False
    )
    assert signed_in.status_code == 303
    assert "yd_session" in browser.cookies
    assert browser.get("/api/me/profile").status_code == 200
    body = {"date_of_birth": "1990-05-01", "sex": "f", "allergies": ["青霉素"], "current_medicines": []}
    assert browser.put("/api/me/profile", json=body).status_code == 403
    home = browser.get("/")
    session_csrf = home.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert browser.put("/api/me/profile", json=body, headers={"X-CSRF-Token": session_csrf}).status_code == 200


def test_a_changed_password_ends_every_session(platform: Platform) -> None:
    email = f"pw-{ref()}@test.yaodao.local"
    platform.client.post("/api/auth/register", json={"email": email, "password": PASSWORD, "display_name": "P"})
    tokens = [
        platform.client.post("/api/auth/token", json={"email": email, "password": PASSWORD}).json()["access_token"]
        for _ in range(2)
    ]
    from yaodao.accounts.policy import Actor
    from yaodao.accounts.services import change_password

    me = platform.client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens[0]}"}).json()
    ended = change_password(
        uow=platform.container.uow(),
        passwords=platform.container.passwords,
        actor=Actor(user_id=me["id"], roles=frozenset({Role.PATIENT})),
        old=PASSWORD,
        new="another-long-password",
    )
    assert ended == 2
    for token in tokens:
        assert platform.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_family_members_and_addresses_are_the_patients_own_and_every_access_is_audited(platform: Platform) -> None:
    patient_id, auth = _patient(platform)
    child = platform.client.post(
        "/api/me/family",
        json={"name": "小明", "relation": "child", "date_of_birth": "2023-03-01", "allergies": ["青霉素"]},
        headers=auth,
    )
    assert child.status_code == 201, child.text
    address = platform.client.post(
        "/api/me/addresses",
        json={
            "label": "家",
            "recipient": "王芳",
            "phone": "138 0000 1234",
            "text": "杭州市西湖区北山街1号",
            "location": WEST_LAKE,
        },
        headers=auth,
    )
    assert address.status_code == 201, address.text
    assert address.json()["district_code"] == "330106"
    assert address.json()["phone_masked"] == "138****1234"
    assert [m["name"] for m in platform.client.get("/api/me/family", headers=auth).json()] == ["小明"]
    assert len(platform.client.get("/api/me/addresses", headers=auth).json()) == 1
    assert _audit_rows(platform, patient_id) == [
        ("create", "family_member", "ok"),
        ("create", "address", "ok"),
        ("list", "family_member", "ok"),
        ("list", "address", "ok"),
    ]
    _, stranger = _patient(platform)
    peek = platform.client.get(f"/api/me/family/{child.json()['id']}", headers=stranger)
    assert peek.status_code == 404  # someone else's record looks exactly like a missing one
    assert _audit_rows(platform, patient_id)[-1] == ("denied", "family_member", "denied")


def test_addresses_outside_the_service_area_are_refused(platform: Platform) -> None:
    _, auth = _patient(platform)
    answer = platform.client.post(
        "/api/me/addresses",
        json={
            "label": "公司",
            "recipient": "王芳",
            "phone": "13800001234",
            "text": "上海市人民广场",
            "location": {"lat": 31.2304, "lng": 121.4737},
        },
        headers=auth,
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "location"


def test_staff_roles_cannot_read_patient_records(platform: Platform) -> None:
    for role in (Role.COURIER, Role.STORE_STAFF, Role.DOCTOR, Role.ADMIN):
        assert platform.client.get("/api/me/family", headers=platform.auth(role)).status_code == 403
