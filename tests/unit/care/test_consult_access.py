"""Who may take which consultation action, as the access policy decides it (accounts/policy.py)."""

from __future__ import annotations

import pytest

from yaodao.accounts.model import Role
from yaodao.accounts.policy import Action, Actor, Scope, allowed

CONSULT_ACTIONS = [a for a in Action if a.value.startswith("consult:")]


def actor(role: Role, user_id: str = "u1") -> Actor:
    return Actor(user_id=user_id, roles=frozenset({role}))


@pytest.mark.parametrize("role", [Role.COURIER, Role.PHARMACIST, Role.STORE_STAFF, Role.OPERATOR, Role.ADMIN])
def test_roles_outside_the_consultation_get_no_consultation_action(role: Role) -> None:
    assert not any(allowed(actor(role), action, Scope(owner_id="u1")) for action in CONSULT_ACTIONS)


def test_a_patient_acts_only_on_consultations_of_their_own_account() -> None:
    patient = actor(Role.PATIENT)
    for action in (Action.CONSULT_START, Action.CONSULT_READ, Action.CONSULT_CANCEL, Action.CONSULT_MESSAGE):
        assert allowed(patient, action, Scope(owner_id="u1"))
        assert not allowed(patient, action, Scope(owner_id="someone-else"))
    assert not allowed(patient, Action.CONSULT_ACCEPT)
    assert not allowed(patient, Action.CONSULT_QUEUE)
    assert not allowed(patient, Action.CONSULT_CLOSE)


def test_doctors_queue_accept_message_and_close_but_never_start_cancel_or_rate() -> None:
    doctor = actor(Role.DOCTOR)
    for action in (Action.CONSULT_QUEUE, Action.CONSULT_ACCEPT, Action.CONSULT_MESSAGE, Action.CONSULT_CLOSE):
        assert allowed(doctor, action)
    for action in (Action.CONSULT_START, Action.CONSULT_CANCEL, Action.CONSULT_RATE):
        assert not allowed(doctor, action)
