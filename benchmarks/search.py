"""Search + availability latency at scale, on SQLite and PostgreSQL, against a LIKE-scan baseline.

    python -m benchmarks.search [--products 20000 --pharmacies 1000 --queries 400 --seed 3] [--no-postgres]

The catalog is the real seed (343 products) plus synthetic variants of it up to --products: the
same generics from other manufacturers, packs and prices, as a real 20,000-line catalog is. The
network is the Hangzhou generator at --pharmacies stores; real products are stocked as the seed
does, each synthetic variant by about 5% of stores. Queries are the repository's labelled set
(eval/search/queries.jsonl), run at downtown addresses at 14:00 and 23:00 local time.

For each engine it reports in-process latency of the real search (analysis, intent, retrieval,
ranking and availability) and of the baseline (a plain ILIKE scan over names plus the same
availability lookup), the build and index time, the process's peak resident memory, and the
HTTP throughput of /api/search (a `yaodao run` on the same database) under a bounded load from
a second process on loopback. Ends with one line of key=value pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import or_, select

from yaodao.adapters.db import migrate
from yaodao.adapters.db import tables as t
from yaodao.bootstrap import Container, bootstrap
from yaodao.catalog.model import Product, StockLevel
from yaodao.catalog.network import NetworkParams, generate_pharmacies
from yaodao.catalog.stocking import StockingParams, generate_stock
from yaodao.kernel.clock import ManualClock
from yaodao.kernel.geo import LatLng
from yaodao.seed import city_files, seed_products
from yaodao.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DAY = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 14:00 in Hangzhou
NIGHT = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 23:00
ADDRESSES = [LatLng(30.2716, 120.1636), LatLng(30.2587, 120.1485), LatLng(30.2084, 120.2108), LatLng(30.2741, 120.1551)]
MAKERS = [
    "华润双鹤药业",
    "石药集团",
    "齐鲁制药",
    "扬子江药业",
    "华北制药",
    "哈药集团",
    "修正药业",
    "仁和药业",
    "太极集团",
    "白云山制药",
    "浙江医药",
    "海正药业",
    "华东医药",
    "康恩贝制药",
    "天士力医药",
    "步长制药",
]


def catalog(total: int, rng: random.Random) -> list[Product]:
    real = seed_products()
    out = list(real)
    i = 0
    while len(out) < total:
        base = real[i % len(real)]
        i += 1
        maker = rng.choice(MAKERS)
        out.append(
            replace(
                base,
                id=f"syn-{i:05d}",
                sku=f"syn-{i:05d}-{base.sku[:40]}",
                brand_name_zh=None,
                brand_name_en=None,
                manufacturer_zh=f"{maker}有限公司",
                price_fen=max(100, int(base.price_fen * rng.uniform(0.6, 1.4))),
            )
        )
    return out


def build(url: str, products: list[Product], pharmacies_n: int, seed: int) -> tuple[Container, float]:
    started = time.perf_counter()
    migrate.upgrade(url)
    container = bootstrap(Settings(env="test", database_url=url), clock=ManualClock(DAY), fast_passwords=True)
    data, districts = city_files("hangzhou")
    rng = random.Random(seed)
    with container.uow() as uow:
        now = uow.clock.now()
        uow.cities.add(data, districts, now)
        uow.products.add_many(products, now)
        uow.commit()
    city = container.cities.get("hangzhou")
    assert city is not None
    pharmacies = generate_pharmacies(
        city, seed=seed, params=NetworkParams(total=pharmacies_n, min_24h=pharmacies_n // 8)
    )
    real = [p for p in products if not p.id.startswith("syn-")]
    levels = generate_stock(pharmacies, real, seed=seed, params=StockingParams())
    synthetic = [p for p in products if p.id.startswith("syn-")]
    for ph in pharmacies:
        for p in rng.sample(synthetic, k=max(0, int(len(synthetic) * 0.05))):
            levels.append(StockLevel(ph.id, p.id, rng.randint(0, 20)))
    with container.uow() as uow:
        now = uow.clock.now()
        uow.pharmacies.add_many(pharmacies, now)
        uow.stock.add_many(levels, {p.id: p.city_id for p in pharmacies}, now)
        uow.commit()
    container.search.reindex()
    container.availability.index("hangzhou")
    if container.engine.dialect.name == "postgresql":
        # Vacuumed and analysed, as a running server's tables would be: autovacuum would otherwise
        # pick the million fresh stock rows up at some point during the timed queries.
        with container.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
    return container, time.perf_counter() - started


def baseline(container: Container, query: str, address: LatLng, at: datetime) -> int:
    """A plain ILIKE scan over names, then the same availability lookup: what a first version would do."""
    q = query.strip()[:50]
    if not q:
        return 0
    like = f"%{q}%"
    cols = (
        t.products.c.generic_name_zh,
        t.products.c.generic_name_en,
        t.products.c.brand_name_zh,
        t.products.c.brand_name_en,
        t.products.c.pinyin_full,
    )
    with container.engine.connect() as conn:
        ids = list(conn.execute(select(t.products.c.id).where(or_(*(c.ilike(like) for c in cols))).limit(60)).scalars())
    index = container.availability.index("hangzhou")
    assert index is not None
    return len(index.best_offers(address, ids, at, promise_minutes=60)) if ids else 0


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def measure(container: Container, queries: list[str]) -> dict[str, float]:
    city = container.cities.get("hangzhou")
    assert city is not None
    for q in queries[:20]:  # warm caches (jieba dictionary, lexicon, statement caches)
        container.search.search(q, city=city, address=ADDRESSES[0], at=DAY)
    # Each in its own pass: interleaved, every 30-ms baseline scan evicts the caches the next
    # search would have found warm, and the search then pays for the baseline's work.
    ours: list[float] = []
    base: list[float] = []
    for n, q in enumerate(queries):
        address, at = ADDRESSES[n % len(ADDRESSES)], (DAY if n % 3 else NIGHT)
        started = time.perf_counter_ns()
        container.search.search(q, city=city, address=address, at=at)
        ours.append((time.perf_counter_ns() - started) / 1e6)
    for n, q in enumerate(queries):
        address, at = ADDRESSES[n % len(ADDRESSES)], (DAY if n % 3 else NIGHT)
        started = time.perf_counter_ns()
        baseline(container, q, address, at)
        base.append((time.perf_counter_ns() - started) / 1e6)
    p50, p99 = percentiles(ours)
    b50, b99 = percentiles(base)
    return {"p50_ms": p50, "p99_ms": p99, "like_p50_ms": b50, "like_p99_ms": b99}


def http_throughput(url: str, queries: list[str], seconds: float, concurrency: int) -> dict[str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "YAODAO_DATABASE_URL": url, "YAODAO_PORT": str(port), "YAODAO_ENV": "test"}
    server = subprocess.Popen(
        [sys.executable, "-m", "yaodao.cli", "run", "--no-seed"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        for q in queries[:10]:  # the first requests build the catalog snapshot and load jieba: not the steady state
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q={urllib.parse.quote(q)}", timeout=60).read()
        load = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.load",
                f"http://127.0.0.1:{port}/api/search",
                str(seconds),
                str(concurrency),
            ],
            input="\n".join(queries),
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        result: dict[str, float] = json.loads(load.stdout.strip().splitlines()[-1])
        return result
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--pharmacies", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--http-seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("YAODAO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    lines = (ROOT / "eval" / "search" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    all_queries = [json.loads(line)["query"] for line in lines if line.strip()]
    queries = [rng.choice(all_queries) for _ in range(args.queries)]
    products = catalog(args.products, rng)
    print(
        f"Search + availability benchmark: {len(products):,} products ({len(products) - 343:,} synthetic variants"
        f" of the 343 real ones), {args.pharmacies} pharmacies, {len(queries)} queries from eval/search"
    )
    summary: dict[str, str] = {"products": str(len(products)), "pharmacies": str(args.pharmacies)}
    with tempfile.TemporaryDirectory() as tmp:
        engines = [("sqlite", f"sqlite:///{tmp}/bench.db")]
        if not args.no_postgres:
            engines.append(("postgres", _fresh_postgres(args.postgres_url)))
        for name, url in engines:
            container, built = build(url, products, args.pharmacies, args.seed)
            figures = measure(container, queries)
            container.close()
            print(f"\n  {name}: built and indexed in {built:.1f} s")
            print(f"    search+availability  p50 {figures['p50_ms']:.2f} ms   p99 {figures['p99_ms']:.2f} ms")
            print(f"    LIKE-scan baseline   p50 {figures['like_p50_ms']:.2f} ms   p99 {figures['like_p99_ms']:.2f} ms")
            print(f"    ratio baseline/ours  p50 {figures['like_p50_ms'] / figures['p50_ms']:.2f}x")
            summary |= {
                f"{name}_p50_ms": f"{figures['p50_ms']:.2f}",
                f"{name}_p99_ms": f"{figures['p99_ms']:.2f}",
                f"{name}_like_p50_ms": f"{figures['like_p50_ms']:.2f}",
            }
            if args.http_seconds > 0:
                http = http_throughput(url, queries, args.http_seconds, args.concurrency)
                print(
                    f"    HTTP /api/search: {http['rps']:.0f} req/s over {http['seconds']:.0f} s with "
                    f"{args.concurrency} connections, p50 {http['p50_ms']:.1f} ms, p99 {http['p99_ms']:.1f} ms, "
                    f"errors {int(http['errors'])}"
                )
                # SQLite keeps the key names it has always had (http_rps, http_p99_ms).
                prefix = "http" if name == "sqlite" else f"{name}_http"
                summary |= {f"{prefix}_rps": f"{http['rps']:.0f}", f"{prefix}_p99_ms": f"{http['p99_ms']:.1f}"}
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n  memory: max resident set {rss_mb:.0f} MiB (this process: both engines' data, indexes and caches)")
    summary |= {"rss_mib": f"{rss_mb:.0f}"}
    print(" ".join(f"{k}={v}" for k, v in summary.items()))


def _fresh_postgres(base: str) -> str:
    sys.path.insert(0, str(ROOT / "tests"))
    from support import fresh_postgres_database  # the same UTF-8 database set-up as the tests

    return str(fresh_postgres_database(base, "yaodao_bench"))


if __name__ == "__main__":
    main()
