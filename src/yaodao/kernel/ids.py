"""Identifiers: UUIDv7 strings, time-ordered for index locality."""

from __future__ import annotations

import threading

import uuid_utils

# The generator keeps monotonic state in native code; many threads minting ids at once (50 checkouts
# racing for one prescription) brought the process down with an abort, so one thread at a time.
_MINT = threading.Lock()


def new_id() -> str:
    with _MINT:
        value = uuid_utils.uuid7()
    return str(value)
