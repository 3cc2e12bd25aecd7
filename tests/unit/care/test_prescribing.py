"""DOMAIN D3: an e-prescription carries its prescriber's Ed25519 signature over a canonical form."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from yaodao.care.prescribing import canonical_form, generate_key, load_public_key, sign, verify
from yaodao.ordering.prescriptions import PrescribedItem, Prescription

ISSUED = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def _rx(**changes: object) -> Prescription:
    rx = Prescription(
        id="rx-1", patient_id="p-1", doctor_id="d-1", issued_at=ISSUED, valid_until=ISSUED + timedelta(hours=8),
        items=(PrescribedItem("amoxicillin", 2, "0.5 g three times a day", 5, product_id="amox-250"),),
    )  # fmt: skip
    return dataclasses.replace(rx, **changes)


def test_a_signed_prescription_verifies_with_its_doctors_key() -> None:
    """The signature over the canonical form verifies with the registered public key."""
    key, public = generate_key()
    rx = _rx()
    signed = dataclasses.replace(rx, signature=sign(rx, key))
    assert verify(signed, load_public_key(public))


@pytest.mark.parametrize(
    "change",
    [
        {"patient_id": "p-2"},
        {"valid_until": ISSUED + timedelta(hours=20)},
        {"items": (PrescribedItem("amoxicillin", 3, "0.5 g three times a day", 5, product_id="amox-250"),)},
        {"items": (PrescribedItem("cefalexin", 2, "0.5 g three times a day", 5),)},
        {"doctor_id": "d-2"},
        {"fills_allowed": 3},
    ],
)
def test_any_change_to_what_was_prescribed_breaks_the_signature(change: dict[str, object]) -> None:
    """Altered patient, validity, quantity, drug, prescriber or fills: refused."""
    key, public = generate_key()
    rx = _rx()
    signature = sign(rx, key)
    altered = dataclasses.replace(_rx(**change), signature=signature)
    assert not verify(altered, load_public_key(public))


def test_another_doctors_key_an_unsigned_or_a_garbled_signature_do_not_verify() -> None:
    key, _ = generate_key()
    _, other_public = generate_key()
    rx = _rx()
    signed = dataclasses.replace(rx, signature=sign(rx, key))
    assert not verify(signed, load_public_key(other_public))
    assert not verify(rx, load_public_key(other_public))
    assert not verify(dataclasses.replace(rx, signature=b"\x00" * 64), load_public_key(other_public))


def test_the_canonical_form_does_not_depend_on_the_timezone_the_times_are_given_in() -> None:
    shanghai = ISSUED.astimezone(ZoneInfo("Asia/Shanghai"))
    assert canonical_form(_rx()) == canonical_form(_rx(issued_at=shanghai))


@pytest.mark.parametrize("text", ["", "not base64!", "AAAA", "A" * 44 + "=="])
def test_a_public_key_that_is_not_ed25519_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="key"):
        load_public_key(text)
