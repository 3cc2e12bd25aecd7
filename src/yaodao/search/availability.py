"""Nearby availability: which open pharmacies can deliver this basket here within the promise.

One definition, shared by both implementations below: a pharmacy offers the basket at
address A at time T when

* it is open at T in city-local time (``Pharmacy.is_open_at``, which also needs ``active``);
* it has every basket line in stock, in the asked number of packs, by itself (no splitting);
* ETA = prep_minutes + travel minutes + handover_minutes, rounded up to whole minutes, is
  within the horizon: the city's promise at T (30 min by day, 60 at night) unless the caller
  passes ``promise_minutes`` explicitly.
* With the live fleet's reach (``dispatch.fleet.FleetReach``, published after each dispatcher
  tick) fresh at T, the pharmacy's wait is max(prep_minutes, courier reach) instead of
  prep_minutes: the parcel leaves when it is packed and a courier is at the counter. A pharmacy
  no courier can reach has no ETA (no offer). Without a fresh reach the model above applies.
  Each offer says which it used (``eta_basis``: "fleet" or "model"). The reach only adds time,
  so the smallest prep time stays a lower bound on every wait and the pruning below holds.

Offers are sorted by ETA, then distance, then pharmacy id, and cut to ``max_results``. Each
offer also says whether it keeps the city's own promise at T (``within_promise``), so the
landing page can ask with ``promise_minutes=60`` by day and say "nothing in 30 min, 3 within
60" from one answer.

An address outside the city's service area raises :class:`OutsideServiceArea` (a
``DomainError``, code ``outside_service_area``; the web layer answers "outside the service
area") rather than returning ``[]``: "we do not deliver there" and "nothing is in stock
nearby" are different answers.

``scan_availability`` is the brute-force oracle: it loops over every pharmacy and is what
the tests and the benchmark compare ``AvailabilityIndex.query`` against.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time
from typing import Any

import h3.api.basic_int as h3int
import shapely

from yaodao.catalog.model import Pharmacy, StockLevel
from yaodao.dispatch.fleet import FleetReach
from yaodao.dispatch.travel import TravelTimes
from yaodao.kernel.city import City
from yaodao.kernel.errors import DomainError, NotFound, ValidationFailed
from yaodao.kernel.geo import EARTH_RADIUS_KM, LatLng, haversine_km

StockTable = Mapping[str, Mapping[str, int]]  # pharmacy id -> product id -> available packs

# Points closer than this (in degrees, about 1 cm) to the service-area boundary are decided by
# the pure kernel check, so the shapely fast path never disagrees with City.contains.
_EDGE_BAND_DEG = 1e-7
# Safety factor on the H3 disk radius, for the grid's distortion between sampled cells.
_DISK_MARGIN = 1.1
# Skip the H3 disk when it has more cells than this many per candidate pharmacy.
_DISK_CELLS_PER_HOLDER = 8
# best_offers checks the remaining holders directly once no more than this many are left.
_DIRECT_HOLDERS = 48
_MAX_HORIZON_MINUTES = 24 * 60
FLEET = "fleet"
MODEL = "model"


class OutsideServiceArea(DomainError):
    """The address is outside the city's service area: we do not deliver there."""

    code = "outside_service_area"


@dataclass(frozen=True, slots=True)
class AvailabilityParams:
    h3_resolution: int = 7  # cell size of the spatial buckets (res 7: edges of about 1.4 km)
    handover_minutes: int = 5  # courier pickup at the counter plus handover at the door
    max_results: int = 20

    def __post_init__(self) -> None:
        if not _is_int(self.h3_resolution) or not 0 <= self.h3_resolution <= 15:
            raise ValueError(f"h3_resolution must be an integer between 0 and 15, got {self.h3_resolution!r}.")
        if not _is_int(self.handover_minutes) or not 0 <= self.handover_minutes <= 120:
            raise ValueError(f"handover_minutes must be an integer between 0 and 120, got {self.handover_minutes!r}.")
        if not _is_int(self.max_results) or not 1 <= self.max_results <= 1000:
            raise ValueError(f"max_results must be an integer between 1 and 1000, got {self.max_results!r}.")


