"""Money is integer fen (分) from end to end; formatting happens only at the edge."""

from __future__ import annotations

from typing import NewType

Fen = NewType("Fen", int)

MAX_PRICE_FEN = 100_000_000  # ¥1,000,000: far above any pack a pharmacy sells


def fen(value: int) -> Fen:
    """Return ``value`` as Fen, refusing floats and booleans (a float is never money here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"money must be an integer number of fen, got {type(value).__name__}")
    return Fen(value)


def format_yuan(amount: int) -> str:
    """Format fen as yuan for display: 2580 -> '¥25.80', -5 -> '-¥0.05'."""
    sign = "-" if amount < 0 else ""
    yuan, cents = divmod(abs(amount), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"
