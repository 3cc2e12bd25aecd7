"""PostgreSQL search indexes without a GIN pending list.

With ``fastupdate`` on (the default), rows written by a reindex wait in the GIN index's pending
list until a vacuum merges them, and every search scans that list linearly: after a full
reindex it cost a query about as much as the rest of its work. The search table is written in
bulk and rarely, and read on every keystroke, so its indexes take writes directly.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = ("ix_product_search_tsv", "ix_product_search_name_trgm")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in _INDEXES:
            op.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
            op.execute(f"SELECT gin_clean_pending_list('{name}'::regclass)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in _INDEXES:
            op.execute(f"ALTER INDEX {name} RESET (fastupdate)")
