"""A payment: the platform's record of one wallet trade for one order (its id is the out_trade_no)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class PaymentState(enum.StrEnum):
    PENDING = "pending"  # the wallet trade may still be paid
    PAID = "paid"  # the wallet confirmed it (a verified notification or a trade query)
    CLOSED = "closed"  # never paid, and the wallet trade is closed


@dataclass(slots=True)
class Payment:
    id: str
    order_id: str
    user_id: str
    city_id: str
    amount_fen: int
    state: PaymentState
    created_at: datetime
    trade_no: str | None = None
    buyer_id: str | None = None
    paid_at: datetime | None = None
    refunded_fen: int = 0
    version: int = 1
