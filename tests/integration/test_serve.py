"""`yaodao run` (what `make run` calls) migrates, seeds and serves a page and /healthz within 60 s."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from support import free_port, server_env


@pytest.mark.slow
def test_run_serves_the_pilot_city_within_60_seconds(tmp_path: Path) -> None:
    port, wallet_port = free_port(), free_port()
    env = server_env(tmp_path, port, wallet_port)
    log = tmp_path / "server.log"
    started = time.monotonic()
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "yaodao.cli", "run"], env=env, stdout=out, stderr=out)
    try:
        health = None
        while time.monotonic() - started < 60 and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    health = answer.read().decode()
                    break
            except OSError:
                time.sleep(0.3)
        elapsed = time.monotonic() - started
        assert health is not None, log.read_text()[-3000:]
        assert '"status":"ok"' in health
        assert elapsed < 60
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
            html = page.read().decode()
        assert "杭州" in html
        assert "家24小时" in html
        with urllib.request.urlopen(f"http://127.0.0.1:{wallet_port}/healthz", timeout=5) as answer:
            assert '"status":"ok"' in answer.read().decode()  # the sandbox wallet serves beside it
    finally:
        server.terminate()
        server.wait(10)
