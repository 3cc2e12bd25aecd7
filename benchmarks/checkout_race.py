"""Many buyers race for a few units over HTTP, against a real server process, on SQLite and PostgreSQL.

    python -m benchmarks.checkout_race [--rounds 20 --buyers 200 --stock 10] [--engines sqlite,postgres]

For each engine: a fresh database (a SQLite file; a fresh UTF-8 PostgreSQL database, dropped at the
end) with the Hangzhou pilot seeded, one admin and --buyers patients (date of birth and a real-name
identity set, bearer tokens issued in the set-up step), then ``yaodao run`` as a subprocess on free
loopback ports with its own wallet folder.

Each round creates a fresh OTC product and a fresh 24-hour pharmacy near West Lake through the admin
API, stocks --stock units, waits until the server's availability index offers them, opens one
connection per buyer, then every buyer checks out 1 unit at once (``POST /api/orders`` with an
Idempotency-Key of its own). Counted per round: answers by status and problem code, 5xx, transport
errors, latency; and from the database: orders holding the product, units reserved and on hand.
Oversold is units in orders beyond the stock, or reserved beyond on hand. Ends with one line of
key=value pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy import create_engine, text

from yaodao.accounts.model import Role, User
from yaodao.accounts.services import token_hash
from yaodao.adapters.db import migrate
from yaodao.bootstrap import bootstrap
from yaodao.kernel.geo import LatLng
from yaodao.kernel.ids import new_id
from yaodao.seed import seed
from yaodao.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
WEST_LAKE = LatLng(30.2587, 120.1485)  # GCJ-02, inside Xihu district
NEAR = LatLng(WEST_LAKE.lat + 0.002, WEST_LAKE.lng + 0.002)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


# Set-up: a seeded database with an admin and buyers ---------------------------------------------


@dataclass(frozen=True)
class Accounts:
    admin_token: str
    buyer_tokens: list[str]


def prepare_database(url: str, buyers: int, wallet_dir: Path) -> Accounts:
    """Migrate, seed the pilot city, add an admin and ``buyers`` patients, and issue their bearer tokens."""
    migrate.upgrade(url)
    container = bootstrap(Settings(env="test", database_url=url, wallet_data_dir=wallet_dir), fast_passwords=True)
    try:
        seed(container, demo_users=False)
        tokens: list[str] = []
        with container.uow() as uow:
            now = uow.clock.now()
            for n in range(buyers + 1):
                role = Role.ADMIN if n == 0 else Role.PATIENT
                user = User(
                    id=new_id(),
                    email=f"{role.value}-{n}-{uuid.uuid4().hex[:8]}@bench.yaodao.local",
                    display_name=f"Bench {role.value} {n}",
                    password_hash=container.passwords.hash(secrets.token_urlsafe(16)),
                    roles=frozenset({role}),
                    date_of_birth=date(1988, 2, 1) if role is Role.PATIENT else None,
                    sex="m" if role is Role.PATIENT else None,
                    id_number_hash=f"bench-{uuid.uuid4().hex}" if role is Role.PATIENT else None,
                )
                uow.users.add(user, now)
                raw = secrets.token_urlsafe(32)
                uow.tokens.add(
                    token_id=new_id(), user_id=user.id, token_hash=token_hash(raw), kind="bearer",
                    csrf_token=None, label="benchmark", now=now, expires_at=now + timedelta(days=1),
                )  # fmt: skip
                tokens.append(raw)
            uow.commit()
    finally:
        container.close()
    return Accounts(admin_token=tokens[0], buyer_tokens=tokens[1:])


@contextmanager
def postgres_database(base_url: str, name: str) -> Iterator[str]:
    """A fresh UTF-8 database ``name`` (the same set-up as the tests), dropped on the way out."""
    sys.path.insert(0, str(ROOT / "tests"))
    import psycopg

    from support import admin_conninfo, fresh_postgres_database

    url = str(fresh_postgres_database(base_url, name))
    try:
        yield url
    finally:
        with psycopg.connect(admin_conninfo(base_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The server process ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_env(url: str, port: int, wallet_dir: Path, wallet_port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "YAODAO_DATABASE_URL": url,
        "YAODAO_PORT": str(port),
        "YAODAO_ENV": "test",
        "YAODAO_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "YAODAO_WALLET_DATA_DIR": str(wallet_dir),
        "YAODAO_WALLET_GATEWAY_URL": f"http://127.0.0.1:{wallet_port}/gateway.do",
        **extra,
    }


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path, ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command``, wait until ``ready_url`` answers 200, and stop it (SIGTERM, then SIGKILL) after."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            wait_ready(ready_url, process, log)
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}; see {log}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s; see {log}")


def platform_command() -> list[str]:
    return [sys.executable, "-m", "yaodao.cli", "run", "--no-seed"]


# One round -------------------------------------------------------------------------------------


@dataclass
class Round:
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)  # problem codes of the 409s
    transport_errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    orders_in_db: int = 0
    units_in_orders: int = 0
    on_hand: int = 0
    reserved: int = 0

    @property
    def created(self) -> int:
        return self.statuses[201]

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def oversold(self) -> int:
        return max(0, self.units_in_orders - self.on_hand, self.reserved - self.on_hand)


def product_body() -> dict[str, Any]:
    ref = uuid.uuid4().hex[:10]
    return {
        "sku": f"bench-ibuprofen-{ref}", "kind": "drug", "generic_name_zh": "布洛芬片",
        "generic_name_en": "Ibuprofen Tablets", "brand_name_zh": None, "brand_name_en": None,
        "manufacturer_zh": "华润双鹤药业股份有限公司",
        "ingredients": [{"inn": "ibuprofen", "name_zh": "布洛芬", "amount": 200, "unit": "mg"}],
        "dosage_form": "tablet", "strength": "0.2g", "pack_size": 24, "pack_unit": "tablet",
        "pack_text_zh": "0.2g×24片", "drug_class": "otc_b", "categories": ["fever_pain"],
        "indications_zh": ["头痛", "发热"], "indications_en": ["headache", "fever"],
        "contraindications": ["对本品过敏者禁用"], "min_age_years": 12, "max_per_order": 5,
        "cold_chain": False, "price_fen": 1500,
    }  # fmt: skip


def pharmacy_body() -> dict[str, Any]:
    ref = uuid.uuid4().hex[:10]
    return {
        "city_id": "hangzhou", "name": f"压测大药房({ref}店)", "brand": "压测大药房",
        "address": "杭州市西湖区北山街1号", "location": {"lat": WEST_LAKE.lat, "lng": WEST_LAKE.lng},
        "open_24h": True, "opens": "08:00", "closes": "22:00", "prep_minutes": 6, "licence_no": f"浙CA5710{ref[:4]}",
    }  # fmt: skip


@dataclass(frozen=True)
class Shop:
    pharmacy_id: str
    product_id: str
    sku: str


async def make_shop(client: httpx.AsyncClient, admin: dict[str, str], stock: int) -> Shop:
    """A fresh 24-hour pharmacy holding ``stock`` units of a fresh OTC product, once the server offers it."""
    pharmacy = await client.post("/api/admin/pharmacies", json=pharmacy_body(), headers=admin)
    pharmacy.raise_for_status()
    product = await client.post("/api/admin/products", json=product_body(), headers=admin)
    product.raise_for_status()
    shop = Shop(pharmacy.json()["id"], product.json()["id"], product.json()["sku"])
    put = await client.put(
        f"/api/admin/pharmacies/{shop.pharmacy_id}/stock/{shop.product_id}", json={"quantity": stock}, headers=admin
    )
    put.raise_for_status()
    await wait_offered(client, shop)
    return shop


async def wait_offered(client: httpx.AsyncClient, shop: Shop, timeout_s: float = 60) -> None:
    """The outbox relay runs in the server's background: wait until its availability index offers the shop."""
    deadline = time.monotonic() + timeout_s
    params: dict[str, str | float] = {"lat": NEAR.lat, "lng": NEAR.lng, "items": f"{shop.sku}:1"}
    while time.monotonic() < deadline:
        answer = await client.get("/api/availability", params=params)
        if answer.status_code == 200 and any(o["pharmacy_id"] == shop.pharmacy_id for o in answer.json()["offers"]):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"pharmacy {shop.pharmacy_id} was not offered within {timeout_s:.0f} s")


