"""Tables of carts, orders, e-prescriptions, restricted-ingredient counters, payments and the ledger.

Part of the one ``metadata`` (``columns.py``); ``tables.py`` re-exports these tables. The money
rules the services follow are also rules of the database, so they hold at any isolation level and
whatever code writes: refunds never exceed what was paid, fills never exceed what a prescription
allows, a restricted-ingredient counter never passes its limit, a pot never goes below zero, and an
Rx order cannot stand in a pharmacy state without a recorded pharmacist approval (RELIABILITY I8-I13).
The ledger is append-only and balanced per transaction by triggers (migration 0006).
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
    LargeBinary,
    String,
    Table,
    Text,
    text,
)

from yaodao.adapters.db.columns import Id, UtcDateTime, metadata

ORDER_STATUSES = (
    "created",
    "awaiting_payment",
    "paid",
    "awaiting_review",
    "accepted",
    "picking",
    "ready_for_pickup",
    "picked_up",
    "delivered",
    "cancelled",
    "rejected",
    "refunded",
    "delivery_failed",
)
# States a pharmacy only reaches after accepting the order: an Rx order needs an approval there.
PHARMACY_STATES = ("accepted", "picking", "ready_for_pickup", "picked_up", "delivered", "delivery_failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


cart_items = Table(
    "cart_items",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("product_id", Id, ForeignKey("products.id"), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("prescription_id", Id),
    Column("added_at", UtcDateTime, nullable=False),
    CheckConstraint("quantity > 0 AND quantity <= 99", name="quantity_range"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True),
    Column("city_id", String(40), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("patient_id", Id, nullable=False),
    Column("pharmacy_id", Id, ForeignKey("pharmacies.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("fulfilment", String(10), nullable=False),
    Column("address_lat", Float),
    Column("address_lng", Float),
    Column("address_text", String(300)),
    Column("promise_minutes", Integer, nullable=False),
    Column("quoted_eta_minutes", Integer, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("rules_version", String(60), nullable=False),
    Column("items_subtotal_fen", BigInteger, nullable=False),
    Column("discount_fen", BigInteger, nullable=False),
    Column("delivery_fee_fen", BigInteger, nullable=False),
    Column("night_surcharge_fen", BigInteger, nullable=False),
    Column("packaging_fee_fen", BigInteger, nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("insured_fen", BigInteger, nullable=False),
    Column("self_paid_fen", BigInteger, nullable=False),
    Column("non_reimbursable_fen", BigInteger, nullable=False),
    Column("has_rx", Boolean, nullable=False),
    Column("holds", JSON, nullable=False),
    Column("review", JSON),
    Column("approved_by", Id),
    Column("approved_at", UtcDateTime),
    Column("rx_risk_acknowledged_at", UtcDateTime),
    Column("payment_ref", Id),
    Column("paid_fen", BigInteger, nullable=False),
    Column("refunded_fen", BigInteger, nullable=False),
    Column("stock_state", String(10), nullable=False),
    Column("cancel_reason", String(300)),
    Column("reject_reason", String(300)),
    Column("failure_reason", String(300)),
    Column("closed_by", String(20)),
    Column("entered_at", JSON, nullable=False),
    Column("gate", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint(_in("status", ORDER_STATUSES), name="status_known"),
    CheckConstraint("fulfilment IN ('delivery', 'pickup')", name="fulfilment_known"),
    CheckConstraint("stock_state IN ('reserved', 'released', 'consumed')", name="stock_state_known"),
    CheckConstraint(
        "total_fen = items_subtotal_fen - discount_fen + delivery_fee_fen + night_surcharge_fen + packaging_fee_fen",
        name="total_adds_up",
    ),
    CheckConstraint("total_fen >= 0 AND discount_fen >= 0", name="amounts_not_negative"),
    CheckConstraint("paid_fen >= 0 AND refunded_fen >= 0 AND refunded_fen <= paid_fen", name="refunds_within_paid"),
    CheckConstraint(
        f"NOT has_rx OR NOT {_in('status', PHARMACY_STATES)} OR approved_at IS NOT NULL", name="rx_approved"
    ),
    Index("ix_orders_user", "user_id", "created_at"),
    Index("ix_orders_pharmacy_status", "pharmacy_id", "status"),
    Index("ix_orders_status_expires", "status", "expires_at"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("product_id", Id, ForeignKey("products.id"), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("name", String(300), nullable=False),
    Column("drug_class", String(10), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_fen", BigInteger, nullable=False),
    Column("line_total_fen", BigInteger, nullable=False),
    Column("prescription_id", Id),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("unit_price_fen > 0 AND line_total_fen = unit_price_fen * quantity", name="line_total"),
)

prescriptions = Table(
    "prescriptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("patient_id", Id, nullable=False),
    Column("doctor_id", Id, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("valid_until", UtcDateTime, nullable=False),
    Column("items", JSON, nullable=False),
    Column("fills_allowed", Integer, nullable=False),
    Column("fills_used", Integer, nullable=False),
    Column("used_at", UtcDateTime),
    Column("review_state", String(10), nullable=False),
    Column("reviewed_by", Id),
    Column("reviewed_at", UtcDateTime),
    Column("kb_version", String(60)),
    Column("signature", LargeBinary),
    Column("first_visit", Boolean, nullable=False),
    Column("emergency", Boolean, nullable=False),
    Column("long_term_weeks", Integer),
    Column("long_supply_reason", String(300)),
    Column("consultation_id", Id),  # the follow-up consultation it was issued in (DOMAIN D1)
    Column("created_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("fills_allowed >= 1 AND fills_used >= 0 AND fills_used <= fills_allowed", name="fills_within"),
    CheckConstraint("valid_until > issued_at", name="validity_after_issue"),
    CheckConstraint("review_state IN ('pending', 'approved', 'rejected')", name="review_state_known"),
    Index("ix_prescriptions_patient", "patient_id", "issued_at"),
)

restricted_usage = Table(
    "restricted_usage",
    metadata,
    Column("identity_key", String(128), primary_key=True),
    Column("counter", String(80), primary_key=True),
    Column("window_start", Date, primary_key=True),
    Column("packs", Integer, nullable=False),
    Column("mg", BigInteger, nullable=False),
    CheckConstraint("packs >= 0 AND mg >= 0", name="usage_not_negative"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal_id", Id, primary_key=True),
    Column("route", String(120), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("state", String(10), nullable=False),
    Column("response_status", Integer),
    Column("response_body", JSON),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    CheckConstraint("state IN ('started', 'finished')", name="state_known"),
    Index("ix_idempotency_keys_created", "created_at"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Id, primary_key=True),  # also the out_trade_no the wallet knows it by
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False, unique=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("city_id", String(40), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("state", String(10), nullable=False),
    Column("trade_no", String(64), unique=True),
    Column("buyer_id", String(64)),
    Column("paid_at", UtcDateTime),
    Column("refunded_fen", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refunds_within_amount"),
    CheckConstraint("state IN ('pending', 'paid', 'closed')", name="state_known"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Id, primary_key=True),
    Column("payment_id", Id, ForeignKey("payments.id"), nullable=False),
    Column("out_request_no", String(64), nullable=False, unique=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("reason", String(300), nullable=False),
    Column("state", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Column("failure_code", String(64)),  # the wallet's sub code when it refused (migration 0007)
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("state IN ('requested', 'succeeded', 'failed')", name="state_known"),
    Index("ix_refunds_payment", "payment_id"),
    Index("ix_refunds_state", "state", "created_at"),
)

wallet_notifications = Table(
    "wallet_notifications",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("notify_id", String(128)),
    Column("out_trade_no", String(64)),
    Column("trade_status", String(20)),
    Column("outcome", String(40), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("params", JSON, nullable=False),
    Index("ix_wallet_notifications_trade", "out_trade_no", "received_at"),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("reference", String(255), nullable=False),
    Column("parent_id", Id),
    Column("user_id", Id),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("memo", Text, nullable=False),
    # One capture per payment, one refund per request number, one accrual per capture, one payout
    # per claim: a replay can never write the same fact twice (corrections: one per original).
    Index(
        "uq_ledger_fact",
        "kind",
        "reference",
        unique=True,
        postgresql_where=text("kind <> 'correction'"),
        sqlite_where=text("kind <> 'correction'"),
    ),
    Index(
        "uq_ledger_correction",
        "parent_id",
        unique=True,
        postgresql_where=text("kind = 'correction'"),
        sqlite_where=text("kind = 'correction'"),
    ),
    Index("ix_ledger_transactions_user", "user_id", "occurred_at"),
)

ledger_postings = Table(
    "ledger_postings",
    metadata,
    # Postings are written before their transaction row (whose insert checks the balance), so the
    # reference is checked at commit.
    Column("txn_id", Id, ForeignKey("ledger_transactions.id", deferrable=True, initially="DEFERRED"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("account", String(120), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    CheckConstraint("amount_fen <> 0", name="amount_not_zero"),
    Index("ix_ledger_postings_account", "account"),
)

pot_balances = Table(
    "pot_balances",
    metadata,
    Column("account", String(120), primary_key=True),
    Column("balance_fen", BigInteger, nullable=False),
    CheckConstraint("balance_fen >= 0", name="pot_not_negative"),
)

insurance_claims = Table(
    "insurance_claims",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("claimed_fen", BigInteger, nullable=False),
    Column("evidence_ref", String(300), nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("status", String(10), nullable=False),
    Column("approved_fen", BigInteger),
    Column("decided_at", UtcDateTime),
    Column("rejection_reason", String(300)),
    Column("paid_at", UtcDateTime),
    Column("version", Integer, nullable=False),
    Column("subject_ref", String(120)),  # the order, consultation or receipt claimed for (migration 0007)
    Column("decided_by", Id),  # the adjuster who approved or rejected it (migration 0007)
    CheckConstraint("claimed_fen > 0", name="claimed_positive"),
    CheckConstraint("approved_fen IS NULL OR (approved_fen > 0 AND approved_fen <= claimed_fen)", name="approved"),
    CheckConstraint("status IN ('submitted', 'approved', 'rejected', 'paid')", name="status_known"),
    Index("ix_insurance_claims_user", "user_id", "submitted_at"),
)

__all__ = [
    "cart_items",
    "idempotency_keys",
    "insurance_claims",
    "ledger_postings",
    "ledger_transactions",
    "order_lines",
    "orders",
    "payments",
    "pot_balances",
    "prescriptions",
    "refunds",
    "restricted_usage",
    "wallet_notifications",
]
