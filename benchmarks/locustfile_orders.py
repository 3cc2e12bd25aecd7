"""Locust users for ``benchmarks.orders_load``: each one browses, checks out and pays, again and again.

One flow: ``GET /api/search`` (a labelled query at a downtown address) -> ``POST /api/orders`` for one
pack of one of the first deliverable products -> ``POST /api/orders/{id}/pay`` -> the wallet's pay page
-> the buyer confirms at the wallet -> the wallet's signed notification (read from the sandbox's
log) -> ``POST /api/payments/notify``, whose ``success`` means the order is paid. Every request gets
its own Idempotency-Key where the API asks for one. A finished flow is reported as the request
"paid order" (its time is the whole flow); a flow that stops early as "failed order".

Reads its inputs from the environment, as ``orders_load`` writes them:
``BENCH_TOKENS`` (a file of buyer bearer tokens, one a line), ``BENCH_SEARCHES`` (JSON lines of
``{"q", "lat", "lng"}`` that have deliverable products), ``BENCH_WALLET`` (the wallet's base URL),
``BENCH_PLATFORMS`` (comma-separated platform base URLs; users are spread over them) and
``BENCH_SAMPLES`` (where every request's time is written as JSON lines when the run stops).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

TOKENS = Path(os.environ["BENCH_TOKENS"]).read_text(encoding="utf-8").split()
SEARCHES = [json.loads(line) for line in Path(os.environ["BENCH_SEARCHES"]).read_text(encoding="utf-8").splitlines()]
WALLET = os.environ["BENCH_WALLET"].rstrip("/")
PLATFORMS = [u.rstrip("/") for u in os.environ["BENCH_PLATFORMS"].split(",")]
SAMPLES: list[tuple[float, str, float, bool]] = []
TRADE_NO = re.compile(r'action="/pay/([^/"]+)/confirm"')
_user_numbers = itertools.count()

BROWSE, CHECKOUT, PAY = "1 browse GET /api/search", "2 checkout POST /api/orders", "3 pay POST /api/orders/{id}/pay"
PAGE, CONFIRM = "4 wallet pay page", "5 wallet confirm"
NOTE, NOTIFY = "6 wallet notification log", "7 notify POST /api/payments/notify"
PAID, FAILED = "paid order", "failed order"


def _record(name: str, response_time: float, exception: BaseException | None, **_: Any) -> None:
    SAMPLES.append((time.time(), name, response_time, exception is None))


def _write(**_: Any) -> None:
    with open(os.environ["BENCH_SAMPLES"], "w", encoding="utf-8") as out:
        for sample in SAMPLES:
            out.write(json.dumps(sample) + "\n")


events.request.add_listener(_record)  # type: ignore[no-untyped-call]  # locust leaves it untyped
events.test_stop.add_listener(_write)  # type: ignore[no-untyped-call]


class StepFailed(Exception):
    pass


class Buyer(FastHttpUser):
    wait_time = constant(0)
    host = PLATFORMS[0]
    connection_timeout = 60.0
    network_timeout = 60.0

    def on_start(self) -> None:
        n = next(_user_numbers)
        self.platform = PLATFORMS[n % len(PLATFORMS)]
        self.rng = random.Random(n)

    def _call(self, method: str, url: str, name: str, expect: int, **kwargs: Any) -> Any:
        with self.client.request(
            method, url, name=name, catch_response=True, allow_redirects=False, **kwargs
        ) as answer:
            if answer.status_code != expect:
                answer.failure(f"{answer.status_code}: {(answer.text or '')[:200]}")
                raise StepFailed(name)
            answer.success()
            return answer

    def _fire(self, name: str, started: float, error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="FLOW", name=name, response_time=(time.perf_counter() - started) * 1000,
            response_length=0, exception=error, context={},
        )  # fmt: skip

    def _paid_order(self) -> None:
        token = self.rng.choice(TOKENS)
        buyer = {"Authorization": f"Bearer {token}"}
        search = self.rng.choice(SEARCHES)
        found = self._call("GET", f"{self.platform}/api/search?{urlencode(search)}", BROWSE, 200, headers=buyer).json()
        cards = found["deliverable"][:3]
        if not cards:
            raise StepFailed("nothing deliverable")
        card = self.rng.choice(cards)
        body = {
            "lines": [{"product_id": card["product_id"], "quantity": 1}],
            "location": {"lat": search["lat"], "lng": search["lng"]},
            "address_text": "benchmark address",
        }
        order = self._call(
            "POST", f"{self.platform}/api/orders", CHECKOUT, 201, json=body,
            headers={**buyer, "Idempotency-Key": uuid.uuid4().hex},
        ).json()  # fmt: skip
        payment = self._call(
            "POST", f"{self.platform}/api/orders/{order['id']}/pay", PAY, 200,
            headers={**buyer, "Idempotency-Key": uuid.uuid4().hex},
        ).json()  # fmt: skip
        pay_url = urlsplit(payment["pay_url"])
        page = self._call("GET", f"{WALLET}{pay_url.path}?{pay_url.query}", PAGE, 200)
        trade_no = TRADE_NO.search(page.text or "")
        if trade_no is None:
            raise StepFailed("no trade on the pay page")
        self._call("POST", f"{WALLET}/pay/{trade_no.group(1)}/confirm", CONFIRM, 303)
        log = self._call(
            "GET", f"{WALLET}/sandbox/notifications?{urlencode({'out_trade_no': payment['payment_id']})}", NOTE, 200
        ).json()
        (params,) = [n["params"] for n in log["notifications"]]
        reply = self._call(
            "POST", f"{self.platform}/api/payments/notify", NOTIFY, 200, data=urlencode(params),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        if reply.text != "success":
            raise StepFailed(f"notify answered {reply.text!r}")

    @task
    def browse_checkout_pay(self) -> None:
        started = time.perf_counter()
        try:
            self._paid_order()
        except StepFailed as failed:
            self._fire(FAILED, started, failed)
            return
        self._fire(PAID, started, None)
