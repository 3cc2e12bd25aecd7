"""The payment books' state machine against the real database, on SQLite and PostgreSQL (RELIABILITY I8-I10).

``BooksMachine`` (tests/unit/payments) drives captures, cancellations, full and partial refunds,
replayed refund numbers, accruals and claims (submit, approve, reject, pay, pay twice) and checks
after every step that the ledger balances per book, agrees with the reference model, keeps every
pot and claims account at or above zero and never refunds more than a capture. Here each step is
one unit of work on a database holding the schema's triggers and checks, through the code the
services use: ``LedgerRepository``, ``refunds.book_refund``, ``claims.record_claim`` / ``decide`` /
``pay_out`` and ``ClaimRepository``. After every step the database's own view is checked too:
``ledger.check()`` (postings sum to zero, per transaction too, and ``pot_balances`` equals the pot
postings) and no ``pot_balances`` row below zero.

Every example starts from an empty ledger: a copy of a migrated SQLite file, or the PostgreSQL
test database with its ledger and claim tables truncated. Cancellations write nothing to the
ledger, so the set of cancelled payment ids is kept in memory, as ``MemoryBooks`` keeps it.

The normal suite runs a few examples per engine (``YAODAO_DB_MACHINE_EXAMPLES``, default 40);
``YAODAO_HYPOTHESIS_PROFILE=thorough`` runs the unit suite's thorough profile (2,000 x 50) here too.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant, run_state_machine_as_test
from sqlalchemy import Engine, func, select, text

from support import admin_conninfo, fresh_postgres_database, worker
from unit.payments.test_books_machine import PROFILE, PROFILES, START, USERS, BooksMachine
from yaodao.accounts.model import Role, User
from yaodao.adapters.db import migrate
from yaodao.adapters.db import tables as t
from yaodao.adapters.db.engine import build_engine
from yaodao.adapters.db.uow import UnitOfWork
from yaodao.kernel.clock import ManualClock
from yaodao.kernel.errors import NotFound
from yaodao.kernel.ids import new_id
from yaodao.payments import claims, refunds
from yaodao.payments import services as payment_services
from yaodao.payments.books import (
    DuplicateClaim,
    OrderAmounts,
    PaymentAlreadyCaptured,
    PaymentCancelled,
    SplitRule,
    accrue_for_capture,
    capture_order,
)
from yaodao.payments.ledger import Account, LedgerTransaction, Posting, TxnKind
from yaodao.payments.pot import AccrualRule, Claim, ClaimKind, PaymentKind, pot_state_of

EXAMPLES = int(os.environ.get("YAODAO_DB_MACHINE_EXAMPLES", "40"))
DB_SETTINGS = (
    PROFILES["thorough"]
    if PROFILE == "thorough"
    else settings(
        max_examples=EXAMPLES,
        stateful_step_count=30,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
)
_LEDGER_TABLES = "ledger_postings, ledger_transactions, pot_balances, insurance_claims"


class DbBooks:
    """``Books`` over the platform's database: every call is one committed unit of work or nothing."""

    def __init__(self, engine: Engine, split: SplitRule, rule: AccrualRule) -> None:
        self._engine = engine
        self._split, self._rule = split, rule
        self._clock = ManualClock(START)
        self._cancelled: set[str] = set()
        self._txns: tuple[LedgerTransaction, ...] = ()

    def _uow(self) -> UnitOfWork:
        return UnitOfWork(self._engine, self._clock)

    def _capture(self, uow: UnitOfWork, payment_id: str) -> LedgerTransaction:
        capture = uow.ledger.by_reference(TxnKind.CAPTURE, payment_id)
        if capture is None:
            raise NotFound(f"no captured payment {payment_id}")
        return capture

    def capture(
        self, *, payment_id: str, user_id: str, pharmacy_id: str, amounts: OrderAmounts, at: datetime
    ) -> LedgerTransaction:
        if payment_id in self._cancelled:
            raise PaymentCancelled(f"payment {payment_id} was cancelled")
        txn = capture_order(
            self._split, txn_id=new_id(), payment_id=payment_id, user_id=user_id, pharmacy_id=pharmacy_id,
            amounts=amounts, at=at,
        )  # fmt: skip
        with self._uow() as uow:
            if not uow.ledger.record(txn):
                raise PaymentAlreadyCaptured(f"payment {payment_id} was already captured")
            uow.commit()
        self._reload()
        return txn

    def cancel(self, *, payment_id: str, at: datetime) -> None:
        with self._uow() as uow:
            if uow.ledger.by_reference(TxnKind.CAPTURE, payment_id) is not None:
                raise PaymentAlreadyCaptured(f"payment {payment_id} was already captured")
        self._cancelled.add(payment_id)

    def refund(
        self, *, payment_id: str, refund_no: str, amount_fen: int, at: datetime
    ) -> tuple[LedgerTransaction, ...]:
        with self._uow() as uow:
            capture = self._capture(uow, payment_id)
            written = refunds.book_refund(uow, capture, refund_no=refund_no, amount_fen=amount_fen, at=at)
            uow.commit()
        self._reload()
        return written

    def accrue(
        self, *, payment_id: str, age_years: int, payment_kind: PaymentKind, at: datetime
    ) -> LedgerTransaction | None:
        with self._uow() as uow:
            capture = self._capture(uow, payment_id)
            payer = capture.user_id or ""
            state = pot_state_of(payer, uow.ledger.for_user(payer))
            # What checkout's accrual reads (indexed aggregates, the term rolled) must agree with the
            # whole history within a term; the reference model has no later terms.
            derived = payment_services.pot_state(uow, payer, self._rule, at)
            if state.term_started_at is None or at - state.term_started_at < timedelta(days=self._rule.term_days):
                assert derived == state, (derived, state)
            txn = accrue_for_capture(
                self._rule, capture, uow.ledger.followers(capture.id), txn_id=new_id(), age_years=age_years,
                payment_kind=payment_kind, pot_state=state, at=at,
            )  # fmt: skip
            if txn is not None:
                assert uow.ledger.record(txn)
                uow.commit()
        return self._written(txn)

    def submit_claim(
        self, *, claim_id: str, user_id: str, kind: ClaimKind, claimed_fen: int, evidence_ref: str, at: datetime
    ) -> Claim:
        with self._uow() as uow:
            if uow.claims.get(claim_id) is not None:
                raise DuplicateClaim(f"claim {claim_id} exists")
            claim = Claim(
                id=claim_id, user_id=user_id, kind=kind, claimed_fen=claimed_fen, evidence_ref=evidence_ref,
                submitted_at=at,
            )  # fmt: skip
            claims.record_claim(uow, claim, subject_ref=f"receipt-{claim_id}")
            uow.commit()
        return claim

    def approve_claim(self, *, claim_id: str, approved_fen: int | None, at: datetime) -> Claim:
        with self._uow() as uow:
            claim = claims.decide(uow, claim_id, approve=True, approved_fen=approved_fen, reason=None, at=at)
            uow.commit()
        return claim

    def reject_claim(self, *, claim_id: str, reason: str, at: datetime) -> Claim:
        with self._uow() as uow:
            claim = claims.decide(uow, claim_id, approve=False, approved_fen=None, reason=reason, at=at)
            uow.commit()
        return claim

    def pay_claim(self, *, claim_id: str, at: datetime) -> LedgerTransaction:
        with self._uow() as uow:
            _, txn = claims.pay_out(uow, claim_id, at)
            uow.commit()
        written = self._written(txn)
        assert written is not None
        return written

    def transactions(self) -> Sequence[LedgerTransaction]:
        return self._txns

    def problems(self) -> list[str]:
        """The database's own checks: ``ledger.check()`` and no pot row below zero."""
        with UnitOfWork(self._engine, self._clock, read_only=True) as uow:
            found = uow.ledger.check()
            negative = uow.conn.execute(
                select(func.count()).select_from(t.pot_balances).where(t.pot_balances.c.balance_fen < 0)
            ).scalar_one()
        return found + ([f"{negative} pot rows below zero"] if negative else [])

    def _written(self, txn: LedgerTransaction | None) -> LedgerTransaction | None:
        self._reload()
        return txn

    def _reload(self) -> None:
        """Every committed transaction, read back from the tables (not from what this object wrote)."""
        with self._engine.connect() as conn:
            headers = conn.execute(
                select(t.ledger_transactions).order_by(t.ledger_transactions.c.occurred_at, t.ledger_transactions.c.id)
            ).all()
            postings: dict[str, list[Posting]] = {}
            for row in conn.execute(select(t.ledger_postings).order_by(t.ledger_postings.c.seq)):
                postings.setdefault(row.txn_id, []).append(Posting(Account.parse(row.account), int(row.amount_fen)))
        self._txns = tuple(
            LedgerTransaction(
                id=h.id, kind=TxnKind(h.kind), reference=h.reference, postings=tuple(postings[h.id]),
                occurred_at=h.occurred_at, memo=h.memo, parent_id=h.parent_id,
            )
            for h in headers
        )  # fmt: skip


