"""Orders, their lines and stock reservations, e-prescriptions and restricted-ingredient counters, in SQL.

Every write that guards a limit is one conditional statement, so it holds under concurrency on
both engines (PostgreSQL re-checks a waiting UPDATE's WHERE on the committed row; SQLite
serialises writers with BEGIN IMMEDIATE): stock is reserved with ``quantity - reserved >= n``, a
prescription filled with ``fills_used < fills_allowed`` inside its validity, a counter raised only
while it stays within its limit, and an order saved only at the version it was read at.

The statements a paid order runs are built once, at import, with bound parameters: building a
SQLAlchemy statement and its cache key costs more CPU than PostgreSQL spends running it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Executable, RowMapping, Table, and_, bindparam, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from yaodao.adapters.db import tables as t
from yaodao.catalog.model import DrugClass
from yaodao.kernel.errors import Conflict
from yaodao.kernel.paging import Page, PageRequest
from yaodao.ordering.model import ActorRole, AddressSnapshot, Fulfilment, Order, OrderLine, OrderStatus
from yaodao.ordering.prescriptions import (
    ChecklistItem,
    Finding,
    PrescribedItem,
    Prescription,
    Review,
    ReviewResult,
    ReviewState,
)
from yaodao.ordering.pricing import PriceBreakdown


class InsufficientStock(Conflict):
    code = "insufficient_stock"


_ORDER_BY_ID = select(t.orders).where(t.orders.c.id == bindparam("order_id"))
_LINES_OF_ORDER = (
    select(t.order_lines).where(t.order_lines.c.order_id == bindparam("order_id")).order_by(t.order_lines.c.line_no)
)
_INSERT_ORDER = insert(t.orders)
_INSERT_LINES = insert(t.order_lines)
# The bound names differ from the columns': an UPDATE's own column parameters carry the new values.
_SAVE_ORDER = update(t.orders).where(
    t.orders.c.id == bindparam("where_id"), t.orders.c.version == bindparam("where_version")
)
_s = t.stock_levels.c
_RESERVE = (
    update(t.stock_levels)
    .where(
        _s.pharmacy_id == bindparam("where_pharmacy"),
        _s.product_id == bindparam("where_product"),
        _s.quantity - _s.reserved >= bindparam("packs"),
    )
    .values(
        reserved=_s.reserved + bindparam("packs"),
        version=_s.version + 1,
        updated_at=bindparam("now", type_=_s.updated_at.type),
    )
    .returning(_s.quantity - _s.reserved)
)


class OrderRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self, order: Order, *, gate: Mapping[str, Any], risk_acknowledged_at: datetime | None, now: datetime
    ) -> None:
        self._conn.execute(
            _INSERT_ORDER,
            {
                **_order_values(order), "gate": dict(gate), "rx_risk_acknowledged_at": risk_acknowledged_at,
                "stock_state": "reserved", "created_at": now, "updated_at": now,
            },
        )  # fmt: skip
        self._conn.execute(
            _INSERT_LINES,
            [
                {
                    "order_id": order.id, "line_no": n, "product_id": line.product_id, "sku": line.sku,
                    "name": line.name, "drug_class": line.drug_class.value, "quantity": line.quantity,
                    "unit_price_fen": line.unit_price_fen, "line_total_fen": line.line_total_fen,
                    "prescription_id": line.prescription_id,
                }
                for n, line in enumerate(order.lines)
            ],
        )  # fmt: skip

    def get(self, order_id: str) -> Order | None:
        row = self._conn.execute(_ORDER_BY_ID, {"order_id": order_id}).first()
        if row is None:
            return None
        lines = tuple(_line(r) for r in self._conn.execute(_LINES_OF_ORDER, {"order_id": order_id}))
        return _order(row._mapping, lines)

    def save(self, order: Order, expected_version: int, now: datetime) -> None:
        """Write the order's new state if nobody changed it since it was read at ``expected_version``."""
        done = self._conn.execute(
            _SAVE_ORDER,
            {**_order_values(order), "updated_at": now, "where_id": order.id, "where_version": expected_version},
        ).rowcount
        if done != 1:
            raise Conflict(f"order {order.id} changed while this request was handling it; try again")

    def stock_state(self, order_id: str) -> str | None:
        value = self._conn.execute(select(t.orders.c.stock_state).where(t.orders.c.id == order_id)).scalar()
        return None if value is None else str(value)

    def move_stock_state(self, order_id: str, from_state: str, to_state: str) -> bool:
        """Move the order's reservation from one state to the next once (released or consumed)."""
        return (
            self._conn.execute(
                update(t.orders)
                .where(t.orders.c.id == order_id, t.orders.c.stock_state == from_state)
                .values(stock_state=to_state)
            ).rowcount
            == 1
        )

    def gate(self, order_id: str) -> dict[str, Any]:
        value = self._conn.execute(select(t.orders.c.gate).where(t.orders.c.id == order_id)).scalar()
        return dict(value or {})

    def list_for_user(self, user_id: str, page: PageRequest) -> Page[Order]:
        return self._page(t.orders.c.user_id == user_id, page)

    def list_for_pharmacy(self, pharmacy_id: str, statuses: Sequence[OrderStatus], page: PageRequest) -> Page[Order]:
        return self._page(
            and_(t.orders.c.pharmacy_id == pharmacy_id, t.orders.c.status.in_([s.value for s in statuses])), page
        )

    def expired_unpaid(self, now: datetime, limit: int = 100) -> list[str]:
        rows = self._conn.execute(
            select(t.orders.c.id)
            .where(
                t.orders.c.status.in_([OrderStatus.CREATED.value, OrderStatus.AWAITING_PAYMENT.value]),
                t.orders.c.expires_at <= now,
            )
            .order_by(t.orders.c.expires_at)
            .limit(limit)
        ).scalars()
        return [str(r) for r in rows]

    def _page(self, where: Any, page: PageRequest) -> Page[Order]:
        total = int(self._conn.execute(select(func.count()).select_from(t.orders).where(where)).scalar_one())
        rows = self._conn.execute(
            select(t.orders)
            .where(where)
            .order_by(t.orders.c.created_at.desc(), t.orders.c.id)
            .limit(page.page_size)
            .offset(page.offset)
        ).all()
        return Page(self._load([r._mapping for r in rows]), total, page.page, page.page_size)

    def _load(self, rows: Sequence[RowMapping]) -> list[Order]:
        if not rows:
            return []
        lines: dict[str, list[OrderLine]] = {}
        for r in self._conn.execute(
            select(t.order_lines)
            .where(t.order_lines.c.order_id.in_([row["id"] for row in rows]))
            .order_by(t.order_lines.c.order_id, t.order_lines.c.line_no)
        ):
            lines.setdefault(r.order_id, []).append(_line(r))
        return [_order(row, tuple(lines.get(row["id"], ()))) for row in rows]


