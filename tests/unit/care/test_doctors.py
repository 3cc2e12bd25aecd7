"""Doctors (D2: verified, three years of practice), their rosters and their load."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from yaodao.care.doctors import (
    MIN_YEARS_PRACTISING,
    Doctor,
    DoctorLoad,
    RosterShift,
    doctors_on_duty,
    roster_gaps,
)
from yaodao.kernel.errors import ValidationFailed

SHANGHAI = ZoneInfo("Asia/Shanghai")
MIDNIGHT = datetime(2026, 3, 2, tzinfo=SHANGHAI)


def make_doctor(doctor_id: str = "dr-zj-1", **changes: object) -> Doctor:
    fields: dict[str, object] = {
        "id": doctor_id,
        "licence_no": "110330100012345",
        "hospital": "浙江大学医学院附属第一医院",
        "province": "zhejiang",
        "city": "hangzhou",
        "departments": ("internal_medicine",),
        "languages": ("zh",),
        "verified": True,
        "years_practising": 8,
        "max_concurrent": 3,
    }
    fields.update(changes)
    return Doctor(**fields)  # type: ignore[arg-type]


def at(hours: float) -> datetime:
    return MIDNIGHT + timedelta(hours=hours)


def test_a_verified_doctor_with_three_years_of_practice_may_consult() -> None:
    """D2: the threshold is exactly three years of independent practice."""
    assert make_doctor(years_practising=MIN_YEARS_PRACTISING).may_consult
    assert not make_doctor(years_practising=MIN_YEARS_PRACTISING - 1).may_consult


def test_an_unverified_doctor_may_not_consult() -> None:
    """D2: real-name authentication and the licence check come before any consultation."""
    assert not make_doctor(verified=False, years_practising=20).may_consult


def test_every_broken_field_is_named() -> None:
    """A record with several problems reports each one against its field."""
    with pytest.raises(ValidationFailed) as caught:
        make_doctor(departments=("astrology",), languages=(), max_concurrent=0, licence_no="x")
    fields = {f for f, _ in caught.value.errors}
    assert fields == {"departments", "languages", "max_concurrent", "licence_no"}


def test_a_rating_needs_ratings_behind_it() -> None:
    """A mean rating without any rating, or ratings without a mean, is refused."""
    with pytest.raises(ValidationFailed) as caught:
        make_doctor(rating=4.5, ratings=0)
    assert caught.value.field == "rating"
    with pytest.raises(ValidationFailed):
        make_doctor(rating=None, ratings=3)


def test_ratings_after_consultations_average_the_stars() -> None:
    """The first rating sets the mean; later ones move it, and the count follows."""
    doctor = make_doctor().rated(4).rated(5).rated(3)
    assert doctor.ratings == 3
    assert doctor.rating == pytest.approx((4 + 5 + 3) / 3)


@pytest.mark.parametrize("stars", [0, 6, True])
def test_a_rating_is_one_to_five_whole_stars(stars: int) -> None:
    """Anything else is refused, naming the field."""
    with pytest.raises(ValidationFailed) as caught:
        make_doctor().rated(stars)
    assert caught.value.field == "stars"


def test_a_shift_covers_its_start_but_not_its_end() -> None:
    """Back-to-back shifts hand over without overlap."""
    shift = RosterShift("dr-zj-1", at(8), at(12))
    assert shift.on_duty(at(8))
    assert shift.on_duty(at(11.99))
    assert not shift.on_duty(at(12))
    assert not shift.on_duty(at(7.99))


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (datetime(2026, 3, 2, 8), at(12), "start"),  # noqa: DTZ001 - the naive time is the point
        (at(12), at(12), "end"),
        (at(0), at(25), "end"),
    ],
)
def test_a_shift_is_aware_forward_and_at_most_a_day(start: datetime, end: datetime, field: str) -> None:
    """Naive times, empty or backward shifts and shifts over 24 hours are refused."""
    with pytest.raises(ValidationFailed) as caught:
        RosterShift("dr-zj-1", start, end)
    assert caught.value.field == field


def test_on_duty_means_rostered_now_and_allowed_to_consult() -> None:
    """Off-shift doctors and rostered doctors who may not consult are left out."""
    day = make_doctor("day")
    night = make_doctor("night")
    unverified = make_doctor("unverified", verified=False)
    shifts = [
        RosterShift("day", at(8), at(20)),
        RosterShift("night", at(20), at(32)),
        RosterShift("unverified", at(8), at(20)),
    ]
    assert doctors_on_duty([day, night, unverified], shifts, at(9)) == [day]
    assert doctors_on_duty([day, night, unverified], shifts, at(23)) == [night]


def test_three_shifts_end_to_end_cover_the_day() -> None:
    """No gap when the shifts chain through 24 hours."""
    shifts = [RosterShift(f"d{i}", at(8 * i), at(8 * i + 8)) for i in range(3)]
    assert roster_gaps(shifts, at(0), at(24)) == []


def test_a_missing_night_shows_as_a_gap() -> None:
    """The uncovered span is reported with its bounds."""
    shifts = [RosterShift("a", at(0), at(2)), RosterShift("b", at(6), at(24))]
    assert roster_gaps(shifts, at(0), at(24)) == [(at(2), at(6))]


def test_a_department_is_covered_only_by_doctors_who_may_treat_it() -> None:
    """A paediatrician's shift does not cover dermatology; an unverified dermatologist's does not either."""
    doctors = [
        make_doctor("paed", departments=("paediatrics",)),
        make_doctor("derm", departments=("dermatology",)),
        make_doctor("derm-unverified", departments=("dermatology",), verified=False),
    ]
    shifts = [
        RosterShift("paed", at(0), at(24)),
        RosterShift("derm", at(0), at(12)),
        RosterShift("derm-unverified", at(12), at(24)),
    ]
    assert roster_gaps(shifts, at(0), at(24), doctors=doctors, department="paediatrics") == []
    assert roster_gaps(shifts, at(0), at(24), doctors=doctors, department="dermatology") == [(at(12), at(24))]


def test_free_slots_are_never_negative() -> None:
    """A doctor over the limit (the limit was lowered mid-shift) has no free slot, not a negative one."""
    doctor = make_doctor(max_concurrent=2)
    assert DoctorLoad(doctor, 0).free_slots == 2
    assert DoctorLoad(doctor, 3).free_slots == 0
    with pytest.raises(ValidationFailed):
        DoctorLoad(doctor, -1)


def test_doctors_are_immutable_values() -> None:
    """A rating returns a new doctor; the old record is unchanged."""
    doctor = make_doctor()
    rated = doctor.rated(5)
    assert doctor.ratings == 0
    assert doctor.rating is None
    assert rated != doctor
    with pytest.raises(dataclasses.FrozenInstanceError):
        doctor.verified = False  # type: ignore[misc]
