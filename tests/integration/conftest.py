"""A bootstrapped, seeded platform per engine, shared by the tests of a worker.

Tests add what they need with random references and never clean up: nothing they create
collides with what another test creates.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from support import Platform, admin_conninfo, build_platform, fresh_postgres_database, worker


@pytest.fixture(scope="session")
def sqlite_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    path: Path = tmp_path_factory.mktemp("platform") / "yaodao.db"
    platform = build_platform(f"sqlite:///{path}")
    yield platform
    platform.container.close()


@pytest.fixture(scope="session")
def postgres_platform(postgres_base_url: str) -> Iterator[Platform]:
    name = f"yaodao_p_{worker()}"
    platform = build_platform(fresh_postgres_database(postgres_base_url, name))
    yield platform
    platform.container.close()
    with psycopg.connect(admin_conninfo(postgres_base_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def platform(request: pytest.FixtureRequest) -> Platform:
    """The seeded platform on each engine; PostgreSQL runs are marked ``postgres`` at collection."""
    return request.getfixturevalue(f"{request.param}_platform")