@dataclass(frozen=True, slots=True)
class Offer:
    pharmacy_id: str
    eta_minutes: int  # prep + travel + handover, rounded up
    distance_km: float  # great-circle, pharmacy to address
    open_24h: bool
    promise_minutes: int  # the city's promise at the time asked, whatever horizon was asked
    within_promise: bool  # eta_minutes <= promise_minutes
    eta_basis: str = MODEL  # FLEET: the live fleet's reach counted; MODEL: prep + ride + handover


def stock_table(stock_levels: Iterable[StockLevel]) -> dict[str, dict[str, int]]:
    """Fold stock rows into {pharmacy_id: {product_id: available}}; a later row wins."""
    table: dict[str, dict[str, int]] = {}
    for level in stock_levels:
        table.setdefault(level.pharmacy_id, {})[level.product_id] = level.available
    return table


def scan_availability(
    *,
    city: City,
    pharmacies: Sequence[Pharmacy],
    stock: StockTable,
    travel: TravelTimes,
    params: AvailabilityParams,
    address: LatLng,
    basket: Mapping[str, int],
    at: datetime,
    promise_minutes: int | None = None,
    fleet: FleetReach | None = None,
) -> list[Offer]:
    """The brute-force answer: every pharmacy checked against the definition, in order."""
    lines = _basket_lines(basket)
    _check_horizon(promise_minutes)
    _check_network(city, pharmacies)
    if not city.contains(address):
        raise OutsideServiceArea(f"{address} is outside the service area of {city.id}", field="address")
    local = city.local(at).time()
    promise = city.promise_minutes(at)
    horizon = promise if promise_minutes is None else promise_minutes
    reach = fleet.minutes if fleet is not None and fleet.city_id == city.id and fleet.fresh_at(at) else None
    offers: list[Offer] = []
    for pharmacy in pharmacies:
        if not pharmacy.is_open_at(local):
            continue
        held = stock.get(pharmacy.id, {})
        if any(held.get(product_id, 0) < packs for product_id, packs in lines):
            continue
        wait = pharmacy.prep_minutes if reach is None else max(pharmacy.prep_minutes, reach.get(pharmacy.id, math.inf))
        basis = MODEL if reach is None else FLEET
        offer = _offer(pharmacy, wait, basis, address, at, travel, params.handover_minutes, horizon, promise)
        if offer is not None:
            offers.append(offer)
    return _best(offers, params.max_results)


