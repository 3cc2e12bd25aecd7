"""A patient's own records: health profile, family members, delivery addresses (all audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from yaodao.accounts import services as accounts
from yaodao.accounts.identity import FormatOnlyProvider, IdentityProvider
from yaodao.bootstrap import Container
from yaodao.kernel.errors import Conflict
from yaodao.kernel.geo import LatLng
from yaodao.web import schemas as s
from yaodao.web.convert import address_out, family_out
from yaodao.web.deps import ActorDep, ContainerDep, UowDep

router = APIRouter(prefix="/api/me", tags=["patient"])


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: Annotated[str, Field(min_length=1, max_length=60, description="the name on the ID card")]
    id_number: Annotated[str, Field(min_length=1, max_length=24, description="resident ID number (18 characters)")]


def identity_provider(container: Container) -> IdentityProvider:
    """The real-name check: format-only in development and tests; production needs a real provider."""
    if container.settings.env == "production":
        raise Conflict("no real-name identity provider is configured on this platform", field="id_number")
    return FormatOnlyProvider()


def _profile_out(user: object) -> s.ProfileOut:
    return s.ProfileOut.model_validate(user, from_attributes=True)


@router.get("/profile", response_model=s.ProfileOut)
def read_profile(uow: UowDep, actor: ActorDep) -> s.ProfileOut:
    return _profile_out(accounts.read_profile(uow=uow, actor=actor))


@router.put("/profile", response_model=s.ProfileOut)
def update_profile(body: s.ProfileIn, uow: UowDep, actor: ActorDep) -> s.ProfileOut:
    user = accounts.update_health_profile(
        uow=uow,
        actor=actor,
        date_of_birth=body.date_of_birth,
        sex=body.sex,
        allergies=body.allergies,
        current_medicines=body.current_medicines,
    )
    return _profile_out(user)


@router.get("/identity")
def identity_state(uow: UowDep, actor: ActorDep) -> dict[str, bool]:
    """Whether the account is real-name verified (never the number: only its keyed hash is kept)."""
    return {"verified": accounts.read_profile(uow=uow, actor=actor).id_number_hash is not None}


@router.post("/identity")
def verify_identity(body: IdentityIn, uow: UowDep, actor: ActorDep, container: ContainerDep) -> dict[str, Any]:
    """Real-name verification (实名制): needed to buy prescription medicines and restricted ones."""
    user = accounts.verify_identity(
        uow=uow, actor=actor, full_name=body.full_name, id_number=body.id_number,
        pepper=container.settings.id_number_pepper, provider=identity_provider(container),
    )  # fmt: skip
    return {"verified": True, "date_of_birth": user.date_of_birth, "sex": user.sex}


@router.get("/family", response_model=list[s.FamilyOut])
def list_family(uow: UowDep, actor: ActorDep) -> list[s.FamilyOut]:
    return [family_out(m) for m in accounts.list_family_members(uow=uow, actor=actor)]


@router.post("/family", response_model=s.FamilyOut, status_code=status.HTTP_201_CREATED)
def add_family(body: s.FamilyIn, uow: UowDep, actor: ActorDep) -> s.FamilyOut:
    member = accounts.add_family_member(
        uow=uow,
        actor=actor,
        name=body.name,
        relation=body.relation,
        date_of_birth=body.date_of_birth,
        sex=body.sex,
        allergies=body.allergies,
        current_medicines=body.current_medicines,
    )
    return family_out(member)


@router.get("/family/{member_id}", response_model=s.FamilyOut)
def get_family(member_id: str, uow: UowDep, actor: ActorDep) -> s.FamilyOut:
    return family_out(accounts.get_family_member(uow=uow, actor=actor, member_id=member_id))


@router.get("/addresses", response_model=list[s.AddressOut])
def list_addresses(uow: UowDep, actor: ActorDep) -> list[s.AddressOut]:
    return [address_out(a) for a in accounts.list_addresses(uow=uow, actor=actor)]


@router.post("/addresses", response_model=s.AddressOut, status_code=status.HTTP_201_CREATED)
def add_address(body: s.AddressIn, uow: UowDep, actor: ActorDep, container: ContainerDep) -> s.AddressOut:
    address = accounts.add_address(
        uow=uow,
        actor=actor,
        cities=container.cities,
        city_id=body.city_id,
        label=body.label,
        recipient=body.recipient,
        phone=body.phone,
        text=body.text,
        location=LatLng(body.location.lat, body.location.lng),
        is_default=body.is_default,
    )
    return address_out(address)
