"""Tables of the care context: doctors' professional profiles, the keys they sign prescriptions with,
consultations (the aggregate row, with the read marks of both sides) and their chat messages."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

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

consultations = Table(
    "consultations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("patient_id", Id, nullable=False),  # a user or one of their family members
    Column("owner_id", Id, ForeignKey("users.id"), nullable=False),
    Column("city_id", String(40)),
    Column("kind", String(12), nullable=False),
    Column("status", String(10), nullable=False),
    Column("department", String(40), nullable=False),
    Column("urgency", String(10), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("language", String(10), nullable=False),
    Column("intake", JSON, nullable=False),  # complaint, age, sex, pregnancy, allergies, medicines, diagnosis
    Column("requested_at", UtcDateTime, nullable=False),
    Column("doctor_id", Id, ForeignKey("doctors.user_id")),
    Column("accepted_at", UtcDateTime),
    Column("ended_at", UtcDateTime),
    Column("note", JSON),
    Column("rating", Integer),
    Column("last_seq", Integer, nullable=False),
    Column("patient_read_seq", Integer, nullable=False),
    Column("doctor_read_seq", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("status IN ('waiting', 'active', 'closed', 'cancelled', 'expired')", name="status_known"),
    CheckConstraint("kind IN ('first_visit', 'follow_up')", name="kind_known"),
    CheckConstraint("status = 'waiting' OR status = 'cancelled' OR doctor_id IS NOT NULL OR status = 'expired'",
                    name="accepted_has_doctor"),
    CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
    Index("ix_consultations_queue", "status", "department", "priority", "requested_at"),
    Index("ix_consultations_owner", "owner_id", "requested_at"),
    Index("ix_consultations_doctor", "doctor_id", "status"),
)  # fmt: skip

consultation_messages = Table(
    "consultation_messages",
    metadata,
    Column("consultation_id", Id, ForeignKey("consultations.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("sender_id", Id, nullable=False),
    Column("sender_role", String(10), nullable=False),
    Column("client_msg_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
    UniqueConstraint("consultation_id", "sender_id", "client_msg_id", name="uq_consultation_messages_client_msg"),
)

__all__ = ["consultation_messages", "consultations", "doctor_keys", "doctors"]
