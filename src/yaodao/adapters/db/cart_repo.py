"""The cart table: one row per (account, product), written with an upsert on either engine."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from yaodao.adapters.db import tables as t
from yaodao.ordering.cart import CartItem


class CartRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def items(self, user_id: str) -> list[CartItem]:
        c = t.cart_items.c
        rows = self._conn.execute(
            select(t.cart_items).where(c.user_id == user_id).order_by(c.added_at, c.product_id)
        ).mappings()
        return [CartItem(r["product_id"], r["quantity"], r["prescription_id"], r["added_at"]) for r in rows]

    def put(self, user_id: str, product_id: str, quantity: int, prescription_id: str | None, now: datetime) -> None:
        """Add the line, or change its packs and prescription; a line keeps its first added_at."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(t.cart_items).values(
            user_id=user_id, product_id=product_id, quantity=quantity, prescription_id=prescription_id, added_at=now
        )
        self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "product_id"],
                set_={"quantity": quantity, "prescription_id": prescription_id},
            )
        )

    def remove(self, user_id: str, product_ids: list[str]) -> int:
        c = t.cart_items.c
        return self._conn.execute(
            delete(t.cart_items).where(c.user_id == user_id, c.product_id.in_(product_ids))
        ).rowcount
