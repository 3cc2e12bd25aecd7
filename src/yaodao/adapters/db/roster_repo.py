"""Doctors' weekly rosters and the offers of waiting consultations to doctors, in SQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, RowMapping, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from yaodao.adapters.db import tables as t
from yaodao.care.consultation import ConsultStatus
from yaodao.care.offers import PASSED_OVER, ConsultOffer, OfferState
from yaodao.care.rosters import RosterSlot, WeeklyRoster


class RosterRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, doctor_id: str) -> WeeklyRoster | None:
        """The doctor's week, or None when no roster was ever set (or it was set empty)."""
        c = t.doctor_roster_slots.c
        rows = self._conn.execute(select(t.doctor_roster_slots).where(c.doctor_id == doctor_id)).all()
        return _rosters(rows).get(doctor_id)

    def all(self) -> dict[str, WeeklyRoster]:
        """Every doctor's week, by doctor id (doctors without a roster are absent)."""
        return _rosters(self._conn.execute(select(t.doctor_roster_slots)).all())

    def replace(self, doctor_id: str, roster: WeeklyRoster, now: datetime) -> None:
        """The doctor's whole week becomes ``roster`` (in this transaction: all or nothing)."""
        c = t.doctor_roster_slots.c
        self._conn.execute(delete(t.doctor_roster_slots).where(c.doctor_id == doctor_id))
        if roster.slots:
            self._conn.execute(
                insert(t.doctor_roster_slots),
                [
                    {"doctor_id": doctor_id, "weekday": s.weekday, "start_minute": s.start_minute,
                     "end_minute": s.end_minute, "timezone": roster.timezone, "updated_at": now}
                    for s in roster.slots
                ],
            )  # fmt: skip


def _rosters(rows: Sequence[Row[Any]]) -> dict[str, WeeklyRoster]:
    slots: dict[str, list[RosterSlot]] = defaultdict(list)
    zones: dict[str, str] = {}
    for row in rows:
        m = row._mapping
        slots[m["doctor_id"]].append(RosterSlot(int(m["weekday"]), int(m["start_minute"]), int(m["end_minute"])))
        zones[m["doctor_id"]] = m["timezone"]
    return {d: WeeklyRoster(zones[d], tuple(s)) for d, s in slots.items()}


class OfferRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, offer: ConsultOffer) -> bool:
        """Store an open offer; False (nothing written) when the consultation already has one open."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(t.consultation_offers).values(
                        id=offer.id, consultation_id=offer.consultation_id, doctor_id=offer.doctor_id,
                        state=offer.state.value, offered_at=offer.offered_at, expires_at=offer.expires_at,
                        decided_at=offer.decided_at,
                    )
                )  # fmt: skip
        except IntegrityError:
            return False
        return True

    def get(self, offer_id: str) -> ConsultOffer | None:
        row = self._conn.execute(select(t.consultation_offers).where(t.consultation_offers.c.id == offer_id)).first()
        return None if row is None else _offer(row._mapping)

    def open_for_doctor(self, doctor_id: str) -> list[ConsultOffer]:
        c = t.consultation_offers.c
        rows = self._conn.execute(
            select(t.consultation_offers)
            .where(c.doctor_id == doctor_id, c.state == OfferState.OPEN.value)
            .order_by(c.offered_at, c.id)
        ).all()
        return [_offer(r._mapping) for r in rows]

    def open_for(self, consultation_id: str) -> ConsultOffer | None:
        c = t.consultation_offers.c
        row = self._conn.execute(
            select(t.consultation_offers).where(c.consultation_id == consultation_id, c.state == OfferState.OPEN.value)
        ).first()
        return None if row is None else _offer(row._mapping)

    def all_open(self) -> list[ConsultOffer]:
        c = t.consultation_offers.c
        rows = self._conn.execute(select(t.consultation_offers).where(c.state == OfferState.OPEN.value)).all()
        return [_offer(r._mapping) for r in rows]

    def passed_over(self, consultation_ids: list[str]) -> dict[str, frozenset[str]]:
        """For each consultation, the doctors who declined it or let an offer of it lapse."""
        if not consultation_ids:
            return {}
        c = t.consultation_offers.c
        rows = self._conn.execute(
            select(c.consultation_id, c.doctor_id).where(
                c.consultation_id.in_(consultation_ids), c.state.in_([s.value for s in PASSED_OVER])
            )
        ).all()
        found: dict[str, set[str]] = defaultdict(set)
        for consultation_id, doctor_id in rows:
            found[consultation_id].add(doctor_id)
        return {k: frozenset(v) for k, v in found.items()}

    def held_counts(self) -> dict[str, int]:
        """What each doctor holds now: active consultations plus open offers (an offer holds a slot until decided)."""
        c, o = t.consultations.c, t.consultation_offers.c
        held: dict[str, int] = defaultdict(int)
        for query in (
            select(c.doctor_id, func.count())
            .where(c.status == ConsultStatus.ACTIVE.value, c.doctor_id.is_not(None))
            .group_by(c.doctor_id),
            select(o.doctor_id, func.count()).where(o.state == OfferState.OPEN.value).group_by(o.doctor_id),
        ):
            for doctor_id, n in self._conn.execute(query).all():
                held[str(doctor_id)] += int(n)
        return dict(held)

    def decide(self, offer_id: str, state: OfferState, at: datetime) -> bool:
        """Move an open offer to ``state``; False when it was no longer open (someone decided first)."""
        c = t.consultation_offers.c
        done = self._conn.execute(
            update(t.consultation_offers)
            .where(c.id == offer_id, c.state == OfferState.OPEN.value)
            .values(state=state.value, decided_at=at)
        ).rowcount
        return bool(done == 1)


def _offer(row: RowMapping) -> ConsultOffer:
    return ConsultOffer(
        id=row["id"], consultation_id=row["consultation_id"], doctor_id=row["doctor_id"],
        state=OfferState(row["state"]), offered_at=row["offered_at"], expires_at=row["expires_at"],
        decided_at=row["decided_at"],
    )  # fmt: skip
