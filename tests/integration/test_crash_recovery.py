"""RELIABILITY I6: kill -9 the platform at random moments of a checkout-and-pay load, restart, reconcile.

Real processes on loopback: the platform (``yaodao run``) and the sandbox wallet
(``yaodao wallet-sandbox``) each in their own process with their own storage. Buyers check out, ask
to pay, and pay at the wallet, which notifies the platform; meanwhile the platform is killed with
SIGKILL and restarted several times. Afterwards the platform reconciles with the wallet, and the
wallet's own records are the judge: every trade the wallet took money for has a paid order on the
platform (or an automatic refund), nothing is paid that the wallet did not take, and the ledger
balances.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from factories import pharmacy_body, product_body
from shop import NEAR
from support import free_port
from yaodao.accounts.model import Role, User
from yaodao.adapters.db import migrate
from yaodao.adapters.db import tables as t
from yaodao.adapters.passwords import Argon2Passwords
from yaodao.bootstrap import bootstrap
from yaodao.kernel.ids import new_id
from yaodao.seed import seed
from yaodao.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
PASSWORD = "crash-test-password-2026"
SEED = int(os.environ.get("YAODAO_CRASH_SEED", "11"))


def _call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, form: bool = False) -> Any:
    data = None
    all_headers = dict(headers or {})
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    try:
        with _OPENER.open(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the answer itself (a 303 from the wallet) is what the test looks at


_OPENER = urllib.request.build_opener(_NoRedirect)


class Cluster:
    """The platform and the sandbox wallet as processes, with the platform restartable."""

    def __init__(self, folder: Path, db_url: str) -> None:
        self.folder = folder
        self.db_url = db_url
        self.port, self.wallet_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.wallet = f"http://127.0.0.1:{self.wallet_port}"
        self.env = {
            **os.environ,
            "YAODAO_DATABASE_URL": db_url,
            "YAODAO_PORT": str(self.port),
            "YAODAO_ENV": "test",
            "YAODAO_WALLET_SERVE": "false",
            "YAODAO_WALLET_GATEWAY_URL": f"{self.wallet}/gateway.do",
            "YAODAO_WALLET_DATA_DIR": str(folder / "wallet"),
            "YAODAO_PUBLIC_BASE_URL": self.base,
            "YAODAO_OUTBOX_INTERVAL_S": "0.2",
        }
        self.platform: subprocess.Popen[bytes] | None = None
        self.sandbox: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def _spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        with (self.folder / log).open("ab") as out:  # the child keeps its own copy of the descriptor
            return subprocess.Popen([sys.executable, "-m", "yaodao.cli", *args], env=self.env, stdout=out, stderr=out)

    def start_wallet(self) -> None:
        self.sandbox = self._spawn(
            "wallet-sandbox", "--port", str(self.wallet_port), "--data-dir", str(self.folder / "wallet"), log="w.log"
        )
        _wait(f"{self.wallet}/healthz")

    def start_platform(self) -> None:
        self.platform = self._spawn("run", "--no-seed", log="p.log")
        _wait(f"{self.base}/healthz")

    def kill_platform(self) -> None:
        assert self.platform is not None
        self.platform.send_signal(signal.SIGKILL)
        self.platform.wait(60)
        self.kills += 1

    def stop(self) -> None:
        for process in (self.platform, self.sandbox):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(20)


def _wait(url: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {seconds} s")


@pytest.fixture
def cluster(db_url: str, tmp_path: Path) -> Iterator[tuple[Cluster, list[str], str]]:
    """A seeded platform with one stocked shop and buyers (bearer tokens), and the wallet, running."""
    migrate.upgrade(db_url)
    settings = Settings(env="test", database_url=db_url, wallet_data_dir=tmp_path / "wallet")
    container = bootstrap(settings, fast_passwords=True)
    seed(container, demo_users=False)
    hasher = Argon2Passwords(fast=False)
    users = []
    with container.uow() as uow:
        now = container.clock.now()
        for role in (Role.ADMIN, *([Role.PATIENT] * 6)):
            user = User(
                id=new_id(), email=f"{role.value}-{uuid.uuid4().hex[:8]}@crash.yaodao.local", display_name="x",
                password_hash=hasher.hash(PASSWORD), roles=frozenset({role}), date_of_birth=date(1985, 3, 3),
                id_number_hash=f"id-{uuid.uuid4().hex}",
            )  # fmt: skip
            uow.users.add(user, now)
            users.append(user)
        uow.commit()
    container.payments()  # the wallet folder: the sandbox's keys and the platform's app
    container.close()
    c = Cluster(tmp_path, db_url)
    try:
        c.start_wallet()
        c.start_platform()
        tokens = []
        for user in users:
            status, body = _call("POST", f"{c.base}/api/auth/token", {"email": user.email, "password": PASSWORD})
            assert status == 200, body
            tokens.append(json.loads(body)["access_token"])
        admin = {"Authorization": f"Bearer {tokens[0]}"}
        status, body = _call("POST", f"{c.base}/api/admin/products", product_body(drug_class="otc_b"), admin)
        assert status == 201, body
        product_id = json.loads(body)["id"]
        status, body = _call("POST", f"{c.base}/api/admin/pharmacies", pharmacy_body(open_24h=True), admin)
        assert status == 201, body
        shop = json.loads(body)["id"]
        status, body = _call(
            "PUT", f"{c.base}/api/admin/pharmacies/{shop}/stock/{product_id}", {"quantity": 500}, admin
        )
        assert status == 200, body
        time.sleep(1)  # the outbox relay tells the availability index about the new shop
        yield c, tokens[1:], product_id
    finally:
        c.stop()


def _buy(c: Cluster, token: str, product_id: str, rng: random.Random, log: list[dict[str, Any]]) -> None:
    """One buyer's journey; every answer is recorded, connection errors included (the server may be down)."""
    headers = {"Authorization": f"Bearer {token}"}
    entry: dict[str, Any] = {}
    try:
        body = {
            "lines": [{"product_id": product_id, "quantity": 1}],
            "location": {"lat": NEAR.lat, "lng": NEAR.lng},
            "address_text": "北山街1号",
        }
        status, text = _call("POST", f"{c.base}/api/orders", body, {**headers, "Idempotency-Key": uuid.uuid4().hex})
        entry["checkout"] = status
        if status != 201:
            return
        order = json.loads(text)
        entry["order_id"] = order["id"]
        status, text = _call(
            "POST", f"{c.base}/api/orders/{order['id']}/pay", None, {**headers, "Idempotency-Key": "p"}
        )
        entry["pay"] = status
        if status != 200:
            return
        pay_url = urllib.parse.urlsplit(json.loads(text)["pay_url"])
        status, page = _call("GET", f"{c.wallet}{pay_url.path}?{pay_url.query}")
        if status != 200 or rng.random() < 0.1:  # some buyers walk away at the wallet
            return
        trade_no = page.split('action="/pay/', 1)[1].split("/confirm", 1)[0]
        entry["confirm"] = _call(
            "POST", f"{c.wallet}/pay/{trade_no}/confirm", {"buyer_id": "2088000000000009"}, form=True
        )[0]
    except (OSError, http.client.HTTPException) as error:  # the platform died mid-answer
        entry["error"] = type(error).__name__
    finally:
        log.append(entry)