def _line(r: Any) -> OrderLine:
    return OrderLine(
        product_id=r.product_id, sku=r.sku, name=r.name, drug_class=DrugClass(r.drug_class), quantity=r.quantity,
        unit_price_fen=int(r.unit_price_fen), line_total_fen=int(r.line_total_fen), prescription_id=r.prescription_id,
    )  # fmt: skip


def _order_values(order: Order) -> dict[str, Any]:
    price = order.price
    approved = order.review if order.review is not None and order.review.result is ReviewResult.APPROVE else None
    return {
        "id": order.id, "city_id": order.city_id, "user_id": order.user_id, "patient_id": order.patient_id,
        "pharmacy_id": order.pharmacy_id, "status": order.status.value, "fulfilment": order.fulfilment.value,
        "address_lat": order.address.lat if order.address else None,
        "address_lng": order.address.lng if order.address else None,
        "address_text": order.address.text if order.address else None,
        "promise_minutes": order.promise_minutes, "quoted_eta_minutes": order.quoted_eta_minutes,
        "expires_at": order.expires_at, "rules_version": price.rules_version,
        "items_subtotal_fen": price.items_subtotal_fen, "discount_fen": price.discount_fen,
        "delivery_fee_fen": price.delivery_fee_fen, "night_surcharge_fen": price.night_surcharge_fen,
        "packaging_fee_fen": price.packaging_fee_fen, "total_fen": price.total_fen, "insured_fen": price.insured_fen,
        "self_paid_fen": price.self_paid_fen, "non_reimbursable_fen": price.non_reimbursable_fen,
        "has_rx": order.has_rx, "holds": [_finding_json(h) for h in order.holds],
        "review": None if order.review is None else _review_json(order.review),
        "approved_by": approved.pharmacist_id if approved else None, "approved_at": approved.at if approved else None,
        "payment_ref": order.payment_ref, "paid_fen": order.paid_fen, "refunded_fen": order.refunded_fen,
        "cancel_reason": order.cancel_reason, "reject_reason": order.reject_reason,
        "failure_reason": order.failure_reason, "closed_by": order.closed_by.value if order.closed_by else None,
        "entered_at": {status.value: at.isoformat() for status, at in order.entered_at.items()},
        "version": order.version,
    }  # fmt: skip