def checkout_body(shop: Shop) -> dict[str, Any]:
    return {
        "lines": [{"product_id": shop.product_id, "quantity": 1}],
        "location": {"lat": NEAR.lat, "lng": NEAR.lng},
        "address_text": "北山街1号",
        "pharmacy_id": shop.pharmacy_id,
    }


async def race(base: str, shop: Shop, tokens: list[str]) -> Round:
    """Every buyer on a fresh connection of its own, opened first, then one checkout each at the same moment."""
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        await asyncio.gather(*(client.get("/healthz") for _ in tokens))
        return await _race(client, shop, tokens)


async def _race(client: httpx.AsyncClient, shop: Shop, tokens: list[str]) -> Round:
    result = Round()
    gate = asyncio.Event()

    async def buy(token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        await gate.wait()
        started = time.perf_counter()
        try:
            answer = await client.post("/api/orders", json=checkout_body(shop), headers=headers)
        except httpx.HTTPError as exc:
            result.transport_errors[type(exc).__name__] += 1
            return
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.statuses[answer.status_code] += 1
        if answer.status_code == 409:
            result.codes[str(answer.json().get("code"))] += 1

    tasks = [asyncio.create_task(buy(token)) for token in tokens]
    await asyncio.sleep(0.1)  # every buyer is waiting at the gate
    gate.set()
    await asyncio.gather(*tasks)
    return result


def count_in_database(url: str, shop: Shop, result: Round) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            orders, units = conn.execute(
                text(
                    "SELECT count(DISTINCT order_id), coalesce(sum(quantity), 0) FROM order_lines WHERE product_id = :p"
                ),
                {"p": shop.product_id},
            ).one()
            on_hand, reserved = conn.execute(
                text("SELECT quantity, reserved FROM stock_levels WHERE pharmacy_id = :ph AND product_id = :p"),
                {"ph": shop.pharmacy_id, "p": shop.product_id},
            ).one()
    finally:
        engine.dispose()
    result.orders_in_db, result.units_in_orders = int(orders), int(units)
    result.on_hand, result.reserved = int(on_hand), int(reserved)


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def describe(n: int, r: Round) -> str:
    others = {s: c for s, c in sorted(r.statuses.items()) if s not in (201, 409)}
    codes = ", ".join(f"{code} {count}" for code, count in r.codes.most_common())
    return (
        f"    round {n:>2}: sold {r.orders_in_db} (201 x{r.created}), oversold {r.oversold}, "
        f"409 x{r.statuses[409]} ({codes or '-'}), other statuses {others or '-'}, 5xx {r.server_errors}, "
        f"transport errors {sum(r.transport_errors.values())}, reserved/on hand {r.reserved}/{r.on_hand}, "
        f"p50 {percentile(r.latencies_ms, 0.5):.0f} ms, p99 {percentile(r.latencies_ms, 0.99):.0f} ms"
    )


async def run_rounds(base: str, url: str, accounts: Accounts, rounds: int, stock: int) -> list[Round]:
    admin = {"Authorization": f"Bearer {accounts.admin_token}"}
    results = []
    for n in range(1, rounds + 1):
        # Fresh connections every round: none sits idle past the server's keep-alive while a round runs.
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            shop = await make_shop(client, admin, stock)
        result = await race(base, shop, accounts.buyer_tokens)
        count_in_database(url, shop, result)
        print(describe(n, result), flush=True)
        results.append(result)
    return results


def run_engine(name: str, url: str, folder: Path, args: argparse.Namespace) -> list[Round]:
    started = time.perf_counter()
    accounts = prepare_database(url, args.buyers, folder / "wallet")
    port, wallet_port = free_port(), free_port()
    env = server_env(url, port, folder / "wallet", wallet_port)
    print(f"\n  {name}: set up in {time.perf_counter() - started:.1f} s; yaodao run on 127.0.0.1:{port}", flush=True)
    log = folder / f"server-{name}.log"
    with running(platform_command(), env, log, f"http://127.0.0.1:{port}/healthz"):
        return asyncio.run(run_rounds(f"http://127.0.0.1:{port}", url, accounts, args.rounds, args.stock))


def summarise(name: str, results: list[Round], stock: int, buyers: int) -> dict[str, str]:
    expected = min(stock, buyers)
    sold = sorted({r.orders_in_db for r in results})
    codes: Counter[str] = Counter()
    for r in results:
        codes.update(r.codes)
    latencies = [ms for r in results for ms in r.latencies_ms]
    oversold = sum(r.oversold for r in results)
    server_errors = sum(r.server_errors for r in results)
    mismatched = sum(r.created != r.orders_in_db for r in results)
    print(
        f"  {name}: exactly {expected} sold in {sum(1 for r in results if r.orders_in_db == expected)}/{len(results)} "
        f"rounds; oversold {oversold}; losers {sum(buyers - r.created for r in results)}, of them 409 "
        f"{sum(r.statuses[409] for r in results)} ({', '.join(f'{c} {k}' for c, k in codes.most_common())}); "
        f"5xx {server_errors}; transport errors {sum(sum(r.transport_errors.values()) for r in results)}; "
        f"rounds where the 201s and the orders in the database differ {mismatched}; "
        f"checkout latency over all rounds p50 {percentile(latencies, 0.5):.0f} ms, "
        f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies, default=0):.0f} ms"
    )
    return {
        f"{name}_sold_each": str(sold[0]) if len(sold) == 1 else f"{sold[0]}-{sold[-1]}",
        f"{name}_oversold": str(oversold),
        f"{name}_5xx": str(server_errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.checkout_race", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--stock", type=int, default=10)
    parser.add_argument("--engines", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--postgres-url", default=os.environ.get("YAODAO_TEST_POSTGRES_URL", DEFAULT_PG))
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    print(
        f"Checkout race: {args.buyers} buyers x 1 unit against {args.stock} units, {args.rounds} rounds per engine, "
        f"each round a fresh product and pharmacy; HTTP to `yaodao run` on loopback; load average "
        f"{os.getloadavg()[0]:.2f} at the start"
    )
    summary = {"rounds": str(args.rounds), "buyers": str(args.buyers), "stock": str(args.stock)}
    with tempfile.TemporaryDirectory(prefix="yaodao-race-") as tmp:
        for name in engines:
            folder = Path(tmp) / name
            folder.mkdir()
            if name == "sqlite":
                results = run_engine(name, f"sqlite:///{folder}/race.db", folder, args)
            elif name == "postgres":
                with postgres_database(args.postgres_url, "yaodao_bench_race") as url:
                    results = run_engine(name, url, folder, args)
            else:
                parser.error(f"unknown engine {name!r}")
            summary |= summarise(name, results, args.stock, args.buyers)
    print(f"  load average {os.getloadavg()[0]:.2f} at the end")
    print(" ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
