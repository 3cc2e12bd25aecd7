"""E-prescription signatures (DOMAIN D3): Ed25519 over one canonical form of the prescription.

The prescriber signs the canonical bytes of what they prescribe: the prescription id, patient,
doctor, issue time, validity, emergency and long-term marks, the stated reason for a long supply,
the consultation it came from, and each drug with its quantity, dose and days of supply. The form is
JSON with sorted keys, no whitespace, UTF-8, times in UTC to the second, so that any change to any of
those fields (an extra pack, a later ``valid_until``, another patient) breaks the signature. What is
*not* signed is what the platform adds later: fills, the pharmacist's review, the used mark.

The platform verifies a signature against the public key the doctor registered, and checks the
doctor's licence state separately (a valid signature from a suspended doctor is still refused).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from yaodao.ordering.prescriptions import Prescription

FORM_VERSION = "yaodao-rx-1"


def canonical_form(rx: Prescription, *, consultation_id: str | None = None) -> bytes:
    """The bytes a prescriber signs (see the module docstring)."""
    body: dict[str, Any] = {
        "form": FORM_VERSION,
        "id": rx.id,
        "patient_id": rx.patient_id,
        "doctor_id": rx.doctor_id,
        "consultation_id": consultation_id,
        "issued_at": _utc(rx.issued_at),
        "valid_until": _utc(rx.valid_until),
        "fills_allowed": rx.fills_allowed,
        "emergency": rx.emergency,
        "first_visit": rx.first_visit,
        "long_term_weeks": rx.long_term_weeks,
        "long_supply_reason": rx.long_supply_reason,
        "items": [
            {
                "drug": item.drug,
                "product_id": item.product_id,
                "dosage_form": item.dosage_form,
                "quantity_packs": item.quantity_packs,
                "dose_text": item.dose_text,
                "days_supply": item.days_supply,
            }
            for item in rx.items
        ],
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(rx: Prescription, private_key: Ed25519PrivateKey, *, consultation_id: str | None = None) -> bytes:
    return private_key.sign(canonical_form(rx, consultation_id=consultation_id))


def verify(rx: Prescription, public_key: Ed25519PublicKey, *, consultation_id: str | None = None) -> bool:
    """True when ``rx.signature`` is the prescriber's signature over this exact prescription."""
    if not rx.signature:
        return False
    try:
        public_key.verify(rx.signature, canonical_form(rx, consultation_id=consultation_id))
    except InvalidSignature:
        return False
    return True


def generate_key() -> tuple[Ed25519PrivateKey, str]:
    """A new key pair: the private key (it stays with the doctor) and the public key as base64 text."""
    key = Ed25519PrivateKey.generate()
    return key, public_key_text(key.public_key())


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_public_key(text: str) -> Ed25519PublicKey:
    """The registered public key from its base64 text; ValueError when it is not a 32-byte Ed25519 key."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("public key must be base64 text") from None
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
