"""Travel times in bulk, for the planner: one call per tick instead of one per pair.

``TravelMatrix`` is the planner's port. ``CityTravelMatrix`` is the haversine model of
``travel.HaversineTravelTimes`` vectorised with numpy (same formula: great-circle km x detour /
speed of the local hour of departure); ``PortTravelMatrix`` wraps any ``TravelTimes`` (an OSRM
adapter, a fake) pair by pair, for tests and small cities.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from yaodao.dispatch.travel import TravelTimes
from yaodao.kernel.city import City
from yaodao.kernel.geo import EARTH_RADIUS_KM, LatLng

FloatArray = npt.NDArray[np.float64]
P_contra = TypeVar("P_contra", bound=Hashable, contravariant=True)


class TravelMatrix(Protocol[P_contra]):
    """Minutes to ride between points, leaving at ``at``; ``inf`` where unreachable."""

    def matrix(self, origins: Sequence[P_contra], destinations: Sequence[P_contra], at: datetime) -> FloatArray:
        """Shape (len(origins), len(destinations))."""
        ...

    def pairwise(self, origins: Sequence[P_contra], destinations: Sequence[P_contra], at: datetime) -> FloatArray:
        """Element by element: shape (len(origins),); both sequences have the same length."""
        ...


def _radians(points: Sequence[LatLng]) -> tuple[FloatArray, FloatArray]:
    lat = np.radians(np.fromiter((p.lat for p in points), dtype=np.float64, count=len(points)))
    lng = np.radians(np.fromiter((p.lng for p in points), dtype=np.float64, count=len(points)))
    return lat, lng


def _haversine_km(lat1: FloatArray, lng1: FloatArray, lat2: FloatArray, lng2: FloatArray) -> FloatArray:
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2) ** 2
    km: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return km


class CityTravelMatrix:
    """``HaversineTravelTimes`` in bulk: km x the city's detour factor / its speed for the hour of ``at``."""

    __slots__ = ("_city",)

    def __init__(self, city: City) -> None:
        self._city = city

    def _minutes_per_km(self, at: datetime) -> float:
        return self._city.detour_factor / self._city.speed_kmh(at) * 60.0

    def matrix(self, origins: Sequence[LatLng], destinations: Sequence[LatLng], at: datetime) -> FloatArray:
        lat1, lng1 = _radians(origins)
        lat2, lng2 = _radians(destinations)
        km = _haversine_km(lat1[:, None], lng1[:, None], lat2[None, :], lng2[None, :])
        result: FloatArray = km * self._minutes_per_km(at)
        return result

    def pairwise(self, origins: Sequence[LatLng], destinations: Sequence[LatLng], at: datetime) -> FloatArray:
        lat1, lng1 = _radians(origins)
        lat2, lng2 = _radians(destinations)
        result: FloatArray = _haversine_km(lat1, lng1, lat2, lng2) * self._minutes_per_km(at)
        return result


class PortTravelMatrix:
    """Any ``TravelTimes`` answered pair by pair (every pair leaves at ``at``)."""

    __slots__ = ("_travel",)

    def __init__(self, travel: TravelTimes) -> None:
        self._travel = travel

    def matrix(self, origins: Sequence[LatLng], destinations: Sequence[LatLng], at: datetime) -> FloatArray:
        minutes = self._travel.minutes
        out = np.empty((len(origins), len(destinations)), dtype=np.float64)
        for i, o in enumerate(origins):
            out[i, :] = [minutes(o, d, at) for d in destinations]
        return out

    def pairwise(self, origins: Sequence[LatLng], destinations: Sequence[LatLng], at: datetime) -> FloatArray:
        minutes = self._travel.minutes
        return np.array([minutes(o, d, at) for o, d in zip(origins, destinations, strict=True)], dtype=np.float64)