def test_a_killed_platform_loses_no_paid_order(cluster: tuple[Cluster, list[str], str], db_url: str) -> None:
    c, tokens, product_id = cluster
    rng = random.Random(SEED)
    log: list[dict[str, Any]] = []
    stop = threading.Event()

    def buyer(token: str, seed: int) -> None:
        own = random.Random(seed)
        while not stop.is_set():
            _buy(c, token, product_id, own, log)

    threads = [threading.Thread(target=buyer, args=(token, SEED * 100 + i)) for i, token in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for _ in range(4):
        _progress(log, more=3)  # some journeys complete between kills, however slow the machine is
        time.sleep(rng.uniform(0.2, 2.0))
        c.kill_platform()
        time.sleep(rng.uniform(0.0, 0.5))
        c.start_platform()
    _progress(log, more=3, confirmed=True)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert c.kills == 4

    reconcile(c, db_url)

    wallet = sqlite3.connect(c.folder / "wallet" / "wallet.db")
    paid_at_wallet = {row[0]: row[1] for row in wallet.execute(
        "SELECT out_trade_no, total_fen FROM trades WHERE paid_at IS NOT NULL"
    )}  # fmt: skip
    wallet.close()
    settings = Settings(env="test", database_url=db_url, wallet_data_dir=c.folder / "wallet")
    container = bootstrap(settings, fast_passwords=True)
    try:
        with container.engine.connect() as conn:
            paid_here = dict(
                conn.execute(select(t.payments.c.id, t.payments.c.amount_fen).where(t.payments.c.state == "paid")).all()
            )
            acknowledged = [e["order_id"] for e in log if e.get("checkout") == 201]
            stored = conn.execute(
                select(func.count()).select_from(t.orders).where(t.orders.c.id.in_(acknowledged))
            ).scalar_one()
            captures = conn.execute(
                select(func.count()).select_from(t.ledger_transactions).where(t.ledger_transactions.c.kind == "capture")
            ).scalar_one()
        with container.uow(read_only=True) as uow:
            problems = uow.ledger.check()
    finally:
        container.close()
    confirmed = sum(1 for e in log if e.get("confirm") == 303)
    assert confirmed > 0, log[:5]
    assert stored == len(acknowledged)  # every order the API acknowledged survived the kills
    assert paid_here == paid_at_wallet  # no paid order lost, nothing paid the wallet did not take
    assert captures == len(paid_here)
    assert problems == []


def _progress(log: list[dict[str, Any]], *, more: int, confirmed: bool = False, seconds: float = 120) -> None:
    """Wait until ``more`` further journeys have ended (and one was paid at the wallet, if asked)."""
    start, deadline = len(log), time.monotonic() + seconds
    while time.monotonic() < deadline:
        paid = any(e.get("confirm") == 303 for e in log[start:])
        if len(log) - start >= more and (paid or not confirmed):
            return
        time.sleep(0.1)


def reconcile(c: Cluster, db_url: str) -> None:
    """``yaodao payments reconcile`` against the wallet, as an operator runs it after an incident."""
    env = {**c.env, "YAODAO_DATABASE_URL": db_url}
    done = subprocess.run(
        [sys.executable, "-m", "yaodao.cli", "payments", "reconcile", "--pending-after-minutes", "0"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "differences=0" in done.stdout
