"""A test shop: a fresh 24-hour pharmacy near West Lake stocking a fresh OTC and a fresh Rx product."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from factories import WEST_LAKE, pharmacy_body, product_body
from support import Platform
from yaodao.accounts.model import Role, User
from yaodao.accounts.policy import Actor
from yaodao.care.consultation import Consultation, ConsultStatus, PriorDiagnosis
from yaodao.care.doctors import Doctor
from yaodao.care.prescribing import generate_key, sign
from yaodao.kernel.geo import LatLng
from yaodao.kernel.ids import new_id
from yaodao.ordering.prescriptions import PrescribedItem, Prescription

NEAR = LatLng(WEST_LAKE["lat"] + 0.002, WEST_LAKE["lng"] + 0.002)


@dataclass
class Shop:
    pharmacy_id: str
    otc_id: str
    rx_id: str


def make_shop(platform: Platform, stock: int) -> Shop:
    admin = platform.auth(Role.ADMIN)
    client = platform.client
    otc = client.post("/api/admin/products", json=product_body(drug_class="otc_b", price_fen=1500), headers=admin)
    rx = client.post(
        "/api/admin/products",
        json=product_body(
            drug_class="rx", generic_name_zh="阿莫西林胶囊", generic_name_en="Amoxicillin Capsules",
            ingredients=[{"inn": "amoxicillin", "name_zh": "阿莫西林", "amount": 250, "unit": "mg"}],
            categories=["antibiotic"], min_age_years=None, price_fen=2200,
        ),
        headers=admin,
    )  # fmt: skip
    shop = client.post("/api/admin/pharmacies", json=pharmacy_body(open_24h=True), headers=admin)
    assert otc.status_code == rx.status_code == shop.status_code == 201, (otc.text, rx.text, shop.text)
    pharmacy_id = shop.json()["id"]
    for product in (otc, rx):
        put = client.put(
            f"/api/admin/pharmacies/{pharmacy_id}/stock/{product.json()['id']}", json={"quantity": stock}, headers=admin
        )
        assert put.status_code == 200, put.text
    platform.container.relay.drain()
    return Shop(pharmacy_id, otc.json()["id"], rx.json()["id"])


def make_patients(platform: Platform, n: int, *, identity: str | None = None) -> list[Actor]:
    actors = []
    with platform.container.uow() as uow:
        for _ in range(n):
            user = User(
                id=new_id(), email=f"p-{new_id()[-12:]}@test.yaodao.local", display_name="Patient",
                password_hash="x", roles=frozenset({Role.PATIENT}), date_of_birth=date(1990, 5, 1),
                id_number_hash=identity or f"id-{new_id()}",
            )  # fmt: skip
            uow.users.add(user, platform.clock.now())
            actors.append(Actor(user_id=user.id, roles=user.roles))
        uow.commit()
    return actors


def make_doctor(platform: Platform, *, verified: bool = True, years: int = 8) -> tuple[str, Ed25519PrivateKey]:
    """A doctor account with a professional profile and a registered signing key (its private half)."""
    now = platform.clock.now()
    with platform.container.uow() as uow:
        user = User(
            id=new_id(), email=f"dr-{new_id()[-12:]}@test.yaodao.local", display_name="Doctor",
            password_hash="x", roles=frozenset({Role.DOCTOR}),
        )  # fmt: skip
        uow.users.add(user, now)
        uow.doctors.add(
            Doctor(
                id=user.id, licence_no=f"11033{new_id()[-10:]}", hospital="浙江大学医学院附属第一医院",
                province="zhejiang", city="hangzhou", departments=("internal_medicine",), languages=("zh",),
                verified=verified, years_practising=years, max_concurrent=3,
            ),
            now,
        )  # fmt: skip
        key, public = generate_key()
        uow.doctors.add_key(new_id(), user.id, public, now - timedelta(days=1))
        uow.commit()
    return user.id, key


def prescribe(
    platform: Platform, patient_id: str, product_id: str, *, days_ago: int = 0, drug: str = "amoxicillin",
    doctor: tuple[str, Ed25519PrivateKey] | None = None, first_visit: bool = False,
) -> str:  # fmt: skip
    """A signed single-use e-prescription for one pack of ``product_id``, issued ``days_ago`` days ago
    (``first_visit``: marked, and signed, as written at a first visit)."""
    doctor_id, key = doctor or make_doctor(platform)
    issued = platform.clock.now() - timedelta(days=days_ago)
    rx = Prescription(
        id=new_id(), patient_id=patient_id, doctor_id=doctor_id, issued_at=issued,
        valid_until=issued + timedelta(hours=6),
        items=(PrescribedItem(drug, 1, "0.5g tid", 5, product_id=product_id),), first_visit=first_visit,
    )  # fmt: skip
    signed = dataclasses.replace(rx, signature=sign(rx, key))
    with platform.container.uow() as uow:
        uow.prescriptions.add(signed, platform.clock.now())
        uow.commit()
    return rx.id


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in n threads released together by a barrier; each result, or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as error:  # the outcome under test
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def consultation(
    platform: Platform, patient_id: str, *, owner_id: str | None = None, doctor_id: str | None = None,
    follow_up: bool = True, department: str = "internal_medicine", urgency: str = "routine",
    minutes_ago: float = 0,
) -> str:  # fmt: skip
    """A consultation stored as intake would store it: waiting, or active with ``doctor_id`` when given."""
    now = platform.clock.now()
    consult = Consultation(
        id=new_id(), patient_id=patient_id, owner_id=owner_id or patient_id, city_id="hangzhou",
        complaint="高血压复诊，想续开降压药", age_years=58, sex="m", pregnant=False, allergies=(), current_meds=(),
        diagnosis=PriorDiagnosis("hypertension", "杭州市第一人民医院", "2024-03") if follow_up else None,
        department=department, urgency=urgency, language="zh", requested_at=now - timedelta(minutes=minutes_ago),
    )  # fmt: skip
    if doctor_id is not None:
        consult.status, consult.doctor_id, consult.accepted_at = ConsultStatus.ACTIVE, doctor_id, now
    with platform.container.uow() as uow:
        uow.consultations.add(consult)
        uow.commit()
    return consult.id
