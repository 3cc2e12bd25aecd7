"""The search index on SQLite FTS5 (embedded): BM25 over pre-segmented tokens.

Schema (migration 0003): ``product_search_docs`` holds the documents (``product_id`` unique,
so upserts and deletes use an index), and ``product_search`` is an external-content FTS5 table
over its ``tokens`` (``unicode61 remove_diacritics 2``), kept in sync by triggers. Because the
analyser has already put spaces between Chinese words, unicode61 sees each word as a token.

One statement answers a query: token matches (one ``MATCH`` of quoted phrases joined by OR,
scored by ``bm25()``), prefix matches (``"term"*``, times PREFIX_WEIGHT) and name substrings
(``LIKE`` with every wildcard escaped), summed per product. User text only ever reaches SQLite
as bound parameters, and inside a MATCH expression only as a double-quoted phrase with its
quotes doubled: FTS5 reads ``NEAR(``, ``OR``, ``*`` or ``:`` inside a phrase as plain text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text

from yaodao.adapters.db.engine import read_only_connection
from yaodao.search.index import (
    PREFIX_WEIGHT,
    SUBSTRING_WEIGHT,
    Hit,
    IndexedDocument,
    QueryPlan,
    discriminating,
    latest_by_id,
    like_contains,
    plan_query,
)

_CHUNK = 500  # rows or ids per statement, well under SQLite's bound-variable limit

_UPSERT = text(
    "INSERT INTO product_search_docs (product_id, name, tokens) VALUES (:product_id, :name, :tokens) "
    "ON CONFLICT (product_id) DO UPDATE SET name = excluded.name, tokens = excluded.tokens "
    # An unchanged document is not rewritten, so a full reindex does not churn the FTS index.
    "WHERE product_search_docs.name IS NOT excluded.name OR product_search_docs.tokens IS NOT excluded.tokens"
)
_OPTIMIZE = text("INSERT INTO product_search (product_search) VALUES ('optimize')")
# Each term's document frequency (fts5vocab: no scan) and, in the same statement, the corpus size.
_STATS = text(
    "SELECT term, doc FROM product_search_terms WHERE term IN :terms "
    "UNION ALL SELECT NULL, count(*) FROM product_search_docs"
).bindparams(bindparam("terms", expanding=True))
_DELETE = text("DELETE FROM product_search_docs WHERE product_id IN :ids").bindparams(bindparam("ids", expanding=True))


def fts5_phrase(term: str) -> str:
    """``term`` as an FTS5 string: double quotes around it, inner double quotes doubled."""
    return '"' + term.replace('"', '""') + '"'


class SqliteSearchIndex:
    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "sqlite":
            raise ValueError(f"SqliteSearchIndex needs a SQLite engine, not {engine.dialect.name}.")
        self._engine = engine

    def replace(self, docs: Sequence[IndexedDocument]) -> None:
        rows = [{"product_id": d.product_id, "name": d.name, "tokens": d.tokens} for d in latest_by_id(docs)]
        if not rows:
            return
        with self._engine.begin() as conn:
            changed = 0
            for start in range(0, len(rows), _CHUNK):
                changed += conn.execute(_UPSERT, rows[start : start + _CHUNK]).rowcount
            if changed:
                # Each batch of writes leaves FTS5 another segment, and every MATCH reads them all
                # (a bulk reindex left 71 segments: a query took twice as long). Merge them into one.
                conn.execute(_OPTIMIZE)

    def remove(self, product_ids: Iterable[str]) -> None:
        ids = sorted(set(product_ids))
        if not ids:
            return
        with self._engine.begin() as conn:
            for start in range(0, len(ids), _CHUNK):
                conn.execute(_DELETE, {"ids": ids[start : start + _CHUNK]})
            conn.execute(_OPTIMIZE)

    def search(self, terms: Sequence[str], *, limit: int = 50) -> list[Hit]:
        plan = plan_query(terms)
        if not plan or limit <= 0:
            return []
        with read_only_connection(self._engine) as conn:  # one read transaction: the statistics and the hits agree
            rows = conn.execute(_STATS, {"terms": list(plan.terms)}).all()
            known = {str(term): int(doc) for term, doc in rows if term is not None}
            documents = next(int(doc) for term, doc in rows if term is None)
            return self._hits(conn, plan, known, documents, limit)

    def _hits(self, conn: Connection, plan: QueryPlan, known: dict[str, int], documents: int, limit: int) -> list[Hit]:
        exact = discriminating(plan.terms, known, documents)
        params: dict[str, Any] = {"limit": limit, "exact": " OR ".join(fts5_phrase(t) for t in exact)}
        branches = [
            "SELECT rowid AS id, -bm25(product_search) AS score FROM product_search WHERE product_search MATCH :exact"
        ]
        prefixes = [t for t in plan.prefixes if t in exact]  # the very common terms are left out here too
        if prefixes:
            params["prefix"] = " OR ".join(fts5_phrase(t) + "*" for t in prefixes)
            params["prefix_weight"] = PREFIX_WEIGHT
            branches.append(
                "SELECT rowid, :prefix_weight * -bm25(product_search) FROM product_search "
                "WHERE product_search MATCH :prefix"
            )
        # The substring fallback scans every name: only for terms that are no token of any document.
        for i, term in enumerate(t for t in plan.substrings if t not in known):
            params[f"like_{i}"] = like_contains(term)
            params[f"weight_{i}"] = SUBSTRING_WEIGHT * len(term)
            branches.append(
                f"SELECT id, :weight_{i} / length(name) FROM product_search_docs WHERE name LIKE :like_{i} ESCAPE '\\'"
            )
        # MATERIALIZED (SQLite 3.35+): flattened into the join, bm25() refuses to run.
        sql = (
            f"WITH hits (id, score) AS MATERIALIZED ({' UNION ALL '.join(branches)}) "
            "SELECT d.product_id, SUM(hits.score) AS score FROM hits JOIN product_search_docs AS d ON d.id = hits.id "
            "GROUP BY d.product_id ORDER BY score DESC, d.product_id LIMIT :limit"
        )
        found = conn.exec_driver_sql(sql, params).all()  # named parameters, as sqlite3 takes them
        return [Hit(product_id=str(r[0]), score=float(r[1])) for r in found]

    def count(self) -> int:
        with read_only_connection(self._engine) as conn:
            return int(conn.execute(text("SELECT count(*) FROM product_search_docs")).scalar_one())

    def ids(self) -> set[str]:
        with read_only_connection(self._engine) as conn:
            return {str(i) for i in conn.execute(text("SELECT product_id FROM product_search_docs")).scalars()}