class AvailabilityIndex:
    """An in-memory index of one city's pharmacies and stock, answering like the scan.

    Pharmacies are bucketed by H3 cell; stock is held per pharmacy ({product: packs > 0}) and
    per product (the set of pharmacies holding it). A query intersects the holder sets of the
    basket's lines, keeps those in the H3 disk that covers everything reachable in time (the
    radius is ``travel.max_reach_km`` of the longest possible ride: horizon - handover - the
    smallest prep time), then applies the exact checks. ``update_stock`` and
    ``set_pharmacy_active`` follow changes without a rebuild; changes to the pharmacies
    themselves (location, hours, prep time, new stores) need a rebuild.

    Writes are meant for one writer (the stock-event handler); a query works on sets it builds
    itself, so a concurrent write never breaks it: the write is simply seen or not.
    """

    def __init__(
        self,
        *,
        city: City,
        pharmacies: Sequence[Pharmacy],
        stock: StockTable,
        travel: TravelTimes,
        params: AvailabilityParams,
    ) -> None:
        """Use :meth:`build`."""
        _check_network(city, pharmacies)
        self._city = city
        self._travel = travel
        self._params = params
        res = params.h3_resolution
        # Copies: the index owns its view, changed only through its own methods.
        self._pharmacies: list[Pharmacy] = [replace(p) for p in pharmacies]
        self._index_of: dict[str, int] = {p.id: i for i, p in enumerate(self._pharmacies)}
        self._lat: list[float] = [p.location.lat for p in self._pharmacies]
        self._lng: list[float] = [p.location.lng for p in self._pharmacies]
        self._cell_of: list[int] = [
            int(h3int.latlng_to_cell(p.location.lat, p.location.lng, res)) for p in self._pharmacies
        ]
        self._buckets: dict[int, list[int]] = {}
        for i, cell in enumerate(self._cell_of):
            self._buckets.setdefault(cell, []).append(i)
        self._stock: list[dict[str, int]] = []
        self._holders: dict[str, set[int]] = {}
        for i, p in enumerate(self._pharmacies):
            held = {product_id: packs for product_id, packs in stock.get(p.id, {}).items() if packs > 0}
            self._stock.append(held)
            for product_id in held:
                self._holders.setdefault(product_id, set()).add(i)
        # Any pharmacy, active or not: a bound that never needs updating.
        self._min_prep = min((p.prep_minutes for p in self._pharmacies), default=0)
        self._circumradius_km, self._spacing_km = _cell_metrics(city, self._buckets, res)
        self._inner: Any
        self._outer: Any
        self._inner, self._outer = _fast_area(city)  # None, None: always the kernel check
        # GEOS prepared geometries build their indexes lazily and are not safe to query from two
        # threads at once (libgeos/geos#825): fifty checkout threads aborted the process.
        self._area_lock = threading.Lock()
        # The live fleet's reach and its minutes by position; replaced as one tuple (one writer).
        self._fleet: tuple[FleetReach, list[float]] | None = None

    @classmethod
    def build(
        cls,
        city: City,
        pharmacies: Sequence[Pharmacy],
        stock_levels: Iterable[StockLevel],
        travel: TravelTimes,
        params: AvailabilityParams | None = None,
    ) -> AvailabilityIndex:
        return cls(
            city=city,
            pharmacies=pharmacies,
            stock=stock_table(stock_levels),
            travel=travel,
            params=params or AvailabilityParams(),
        )

    @property
    def city(self) -> City:
        return self._city

    @property
    def params(self) -> AvailabilityParams:
        return self._params

    def __len__(self) -> int:
        return len(self._pharmacies)

    def pharmacy(self, pharmacy_id: str) -> Pharmacy:
        """The index's copy of a pharmacy (name, hours, location) without a database round trip."""
        return self._pharmacies[self._position(pharmacy_id)]

    def contains(self, address: LatLng) -> bool:
        """City.contains, answered by shapely except within about 1 cm of the boundary."""
        if self._inner is None or self._outer is None:
            return self._city.contains(address)
        with self._area_lock:
            if shapely.contains_xy(self._inner, address.lng, address.lat):
                return True
            if not shapely.contains_xy(self._outer, address.lng, address.lat):
                return False
        return self._city.contains(address)

    def query(
        self,
        address: LatLng,
        basket: Mapping[str, int],
        at: datetime,
        *,
        promise_minutes: int | None = None,
    ) -> list[Offer]:
        """The offers for ``basket`` at ``address`` at ``at``; see the module docstring."""
        lines = _basket_lines(basket)
        _check_horizon(promise_minutes)
        if not self.contains(address):
            raise OutsideServiceArea(f"{address} is outside the service area of {self._city.id}", field="address")
        local = self._city.local(at).time()
        promise = self._city.promise_minutes(at)
        horizon = promise if promise_minutes is None else promise_minutes
        budget = horizon - self._params.handover_minutes - self._min_prep  # the most any ride may take
        if budget < 0:
            return []
        holder_sets = []
        for product_id, _ in lines:
            holders = self._holders.get(product_id)
            if not holders:
                return []
            holder_sets.append(holders)
        holder_sets.sort(key=len)
        # In C, smallest set first: the pharmacies that hold at least one pack of every line.
        holding = holder_sets[0].intersection(*holder_sets[1:])
        reach_km = self._travel.max_reach_km(budget, at)
        candidates = self._near(address, reach_km, holding)
        fleet = self._fleet_at(at)
        return self._exact(candidates, lines, address, at, local, horizon, promise, reach_km, fleet)

    def best_offers(
        self, address: LatLng, product_ids: Iterable[str], at: datetime, *, promise_minutes: int | None = None
    ) -> dict[str, Offer]:
        """For each product, the fastest single-pack offer within the horizon (absent: none).

        One pass for a whole result page, equal, offer for offer, to
        ``query(address, {product: 1}, at)[0]`` for every product. Pharmacies are visited ring
        by ring of H3 cells outward from the address, and a product is settled as soon as no
        pharmacy in the rings not yet visited could beat its best offer (see
        :meth:`_ring_floor_km`); products held by few pharmacies are finished by checking
        their holders directly. Most of a page is settled within the first few rings, so the
        pass costs an ETA for the nearby holders, not for every reachable one.
        """
        wanted = [p for p in dict.fromkeys(product_ids) if self._holders.get(p)]
        _check_horizon(promise_minutes)
        if not self.contains(address):
            raise OutsideServiceArea(f"{address} is outside the service area of {self._city.id}", field="address")
        if not wanted:
            return {}
        local = self._city.local(at).time()
        promise = self._city.promise_minutes(at)
        horizon = promise if promise_minutes is None else promise_minutes
        handover = self._params.handover_minutes
        budget = horizon - handover - self._min_prep
        if budget < 0:
            return {}
        reach_km = self._travel.max_reach_km(budget, at)
        rings = self._disk_radius(reach_km)
        origin = h3int.latlng_to_cell(address.lat, address.lng, self._params.h3_resolution)
        holders, buckets = self._holders, self._buckets
        pending = set(wanted)
        fleet = self._fleet_at(at)
        basis = MODEL if fleet is None else FLEET
        best: dict[str, tuple[int, float, str, bool, int]] = {}
        seen: set[int] = set()

        def visit(candidates: Iterable[int]) -> None:
            fresh = [i for i in candidates if i not in seen]
            seen.update(fresh)
            # Best first: each product's best offer here is the first of these that holds it, and the
            # nearest stores hold most of a page, so most products look at a few entries.
            found = sorted(self._exact_keys(fresh, address, at, local, horizon, reach_km, fleet))
            if not found:
                return
            for product_id in pending:
                held_by = holders[product_id]
                for key in found:
                    if key[4] in held_by:
                        current = best.get(product_id)
                        if current is None or key < current:
                            best[product_id] = key
                        break

        rest: set[int] = set().union(*(holders[p] for p in pending))
        for k in range(rings + 1):
            if len(rest - seen) <= _DIRECT_HOLDERS or k == rings:
                visit(rest)  # few holders left (or the last ring): check them all at once
                break
            visit(i for cell in h3int.grid_ring(origin, k) for i in buckets.get(cell, ()) if i in rest)
            floor_km = self._ring_floor_km(k + 1)
            settled = {
                p
                for p in pending
                if p in best and self._travel.max_reach_km(best[p][0] - self._min_prep - handover, at) < floor_km
            }
            if settled:
                pending -= settled
                if not pending:
                    break
                rest = set().union(*(holders[p] for p in pending))
        return {
            product_id: Offer(
                pharmacy_id=pharmacy_id,
                eta_minutes=eta,
                distance_km=distance,
                open_24h=open_24h,
                promise_minutes=promise,
                within_promise=eta <= promise,
                eta_basis=basis,
            )
            for product_id, (eta, distance, pharmacy_id, open_24h, _) in best.items()
        }

    def set_fleet(self, reach: FleetReach | None) -> None:
        """Quote from this reach of the live fleet while it is fresh (None: the model again).

        A pharmacy the reach does not name counts as one no courier can reach.
        """
        if reach is None:
            self._fleet = None
            return
        if reach.city_id != self._city.id:
            raise ValidationFailed(f"fleet reach of {reach.city_id!r} given to {self._city.id!r}", field="city_id")
        minutes = reach.minutes
        self._fleet = (reach, [minutes.get(p.id, math.inf) for p in self._pharmacies])

    @property
    def fleet(self) -> FleetReach | None:
        """The last reach given to :meth:`set_fleet`, fresh or not."""
        found = self._fleet
        return None if found is None else found[0]

    def pharmacy_locations(self) -> tuple[list[str], list[LatLng]]:
        """(ids, locations) of every pharmacy in the index, in the same order."""
        return [p.id for p in self._pharmacies], [p.location for p in self._pharmacies]

    def _fleet_at(self, at: datetime) -> list[float] | None:
        found = self._fleet
        if found is None or not found[0].fresh_at(at):
            return None
        return found[1]

    def update_stock(self, pharmacy_id: str, product_id: str, available: int) -> None:
        """Set the available packs of one product in one pharmacy (0 or less: none)."""
        i = self._position(pharmacy_id)
        held = self._stock[i]
        if available > 0:
            held[product_id] = available
            self._holders.setdefault(product_id, set()).add(i)
        else:
            held.pop(product_id, None)
            holders = self._holders.get(product_id)
            if holders is not None:
                holders.discard(i)

    def set_pharmacy_active(self, pharmacy_id: str, active: bool) -> None:
        """Take a pharmacy off (or back on) the platform; hours still apply when active."""
        i = self._position(pharmacy_id)
        self._pharmacies[i] = replace(self._pharmacies[i], active=active)

    def _position(self, pharmacy_id: str) -> int:
        try:
            return self._index_of[pharmacy_id]
        except KeyError:
            raise NotFound(f"pharmacy {pharmacy_id!r} is not in this index", field="pharmacy_id") from None

    def _disk_radius(self, reach_km: float) -> int:
        """The grid distance k of the H3 disk that holds every pharmacy within ``reach_km``."""
        return math.ceil(_DISK_MARGIN * (reach_km + 2 * self._circumradius_km) / (self._spacing_km * math.sqrt(3) / 2))

    def _ring_floor_km(self, k: int) -> float:
        """A lower bound on the distance from the address to any pharmacy in rings >= ``k``.

        The inverse of :meth:`_disk_radius`: cells at grid distance k have centres at least
        k * s * sqrt(3) / 2 / margin from the address's cell centre, and a pharmacy and the
        address each sit within R of their cell's centre. A pharmacy farther than
        ``max_reach_km(m)`` rides more than m minutes (the TravelTimes contract), so its ETA
        is at least one whole minute over any offer whose ride budget m is within this floor.
        """
        return k * self._spacing_km * math.sqrt(3) / 2 / _DISK_MARGIN - 2 * self._circumradius_km

    def _exact_keys(
        self,
        candidates: Iterable[int],
        address: LatLng,
        at: datetime,
        local: time,
        horizon: int,
        reach_km: float,
        fleet: list[float] | None,
    ) -> Iterable[tuple[int, float, str, bool, int]]:
        """(eta, distance, pharmacy id, open 24h, position) of the open candidates within the horizon.

        ``fleet``: the courier reach by position, when fresh (see :meth:`set_fleet`).
        """
        pharmacies, travel = self._pharmacies, self._travel
        # A model whose ride depends on the great-circle distance alone can reuse the one computed here.
        by_km = getattr(travel, "minutes_for_km", None)
        lats, lngs = self._lat, self._lng
        handover = self._params.handover_minutes
        lat0, lng0 = address.lat, address.lng
        dlat, dlng = _degree_box(address, reach_km)
        for i in candidates:
            if abs(lats[i] - lat0) > dlat or abs((lngs[i] - lng0 + 180.0) % 360.0 - 180.0) > dlng:
                continue
            pharmacy = pharmacies[i]
            if not pharmacy.is_open_at(local):
                continue
            distance = haversine_km(pharmacy.location, address)
            if distance > reach_km:
                continue
            ride = by_km(distance, at) if by_km is not None else travel.minutes(pharmacy.location, address, at)
            prep = pharmacy.prep_minutes
            eta = _eta(prep if fleet is None or fleet[i] <= prep else fleet[i], ride, handover)
            if eta is not None and eta <= horizon:
                yield eta, distance, pharmacy.id, pharmacy.open_24h, i

    def _near(self, address: LatLng, reach_km: float, holders: set[int]) -> Iterable[int]:
        """``holders`` whose H3 cell is in the disk that covers ``reach_km`` around the address.

        A pharmacy within reach_km of the address lies in a cell whose centre is at most
        reach_km + 2R from the centre of the address's cell (R: the largest cell circumradius).
        Cells at grid distance k + 1 have centres at least (k + 1) * s * sqrt(3) / 2 away
        (s: the spacing between neighbouring centres), so k = ceil((reach_km + 2R) /
        (s * sqrt(3) / 2)) is enough. R and s are measured over the city in build(), and a 10%
        margin covers the grid's distortion between the sampled cells.
        """
        k = self._disk_radius(reach_km)
        if 3 * k * (k + 1) + 1 > _DISK_CELLS_PER_HOLDER * len(holders):
            # Looking a cell up costs a small fraction of checking a pharmacy exactly; past this
            # ratio the disk costs more than it can save (at night it often spans the city).
            return holders
        origin = h3int.latlng_to_cell(address.lat, address.lng, self._params.h3_resolution)
        cells = h3int.grid_disk(origin, k)
        buckets = self._buckets
        if len(cells) < len(holders):
            return [i for cell in cells for i in buckets.get(cell, ()) if i in holders]
        near = set(cells)
        cell_of = self._cell_of
        return [i for i in holders if cell_of[i] in near]

    def _exact(
        self,
        candidates: Iterable[int],
        lines: tuple[tuple[str, int], ...],
        address: LatLng,
        at: datetime,
        local: time,
        horizon: int,
        promise: int,
        reach_km: float,
        fleet: list[float] | None,
    ) -> list[Offer]:
        """The definition's checks, cheapest first, on pharmacies holding a pack of every line.

        Same arithmetic as :func:`_offer`, but an Offer is only built for the pharmacies that
        make the cut; and no ride is asked for beyond ``reach_km`` (the TravelTimes contract
        says it cannot be within the budget).
        """
        multi = tuple((product_id, packs) for product_id, packs in lines if packs > 1)
        if multi:
            stock = self._stock
            candidates = (i for i in candidates if all(stock[i].get(p, 0) >= packs for p, packs in multi))
        found = list(self._exact_keys(candidates, address, at, local, horizon, reach_km, fleet))
        found.sort()  # ids are unique: (eta, distance, id) decides, as in _best
        basis = MODEL if fleet is None else FLEET
        return [
            Offer(
                pharmacy_id=pharmacy_id,
                eta_minutes=eta,
                distance_km=distance,
                open_24h=open_24h,
                promise_minutes=promise,
                within_promise=eta <= promise,
                eta_basis=basis,
            )
            for eta, distance, pharmacy_id, open_24h, _ in found[: self._params.max_results]
        ]


