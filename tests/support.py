"""Helpers shared by conftest files and tests (importable as ``support``)."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from yaodao.accounts.model import Role, User
from yaodao.adapters.db import migrate
from yaodao.bootstrap import Container, bootstrap
from yaodao.kernel.clock import ManualClock
from yaodao.kernel.ids import new_id
from yaodao.seed import seed
from yaodao.settings import Settings
from yaodao.web.app import create_app

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
# 14:00 in Hangzhou (UTC+8) on a Wednesday: the day window, 30-minute promise.
DAY = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def worker() -> str:
    """This test process's name for its databases; YAODAO_TEST_DB_PREFIX keeps parallel runs apart."""
    return os.environ.get("YAODAO_TEST_DB_PREFIX", "") + os.environ.get("PYTEST_XDIST_WORKER", "main")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(tmp_path: Path, port: int, wallet_port: int) -> dict[str, str]:
    """The environment for a real `yaodao run` in ``tmp_path``: its own SQLite file, port and sandbox wallet."""
    return {
        **os.environ,
        "YAODAO_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'yaodao.db'}",
        "YAODAO_PORT": str(port),
        "YAODAO_WALLET_GATEWAY_URL": f"http://127.0.0.1:{wallet_port}/gateway.do",
        "YAODAO_WALLET_DATA_DIR": str(tmp_path / "var" / "wallet-sandbox"),
    }


def admin_conninfo(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_postgres_database(base_url: str, name: str) -> str:
    """(Re)create database ``name`` with a UTF-8 ctype (pg_trgm needs it for CJK) and return its URL."""
    with psycopg.connect(admin_conninfo(base_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(
            f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0"
        )
    return make_url(base_url).set(database=name, drivername="postgresql+psycopg").render_as_string(hide_password=False)


PASSWORD = "correct-horse-battery"


@dataclass
class Platform:
    container: Container
    client: TestClient
    clock: ManualClock
    tokens: dict[Role, str]  # a bearer token per role
    users: dict[Role, User]
    pharmacy_id: str  # the pharmacy the pharmacist and store staff work in
    other_pharmacy_id: str

    def auth(self, role: Role | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}


def build_platform(url: str) -> Platform:
    migrate.upgrade(url)
    clock = ManualClock(DAY)
    wallet_dir = Path(tempfile.mkdtemp(prefix="yaodao-wallet-"))
    settings = Settings(env="test", database_url=url, wallet_data_dir=wallet_dir)
    container = bootstrap(settings, clock=clock, fast_passwords=True)
    seed(container, demo_users=False)
    with container.uow(read_only=True) as uow:
        pharmacies = uow.pharmacies.in_city("hangzhou")
    home, other = pharmacies[0].id, pharmacies[1].id
    users: dict[Role, User] = {}
    with container.uow() as uow:
        for role in Role:
            user = User(
                id=new_id(),
                email=f"{role.value}-{uuid.uuid4().hex[:8]}@test.yaodao.local",
                display_name=f"Test {role.value}",
                password_hash=container.passwords.hash(PASSWORD),
                roles=frozenset({role}),
                pharmacy_id=home if role in (Role.PHARMACIST, Role.STORE_STAFF) else None,
                city_id="hangzhou" if role is Role.OPERATOR else None,
            )
            uow.users.add(user, clock.now())
            users[role] = user
        uow.commit()
    client = TestClient(create_app(container, background=False), raise_server_exceptions=False)
    tokens = {}
    for role, user in users.items():
        answer = client.post("/api/auth/token", json={"email": user.email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        tokens[role] = answer.json()["access_token"]
    return Platform(container, client, clock, tokens, users, home, other)


ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (test-artifacts/NAME.png)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
