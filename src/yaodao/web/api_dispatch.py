"""Dispatch API: an operator (of the city) or an admin runs a city's dispatcher tick by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict

from yaodao.kernel.errors import NotFound
from yaodao.web.deps import ActorDep, ContainerDep

router = APIRouter(prefix="/api/admin/dispatch", tags=["dispatch"])

CityId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")]


class DispatchTickOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    city_id: str
    at: datetime
    orders: int
    couriers: int
    assigned: dict[str, str]  # order id -> courier id
    unassigned: list[str]
    eta_updated: int
    held: dict[str, str]  # order id -> reason
    deferred: list[str]
    skipped: list[str]
    stale: list[str]


@router.post("/{city_id}/tick", response_model=DispatchTickOut)
def run_tick(city_id: CityId, actor: ActorDep, container: ContainerDep) -> DispatchTickOut:
    """One tick now: what was assigned, what is held and why, what waits for a courier."""
    if container.dispatcher is None:
        raise NotFound("the dispatcher is not configured", field="city_id")
    s = container.dispatcher.run_tick(actor=actor, city_id=city_id)
    return DispatchTickOut(
        city_id=s.city_id, at=s.at, orders=s.orders, couriers=s.couriers, assigned=s.assigned,
        unassigned=list(s.unassigned), eta_updated=s.eta_updated, held=s.held, deferred=list(s.deferred),
        skipped=list(s.skipped), stale=list(s.stale),
    )  # fmt: skip