def _offer(
    pharmacy: Pharmacy,
    wait_minutes: float,
    basis: str,
    address: LatLng,
    at: datetime,
    travel: TravelTimes,
    handover_minutes: int,
    horizon: int,
    promise: int,
) -> Offer | None:
    """The offer of one open pharmacy holding the basket, or None when it is too far."""
    eta = _eta(wait_minutes, travel.minutes(pharmacy.location, address, at), handover_minutes)
    if eta is None or eta > horizon:
        return None
    return Offer(
        pharmacy_id=pharmacy.id,
        eta_minutes=eta,
        distance_km=haversine_km(pharmacy.location, address),
        open_24h=pharmacy.open_24h,
        promise_minutes=promise,
        within_promise=eta <= promise,
        eta_basis=basis,
    )


def _degree_box(centre: LatLng, radius_km: float) -> tuple[float, float]:
    """Half-sizes (dlat, dlng) in degrees of a box holding every point within radius_km.

    Latitude: a great circle is never shorter than its north-south component. Longitude: the
    widest point of a spherical cap of angular radius r is asin(sin r / cos lat) away; when
    the cap reaches a pole every longitude is in. Margins absorb floating-point rounding.
    """
    r = radius_km / EARTH_RADIUS_KM
    dlat = math.degrees(r) * (1 + 1e-9) + 1e-12
    cos_lat = math.cos(math.radians(centre.lat))
    if r >= math.pi / 2 or math.sin(r) >= cos_lat:
        return dlat, 360.0
    return dlat, math.degrees(math.asin(math.sin(r) / cos_lat)) * (1 + 1e-9) + 1e-12


