"""Every admin endpoint against every role: allowed roles succeed, others get 401/403 and change nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from factories import city_body, pharmacy_body, product_body, ref
from support import Platform
from yaodao.accounts.model import Role
from yaodao.adapters.db import tables as t
from yaodao.kernel.paging import PageRequest

R = Role
READERS = {R.ADMIN, R.OPERATOR, R.PHARMACIST, R.STORE_STAFF}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: Callable[[Platform], str]
    allowed: frozenset[Role]
    body: Callable[[], dict[str, Any]] | None = None
    ok: int = 200


def _product_id(p: Platform) -> str:
    with p.container.uow(read_only=True) as uow:
        return uow.products.list_page(PageRequest(1, 1)).items[0].id


ENDPOINTS = [
    Endpoint("list products", "GET", lambda p: "/api/admin/products", frozenset(READERS)),
    Endpoint("create product", "POST", lambda p: "/api/admin/products", frozenset({R.ADMIN}), product_body, 201),
    Endpoint("get product", "GET", lambda p: f"/api/admin/products/{_product_id(p)}", frozenset(READERS)),
    Endpoint(
        "update product",
        "PATCH",
        lambda p: f"/api/admin/products/{_product_id(p)}",
        frozenset({R.ADMIN}),
        lambda: {"max_per_order": 6},
    ),
    Endpoint("list pharmacies", "GET", lambda p: "/api/admin/pharmacies", frozenset(READERS)),
    Endpoint("create pharmacy", "POST", lambda p: "/api/admin/pharmacies", frozenset({R.ADMIN}), pharmacy_body, 201),
    Endpoint("get pharmacy", "GET", lambda p: f"/api/admin/pharmacies/{p.other_pharmacy_id}", frozenset(READERS)),
    Endpoint(
        "update pharmacy",
        "PATCH",
        lambda p: f"/api/admin/pharmacies/{p.other_pharmacy_id}",
        frozenset({R.ADMIN, R.OPERATOR}),
        lambda: {"prep_minutes": 7},
    ),
    Endpoint("list own stock", "GET", lambda p: f"/api/admin/pharmacies/{p.pharmacy_id}/stock", frozenset(READERS)),
    Endpoint(
        "list other stock",
        "GET",
        lambda p: f"/api/admin/pharmacies/{p.other_pharmacy_id}/stock",
        frozenset({R.ADMIN, R.OPERATOR}),
    ),
    Endpoint(
        "set own stock",
        "PUT",
        lambda p: f"/api/admin/pharmacies/{p.pharmacy_id}/stock/{_product_id(p)}",
        frozenset({R.ADMIN, R.STORE_STAFF}),
        lambda: {"quantity": 12},
    ),
    Endpoint(
        "set other stock",
        "PUT",
        lambda p: f"/api/admin/pharmacies/{p.other_pharmacy_id}/stock/{_product_id(p)}",
        frozenset({R.ADMIN}),
        lambda: {"quantity": 13},
    ),
    Endpoint("list cities", "GET", lambda p: "/api/admin/cities", frozenset({R.ADMIN, R.OPERATOR})),
    Endpoint("get city", "GET", lambda p: "/api/admin/cities/hangzhou", frozenset({R.ADMIN, R.OPERATOR})),
    Endpoint("create city", "POST", lambda p: "/api/admin/cities", frozenset({R.ADMIN}), city_body, 201),
    Endpoint(
        "create user",
        "POST",
        lambda p: "/api/admin/users",
        frozenset({R.ADMIN}),
        lambda: {
            "email": f"nurse-{ref()}@test.yaodao.local",
            "password": "long-enough-pw",
            "display_name": "Nurse",
            "roles": ["pharmacist"],
            "pharmacy_id": None,
        },
        201,
    ),
    Endpoint("read audit log", "GET", lambda p: "/api/admin/audit", frozenset({R.ADMIN})),
]
ROLES: list[Role | None] = [None, *Role]


def _state(p: Platform) -> tuple[int, ...]:
    """Row counts of everything an admin endpoint can create, and the versions it can bump."""
    tables = (t.products, t.pharmacies, t.stock_levels, t.cities, t.users)
    with p.container.engine.connect() as conn:
        counts = [conn.execute(select(func.count()).select_from(tbl)).scalar_one() for tbl in tables]
        versions = [
            conn.execute(select(func.coalesce(func.sum(tbl.c.version), 0))).scalar_one()
            for tbl in (t.products, t.pharmacies, t.stock_levels)
        ]
    return (*counts, *versions)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name.replace(" ", "_"))
def test_each_role_is_allowed_exactly_what_the_policy_grants(
    platform: Platform, endpoint: Endpoint, role: Role | None
) -> None:
    """Allowed roles get the success status; others get 401 (anonymous) or 403, and nothing changes."""
    body = endpoint.body() if endpoint.body else None
    if endpoint.name == "create user" and body is not None:
        body["pharmacy_id"] = platform.pharmacy_id
    before = _state(platform)
    answer = platform.client.request(endpoint.method, endpoint.path(platform), json=body, headers=platform.auth(role))
    if role is not None and role in endpoint.allowed:
        assert answer.status_code == endpoint.ok, answer.text
        return
    expected = 401 if role is None else 403
    assert answer.status_code == expected, answer.text
    assert answer.json()["status"] == expected
    assert _state(platform) == before
