"""Accounts use cases: registration, login and tokens, profiles, family members, addresses, audit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from yaodao.accounts.identity import IdentityProvider, parse_resident_id
from yaodao.accounts.model import EMAIL, RELATIONS, SEXES, Address, AuditRecord, FamilyMember, Role, User
from yaodao.accounts.policy import Action, Actor, Scope, allowed, authorize
from yaodao.kernel.errors import Conflict, NotAuthenticated, NotFound, TooManyRequests, ValidationFailed
from yaodao.kernel.geo import LatLng
from yaodao.kernel.ids import new_id
from yaodao.kernel.paging import Page, PageRequest
from yaodao.ports import CityRegistry, UnitOfWorkPort

MAX_FAILED_LOGINS_PER_HOUR = 20  # ASVS 2.2.1 allows up to 100; 20 is kinder to attackers' victims
MIN_PASSWORD = 10


class Passwords(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str | None, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def id_number_hash(id_number: str, pepper: str) -> str:
    """The real-name identity key: a keyed hash, so the ID number itself is never stored."""
    normalised = id_number.strip().upper().replace(" ", "")
    return hmac.new(pepper.encode(), normalised.encode(), hashlib.sha256).hexdigest()


def _validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD or len(password) > 200:
        raise ValidationFailed(f"password: must be {MIN_PASSWORD} to 200 characters", field="password")


def _validate_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise ValidationFailed("email: not a valid email address", field="email")
    return email


def register_user(
    *,
    uow: UnitOfWorkPort,
    passwords: Passwords,
    email: str,
    password: str,
    display_name: str,
    roles: frozenset[Role] = frozenset({Role.PATIENT}),
    pharmacy_id: str | None = None,
    city_id: str | None = None,
    actor: Actor | None = None,
) -> User:
    """Patients sign themselves up; every other role is created by an admin."""
    if actor is not None:  # created by someone: only admins create accounts for others
        authorize(actor, Action.USER_ADMIN)
    elif roles != {Role.PATIENT}:
        raise NotAuthenticated("only an admin can create staff accounts")
    email = _validate_email(email)
    _validate_password(password)
    if not display_name.strip() or len(display_name) > 100:
        raise ValidationFailed("display_name: must be 1 to 100 characters", field="display_name")
    if (Role.PHARMACIST in roles or Role.STORE_STAFF in roles) and pharmacy_id is None:
        raise ValidationFailed("pharmacy_id: pharmacists and store staff belong to a pharmacy", field="pharmacy_id")
    with uow:
        if uow.users.by_email(email) is not None:
            raise Conflict("email: an account with this email already exists", field="email")
        if pharmacy_id is not None and uow.pharmacies.get(pharmacy_id) is None:
            raise ValidationFailed(f"pharmacy_id: no pharmacy {pharmacy_id}", field="pharmacy_id")
        user = User(
            id=new_id(),
            email=email,
            display_name=display_name.strip(),
            password_hash=passwords.hash(password),
            roles=roles,
            pharmacy_id=pharmacy_id,
            city_id=city_id,
        )
        uow.users.add(user, uow.clock.now())
        uow.commit()
    return user


@dataclass(frozen=True, slots=True)
class IssuedToken:
    raw: str  # shown once; only its hash is stored
    csrf: str | None
    user: User
    expires_in_s: int


def login(
    *,
    uow: UnitOfWorkPort,
    passwords: Passwords,
    email: str,
    password: str,
    kind: str,
    lifetime: timedelta,
    label: str | None = None,
    ip: str | None = None,
) -> IssuedToken:
    """Check a password and issue a session cookie token or an API bearer token.

    Failed attempts per account are capped per hour (then 429 without evaluating the
    password); the message never says whether the email exists.
    """
    email = email.strip().lower()
    with uow:
        now = uow.clock.now()
        user = uow.users.by_email(email)
        if (
            user is not None
            and user.failed_window_start
            and now - user.failed_window_start < timedelta(hours=1)
            and user.failed_logins >= MAX_FAILED_LOGINS_PER_HOUR
        ):
            raise TooManyRequests("too many failed sign-ins for this account; try again within the hour")
        ok = passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok or user.disabled:
            if user is not None:
                fresh = user.failed_window_start is None or now - user.failed_window_start >= timedelta(hours=1)
                user.failed_window_start = now if fresh else user.failed_window_start
                user.failed_logins = 1 if fresh else user.failed_logins + 1
                uow.users.update(user, user.version, now)
                uow.audit(
                    AuditRecord(
                        at=now,
                        actor_id=user.id,
                        actor_roles="",
                        action="login",
                        resource_type="user",
                        resource_id=user.id,
                        patient_id=None,
                        outcome="denied",
                        ip=ip,
                    )
                )
                uow.commit()
            raise NotAuthenticated("wrong email or password")
        user.failed_logins = 0
        user.failed_window_start = None
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash(password)
        uow.users.update(user, user.version, now)
        raw = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24) if kind == "cookie" else None
        uow.tokens.add(
            token_id=new_id(),
            user_id=user.id,
            token_hash=token_hash(raw),
            kind=kind,
            csrf_token=csrf,
            label=label,
            now=now,
            expires_at=now + lifetime,
        )
        uow.audit(
            AuditRecord(
                at=now,
                actor_id=user.id,
                actor_roles=",".join(sorted(user.roles)),
                action="login",
                resource_type="user",
                resource_id=user.id,
                patient_id=None,
                outcome="ok",
                ip=ip,
            )
        )
        uow.commit()
    return IssuedToken(raw=raw, csrf=csrf, user=user, expires_in_s=int(lifetime.total_seconds()))


@dataclass(frozen=True, slots=True)
class ResolvedToken:
    actor: Actor
    kind: str
    csrf: str | None


def resolve_token(
    *, uow: UnitOfWorkPort, raw: str, request_id: str | None = None, ip: str | None = None
) -> ResolvedToken | None:
    with uow:
        found = uow.tokens.live_with_user(token_hash(raw), uow.clock.now())
    if found is None:
        return None
    row, user = found
    if user.disabled:
        return None
    actor = Actor(
        user_id=user.id,
        roles=user.roles,
        pharmacy_id=user.pharmacy_id,
        city_id=user.city_id,
        request_id=request_id,
        ip=ip,
    )
    return ResolvedToken(actor=actor, kind=str(row["kind"]), csrf=row["csrf_token"])


def logout(*, uow: UnitOfWorkPort, raw: str) -> None:
    with uow:
        uow.tokens.revoke(token_hash(raw), uow.clock.now())
        uow.commit()


def change_password(*, uow: UnitOfWorkPort, passwords: Passwords, actor: Actor, old: str, new: str) -> int:
    """Change the password and end every session and token of the account; returns how many ended."""
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    _validate_password(new)
    with uow:
        user = uow.users.get(actor.user_id)
        if user is None or not passwords.verify(user.password_hash, old):
            raise ValidationFailed("old_password: does not match", field="old_password")
        user.password_hash = passwords.hash(new)
        now = uow.clock.now()
        uow.users.update(user, user.version, now)
        ended = uow.tokens.revoke_all(user.id, now)
        uow.commit()
    return ended


def get_user(*, uow: UnitOfWorkPort, actor: Actor) -> User:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        user = uow.users.get(actor.user_id)
    if user is None:
        raise NotAuthenticated("sign in first")
    return user


# Health-related records: every read and change is audited -----------------------------------------


def _audit(
    uow: UnitOfWorkPort,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    patient_id: str | None,
    outcome: str = "ok",
) -> None:
    uow.audit(
        AuditRecord(
            at=uow.clock.now(),
            actor_id=actor.user_id,
            actor_roles=actor.roles_text,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            patient_id=patient_id,
            outcome=outcome,
            request_id=actor.request_id,
            ip=actor.ip,
        )
    )


def _authorize_audited(
    uow: UnitOfWorkPort, actor: Actor, action: Action, scope: Scope, resource_type: str, resource_id: str | None
) -> None:
    """Authorize, and on refusal write the denial to the audit log in its own transaction."""
    if actor.authenticated and not allowed(actor, action, scope):
        uow.audit_now(
            AuditRecord(
                at=uow.clock.now(),
                actor_id=actor.user_id,
                actor_roles=actor.roles_text,
                action="denied",
                resource_type=resource_type,
                resource_id=resource_id,
                patient_id=scope.owner_id,
                outcome="denied",
                request_id=actor.request_id,
                ip=actor.ip,
            )
        )
    authorize(actor, action, scope)


def read_profile(*, uow: UnitOfWorkPort, actor: Actor) -> User:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        _authorize_audited(uow, actor, Action.PROFILE_READ, Scope(owner_id=actor.user_id), "profile", actor.user_id)
        user = uow.users.get(actor.user_id)
        assert user is not None
        _audit(uow, actor, "read", "profile", user.id, user.id)
        uow.commit()
    return user


def update_health_profile(
    *,
    uow: UnitOfWorkPort,
    actor: Actor,
    date_of_birth: date | None,
    sex: str | None,
    allergies: list[str],
    current_medicines: list[str],
) -> User:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    _validate_person(
        sex=sex,
        allergies=allergies,
        current_medicines=current_medicines,
        born=date_of_birth,
        today=uow.clock.now().date(),
    )
    with uow:
        _authorize_audited(uow, actor, Action.PROFILE_WRITE, Scope(owner_id=actor.user_id), "profile", actor.user_id)
        user = uow.users.get(actor.user_id)
        assert user is not None
        user.date_of_birth, user.sex = date_of_birth, sex
        user.allergies, user.current_medicines = tuple(allergies), tuple(current_medicines)
        uow.users.update(user, user.version, uow.clock.now())
        _audit(uow, actor, "update", "profile", user.id, user.id)
        uow.commit()
    return user


def _validate_person(
    *, sex: str | None, allergies: list[str], current_medicines: list[str], born: date | None, today: date
) -> None:
    if sex is not None and sex not in SEXES:
        raise ValidationFailed(f"sex: must be one of {', '.join(SEXES)}", field="sex")
    if born is not None and not (date(1900, 1, 1) <= born <= today):
        raise ValidationFailed("date_of_birth: must be between 1900-01-01 and today", field="date_of_birth")
    for name, items in (("allergies", allergies), ("current_medicines", current_medicines)):
        if len(items) > 50 or any(not x.strip() or len(x) > 100 for x in items):
            raise ValidationFailed(f"{name}: up to 50 entries of 1-100 characters", field=name)


def add_family_member(
    *,
    uow: UnitOfWorkPort,
    actor: Actor,
    name: str,
    relation: str,
    date_of_birth: date,
    sex: str | None,
    allergies: list[str],
    current_medicines: list[str],
) -> FamilyMember:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    if not name.strip() or len(name) > 100:
        raise ValidationFailed("name: must be 1 to 100 characters", field="name")
    if relation not in RELATIONS:
        raise ValidationFailed(f"relation: must be one of {', '.join(RELATIONS)}", field="relation")
    _validate_person(
        sex=sex,
        allergies=allergies,
        current_medicines=current_medicines,
        born=date_of_birth,
        today=uow.clock.now().date(),
    )
    with uow:
        _authorize_audited(uow, actor, Action.FAMILY_WRITE, Scope(owner_id=actor.user_id), "family_member", None)
        if len(uow.family.of_owner(actor.user_id)) >= 20:
            raise Conflict("a patient can add at most 20 family members")
        member = FamilyMember(
            id=new_id(),
            owner_id=actor.user_id,
            name=name.strip(),
            relation=relation,
            date_of_birth=date_of_birth,
            sex=sex,
            allergies=tuple(allergies),
            current_medicines=tuple(current_medicines),
        )
        uow.family.add(member, uow.clock.now())
        _audit(uow, actor, "create", "family_member", member.id, actor.user_id)
        uow.commit()
    return member


def list_family_members(*, uow: UnitOfWorkPort, actor: Actor) -> list[FamilyMember]:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        _authorize_audited(uow, actor, Action.FAMILY_READ, Scope(owner_id=actor.user_id), "family_member", None)
        members = uow.family.of_owner(actor.user_id)
        _audit(uow, actor, "list", "family_member", None, actor.user_id)
        uow.commit()
    return members


def get_family_member(*, uow: UnitOfWorkPort, actor: Actor, member_id: str) -> FamilyMember:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        member = uow.family.get(member_id)
        owner = member.owner_id if member else None
        if member is None or not allowed(actor, Action.FAMILY_READ, Scope(owner_id=owner)):
            # Someone else's record answers exactly like a missing one (no existence leak), and is audited.
            uow.audit_now(
                AuditRecord(
                    at=uow.clock.now(),
                    actor_id=actor.user_id,
                    actor_roles=actor.roles_text,
                    action="denied",
                    resource_type="family_member",
                    resource_id=member_id,
                    patient_id=owner,
                    outcome="denied",
                    request_id=actor.request_id,
                    ip=actor.ip,
                )
            )
            raise NotFound(f"no family member {member_id}")
        _audit(uow, actor, "read", "family_member", member.id, member.owner_id)
        uow.commit()
    return member


def add_address(
    *,
    uow: UnitOfWorkPort,
    actor: Actor,
    cities: CityRegistry,
    city_id: str,
    label: str,
    recipient: str,
    phone: str,
    text: str,
    location: LatLng,
    is_default: bool,
) -> Address:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    city = cities.get(city_id)
    if city is None:
        raise ValidationFailed(f"city_id: unknown city {city_id!r}", field="city_id")
    if not city.contains(location):
        raise ValidationFailed(f"location: outside {city.name_en}'s service area", field="location")
    for name, value, limit in (("label", label, 40), ("recipient", recipient, 100), ("text", text, 300)):
        if not value.strip() or len(value) > limit:
            raise ValidationFailed(f"{name}: must be 1 to {limit} characters", field=name)
    digits = phone.replace(" ", "").replace("-", "").removeprefix("+86")
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise ValidationFailed("phone: must be a phone number of 7 to 15 digits", field="phone")
    district = city.district_of(location)
    with uow:
        _authorize_audited(uow, actor, Action.ADDRESS_WRITE, Scope(owner_id=actor.user_id), "address", None)
        address = Address(
            id=new_id(),
            user_id=actor.user_id,
            city_id=city.id,
            label=label.strip(),
            recipient=recipient.strip(),
            phone=digits,
            text=text.strip(),
            location=location,
            district_code=district.code if district else None,
            is_default=is_default,
        )
        uow.addresses.add(address, uow.clock.now())
        _audit(uow, actor, "create", "address", address.id, actor.user_id)
        uow.commit()
    return address


def list_addresses(*, uow: UnitOfWorkPort, actor: Actor) -> list[Address]:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    with uow:
        _authorize_audited(uow, actor, Action.ADDRESS_READ, Scope(owner_id=actor.user_id), "address", None)
        items = uow.addresses.of_user(actor.user_id)
        _audit(uow, actor, "list", "address", None, actor.user_id)
        uow.commit()
    return items


def list_audit(*, uow: UnitOfWorkPort, actor: Actor, page: PageRequest, patient_id: str | None) -> Page[AuditRecord]:
    authorize(actor, Action.AUDIT_READ)
    with uow:
        return uow.audit_log.list_page(page, patient_id=patient_id)


def verify_identity(
    *, uow: UnitOfWorkPort, actor: Actor, full_name: str, id_number: str, pepper: str, provider: IdentityProvider
) -> User:
    """Bind the account to a real-name identity (DOMAIN S2: Rx needs it; S7: limits are keyed by it).

    The number's own checks come first, then the provider; only the keyed hash is stored, and the birth
    date and sex the number carries fill an empty profile (a different birth date already on the profile is
    refused, so a borrowed number is not quietly accepted). An account keeps the identity it was verified
    with: the same number again changes nothing; another number is a 409 (limits must not be escaped).
    """
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    name = full_name.strip() if isinstance(full_name, str) else ""
    if not 1 <= len(name) <= 60:
        raise ValidationFailed("full_name: the name on the ID card, 1 to 60 characters", field="full_name")
    resident = parse_resident_id(id_number, today=uow.clock.now().date())
    key = id_number_hash(resident.number, pepper)
    with uow:
        _authorize_audited(uow, actor, Action.PROFILE_WRITE, Scope(owner_id=actor.user_id), "identity", actor.user_id)
        user = uow.users.get(actor.user_id)
        assert user is not None
        if user.id_number_hash is not None:
            if hmac.compare_digest(user.id_number_hash, key):
                return user
            raise Conflict("this account is already verified with another ID number", field="id_number")
        if user.date_of_birth is not None and user.date_of_birth != resident.born:
            raise ValidationFailed(
                "id_number: its birth date does not match the one in your profile", field="id_number"
            )
        if not provider.confirms(name, resident):
            _audit(uow, actor, "verify", "identity", user.id, user.id, outcome="refused")
            uow.commit()
            raise ValidationFailed(
                "the name and ID number were not confirmed by the identity provider", field="id_number"
            )
        user.id_number_hash = key
        user.date_of_birth = user.date_of_birth or resident.born
        user.sex = user.sex or resident.sex
        uow.users.update(user, user.version, uow.clock.now())
        _audit(uow, actor, "verify", "identity", user.id, user.id)
        uow.commit()
    return user
