"""The command line: ``yaodao run | seed | db upgrade | db downgrade | db current``.

``yaodao run --workers N`` (or ``YAODAO_WORKERS``) serves with N processes: the interpreter lock
holds one process to one core. The parent migrates and seeds once, then uvicorn starts N workers,
each calling ``worker_app`` to bootstrap its own container; their caches follow the outbox (see
``adapters/db/follower.py``) and their background loops share the work by leases
(``adapters/db/leases.py``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from fastapi import FastAPI

    from yaodao.settings import Settings


def _configure_logging(json_logs: bool) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    renderer = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso"), renderer]
    )


def main(argv: list[str] | None = None) -> int:
    from yaodao.settings import Settings

    parser = argparse.ArgumentParser(prog="yaodao", description="药到 yaodao: medicine at your door in 30/60 minutes")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate, seed the pilot city if empty, and serve the platform")
    run.add_argument("--host", default=None)
    run.add_argument("--port", type=int, default=None)
    run.add_argument("--no-seed", action="store_true", help="do not seed an empty database")
    run.add_argument("--workers", type=int, default=None, help="server processes (default: YAODAO_WORKERS, 1)")
    seed = sub.add_parser("seed", help="migrate and seed the Hangzhou pilot (idempotent)")
    seed.add_argument("--city", default="hangzhou")
    ev = sub.add_parser("eval", help="measure quality against a labelled set")
    ev_sub = ev.add_subparsers(dest="what", required=True)
    ev_search = ev_sub.add_parser("search", help="intent accuracy, emergency recall, recall@5 for products")
    ev_search.add_argument("file", help="JSON Lines: {query, intent, expect_generic?, address?}")
    ev_search.add_argument("--out", help="write one prediction per line (JSON Lines) here")
    ev_triage = ev_sub.add_parser("triage", help="department accuracy, red-flag recall and precision of triage")
    ev_triage.add_argument("file", help="JSON Lines: {text, age, sex, red_flag, department}")
    ev_triage.add_argument("--out", help="write one prediction per line (JSON Lines) here")
    sim = sub.add_parser(
        "simulate", help="run a simulated city (default) or the online-doctor service and report how it does"
    )
    from yaodao.care import simulate_cli as consults_cli
    from yaodao.dispatch import city_sim_cli

    city_sim_cli.add_arguments(sim)
    # Options of `simulate consults` go after the word "consults".
    sim_sub = sim.add_subparsers(dest="what", required=False, metavar="{consults}")

    consults_cli.add_arguments(
        sim_sub.add_parser("consults", help="online-doctor staffing: cross-region matching vs a regional baseline")
    )
    bench = sub.add_parser("bench", help="quality benchmarks against published work")
    bench_sub = bench.add_subparsers(dest="what", required=True)
    from yaodao.dispatch import mdrp_cli

    mdrp_cli.add_arguments(bench_sub.add_parser("mdrp", help="the dispatcher on Grubhub's MDRP instances"))
    money = sub.add_parser("payments", help="payments operations")
    money_sub = money.add_subparsers(dest="what", required=True)
    rec = money_sub.add_parser("reconcile", help="settle with the wallet: pending payments, refunds, differences")
    rec.add_argument("--pending-after-minutes", type=int, default=30)
    rec.add_argument("--payment", action="append", default=[], help="only this payment id (repeatable)")
    sandbox = sub.add_parser("wallet-sandbox", help="serve the sandbox wallet (Alipay-style) on loopback")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8010)
    sandbox.add_argument("--data-dir", default="var/wallet-sandbox", help="keys and the sandbox's own database")
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument("revision", nargs="?", default=None, help="target revision (upgrade: head, downgrade: -1)")
    args = parser.parse_args(argv)
    if args.command == "run" and args.workers is not None and not 1 <= args.workers <= 64:
        parser.error("--workers must be between 1 and 64")

    settings = Settings()
    _configure_logging(settings.log_json)
    if args.command == "eval" and args.what == "triage":
        from yaodao.eval_triage import run as evaluate_triage_file

        return evaluate_triage_file(args.file, args.out, sys.stdout)
    if args.command == "eval":
        from yaodao.eval_search import evaluate_search_file

        return evaluate_search_file(args.file, args.out)
    if args.command == "bench":
        return mdrp_cli.run(args, sys.stdout)
    if args.command == "simulate":
        if args.what == "consults":
            return consults_cli.run(args, sys.stdout)
        return city_sim_cli.run(args, sys.stdout)
    if args.command == "wallet-sandbox":
        from yaodao.wallet_sandbox import serve

        serve(host=args.host, port=args.port, data_dir=args.data_dir)
        return 0
    from yaodao.adapters.db import migrate

    if args.command == "db":
        if args.action == "upgrade":
            migrate.upgrade(settings.database_url, args.revision or "head")
        elif args.action == "downgrade":
            migrate.downgrade(settings.database_url, args.revision or "-1")
        print(migrate.current(settings.database_url) or "empty")
        return 0

    migrate.upgrade(settings.database_url)
    from yaodao.bootstrap import bootstrap
    from yaodao.seed import seed as seed_platform

    container = bootstrap(settings)
    if args.command == "payments":
        from yaodao.payments.reconcile import ReconcileParams, run_reconcile

        only = frozenset(args.payment) or None
        settled = run_reconcile(container, ReconcileParams(pending_after_minutes=args.pending_after_minutes, only=only))
        container.close()
        print(settled.render())
        return 0 if settled.ok else 1
    if args.command == "seed":
        report = seed_platform(container, city_id=args.city)
        print(
            f"seeded city={report.city_id} products={report.products} pharmacies={report.pharmacies} "
            f"stock_rows={report.stock_rows} demo_users={report.users}"
        )
        return 0
    if not args.no_seed:
        seed_platform(container, city_id=settings.default_city)
    import uvicorn

    from yaodao.web.app import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    workers = settings.workers if args.workers is None else args.workers
    if settings.wallet_mode == "sandbox" and settings.wallet_serve:
        _start_sandbox_wallet(settings)
    print(f"yaodao is serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)", flush=True)
    if workers == 1:
        uvicorn.run(create_app(container), host=host, port=port, log_level="info")
        return 0
    # Migrated and seeded once, here; each worker process bootstraps its own container (worker_app).
    container.close()
    print(f"serving with {workers} worker processes", flush=True)
    uvicorn.run("yaodao.cli:worker_app", factory=True, workers=workers, host=host, port=port, log_level="info")
    return 0


def worker_app() -> FastAPI:
    """The application of one server process of `yaodao run --workers N`, built from the environment."""
    from yaodao.bootstrap import bootstrap
    from yaodao.settings import Settings
    from yaodao.web.app import create_app

    settings = Settings()
    _configure_logging(settings.log_json)
    return create_app(bootstrap(settings))


def _start_sandbox_wallet(settings: Settings) -> None:
    """Serve the sandbox wallet on its own loopback port, as its own service, beside the platform."""
    import threading
    from urllib.parse import urlsplit

    from yaodao.wallet_sandbox import serve

    gateway = urlsplit(settings.wallet_gateway_url)
    host, port = gateway.hostname or "127.0.0.1", gateway.port or 8010
    thread = threading.Thread(
        target=serve, kwargs={"host": host, "port": port, "data_dir": settings.wallet_data_dir}, daemon=True
    )
    thread.start()
    print(f"sandbox wallet on http://{host}:{port}/  (pay pages, notifications)", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
