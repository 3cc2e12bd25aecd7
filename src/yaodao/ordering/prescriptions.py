"""E-prescriptions as a pharmacy dispenses them, and the pharmacist's review (审方).

Rules: DOMAIN S2 (dispensing gate), D1/D3/D4 (follow-up visits, signed, no controlled drugs), P1
(validity by Asia/Shanghai day), P2/P3 (supply and drug count), P4 (fills), S8 and DDI1 (review).
This module depends on the kernel and the catalog only, so the care context can issue the very
objects a pharmacy checks. Problems come back as ``Finding``s, the reason type every safety check
of ordering shares.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from yaodao.catalog.model import DrugClass, Ingredient, Product
from yaodao.catalog.prohibition import check_online_sale
from yaodao.kernel.clock import require_aware
from yaodao.kernel.errors import Conflict, ValidationFailed

RX_TIMEZONE = ZoneInfo("Asia/Shanghai")  # P1: days are counted on the issue date's calendar here
MAX_VALID_DAYS = 3  # P1: the prescriber may extend validity to the end of day 3, never further
MAX_DRUGS = 5  # P2: per Western-medicine prescription
NORMAL_SUPPLY_DAYS = 7  # P2
EMERGENCY_SUPPLY_DAYS = 3  # P2
LONG_TERM_MAX_WEEKS = 12  # P3
LONG_TERM_PLAIN_WEEKS = 4  # P3: beyond this the doctor's assessment must be stated
REASON_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
HIGH_SEVERITIES = frozenset({"major", "contraindicated"})  # DDI1: these need a second pharmacist


def end_of_day(issued_at: datetime, day: int, tz: ZoneInfo = RX_TIMEZONE) -> datetime:
    """The instant local day ``day`` ends, counting the issue date as day 1 (the next local midnight)."""
    last = require_aware(issued_at).astimezone(tz).date() + timedelta(days=day)
    return datetime.combine(last, time(0), tzinfo=tz).astimezone(UTC)


def valid_until_for(issued_at: datetime, days: int = 1) -> datetime:
    """P1: valid through day ``days`` (1 = the issue day only; at most 3)."""
    if not 1 <= days <= MAX_VALID_DAYS:
        raise ValidationFailed(f"validity must be 1 to {MAX_VALID_DAYS} days, got {days}", field="valid_until")
    return end_of_day(issued_at, days)


class ReviewState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason from a safety check: a block (the order is refused) or a hold (a pharmacist must resolve it).

    The gate, the limits and the prescription checks all speak in findings. ``key`` is stable, so a
    review can name the hold it resolves.
    """

    code: str
    message: str
    product_id: str | None = None
    subject: str = ""  # what else is involved, e.g. the other drug of an interaction
    severity: str | None = None
    rule: str | None = None  # the DOMAIN.md rule id

    @property
    def key(self) -> str:
        return f"{self.code}:{self.product_id or '-'}:{self.subject}"


