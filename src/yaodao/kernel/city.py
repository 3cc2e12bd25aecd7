"""A city is data: service area, timezone, day/night windows and their promises, speeds.

Adding a city means adding its data (see ``yaodao/cities/``); no code changes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import ValidationFailed
from yaodao.kernel.geo import LatLng, bbox, point_in_ring, ring_problems

DATUMS = ("gcj02", "wgs84")
_CITY_ID = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class ServiceWindow:
    """A part of the local day with its delivery promise; ``end`` may wrap past midnight."""

    name: str
    start: time
    end: time
    promise_minutes: int

    def minutes(self) -> range | tuple[range, range]:
        s = self.start.hour * 60 + self.start.minute
        e = self.end.hour * 60 + self.end.minute
        if s < e:
            return range(s, e)
        return (range(s, MINUTES_PER_DAY), range(0, e))

    def contains(self, local: time) -> bool:
        m = local.hour * 60 + local.minute
        s = self.start.hour * 60 + self.start.minute
        e = self.end.hour * 60 + self.end.minute
        return s <= m < e if s < e else (m >= s or m < e)


@dataclass(frozen=True, slots=True)
class District:
    code: str
    name_zh: str
    name_en: str
    rings: tuple[tuple[tuple[float, float], ...], ...]
    weight: float = 1.0  # relative demand/density, used to spread pharmacies and demand

    def contains(self, point: LatLng) -> bool:
        return any(point_in_ring(point, ring) for ring in self.rings)


@dataclass(frozen=True, slots=True)
class City:
    id: str
    name_zh: str
    name_en: str
    timezone: str
    datum: str
    service_area: tuple[tuple[tuple[float, float], ...], ...]
    windows: tuple[ServiceWindow, ...]
    speed_kmh_by_hour: tuple[float, ...]
    detour_factor: float = 1.3
    districts: tuple[District, ...] = ()
    _bbox: tuple[float, float, float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = city_problems(self)
        if problems:
            raise ValidationFailed("; ".join(f"{f}: {m}" for f, m in problems), field=problems[0][0], errors=problems)
        object.__setattr__(self, "_bbox", bbox(self.service_area))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, at: datetime) -> datetime:
        return require_aware(at).astimezone(self.tz)

    def window_at(self, at: datetime) -> ServiceWindow:
        local = self.local(at).time()
        for window in self.windows:
            if window.contains(local):
                return window
        raise AssertionError("windows cover the whole day")  # guaranteed by city_problems

    def promise_minutes(self, at: datetime) -> int:
        return self.window_at(at).promise_minutes

    def speed_kmh(self, at: datetime) -> float:
        return self.speed_kmh_by_hour[self.local(at).hour]

    def contains(self, point: LatLng) -> bool:
        min_lng, min_lat, max_lng, max_lat = self._bbox
        if not (min_lng <= point.lng <= max_lng and min_lat <= point.lat <= max_lat):
            return False
        return any(point_in_ring(point, ring) for ring in self.service_area)

    def district_of(self, point: LatLng) -> District | None:
        return next((d for d in self.districts if d.contains(point)), None)


def city_problems(city: City) -> list[tuple[str, str]]:
    """Every rule a city's data breaks, as (field, message) pairs."""
    out: list[tuple[str, str]] = []
    if not _CITY_ID.match(city.id):
        out.append(("id", "must be 2-40 lower-case letters, digits, '-' or '_', starting with a letter"))
    if not city.name_zh.strip() or not city.name_en.strip():
        out.append(("name", "name_zh and name_en must not be empty"))
    try:
        if city.timezone not in available_timezones():
            raise ZoneInfoNotFoundError(city.timezone)
    except ZoneInfoNotFoundError:
        out.append(("timezone", f"unknown IANA timezone {city.timezone!r}"))
    if city.datum not in DATUMS:
        out.append(("datum", f"must be one of {', '.join(DATUMS)}"))
    if not city.service_area:
        out.append(("service_area", "needs at least one polygon"))
    for i, ring in enumerate(city.service_area):
        out.extend((f"service_area[{i}]", p) for p in ring_problems(ring))
    for d in city.districts:
        for i, ring in enumerate(d.rings):
            out.extend((f"districts[{d.code}].rings[{i}]", p) for p in ring_problems(ring))
    out.extend(_window_problems(city.windows))
    if len(city.speed_kmh_by_hour) != 24:
        out.append(("speed_kmh_by_hour", "needs exactly 24 values, one per local hour"))
    elif any(not (math.isfinite(s) and 1 <= s <= 120) for s in city.speed_kmh_by_hour):
        out.append(("speed_kmh_by_hour", "every speed must be between 1 and 120 km/h"))
    if not (math.isfinite(city.detour_factor) and 1.0 <= city.detour_factor <= 3.0):
        out.append(("detour_factor", "must be between 1.0 and 3.0"))
    return out


