"""Identifiers: UUIDv7 strings, time-ordered for index locality."""

from __future__ import annotations

import uuid_utils


def new_id() -> str:
    return str(uuid_utils.uuid7())
