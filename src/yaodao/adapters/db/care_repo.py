"""Doctors, their prescription-signing keys, consultations and their messages, in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from yaodao.adapters.db import tables as t
from yaodao.care.consultation import Attachment, Consultation, ConsultNote, ConsultStatus, Message, PriorDiagnosis
from yaodao.care.doctors import Doctor
from yaodao.kernel.errors import Conflict
from yaodao.kernel.paging import Page, PageRequest


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

    def get_for_update(self, doctor_id: str) -> tuple[Doctor, bool] | None:
        """As ``get``, holding the doctor's row until commit: a doctor's accepts run one at a time."""
        row = self._conn.execute(select(t.doctors).where(t.doctors.c.user_id == doctor_id).with_for_update()).first()
        return None if row is None else (_doctor(row._mapping), bool(row.suspended))

    def consulting(self) -> list[Doctor]:
        """Doctors who may take consultations now: verified and not suspended."""
        c = t.doctors.c
        rows = self._conn.execute(select(t.doctors).where(c.verified.is_(True), c.suspended.is_(False))).all()
        return [_doctor(r._mapping) for r in rows]

    def add_rating(self, doctor_id: str, stars: int) -> None:
        """One more patient rating, folded into the mean in one statement (concurrent ratings all count)."""
        c = t.doctors.c
        self._conn.execute(
            update(t.doctors)
            .where(c.user_id == doctor_id)
            .values(
                rating=(func.coalesce(c.rating, 0.0) * c.ratings + stars) / (c.ratings + 1.0),
                ratings=c.ratings + 1,
                version=c.version + 1,
            )
        )

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


class ConsultationRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, c: Consultation) -> None:
        self._conn.execute(
            insert(t.consultations).values(**_consult_values(c), last_seq=0, patient_read_seq=0, doctor_read_seq=0)
        )

    def get(self, consultation_id: str) -> Consultation | None:
        row = self._conn.execute(select(t.consultations).where(t.consultations.c.id == consultation_id)).first()
        return None if row is None else _consult(row._mapping)

    def save(self, c: Consultation, expected_version: int) -> None:
        """Write the aggregate if nobody changed it since it was read (optimistic, on ``version``)."""
        values = _consult_values(c)
        values.pop("id")
        done = self._conn.execute(
            update(t.consultations)
            .where(t.consultations.c.id == c.id, t.consultations.c.version == expected_version)
            .values(**values)
        ).rowcount
        if done != 1:
            raise Conflict(f"consultation {c.id} changed meanwhile; reload it and try again", field="version")

    def for_owners(self, owner_id: str, page: PageRequest) -> Page[Consultation]:
        return self._page(t.consultations.c.owner_id == owner_id, page)

    def for_doctor(self, doctor_id: str, page: PageRequest) -> Page[Consultation]:
        return self._page(t.consultations.c.doctor_id == doctor_id, page)

    def waiting(self, departments: Sequence[str], limit: int = 200) -> list[Consultation]:
        """Waiting consultations of ``departments``: the most urgent first, then the longest waiting."""
        c = t.consultations.c
        rows = self._conn.execute(
            select(t.consultations)
            .where(c.status == ConsultStatus.WAITING.value, c.department.in_(list(departments)))
            .order_by(c.priority.desc(), c.requested_at, c.id)
            .limit(limit)
        ).all()
        return [_consult(r._mapping) for r in rows]

    def active_count(self, doctor_id: str) -> int:
        c = t.consultations.c
        return int(
            self._conn.execute(
                select(func.count())
                .select_from(t.consultations)
                .where(c.doctor_id == doctor_id, c.status == ConsultStatus.ACTIVE.value)
            ).scalar_one()
        )

    def read_marks(self, consultation_id: str) -> tuple[int, int, int]:
        """(last message seq, the patient's read mark, the doctor's read mark)."""
        c = t.consultations.c
        row = self._conn.execute(
            select(c.last_seq, c.patient_read_seq, c.doctor_read_seq).where(c.id == consultation_id)
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    def mark_read(self, consultation_id: str, side: str, seq: int) -> int:
        """Raise ``side``'s read mark to ``seq`` (never lower it, never past the last message); the new mark."""
        c = t.consultations.c
        column = c.patient_read_seq if side == "patient" else c.doctor_read_seq
        target = func.min(seq, c.last_seq) if self._conn.dialect.name == "sqlite" else func.least(seq, c.last_seq)
        self._conn.execute(
            update(t.consultations).where(c.id == consultation_id, column < target).values({column.key: target})
        )
        return self.read_marks(consultation_id)[1 if side == "patient" else 2]

    def message_by_client_id(self, consultation_id: str, sender_id: str, client_msg_id: str) -> Message | None:
        m = t.consultation_messages.c
        row = self._conn.execute(
            _messages().where(
                m.consultation_id == consultation_id, m.sender_id == sender_id, m.client_msg_id == client_msg_id
            )
        ).first()
        return None if row is None else _message(row._mapping)

    def add_message(
        self,
        consultation_id: str,
        *,
        sender_id: str,
        sender_role: str,
        client_msg_id: str,
        text: str,
        at: datetime,
        image: tuple[Attachment, bytes] | None = None,
    ) -> tuple[Message, bool]:
        """Store a message with the next sequence number; (the stored message, whether it is new).

        A message with the same sender and ``client_msg_id`` is a resend: the stored one comes back
        and nothing is written, even when two copies race (the unique key decides, in a savepoint).
        An ``image`` is stored in the same savepoint as its message: both or neither.
        """
        existing = self.message_by_client_id(consultation_id, sender_id, client_msg_id)
        if existing is not None:
            return existing, False
        c = t.consultations.c
        try:
            with self._conn.begin_nested():
                seq = self._conn.execute(
                    update(t.consultations)
                    .where(c.id == consultation_id)
                    .values(last_seq=c.last_seq + 1)
                    .returning(c.last_seq)
                ).scalar_one()
                attachment = None if image is None else image[0]
                if image is not None:
                    self._add_attachment(consultation_id, sender_id, image[0], image[1], at)
                message = Message(
                    consultation_id, int(seq), sender_id, sender_role, client_msg_id, text, at, attachment
                )
                self._conn.execute(
                    insert(t.consultation_messages).values(
                        consultation_id=consultation_id, seq=message.seq, sender_id=sender_id,
                        sender_role=sender_role, client_msg_id=client_msg_id, text=text, sent_at=at,
                        attachment_id=None if attachment is None else attachment.id,
                    )
                )  # fmt: skip
        except IntegrityError:
            again = self.message_by_client_id(consultation_id, sender_id, client_msg_id)
            if again is None:
                raise
            return again, False
        return message, True

    def _add_attachment(self, consultation_id: str, sender_id: str, a: Attachment, data: bytes, at: datetime) -> None:
        self._conn.execute(
            insert(t.consultation_attachments).values(
                id=a.id, consultation_id=consultation_id, sender_id=sender_id, content_type=a.content_type,
                size_bytes=a.size_bytes, sha256=a.sha256, width=a.width, height=a.height, data=data, created_at=at,
            )
        )  # fmt: skip

    def attachment_count(self, consultation_id: str, sender_id: str) -> int:
        a = t.consultation_attachments.c
        return int(
            self._conn.execute(
                select(func.count())
                .select_from(t.consultation_attachments)
                .where(a.consultation_id == consultation_id, a.sender_id == sender_id)
            ).scalar_one()
        )

    def attachment(self, consultation_id: str, attachment_id: str) -> tuple[Attachment, bytes] | None:
        """An image of this consultation with its bytes; None when unknown here (or of another consultation)."""
        a = t.consultation_attachments.c
        row = self._conn.execute(
            select(t.consultation_attachments).where(a.id == attachment_id, a.consultation_id == consultation_id)
        ).first()
        if row is None:
            return None
        found = Attachment(row.id, row.content_type, row.width, row.height, row.size_bytes, row.sha256)
        return found, bytes(row.data)

    def link_prescription(self, rx_id: str, consultation_id: str) -> None:
        """Record the consultation a prescription was issued in (its row was written this transaction)."""
        self._conn.execute(
            update(t.prescriptions).where(t.prescriptions.c.id == rx_id).values(consultation_id=consultation_id)
        )

    def prescription_consultation(self, rx_id: str) -> str | None:
        row = self._conn.execute(select(t.prescriptions.c.consultation_id).where(t.prescriptions.c.id == rx_id)).first()
        return None if row is None else row[0]

    def messages_after(self, consultation_id: str, after_seq: int, limit: int) -> list[Message]:
        m = t.consultation_messages.c
        rows = self._conn.execute(
            _messages().where(m.consultation_id == consultation_id, m.seq > after_seq).order_by(m.seq).limit(limit)
        ).all()
        return [_message(r._mapping) for r in rows]

    def _page(self, where: Any, page: PageRequest) -> Page[Consultation]:
        c = t.consultations.c
        total = int(self._conn.execute(select(func.count()).select_from(t.consultations).where(where)).scalar_one())
        rows = self._conn.execute(
            select(t.consultations)
            .where(where)
            .order_by(c.requested_at.desc(), c.id)
            .limit(page.page_size)
            .offset(page.offset)
        ).all()
        return Page([_consult(r._mapping) for r in rows], total, page.page, page.page_size)


