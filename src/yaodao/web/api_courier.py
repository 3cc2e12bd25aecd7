"""The courier app's API (``/api/courier/...``) and the operators' courier endpoints.

Every action but a position report carries the phone's ``event_id``: a resend with the same body
replays the first answer (with ``Idempotent-Replayed: true``), the same id with another body is a
422. Positions are ordered by the phone's ``seq``; a too-early report is a 429 with Retry-After.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from yaodao.bootstrap import Container
from yaodao.delivery import admin, services
from yaodao.delivery.model import DeliveryState, FailureReason, Vehicle
from yaodao.delivery.positions import PositionReport, TooFrequent
from yaodao.delivery.views import courier_view, delivery_view
from yaodao.kernel.paging import PageRequest
from yaodao.web.deps import ActorDep, ContainerDep
from yaodao.web.errors import problem

router = APIRouter(tags=["courier"])

EventId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Code = Annotated[str, Field(min_length=1, max_length=12)]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: EventId


class PickupIn(EventIn):
    pickup_code: Code


class HandoverIn(EventIn):
    handover_code: Code
    id_checked: bool = False


class FailureIn(EventIn):
    reason: FailureReason


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: Annotated[int, Field(strict=True, ge=1, le=2**62)]
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lng: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    at: AwareDatetime
    accuracy_m: Annotated[float | None, Field(ge=0, allow_inf_nan=False)] = None


class CourierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Annotated[str, Field(min_length=1, max_length=80)]
    city_id: Annotated[str, Field(min_length=1, max_length=40)] = "hangzhou"
    first_name: Annotated[str, Field(min_length=1, max_length=40)]
    phone: Annotated[str, Field(min_length=5, max_length=20, pattern=r"^\+?[0-9 -]+$")]
    vehicle: Vehicle = Vehicle.E_BIKE
    capacity: Annotated[int, Field(strict=True, ge=1, le=10)] = 3
    cold_chain: bool = False


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_at: AwareDatetime
    ends_at: AwareDatetime


def _ctx(container: Container) -> services.DeliveryContext:
    return services.DeliveryContext(cities=container.cities)


def _answer(answer: services.Answer) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.get("/api/courier/me")
def me(container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    return services.me(uow=container.uow(), actor=actor)


@router.post("/api/courier/online")
def online(body: EventIn, container: ContainerDep, actor: ActorDep) -> JSONResponse:
    return _answer(services.go_online(uow=container.uow(), actor=actor, event_id=body.event_id))


@router.post("/api/courier/offline")
def offline(body: EventIn, container: ContainerDep, actor: ActorDep) -> JSONResponse:
    return _answer(services.go_offline(uow=container.uow(), actor=actor, event_id=body.event_id))


@router.post("/api/courier/positions")
def positions(body: PositionIn, container: ContainerDep, actor: ActorDep) -> JSONResponse:
    report = PositionReport(seq=body.seq, lat=body.lat, lng=body.lng, at=body.at, accuracy_m=body.accuracy_m)
    try:
        answer = services.report_position(uow=container.uow(), actor=actor, report=report, ctx=_ctx(container))
    except TooFrequent as exc:
        errors = [{"field": exc.field or "at", "message": exc.message}]
        return problem(429, exc.message, exc.code, errors, headers={"Retry-After": str(exc.retry_after_s)})
    return JSONResponse(answer)


@router.get("/api/courier/deliveries")
def deliveries(
    container: ContainerDep,
    actor: ActorDep,
    state: Annotated[list[DeliveryState] | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    result = services.my_deliveries(
        uow=container.uow(), actor=actor, states=tuple(state or ()), page=PageRequest(page, page_size)
    )
    return {
        "items": [delivery_view(d) for d in result.items],
        "total": result.total,
        "page": result.page,
        "pages": result.pages,
    }


@router.post("/api/courier/deliveries/{order_id}/accept")
def accept(order_id: str, body: EventIn, container: ContainerDep, actor: ActorDep) -> JSONResponse:
    return _answer(services.accept(uow=container.uow(), actor=actor, order_id=order_id, event_id=body.event_id))


@router.post("/api/courier/deliveries/{order_id}/arrived")
def arrived(order_id: str, body: EventIn, container: ContainerDep, actor: ActorDep) -> JSONResponse:
    return _answer(services.arrived(uow=container.uow(), actor=actor, order_id=order_id, event_id=body.event_id))


@router.post("/api/courier/deliveries/{order_id}/picked-up")
def picked_up(order_id: str, body: PickupIn, container: ContainerDep, actor: ActorDep) -> JSONResponse:
    return _answer(
        services.picked_up(
            uow=container.uow(), actor=actor, order_id=order_id, event_id=body.event_id, pickup_code=body.pickup_code
        )
    )


@router.post("/api/courier/deliveries/{order_id}/delivered")
def delivered(order_id: str, body: HandoverIn, container: ContainerDep, actor: ActorDep) -> JSONResponse:
    answer = services.delivered(
        uow=container.uow(), actor=actor, order_id=order_id, event_id=body.event_id,
        handover_code=body.handover_code, id_checked=body.id_checked, ctx=_ctx(container),
    )  # fmt: skip
    return _answer(answer)


@router.post("/api/courier/deliveries/{order_id}/failed")
def failed(order_id: str, body: FailureIn, container: ContainerDep, actor: ActorDep) -> JSONResponse:
    return _answer(
        services.failed(
            uow=container.uow(), actor=actor, order_id=order_id, event_id=body.event_id, reason=body.reason.value
        )
    )


@router.post("/api/admin/couriers", status_code=201)
def register_courier(body: CourierIn, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    profile = admin.CourierProfile(
        user_id=body.user_id, city_id=body.city_id, first_name=body.first_name, phone=body.phone,
        vehicle=body.vehicle, capacity=body.capacity, cold_chain=body.cold_chain,
    )  # fmt: skip
    courier = admin.register_courier(uow=container.uow(), actor=actor, profile=profile, cities=container.cities)
    return courier_view(courier)


@router.post("/api/admin/couriers/{courier_id}/shifts", status_code=201)
def add_shift(courier_id: str, body: ShiftIn, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    shift = admin.add_shift(
        uow=container.uow(), actor=actor, courier_id=courier_id, starts_at=body.starts_at, ends_at=body.ends_at
    )
    return {
        "id": shift.id, "courier_id": shift.courier_id, "city_id": shift.city_id,
        "starts_at": shift.starts_at.isoformat(), "ends_at": shift.ends_at.isoformat(),
    }  # fmt: skip
