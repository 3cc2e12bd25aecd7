"""The PostgreSQL search statement: the same answers as a plain join, and no plan that reads a whole index.

Plans are checked as psycopg runs them in production: after five uses a statement is prepared on
the server, and PostgreSQL may then plan it once for any parameters (a generic plan), without
seeing the values.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine, text

from support import admin_conninfo, fresh_postgres_database, worker
from yaodao.adapters.db import migrate
from yaodao.adapters.db.engine import build_engine
from yaodao.adapters.search_postgres import PostgresSearchIndex
from yaodao.search.index import IndexedDocument

pytestmark = pytest.mark.postgres

WORDS = ["布洛芬", "对乙酰氨基酚", "感冒", "发热", "头痛", "咳嗽", "颗粒", "胶囊", "儿童", "鼻塞", "退烧", "止咳"]
WORDS += ["ibuprofen", "paracetamol", "cough", "fever", "headache", "cold", "syrup", "tablet"]


@pytest.fixture(scope="module")
def url(postgres_base_url: str) -> Iterator[str]:
    name = f"yaodao_plans_{worker()}"
    url = fresh_postgres_database(postgres_base_url, name)
    migrate.upgrade(url)
    yield url
    with psycopg.connect(admin_conninfo(postgres_base_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def index(url: str) -> Iterator[PostgresSearchIndex]:
    """900 documents (more than a page of rows, so that index scans are worth planning)."""
    rng = random.Random(7)
    docs = []
    for i in range(900):
        words = [*rng.sample(WORDS, 6), f"药品{i}"]
        docs.append(IndexedDocument(f"p-{i:04d}", f"{words[0]}{words[1]} {i}", " ".join(words)))
    engine: Engine = build_engine(url)
    idx = PostgresSearchIndex(engine)
    idx.replace(docs)
    yield idx
    engine.dispose()


def generic_plan(url: str, statement: str, params: dict[str, object]) -> str:
    """EXPLAIN of the generic plan PostgreSQL uses for ``sql`` once it is a prepared statement."""
    query = str(text(statement).compile(dialect=build_engine(url).dialect))
    order = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", query)))  # psycopg numbers them this way
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(query, {k: params[k] for k in order}, prepare=True)
        name, types = conn.execute(
            "SELECT name, parameter_types::text[] FROM pg_prepared_statements WHERE from_sql IS FALSE"
        ).fetchone() or ("", [])
        assert name, "the statement was not prepared"
        args = sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Literal(params[k]), sql.SQL(t)) for k, t in zip(order, types, strict=True)
        )
        rows = conn.execute(sql.SQL("EXPLAIN EXECUTE {}({})").format(sql.Identifier(name), args)).fetchall()
    return "\n".join(r[0] for r in rows)


def test_many_parts_score_as_a_plain_join_would(index: PostgresSearchIndex) -> None:
    """Twenty-odd parts (the statement's own), each with its matches, document frequency and weight."""
    terms = ["感冒", "发热", "头痛", "咳嗽", "颗粒", "儿童", "鼻塞", "退烧", "止咳", "胶囊", "cough", "fever"]
    terms += ["headache", "cold", "syrup", "tablet", "ibup", "parac", "布洛芬", "对乙酰氨基酚"]
    statement = index.statement(terms, limit=900)
    assert statement is not None
    params = statement[1]
    phrases = [v for k, v in params.items() if k.startswith("term_")]
    prefixes = [v for k, v in params.items() if k.startswith("prefix_") and k != "prefix_weight"]
    assert len(phrases) + len(prefixes) >= 20
    values = [f"(1.0, phraseto_tsquery('simple', :p{i}))" for i in range(len(phrases))]
    values += [f"(:prefix_weight, to_tsquery('simple', :x{i}))" for i in range(len(prefixes))]
    binds = {f"p{i}": t for i, t in enumerate(phrases)} | {f"x{i}": t for i, t in enumerate(prefixes)}
    plain_join = (
        "WITH parts (part, weight, query) AS ("
        f"  SELECT row_number() OVER (), CAST(w AS float8), q FROM (VALUES {', '.join(values)}) AS v (w, q)"
        "), m AS ("
        "  SELECT parts.weight, p.product_id, p.token_count,"
        "         ts_rank_cd('{1,1,1,1}'::float4[], p.tsv, parts.query, 0)::float8 AS tf,"
        "         count(*) OVER (PARTITION BY parts.part)::float8 AS df"
        "  FROM parts JOIN product_search AS p ON p.tsv @@ parts.query"
        ") SELECT product_id, sum(weight * greatest(ln((:n - df + 0.5) / (df + 0.5)), 1e-6)"
        "   * (tf * (:k1 + 1)) / (tf + :k1 * (1 - :b + :b * token_count / :avg_len)))"
        " FROM m GROUP BY product_id"
    )
    with index._engine.connect() as conn:
        want = {str(pid): float(score) for pid, score in conn.execute(text(plain_join), params | binds).all()}
    got = {h.product_id: h.score for h in index.search(terms, limit=900)}
    assert len(got) > 100
    assert got.keys() == want.keys()
    assert all(got[k] == pytest.approx(want[k], rel=1e-9) for k in want)


def test_a_two_character_substring_is_never_a_trigram_index_scan(url: str, index: PostgresSearchIndex) -> None:
    """No two-character string has a trigram, so such a scan would read the trigram index whole."""
    statement = index.statement(["嘴角", "起泡"], limit=60)  # no document holds either as a token
    assert statement is not None
    plan = generic_plan(url, *statement)
    assert "ix_product_search_name_trgm" not in plan, plan


def test_a_longer_substring_uses_like_and_finds_every_name_holding_it(index: PostgresSearchIndex) -> None:
    """Three characters and more: the LIKE the trigram index serves, with wildcards kept literal."""
    statement = index.statement(["洛芬5%"], limit=60)
    assert statement is not None
    query, params = statement
    assert " LIKE " in query
    assert "%洛芬5\\%%" in params.values()
    # Three characters across two words of a name: a substring of names, no token of any document.
    chinese_first = (
        "SELECT name FROM product_search WHERE name ~ '^[感发头咳鼻退止][^a-z ]{3}' ORDER BY product_id LIMIT 1"
    )
    holding_it = "SELECT product_id FROM product_search WHERE strpos(name, :t) > 0"
    with index._engine.connect() as conn:
        term = conn.execute(text(chinese_first)).scalar_one()[1:4]
        holding = {str(i) for i in conn.execute(text(holding_it), {"t": term}).scalars()}
    assert holding
    assert {h.product_id for h in index.search([term], limit=900)} == holding
