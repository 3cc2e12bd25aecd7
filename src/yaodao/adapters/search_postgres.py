"""The search index on PostgreSQL (at scale): full text over tokens, pg_trgm over names.

Schema (migration 0003): ``product_search(product_id PK, name, tokens, token_count, tsv)`` where
``tsv`` is generated as ``to_tsvector('simple', tokens)`` (GIN index), and a ``gin_trgm_ops``
index on ``name`` serves the ``LIKE '%…%'`` fallback (it needs a database with a UTF-8 ctype).
Migration 0005 turns the GIN pending list off, so a reindex never leaves searches scanning it.
Migration 0012 adds ``search_part_matches``: each query part's matches through the GIN index (a
bitmap scan per part, not every document tested against every part), with its tf and df.

Safe query construction: no user text is ever formatted into SQL or into tsquery syntax.

* Token terms go through ``phraseto_tsquery('simple', :term)`` as bound parameters. It reads
  its input as plain text (``'``, ``|``, ``&``, ``!``, ``:*``, ``(`` are just separators), so it
  cannot fail on syntax, and it parses the term with the same parser that built ``tsv``.
* Prefix terms are only those matching ``[0-9a-z]+`` (:func:`is_prefix_term`), so
  ``to_tsquery('simple', :term || ':*')`` can contain no operator but the ``:*`` we append.
* Name substrings use ``LIKE :pattern ESCAPE '\\'`` with ``%``, ``_`` and ``\\`` escaped. Names and
  terms are both normalised (lower case), so ``LIKE`` finds what ``ILIKE`` would, at a quarter
  of the cost (``ILIKE`` folds the case of every row it reads).

Scoring mirrors FTS5's ``bm25()`` (see ``yaodao.search.index``): per query part, document
frequency counted over its matches, term frequency from ``ts_rank_cd`` with unit weights and no
normalisation (one per occurrence of the term or phrase), document length from
``token_count``. Each query computes the corpus size and average length with one pass over
``token_count``; cache them in a stats row if the catalogue grows far past 10^5 documents.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, text

from yaodao.adapters.search_sqlite import SqliteSearchIndex
from yaodao.search.index import (
    BM25_B,
    BM25_K1,
    PREFIX_WEIGHT,
    SUBSTRING_WEIGHT,
    Hit,
    IndexedDocument,
    SearchIndex,
    discriminating,
    latest_by_id,
    like_contains,
    plan_query,
)

_CHUNK = 500
_ANALYZE_AFTER_ROWS = 200

_UPSERT = text(
    "INSERT INTO product_search (product_id, name, tokens, token_count) "
    "VALUES (:product_id, :name, :tokens, :token_count) "
    "ON CONFLICT (product_id) DO UPDATE SET "
    "name = EXCLUDED.name, tokens = EXCLUDED.tokens, token_count = EXCLUDED.token_count "
    # An unchanged document is not rewritten (no dead tuple, no GIN churn on a full reindex).
    "WHERE (product_search.name, product_search.tokens) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.tokens)"
)
_DELETE = text("DELETE FROM product_search WHERE product_id IN :ids").bindparams(bindparam("ids", expanding=True))

# Per query part (a term as a token, or as a prefix): its matches through the GIN index, with
# the part's document frequency counted over those same matches; then each match's BM25
# contribution (FTS5's idf and its floor); name substrings are appended to the hits as
# ``{substrings}``; the hits are summed per product.
STATS_TTL_S = 30.0
_VOCABULARY = "SELECT word, ndoc FROM ts_stat('SELECT tsv FROM product_search')"


@dataclass(frozen=True, slots=True)
class _Corpus:
    n: float
    avg_len: float
    vocabulary: dict[str, int]  # token -> documents holding it
    read_at: float


_STATS = "SELECT count(*)::float8, greatest(coalesce(avg(token_count), 0), 1)::float8 FROM product_search"

_SEARCH = """
WITH matches AS (
    SELECT * FROM search_part_matches(ARRAY[{parts}]::tsquery[], ARRAY[{weights}]::float8[])
),
hits (product_id, score) AS (
    SELECT m.product_id,
           m.weight * greatest(ln((CAST(:n AS float8) - m.df + 0.5) / (m.df + 0.5)), 1e-6)
           * (m.tf * (:k1 + 1)) / (m.tf + :k1 * (1 - :b + :b * m.token_count / CAST(:avg_len AS float8)))
    FROM matches AS m
    {substrings}
)
SELECT product_id, sum(score) AS score
FROM hits
GROUP BY product_id
ORDER BY score DESC, product_id
LIMIT :limit
"""

# A substring shorter than a trigram is found by ``strpos``, which no index serves: a ``LIKE`` for it
# could be planned as a trigram-index scan (a generic plan, once psycopg prepares the statement,
# cannot see the pattern's length), and that scan reads the whole index.
_TRIGRAM = 3


class PostgresSearchIndex:
    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError(f"PostgresSearchIndex needs a PostgreSQL engine, not {engine.dialect.name}.")
        self._engine = engine
        self._stats: _Corpus | None = None

    def _corpus(self) -> _Corpus:
        """Document count, average length and each token's document frequency, for BM25 and planning.

        Counting 20,000 rows per query cost most of a query, so the figures are cached for
        STATS_TTL_S and dropped whenever this process writes; another process's writes shift them
        by a fraction of a percent until the cache expires.
        """
        now = time.monotonic()
        if self._stats is None or now - self._stats.read_at > STATS_TTL_S:
            with self._engine.connect() as conn:
                n, avg_len = conn.execute(text(_STATS)).one()
                vocabulary = {str(word): int(ndoc) for word, ndoc in conn.execute(text(_VOCABULARY)).all()}
            self._stats = _Corpus(float(n), float(avg_len), vocabulary, now)
        return self._stats

    def replace(self, docs: Sequence[IndexedDocument]) -> None:
        self._stats = None
        rows = [
            {"product_id": d.product_id, "name": d.name, "tokens": d.tokens, "token_count": len(d.tokens.split())}
            for d in latest_by_id(docs)
        ]
        if not rows:
            return
        with self._engine.begin() as conn:
            for start in range(0, len(rows), _CHUNK):
                conn.execute(_UPSERT, rows[start : start + _CHUNK])
            if len(rows) >= _ANALYZE_AFTER_ROWS:
                # Fresh statistics before autovacuum gets to it: the planner picks the GIN scans
                # by them, and a freshly filled table otherwise looks empty.
                conn.execute(text("ANALYZE product_search"))

    def remove(self, product_ids: Iterable[str]) -> None:
        self._stats = None
        ids = sorted(set(product_ids))
        if not ids:
            return
        with self._engine.begin() as conn:
            for start in range(0, len(ids), _CHUNK):
                conn.execute(_DELETE, {"ids": ids[start : start + _CHUNK]})

    def statement(self, terms: Sequence[str], *, limit: int) -> tuple[str, dict[str, Any]] | None:
        """The one SQL statement (and its bound parameters) that answers a search, or None for no search."""
        plan = plan_query(terms)
        if not plan or limit <= 0:
            return None
        corpus = self._corpus()
        known = corpus.vocabulary
        exact = discriminating(plan.terms, known, int(corpus.n))
        params: dict[str, Any] = {"limit": limit, "k1": BM25_K1, "b": BM25_B, "n": corpus.n, "avg_len": corpus.avg_len}
        parts: list[str] = []
        weights: list[str] = []
        for i, term in enumerate(exact):
            params[f"term_{i}"] = term
            parts.append(f"phraseto_tsquery('simple', CAST(:term_{i} AS text))")
            weights.append("1.0")
        params["prefix_weight"] = PREFIX_WEIGHT
        for i, term in enumerate(t for t in plan.prefixes if t in exact):
            params[f"prefix_{i}"] = term + ":*"  # term is [0-9a-z]+: see the module docstring
            parts.append(f"to_tsquery('simple', CAST(:prefix_{i} AS text))")
            weights.append("CAST(:prefix_weight AS float8)")
        substrings = []
        # The substring fallback is for terms that are no token of any document (布洛 in 布洛芬).
        for i, term in enumerate(t for t in plan.substrings if t not in known):
            params[f"weight_{i}"] = SUBSTRING_WEIGHT * len(term)
            if len(term) < _TRIGRAM:
                params[f"sub_{i}"] = term
                found = f"strpos(name, CAST(:sub_{i} AS text)) > 0"
            else:
                params[f"sub_{i}"] = like_contains(term)
                found = f"name LIKE CAST(:sub_{i} AS text) ESCAPE '\\'"
            score = f"CAST(:weight_{i} AS float8) / length(name)"
            substrings.append(f"UNION ALL SELECT product_id, {score} FROM product_search WHERE {found}")
        sql = _SEARCH.format(parts=", ".join(parts), weights=", ".join(weights), substrings="\n    ".join(substrings))
        return sql, params

    def search(self, terms: Sequence[str], *, limit: int = 50) -> list[Hit]:
        statement = self.statement(terms, limit=limit)
        if statement is None:
            return []
        sql, params = statement
        # One statement, so no transaction around it: no BEGIN and no ROLLBACK round trip.
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            rows = conn.execute(text(sql), params).all()
        return [Hit(product_id=str(r[0]), score=float(r[1])) for r in rows]

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM product_search")).scalar_one())

    def ids(self) -> set[str]:
        with self._engine.connect() as conn:
            return {str(i) for i in conn.execute(text("SELECT product_id FROM product_search")).scalars()}


def build_search_index(engine: Engine) -> SearchIndex:
    """The index adapter for this engine's database (migration 0003 must have run)."""
    if engine.dialect.name == "postgresql":
        return PostgresSearchIndex(engine)
    if engine.dialect.name == "sqlite":
        return SqliteSearchIndex(engine)
    raise ValueError(f"No search index adapter for {engine.dialect.name}.")
