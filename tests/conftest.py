"""Shared fixtures: databases (SQLite and PostgreSQL), a bootstrapped platform, API clients.

PostgreSQL tests use ``YAODAO_TEST_POSTGRES_URL`` (default: the loopback server's ``test``
database as ``postgres``) and create one database per xdist worker with a UTF-8 ctype. Locally
they skip when the server is down; with ``CI=true`` an unreachable server fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from support import DEFAULT_PG, admin_conninfo, fresh_postgres_database, worker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL, so `-m postgres` selects them all."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "postgres" in (params.get("db_url"), params.get("platform")):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    """The server's URL, or a skip (a failure under CI=true) when it cannot be reached."""
    url = os.environ.get("YAODAO_TEST_POSTGRES_URL", DEFAULT_PG)
    try:
        with psycopg.connect(admin_conninfo(url), connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {url} is required in CI but unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {url} is unreachable: {exc}")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each engine (a new SQLite file; a new PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'yaodao.db'}"
        return
    base = request.getfixturevalue("postgres_base_url")
    name = f"yaodao_t_{worker()}_{abs(hash(request.node.nodeid)) % 10**8}"
    url = fresh_postgres_database(base, name)
    yield url
    with psycopg.connect(admin_conninfo(base), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
