"""The courier actions in the access policy: couriers act on their own records only; admins and operators run them."""

from __future__ import annotations

from yaodao.accounts.model import Role
from yaodao.accounts.policy import Action, Actor, Scope, allowed


def test_a_courier_acts_only_on_their_own_records() -> None:
    courier = Actor(user_id="c1", roles=frozenset({Role.COURIER}))
    assert allowed(courier, Action.COURIER_ACT, Scope(owner_id="c1"))
    assert not allowed(courier, Action.COURIER_ACT, Scope(owner_id="c2"))
    assert not allowed(courier, Action.COURIER_ADMIN, Scope(city_id="hangzhou"))


def test_no_other_role_may_act_as_a_courier() -> None:
    for role in (Role.PATIENT, Role.PHARMACIST, Role.STORE_STAFF, Role.DOCTOR, Role.OPERATOR, Role.ADMIN):
        assert not allowed(Actor(user_id="u1", roles=frozenset({role})), Action.COURIER_ACT, Scope(owner_id="u1"))


def test_admins_and_their_citys_operators_manage_couriers() -> None:
    admin = Actor(user_id="a", roles=frozenset({Role.ADMIN}))
    operator = Actor(user_id="o", roles=frozenset({Role.OPERATOR}), city_id="hangzhou")
    assert allowed(admin, Action.COURIER_ADMIN, Scope(city_id="ningbo"))
    assert allowed(operator, Action.COURIER_ADMIN, Scope(city_id="hangzhou"))
    assert not allowed(operator, Action.COURIER_ADMIN, Scope(city_id="ningbo"))
    assert not allowed(Actor(user_id="p", roles=frozenset({Role.PATIENT})), Action.COURIER_ADMIN)
