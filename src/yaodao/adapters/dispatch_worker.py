"""The live dispatcher: one loop per city, each tick read -> plan -> apply.

``tick_once`` is one tick for one city: the rows in one read transaction, the pure ``plan_tick``
(planner defaults, the city's haversine travel matrix), and the changes in one write transaction
with a ``delivery.assigned`` / ``delivery.unassigned`` event and an audit record per delivery
written. ``DispatchWorker`` runs it every ``tick_s`` seconds per city in a background thread; a
tick that raises is logged and the loop goes on. ``run_tick`` is the same tick asked for by an
operator (of the city) or an admin, checked by the access policy and audited.

After each tick the couriers the tick planned with are handed to ``on_fleet`` as a
``dispatch.fleet.FleetView`` (who can take new work, from when and where), so the promise quoted
at checkout and on the landing page follows the live fleet. A failing listener is logged; the
tick's writes stand.

With several server processes on one database, each city's loop runs in one of them: before each
tick the loop asks its ``Leases`` for ``dispatch:<city>`` and skips the tick while another process
holds it (see ``adapters/db/leases.py``). A hand-run tick (``run_tick``) is not leased. Only the
leading process learns each tick's fleet; the others quote from the travel model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from yaodao.accounts.model import AuditRecord
from yaodao.accounts.policy import Action, Actor, Scope, allowed, authorize
from yaodao.adapters.db.leases import Leases
from yaodao.adapters.db.uow import UnitOfWork
from yaodao.dispatch.events import DeliveryAssigned, DeliveryUnassigned
from yaodao.dispatch.fleet import FleetParams, FleetView, fleet_couriers
from yaodao.dispatch.live import ChangeKind, DeliveryChange, DeliveryRow, TickPlan, plan_tick
from yaodao.dispatch.params import PlannerParams
from yaodao.dispatch.plan import Plan
from yaodao.dispatch.planner import plan as default_planner
from yaodao.dispatch.snapshot import Snapshot
from yaodao.dispatch.travel_matrix import CityTravelMatrix, TravelMatrix
from yaodao.kernel.city import City
from yaodao.kernel.clock import Clock
from yaodao.kernel.errors import NotAuthenticated, NotFound
from yaodao.kernel.geo import LatLng

log = structlog.get_logger(__name__)

UowFactory = Callable[..., UnitOfWork]
DISPATCHER_ROLE = "dispatcher"  # how the loop signs its audit records
FleetListener = Callable[[FleetView], None]


@dataclass(frozen=True, slots=True)
class TickSummary:
    city_id: str
    at: datetime
    orders: int  # deliveries read
    couriers: int  # couriers the planner could use
    assigned: dict[str, str]  # order -> courier, written
    unassigned: tuple[str, ...]  # written
    eta_updated: int
    held: dict[str, str]  # order -> reason
    deferred: tuple[str, ...]
    skipped: tuple[str, ...]  # order not past payment, or closed
    stale: tuple[str, ...]  # changed meanwhile (a courier accepted, ...): left alone
    ms: float


def tick_once(
    *,
    uow_factory: UowFactory,
    city: City,
    clock: Clock,
    params: PlannerParams | None = None,
    seed: int = 0,
    on_fleet: FleetListener | None = None,
    fleet_params: FleetParams | None = None,
) -> TickSummary:
    """One dispatcher tick for ``city``: read, plan, apply, then publish the fleet to ``on_fleet``."""
    started = time.perf_counter()
    params = params or PlannerParams()
    at = clock.now()
    with uow_factory(read_only=True) as uow:
        couriers = uow.dispatch.couriers_on_shift(city.id, at)
        deliveries = uow.dispatch.open_deliveries(city.id)
    seen: list[Snapshot[LatLng]] = []

    def planner(snapshot: Snapshot[LatLng], travel: TravelMatrix[LatLng], p: PlannerParams, s: int) -> Plan:
        seen.append(snapshot)  # the couriers as planned with: published below
        return default_planner(snapshot, travel, p, s)

    tick = plan_tick(at, deliveries, couriers, CityTravelMatrix(city), params, seed, planner)
    written: list[DeliveryChange] = []
    if tick.changes:
        with uow_factory() as uow:
            written = uow.dispatch.apply_all(tick.changes, at)
            _announce(uow, city.id, at, written, {d.order_id: d for d in deliveries})
            uow.commit()
    if on_fleet is not None and seen:
        fleet_params = fleet_params or FleetParams()
        view = FleetView(city.id, at, fleet_couriers(seen[0], tick.plan, fleet_params), tick.couriers, fleet_params)
        try:
            on_fleet(view)
        except Exception:  # the quote falls back to the model once the last view is stale
            log.exception("dispatch_fleet_publish_failed", city=city.id)
    summary = _summary(city.id, tick, deliveries, written, (time.perf_counter() - started) * 1000)
    log.info(
        "dispatch_tick", city=city.id, orders=summary.orders, couriers=summary.couriers,
        assigned=len(summary.assigned), unassigned=len(summary.unassigned), held=len(summary.held),
        deferred=len(summary.deferred), stale=len(summary.stale), ms=round(summary.ms, 1),
    )  # fmt: skip
    return summary


def _announce(
    uow: UnitOfWork, city_id: str, at: datetime, written: Sequence[DeliveryChange], rows: dict[str, DeliveryRow]
) -> None:
    for change in written:
        if change.kind is ChangeKind.ETA:
            continue
        if change.kind is ChangeKind.ASSIGN:
            assert change.courier_id is not None
            assert change.bundle_id is not None
            assert change.bundle_seq is not None
            assert change.eta_at is not None
            uow.emit(
                DeliveryAssigned(
                    city_id=city_id, order_id=change.order_id, courier_id=change.courier_id,
                    bundle_id=change.bundle_id, bundle_seq=change.bundle_seq, eta_at=change.eta_at, assigned_at=at,
                    previous_courier_id=change.previous_courier_id,
                )
            )  # fmt: skip
            detail = {"change": "assign", "courier_id": change.courier_id, "bundle_id": change.bundle_id}
        else:
            uow.emit(
                DeliveryUnassigned(
                    city_id=city_id, order_id=change.order_id, previous_courier_id=change.previous_courier_id,
                    reason=str(change.reason), at=at,
                )
            )  # fmt: skip
            detail = {"change": "unassign", "reason": str(change.reason)}
        if change.previous_courier_id:
            detail["previous_courier_id"] = change.previous_courier_id
        uow.audit(
            AuditRecord(
                at=at, actor_id=None, actor_roles=DISPATCHER_ROLE, action="update", resource_type="delivery",
                resource_id=change.order_id, patient_id=rows[change.order_id].patient_id, outcome="ok",
                detail=detail,
            )
        )  # fmt: skip


def _summary(
    city_id: str, tick: TickPlan, deliveries: Sequence[DeliveryRow], written: Sequence[DeliveryChange], ms: float
) -> TickSummary:
    done = {c.order_id for c in written}
    return TickSummary(
        city_id=city_id,
        at=tick.at,
        orders=len(deliveries),
        couriers=tick.couriers,
        assigned={c.order_id: c.courier_id or "" for c in written if c.kind is ChangeKind.ASSIGN},
        unassigned=tuple(c.order_id for c in written if c.kind is ChangeKind.UNASSIGN),
        eta_updated=sum(1 for c in written if c.kind is ChangeKind.ETA),
        held={order_id: str(reason) for order_id, reason in sorted(tick.plan.held.items())},
        deferred=tick.plan.deferred,
        skipped=tick.skipped,
        stale=tuple(c.order_id for c in tick.changes if c.order_id not in done),
        ms=ms,
    )


class DispatchWorker:
    """One background loop per city, each ticking every ``tick_s`` seconds until ``stop()``."""

    def __init__(
        self,
        *,
        uow_factory: UowFactory,
        cities: Callable[[str], City | None],
        city_ids: Callable[[], Sequence[str]],
        clock: Clock,
        tick_s: float = 20.0,
        seed: int = 0,
        params: PlannerParams | None = None,
        on_fleet: FleetListener | None = None,
        leases: Leases | None = None,
    ) -> None:
        self._uow = uow_factory
        self._leases = leases  # None: this process runs every city's loop
        self._cities = cities
        self._city_ids = city_ids
        self._clock = clock
        self._tick_s = tick_s
        self._seed = seed
        self._params = replace(params or PlannerParams(), tick_seconds=tick_s)
        self._on_fleet = on_fleet
        self._fleet_params = FleetParams(max_age_s=3 * tick_s)  # three ticks missed: back to the model
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def tick_once(self, city_id: str) -> TickSummary:
        city = self._cities(city_id)
        if city is None:
            raise NotFound(f"city {city_id} not found", field="city_id")
        return tick_once(
            uow_factory=self._uow, city=city, clock=self._clock, params=self._params, seed=self._seed,
            on_fleet=self._on_fleet, fleet_params=self._fleet_params,
        )  # fmt: skip

    def run_tick(self, *, actor: Actor, city_id: str) -> TickSummary:
        """A tick asked for by hand: operators of the city and admins only; audited either way."""
        if not actor.authenticated:
            raise NotAuthenticated("sign in first")
        ok = allowed(actor, Action.DISPATCH_RUN, Scope(city_id=city_id))
        with self._uow(read_only=True) as uow:
            uow.audit_now(
                AuditRecord(
                    at=self._clock.now(), actor_id=actor.user_id, actor_roles=actor.roles_text,
                    action="update" if ok else "denied", resource_type="dispatch_tick", resource_id=city_id,
                    patient_id=None, outcome="ok" if ok else "denied", request_id=actor.request_id, ip=actor.ip,
                )
            )  # fmt: skip
        authorize(actor, Action.DISPATCH_RUN, Scope(city_id=city_id))
        return self.tick_once(city_id)

    def start(self) -> None:
        """Start one loop per city known now."""
        if self._threads:
            return
        self._stop.clear()
        try:
            city_ids = list(self._city_ids())
        except Exception:  # a database not reachable yet: no loops, said loudly
            log.exception("dispatch_start_failed")
            return
        for city_id in city_ids:
            thread = threading.Thread(target=self._loop, args=(city_id,), name=f"dispatch-{city_id}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("dispatch_started", cities=city_ids, tick_s=self._tick_s)

    def _loop(self, city_id: str) -> None:
        while not self._stop.is_set():
            try:
                if self.leads(city_id):
                    self.tick_once(city_id)
            except Exception:  # one bad tick must not stop the city's dispatching
                log.exception("dispatch_tick_failed", city=city_id)
            self._stop.wait(self._tick_s)

    def leads(self, city_id: str) -> bool:
        """Whether this process runs ``city_id``'s ticks now (another process may hold its lease)."""
        return self._leases is None or self._leases.hold(f"dispatch:{city_id}")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self._threads = []

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)
