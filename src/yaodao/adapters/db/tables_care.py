"""Tables of the care context: doctors' professional profiles and the keys they sign prescriptions with."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, CheckConstraint, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from yaodao.adapters.db.columns import Id, UtcDateTime, metadata

doctors = Table(
    "doctors",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("licence_no", String(40), nullable=False, unique=True),
    Column("hospital", String(200), nullable=False),
    Column("province", String(40), nullable=False),
    Column("city", String(40), nullable=False),
    Column("departments", JSON, nullable=False),
    Column("languages", JSON, nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("suspended", Boolean, nullable=False),
    Column("years_practising", Integer, nullable=False),
    Column("max_concurrent", Integer, nullable=False),
    Column("rating", Float),
    Column("ratings", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("years_practising >= 0 AND years_practising <= 70", name="years_range"),
    CheckConstraint("max_concurrent >= 1 AND max_concurrent <= 20", name="max_concurrent_range"),
)

doctor_keys = Table(
    "doctor_keys",
    metadata,
    Column("id", Id, primary_key=True),
    Column("doctor_id", Id, ForeignKey("doctors.user_id"), nullable=False),
    Column("public_key", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Index("ix_doctor_keys_doctor", "doctor_id"),
)

__all__ = ["doctor_keys", "doctors"]
