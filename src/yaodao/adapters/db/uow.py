"""The unit of work: one transaction, its repositories, and the events it will publish.

Events go to the outbox table inside the same transaction as the change they describe;
the relay publishes them only after commit (see ``outbox.py``).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, insert

from yaodao.accounts.model import AuditRecord
from yaodao.adapters.db import tables as t
from yaodao.adapters.db.accounts_repo import (
    AddressRepository,
    AuditRepository,
    FamilyRepository,
    TokenRepository,
    UserRepository,
)
from yaodao.adapters.db.care_repo import ConsultationRepository, DoctorRepository
from yaodao.adapters.db.cart_repo import CartRepository
from yaodao.adapters.db.catalog_repo import CityRepository, PharmacyRepository, ProductRepository, StockRepository
from yaodao.adapters.db.claims_repo import ClaimRepository
from yaodao.adapters.db.delivery_repo import CourierEventRepository, CourierRepository, DeliveryRepository
from yaodao.adapters.db.dispatch_repo import DispatchRepository
from yaodao.adapters.db.engine import READ_ONLY
from yaodao.adapters.db.ledger_repo import LedgerRepository
from yaodao.adapters.db.orders_repo import (
    OrderRepository,
    PrescriptionRepository,
    ReservationRepository,
    RestrictedUsageRepository,
)
from yaodao.adapters.db.payments_repo import IdempotencyRepository, PaymentRepository
from yaodao.adapters.db.refunds_repo import RefundRepository
from yaodao.adapters.db.roster_repo import OfferRepository, RosterRepository
from yaodao.kernel.clock import Clock
from yaodao.kernel.events import Event

_INSERT_OUTBOX = insert(t.outbox)  # built once: a statement costs more CPU to build than to run


class UnitOfWork:
    conn: Connection
    products: ProductRepository
    pharmacies: PharmacyRepository
    stock: StockRepository
    cities: CityRepository
    users: UserRepository
    tokens: TokenRepository
    family: FamilyRepository
    addresses: AddressRepository
    audit_log: AuditRepository
    orders: OrderRepository
    carts: CartRepository
    reservations: ReservationRepository
    prescriptions: PrescriptionRepository
    restricted: RestrictedUsageRepository
    ledger: LedgerRepository
    payments: PaymentRepository
    idempotency: IdempotencyRepository
    doctors: DoctorRepository
    consultations: ConsultationRepository
    refunds: RefundRepository
    claims: ClaimRepository
    couriers: CourierRepository
    deliveries: DeliveryRepository
    courier_events: CourierEventRepository
    dispatch: DispatchRepository
    rosters: RosterRepository
    offers: OfferRepository

    def __init__(
        self, engine: Engine, clock: Clock, *, read_only: bool = False, after_commit: Callable[[], None] | None = None
    ) -> None:
        self._engine = engine
        self.clock = clock
        self._read_only = read_only
        self._after_commit = after_commit
        self._events: list[Event] = []
        self._committed = False
        self._separate_audits: list[AuditRecord] = []

    def __enter__(self) -> UnitOfWork:
        self.conn = self._engine.connect()
        if self._read_only:
            self.conn.info[READ_ONLY] = True
        self._tx = self.conn.begin()
        return self

    def __getattr__(self, name: str) -> Any:
        """Repositories are made on first use in each transaction: most requests touch two or three."""
        factory = _REPOSITORIES.get(name)
        if factory is None or "conn" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        repository = factory(self.conn)
        self.__dict__[name] = repository
        return repository

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for name in _REPOSITORIES:
            self.__dict__.pop(name, None)  # bound to this transaction's connection
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self.conn.info.pop(READ_ONLY, None)
            self.conn.close()
        if self._separate_audits:
            # Written once this transaction is over: SQLite allows one writer, and the record
            # must survive the rollback of the request it describes.
            records, self._separate_audits = self._separate_audits, []
            with self._engine.begin() as conn:
                repo = AuditRepository(conn)
                for record in records:
                    repo.append(record)

    def emit(self, event: Event) -> None:
        self._events.append(event)

    def audit(self, record: AuditRecord) -> None:
        """Audit inside this transaction: the record stands or falls with the change it describes."""
        self.audit_log.append(record)

    def audit_now(self, record: AuditRecord) -> None:
        """Audit in a transaction of its own, e.g. a denied access whose request will roll back.

        The record is written when this unit of work ends, whether it commits or not.
        """
        self._separate_audits.append(record)

    def commit(self) -> None:
        if self._events:
            now = self.clock.now()
            self.conn.execute(
                _INSERT_OUTBOX,
                [
                    {
                        "event_id": e.event_id,
                        "topic": e.topic,
                        "city_id": e.city_id,
                        "payload": _json_ready(e.payload()),
                        "created_at": now,
                        "attempts": 0,
                    }
                    for e in self._events
                ],
            )
        self._tx.commit()
        self._committed = True
        had_events = bool(self._events)
        self._events.clear()
        if had_events and self._after_commit is not None:
            self._after_commit()

    def rollback(self) -> None:
        self._tx.rollback()
        self._events.clear()


UowFactory = Callable[..., UnitOfWork]

# Each repository by the attribute that names it (see ``UnitOfWork.__getattr__``).
_REPOSITORIES: dict[str, Callable[[Connection], Any]] = {
    "products": ProductRepository,
    "pharmacies": PharmacyRepository,
    "stock": StockRepository,
    "cities": CityRepository,
    "users": UserRepository,
    "tokens": TokenRepository,
    "family": FamilyRepository,
    "addresses": AddressRepository,
    "audit_log": AuditRepository,
    "orders": OrderRepository,
    "carts": CartRepository,
    "reservations": ReservationRepository,
    "prescriptions": PrescriptionRepository,
    "restricted": RestrictedUsageRepository,
    "ledger": LedgerRepository,
    "payments": PaymentRepository,
    "idempotency": IdempotencyRepository,
    "doctors": DoctorRepository,
    "consultations": ConsultationRepository,
    "refunds": RefundRepository,
    "claims": ClaimRepository,
    "couriers": CourierRepository,
    "deliveries": DeliveryRepository,
    "courier_events": CourierEventRepository,
    "dispatch": DispatchRepository,
    "rosters": RosterRepository,
    "offers": OfferRepository,
}


def _json_ready(payload: dict[str, Any]) -> dict[str, Any]:
    """Event payloads as JSON holds them: times as ISO 8601 (UTC), enums as their values, tuples as lists."""
    result: dict[str, Any] = json.loads(json.dumps(payload, default=_encode))
    return result


def _encode(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
