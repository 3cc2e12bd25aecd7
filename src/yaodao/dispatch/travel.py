"""Travel times between two points, and the haversine model that answers them for now.

``TravelTimes`` is the port. ``HaversineTravelTimes`` is the embedded model: great-circle
distance stretched by the city's detour factor, driven at the city's speed for the local
hour. An OSRM table-service adapter will plug in later behind the same Protocol, wired by
``bootstrap()``; callers (search availability, the promise, the planner) must not care which
one they hold.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Protocol

from yaodao.kernel.city import City
from yaodao.kernel.geo import LatLng, haversine_km


class TravelTimes(Protocol):
    """Courier travel times in a city.

    Two methods, and a contract that ties them together so spatial indexes can prune:

    * ``minutes(origin, destination, at)``: minutes to ride from ``origin`` to
      ``destination`` leaving at ``at`` (timezone-aware). ``math.inf`` means unreachable.
    * ``max_reach_km(minutes, at)``: an upper bound on the great-circle distance that can be
      covered within ``minutes`` leaving at ``at``. For every pair of points,
      ``minutes(o, d, at) <= m`` must imply ``haversine_km(o, d) <= max_reach_km(m, at)``.
      A bound that is too large only costs speed; one that is too small hides pharmacies
      that could deliver. An OSRM adapter can derive it from its profile's top speed
      (road distance is never shorter than the great-circle distance).
    """

    def minutes(self, origin: LatLng, destination: LatLng, at: datetime) -> float: ...

    def max_reach_km(self, minutes: float, at: datetime) -> float: ...


class HaversineTravelTimes:
    """haversine_km x city.detour_factor / city.speed_kmh(at) x 60.

    The speed is the city's speed for the local hour of ``at`` (the departure), held for the
    whole ride. The fastest hour of the day is exposed as ``max_speed_kmh`` for callers that
    need a bound independent of the time.
    """

    __slots__ = ("_city", "_last")

    def __init__(self, city: City) -> None:
        self._city = city
        # One-entry memo: a search asks for many rides at the same instant, and the local hour
        # costs a timezone conversion. Replaced as one tuple, so concurrent readers stay sound.
        self._last: tuple[datetime, float] | None = None

    @property
    def city(self) -> City:
        return self._city

    @property
    def max_speed_kmh(self) -> float:
        """The city's fastest hourly speed: a time-independent bound on any ride's speed."""
        return max(self._city.speed_kmh_by_hour)

    def speed_kmh(self, at: datetime) -> float:
        last = self._last
        if last is not None and last[0] == at:  # equal aware datetimes are the same instant
            return last[1]
        speed = self._city.speed_kmh(at)
        self._last = (at, speed)
        return speed

    def minutes(self, origin: LatLng, destination: LatLng, at: datetime) -> float:
        return self.minutes_for_km(haversine_km(origin, destination), at)

    def minutes_for_km(self, km: float, at: datetime) -> float:
        """``minutes`` for a great-circle distance already known (this model needs nothing else)."""
        return km * self._city.detour_factor / self.speed_kmh(at) * 60.0

    def max_reach_km(self, minutes: float, at: datetime) -> float:
        """The great-circle distance a ride leaving at ``at`` covers in ``minutes``.

        Exact for this model (the inverse of ``minutes``) apart from a relative margin of
        1e-9 that absorbs floating-point rounding, so it is a true upper bound.
        """
        if not math.isfinite(minutes) or minutes < 0:
            raise ValueError(f"minutes must be a finite number >= 0, got {minutes!r}")
        km = minutes / 60.0 * self.speed_kmh(at) / self._city.detour_factor
        return km * (1.0 + 1e-9)
