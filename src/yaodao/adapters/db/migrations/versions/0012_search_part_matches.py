"""PostgreSQL search: each query part finds its matches through the GIN index.

A search sends one tsquery per part (a term, a phrase or a prefix), often 10 to 25 of them. Joined
as a list in one statement, the planner has no statistics for the parts, expects about three
matches each, and tests every document against every part in a nested loop: at 25 parts and 631
documents that is 16,000 ``@@`` tests and most of the statement's time. A bitmap scan of the GIN
index per part costs a fraction of that. The join lives in a function so that turning sequential
scans off applies to it alone; the name-substring fallback in the same statement keeps its own
plan (a two-character substring has no trigram, and a trigram-index scan for it reads the whole
index).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# weight: the part's BM25 weight; tf: occurrences of the part in the document (ts_rank_cd with unit
# weights and no normalisation); df: documents matching the part.
_FUNCTION = """
CREATE OR REPLACE FUNCTION search_part_matches(queries tsquery[], weights float8[])
RETURNS TABLE (weight float8, product_id text, token_count integer, tf float8, df float8)
LANGUAGE sql STABLE
SET enable_seqscan = off
AS $$
    SELECT weights[q.part], p.product_id, p.token_count,
           ts_rank_cd('{1,1,1,1}'::float4[], p.tsv, q.query, 0)::float8,
           count(*) OVER (PARTITION BY q.part)::float8
    FROM unnest(queries) WITH ORDINALITY AS q (query, part)
    JOIN product_search AS p ON p.tsv @@ q.query
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS search_part_matches(tsquery[], float8[])")
