"""Grubhub's Meal Delivery Routing Problem (MDRP) instances: the data and its travel times.

An instance is one anonymised day (Reyes et al. 2018): restaurants, orders with placement and
ready times, courier shifts, and seven parameters. Coordinates are metres on a plane, times are
integer minutes from the start of the day, and travel time is ``ceil(euclidean / speed)``.

Parsing takes the files' text, so this module stays free of I/O; ``mdrp_cli`` reads the folder.
The planner sees an instance through ``MdrpTravel``, a ``TravelMatrix`` whose points are the
instance's location ids (``o12``, ``r3``, ``c7``), so it computes exactly what the evaluator does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

INSTANCE_FILES = ("orders.txt", "restaurants.txt", "couriers.txt", "instance_parameters.txt")
NAME_PATTERN = re.compile(r"^(\d)(o100|o50|r50)t(100|75)s([12])p(100|125)$")


@dataclass(frozen=True, slots=True)
class InstanceParams:
    """The seven numbers of ``instance_parameters.txt``."""

    meters_per_minute: float
    pickup_service_minutes: int
    dropoff_service_minutes: int
    target_click_to_door: int
    maximum_click_to_door: int
    pay_per_order: float
    guaranteed_pay_per_hour: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.meters_per_minute) and self.meters_per_minute > 0):
            raise ValueError("meters_per_minute must be a positive number.")
        for name in ("pickup_service_minutes", "dropoff_service_minutes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0.")
        if self.target_click_to_door <= 0 or self.maximum_click_to_door < self.target_click_to_door:
            raise ValueError("target_click_to_door must be positive and maximum_click_to_door at least as large.")
        if self.pay_per_order < 0 or self.guaranteed_pay_per_hour < 0:
            raise ValueError("pay_per_order and guaranteed_pay_per_hour must be >= 0.")

    @property
    def pickup_before(self) -> int:
        """Half of the pickup service comes before the pickup event, half after it."""
        return self.pickup_service_minutes // 2

    @property
    def pickup_after(self) -> int:
        return self.pickup_service_minutes - self.pickup_before

    @property
    def dropoff_before(self) -> int:
        return self.dropoff_service_minutes // 2

    @property
    def dropoff_after(self) -> int:
        return self.dropoff_service_minutes - self.dropoff_before


@dataclass(frozen=True, slots=True)
class MdrpOrder:
    id: str
    x: float
    y: float
    placement_time: int
    restaurant: str
    ready_time: int


@dataclass(frozen=True, slots=True)
class MdrpCourier:
    id: str
    x: float
    y: float
    on_time: int
    off_time: int


@dataclass(frozen=True, slots=True)
class Restaurant:
    id: str
    x: float
    y: float


@dataclass(frozen=True)
class Instance:
    """One MDRP day. ``locations`` maps every order, restaurant and courier id to its (x, y)."""

    name: str
    orders: tuple[MdrpOrder, ...]
    restaurants: tuple[Restaurant, ...]
    couriers: tuple[MdrpCourier, ...]
    params: InstanceParams
    order_by_id: Mapping[str, MdrpOrder] = field(init=False, repr=False)
    courier_by_id: Mapping[str, MdrpCourier] = field(init=False, repr=False)
    restaurant_by_id: Mapping[str, Restaurant] = field(init=False, repr=False)
    locations: Mapping[str, tuple[float, float]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "order_by_id", {o.id: o for o in self.orders})
        object.__setattr__(self, "courier_by_id", {c.id: c for c in self.couriers})
        object.__setattr__(self, "restaurant_by_id", {r.id: r for r in self.restaurants})
        locations: dict[str, tuple[float, float]] = {}
        places = [(o.id, o.x, o.y) for o in self.orders] + [(r.id, r.x, r.y) for r in self.restaurants]
        for place_id, x, y in places + [(c.id, c.x, c.y) for c in self.couriers]:
            if place_id in locations:
                raise ValueError(f"{self.name}: id {place_id!r} is used twice")
            locations[place_id] = (x, y)
        object.__setattr__(self, "locations", locations)
        for o in self.orders:
            if o.restaurant not in self.restaurant_by_id:
                raise ValueError(f"{self.name}: order {o.id} names unknown restaurant {o.restaurant!r}")
            if o.ready_time < o.placement_time:
                raise ValueError(f"{self.name}: order {o.id} is ready before it is placed")
        for c in self.couriers:
            if c.off_time < c.on_time:
                raise ValueError(f"{self.name}: courier {c.id} goes off before it comes on")

    def travel_minutes(self, origin: str, destination: str) -> int:
        """``ceil(euclidean metres / meters_per_minute)``, exactly as the upstream evaluator computes it."""
        ox, oy = self.locations[origin]
        dx, dy = self.locations[destination]
        metres = np.sqrt((np.float64(dx) - np.float64(ox)) ** 2 + (np.float64(dy) - np.float64(oy)) ** 2)
        return int(np.ceil(metres / np.float64(self.params.meters_per_minute)))

    def ctd_lower_bound(self, order: MdrpOrder) -> int:
        """No delivery of ``order`` can beat this click-to-door (zero waiting, no bundle)."""
        p = self.params
        ride = self.travel_minutes(order.restaurant, order.id)
        return order.ready_time - order.placement_time + ride + p.pickup_after + p.dropoff_before


class MdrpTravel:
    """The instance's travel times as a ``TravelMatrix`` over location ids; ``at`` is ignored."""

    __slots__ = ("_index", "_mpm", "_xy")

    def __init__(self, instance: Instance) -> None:
        ids = list(instance.locations)
        self._index = {loc: i for i, loc in enumerate(ids)}
        self._xy = np.array([instance.locations[loc] for loc in ids], dtype=np.float64).reshape(-1, 2)
        self._mpm = np.float64(instance.params.meters_per_minute)

    def _coords(self, points: Sequence[str]) -> npt.NDArray[np.float64]:
        index = self._index
        return self._xy[np.fromiter((index[p] for p in points), dtype=np.intp, count=len(points))]

    def matrix(self, origins: Sequence[str], destinations: Sequence[str], at: datetime) -> npt.NDArray[np.float64]:
        a, b = self._coords(origins), self._coords(destinations)
        dx = b[None, :, 0] - a[:, None, 0]
        dy = b[None, :, 1] - a[:, None, 1]
        result: npt.NDArray[np.float64] = np.ceil(np.sqrt(dx**2 + dy**2) / self._mpm)
        return result

    def pairwise(self, origins: Sequence[str], destinations: Sequence[str], at: datetime) -> npt.NDArray[np.float64]:
        a, b = self._coords(origins), self._coords(destinations)
        result: npt.NDArray[np.float64] = np.ceil(np.sqrt(((b - a) ** 2).sum(axis=1)) / self._mpm)
        return result


