"""Tables, in SQLAlchemy Core. Domain classes never see them: repositories translate.

Money columns are BIGINT fen; times are stored in UTC with timezone; ``city_id`` is in
every city-scoped table so a city can move to its own shard without a data change.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from yaodao.adapters.db.columns import Id, UtcDateTime, metadata

cities = Table(
    "cities",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name_zh", String(100), nullable=False),
    Column("name_en", String(100), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("datum", String(8), nullable=False),
    Column("data", JSON, nullable=False),  # the full city data (service area, windows, speeds)
    Column("districts", JSON, nullable=False),  # GeoJSON FeatureCollection
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True),
    Column("sku", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("generic_name_zh", String(200), nullable=False),
    Column("generic_name_en", String(200), nullable=False),
    Column("brand_name_zh", String(100)),
    Column("brand_name_en", String(100)),
    Column("manufacturer_zh", String(200), nullable=False),
    Column("ingredients", JSON, nullable=False),
    Column("dosage_form", String(40), nullable=False),
    Column("strength", String(100), nullable=False),
    Column("pack_size", Integer, nullable=False),
    Column("pack_unit", String(20), nullable=False),
    Column("pack_text_zh", String(100), nullable=False),
    Column("drug_class", String(8), nullable=False),
    Column("categories", JSON, nullable=False),
    Column("indications_zh", JSON, nullable=False),
    Column("indications_en", JSON, nullable=False),
    Column("contraindications", JSON, nullable=False),
    Column("min_age_years", Integer),
    Column("max_per_order", Integer, nullable=False),
    Column("cold_chain", Boolean, nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("online_sellable", Boolean, nullable=False),
    Column("prohibited_reason", String(300)),
    Column("prohibition_list_version", String(40), nullable=False),
    Column("pinyin_full", String(400), nullable=False),
    Column("pinyin_initials", String(100), nullable=False),
    Column("approval_no", String(40)),
    Column("source", String(200)),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("price_fen > 0", name="price_positive"),
    CheckConstraint("pack_size > 0", name="pack_size_positive"),
    CheckConstraint("max_per_order > 0", name="max_per_order_positive"),
    CheckConstraint("drug_class IN ('rx', 'otc_a', 'otc_b', 'device')", name="drug_class_known"),
    # A prohibited product can never be marked sellable, whatever the application does.
    CheckConstraint("NOT (online_sellable AND prohibited_reason IS NOT NULL)", name="prohibited_not_sellable"),
)

pharmacies = Table(
    "pharmacies",
    metadata,
    Column("id", Id, primary_key=True),
    Column("city_id", String(40), ForeignKey("cities.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("brand", String(100), nullable=False),
    Column("district_code", String(20)),
    Column("address", String(300), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("open_24h", Boolean, nullable=False),
    Column("opens", String(5), nullable=False),  # HH:MM city-local
    Column("closes", String(5), nullable=False),
    Column("prep_minutes", Integer, nullable=False),
    Column("licence_no", String(40), nullable=False),
    Column("extra", JSON, nullable=False),  # store format, cold-chain capability
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("prep_minutes >= 0 AND prep_minutes <= 240", name="prep_minutes_range"),
)

stock_levels = Table(
    "stock_levels",
    metadata,
    Column("pharmacy_id", Id, ForeignKey("pharmacies.id"), primary_key=True),
    Column("product_id", Id, ForeignKey("products.id"), primary_key=True),
    Column("city_id", String(40), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    CheckConstraint("reserved >= 0 AND reserved <= quantity", name="reserved_within_quantity"),
    Index("ix_stock_levels_product", "product_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("pharmacy_id", Id, ForeignKey("pharmacies.id")),
    Column("city_id", String(40), ForeignKey("cities.id")),
    Column("phone", String(32)),
    Column("date_of_birth", Date),
    Column("sex", String(1)),
    Column("allergies", JSON, nullable=False),
    Column("current_medicines", JSON, nullable=False),
    Column("id_number_hash", String(64)),
    Column("disabled", Boolean, nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("failed_window_start", UtcDateTime),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

auth_tokens = Table(
    "auth_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),  # cookie | bearer
    Column("csrf_token", String(64)),
    Column("label", String(100)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    CheckConstraint("kind IN ('cookie', 'bearer')", name="kind_known"),
)

family_members = Table(
    "family_members",
    metadata,
    Column("id", Id, primary_key=True),
    Column("owner_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("relation", String(20), nullable=False),
    Column("date_of_birth", Date, nullable=False),
    Column("sex", String(1)),
    Column("allergies", JSON, nullable=False),
    Column("current_medicines", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

addresses = Table(
    "addresses",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("city_id", String(40), ForeignKey("cities.id"), nullable=False),
    Column("label", String(40), nullable=False),
    Column("recipient", String(100), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("text", String(300), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("district_code", String(20)),
    Column("is_default", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor_id", Id),
    Column("actor_roles", String(200), nullable=False),
    Column("action", String(20), nullable=False),
    Column("resource_type", String(40), nullable=False),
    Column("resource_id", String(80)),
    Column("patient_id", Id),
    Column("outcome", String(10), nullable=False),
    Column("request_id", String(64)),
    Column("ip", String(64)),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_events_patient", "patient_id", "at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", Id, nullable=False, unique=True),
    Column("topic", String(100), nullable=False),
    Column("city_id", String(40)),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("published_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Index("ix_outbox_unpublished", "published_at", "id"),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", Id, primary_key=True),
    Column("processed_at", UtcDateTime, nullable=False),
)

from yaodao.adapters.db.tables_care import (  # noqa: E402
    consultation_attachments,
    consultation_messages,
    consultation_offers,
    consultations,
    doctor_keys,
    doctor_roster_slots,
    doctors,
)
from yaodao.adapters.db.tables_delivery import (  # noqa: E402
    courier_events,
    courier_positions,
    courier_shifts,
    couriers,
    deliveries,
)

# Orders, prescriptions, payments and the ledger share this metadata; imported last, because that
# module takes ``metadata``, ``Id`` and ``UtcDateTime`` from this one.
from yaodao.adapters.db.tables_orders import (  # noqa: E402
    cart_items,
    idempotency_keys,
    insurance_claims,
    ledger_postings,
    ledger_transactions,
    order_lines,
    orders,
    payments,
    pot_balances,
    prescriptions,
    refunds,
    restricted_usage,
    wallet_notifications,
)

__all__ = [
    "UtcDateTime",
    "addresses",
    "audit_events",
    "auth_tokens",
    "cart_items",
    "cities",
    "consultation_attachments",
    "consultation_messages",
    "consultation_offers",
    "consultations",
    "courier_events",
    "courier_positions",
    "courier_shifts",
    "couriers",
    "deliveries",
    "doctor_keys",
    "doctor_roster_slots",
    "doctors",
    "family_members",
    "idempotency_keys",
    "insurance_claims",
    "ledger_postings",
    "ledger_transactions",
    "metadata",
    "order_lines",
    "orders",
    "outbox",
    "payments",
    "pharmacies",
    "pot_balances",
    "prescriptions",
    "processed_events",
    "products",
    "refunds",
    "restricted_usage",
    "stock_levels",
    "users",
    "wallet_notifications",
]
