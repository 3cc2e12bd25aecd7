"""Alembic migrations run on SQLite and PostgreSQL: up from empty, one step down, up again."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from support import fresh_postgres_database, worker
from yaodao.adapters.db import migrate
from yaodao.adapters.db.tables import metadata


def test_upgrade_from_empty_then_down_one_step_and_up_again(db_url: str) -> None:
    """Every table exists at head; one step down and back up lands on head again."""
    assert migrate.current(db_url) is None
    migrate.upgrade(db_url)
    head = migrate.current(db_url)
    scripts = ScriptDirectory.from_config(migrate.alembic_config(db_url))
    assert head == scripts.get_current_head()
    revision = scripts.get_revision(head)
    assert revision is not None
    migrate.downgrade(db_url, "-1")
    assert migrate.current(db_url) == revision.down_revision
    migrate.upgrade(db_url)
    assert migrate.current(db_url) == head
    engine = create_engine(db_url)
    try:
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table(db_url: str) -> None:
    """The first migration's downgrade undoes it completely."""
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "base")
    engine = create_engine(db_url)
    try:
        assert not set(metadata.tables) & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_database_refuses_to_edit_or_delete_audit_rows(db_url: str) -> None:
    """The audit log is append-only in the database itself, not only in the application."""
    migrate.upgrade(db_url)
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, actor_roles, action, resource_type, outcome, detail) "
                    "VALUES (CURRENT_TIMESTAMP, 'admin', 'read', 'profile', 'ok', '{}')"
                )
            )
        for statement in ("UPDATE audit_events SET outcome = 'denied'", "DELETE FROM audit_events"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT outcome FROM audit_events")).scalars().all() == ["ok"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_test_databases_have_a_utf8_ctype(postgres_base_url: str) -> None:
    """pg_trgm finds no trigrams in Chinese under LC_CTYPE=C, so every test database is created UTF-8."""
    url = fresh_postgres_database(postgres_base_url, f"yaodao_ctype_{worker()}")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW lc_ctype")).scalar_one() == "C.UTF-8"
    finally:
        engine.dispose()
