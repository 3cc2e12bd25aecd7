"""Operators put couriers on the platform and plan their shifts.

Registering gives an existing account the courier role and a courier profile (vehicle, bag,
cold chain) in one transaction. Shifts of one courier never overlap, end after they start and last
at most 12 hours; the courier row is locked while a shift is added, so two concurrent additions
cannot both pass the overlap check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from yaodao.accounts.model import AuditRecord, Role
from yaodao.accounts.policy import Action, Actor, Scope, authorize
from yaodao.delivery.model import Courier, Shift, Vehicle
from yaodao.delivery.ports import DeliveryUnitOfWork
from yaodao.kernel.errors import Conflict, NotFound, ValidationFailed
from yaodao.kernel.ids import new_id
from yaodao.ports import CityRegistry


@dataclass(frozen=True, slots=True)
class CourierProfile:
    user_id: str
    city_id: str
    first_name: str
    phone: str
    vehicle: Vehicle = Vehicle.E_BIKE
    capacity: int = 3
    cold_chain: bool = False


def register_courier(
    *, uow: DeliveryUnitOfWork, actor: Actor, profile: CourierProfile, cities: CityRegistry
) -> Courier:
    with uow:
        authorize(actor, Action.COURIER_ADMIN, Scope(city_id=profile.city_id))
        if cities.get(profile.city_id) is None:
            raise NotFound(f"city {profile.city_id} is not set up", field="city_id")
        user = uow.users.get(profile.user_id)
        if user is None:
            raise NotFound(f"user {profile.user_id} not found", field="user_id")
        if uow.couriers.get(user.id) is not None:
            raise Conflict(f"user {user.id} is already registered as a courier", field="user_id")
        now = uow.clock.now()
        courier = Courier(
            user_id=user.id, city_id=profile.city_id, first_name=profile.first_name.strip(),
            phone=profile.phone.strip(), vehicle=profile.vehicle, capacity=profile.capacity,
            cold_chain=profile.cold_chain,
        )  # fmt: skip
        if Role.COURIER not in user.roles:
            before = user.version
            user.roles = user.roles | {Role.COURIER}
            uow.users.update(user, before, now)
        uow.couriers.add(courier, now)
        uow.audit(_record(actor, now, "create", "courier", user.id))
        uow.commit()
        return courier


def add_shift(
    *, uow: DeliveryUnitOfWork, actor: Actor, courier_id: str, starts_at: datetime, ends_at: datetime
) -> Shift:
    with uow:
        courier = uow.couriers.get(courier_id)
        authorize(actor, Action.COURIER_ADMIN, Scope(city_id=courier.city_id if courier else None))
        if courier is None:
            raise NotFound(f"courier {courier_id} not found", field="courier_id")
        shift = Shift(new_id(), courier.user_id, courier.city_id, starts_at, ends_at)
        now = uow.clock.now()
        if shift.ends_at <= now:
            raise ValidationFailed("a shift must end in the future", field="ends_at")
        uow.couriers.lock(courier.user_id)
        clash = uow.couriers.shifts_between(courier.user_id, shift.starts_at, shift.ends_at)
        if clash:
            other = clash[0]
            raise Conflict(
                f"the shift overlaps another from {other.starts_at.isoformat()} to {other.ends_at.isoformat()}",
                field="starts_at",
            )
        uow.couriers.add_shift(shift, now)
        uow.audit(_record(actor, now, "create", "courier_shift", shift.id))
        uow.commit()
        return shift


def _record(actor: Actor, at: datetime, action: str, kind: str, resource_id: str) -> AuditRecord:
    return AuditRecord(
        at=at, actor_id=actor.user_id, actor_roles=actor.roles_text, action=action, resource_type=kind,
        resource_id=resource_id, patient_id=None, outcome="ok", request_id=actor.request_id, ip=actor.ip,
    )  # fmt: skip
