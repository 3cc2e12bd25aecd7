"""The one access policy. Services ask it; routes never decide access themselves.

Every action has the roles that may take it; scoped actions also require the resource to
belong to the actor (their own record, their family, their pharmacy, their city).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from yaodao.accounts.model import Role
from yaodao.kernel.errors import NotAuthenticated, PermissionDenied


class Action(enum.StrEnum):
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    CITY_READ = "city:read"
    CITY_WRITE = "city:write"
    PHARMACY_READ = "pharmacy:read"
    PHARMACY_CREATE = "pharmacy:create"
    PHARMACY_UPDATE = "pharmacy:update"
    STOCK_READ = "stock:read"
    STOCK_WRITE = "stock:write"
    USER_ADMIN = "user:admin"
    PROFILE_READ = "profile:read"  # a patient's own profile (health data)
    PROFILE_WRITE = "profile:write"
    FAMILY_READ = "family:read"
    FAMILY_WRITE = "family:write"
    ADDRESS_READ = "address:read"
    ADDRESS_WRITE = "address:write"
    AUDIT_READ = "audit:read"
    ORDER_PLACE = "order:place"  # checkout and pay, for oneself or one's family
    ORDER_READ = "order:read"
    ORDER_CANCEL = "order:cancel"
    ORDER_FULFIL = "order:fulfil"  # accept, pick, hand over: the pharmacy's own orders
    ORDER_REVIEW = "order:review"  # the pharmacist's prescription and safety review
    PRESCRIPTION_ISSUE = "prescription:issue"
    PRESCRIPTION_READ = "prescription:read"
    REFUND_ISSUE = "refund:issue"
    CLAIM_SUBMIT = "claim:submit"
    CLAIM_READ = "claim:read"
    CLAIM_DECIDE = "claim:decide"  # stands for the licensed insurer's adjuster
    PAYMENTS_RECONCILE = "payments:reconcile"
    COURIER_ACT = "courier:act"  # a courier's own status, positions and deliveries
    COURIER_ADMIN = "courier:admin"  # register couriers and plan their shifts
    DISPATCH_RUN = "dispatch:run"  # run a city's dispatcher tick by hand
    PROMISE_REPORT = "promise:report"  # delivered orders against their promise, per city
    CONSULT_START = "consult:start"  # intake, for oneself or one's family
    CONSULT_READ = "consult:read"  # patients: their own and their family's; doctors: those assigned to them
    CONSULT_CANCEL = "consult:cancel"
    CONSULT_RATE = "consult:rate"
    CONSULT_MESSAGE = "consult:message"
    CONSULT_QUEUE = "consult:queue"  # a doctor's view of the waiting consultations of their departments
    CONSULT_ACCEPT = "consult:accept"
    CONSULT_CLOSE = "consult:close"
    ROSTER_READ = "roster:read"  # doctors' rosters and the gaps in 24-hour coverage
    ROSTER_WRITE = "roster:write"  # set a doctor's weekly roster


R = Role
_ALLOWED: dict[Action, frozenset[Role]] = {
    Action.CATALOG_READ: frozenset({R.ADMIN, R.OPERATOR, R.PHARMACIST, R.STORE_STAFF}),
    Action.CATALOG_WRITE: frozenset({R.ADMIN}),
    Action.CITY_READ: frozenset({R.ADMIN, R.OPERATOR}),
    Action.CITY_WRITE: frozenset({R.ADMIN}),
    Action.PHARMACY_READ: frozenset({R.ADMIN, R.OPERATOR, R.PHARMACIST, R.STORE_STAFF}),
    Action.PHARMACY_CREATE: frozenset({R.ADMIN}),
    Action.PHARMACY_UPDATE: frozenset({R.ADMIN, R.OPERATOR}),
    Action.STOCK_READ: frozenset({R.ADMIN, R.OPERATOR, R.PHARMACIST, R.STORE_STAFF}),
    Action.STOCK_WRITE: frozenset({R.ADMIN, R.STORE_STAFF}),
    Action.USER_ADMIN: frozenset({R.ADMIN}),
    Action.PROFILE_READ: frozenset({R.PATIENT}),
    Action.PROFILE_WRITE: frozenset({R.PATIENT}),
    Action.FAMILY_READ: frozenset({R.PATIENT}),
    Action.FAMILY_WRITE: frozenset({R.PATIENT}),
    Action.ADDRESS_READ: frozenset({R.PATIENT}),
    Action.ADDRESS_WRITE: frozenset({R.PATIENT}),
    Action.AUDIT_READ: frozenset({R.ADMIN}),
    Action.ORDER_PLACE: frozenset({R.PATIENT}),
    Action.ORDER_READ: frozenset({R.PATIENT, R.PHARMACIST, R.STORE_STAFF, R.OPERATOR, R.ADMIN}),
    Action.ORDER_CANCEL: frozenset({R.PATIENT, R.OPERATOR, R.ADMIN}),
    Action.ORDER_FULFIL: frozenset({R.PHARMACIST, R.STORE_STAFF}),
    Action.ORDER_REVIEW: frozenset({R.PHARMACIST}),
    Action.PRESCRIPTION_ISSUE: frozenset({R.DOCTOR, R.ADMIN}),
    Action.PRESCRIPTION_READ: frozenset({R.PATIENT, R.DOCTOR, R.PHARMACIST, R.ADMIN}),
    Action.REFUND_ISSUE: frozenset({R.OPERATOR, R.ADMIN}),
    Action.CLAIM_SUBMIT: frozenset({R.PATIENT}),
    Action.CLAIM_READ: frozenset({R.PATIENT, R.ADMIN}),
    Action.CLAIM_DECIDE: frozenset({R.ADMIN}),
    Action.PAYMENTS_RECONCILE: frozenset({R.ADMIN}),
    Action.COURIER_ACT: frozenset({R.COURIER}),
    Action.COURIER_ADMIN: frozenset({R.ADMIN, R.OPERATOR}),
    Action.DISPATCH_RUN: frozenset({R.OPERATOR, R.ADMIN}),
    Action.PROMISE_REPORT: frozenset({R.OPERATOR, R.ADMIN}),
    Action.CONSULT_START: frozenset({R.PATIENT}),
    Action.CONSULT_READ: frozenset({R.PATIENT, R.DOCTOR}),
    Action.CONSULT_CANCEL: frozenset({R.PATIENT}),
    Action.CONSULT_RATE: frozenset({R.PATIENT}),
    Action.CONSULT_MESSAGE: frozenset({R.PATIENT, R.DOCTOR}),
    Action.CONSULT_QUEUE: frozenset({R.DOCTOR}),
    Action.CONSULT_ACCEPT: frozenset({R.DOCTOR}),
    Action.CONSULT_CLOSE: frozenset({R.DOCTOR}),
    Action.ROSTER_READ: frozenset({R.ADMIN, R.OPERATOR}),
    Action.ROSTER_WRITE: frozenset({R.ADMIN}),
}

# Roles whose access to these actions is limited to resources of their own pharmacy / city.
_PHARMACY_SCOPED = frozenset({R.PHARMACIST, R.STORE_STAFF})
_CITY_SCOPED = frozenset({R.OPERATOR})
_OWNER_SCOPED = frozenset(
    {
        Action.PROFILE_READ,
        Action.PROFILE_WRITE,
        Action.FAMILY_READ,
        Action.FAMILY_WRITE,
        Action.ADDRESS_READ,
        Action.ADDRESS_WRITE,
        Action.ORDER_PLACE,
        Action.ORDER_READ,
        Action.ORDER_CANCEL,
        Action.PRESCRIPTION_READ,
        Action.CLAIM_SUBMIT,
        Action.CLAIM_READ,
        Action.COURIER_ACT,
        Action.CONSULT_START,
        Action.CONSULT_READ,
        Action.CONSULT_CANCEL,
        Action.CONSULT_RATE,
        Action.CONSULT_MESSAGE,
    }
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: a signed-in user, or nobody (``user_id`` None)."""

    user_id: str | None
    roles: frozenset[Role] = frozenset()
    pharmacy_id: str | None = None
    city_id: str | None = None
    request_id: str | None = None
    ip: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def roles_text(self) -> str:
        return ",".join(sorted(self.roles))