def _consult_values(c: Consultation) -> dict[str, Any]:
    diagnosis = None if c.diagnosis is None else {
        "name": c.diagnosis.name, "where": c.diagnosis.where, "when": c.diagnosis.when
    }  # fmt: skip
    return {
        "id": c.id, "patient_id": c.patient_id, "owner_id": c.owner_id, "city_id": c.city_id, "kind": c.kind.value,
        "status": c.status.value, "department": c.department, "urgency": c.urgency, "priority": c.priority,
        "language": c.language,
        "intake": {"complaint": c.complaint, "age_years": c.age_years, "sex": c.sex, "pregnant": c.pregnant,
                   "allergies": list(c.allergies), "current_meds": list(c.current_meds), "diagnosis": diagnosis},
        "requested_at": c.requested_at, "doctor_id": c.doctor_id, "accepted_at": c.accepted_at,
        "ended_at": c.ended_at, "note": None if c.note is None else c.note.as_dict(), "rating": c.rating,
        "version": c.version,
    }  # fmt: skip


def _consult(row: RowMapping) -> Consultation:
    intake, note, dx = row["intake"], row["note"], row["intake"].get("diagnosis")
    return Consultation(
        id=row["id"], patient_id=row["patient_id"], owner_id=row["owner_id"], city_id=row["city_id"],
        complaint=intake["complaint"], age_years=intake["age_years"], sex=intake["sex"], pregnant=intake["pregnant"],
        allergies=tuple(intake["allergies"]), current_meds=tuple(intake["current_meds"]),
        diagnosis=None if dx is None else PriorDiagnosis(dx["name"], dx["where"], dx["when"]),
        department=row["department"], urgency=row["urgency"], language=row["language"],
        requested_at=row["requested_at"], status=ConsultStatus(row["status"]), doctor_id=row["doctor_id"],
        accepted_at=row["accepted_at"], ended_at=row["ended_at"],
        note=None if note is None else ConsultNote(**note), rating=row["rating"], version=row["version"],
    )  # fmt: skip


def _messages() -> Select[Any]:
    """Messages with what their image is (never its bytes)."""
    m, a = t.consultation_messages, t.consultation_attachments
    return select(
        m, a.c.content_type.label("a_type"), a.c.width.label("a_width"), a.c.height.label("a_height"),
        a.c.size_bytes.label("a_size"), a.c.sha256.label("a_sha256"),
    ).select_from(m.outerjoin(a, m.c.attachment_id == a.c.id))  # fmt: skip


def _message(row: RowMapping) -> Message:
    attachment = None if row["attachment_id"] is None else Attachment(
        id=row["attachment_id"], content_type=row["a_type"], width=int(row["a_width"]), height=int(row["a_height"]),
        size_bytes=int(row["a_size"]), sha256=row["a_sha256"],
    )  # fmt: skip
    return Message(
        consultation_id=row["consultation_id"], seq=int(row["seq"]), sender_id=row["sender_id"],
        sender_role=row["sender_role"], client_msg_id=row["client_msg_id"], text=row["text"], sent_at=row["sent_at"],
        attachment=attachment,
    )  # fmt: skip