@dataclass
class Store:
    """Where each example's books live: a fresh database per example."""

    fresh_engine: Callable[[], Engine]
    release: Callable[[Engine], None]


def machine_on(store: Store) -> type[BooksMachine]:
    class DbBooksMachine(BooksMachine):
        def make_books(self, split: SplitRule, rule: AccrualRule) -> DbBooks:
            self.engine = store.fresh_engine()
            self.db_books = DbBooks(self.engine, split, rule)
            return self.db_books

        @invariant()
        def the_database_checks_hold(self) -> None:
            if hasattr(self, "db_books"):
                assert self.db_books.problems() == []

        def teardown(self) -> None:
            if hasattr(self, "engine"):
                store.release(self.engine)

    return DbBooksMachine


def _add_users(engine: Engine) -> None:
    with UnitOfWork(engine, ManualClock(START)) as uow:
        for user_id in USERS:
            uow.users.add(
                User(
                    id=user_id, email=f"{user_id}@test.yaodao.local", display_name=user_id, password_hash="x",
                    roles=frozenset({Role.PATIENT}),
                ),
                START,
            )  # fmt: skip
        uow.commit()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        template = tmp_path / "template.db"
        url = f"sqlite:///{template}"
        migrate.upgrade(url)
        engine = build_engine(url)
        _add_users(engine)
        engine.dispose()
        copies = iter(range(1_000_000))

        def fresh_sqlite() -> Engine:
            path = tmp_path / f"example-{next(copies)}.db"
            shutil.copyfile(template, path)
            return build_engine(f"sqlite:///{path}", pool_size=2)

        def release_sqlite(engine: Engine) -> None:
            database = engine.url.database
            engine.dispose()
            if database:
                Path(database).unlink(missing_ok=True)

        yield Store(fresh_sqlite, release_sqlite)
        return
    base = request.getfixturevalue("postgres_base_url")
    name = f"yaodao_books_{worker()}"
    url = fresh_postgres_database(base, name)
    migrate.upgrade(url)
    engine = build_engine(url, pool_size=2)
    _add_users(engine)

    def fresh_postgres() -> Engine:
        with engine.begin() as conn:
            # TRUNCATE fires no row triggers: the append-only guards stay in force for the example itself.
            conn.execute(text(f"TRUNCATE {_LEDGER_TABLES}"))
        return engine

    yield Store(fresh_postgres, lambda _: None)
    engine.dispose()
    with psycopg.connect(admin_conninfo(base), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_database_books_agree_with_the_reference_model(store: Store) -> None:
    """Random walks of captures, refunds, accruals and claims on the real schema: after every step the
    ledger balances, matches the reference model, keeps pots at or above zero, never refunds beyond a
    capture, pays each claim at most once, and the database's own checks agree."""
    run_state_machine_as_test(machine_on(store), settings=DB_SETTINGS)
