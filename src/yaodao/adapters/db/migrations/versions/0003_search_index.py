"""The product search index: FTS5 on SQLite, full text + pg_trgm on PostgreSQL.

The index is derived from the catalogue and can be rebuilt from it, so it lives outside
``tables.py``: the adapters (``yaodao.adapters.search_sqlite`` / ``search_postgres``) own it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            """
            CREATE TABLE product_search (
                product_id varchar(80) NOT NULL,
                name text NOT NULL,
                tokens text NOT NULL,
                token_count integer NOT NULL DEFAULT 0,
                tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, tokens)) STORED,
                CONSTRAINT pk_product_search PRIMARY KEY (product_id)
            )
            """
        )
        op.execute("CREATE INDEX ix_product_search_tsv ON product_search USING gin (tsv)")
        op.execute("CREATE INDEX ix_product_search_name_trgm ON product_search USING gin (name gin_trgm_ops)")
        return
    # The documents live in a plain table (unique product_id: upserts and deletes use an index);
    # product_search is an external-content FTS5 index over their tokens, synced by triggers.
    op.execute(
        """
        CREATE TABLE product_search_docs (
            id INTEGER NOT NULL PRIMARY KEY,
            product_id VARCHAR(80) NOT NULL UNIQUE,
            name TEXT NOT NULL,
            tokens TEXT NOT NULL
        )
        """
    )
    op.execute(
        "CREATE VIRTUAL TABLE product_search USING fts5("
        "tokens, content='product_search_docs', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER product_search_docs_ai AFTER INSERT ON product_search_docs BEGIN "
        "INSERT INTO product_search (rowid, tokens) VALUES (new.id, new.tokens); END"
    )
    op.execute(
        "CREATE TRIGGER product_search_docs_ad AFTER DELETE ON product_search_docs BEGIN "
        "INSERT INTO product_search (product_search, rowid, tokens) VALUES ('delete', old.id, old.tokens); END"
    )
    op.execute(
        "CREATE TRIGGER product_search_docs_au AFTER UPDATE ON product_search_docs BEGIN "
        "INSERT INTO product_search (product_search, rowid, tokens) VALUES ('delete', old.id, old.tokens); "
        "INSERT INTO product_search (rowid, tokens) VALUES (new.id, new.tokens); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The pg_trgm extension stays: other objects may use it, and upgrade() tolerates it.
        op.execute("DROP TABLE product_search")
        return
    for trigger in ("product_search_docs_ai", "product_search_docs_ad", "product_search_docs_au"):
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute("DROP TABLE product_search")
    op.execute("DROP TABLE product_search_docs")
