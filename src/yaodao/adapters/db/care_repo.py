"""Doctors and their prescription-signing keys, in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, insert, select, update

from yaodao.adapters.db import tables as t
from yaodao.care.doctors import Doctor
from yaodao.kernel.errors import Conflict


class DoctorRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, doctor: Doctor, now: datetime, *, suspended: bool = False) -> None:
        self._conn.execute(
            insert(t.doctors).values(
                user_id=doctor.id, licence_no=doctor.licence_no, hospital=doctor.hospital, province=doctor.province,
                city=doctor.city, departments=list(doctor.departments), languages=list(doctor.languages),
                verified=doctor.verified, suspended=suspended, years_practising=doctor.years_practising,
                max_concurrent=doctor.max_concurrent, rating=doctor.rating, ratings=doctor.ratings,
                created_at=now, version=1,
            )
        )  # fmt: skip

    def get(self, doctor_id: str) -> tuple[Doctor, bool] | None:
        """The doctor and whether their licence is suspended on the platform."""
        row = self._conn.execute(select(t.doctors).where(t.doctors.c.user_id == doctor_id)).first()
        return None if row is None else (_doctor(row._mapping), bool(row.suspended))

    def set_standing(self, doctor_id: str, *, verified: bool, suspended: bool) -> None:
        done = self._conn.execute(
            update(t.doctors)
            .where(t.doctors.c.user_id == doctor_id)
            .values(verified=verified, suspended=suspended, version=t.doctors.c.version + 1)
        ).rowcount
        if done != 1:
            raise Conflict(f"doctor {doctor_id} changed or is gone")

    def add_key(self, key_id: str, doctor_id: str, public_key: str, now: datetime) -> None:
        self._conn.execute(
            insert(t.doctor_keys).values(id=key_id, doctor_id=doctor_id, public_key=public_key, created_at=now)
        )

    def active_keys(self, doctor_id: str, at: datetime) -> list[str]:
        """Keys registered by ``at`` and not revoked by then (a prescription verifies against these)."""
        c = t.doctor_keys.c
        rows = self._conn.execute(
            select(c.public_key).where(
                c.doctor_id == doctor_id, c.created_at <= at, (c.revoked_at.is_(None)) | (c.revoked_at > at)
            )
        ).scalars()
        return [str(r) for r in rows]

    def revoke_keys(self, doctor_id: str, now: datetime) -> int:
        c = t.doctor_keys.c
        return int(
            self._conn.execute(
                update(t.doctor_keys).where(c.doctor_id == doctor_id, c.revoked_at.is_(None)).values(revoked_at=now)
            ).rowcount
        )


def _doctor(row: RowMapping) -> Doctor:
    return Doctor(
        id=row["user_id"], licence_no=row["licence_no"], hospital=row["hospital"], province=row["province"],
        city=row["city"], departments=tuple(row["departments"]), languages=tuple(row["languages"]),
        verified=bool(row["verified"]), years_practising=int(row["years_practising"]),
        max_concurrent=int(row["max_concurrent"]), rating=row["rating"], ratings=int(row["ratings"]),
    )  # fmt: skip
