"""The access policy: roles grant actions, and scoped roles only within their pharmacy, city or own records."""

from __future__ import annotations

import pytest

from yaodao.accounts.model import Role
from yaodao.accounts.policy import ANONYMOUS, Action, Actor, Scope, allowed, authorize
from yaodao.kernel.errors import NotAuthenticated, PermissionDenied


def actor(role: Role, **kw: str) -> Actor:
    return Actor(user_id=f"u-{role.value}", roles=frozenset({role}), **kw)


def test_store_staff_write_stock_only_in_their_own_pharmacy() -> None:
    staff = actor(Role.STORE_STAFF, pharmacy_id="ph-1")
    assert allowed(staff, Action.STOCK_WRITE, Scope(pharmacy_id="ph-1", city_id="hangzhou"))
    assert not allowed(staff, Action.STOCK_WRITE, Scope(pharmacy_id="ph-2", city_id="hangzhou"))


def test_operators_act_only_in_their_city() -> None:
    operator = actor(Role.OPERATOR, city_id="hangzhou")
    assert allowed(operator, Action.PHARMACY_UPDATE, Scope(city_id="hangzhou"))
    assert not allowed(operator, Action.PHARMACY_UPDATE, Scope(city_id="ningbo"))


def test_patients_reach_only_their_own_health_records() -> None:
    patient = actor(Role.PATIENT)
    assert allowed(patient, Action.FAMILY_READ, Scope(owner_id="u-patient"))
    assert not allowed(patient, Action.FAMILY_READ, Scope(owner_id="someone-else"))
    assert not allowed(actor(Role.ADMIN), Action.FAMILY_READ, Scope(owner_id="someone-else"))


@pytest.mark.parametrize("role", [Role.PATIENT, Role.DOCTOR, Role.COURIER])
def test_roles_outside_the_pharmacy_business_get_no_admin_action(role: Role) -> None:
    admin_actions = [
        a for a in Action if a.value.split(":")[0] in {"catalog", "city", "pharmacy", "stock", "user", "audit"}
    ]
    assert admin_actions
    assert not any(allowed(actor(role), a) for a in admin_actions)


def test_nobody_signed_in_is_told_to_sign_in_and_a_wrong_role_is_forbidden() -> None:
    with pytest.raises(NotAuthenticated):
        authorize(ANONYMOUS, Action.CATALOG_READ)
    with pytest.raises(PermissionDenied):
        authorize(actor(Role.COURIER), Action.CATALOG_READ)
