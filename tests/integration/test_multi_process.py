"""Several server processes on one database: caches follow every event, work runs once, loops run once.

Two containers bootstrapped on the same database stand for two processes (each has its own bus,
relay, follower, caches and leases, exactly as a worker of `yaodao run --workers N` does).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from courier_support import context, mark_paid
from factories import WEST_LAKE, pharmacy_body, product_body, ref
from shop import NEAR, make_patients, make_shop
from support import Platform, free_port, server_env
from yaodao.accounts.model import Role
from yaodao.adapters.db import tables as t
from yaodao.adapters.db.follower import OutboxFollower
from yaodao.adapters.db.leases import build_leases
from yaodao.adapters.dispatch_worker import DispatchWorker
from yaodao.adapters.offer_worker import OfferWorker
from yaodao.bootstrap import Container, bootstrap
from yaodao.kernel.ids import new_id
from yaodao.messagebus import MessageBus
from yaodao.ordering import services as ordering
from yaodao.web.app import create_app

AT = "2026-11-25T14:00:00+08:00"


@pytest.fixture
def second(platform: Platform) -> Iterator[Container]:
    """Another process on the platform's database: its own container, caches and relay."""
    container = bootstrap(platform.container.settings, clock=platform.clock, fast_passwords=True)
    yield container
    container.close()


def _availability(client: TestClient, sku: str, packs: int = 1) -> list[str]:
    params = {"lat": WEST_LAKE["lat"], "lng": WEST_LAKE["lng"], "items": f"{sku}:{packs}", "at": AT}
    answer = client.get("/api/availability", params=params)
    assert answer.status_code == 200, answer.text
    return [o["pharmacy_id"] for o in answer.json()["offers"]]


def test_a_second_process_sees_a_new_pharmacy_stock_and_product_relayed_by_the_first(
    platform: Platform, second: Container
) -> None:
    a = platform.container
    a.relay.drain()
    b_client = TestClient(create_app(second, background=False), raise_server_exceptions=False)
    # B builds its caches now: the availability index of the city and the search catalog.
    assert second.availability.index("hangzhou") is not None
    products_before = len(second.search.catalog.products)
    admin = platform.auth(Role.ADMIN)
    tag = ref()[:8]
    product = platform.client.post(
        "/api/admin/products",
        json=product_body(generic_name_en=f"Ibuprofen Tablets {tag}", drug_class="otc_b"),
        headers=admin,
    )
    shop = platform.client.post("/api/admin/pharmacies", json=pharmacy_body(open_24h=True), headers=admin)
    assert product.status_code == shop.status_code == 201, (product.text, shop.text)
    product_id, sku, pharmacy_id = product.json()["id"], product.json()["sku"], shop.json()["id"]
    stocked = platform.client.put(
        f"/api/admin/pharmacies/{pharmacy_id}/stock/{product_id}", json={"quantity": 40}, headers=admin
    )
    assert stocked.status_code == 200, stocked.text

    assert a.relay.drain() >= 3  # A's relay handed the events to the work handlers
    assert second.relay.drain() == 0  # B's relay had nothing left to hand out ...
    # ... yet B's follower gave its caches every event.
    assert _availability(b_client, sku) == [pharmacy_id]
    assert product_id in second.search.catalog.products
    assert len(second.search.catalog.products) == products_before + 1
    city = second.cities.get("hangzhou")
    assert city is not None
    page = second.search.search(f"ibuprofen tablets {tag}", city=city, address=NEAR, at=platform.clock.now())
    assert any(card.sku == sku for card in page.ranked)

    # A later stock change through A reaches B too, and the last value wins.
    for quantity in (0, 7):
        changed = platform.client.put(
            f"/api/admin/pharmacies/{pharmacy_id}/stock/{product_id}", json={"quantity": quantity}, headers=admin
        )
        assert changed.status_code == 200, changed.text
    a.relay.drain()
    second.relay.drain()
    assert _availability(b_client, sku, 7) == [pharmacy_id]
    assert _availability(b_client, sku, 8) == []


