"""The wallet provider port (Alipay-style) and the shapes that cross it.

Pure domain: the standard library and the kernel only. Amounts are integer fen; times are
timezone-aware. Adapters (``yaodao.adapters.wallet_client``) speak the wire format.

Errors split by what the caller should do next:

* ``ProviderUnavailable``: timeouts, 5xx, a response that cannot be trusted. The outcome is
  unknown; retry with the same ``out_trade_no`` / ``out_request_no`` or reconcile with ``query``.
* ``ProviderRefused``: a definite business answer (``code`` is the wallet's sub code, for example
  ``ACQ.REFUND_AMT_NOT_EQUAL_TOTAL`` when a refund would exceed what was paid). Retrying the same
  request gets the same answer.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from yaodao.kernel.clock import require_aware

# The wallet accepts merchant references of up to 64 letters, digits and '_' (and '-', '.', ':' in practice).
REFERENCE = re.compile(r"[A-Za-z0-9_.:-]{1,64}", re.ASCII)
MAX_TIMEOUT_MINUTES = 15 * 24 * 60  # the wallet closes unpaid trades after at most 15 days


class TradeStatus(enum.StrEnum):
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"  # created, not paid yet
    TRADE_SUCCESS = "TRADE_SUCCESS"  # paid; refunds are still possible
    TRADE_CLOSED = "TRADE_CLOSED"  # closed unpaid, timed out, or fully refunded
    TRADE_FINISHED = "TRADE_FINISHED"  # paid, and the refund period is over


@dataclass(frozen=True, slots=True)
class Trade:
    """What the wallet holds about one merchant order (``out_trade_no``)."""

    out_trade_no: str
    trade_no: str
    status: TradeStatus
    total_fen: int
    refunded_fen: int
    buyer_id: str | None
    paid_at: datetime | None

    def __post_init__(self) -> None:
        problems = _amount_problems(("total_fen", self.total_fen), ("refunded_fen", self.refunded_fen))
        if not problems and self.refunded_fen > self.total_fen:
            problems.append(("refunded_fen", "must not exceed total_fen"))
        if self.paid_at is not None:
            require_aware(self.paid_at)
        if problems:
            raise ValueError("; ".join(f"{f}: {m}" for f, m in problems))

    @property
    def is_paid(self) -> bool:
        """The buyer paid (later refunds do not undo that the money was captured)."""
        return self.paid_at is not None or self.status in (TradeStatus.TRADE_SUCCESS, TradeStatus.TRADE_FINISHED)


@dataclass(frozen=True, slots=True)
class RefundResult:
    """The wallet's answer to one refund request (``out_request_no``)."""

    out_request_no: str
    refund_fen: int  # this request's amount
    total_refunded_fen: int  # everything refunded on the trade as of this request
    fund_change: bool  # False when the wallet had already executed this out_request_no

    def __post_init__(self) -> None:
        problems = _amount_problems(("refund_fen", self.refund_fen), ("total_refunded_fen", self.total_refunded_fen))
        if not problems and self.refund_fen > self.total_refunded_fen:
            problems.append(("total_refunded_fen", "must include refund_fen"))
        if problems:
            raise ValueError("; ".join(f"{f}: {m}" for f, m in problems))


@dataclass(frozen=True, slots=True)
class WalletNotification:
    """A verified asynchronous notification. Duplicates are normal: the wallet resends with the same notify_id."""

    notify_id: str
    notify_time: datetime
    out_trade_no: str
    trade_no: str
    status: TradeStatus
    total_fen: int
    refund_fen: int  # everything refunded on the trade so far (the wallet's refund_fee)
    seller_id: str
    app_id: str
    buyer_id: str | None
    gmt_payment: datetime | None
    gmt_refund: datetime | None = None
    out_biz_no: str | None = None  # the refund's out_request_no, on refund notifications
    raw: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        problems = _amount_problems(("total_fen", self.total_fen), ("refund_fen", self.refund_fen))
        if not problems and self.refund_fen > self.total_fen:
            problems.append(("refund_fen", "must not exceed total_fen"))
        for name in ("notify_time", "gmt_payment", "gmt_refund"):
            value = getattr(self, name)
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                problems.append((name, "must be timezone-aware"))
        if problems:
            raise ValueError("; ".join(f"{f}: {m}" for f, m in problems))

    @property
    def transition(self) -> str:
        """What this notification reports, as a key for de-duplicating per ``out_trade_no``.

        ``paid`` for a payment, ``refund:<out_biz_no>`` for each refund, ``closed`` or ``finished``
        otherwise. A resend of the same notification gives the same key.
        """
        if self.out_biz_no:
            return f"refund:{self.out_biz_no}"
        if self.status is TradeStatus.TRADE_SUCCESS:
            return "paid"
        if self.status is TradeStatus.TRADE_CLOSED:
            return "closed"
        if self.status is TradeStatus.TRADE_FINISHED:
            return "finished"
        return "waiting"


class PaymentProvider(Protocol):
    """The wallet, as the platform's order service sees it."""

    def pay_url(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        return_url: str,
        timeout_minutes: int,
    ) -> str:
        """A signed URL that opens the wallet's pay page for this order; makes no network call."""
        ...

    def query(self, out_trade_no: str) -> Trade | None:
        """The wallet's record of the order, or None when the buyer never opened the pay page."""
        ...

    def close(self, out_trade_no: str) -> bool:
        """Close an unpaid trade: True when the wallet now holds it closed, False when it holds no such trade.

        A paid trade cannot be closed: ProviderRefused("ACQ.TRADE_STATUS_ERROR").
        """
        ...

    def refund(self, *, out_trade_no: str, out_request_no: str, amount_fen: int, reason: str) -> RefundResult:
        """Refund part or all of a paid trade. Retry with the *same* out_request_no: it executes at most once."""
        ...


class ProviderError(Exception):
    """Base of the wallet errors."""


class ProviderUnavailable(ProviderError):
    """The wallet did not give a trustworthy answer (timeout, 5xx, unverifiable response): retry or reconcile."""


class ProviderRefused(ProviderError):
    """The wallet refused the request for a business reason; ``code`` is its sub code."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


def check_reference(name: str, value: str) -> str:
    """Refuse a merchant reference (out_trade_no, out_request_no) the wallet would not accept."""
    if not isinstance(value, str) or not REFERENCE.fullmatch(value):
        raise ValueError(f"{name} must be 1-64 letters, digits or '_.:-', got {str(value)[:80]!r}")
    return value


def _amount_problems(*amounts: tuple[str, int]) -> list[tuple[str, str]]:
    return [
        (name, "must be an integer number of fen >= 0")
        for name, value in amounts
        if isinstance(value, bool) or not isinstance(value, int) or value < 0
    ]
