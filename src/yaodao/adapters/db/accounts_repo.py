"""Accounts repositories: users, tokens, family members, addresses, the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from yaodao.accounts.model import Address, AuditRecord, FamilyMember, Role, User
from yaodao.adapters.db import tables as t
from yaodao.kernel.errors import Conflict
from yaodao.kernel.geo import LatLng
from yaodao.kernel.paging import Page, PageRequest

# Built once with bound parameters (see orders_repo): every authenticated request runs the first.
_a = t.auth_tokens.c
_LIVE_TOKEN_WITH_USER = (
    select(_a.kind.label("token_kind"), _a.csrf_token.label("token_csrf"), *t.users.c)
    .select_from(t.auth_tokens.join(t.users, t.users.c.id == _a.user_id))
    .where(_a.token_hash == bindparam("token_hash"), _a.revoked_at.is_(None), _a.expires_at > bindparam("now"))
)
_USER_BY_ID = select(t.users).where(t.users.c.id == bindparam("user_id"))
_APPEND_AUDIT = insert(t.audit_events)


def user_from_row(r: Mapping[Any, Any]) -> User:
    return User(
        id=r["id"],
        email=r["email"],
        display_name=r["display_name"],
        password_hash=r["password_hash"],
        roles=frozenset(Role(x) for x in r["roles"]),
        pharmacy_id=r["pharmacy_id"],
        city_id=r["city_id"],
        phone=r["phone"],
        date_of_birth=r["date_of_birth"],
        sex=r["sex"],
        allergies=tuple(r["allergies"]),
        current_medicines=tuple(r["current_medicines"]),
        id_number_hash=r["id_number_hash"],
        disabled=r["disabled"],
        failed_logins=r["failed_logins"],
        failed_window_start=r["failed_window_start"],
        version=r["version"],
        created_at=r["created_at"],
    )


def user_row(u: User, now: datetime) -> dict[str, Any]:
    return {
        "id": u.id,
        "email": u.email,
        "display_name": u.display_name,
        "password_hash": u.password_hash,
        "roles": sorted(r.value for r in u.roles),
        "pharmacy_id": u.pharmacy_id,
        "city_id": u.city_id,
        "phone": u.phone,
        "date_of_birth": u.date_of_birth,
        "sex": u.sex,
        "allergies": list(u.allergies),
        "current_medicines": list(u.current_medicines),
        "id_number_hash": u.id_number_hash,
        "disabled": u.disabled,
        "failed_logins": u.failed_logins,
        "failed_window_start": u.failed_window_start,
        "version": u.version,
        "updated_at": now,
    }


class UserRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, user_id: str) -> User | None:
        row = self._conn.execute(_USER_BY_ID, {"user_id": user_id}).mappings().first()
        return user_from_row(row) if row else None

    def by_email(self, email: str) -> User | None:
        row = self._conn.execute(select(t.users).where(t.users.c.email == email.lower())).mappings().first()
        return user_from_row(row) if row else None

    def add(self, user: User, now: datetime) -> None:
        self._conn.execute(insert(t.users).values(**user_row(user, now), created_at=now))

    def update(self, user: User, expected_version: int, now: datetime) -> None:
        result = self._conn.execute(
            update(t.users)
            .where(t.users.c.id == user.id, t.users.c.version == expected_version)
            .values(**{**user_row(user, now), "version": expected_version + 1})
        )
        if result.rowcount != 1:
            raise Conflict(f"user {user.id} was changed by someone else; reload and try again")
        user.version = expected_version + 1

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.users)).scalar_one())


class TokenRepository:
    """Session cookies and API bearer tokens, stored only as SHA-256 hashes."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        token_id: str,
        user_id: str,
        token_hash: str,
        kind: str,
        csrf_token: str | None,
        label: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        self._conn.execute(
            insert(t.auth_tokens).values(
                id=token_id,
                user_id=user_id,
                token_hash=token_hash,
                kind=kind,
                csrf_token=csrf_token,
                label=label,
                created_at=now,
                expires_at=expires_at,
            )
        )

    def live(self, token_hash: str, now: datetime) -> Mapping[Any, Any] | None:
        return (
            self._conn.execute(
                select(t.auth_tokens).where(
                    t.auth_tokens.c.token_hash == token_hash,
                    t.auth_tokens.c.revoked_at.is_(None),
                    t.auth_tokens.c.expires_at > now,
                )
            )
            .mappings()
            .first()
        )

    def live_with_user(self, token_hash: str, now: datetime) -> tuple[Mapping[str, Any], User] | None:
        """A live token (its ``kind`` and ``csrf_token``) and its user, in one indexed query.

        Every authenticated request asks this, so it is one round trip rather than the token, then the user.
        """
        row = self._conn.execute(_LIVE_TOKEN_WITH_USER, {"token_hash": token_hash, "now": now}).mappings().first()
        if row is None:
            return None
        return {"kind": row["token_kind"], "csrf_token": row["token_csrf"]}, user_from_row(row)

    def revoke(self, token_hash: str, now: datetime) -> None:
        self._conn.execute(
            update(t.auth_tokens)
            .where(t.auth_tokens.c.token_hash == token_hash, t.auth_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def revoke_all(self, user_id: str, now: datetime) -> int:
        result = self._conn.execute(
            update(t.auth_tokens)
            .where(t.auth_tokens.c.user_id == user_id, t.auth_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)


class FamilyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, m: FamilyMember, now: datetime) -> None:
        self._conn.execute(
            insert(t.family_members).values(
                id=m.id,
                owner_id=m.owner_id,
                name=m.name,
                relation=m.relation,
                date_of_birth=m.date_of_birth,
                sex=m.sex,
                allergies=list(m.allergies),
                current_medicines=list(m.current_medicines),
                created_at=now,
            )
        )

    def get(self, member_id: str) -> FamilyMember | None:
        row = self._conn.execute(select(t.family_members).where(t.family_members.c.id == member_id)).mappings().first()
        return _member(row) if row else None

    def of_owner(self, owner_id: str) -> list[FamilyMember]:
        rows = self._conn.execute(
            select(t.family_members).where(t.family_members.c.owner_id == owner_id).order_by(t.family_members.c.id)
        ).mappings()
        return [_member(r) for r in rows]


def _member(r: Mapping[Any, Any]) -> FamilyMember:
    return FamilyMember(
        id=r["id"],
        owner_id=r["owner_id"],
        name=r["name"],
        relation=r["relation"],
        date_of_birth=r["date_of_birth"],
        sex=r["sex"],
        allergies=tuple(r["allergies"]),
        current_medicines=tuple(r["current_medicines"]),
        created_at=r["created_at"],
    )


class AddressRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, a: Address, now: datetime) -> None:
        if a.is_default:
            self._conn.execute(update(t.addresses).where(t.addresses.c.user_id == a.user_id).values(is_default=False))
        self._conn.execute(
            insert(t.addresses).values(
                id=a.id,
                user_id=a.user_id,
                city_id=a.city_id,
                label=a.label,
                recipient=a.recipient,
                phone=a.phone,
                text=a.text,
                lat=a.location.lat,
                lng=a.location.lng,
                district_code=a.district_code,
                is_default=a.is_default,
                created_at=now,
            )
        )

    def of_user(self, user_id: str) -> list[Address]:
        rows = self._conn.execute(
            select(t.addresses).where(t.addresses.c.user_id == user_id).order_by(t.addresses.c.id)
        ).mappings()
        return [
            Address(
                id=r["id"],
                user_id=r["user_id"],
                city_id=r["city_id"],
                label=r["label"],
                recipient=r["recipient"],
                phone=r["phone"],
                text=r["text"],
                location=LatLng(r["lat"], r["lng"]),
                district_code=r["district_code"],
                is_default=r["is_default"],
                created_at=r["created_at"],
            )
            for r in rows
        ]


class AuditRepository:
    """Append-only: there is no update or delete here, and the database refuses them too."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, record: AuditRecord) -> None:
        self._conn.execute(
            _APPEND_AUDIT,
            {
                "at": record.at,
                "actor_id": record.actor_id,
                "actor_roles": record.actor_roles,
                "action": record.action,
                "resource_type": record.resource_type,
                "resource_id": record.resource_id,
                "patient_id": record.patient_id,
                "outcome": record.outcome,
                "request_id": record.request_id,
                "ip": record.ip,
                "detail": dict(record.detail),
            },
        )

    def list_page(self, page: PageRequest, *, patient_id: str | None = None) -> Page[AuditRecord]:
        cond = [t.audit_events.c.patient_id == patient_id] if patient_id else []
        total = self._conn.execute(select(func.count()).select_from(t.audit_events).where(*cond)).scalar_one()
        rows = self._conn.execute(
            select(t.audit_events)
            .where(*cond)
            .order_by(t.audit_events.c.id.desc())
            .offset(page.offset)
            .limit(page.page_size)
        ).mappings()
        items = [
            AuditRecord(
                at=r["at"],
                actor_id=r["actor_id"],
                actor_roles=r["actor_roles"],
                action=r["action"],
                resource_type=r["resource_type"],
                resource_id=r["resource_id"],
                patient_id=r["patient_id"],
                outcome=r["outcome"],
                request_id=r["request_id"],
                ip=r["ip"],
                detail=dict(r["detail"]),
            )
            for r in rows
        ]
        return Page(items, int(total), page.page, page.page_size)
