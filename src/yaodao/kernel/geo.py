"""Coordinates, distances and polygons, in pure Python.

A city's data names its datum. Chinese cities use GCJ-02, the datum of Amap and
Tencent maps and of the official district boundaries we seed from; phone GPS
fixes arrive in WGS-84 and are converted with :func:`wgs84_to_gcj02` at the edge.
All coordinates of one city (service area, pharmacies, addresses) share its datum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088

Ring = Sequence[tuple[float, float]]  # (lng, lat) pairs, GeoJSON order


@dataclass(frozen=True, slots=True)
class LatLng:
    lat: float
    lng: float

    def __post_init__(self) -> None:
        if isinstance(self.lat, bool) or isinstance(self.lng, bool):
            raise ValueError("coordinates must be numbers")
        if not (math.isfinite(self.lat) and math.isfinite(self.lng)):
            raise ValueError("coordinates must be finite numbers")
        if not -90.0 <= self.lat <= 90.0:
            raise ValueError(f"latitude {self.lat} is outside -90..90")
        if not -180.0 <= self.lng <= 180.0:
            raise ValueError(f"longitude {self.lng} is outside -180..180")


def haversine_km(a: LatLng, b: LatLng) -> float:
    """Great-circle distance in kilometres."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlng = math.radians(b.lng - a.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def ring_problems(ring: Ring) -> list[str]:
    """What is wrong with a polygon ring, in words; empty when the ring is usable."""
    problems: list[str] = []
    if len(ring) < 4:
        problems.append("a ring needs at least 4 positions (3 corners and the closing one)")
        return problems
    for i, point in enumerate(ring):
        if len(point) != 2:
            problems.append(f"position {i} must be [longitude, latitude]")
            return problems
        lng, lat = point
        if not (math.isfinite(lng) and math.isfinite(lat)) or not (-180 <= lng <= 180 and -90 <= lat <= 90):
            problems.append(f"position {i} ({lng}, {lat}) is not a valid longitude/latitude")
            return problems
    if tuple(ring[0]) != tuple(ring[-1]):
        problems.append("the ring does not close: the last position must equal the first")
    if len({tuple(p) for p in ring}) < 3:
        problems.append("the ring has fewer than 3 distinct corners")
    return problems


def point_in_ring(point: LatLng, ring: Ring) -> bool:
    """Ray casting; points exactly on an edge may fall either way."""
    x, y = point.lng, point.lat
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def bbox(rings: Sequence[Ring]) -> tuple[float, float, float, float]:
    """(min_lng, min_lat, max_lng, max_lat) over all rings."""
    lngs = [p[0] for ring in rings for p in ring]
    lats = [p[1] for ring in rings for p in ring]
    return min(lngs), min(lats), max(lngs), max(lats)


# WGS-84 -> GCJ-02: the widely published public approximation of the Chinese datum shift.
_A = 6378245.0
_EE = 0.00669342162296594323


def _outside_china(lat: float, lng: float) -> bool:
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(point: LatLng) -> LatLng:
    """Shift a GPS (WGS-84) fix into GCJ-02; points outside China are returned unchanged."""
    lat, lng = point.lat, point.lng
    if _outside_china(lat, lng):
        return point
    dlat = _transform_lat(lng - 105.0, lat - 35.0)
    dlng = _transform_lng(lng - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlng = (dlng * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return LatLng(lat + dlat, lng + dlng)
