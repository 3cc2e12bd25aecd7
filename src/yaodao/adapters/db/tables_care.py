"""Tables of the care context: doctors' professional profiles, the keys they sign prescriptions with,
consultations (the aggregate row, with the read marks of both sides), their chat messages and images, the
offers of waiting consultations to doctors, and doctors' weekly rosters."""

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
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
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
    Column("attachment_id", Id, ForeignKey("consultation_attachments.id")),  # an image sent with the text
    Column("sent_at", UtcDateTime, nullable=False),
    UniqueConstraint("consultation_id", "sender_id", "client_msg_id", name="uq_consultation_messages_client_msg"),
)

# A doctor's weekly roster: on duty from ``start_minute`` to ``end_minute`` (minutes after local midnight, in
# the doctor's ``timezone``) on ``weekday`` (0 = Monday); a slot may run past midnight (end > 1440).
doctor_roster_slots = Table(
    "doctor_roster_slots",
    metadata,
    Column("doctor_id", Id, ForeignKey("doctors.user_id"), primary_key=True),
    Column("weekday", Integer, primary_key=True),
    Column("start_minute", Integer, primary_key=True),
    Column("end_minute", Integer, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
    CheckConstraint("start_minute >= 0 AND start_minute < 1440", name="start_range"),
    CheckConstraint("end_minute > start_minute AND end_minute - start_minute <= 720", name="length_range"),
)

# An offer of a waiting consultation to one doctor; it lapses at ``expires_at`` and the matcher offers the
# consultation to the next suitable doctor. At most one open offer per consultation.
consultation_offers = Table(
    "consultation_offers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("consultation_id", Id, ForeignKey("consultations.id"), nullable=False),
    Column("doctor_id", Id, ForeignKey("doctors.user_id"), nullable=False),
    Column("state", String(10), nullable=False),
    Column("offered_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime),
    CheckConstraint("state IN ('open', 'accepted', 'declined', 'lapsed', 'withdrawn')", name="state_known"),
    CheckConstraint("expires_at > offered_at", name="expires_after_offer"),
    Index("ix_consultation_offers_consultation", "consultation_id", "state"),
    Index("ix_consultation_offers_doctor", "doctor_id", "state"),
    Index(
        "uq_consultation_offers_one_open", "consultation_id", unique=True,
        sqlite_where=text("state = 'open'"), postgresql_where=text("state = 'open'"),
    ),
)  # fmt: skip

# An image sent in a consultation's chat: the bytes (checked type and size) and their digest; a message
# carries the attachment's id.
consultation_attachments = Table(
    "consultation_attachments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("consultation_id", Id, ForeignKey("consultations.id"), nullable=False),
    Column("sender_id", Id, nullable=False),
    Column("content_type", String(40), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("size_bytes > 0 AND size_bytes <= 5242880", name="size_range"),
    Index("ix_consultation_attachments_consultation", "consultation_id"),
)

__all__ = [
    "consultation_attachments",
    "consultation_messages",
    "consultation_offers",
    "consultations",
    "doctor_keys",
    "doctor_roster_slots",
    "doctors",
]
