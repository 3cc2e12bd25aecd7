"""Paying through the sandbox wallet over HTTP: idempotent pay requests, signed notifications, the ledger.

The sandbox wallet is the real one (its own app, storage and keys, in the platform's wallet
folder); only the transport is in-process here. tests/unit/wallet covers it over a real socket.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from shop import NEAR, make_shop
from support import Platform
from yaodao.accounts.model import Role
from yaodao.adapters.db import tables as t
from yaodao.kernel.clock import SystemClock
from yaodao.wallet_sandbox.app import create_sandbox_app
from yaodao.wallet_sandbox.config import DATABASE_FILE, load_config
from yaodao.wallet_sandbox.store import SandboxStore


@pytest.fixture
def wallet(platform: Platform) -> Any:
    folder = platform.container.settings.wallet_data_dir
    platform.container.payments()  # creates the sandbox's keys and the platform's app in the folder
    store = SandboxStore(folder / DATABASE_FILE)
    app = create_sandbox_app(load_config(folder), clock=SystemClock(), store=store, background=False)
    with TestClient(app) as client:
        yield client
    store.close()


@pytest.fixture
def buyer(platform: Platform) -> dict[str, str]:
    headers = platform.auth(Role.PATIENT)
    profile = {"date_of_birth": "1988-02-01", "sex": "m", "allergies": [], "current_medicines": []}
    assert platform.client.put("/api/me/profile", json=profile, headers=headers).status_code == 200
    return headers


def _order(platform: Platform, buyer: dict[str, str], product_id: str) -> dict[str, Any]:
    body = {
        "lines": [{"product_id": product_id, "quantity": 1}],
        "location": {"lat": NEAR.lat, "lng": NEAR.lng},
        "address_text": "北山街1号",
    }
    created = platform.client.post("/api/orders", json=body, headers={**buyer, "Idempotency-Key": uuid.uuid4().hex})
    assert created.status_code == 201, created.text
    return dict(created.json())


def _count(platform: Platform, table: Any, *where: Any) -> int:
    with platform.container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_a_thousand_replays_of_one_pay_request_make_one_payment(platform: Platform, buyer: dict[str, str]) -> None:
    """RELIABILITY I3: 100 concurrent then 900 sequential replays of one key: one intent, identical answers."""
    shop = make_shop(platform, stock=5)
    order = _order(platform, buyer, shop.otc_id)
    headers = {**buyer, "Idempotency-Key": uuid.uuid4().hex}
    url = f"/api/orders/{order['id']}/pay"
    answers: list[Any] = []
    lock = threading.Lock()
    barrier = threading.Barrier(100)

    def fire() -> None:
        barrier.wait()
        answer = platform.client.post(url, headers=headers)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=fire) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    answers += [platform.client.post(url, headers=headers) for _ in range(900)]
    codes = {a.status_code for a in answers}
    assert codes <= {200, 409}  # 409: that key was still in flight
    bodies = {a.text for a in answers if a.status_code == 200}
    assert len(bodies) == 1
    assert len(answers) == 1000
    assert _count(platform, t.payments, t.payments.c.order_id == order["id"]) == 1


def test_paying_at_the_sandbox_wallet_pays_the_order_once(
    platform: Platform, buyer: dict[str, str], wallet: TestClient
) -> None:
    """The wallet's pay page, then its signed notification delivered 8 times shuffled with forgeries:
    the order is paid once, one capture and one accrual are in the ledger, the ledger balances."""
    shop = make_shop(platform, stock=5)
    order = _order(platform, buyer, shop.otc_id)
    paid = platform.client.post(f"/api/orders/{order['id']}/pay", headers={**buyer, "Idempotency-Key": "pay-1"})
    assert paid.status_code == 200, paid.text
    pay_url = urlsplit(paid.json()["pay_url"])
    page = wallet.get(f"{pay_url.path}?{pay_url.query}")
    assert page.status_code == 200, page.text
    trade_no = re.search(r'action="/pay/([^/"]+)/confirm"', page.text)
    assert trade_no is not None
    confirmed = wallet.post(f"/pay/{trade_no.group(1)}/confirm", follow_redirects=False)
    assert confirmed.status_code == 303
    notes = wallet.get("/sandbox/notifications", params={"out_trade_no": paid.json()["payment_id"]}).json()
    (params,) = [n["params"] for n in notes["notifications"]]
    forged = [
        {**params, "total_amount": "0.01"},
        {**params, "sign": params["sign"][:-8] + "AAAAAAA="},
        {**params, "seller_id": "2088999999999999"},
        {**params, "out_trade_no": "unknown-" + uuid.uuid4().hex[:8]},
    ]
    stream = [params] * 8 + forged
    random.Random(3).shuffle(stream)
    replies = [platform.client.post("/api/payments/notify", data=p).text for p in stream]
    assert replies.count("success") == 8
    assert replies.count("fail") == 4
    answer = platform.client.get(f"/api/orders/{order['id']}", headers=buyer).json()
    assert answer["status"] == "paid"
    assert answer["paid_fen"] == order["price"]["total_fen"]
    payment_id = paid.json()["payment_id"]
    ledger = t.ledger_transactions.c
    assert _count(platform, t.ledger_transactions, ledger.reference == payment_id, ledger.kind == "capture") == 1
    assert _count(platform, t.ledger_transactions, ledger.reference == payment_id, ledger.kind == "accrual") == 1
    with platform.container.uow(read_only=True) as uow:
        assert uow.ledger.check() == []
