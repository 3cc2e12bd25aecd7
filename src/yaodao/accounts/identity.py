"""Real-name identity (实名制, DOMAIN S2/S7): the resident ID number's own checks, before any provider is asked.

A mainland resident identity card number (GB 11643-1999) is 17 digits and a check character: a 6-digit
region code, the birth date (YYYYMMDD), a 3-digit sequence whose last digit is odd for men and even for
women, and ISO 7064 MOD 11-2 over the first 17 (``X`` stands for 10). A number that fails these checks is
refused before any identity provider is asked; only its keyed hash is ever stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from yaodao.kernel.errors import ValidationFailed

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
OLDEST_YEARS = 130


@dataclass(frozen=True, slots=True)
class ResidentId:
    number: str  # normalised: 18 characters, upper-case X
    born: date
    sex: str  # "m" | "f"


def parse_resident_id(raw: str, *, today: date) -> ResidentId:
    """The number's birth date and sex, or a ValidationFailed on ``id_number`` saying what is wrong."""
    number = raw.strip().upper().replace(" ", "") if isinstance(raw, str) else ""
    if len(number) != 18 or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise ValidationFailed("id_number: a resident ID number is 17 digits and a digit or X", field="id_number")
    if number[0] in "09":
        raise ValidationFailed("id_number: the region code is not a valid one", field="id_number")
    if _CHECK[sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True)) % 11] != number[17]:
        raise ValidationFailed("id_number: the check character does not match (a digit mistyped?)", field="id_number")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationFailed("id_number: the birth date in it is not a real date", field="id_number") from None
    if born > today or today.year - born.year > OLDEST_YEARS:
        raise ValidationFailed("id_number: the birth date in it is not possible", field="id_number")
    return ResidentId(number=number, born=born, sex="m" if int(number[16]) % 2 else "f")


class IdentityProvider(Protocol):
    """Who confirms that a name and an ID number belong together (a wallet's real-name check, the eID service)."""

    name: str

    def confirms(self, full_name: str, resident_id: ResidentId) -> bool: ...


class FormatOnlyProvider:
    """Development and sandbox: a well-formed number with a name is taken as confirmed.

    No real-name service is reachable from a self-hosted pilot; production configures a provider that
    checks the name against the number (see the README), and this one is refused there.
    """

    name = "format-only"

    def confirms(self, full_name: str, resident_id: ResidentId) -> bool:
        return bool(full_name.strip()) and bool(resident_id.number)
