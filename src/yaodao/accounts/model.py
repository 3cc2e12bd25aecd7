"""Accounts domain: users and their roles, patients' family members and addresses, audit records."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from yaodao.kernel.geo import LatLng


class Role(enum.StrEnum):
    PATIENT = "patient"
    DOCTOR = "doctor"
    PHARMACIST = "pharmacist"
    STORE_STAFF = "store_staff"
    COURIER = "courier"
    OPERATOR = "operator"
    ADMIN = "admin"


EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}$")
RELATIONS = ("child", "parent", "spouse", "grandparent", "sibling", "other")
SEXES = ("f", "m", "x")


@dataclass(slots=True)
class User:
    id: str
    email: str
    display_name: str
    password_hash: str
    roles: frozenset[Role]
    pharmacy_id: str | None = None  # where pharmacists and store staff work
    city_id: str | None = None  # the city an operator runs
    phone: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    allergies: tuple[str, ...] = ()
    current_medicines: tuple[str, ...] = ()
    id_number_hash: str | None = None  # real-name identity (DOMAIN S7), never stored in clear
    disabled: bool = False
    failed_logins: int = 0
    failed_window_start: datetime | None = None
    version: int = 1
    created_at: datetime | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles


@dataclass(slots=True)
class FamilyMember:
    id: str
    owner_id: str
    name: str
    relation: str
    date_of_birth: date
    sex: str | None = None
    allergies: tuple[str, ...] = ()
    current_medicines: tuple[str, ...] = ()
    created_at: datetime | None = None


@dataclass(slots=True)
class Address:
    id: str
    user_id: str
    city_id: str
    label: str
    recipient: str
    phone: str
    text: str
    location: LatLng
    district_code: str | None = None
    is_default: bool = False
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One row of the append-only audit log: who did what to which health-related record."""

    at: datetime
    actor_id: str | None
    actor_roles: str
    action: str  # read | list | create | update | delete | login | denied
    resource_type: str
    resource_id: str | None
    patient_id: str | None
    outcome: str  # ok | denied | error
    request_id: str | None = None
    ip: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