def _window_problems(windows: Sequence[ServiceWindow]) -> list[tuple[str, str]]:
    if not windows:
        return [("windows", "need at least one service window")]
    out: list[tuple[str, str]] = []
    covered = [0] * MINUTES_PER_DAY
    for i, w in enumerate(windows):
        if not 5 <= w.promise_minutes <= 24 * 60:
            out.append((f"windows[{i}].promise_minutes", "must be between 5 and 1440"))
        if w.start == w.end:
            out.append((f"windows[{i}]", "start and end must differ"))
            continue
        spans = w.minutes()
        for span in spans if isinstance(spans, tuple) else (spans,):
            for m in span:
                covered[m] += 1
    if not out:
        if any(c > 1 for c in covered):
            out.append(("windows", "service windows overlap"))
        elif any(c == 0 for c in covered):
            out.append(("windows", "service windows must cover all 24 hours"))
    return out


def _parse_time(value: Any, where: str) -> time:
    try:
        hh, mm = str(value).split(":")
        return time(int(hh), int(mm))
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(f"{where}: expected HH:MM, got {value!r}", field=where) from exc


def _rings_from_geometry(geometry: Mapping[str, Any], where: str) -> tuple[tuple[tuple[float, float], ...], ...]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon" and isinstance(coords, list):
        polygons = [coords]
    elif kind == "MultiPolygon" and isinstance(coords, list):
        polygons = coords
    else:
        raise ValidationFailed(f"{where}: expected a GeoJSON Polygon or MultiPolygon", field=where)
    try:
        # Outer rings only: our boundary data has no holes, and service areas are unions.
        return tuple(tuple((float(p[0]), float(p[1])) for p in poly[0]) for poly in polygons)
    except (TypeError, IndexError, ValueError) as exc:
        raise ValidationFailed(f"{where}: positions must be [longitude, latitude] numbers", field=where) from exc


def city_from_data(data: Mapping[str, Any], districts_geojson: Mapping[str, Any] | None = None) -> City:
    """Build a City from its JSON data (and optional district GeoJSON FeatureCollection)."""
    try:
        windows = tuple(
            ServiceWindow(
                name=str(w["name"]),
                start=_parse_time(w["start"], f"windows[{i}].start"),
                end=_parse_time(w["end"], f"windows[{i}].end"),
                promise_minutes=int(w["promise_minutes"]),
            )
            for i, w in enumerate(data["windows"])
        )
        districts: list[District] = []
        weights = {str(k): float(v) for k, v in dict(data.get("district_weights", {})).items()}
        for feature in (districts_geojson or {}).get("features", []):
            props = feature.get("properties", {})
            code = str(props.get("adcode") or props.get("code"))
            districts.append(
                District(
                    code=code,
                    name_zh=str(props.get("district") or props.get("name_zh") or code),
                    name_en=str(props.get("name_en") or data.get("district_names_en", {}).get(code, code)),
                    rings=_rings_from_geometry(feature["geometry"], f"districts[{code}]"),
                    weight=weights.get(code, 1.0),
                )
            )
        return City(
            id=str(data["id"]),
            name_zh=str(data["name_zh"]),
            name_en=str(data["name_en"]),
            timezone=str(data["timezone"]),
            datum=str(data["datum"]),
            service_area=_rings_from_geometry(data["service_area"], "service_area"),
            windows=windows,
            speed_kmh_by_hour=tuple(float(s) for s in data["speed_kmh_by_hour"]),
            detour_factor=float(data.get("detour_factor", 1.3)),
            districts=tuple(districts),
        )
    except KeyError as exc:
        raise ValidationFailed(f"missing field {exc.args[0]!r}", field=str(exc.args[0])) from exc
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"malformed city data: {exc}") from exc
