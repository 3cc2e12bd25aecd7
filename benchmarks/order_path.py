"""The platform's CPU per paid order, in-process: checkout -> pay -> notify through the ASGI app.

    python -m benchmarks.order_path [--orders 400 --buyers 200 --profile-orders 200 --search]

A fresh UTF-8 PostgreSQL database (dropped at the end) with the Hangzhou pilot seeded, --buyers
patients with bearer tokens and every stocked row topped up so that stock never runs out; then the
platform's ASGI app (background relay on, dispatcher and consultation offers off: they tick on a
clock, not per order) behind Starlette's TestClient. One flow is ``POST /api/orders`` (one pack of
one of the first deliverable products found by a search at one of four downtown addresses) ->
``POST /api/orders/{id}/pay`` -> ``POST /api/payments/notify`` with the wallet's signed
notification, built and signed here with the sandbox wallet's own key and code, as the wallet
would send it; ``--search`` adds ``GET /api/search`` in front of each flow.

The figure is the process's CPU time (``time.process_time``: every thread, the relay included)
per paid order, after the outbox has drained, less the CPU this script spends signing the
notifications (the wallet's work, measured on its own). The same for ``GET /healthz`` gives the
cost of the in-process HTTP client and the ASGI plumbing per request, for scale. Then a second run
of --profile-orders flows under cProfile (every thread) lists where the time goes. Ends with one
line of key=value pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import secrets
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy import create_engine, event, text

from benchmarks.checkout_race import DEFAULT_PG, ROOT, postgres_database, prepare_database
from benchmarks.orders_load import ADDRESSES, invariants, merged, top_up_stock
from yaodao.bootstrap import Container, bootstrap
from yaodao.kernel.clock import SystemClock
from yaodao.payments.signing import NOTIFICATION_UNSIGNED, canonical_string, fen_to_yuan, format_wallet_time, sign_rsa2
from yaodao.settings import Settings
from yaodao.wallet_sandbox.config import DEV_APP_ID, init_data_dir, load_config
from yaodao.web.app import create_app


class Flows:
    """Buyers, the products they pick and the wallet's key: everything one flow needs."""

    def __init__(
        self, client: httpx.AsyncClient, tokens: list[str], wallet_dir: Path, with_search: bool, seed: int
    ) -> None:
        self.client, self.tokens, self.with_search = client, tokens, with_search
        self.rng = random.Random(seed)
        self.wallet_key = load_config(wallet_dir).private_key
        self.seller_id = (wallet_dir / "apps" / DEV_APP_ID / "seller_id").read_text().strip()
        self.searches: list[tuple[dict[str, Any], list[str]]] = []
        self.signing_s = 0.0  # the wallet's CPU, spent in this script, left out of the platform's figure

    async def find_products(self, seed: int) -> None:
        """(search, product ids) pairs with deliverable OTC products now, from the labelled queries."""
        lines = (ROOT / "eval" / "search" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
        queries = [q["query"] for q in map(json.loads, filter(None, lines)) if q["intent"] in ("drug", "symptom")]
        random.Random(seed).shuffle(queries)
        found: list[tuple[dict[str, Any], list[str]]] = []
        for q in queries:
            for lat, lng in ADDRESSES:
                search = {"q": q, "lat": lat, "lng": lng}
                answer = await self.client.get("/api/search", params=search)
                if answer.status_code == 200 and answer.json()["deliverable"]:
                    found.append((search, [c["product_id"] for c in answer.json()["deliverable"][:3]]))
            if len(found) >= 20:
                break
        if not found:
            raise RuntimeError("no deliverable product at the benchmark addresses right now")
        self.searches = found

    def notification(self, payment: dict[str, Any]) -> dict[str, str]:
        """The wallet's TRADE_SUCCESS notification for a payment, signed with the wallet's key."""
        started = time.thread_time()
        now = SystemClock().now()
        params = {
            "notify_time": format_wallet_time(now), "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16), "app_id": DEV_APP_ID, "auth_app_id": DEV_APP_ID, "charset": "utf-8",
            "version": "1.0", "sign_type": "RSA2", "trade_no": f"2026{secrets.token_hex(10)}",
            "out_trade_no": payment["payment_id"], "trade_status": "TRADE_SUCCESS",
            "total_amount": fen_to_yuan(payment["amount_fen"]), "receipt_amount": fen_to_yuan(payment["amount_fen"]),
            "buyer_pay_amount": fen_to_yuan(payment["amount_fen"]), "buyer_id": "2088000000000001",
            "seller_id": self.seller_id, "subject": "benchmark", "gmt_create": format_wallet_time(now),
            "gmt_payment": format_wallet_time(now),
        }  # fmt: skip
        params["sign"] = sign_rsa2(self.wallet_key, canonical_string(params, exclude=NOTIFICATION_UNSIGNED))
        self.signing_s += time.thread_time() - started
        return params

    async def one(self) -> None:
        """One paid order; raises when any step answers other than the happy path."""
        buyer = {"Authorization": f"Bearer {self.rng.choice(self.tokens)}"}
        search, products = self.rng.choice(self.searches)
        if self.with_search:
            _expect(await self.client.get("/api/search", params=search, headers=buyer), 200)
        body = {
            "lines": [{"product_id": self.rng.choice(products), "quantity": 1}],
            "location": {"lat": search["lat"], "lng": search["lng"]}, "address_text": "benchmark address",
        }  # fmt: skip
        order = _expect(
            await self.client.post("/api/orders", json=body, headers={**buyer, "Idempotency-Key": uuid.uuid4().hex}),
            201,
        ).json()
        payment = _expect(
            await self.client.post(
                f"/api/orders/{order['id']}/pay", headers={**buyer, "Idempotency-Key": uuid.uuid4().hex}
            ),
            200,
        ).json()
        reply = await self.client.post("/api/payments/notify", data=self.notification(payment))
        if reply.text != "success":
            raise RuntimeError(f"notify answered {reply.status_code} {reply.text!r}")


def _expect(answer: Any, status: int) -> Any:
    if answer.status_code != status:
        raise RuntimeError(
            f"{answer.request.method} {answer.request.url.path}: {answer.status_code} {answer.text[:300]}"
        )
    return answer


def wait_for_outbox(url: str, timeout_s: float = 60) -> None:
    """Until the relay has published every event (its CPU belongs to the orders that raised them)."""
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if not conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one():
                    return
            time.sleep(0.05)
        raise RuntimeError("the outbox did not drain")
    finally:
        engine.dispose()


async def trace_one(flows: Flows, container: Container, url: str) -> None:
    """One flow with every SQL statement it causes printed under the request (or relay) that ran it."""
    wait_for_outbox(url)
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(f"    [{threading.current_thread().name[:12]}] {' '.join(statement.split())[:150]}")

    event.listen(container.engine, "before_cursor_execute", note)
    original = flows.client.send

    async def send(request: httpx.Request, **kwargs: Any) -> httpx.Response:
        seen.append(f"  {request.method} {request.url.path}")
        return await original(request, **kwargs)

    flows.client.send = send  # type: ignore[method-assign]
    try:
        await flows.one()
        wait_for_outbox(url)
    finally:
        flows.client.send = original  # type: ignore[method-assign]
        event.remove(container.engine, "before_cursor_execute", note)
    print("\n".join(["  SQL of one flow:", *seen]))


async def measure(flows: Flows, n: int, url: str) -> float:
    """CPU ms per paid order over ``n`` flows (every thread of this process, the wallet's signing left out)."""
    flows.signing_s = 0.0
    started = time.process_time()
    for _ in range(n):
        await flows.one()
    wait_for_outbox(url)
    used = time.process_time() - started - flows.signing_s
    return 1000 * used / n


async def healthz_ms(client: httpx.AsyncClient, n: int = 300) -> float:
    started = time.process_time()
    for _ in range(n):
        _expect(await client.get("/healthz"), 200)
    return 1000 * (time.process_time() - started) / n


def app_client(container: Container) -> httpx.AsyncClient:
    """The platform's ASGI app in this process; the relay runs as ``yaodao run`` runs it."""
    transport = httpx.ASGITransport(app=create_app(container, background=False))
    return httpx.AsyncClient(transport=transport, base_url="http://platform.test", timeout=60)


class _Merged:
    """pstats reads anything with ``create_stats`` and ``stats``: the merged per-thread profiles."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    def create_stats(self) -> None:
        pass


def profiled(settings: Settings, tokens: list[str], wallet_dir: Path, args: argparse.Namespace) -> float:
    """--profile-orders flows with cProfile on every thread (thread CPU time); prints the top functions."""
    profiles: list[cProfile.Profile] = []

    def hook(*_: Any) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()

    async def run() -> None:
        async with app_client(container) as client:
            flows = Flows(client, tokens, wallet_dir, args.search, args.seed + 1)
            await flows.find_products(args.seed)
            for _ in range(20):
                await flows.one()
            wait_for_outbox(settings.database_url)
            for profile in profiles:
                profile.clear()  # count from here: warm caches, steady state
            hook()
            for _ in range(args.profile_orders):
                await flows.one()
            wait_for_outbox(settings.database_url)
            for profile in profiles:
                profile.disable()

    container = bootstrap(settings)
    threading.setprofile(hook)  # threads started from here on: the relay, the event loop's workers
    try:
        container.relay.start(settings.outbox_interval_s)
        asyncio.run(run())
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]  # None removes the hook
        container.close()
    stats = pstats.Stats(_Merged(merged(profiles)))  # type: ignore[arg-type]  # duck-typed, see _Merged
    total: float = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]  # untyped in pstats
    per_order = 1000 * total / args.profile_orders
    print(f"\n  cProfile, {args.profile_orders} flows: {per_order:.1f} ms of thread CPU per order under the profiler")
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(r"yaodao|sqlalchemy/(orm|engine)/(session|base)", args.top)
    return per_order


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.order_path", description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=400, help="measured flows")
    parser.add_argument("--warmup", type=int, default=40, help="flows before measuring")
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--profile-orders", type=int, default=200, help="flows under cProfile (0: no profile)")
    parser.add_argument("--top", type=int, default=30, help="functions listed from the profile")
    parser.add_argument("--search", action="store_true", help="GET /api/search in front of each flow")
    parser.add_argument("--trace", action="store_true", help="print the SQL statements of one flow, by request")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--postgres-url", default=os.environ.get("YAODAO_TEST_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--database", default="yaodao_bench_order_path", help="the database created and dropped")
    args = parser.parse_args()
    print(f"Order path in-process on PostgreSQL; load average {os.getloadavg()[0]:.2f} at the start")
    with (
        tempfile.TemporaryDirectory(prefix="yaodao-order-path-") as tmp,
        postgres_database(args.postgres_url, args.database) as url,
    ):
        wallet_dir = Path(tmp) / "wallet"
        init_data_dir(wallet_dir)
        started = time.perf_counter()
        tokens = prepare_database(url, args.buyers, wallet_dir).buyer_tokens
        top_up_stock(url)
        print(f"  set up in {time.perf_counter() - started:.1f} s: {args.buyers} buyers, stock topped up")
        settings = Settings(
            env="test", database_url=url, wallet_mode="sandbox", wallet_data_dir=wallet_dir,
            dispatch_enabled=False, offers_enabled=False,
        )  # fmt: skip

        async def run() -> tuple[float, float, float, float]:
            async with app_client(container) as client:
                flows = Flows(client, tokens, wallet_dir, args.search, args.seed)
                await flows.find_products(args.seed)
                for _ in range(args.warmup):
                    await flows.one()
                wait_for_outbox(url)
                plumbing = await healthz_ms(client)
                if args.trace:
                    await trace_one(flows, container, url)
                statements.clear()
                wall = time.perf_counter()
                per_order = await measure(flows, args.orders, url)
                return per_order, plumbing, time.perf_counter() - wall, flows.signing_s

        container = bootstrap(settings)
        statements: list[str] = []
        event.listen(container.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        try:
            container.relay.start(settings.outbox_interval_s)
            per_order, plumbing, wall, signing_s = asyncio.run(run())
            per_order_statements = len(statements) / args.orders
        finally:
            container.close()
        flows_label = "search -> checkout -> pay -> notify" if args.search else "checkout -> pay -> notify"
        print(
            f"  {args.orders} flows ({flows_label}) in {wall:.1f} s: {per_order:.2f} ms CPU per paid order "
            f"(wallet signing left out, {1000 * signing_s / args.orders:.2f} ms), {per_order_statements:.1f} SQL "
            f"statements per order (relay included); GET /healthz costs "
            f"{plumbing:.2f} ms CPU per request in-process (client, ASGI plumbing, SELECT 1)"
        )
        profiled_ms = profiled(settings, tokens, wallet_dir, args) if args.profile_orders else 0.0
        paid = args.warmup + args.orders + int(args.trace) + (args.profile_orders + 20 if args.profile_orders else 0)
        checks = invariants(url, paid)
        print(f"\n  invariants: {checks}")
    bad = [k for k in ("unbalanced_txns", "ledger_sum", "oversold_rows", "orders_awaiting_payment") if checks[k]]
    ok = not bad and checks["captures"] == paid == checks["payments_paid"] == checks["orders_paid"]
    print(
        f"cpu_ms_per_order={per_order:.2f} statements_per_order={per_order_statements:.1f} "
        f"profiled_ms_per_order={profiled_ms:.1f} healthz_cpu_ms={plumbing:.2f} orders={args.orders} "
        f"search={int(args.search)} invariants={'ok' if ok else 'FAILED'}"
    )


if __name__ == "__main__":
    main()
