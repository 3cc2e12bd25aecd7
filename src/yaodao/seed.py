"""Seed the embedded platform: the Hangzhou pilot city, the catalog, its pharmacy network and stock.

Idempotent: each part is seeded only when absent, so ``make run`` can call it on every start.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any

import structlog

from yaodao.accounts.model import Role, User
from yaodao.adapters.db.uow import UnitOfWork
from yaodao.bootstrap import Container
from yaodao.care.doctors import Doctor
from yaodao.catalog.model import Product
from yaodao.catalog.network import NetworkParams, generate_pharmacies
from yaodao.catalog.services import build_product, validate_city_data
from yaodao.catalog.stocking import StockingParams, generate_stock
from yaodao.delivery.model import Courier, Shift
from yaodao.kernel.ids import new_id

log = structlog.get_logger(__name__)

DEMO_DEPARTMENTS = ("internal_medicine", "cardiology", "respiratory", "gastroenterology", "dermatology")
DEMO_SHIFT_DAYS = 7
DEMO_PASSWORD = "yaodao-demo-2026"  # printed in the README; the demo accounts exist only when YAODAO_ENV=development


def city_files(city_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    folder = resources.files("yaodao.cities").joinpath(city_id)
    data = json.loads(folder.joinpath("city.json").read_text(encoding="utf-8"))
    districts_file = folder.joinpath("districts.geojson")
    districts = json.loads(districts_file.read_text(encoding="utf-8")) if districts_file.is_file() else {}
    return data, districts


def product_records() -> Iterator[dict[str, Any]]:
    text = resources.files("yaodao.catalog.seed").joinpath("products.jsonl").read_text(encoding="utf-8")
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"products.jsonl line {n}: {exc}") from exc


def seed_products() -> list[Product]:
    """Every seed record through the same validation as the admin API (prohibition list included)."""
    out = []
    for record in product_records():
        product_id = f"pr-{record['sku']}"
        out.append(build_product(record, product_id=product_id, requested_sellable=None))
    return out


@dataclass(frozen=True)
class SeedReport:
    city_id: str
    products: int
    pharmacies: int
    stock_rows: int
    users: int


def seed(container: Container, *, city_id: str = "hangzhou", demo_users: bool | None = None) -> SeedReport:
    seed_value = container.settings.seed
    with container.uow() as uow:
        now = uow.clock.now()
        if uow.cities.get_data(city_id) is None:
            data, districts = city_files(city_id)
            validate_city_data(data, districts)
            uow.cities.add(data, districts, now)
        if uow.products.count() == 0:
            uow.products.add_many(seed_products(), now)
        uow.commit()
    container.cities.forget(city_id)
    city = container.cities.get(city_id)
    assert city is not None
    with container.uow() as uow:
        now = uow.clock.now()
        pharmacies = uow.pharmacies.in_city(city_id)
        if not pharmacies:
            pharmacies = generate_pharmacies(city, seed=seed_value, params=NetworkParams())
            uow.pharmacies.add_many(pharmacies, now)
            products = uow.products.all()
            levels = generate_stock(pharmacies, products, seed=seed_value, params=StockingParams())
            uow.stock.add_many(levels, {p.id: p.city_id for p in pharmacies}, now)
        uow.commit()
    if not container.search.index_is_current():
        container.search.reindex()
    users = 0
    if demo_users if demo_users is not None else container.settings.env == "development":
        users = _seed_demo_users(container, pharmacies[0].id, city_id)
    with container.uow(read_only=True) as uow:
        report = SeedReport(
            city_id=city_id,
            products=uow.products.count(),
            pharmacies=len(pharmacies),
            stock_rows=len(uow.stock.in_city(city_id)),
            users=users,
        )
    log.info("seeded", **report.__dict__)
    return report


def _seed_demo_users(container: Container, pharmacy_id: str, city_id: str) -> int:
    created = 0
    for role in Role:
        email = f"{role.value.replace('_', '-')}@demo.yaodao.local"
        with container.uow(read_only=True) as uow:
            if uow.users.by_email(email) is not None:
                continue
        scoped = role in (Role.PHARMACIST, Role.STORE_STAFF)
        with container.uow() as uow:
            uow.users.add(
                User(
                    id=new_id(),
                    email=email,
                    display_name=f"Demo {role.value}",
                    password_hash=container.passwords.hash(DEMO_PASSWORD),
                    roles=frozenset({role}),
                    pharmacy_id=pharmacy_id if scoped else None,
                    city_id=city_id if role is Role.OPERATOR else None,
                    # The demo patient can buy age-limited OTC products at once (real-name ID still unset).
                    date_of_birth=date(1990, 6, 1) if role is Role.PATIENT else None,
                ),
                uow.clock.now(),
            )
            user = uow.users.by_email(email)
            assert user is not None
            if role is Role.DOCTOR:
                _demo_doctor(uow, user.id)
            if role is Role.COURIER:
                _demo_courier(uow, user.id, city_id)
            uow.commit()
        created += 1
    return created


def _demo_doctor(uow: UnitOfWork, user_id: str) -> None:
    """The demo doctor may take consultations at once: verified, no roster (always on duty)."""
    uow.doctors.add(
        Doctor(
            id=user_id, licence_no="DEMO-110330000001", hospital="演示医院 Demo Hospital", province="zhejiang",
            city="hangzhou", departments=DEMO_DEPARTMENTS, languages=("zh", "en"), verified=True,
            years_practising=10, max_concurrent=5,
        ),
        uow.clock.now(),
    )  # fmt: skip


def _demo_courier(uow: UnitOfWork, user_id: str, city_id: str) -> None:
    """The demo courier has an e-bike and 12-hour shifts for the week after seeding, so it can go online."""
    now = uow.clock.now()
    uow.couriers.add(Courier(user_id=user_id, city_id=city_id, first_name="小演", phone="13800138000"), now)
    for n in range(DEMO_SHIFT_DAYS * 2):
        start = now + timedelta(hours=12 * n)
        uow.couriers.add_shift(Shift(new_id(), user_id, city_id, start, start + timedelta(hours=12)), now)