def test_a_work_handler_runs_once_across_two_relays(platform: Platform, second: Container) -> None:
    """A paid delivery order: two relays drain at once; the intake (and a counting handler) run once."""
    a = platform.container
    shop = make_shop(platform, stock=50)
    (buyer,) = make_patients(platform, 1)
    request = ordering.CheckoutRequest(
        lines=(ordering.CheckoutLine(shop.otc_id, 1),), location=NEAR, address_text="北山街1号",
        pharmacy_id=shop.pharmacy_id,
    )  # fmt: skip
    order = ordering.checkout(uow=a.uow(), actor=buyer, request=request, ctx=context(platform))
    a.relay.drain()
    seen: list[tuple[str, str]] = []
    a.bus.subscribe("ordering.order_paid", lambda m: seen.append(("a", m["event_id"])))
    second.bus.subscribe("ordering.order_paid", lambda m: seen.append(("b", m["event_id"])))
    mark_paid(a, order.id)
    barrier = threading.Barrier(2)
    published: list[int] = []

    def drain(container: Container) -> None:
        barrier.wait()
        published.append(container.relay.drain())

    threads = [threading.Thread(target=drain, args=(c,)) for c in (a, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(seen) == 1, seen
    assert sum(published) >= 1
    with a.uow(read_only=True) as uow:
        rows = uow.conn.execute(select(func.count()).where(t.deliveries.c.order_id == order.id)).scalar_one()
    assert rows == 1


def _emit(engine: Any, n: int, topic: str = "test.follow") -> list[str]:
    ids = [new_id() for _ in range(n)]
    with engine.begin() as conn:
        for event_id in ids:
            conn.execute(insert(t.outbox).values(**_row(event_id, topic)))
    return ids


def _row(event_id: str, topic: str = "test.follow") -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "event_id": event_id, "topic": topic, "city_id": "hangzhou", "payload": {"n": event_id},
        "created_at": datetime.now(UTC), "attempts": 0,
    }  # fmt: skip


class _Recorder:
    def __init__(self, engine: Any, **options: Any) -> None:
        self.bus = MessageBus()
        self.seen: list[str] = []
        self.lost = 0
        self.bus.subscribe("test.follow", lambda m: self.seen.append(m["event_id"]), every_process=True)
        self.follower = OutboxFollower(engine, self.bus, on_lost=self._lose, **options)
        self.follower.start_at_end()

    def _lose(self) -> None:
        self.lost += 1


def test_the_follower_starts_at_the_end_and_delivers_each_event_once_in_order(platform: Platform) -> None:
    engine = platform.container.engine
    _emit(engine, 3)  # before it started: its caches are built from the database after this
    recorder = _Recorder(engine, batch_size=4)
    ids = _emit(engine, 10)
    assert recorder.follower.catch_up() == 10
    assert recorder.follower.catch_up() == 0
    assert recorder.seen == ids
    assert recorder.lost == 0


def test_a_follower_far_behind_drops_the_caches_and_moves_to_the_end(platform: Platform) -> None:
    engine = platform.container.engine
    recorder = _Recorder(engine, max_lag=5)
    _emit(engine, 8)
    recorder.follower.catch_up()
    assert recorder.lost == 1
    assert recorder.seen == []
    later = _emit(engine, 2)
    recorder.follower.catch_up()
    assert recorder.seen == later  # and goes on from there


def test_a_failed_read_drops_the_caches_and_resumes_from_the_end(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = platform.container.engine
    recorder = _Recorder(engine)
    missed = _emit(engine, 2)
    real = OutboxFollower._bounds

    def broken(self: OutboxFollower, conn: Any) -> Any:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(OutboxFollower, "_bounds", broken)
    assert recorder.follower.catch_up() == 0
    monkeypatch.setattr(OutboxFollower, "_bounds", real)
    recorder.follower.catch_up()  # back: it moves to the end, then drops the caches
    assert recorder.lost == 1
    later = _emit(engine, 1)
    recorder.follower.catch_up()
    assert recorder.seen == later
    assert not set(missed) & set(recorder.seen)


def test_a_lower_id_committed_after_a_higher_one_is_still_delivered(postgres_platform: Platform) -> None:
    """PostgreSQL ids come from a sequence: the transaction holding id n may commit after n+1's."""
    engine = postgres_platform.container.engine
    recorder = _Recorder(engine, settle_s=0.0)
    slow, fast, rolled_back, last = (new_id() for _ in range(4))

    def add(conn: Any, event_id: str) -> int:
        return int(conn.execute(insert(t.outbox).values(**_row(event_id)).returning(t.outbox.c.id)).scalar_one())

    with engine.connect() as holding, engine.connect() as aborting:
        holding.begin()
        slow_id = add(holding, slow)  # takes the lower id, commits later
        with engine.begin() as conn:
            add(conn, fast)
        aborting.begin()
        aborted_id = add(aborting, rolled_back)  # takes an id, never commits
        with engine.begin() as conn:
            add(conn, last)
        recorder.follower.catch_up()
        assert recorder.seen == [fast, last]
        assert {slow_id, aborted_id} <= recorder.follower.holes
        holding.commit()
        recorder.follower.catch_up()
        assert recorder.seen == [fast, last, slow]
        assert slow_id not in recorder.follower.holes
        assert aborted_id in recorder.follower.holes  # its transaction is still open
        aborting.rollback()
    # It ended and its id never appeared: no longer waited for, once every transaction that was running on
    # the server when the hole was seen has ended (other databases' too: the horizon is the server's).
    deadline = time.monotonic() + 30
    while aborted_id in recorder.follower.holes and time.monotonic() < deadline:
        recorder.follower.catch_up()
        time.sleep(0.05)
    assert aborted_id not in recorder.follower.holes
    assert recorder.seen == [fast, last, slow]
    assert recorder.lost == 0


def test_an_id_invisible_for_too_long_drops_the_caches(postgres_platform: Platform) -> None:
    engine = postgres_platform.container.engine
    now = [0.0]
    recorder = _Recorder(engine, max_hole_s=30.0, monotonic=lambda: now[0])
    with engine.connect() as holding:
        holding.begin()
        held = holding.execute(insert(t.outbox).values(**_row(new_id())).returning(t.outbox.c.id)).scalar_one()
        _emit(engine, 1)
        recorder.follower.catch_up()
        assert held in recorder.follower.holes
        assert recorder.lost == 0
        now[0] = 31.0
        recorder.follower.catch_up()
        assert recorder.lost == 1
        holding.rollback()


def _recording(worker: Any, ticks: list[tuple[str, float]], name: str, attribute: str) -> None:
    def tick(*_: Any) -> None:
        ticks.append((name, time.monotonic()))

    setattr(worker, attribute, tick)


def test_one_process_runs_a_citys_dispatcher_and_another_takes_over_when_it_stops(platform: Platform) -> None:
    """Two processes' dispatchers for one city: one ticks; when it stops, the other takes the city over."""
    container = platform.container
    ticks: list[tuple[str, float]] = []
    leases = {name: build_leases(container.engine) for name in "ab"}
    workers = {}
    for name in "ab":
        worker = DispatchWorker(
            uow_factory=container.uow, cities=container.cities.get, city_ids=lambda: ["hangzhou"],
            clock=container.clock, tick_s=0.05, leases=leases[name],
        )  # fmt: skip
        _recording(worker, ticks, name, "tick_once")
        workers[name] = worker
    try:
        for worker in workers.values():
            worker.start()
        time.sleep(1.0)
        leaders = {name for name, _ in ticks}
        assert len(leaders) == 1, leaders
        (leader,) = leaders
        assert len(ticks) >= 5
        workers[leader].stop()
        leases[leader].release_all()  # as Container.close does
        stopped_at = time.monotonic()
        time.sleep(1.0)
        after = {name for name, at in ticks if at > stopped_at}
        assert after == set("ab") - {leader}
    finally:
        for name in "ab":
            workers[name].stop()
            leases[name].release_all()


def test_one_process_runs_the_consultation_matcher(platform: Platform) -> None:
    container = platform.container
    ticks: list[tuple[str, float]] = []
    workers = [
        OfferWorker(uow_factory=container.uow, tick_s=0.05, leases=build_leases(container.engine)) for _ in range(2)
    ]
    for name, worker in zip("ab", workers, strict=True):
        _recording(worker, ticks, name, "tick")
    try:
        for worker in workers:
            worker.start()
        time.sleep(1.0)
        assert len({name for name, _ in ticks}) == 1
        assert len(ticks) >= 5
    finally:
        for worker in workers:
            worker.stop()
            assert worker._leases is not None
            worker._leases.release_all()


def _socket_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """The process among ``pids`` holding the server side of the loopback connection from ``client_port``."""
    wanted = (f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}")
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == wanted:
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
        except OSError:  # the process ended, or a descriptor closed meanwhile
            continue
    return None


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="finds the answering process through /proc")
def test_run_with_two_workers_serves_from_both_processes(tmp_path: Path) -> None:
    port = free_port()
    env = server_env(tmp_path, port, free_port())
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "yaodao.cli", "run", "--workers", "2"], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 240
        owners: set[int] = set()
        connections: list[http.client.HTTPConnection] = []
        while time.monotonic() < deadline and server.poll() is None and len(owners) < 2:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/healthz")
                answer = conn.getresponse()
                body = answer.read().decode()
            except OSError:
                conn.close()
                time.sleep(0.3)
                continue
            assert answer.status == 200, body
            assert '"status":"ok"' in body
            connections.append(conn)  # kept open: the answering process still holds its end
            owner = _socket_owner(port, conn.sock.getsockname()[1], _children(server.pid))
            if owner is not None:
                owners.add(owner)
        for conn in connections:
            conn.close()
        assert len(owners) == 2, (owners, log.read_text()[-3000:])
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(30)
