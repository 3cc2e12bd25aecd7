"""Resident ID numbers (GB 11643-1999): the checks made before any identity provider is asked."""

from __future__ import annotations

from datetime import date

import pytest

from yaodao.accounts.identity import FormatOnlyProvider, parse_resident_id
from yaodao.kernel.errors import ValidationFailed

TODAY = date(2026, 11, 25)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check(first17: str) -> str:
    """The standard's own rule, written out again here: ISO 7064 MOD 11-2."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def test_the_standards_example_gives_its_birth_date_and_sex() -> None:
    parsed = parse_resident_id("11010519491231002x", today=TODAY)  # GB 11643's example, lower-case x
    assert parsed.number == "11010519491231002X"
    assert parsed.born == date(1949, 12, 31)
    assert parsed.sex == "f"  # the 17th digit, 2, is even


def test_an_odd_sequence_digit_is_a_man_and_spaces_are_ignored() -> None:
    number = with_check("33010619900307123")
    parsed = parse_resident_id(" ".join([number[:6], number[6:14], number[14:]]), today=TODAY)
    assert (parsed.born, parsed.sex) == (date(1990, 3, 7), "m")


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "17 digits"),
        ("1101051949123100", "17 digits"),  # too short
        ("11010519491231002Y", "17 digits"),
        ("11010519491231002A", "17 digits"),
        ("110105194912310021", "check character"),  # one digit off
        ("110105194912310O2X", "17 digits"),  # a letter O for a zero
        (with_check("01010519900101123"), "region code"),
        (with_check("33010619900230123"), "not a real date"),  # 30 February
        (with_check("33010620270101123"), "not possible"),  # born next year
        (with_check("33010618800101123"), "not possible"),  # 146 years old
    ],
)
def test_malformed_numbers_are_refused_naming_what_is_wrong(raw: str, says: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_resident_id(raw, today=TODAY)
    assert refused.value.field == "id_number"
    assert says in refused.value.message


def test_the_format_only_provider_needs_a_name() -> None:
    parsed = parse_resident_id("11010519491231002X", today=TODAY)
    assert FormatOnlyProvider().confirms("王芳", parsed)
    assert not FormatOnlyProvider().confirms("  ", parsed)
