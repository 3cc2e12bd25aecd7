"""Refund failures and claim subjects: what the wallet refused, what a claim is about, who decided it.

* ``refunds.failure_code``: the wallet's sub code when it refused a refund request.
* ``ix_refunds_state``: the reconciler looks for refunds still ``requested``.
* ``insurance_claims.subject_ref``: the order, consultation or outside receipt a claim is about.
* ``insurance_claims.decided_by``: the adjuster who approved or rejected it (segregation of duties).
* The pot trigger: both engines check a row's CHECK constraints on the row an upsert proposes,
  before it finds the conflict, so ``INSERT … VALUES (pot, -5) ON CONFLICT DO UPDATE`` failed
  ``balance_fen >= 0`` even when the pot held enough, refusing every clawback and payout. The
  trigger now makes sure the row exists (at 0), then moves it with an UPDATE, whose CHECK sees the
  real new balance (and which waits for a concurrent payout's row lock on PostgreSQL).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_OLD_SQLITE_POT_TRIGGER = (
    "CREATE TRIGGER ledger_postings_pot AFTER INSERT ON ledger_postings WHEN NEW.account LIKE 'pot:%' "
    "BEGIN INSERT INTO pot_balances (account, balance_fen) VALUES (NEW.account, NEW.amount_fen) "
    "ON CONFLICT (account) DO UPDATE SET balance_fen = balance_fen + excluded.balance_fen; END"
)
_SQLITE_POT_TRIGGER = (
    "CREATE TRIGGER ledger_postings_pot AFTER INSERT ON ledger_postings WHEN NEW.account LIKE 'pot:%' "
    "BEGIN INSERT OR IGNORE INTO pot_balances (account, balance_fen) VALUES (NEW.account, 0); "
    "UPDATE pot_balances SET balance_fen = balance_fen + NEW.amount_fen WHERE account = NEW.account; END"
)


_PG_POSTING_WRITTEN = """
CREATE OR REPLACE FUNCTION ledger_posting_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_WHEN = 'BEFORE' THEN
        IF EXISTS (SELECT 1 FROM ledger_transactions WHERE id = NEW.txn_id) THEN
            RAISE EXCEPTION 'ledger transaction % is already written', NEW.txn_id USING ERRCODE = 'check_violation';
        END IF;
    ELSIF NEW.account LIKE 'pot:%' THEN
        %s
    END IF;
    RETURN NEW;
END $$;
"""
_PG_POT_MOVE = (
    "INSERT INTO pot_balances (account, balance_fen) VALUES (NEW.account, 0) ON CONFLICT (account) DO NOTHING;\n"
    "        UPDATE pot_balances SET balance_fen = balance_fen + NEW.amount_fen WHERE account = NEW.account;"
)
_PG_OLD_POT_MOVE = (
    "INSERT INTO pot_balances (account, balance_fen) VALUES (NEW.account, NEW.amount_fen)\n"
    "        ON CONFLICT (account) DO UPDATE SET balance_fen = pot_balances.balance_fen + EXCLUDED.balance_fen;"
)


def _replace_pot_trigger(*, old: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_POSTING_WRITTEN.replace("%s", _PG_OLD_POT_MOVE if old else _PG_POT_MOVE))
    else:
        op.execute("DROP TRIGGER ledger_postings_pot")
        op.execute(_OLD_SQLITE_POT_TRIGGER if old else _SQLITE_POT_TRIGGER)


def upgrade() -> None:
    _replace_pot_trigger(old=False)
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_code", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_refunds_state", ["state", "created_at"], unique=False)
    with op.batch_alter_table("insurance_claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_ref", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("decided_by", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("insurance_claims", schema=None) as batch_op:
        batch_op.drop_column("decided_by")
        batch_op.drop_column("subject_ref")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_state")
        batch_op.drop_column("failure_code")
    _replace_pot_trigger(old=True)
