"""Delivering notifications the way the wallet does: resent until the reply body is exactly ``success``.

The first attempt is due at once; after each failure the next waits 2 min, 10 min, 10 min, 1 h,
2 h, 6 h and 15 h (about 24 h 22 min in all), so a receiver that never answers ``success`` sees
8 attempts, every one with the same notify_id and the same signed parameters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import httpx2
import structlog

from yaodao.kernel.clock import Clock
from yaodao.wallet_sandbox.store import SandboxStore

log = structlog.get_logger(__name__)

RETRY_DELAYS = tuple(timedelta(minutes=m) for m in (2, 10, 10, 60, 120, 360, 900))  # waits after attempts 1..7
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
ACKNOWLEDGED = "success"

# (notify_url, form parameters) -> (HTTP status, reply body); raising counts as a failed attempt.
HttpPost = Callable[[str, Mapping[str, str]], tuple[int, str]]


def post_form(url: str, params: Mapping[str, str], *, timeout_s: float = 10.0) -> tuple[int, str]:
    """POST the parameters form-encoded, as the wallet does."""
    response = httpx2.post(url, data=dict(params), timeout=timeout_s)
    return response.status_code, response.text


class Notifier:
    """Sends due notifications from the store; ``deliver_due`` is one pass, ``start`` runs passes in a thread."""

    def __init__(self, store: SandboxStore, *, clock: Clock, http_post: HttpPost | None = None) -> None:
        self._store = store
        self._clock = clock
        self._post: HttpPost = http_post or post_form
        self._pass = threading.Lock()  # one pass at a time: an attempt is never sent twice by two passes
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def deliver_due(self, now: datetime) -> int:
        """Attempt every notification due at ``now``; returns how many attempts were made."""
        attempts = 0
        with self._pass:
            for note in self._store.due_notifications(now):
                try:
                    status, body = self._post(note.notify_url, note.params)
                    delivered = 200 <= status < 300 and body == ACKNOWLEDGED
                    error = "" if delivered else f"HTTP {status}: {body[:200]!r}"
                except Exception as exc:  # any failure to deliver is one failed attempt, never a crash
                    delivered, error = False, f"{type(exc).__name__}: {exc}"
                made = note.attempts + 1
                next_at = None if delivered or made >= MAX_ATTEMPTS else now + RETRY_DELAYS[made - 1]
                self._store.record_attempt(
                    note.notify_id, at=now, delivered=delivered, next_attempt_at=next_at, error=error
                )
                attempts += 1
                if not delivered:
                    log.info("wallet_notification_failed", notify_id=note.notify_id, attempt=made, error=error)
        return attempts

    def start(self, interval_s: float = 1.0) -> None:
        """Run a pass every ``interval_s`` seconds in a daemon thread until ``stop``."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.deliver_due(self._clock.now())
                except Exception:  # keep delivering after a transient store error
                    log.exception("wallet_notifier_pass_failed")
                self._wake.wait(interval_s)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="wallet-notifier", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run the next pass now rather than at the next tick (a notification was just queued)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None