def _rows(text: str, columns: int, what: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{what}: empty file")
    rows = [line.split("\t") if "\t" in line else line.split() for line in lines[1:]]
    for number, row in enumerate(rows, start=2):
        if len(row) != columns:
            raise ValueError(f"{what}: line {number} has {len(row)} fields, expected {columns}")
    return rows


def _minute(value: str, what: str) -> int:
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"{what}: time {value!r} is not a whole minute")
    return int(number)


def parse_params(text: str) -> InstanceParams:
    rows = _rows(text, 7, "instance_parameters.txt")
    if len(rows) != 1:
        raise ValueError("instance_parameters.txt: expected exactly one data row")
    v = rows[0]
    return InstanceParams(
        meters_per_minute=float(v[0]),
        pickup_service_minutes=_minute(v[1], "pickup service minutes"),
        dropoff_service_minutes=_minute(v[2], "dropoff service minutes"),
        target_click_to_door=_minute(v[3], "target click-to-door"),
        maximum_click_to_door=_minute(v[4], "maximum click-to-door"),
        pay_per_order=float(v[5]),
        guaranteed_pay_per_hour=float(v[6]),
    )


def parse_instance(name: str, files: Mapping[str, str]) -> Instance:
    """Build an instance from the text of its four files, keyed by file name."""
    missing = [f for f in INSTANCE_FILES if f not in files]
    if missing:
        raise ValueError(f"{name}: missing {', '.join(missing)}")
    orders = tuple(
        MdrpOrder(r[0], float(r[1]), float(r[2]), _minute(r[3], "placement_time"), r[4], _minute(r[5], "ready_time"))
        for r in _rows(files["orders.txt"], 6, "orders.txt")
    )
    restaurants = tuple(Restaurant(r[0], float(r[1]), float(r[2])) for r in _rows(files["restaurants.txt"], 3, "r"))
    couriers = tuple(
        MdrpCourier(r[0], float(r[1]), float(r[2]), _minute(r[3], "on_time"), _minute(r[4], "off_time"))
        for r in _rows(files["couriers.txt"], 5, "couriers.txt")
    )
    return Instance(name, orders, restaurants, couriers, parse_params(files["instance_parameters.txt"]))