@dataclass(frozen=True, slots=True)
class PrescribedItem:
    """One drug on a prescription: its generic (INNs joined by '+'), packs, dose and days of supply."""

    drug: str
    quantity_packs: int
    dose_text: str
    days_supply: int
    product_id: str | None = None
    dosage_form: str | None = None

    def __post_init__(self) -> None:
        if not self.inns:
            raise ValidationFailed("drug must name at least one ingredient", field="drug")
        for name in ("quantity_packs", "days_supply"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationFailed(f"{name} must be a whole number, 1 or more", field=name)

    @property
    def inns(self) -> tuple[str, ...]:
        return tuple(sorted(p.strip().lower() for p in self.drug.split("+") if p.strip()))

    def matches(self, product: Product) -> bool:
        if self.product_id is not None:
            return self.product_id == product.id
        ours, theirs = self.inns, sorted(i.inn.strip().lower() for i in product.ingredients)
        return len(ours) == len(theirs) and all(_same_inn(a, b) for a, b in zip(ours, theirs, strict=True))


def _same_inn(a: str, b: str) -> bool:
    """'amoxicillin' is 'amoxicillin'; a salt or ester suffix ('warfarin sodium') still matches."""
    return a == b or a.startswith(b + " ") or b.startswith(a + " ")


class LineWithProduct(Protocol):
    @property
    def product(self) -> Product: ...

    @property
    def quantity(self) -> int: ...

    @property
    def prescription_id(self) -> str | None: ...


@dataclass(slots=True, kw_only=True)
class Prescription:
    id: str
    patient_id: str
    doctor_id: str
    issued_at: datetime
    valid_until: datetime  # exclusive: valid while at < valid_until, and never past the end of day 3
    items: tuple[PrescribedItem, ...]
    fills_allowed: int = 1
    fills_used: int = 0
    used_at: datetime | None = None  # set by the last fill (S2, P4)
    review_state: ReviewState = ReviewState.PENDING
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    kb_version: str | None = None  # the interaction source the review relied on (DDI3)
    signature: bytes | None = None  # the prescriber's electronic signature (D3), verified before it gets here
    first_visit: bool = False  # D1: issued at a first visit, which internet care must not do
    emergency: bool = False
    long_term_weeks: int | None = None  # P3
    long_supply_reason: str | None = None  # P2/P3: the prescriber's stated reason for a longer supply
    version: int = 1

    def __post_init__(self) -> None:
        require_aware(self.issued_at)
        if require_aware(self.valid_until) <= self.issued_at:
            raise ValidationFailed("valid_until must be after issued_at", field="valid_until")
        if self.valid_until > end_of_day(self.issued_at, MAX_VALID_DAYS):
            raise ValidationFailed("P1: validity ends at the latest with day 3 (Asia/Shanghai)", field="valid_until")
        if not self.items:
            raise ValidationFailed("a prescription lists at least one drug", field="items")
        if not self.fills_allowed >= 1 or not 0 <= self.fills_used <= self.fills_allowed:
            raise ValidationFailed(
                "fills must satisfy 0 <= fills_used <= fills_allowed, 1 <= fills_allowed", field="fills_used"
            )
        if self.long_term_weeks is not None and self.long_term_weeks < 1:
            raise ValidationFailed("long_term_weeks must be 1 or more", field="long_term_weeks")

    @property
    def expires_at(self) -> datetime:
        """P1: ``valid_until``, and never past the end of day 3 even for a row edited behind our back."""
        return min(self.valid_until, end_of_day(self.issued_at, MAX_VALID_DAYS))

    def is_valid_at(self, at: datetime) -> bool:
        return self.issued_at <= require_aware(at) < self.expires_at

    @property
    def fills_left(self) -> int:
        return self.fills_allowed - self.fills_used

    def dispensing_problems(self, at: datetime, patient_id: str) -> list[Finding]:
        """Why this prescription cannot be dispensed to ``patient_id`` at ``at`` (S2, D1, D3, D4, P1, P2, P3, P4)."""
        out: list[Finding] = []
        if patient_id != self.patient_id:
            out.append(Finding("rx_wrong_patient", f"prescription {self.id} was issued for another patient", rule="S2"))
        if at < self.issued_at:
            out.append(Finding("rx_not_yet_valid", f"prescription {self.id} is dated in the future", rule="P1"))
        elif not self.is_valid_at(at):
            out.append(
                Finding("rx_expired", f"prescription {self.id} expired at {self.expires_at.isoformat()}", rule="P1")
            )
        if self.fills_left <= 0:
            out.append(Finding("rx_used", f"prescription {self.id} has been used", rule="P4"))
        if self.review_state is ReviewState.REJECTED:
            out.append(Finding("rx_rejected", f"a pharmacist rejected prescription {self.id}", rule="S2"))
        if not self.signature:
            out.append(Finding("rx_unsigned", f"prescription {self.id} carries no prescriber signature", rule="D3"))
        if self.first_visit:
            out.append(Finding("rx_first_visit", f"prescription {self.id} comes from a first visit", rule="D1"))
        if len(self.items) > MAX_DRUGS:
            out.append(
                Finding("rx_too_many_drugs", f"prescription {self.id} lists more than {MAX_DRUGS} drugs", rule="P2")
            )
        if self.long_term_weeks is not None and self.long_term_weeks > LONG_TERM_MAX_WEEKS:
            message = f"prescription {self.id} runs {self.long_term_weeks} weeks, over {LONG_TERM_MAX_WEEKS}"
            out.append(Finding("rx_long_term_too_long", message, rule="P3"))
        for item in self.items:
            verdict = check_online_sale([Ingredient(i, i) for i in item.inns], item.dosage_form or "tablet")
            if not verdict.sellable:
                message = f"{item.drug} on prescription {self.id} cannot be dispensed online: {verdict.reason}"
                out.append(Finding("rx_controlled_drug", message, item.product_id, rule="D4"))
        return out

    def supply_holds(self) -> list[Finding]:
        """P2/P3: a supply longer than allowed without the prescriber's stated reason is a hold, not a block."""
        if self.long_supply_reason and self.long_supply_reason.strip():
            return []
        limit = EMERGENCY_SUPPLY_DAYS if self.emergency else NORMAL_SUPPLY_DAYS
        if self.long_term_weeks is not None:  # P3: up to 4 weeks plainly; beyond, the doctor must say why
            limit = max(limit, min(self.long_term_weeks, LONG_TERM_PLAIN_WEEKS) * 7)
        message = "{}: {} days' supply on prescription {}, over {} days with no reason given"
        return [
            Finding(
                "rx_long_supply", message.format(i.drug, i.days_supply, self.id, limit), i.product_id, i.drug, rule="P2"
            )
            for i in self.items
            if i.days_supply > limit
        ]

    def covers(self, lines: Sequence[LineWithProduct]) -> list[Finding]:
        """Whether every Rx line not attached to another prescription is on this one, in quantity."""
        left = [item.quantity_packs for item in self.items]
        out: list[Finding] = []
        for line in lines:
            if line.product.drug_class is not DrugClass.RX or line.prescription_id not in (None, self.id):
                continue
            name, need = f"{line.product.generic_name_zh} ({line.product.generic_name_en})", line.quantity
            matching = [i for i, item in enumerate(self.items) if item.matches(line.product)]
            if not matching:
                out.append(
                    Finding("rx_not_prescribed", f"{name} is not on prescription {self.id}", line.product.id, rule="S2")
                )
                continue
            for i in matching:
                take = min(need, left[i])
                left[i], need = left[i] - take, need - take
            if need:
                message = f"{name}: {line.quantity} packs ordered, more than prescription {self.id} allows"
                out.append(Finding("rx_quantity_exceeds", message, line.product.id, rule="S2"))
        return out

    def fill(self, at: datetime) -> None:
        """Count one fill; the last one sets the used mark (P4, S2; RELIABILITY I11).

        The repository must apply this as one conditional statement against the server clock, so
        that two orders racing for the last fill cannot both win::

            UPDATE prescriptions
               SET fills_used = fills_used + 1,
                   used_at = CASE WHEN fills_used + 1 = fills_allowed THEN :at ELSE used_at END,
                   version = version + 1
             WHERE id = :id AND fills_used < fills_allowed
               AND issued_at <= :at AND valid_until > :at
               AND review_state <> 'rejected'

        and treat "0 rows updated" as this method's refusal.
        """
        if not self.is_valid_at(at):
            raise Conflict(f"prescription {self.id} is not valid at {at.isoformat()}", field="prescription_id")
        if self.fills_left <= 0:
            raise Conflict(f"prescription {self.id} has been used", field="prescription_id")
        if self.review_state is ReviewState.REJECTED:
            raise Conflict(f"a pharmacist rejected prescription {self.id}", field="prescription_id")
        self.fills_used += 1
        if self.fills_left == 0:
            self.used_at = at
        self.version += 1

    def return_fill(self) -> None:
        """Give a fill back when its order is cancelled or rejected before the pharmacy accepted it.

        Conditional in SQL as well: ``... SET fills_used = fills_used - 1, used_at = NULL WHERE id = :id
        AND fills_used > 0``.
        """
        if self.fills_used <= 0:
            raise Conflict(f"prescription {self.id} has no fill to return", field="prescription_id")
        self.fills_used -= 1
        self.used_at = None
        self.version += 1

    def apply_review(self, review: Review) -> None:
        self.review_state = ReviewState.APPROVED if review.result is ReviewResult.APPROVE else ReviewState.REJECTED
        self.reviewed_by, self.reviewed_at, self.kb_version = review.pharmacist_id, review.at, review.source or None
        self.version += 1


# Pharmacist review -----------------------------------------------------------------------------


class ChecklistItem(enum.StrEnum):
    """The review checklist of 处方管理办法 ~Art. 35 (DOMAIN S8)."""

    SKIN_TEST = "skin_test"
    FITS_DIAGNOSIS = "fits_diagnosis"
    DOSE_AND_USAGE = "dose_and_usage"
    FORM_AND_ROUTE = "form_and_route"
    DUPLICATE_THERAPY = "duplicate_therapy"
    INTERACTIONS = "interactions"
    OTHER_MISUSE = "other_misuse"


PASSING_CODES = frozenset({"ok", "not_applicable", "resolved"})


class ReviewResult(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class HoldLike(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def severity(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Review:
    """A pharmacist's decision with a reason code per checklist item (S8) and per hold (DDI1).

    ``resolutions`` maps each hold's key to a reason code; a high-severity hold also needs
    ``second_pharmacist_id``. ``source`` pins the interaction source and version relied on (DDI3).
    """

    result: ReviewResult
    checklist: Mapping[ChecklistItem, str]
    reason: str
    pharmacist_id: str
    at: datetime
    resolutions: Mapping[str, str] = field(default_factory=dict)
    second_pharmacist_id: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        require_aware(self.at)
        if not self.pharmacist_id:
            raise ValidationFailed("pharmacist_id must not be empty", field="pharmacist_id")
        if self.second_pharmacist_id == self.pharmacist_id:
            raise ValidationFailed("the second approver must be another pharmacist", field="second_pharmacist_id")
        if missing := [item.value for item in ChecklistItem if item not in self.checklist]:
            raise ValidationFailed(f"checklist items without a code: {', '.join(missing)}", field="checklist")
        if bad := [c for c in (*self.checklist.values(), *self.resolutions.values()) if not REASON_CODE.match(c)]:
            raise ValidationFailed(f"reason codes must be snake_case words: {bad!r}", field="checklist")
        failing = [item.value for item, code in self.checklist.items() if code not in PASSING_CODES]
        if self.result is ReviewResult.APPROVE and failing:
            raise ValidationFailed(f"an approval cannot carry failing items: {', '.join(failing)}", field="checklist")
        if self.result is ReviewResult.REJECT and not (failing and self.reason.strip()):
            raise ValidationFailed("a rejection needs a failing checklist item and a reason", field="reason")

    def unresolved(self, holds: Iterable[HoldLike]) -> list[str]:
        """What keeps this review from approving an order with ``holds``, in words."""
        out: list[str] = []
        for hold in holds:
            if hold.key not in self.resolutions:
                out.append(f"hold {hold.key} has no resolution code")
            if hold.severity in HIGH_SEVERITIES and self.second_pharmacist_id is None:
                out.append(f"hold {hold.key} is {hold.severity} and needs a second pharmacist")
        return out