def _order(row: RowMapping, lines: tuple[OrderLine, ...]) -> Order:
    address = (
        AddressSnapshot(lat=row["address_lat"], lng=row["address_lng"], text=row["address_text"] or "")
        if row["address_lat"] is not None
        else None
    )
    price = PriceBreakdown(
        rules_version=row["rules_version"], items_subtotal_fen=int(row["items_subtotal_fen"]),
        discount_fen=int(row["discount_fen"]), delivery_fee_fen=int(row["delivery_fee_fen"]),
        night_surcharge_fen=int(row["night_surcharge_fen"]), packaging_fee_fen=int(row["packaging_fee_fen"]),
        total_fen=int(row["total_fen"]), insured_fen=int(row["insured_fen"]), self_paid_fen=int(row["self_paid_fen"]),
        non_reimbursable_fen=int(row["non_reimbursable_fen"]),
    )  # fmt: skip
    return Order(
        id=row["id"], city_id=row["city_id"], user_id=row["user_id"], patient_id=row["patient_id"],
        pharmacy_id=row["pharmacy_id"], lines=lines, price=price, fulfilment=Fulfilment(row["fulfilment"]),
        address=address, promise_minutes=row["promise_minutes"], quoted_eta_minutes=row["quoted_eta_minutes"],
        expires_at=row["expires_at"], status=OrderStatus(row["status"]),
        holds=tuple(_finding(h) for h in row["holds"]),
        review=None if row["review"] is None else _review(row["review"]),
        payment_ref=row["payment_ref"], paid_fen=int(row["paid_fen"]), refunded_fen=int(row["refunded_fen"]),
        cancel_reason=row["cancel_reason"], reject_reason=row["reject_reason"], failure_reason=row["failure_reason"],
        closed_by=ActorRole(row["closed_by"]) if row["closed_by"] else None,
        entered_at={OrderStatus(k): datetime.fromisoformat(v) for k, v in row["entered_at"].items()},
        version=row["version"],
    )  # fmt: skip


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code, "message": f.message, "product_id": f.product_id, "subject": f.subject,
        "severity": f.severity, "rule": f.rule,
    }  # fmt: skip


def _finding(data: Mapping[str, Any]) -> Finding:
    return Finding(
        code=data["code"], message=data["message"], product_id=data.get("product_id"), subject=data.get("subject", ""),
        severity=data.get("severity"), rule=data.get("rule"),
    )  # fmt: skip


def _review_json(r: Review) -> dict[str, Any]:
    return {
        "result": r.result.value, "checklist": {k.value: v for k, v in r.checklist.items()}, "reason": r.reason,
        "pharmacist_id": r.pharmacist_id, "at": r.at.isoformat(), "resolutions": dict(r.resolutions),
        "second_pharmacist_id": r.second_pharmacist_id, "source": r.source,
    }  # fmt: skip


def _review(data: Mapping[str, Any]) -> Review:
    return Review(
        result=ReviewResult(data["result"]),
        checklist={ChecklistItem(k): v for k, v in data["checklist"].items()},
        reason=data["reason"], pharmacist_id=data["pharmacist_id"], at=datetime.fromisoformat(data["at"]),
        resolutions=dict(data.get("resolutions") or {}), second_pharmacist_id=data.get("second_pharmacist_id"),
        source=data.get("source", ""),
    )  # fmt: skip


