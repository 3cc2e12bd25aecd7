"""Bad input gets a clear 4xx naming what is wrong, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from factories import city_body, pharmacy_body, product_body
from support import Platform
from yaodao.accounts.model import Role
from yaodao.adapters.db import tables as t


def _counts(p: Platform) -> tuple[int, ...]:
    with p.container.engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(tbl)).scalar_one()
            for tbl in (t.products, t.pharmacies, t.cities, t.stock_levels, t.outbox)
        )


def _fields(answer: Any) -> set[str]:
    return {e["field"] for e in answer.json()["errors"]}


PRODUCT_CASES = [
    ("price as a string", {"price_fen": "1250"}, "price_fen"),
    ("price as a float", {"price_fen": 12.5}, "price_fen"),
    ("negative price", {"price_fen": -1}, "price_fen"),
    ("zero price", {"price_fen": 0}, "price_fen"),
    ("unknown class", {"drug_class": "otc_c"}, "drug_class"),
    ("pack size as text", {"pack_size": "24"}, "pack_size"),
    ("unknown dosage form", {"dosage_form": "smoothie"}, "dosage_form"),
    ("unknown category", {"categories": ["fever_pain", "snacks"]}, "categories"),
    ("bad sku", {"sku": "Bad SKU!"}, "sku"),
    ("unknown field", {"discount": 5}, "discount"),
    ("no ingredients", {"ingredients": []}, "ingredients"),
    ("device with a drug class", {"kind": "device"}, "drug_class"),
    (
        "negative ingredient amount",
        {"ingredients": [{"inn": "ibuprofen", "name_zh": "布洛芬", "amount": -2}]},
        "ingredients.0.amount",
    ),
    (
        "prohibited drug marked sellable",
        {
            "generic_name_zh": "华法林钠片",
            "generic_name_en": "Warfarin Sodium Tablets",
            "drug_class": "rx",
            "ingredients": [{"inn": "warfarin sodium", "name_zh": "华法林钠", "amount": 2.5, "unit": "mg"}],
            "online_sellable": True,
        },
        "online_sellable",
    ),
    (
        "ephedrine combination marked sellable",
        {
            "ingredients": [
                {"inn": "paracetamol", "name_zh": "对乙酰氨基酚", "amount": 500, "unit": "mg"},
                {"inn": "pseudoephedrine hydrochloride", "name_zh": "盐酸伪麻黄碱", "amount": 30, "unit": "mg"},
            ],
            "online_sellable": True,
        },
        "online_sellable",
    ),
]


@pytest.mark.parametrize(("case", "change", "field"), PRODUCT_CASES, ids=[c[0] for c in PRODUCT_CASES])
def test_bad_product_input_is_refused_naming_the_field(
    platform: Platform, case: str, change: dict[str, Any], field: str
) -> None:
    """Each bad product gets a 422 (or 400) whose errors name the field, and no row is written."""
    before = _counts(platform)
    answer = platform.client.post("/api/admin/products", json=product_body(**change), headers=platform.auth(Role.ADMIN))
    assert answer.status_code == 422, answer.text
    assert field in _fields(answer), answer.json()
    assert _counts(platform) == before


def test_a_prohibited_product_is_stored_unsellable_with_its_reason(platform: Platform) -> None:
    """Without online_sellable the list decides: the product is listed for stores but never sold online."""
    body = product_body(
        generic_name_zh="地高辛片",
        generic_name_en="Digoxin Tablets",
        drug_class="rx",
        ingredients=[{"inn": "digoxin", "name_zh": "地高辛", "amount": 0.25, "unit": "mg"}],
    )
    answer = platform.client.post("/api/admin/products", json=body, headers=platform.auth(Role.ADMIN))
    assert answer.status_code == 201, answer.text
    assert answer.json()["online_sellable"] is False
    assert "digoxin" in answer.json()["prohibited_reason"]
    patch = platform.client.patch(
        f"/api/admin/products/{answer.json()['id']}", json={"online_sellable": True}, headers=platform.auth(Role.ADMIN)
    )
    assert patch.status_code == 422
    assert "online_sellable" in _fields(patch)


PHARMACY_CASES = [
    ("outside the city", {"location": {"lat": 31.2304, "lng": 121.4737}}, "location"),  # Shanghai People's Square
    ("latitude out of range", {"location": {"lat": 95, "lng": 120.15}}, "location.lat"),
    ("unknown city", {"city_id": "atlantis"}, "city_id"),
    ("bad opening time", {"opens": "25:00"}, "opens"),
    ("negative prep time", {"prep_minutes": -3}, "prep_minutes"),
    ("wrong district", {"district_code": "330108"}, "district_code"),
    ("equal hours without 24h", {"opens": "09:00", "closes": "09:00"}, "closes"),
]


@pytest.mark.parametrize(("case", "change", "field"), PHARMACY_CASES, ids=[c[0] for c in PHARMACY_CASES])
def test_bad_pharmacy_input_is_refused_naming_the_field(
    platform: Platform, case: str, change: dict[str, Any], field: str
) -> None:
    before = _counts(platform)
    answer = platform.client.post(
        "/api/admin/pharmacies", json=pharmacy_body(**change), headers=platform.auth(Role.ADMIN)
    )
    assert answer.status_code == 422, answer.text
    assert field in _fields(answer), answer.json()
    assert _counts(platform) == before


CITY_CASES = [
    (
        "polygon that does not close",
        {
            "service_area": {
                "type": "Polygon",
                "coordinates": [[[121.5, 29.8], [121.6, 29.8], [121.6, 29.9], [121.5, 29.9]]],
            }
        },
        "service_area[0]",
    ),
    (
        "self-intersecting polygon",
        {
            "service_area": {
                "type": "Polygon",
                "coordinates": [[[121.5, 29.8], [121.6, 29.9], [121.6, 29.8], [121.5, 29.9], [121.5, 29.8]]],
            }
        },
        "service_area[0]",
    ),
    ("unknown timezone", {"timezone": "Asia/Hangzhou"}, "timezone"),
    ("23 speeds", {"speed_kmh_by_hour": [18] * 23}, "speed_kmh_by_hour"),
    (
        "windows leave a gap",
        {
            "windows": [
                {"name": "day", "start": "08:00", "end": "20:00", "promise_minutes": 30},
                {"name": "night", "start": "21:00", "end": "08:00", "promise_minutes": 60},
            ]
        },
        "windows",
    ),
    (
        "windows overlap",
        {
            "windows": [
                {"name": "day", "start": "07:00", "end": "22:00", "promise_minutes": 30},
                {"name": "night", "start": "21:00", "end": "07:00", "promise_minutes": 60},
            ]
        },
        "windows",
    ),
    ("unknown datum", {"datum": "bd09"}, "datum"),
]


@pytest.mark.parametrize(("case", "change", "field"), CITY_CASES, ids=[c[0] for c in CITY_CASES])
def test_bad_city_data_is_refused_naming_the_field(
    platform: Platform, case: str, change: dict[str, Any], field: str
) -> None:
    before = _counts(platform)
    answer = platform.client.post("/api/admin/cities", json=city_body(**change), headers=platform.auth(Role.ADMIN))
    assert answer.status_code == 422, answer.text
    assert field in _fields(answer), answer.json()
    assert _counts(platform) == before


@pytest.mark.parametrize("quantity", [-1, 100_001, "5", 2.5, None, True])
def test_bad_stock_quantities_are_refused(platform: Platform, quantity: Any) -> None:
    with platform.container.uow(read_only=True) as uow:
        product = uow.products.all()[0]
    before = _counts(platform)
    answer = platform.client.put(
        f"/api/admin/pharmacies/{platform.pharmacy_id}/stock/{product.id}",
        json={"quantity": quantity},
        headers=platform.auth(Role.ADMIN),
    )
    assert answer.status_code == 422, answer.text
    assert "quantity" in _fields(answer)
    assert _counts(platform) == before


def test_empty_and_malformed_bodies_get_a_clear_4xx(platform: Platform) -> None:
    before = _counts(platform)
    auth = {**platform.auth(Role.ADMIN), "content-type": "application/json"}
    empty = platform.client.post("/api/admin/products", content=b"", headers=auth)
    assert empty.status_code in (400, 422)
    broken = platform.client.post("/api/admin/products", content=b'{"sku": "x",', headers=auth)
    assert broken.status_code == 400
    assert broken.json()["code"] == "malformed_json"
    not_object = platform.client.post("/api/admin/products", content=b"[1, 2, 3]", headers=auth)
    assert not_object.status_code == 422
    assert _counts(platform) == before


def test_a_ten_megabyte_body_is_refused_before_it_is_parsed(platform: Platform) -> None:
    before = _counts(platform)
    huge = b'{"sku": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    answer = platform.client.post(
        "/api/admin/products", content=huge, headers={**platform.auth(Role.ADMIN), "content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "body_too_large"
    assert _counts(platform) == before


def test_unknown_ids_answer_404(platform: Platform) -> None:
    auth = platform.auth(Role.ADMIN)
    for path in (
        "/api/admin/products/nope",
        "/api/admin/pharmacies/nope",
        "/api/admin/cities/nope",
        f"/api/admin/pharmacies/{platform.pharmacy_id}/stock/nope",
    ):
        answer = platform.client.get(path, headers=auth)
        assert answer.status_code == 404, path
        assert answer.json()["status"] == 404
    assert platform.client.patch("/api/admin/products/nope", json={"price_fen": 5}, headers=auth).status_code == 404
    put = platform.client.put("/api/admin/pharmacies/nope/stock/nope", json={"quantity": 1}, headers=auth)
    assert put.status_code == 404


def test_paging_parameters_are_validated(platform: Platform) -> None:
    auth = platform.auth(Role.ADMIN)
    for query in ("page=0", "page_size=0", "page_size=1000000000", "page=abc"):
        answer = platform.client.get(f"/api/admin/products?{query}", headers=auth)
        assert answer.status_code == 422, query
    page = platform.client.get("/api/admin/products?page=2&page_size=7", headers=auth).json()
    assert page["page"] == 2
    assert len(page["items"]) == max(0, min(7, page["total"] - 7))
    assert page["pages"] == -(-page["total"] // 7)


def test_a_stale_version_is_a_409_and_changes_nothing(platform: Platform) -> None:
    auth = platform.auth(Role.ADMIN)
    created = platform.client.post("/api/admin/products", json=product_body(), headers=auth).json()
    first = platform.client.patch(
        f"/api/admin/products/{created['id']}", json={"price_fen": 1300, "expected_version": 1}, headers=auth
    )
    assert first.status_code == 200
    assert first.json()["version"] == 2
    second = platform.client.patch(
        f"/api/admin/products/{created['id']}", json={"price_fen": 1400, "expected_version": 1}, headers=auth
    )
    assert second.status_code == 409
    assert platform.client.get(f"/api/admin/products/{created['id']}", headers=auth).json()["price_fen"] == 1300
