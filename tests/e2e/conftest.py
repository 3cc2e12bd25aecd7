"""Browser tests: Playwright driving Debian's Chromium against a live, seeded server on loopback.

Never `playwright install`: the browser is /usr/bin/chromium from Debian. Locally these tests
skip when it is absent; with CI=true they fail instead. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from support import Platform, build_platform, free_port
from yaodao.kernel.clock import SystemClock
from yaodao.wallet_sandbox.app import create_sandbox_app
from yaodao.wallet_sandbox.config import DATABASE_FILE, load_config
from yaodao.wallet_sandbox.store import SandboxStore

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    built = build_platform(f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'yaodao.db'}")
    yield built
    built.container.close()


def _serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, thread


@pytest.fixture(scope="session")
def live_server(platform: Platform) -> Iterator[str]:
    """The platform on loopback, with the sandbox wallet beside it on a port of its own (as `make run` has it):
    the platform's pay pages lead there, and the wallet sends buyers and notifications back here."""
    port, wallet_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    container = platform.container
    container.settings = container.settings.model_copy(
        update={"public_base_url": base, "wallet_gateway_url": f"http://127.0.0.1:{wallet_port}/gateway.do"}
    )
    container.extras.pop("payments", None)
    container.payments()  # the wallet's keys and the platform's app, in the wallet folder
    folder = container.settings.wallet_data_dir
    store = SandboxStore(folder / DATABASE_FILE)
    wallet = create_sandbox_app(load_config(folder), clock=SystemClock(), store=store, background=True)
    app = platform.client.app
    servers = [_serve(wallet, wallet_port), _serve(app, port)]
    yield base
    for server, thread in reversed(servers):
        server.should_exit = True
        thread.join(5)
    store.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is required in CI (.ci/run installs it)")
        pytest.skip("no /usr/bin/chromium on this machine (apt-get install chromium fonts-wqy-microhei)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 412, "height": 915}, locale="zh-CN")
    opened = context.new_page()
    yield opened
    context.close()
