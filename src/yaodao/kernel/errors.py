"""Errors the domain raises; the web edge maps each kind to an HTTP status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of all expected, user-facing failures."""

    code = "domain_error"
    extra: dict[str, Any] | None = None  # structured members the problem document carries besides the message

    def __init__(self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if extra is not None:
            self.extra = extra


class ValidationFailed(DomainError):
    """Input is well-formed but breaks a rule (HTTP 422)."""

    code = "validation_failed"

    def __init__(self, message: str, *, field: str | None = None, errors: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message, field=field)
        self.errors: list[tuple[str, str]] = errors if errors is not None else [(field or "", message)]


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class PermissionDenied(DomainError):
    code = "forbidden"


class NotAuthenticated(DomainError):
    code = "not_authenticated"


class TooManyRequests(DomainError):
    code = "too_many_requests"
