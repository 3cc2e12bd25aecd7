"""Pooled PostgreSQL connections that the server closed are replaced, not handed out to fail."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from support import admin_conninfo, fresh_postgres_database, worker
from yaodao.adapters.db.engine import build_engine

pytestmark = pytest.mark.postgres


def test_connections_the_server_terminated_are_replaced_on_checkout(postgres_base_url: str) -> None:
    url = fresh_postgres_database(postgres_base_url, f"yaodao_pool_{worker()}")
    engine = build_engine(str(url), pool_size=3)
    try:
        held = [engine.connect() for _ in range(3)]
        pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in held]
        for c in held:
            c.close()  # back to the pool, idle
        with psycopg.connect(admin_conninfo(postgres_base_url), autocommit=True) as admin:
            for pid in pids:
                # With a timeout it returns once the backend has exited (its socket closed), as a
                # restart or an idle timeout would have before the next checkout.
                assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone() == (True,)
        # Every pooled connection is dead; each checkout must still answer, on a new backend.
        for _ in range(3):
            with engine.connect() as conn:
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
                assert pid not in pids
        # Healthy connections are reused, not replaced on each checkout: ten checkouts, at most
        # the three new backends.
        seen = set()
        for _ in range(10):
            with engine.connect() as conn:
                seen.add(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        assert len(seen) <= 3
    finally:
        engine.dispose()
        with psycopg.connect(admin_conninfo(postgres_base_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "yaodao_pool_{worker()}" WITH (FORCE)')
