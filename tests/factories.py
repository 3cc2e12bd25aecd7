"""Valid request bodies with random references, so tests never collide."""

from __future__ import annotations

import uuid
from typing import Any


def ref() -> str:
    return uuid.uuid4().hex[:10]


def product_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": f"test-ibuprofen-{ref()}",
        "kind": "drug",
        "generic_name_zh": "布洛芬片",
        "generic_name_en": "Ibuprofen Tablets",
        "brand_name_zh": None,
        "brand_name_en": None,
        "manufacturer_zh": "华润双鹤药业股份有限公司",
        "ingredients": [{"inn": "ibuprofen", "name_zh": "布洛芬", "amount": 200, "unit": "mg"}],
        "dosage_form": "tablet",
        "strength": "0.2g",
        "pack_size": 24,
        "pack_unit": "tablet",
        "pack_text_zh": "0.2g×24片",
        "drug_class": "otc_a",
        "categories": ["fever_pain"],
        "indications_zh": ["头痛", "发热"],
        "indications_en": ["headache", "fever"],
        "contraindications": ["对本品过敏者禁用"],
        "min_age_years": 12,
        "max_per_order": 5,
        "cold_chain": False,
        "price_fen": 1250,
    }
    body.update(overrides)
    return body


# West Lake (西湖) shore, GCJ-02: inside Hangzhou's Xihu district.
WEST_LAKE = {"lat": 30.2587, "lng": 120.1485}


def pharmacy_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "city_id": "hangzhou",
        "name": f"测试大药房({ref()}店)",
        "brand": "测试大药房",
        "address": "杭州市西湖区北山街1号",
        "location": dict(WEST_LAKE),
        "open_24h": False,
        "opens": "08:00",
        "closes": "22:00",
        "prep_minutes": 6,
        "licence_no": f"浙CA5710{ref()[:4]}",
    }
    body.update(overrides)
    return body


def square(lng: float, lat: float, half: float) -> list[list[float]]:
    return [
        [lng - half, lat - half],
        [lng + half, lat - half],
        [lng + half, lat + half],
        [lng - half, lat + half],
        [lng - half, lat - half],
    ]


def city_body(**overrides: Any) -> dict[str, Any]:
    """A small real second city: the core of Ningbo (宁波), around Tianyi Square, as a square."""
    body: dict[str, Any] = {
        "id": f"ningbo-{ref()[:6]}",
        "name_zh": "宁波",
        "name_en": "Ningbo",
        "timezone": "Asia/Shanghai",
        "datum": "gcj02",
        "service_area": {"type": "Polygon", "coordinates": [square(121.55, 29.87, 0.08)]},
        "windows": [
            {"name": "day", "start": "08:00", "end": "21:00", "promise_minutes": 30},
            {"name": "night", "start": "21:00", "end": "08:00", "promise_minutes": 60},
        ],
        "speed_kmh_by_hour": [20] * 7 + [15] * 3 + [18] * 7 + [14] * 3 + [19] * 4,
        "detour_factor": 1.35,
    }
    body.update(overrides)
    return body
