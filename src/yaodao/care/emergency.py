"""Where a red flag sends the patient: the emergency number and the nearest emergency departments (RF1).

The list of a city's emergency departments ships as data (``data/emergency_<city>.json``; see the README
there: the coordinates are approximate and operators verify them). Without the patient's position the
departments come in the file's order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from yaodao.kernel.geo import LatLng, haversine_km

DEFAULT_CITY = "hangzhou"


@dataclass(frozen=True, slots=True)
class EmergencyDepartment:
    id: str
    name_zh: str
    name_en: str
    address_zh: str
    location: LatLng


@dataclass(frozen=True, slots=True)
class EmergencyGuidance:
    number: str
    message_zh: str
    message_en: str
    crisis_line: bool
    nearest: tuple[tuple[EmergencyDepartment, float | None], ...]  # with the distance in km when known


@lru_cache(maxsize=8)
def departments(city_id: str = DEFAULT_CITY) -> tuple[str, tuple[EmergencyDepartment, ...]]:
    """The emergency number and the emergency departments of ``city_id`` (Hangzhou's for an unknown city)."""
    name = f"emergency_{city_id}.json"
    folder = resources.files("yaodao.care") / "data"
    source = folder / name if (folder / name).is_file() else folder / f"emergency_{DEFAULT_CITY}.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    found = tuple(
        EmergencyDepartment(d["id"], d["name_zh"], d["name_en"], d["address_zh"], LatLng(d["lat"], d["lng"]))
        for d in data["departments"]
    )
    return str(data["emergency_number"]), found


def guidance(*, city_id: str | None, near: LatLng | None, crisis: bool = False, limit: int = 3) -> EmergencyGuidance:
    number, known = departments(city_id or DEFAULT_CITY)
    if near is None:
        ranked: list[tuple[EmergencyDepartment, float | None]] = [(d, None) for d in known]
    else:
        ranked = sorted(((d, round(haversine_km(near, d.location), 1)) for d in known), key=lambda p: p[1] or 0.0)
    zh = f"这可能是急症，不适合在线问诊。请立即拨打{number}，或尽快前往最近的医院急诊。"
    en = (
        f"This may be an emergency and cannot wait for an online consultation. Call {number} now"
        " or go to the nearest emergency department."
    )
    if crisis:
        zh += "如果您有伤害自己的想法，请同时拨打心理援助热线 12356。"
        en += " If you are thinking of harming yourself, also call the mental-health helpline 12356."
    return EmergencyGuidance(number, zh, en, crisis, tuple(ranked[:limit]))
