"""Real-name verification over HTTP: a bad number changes nothing, a good one unlocks Rx checkout, and an
account keeps the identity it was verified with."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from page_session import _hidden, _signed_in, _user
from shop import NEAR, make_shop, prescribe
from support import PASSWORD, Platform
from yaodao.accounts.model import Role, User
from yaodao.adapters.db import tables as t
from yaodao.kernel.ids import new_id

GOOD = "11010519491231002X"  # GB 11643's example: born 1949-12-31, a woman
OTHER = "330106199003071236"


def _patient(platform: Platform) -> tuple[str, dict[str, str]]:
    user = User(
        id=new_id(), email=f"id-{uuid.uuid4().hex[:10]}@test.yaodao.local", display_name="实名",
        password_hash=platform.container.passwords.hash(PASSWORD), roles=frozenset({Role.PATIENT}),
    )  # fmt: skip
    with platform.container.uow() as uow:
        uow.users.add(user, platform.clock.now())
        uow.commit()
    token = platform.client.post("/api/auth/token", json={"email": user.email, "password": PASSWORD})
    return user.id, {"Authorization": f"Bearer {token.json()['access_token']}"}


def _stored(platform: Platform, user_id: str) -> tuple[str | None, object, object]:
    with platform.container.engine.connect() as conn:
        row = conn.execute(
            select(t.users.c.id_number_hash, t.users.c.date_of_birth, t.users.c.sex).where(t.users.c.id == user_id)
        ).one()
    return row.id_number_hash, row.date_of_birth, row.sex


def test_a_bad_number_is_refused_and_nothing_is_stored(platform: Platform) -> None:
    user_id, headers = _patient(platform)
    for body, status in [
        ({"full_name": "王芳", "id_number": "110105194912310021"}, 422),  # check character wrong
        ({"full_name": "王芳", "id_number": "11010519490230002X"}, 422),  # 30 February, and a wrong check
        ({"full_name": "", "id_number": GOOD}, 422),
        ({"full_name": "王芳"}, 422),
        ({"full_name": "王芳", "id_number": GOOD, "extra": 1}, 422),
    ]:
        answer = platform.client.post("/api/me/identity", json=body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
    assert _stored(platform, user_id) == (None, None, None)
    assert platform.client.get("/api/me/identity", headers=headers).json() == {"verified": False}


def test_verifying_stores_only_a_keyed_hash_fills_the_profile_and_unlocks_rx_checkout(platform: Platform) -> None:
    shop = make_shop(platform, stock=5)
    user_id, headers = _patient(platform)
    rx_id = prescribe(platform, user_id, shop.rx_id)
    order = {
        "lines": [{"product_id": shop.rx_id, "quantity": 1, "prescription_id": rx_id}],
        "location": {"lat": NEAR.lat, "lng": NEAR.lng}, "address_text": "北山街1号", "rx_risk_acknowledged": True,
    }  # fmt: skip
    before = platform.client.post("/api/orders", json=order, headers={**headers, "Idempotency-Key": "a"})
    assert before.status_code == 422
    assert "real-name" in before.text
    answer = platform.client.post("/api/me/identity", json={"full_name": "王芳", "id_number": GOOD}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"verified": True, "date_of_birth": "1949-12-31", "sex": "f"}
    key, born, sex = _stored(platform, user_id)
    assert key is not None
    assert GOOD not in key
    assert len(key) == 64
    assert (str(born), sex) == ("1949-12-31", "f")
    after = platform.client.post("/api/orders", json=order, headers={**headers, "Idempotency-Key": "b"})
    assert after.status_code == 201, after.text


def test_an_account_keeps_its_identity_and_a_mismatched_birth_date_is_refused(platform: Platform) -> None:
    user_id, headers = _patient(platform)
    verify = {"full_name": "王芳", "id_number": GOOD}
    assert platform.client.post("/api/me/identity", json=verify, headers=headers).status_code == 200
    stored = _stored(platform, user_id)
    assert platform.client.post("/api/me/identity", json=verify, headers=headers).status_code == 200  # the same
    other = platform.client.post("/api/me/identity", json={"full_name": "李四", "id_number": OTHER}, headers=headers)
    assert other.status_code == 409
    assert _stored(platform, user_id) == stored
    second_id, second = _patient(platform)
    profile = {"date_of_birth": "1990-03-08", "sex": "m", "allergies": [], "current_medicines": []}
    assert platform.client.put("/api/me/profile", json=profile, headers=second).status_code == 200
    mismatch = platform.client.post("/api/me/identity", json={"full_name": "李四", "id_number": OTHER}, headers=second)
    assert mismatch.status_code == 422
    assert "birth date" in mismatch.json()["detail"]
    assert _stored(platform, second_id)[0] is None


def test_only_patients_verify_themselves(platform: Platform) -> None:
    for role in (Role.PHARMACIST, Role.COURIER):
        answer = platform.client.post(
            "/api/me/identity", json={"full_name": "王芳", "id_number": GOOD}, headers=platform.auth(role)
        )
        assert answer.status_code == 403
    assert platform.client.post("/api/me/identity", json={"full_name": "王芳", "id_number": GOOD}).status_code == 401


def test_the_page_verifies_sends_back_only_within_the_site_and_shows_problems(platform: Platform) -> None:
    user = _user(platform)
    with platform.container.engine.begin() as conn:  # not yet verified
        conn.execute(t.users.update().where(t.users.c.id == user.id).values(id_number_hash=None, date_of_birth=None))
    browser = _signed_in(platform, user)
    form = _hidden(browser.get("/me/identity?back=//evil.example/x").text, "/me/identity")
    assert form["back"] == ""
    bad = browser.post("/me/identity", data={**form, "full_name": "王芳", "id_number": "110105194912310021"})
    assert bad.status_code == 422
    assert "check character" in bad.text
    form = _hidden(browser.get("/me/identity?back=/cart").text, "/me/identity")
    done = browser.post("/me/identity", data={**form, "full_name": "王芳", "id_number": GOOD})
    assert done.status_code == 303
    assert done.headers["location"] == "/cart"
    assert 'data-verified="true"' in browser.get("/me/identity").text
