"""Accounts for consultation tests: a signed-in user of a role, a verified doctor, a follow-up intake."""

from __future__ import annotations

import uuid

from support import PASSWORD, Platform
from yaodao.accounts.model import Role, User
from yaodao.accounts.policy import Actor
from yaodao.care.doctors import Doctor
from yaodao.kernel.ids import new_id

FOLLOW_UP = {
    "text": "高血压三年了，一直吃氨氯地平，最近血压控制还可以，想复诊续药", "age_years": 58, "sex": "m",
    "diagnosis": {"name": "高血压", "where": "杭州市第一人民医院", "when": "2023-04"},
}  # fmt: skip
NOTE = {
    "complaint": "续药",
    "history": "高血压3年",
    "assessment": "血压控制良好",
    "advice": "继续服药",
    "follow_up": "1个月",
}


def account(platform: Platform, role: Role) -> tuple[User, dict[str, str]]:
    """A fresh signed-in account with ``role`` and its bearer header."""
    user = User(
        id=new_id(), email=f"{role.value}-{uuid.uuid4().hex[:10]}@test.yaodao.local", display_name=role.value,
        password_hash=platform.container.passwords.hash(PASSWORD), roles=frozenset({role}),
        pharmacy_id=platform.pharmacy_id if role in (Role.PHARMACIST, Role.STORE_STAFF) else None,
    )  # fmt: skip
    with platform.container.uow() as uow:
        uow.users.add(user, platform.clock.now())
        uow.commit()
    token = platform.client.post("/api/auth/token", json={"email": user.email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return user, {"Authorization": f"Bearer {token.json()['access_token']}"}


def doctor(
    platform: Platform, departments: tuple[str, ...] = ("cardiology",), max_concurrent: int = 3
) -> tuple[Actor, dict[str, str]]:
    user, headers = account(platform, Role.DOCTOR)
    with platform.container.uow() as uow:
        uow.doctors.add(
            Doctor(
                id=user.id, licence_no=f"33{uuid.uuid4().hex[:12]}", hospital="浙江省人民医院", province="zhejiang",
                city="hangzhou", departments=departments, languages=("zh", "en"), verified=True,
                years_practising=10, max_concurrent=max_concurrent,
            ),
            platform.clock.now(),
        )  # fmt: skip
        uow.commit()
    return Actor(user_id=user.id, roles=user.roles), headers


def active_consultation(platform: Platform) -> tuple[str, dict[str, str], dict[str, str]]:
    """A follow-up consultation a cardiologist has accepted: (id, the patient's headers, the doctor's headers)."""
    _, patient = account(platform, Role.PATIENT)
    _, doctor_headers = doctor(platform)
    made = platform.client.post("/api/consultations", json=FOLLOW_UP, headers=patient)
    assert made.status_code == 201, made.text
    consultation_id = made.json()["consultation"]["id"]
    taken = platform.client.post(f"/api/doctor/consultations/{consultation_id}/accept", headers=doctor_headers)
    assert taken.status_code == 200, taken.text
    return consultation_id, patient, doctor_headers