def _eta(wait_minutes: float, ride_minutes: float, handover_minutes: int) -> int | None:
    """wait (prep, or the later of prep and a courier's arrival) + ride + handover, rounded up;
    None when unreachable."""
    total = wait_minutes + ride_minutes + handover_minutes
    if not math.isfinite(total):
        return None
    return math.ceil(total)


def _best(offers: list[Offer], limit: int) -> list[Offer]:
    offers.sort(key=lambda o: (o.eta_minutes, o.distance_km, o.pharmacy_id))
    return offers[:limit]


def _basket_lines(basket: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    if not basket:
        raise ValidationFailed("basket must hold at least one product", field="basket")
    for product_id, packs in basket.items():
        if not _is_int(packs) or packs < 1:
            raise ValidationFailed(f"basket[{product_id!r}] must be a whole number of packs >= 1", field="basket")
    return tuple(basket.items())


def _check_horizon(promise_minutes: int | None) -> None:
    if promise_minutes is not None and (
        not _is_int(promise_minutes) or not 1 <= promise_minutes <= _MAX_HORIZON_MINUTES
    ):
        raise ValidationFailed(
            f"promise_minutes must be a whole number of minutes between 1 and {_MAX_HORIZON_MINUTES}",
            field="promise_minutes",
        )


def _check_network(city: City, pharmacies: Sequence[Pharmacy]) -> None:
    seen: set[str] = set()
    for p in pharmacies:
        if p.city_id != city.id:
            raise ValidationFailed(f"pharmacy {p.id!r} belongs to {p.city_id!r}, not {city.id!r}", field="pharmacies")
        if p.id in seen:
            raise ValidationFailed(f"pharmacy {p.id!r} appears twice", field="pharmacies")
        seen.add(p.id)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cell_metrics(city: City, buckets: Mapping[int, object], res: int) -> tuple[float, float]:
    """(largest circumradius, smallest neighbour spacing) in km over the city's H3 cells.

    Measured on the occupied cells and on a 9 x 9 grid of points over the service area's
    bounding box, since cell sizes vary across the globe (not much across a city).
    """
    min_lng, min_lat, max_lng, max_lat = _bbox(city)
    cells = set(buckets)
    for a in range(9):
        for b in range(9):
            lat = min_lat + (max_lat - min_lat) * a / 8
            lng = min_lng + (max_lng - min_lng) * b / 8
            cells.add(int(h3int.latlng_to_cell(lat, lng, res)))
    radius, spacing = 0.0, math.inf
    for cell in cells:
        centre = _latlng(h3int.cell_to_latlng(cell))
        for vertex in h3int.cell_to_boundary(cell):
            radius = max(radius, haversine_km(centre, _latlng(vertex)))
        for neighbour in h3int.grid_ring(cell, 1):
            spacing = min(spacing, haversine_km(centre, _latlng(h3int.cell_to_latlng(neighbour))))
    return radius, spacing


def _bbox(city: City) -> tuple[float, float, float, float]:
    lngs = [lng for ring in city.service_area for lng, _ in ring]
    lats = [lat for ring in city.service_area for _, lat in ring]
    return min(lngs), min(lats), max(lngs), max(lats)


def _latlng(pair: Any) -> LatLng:
    return LatLng(float(pair[0]), float(pair[1]))


def _fast_area(city: City) -> tuple[Any, Any]:
    """Prepared shapely polygons just inside and just outside the service area.

    Only for valid rings: for a self-intersecting ring shapely and the kernel's ray casting
    may disagree, so such cities always take the kernel path.
    """
    polygons = [shapely.Polygon(ring) for ring in city.service_area]
    if not all(shapely.is_valid(p) for p in polygons):
        return None, None
    area = shapely.union_all(polygons)
    inner = shapely.buffer(area, -_EDGE_BAND_DEG)
    outer = shapely.buffer(area, _EDGE_BAND_DEG)
    shapely.prepare(inner)
    shapely.prepare(outer)
    return inner, outer
