"""The live matcher: one background loop running ``offer_services.match_once`` every ``tick_s`` seconds.

``tick`` is one pass (a write transaction of its own), callable from tests and tools; ``OfferWorker``
runs it in one thread until ``stop()``. A pass that raises is logged and the loop goes on.

The matcher is one across regions, so with several server processes it runs in one of them: each
pass first asks the ``Leases`` for ``consult-offers`` and is skipped while another process holds it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from yaodao.adapters.db.leases import Leases
from yaodao.adapters.db.uow import UnitOfWork
from yaodao.care.offer_services import MatchSummary, match_once
from yaodao.care.offers import OfferParams

log = structlog.get_logger(__name__)

UowFactory = Callable[..., UnitOfWork]
LEASE = "consult-offers"


def tick(*, uow_factory: UowFactory, params: OfferParams | None = None) -> MatchSummary:
    """One pass of the matcher: lapse and withdraw open offers, then offer what waits without one."""
    summary = match_once(uow=uow_factory(), params=params)
    if summary.made or summary.lapsed or summary.withdrawn:
        log.info("offer_tick", made=len(summary.made), lapsed=len(summary.lapsed), withdrawn=len(summary.withdrawn))
    return summary


class OfferWorker:
    """One background loop, ticking every ``tick_s`` seconds until ``stop()``."""

    def __init__(
        self,
        *,
        uow_factory: UowFactory,
        tick_s: float = 5.0,
        params: OfferParams | None = None,
        leases: Leases | None = None,
    ) -> None:
        self._uow = uow_factory
        self._leases = leases  # None: this process runs the matcher
        self._tick_s = tick_s
        self._params = params or OfferParams()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> MatchSummary:
        return tick(uow_factory=self._uow, params=self._params)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="consult-offers", daemon=True)
        self._thread.start()
        log.info("offers_started", tick_s=self._tick_s, offer_seconds=self._params.offer_seconds)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._leases is None or self._leases.hold(LEASE):
                    self.tick()
            except Exception:  # one bad pass must not stop the matcher
                log.exception("offer_tick_failed")
            self._stop.wait(self._tick_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