ANONYMOUS = Actor(user_id=None)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a resource belongs to, for scoped checks; None fields mean 'not scoped that way'."""

    owner_id: str | None = None
    pharmacy_id: str | None = None
    city_id: str | None = None


def allowed(actor: Actor, action: Action, scope: Scope | None = None) -> bool:
    granting = actor.roles & _ALLOWED[action]
    if not granting:
        return False
    if scope is None:
        return True
    for role in granting:
        if action in _OWNER_SCOPED and role in (R.PATIENT, R.COURIER):
            if scope.owner_id is not None and scope.owner_id == actor.user_id:
                return True
            continue
        if role in _PHARMACY_SCOPED and scope.pharmacy_id is not None:
            if scope.pharmacy_id == actor.pharmacy_id:
                return True
            continue
        if role in _CITY_SCOPED and scope.city_id is not None and actor.city_id is not None:
            if scope.city_id == actor.city_id:
                return True
            continue
        return True
    return False


def authorize(actor: Actor, action: Action, scope: Scope | None = None) -> None:
    """Raise unless ``actor`` may take ``action`` on a resource with ``scope``."""
    if not actor.authenticated:
        raise NotAuthenticated("sign in first")
    if not allowed(actor, action, scope):
        raise PermissionDenied(f"your role may not {action.value.replace(':', ' ')} here")