class ReservationRepository:
    """Stock held for orders: ``reserved`` rises at checkout and falls when the order lets go or ships."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def reserve(self, pharmacy_id: str, lines: Sequence[tuple[str, int]], now: datetime) -> dict[str, int]:
        """Hold ``packs`` of each product, in product order (no deadlocks); all or nothing.

        Returns the packs left available per product. Raises InsufficientStock naming the first
        product short; the caller's transaction then rolls every earlier hold back.
        """
        left: dict[str, int] = {}
        for product_id, packs in sorted(lines):
            done = self._conn.execute(
                _RESERVE, {"where_pharmacy": pharmacy_id, "where_product": product_id, "packs": packs, "now": now}
            ).scalar()
            if done is None:
                raise InsufficientStock(
                    f"product {product_id} is no longer in stock at pharmacy {pharmacy_id} in that quantity",
                    field="lines",
                )
            left[product_id] = int(done)
        return left

    def release(self, pharmacy_id: str, lines: Sequence[tuple[str, int]], now: datetime) -> dict[str, int]:
        """Let go of held packs (an order cancelled or expired); returns the packs now available."""
        return self._apply(pharmacy_id, lines, now, quantity_delta=0)

    def consume(self, pharmacy_id: str, lines: Sequence[tuple[str, int]], now: datetime) -> dict[str, int]:
        """The held packs leave the shelf (the pharmacy accepted the order): on hand and held both fall."""
        return self._apply(pharmacy_id, lines, now, quantity_delta=-1)

    def _apply(
        self, pharmacy_id: str, lines: Sequence[tuple[str, int]], now: datetime, *, quantity_delta: int
    ) -> dict[str, int]:
        left: dict[str, int] = {}
        s = t.stock_levels.c
        for product_id, packs in sorted(lines):
            value = self._conn.execute(
                update(t.stock_levels)
                .where(s.pharmacy_id == pharmacy_id, s.product_id == product_id, s.reserved >= packs)
                .values(
                    reserved=s.reserved - packs,
                    quantity=s.quantity + quantity_delta * packs,
                    version=s.version + 1,
                    updated_at=now,
                )
                .returning(s.quantity - s.reserved)
            ).scalar()
            if value is None:
                raise Conflict(f"pharmacy {pharmacy_id} holds fewer packs of {product_id} than this order reserved")
            left[product_id] = int(value)
        return left


class PrescriptionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, rx: Prescription, now: datetime) -> None:
        self._conn.execute(insert(t.prescriptions).values(**_rx_values(rx), created_at=now))

    def get(self, rx_id: str) -> Prescription | None:
        row = self._conn.execute(select(t.prescriptions).where(t.prescriptions.c.id == rx_id)).first()
        return None if row is None else _rx(row._mapping)

    def get_many(self, ids: Sequence[str]) -> dict[str, Prescription]:
        if not ids:
            return {}
        rows = self._conn.execute(select(t.prescriptions).where(t.prescriptions.c.id.in_(list(ids)))).all()
        return {r.id: _rx(r._mapping) for r in rows}

    def list_for_patients(self, patient_ids: Sequence[str], page: PageRequest) -> Page[Prescription]:
        where = t.prescriptions.c.patient_id.in_(list(patient_ids))
        total = int(self._conn.execute(select(func.count()).select_from(t.prescriptions).where(where)).scalar_one())
        rows = self._conn.execute(
            select(t.prescriptions)
            .where(where)
            .order_by(t.prescriptions.c.issued_at.desc(), t.prescriptions.c.id)
            .limit(page.page_size)
            .offset(page.offset)
        ).all()
        return Page([_rx(r._mapping) for r in rows], total, page.page, page.page_size)

    def fill(self, rx_id: str, at: datetime) -> bool:
        """Count one fill if one is left and the prescription is valid at ``at`` (RELIABILITY I11)."""
        c = t.prescriptions.c
        return (
            self._conn.execute(
                update(t.prescriptions)
                .where(
                    c.id == rx_id,
                    c.fills_used < c.fills_allowed,
                    c.issued_at <= at,
                    c.valid_until > at,
                    c.review_state != ReviewState.REJECTED.value,
                )
                .values(
                    fills_used=c.fills_used + 1,
                    used_at=case((c.fills_used + 1 == c.fills_allowed, at), else_=c.used_at),
                    version=c.version + 1,
                )
            ).rowcount
            == 1
        )

    def unfill(self, rx_id: str) -> bool:
        """Give a fill back (its order was never paid): the used mark goes when no fill is left counted."""
        c = t.prescriptions.c
        return (
            self._conn.execute(
                update(t.prescriptions)
                .where(c.id == rx_id, c.fills_used > 0)
                .values(fills_used=c.fills_used - 1, used_at=None, version=c.version + 1)
            ).rowcount
            == 1
        )


def _rx_values(rx: Prescription) -> dict[str, Any]:
    return {
        "id": rx.id, "patient_id": rx.patient_id, "doctor_id": rx.doctor_id, "issued_at": rx.issued_at,
        "valid_until": rx.valid_until,
        "items": [
            {"drug": i.drug, "quantity_packs": i.quantity_packs, "dose_text": i.dose_text, "days_supply": i.days_supply,
             "product_id": i.product_id, "dosage_form": i.dosage_form}
            for i in rx.items
        ],
        "fills_allowed": rx.fills_allowed, "fills_used": rx.fills_used, "used_at": rx.used_at,
        "review_state": rx.review_state.value, "reviewed_by": rx.reviewed_by, "reviewed_at": rx.reviewed_at,
        "kb_version": rx.kb_version, "signature": rx.signature, "first_visit": rx.first_visit,
        "emergency": rx.emergency, "long_term_weeks": rx.long_term_weeks, "long_supply_reason": rx.long_supply_reason,
        "version": rx.version,
    }  # fmt: skip


def _rx(row: RowMapping) -> Prescription:
    return Prescription(
        id=row["id"], patient_id=row["patient_id"], doctor_id=row["doctor_id"], issued_at=row["issued_at"],
        valid_until=row["valid_until"],
        items=tuple(
            PrescribedItem(drug=i["drug"], quantity_packs=i["quantity_packs"], dose_text=i["dose_text"],
                           days_supply=i["days_supply"], product_id=i.get("product_id"),
                           dosage_form=i.get("dosage_form"))
            for i in row["items"]
        ),
        fills_allowed=row["fills_allowed"], fills_used=row["fills_used"], used_at=row["used_at"],
        review_state=ReviewState(row["review_state"]), reviewed_by=row["reviewed_by"],
        reviewed_at=row["reviewed_at"], kb_version=row["kb_version"], signature=row["signature"],
        first_visit=row["first_visit"], emergency=row["emergency"], long_term_weeks=row["long_term_weeks"],
        long_supply_reason=row["long_supply_reason"], version=row["version"],
    )  # fmt: skip


class RestrictedUsageRepository:
    """Per (real-name identity, counter, window start) rows that purchases add to (ordering/limits.py)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def read(self, identity_key: str, counters: Sequence[tuple[str, date]]) -> dict[tuple[str, date], tuple[int, int]]:
        if not counters:
            return {}
        c = t.restricted_usage.c
        rows = self._conn.execute(
            select(c.counter, c.window_start, c.packs, c.mg).where(
                c.identity_key == identity_key, c.counter.in_(sorted({k for k, _ in counters}))
            )
        ).all()
        wanted = set(counters)
        return {
            (r.counter, r.window_start): (int(r.packs), int(r.mg))
            for r in rows
            if (r.counter, r.window_start) in wanted
        }

    def add(
        self, identity_key: str, counter: str, window_start: date, packs: int, mg: int, *,
        max_packs: int | None, max_mg: int | None,
    ) -> bool:  # fmt: skip
        """Add one purchase to one counter row if it stays within its limits; False when it would not."""
        c = t.restricted_usage.c
        key = {"identity_key": identity_key, "counter": counter, "window_start": window_start}
        insert_ignore(self._conn, t.restricted_usage, {**key, "packs": 0, "mg": 0})
        conditions = [getattr(c, k) == v for k, v in key.items()]
        if max_packs is not None:
            conditions.append(c.packs + packs <= max_packs)
        if max_mg is not None:
            conditions.append(c.mg + mg <= max_mg)
        return (
            self._conn.execute(
                update(t.restricted_usage).where(*conditions).values(packs=c.packs + packs, mg=c.mg + mg)
            ).rowcount
            == 1
        )

    def subtract(self, identity_key: str, counter: str, window_start: date, packs: int, mg: int) -> None:
        c = t.restricted_usage.c
        self._conn.execute(
            update(t.restricted_usage)
            .where(c.identity_key == identity_key, c.counter == counter, c.window_start == window_start)
            .values(packs=c.packs - packs, mg=c.mg - mg)
        )


def insert_ignore(conn: Connection, table: Table, values: Mapping[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on either engine; True when the row was new."""
    statement = _INSERT_IGNORE.get((conn.dialect.name, table.name))
    if statement is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        key = next(iter(table.primary_key.columns))
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT run this way.
        statement = _INSERT_IGNORE[(conn.dialect.name, table.name)] = (
            dialect.insert(table).on_conflict_do_nothing().returning(key)
        )
    return conn.execute(statement, dict(values)).first() is not None


_INSERT_IGNORE: dict[tuple[str, str], Executable] = {}  # built once per engine kind and table
