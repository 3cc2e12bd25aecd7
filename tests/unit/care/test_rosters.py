"""Weekly rosters: validation, on duty at an instant (past midnight, across the week's end, DST), coverage gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from yaodao.care.doctors import Doctor
from yaodao.care.rosters import RosterSlot, WeeklyRoster, on_duty, roster_problems, uncovered
from yaodao.kernel.errors import ValidationFailed

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 3, 2, tzinfo=SHANGHAI)  # a Monday, local midnight


def doctor(did: str, departments: tuple[str, ...] = ("internal_medicine",), **changes: object) -> Doctor:
    fields: dict[str, object] = {
        "id": did, "licence_no": "110330100012345", "hospital": "Provincial People's Hospital",
        "province": "zhejiang", "city": "hangzhou", "departments": departments, "languages": ("zh",),
        "verified": True, "years_practising": 10, "max_concurrent": 3,
    }  # fmt: skip
    fields.update(changes)
    return Doctor(**fields)  # type: ignore[arg-type]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


def test_a_night_slot_runs_past_midnight_into_the_next_day() -> None:
    """Monday 20:00 to Tuesday 04:00 (end 1680): on duty Monday 23:59 and Tuesday 03:59, not at 04:00."""
    roster = WeeklyRoster("Asia/Shanghai", (RosterSlot(0, 20 * 60, 28 * 60),))
    assert not roster.on_duty(at(0, 19, 59))
    assert roster.on_duty(at(0, 20))
    assert roster.on_duty(at(0, 23, 59))
    assert roster.on_duty(at(1, 3, 59))
    assert not roster.on_duty(at(1, 4))
    assert not roster.on_duty(at(1, 20))  # only Mondays


def test_a_sunday_night_slot_covers_monday_morning() -> None:
    roster = WeeklyRoster("Asia/Shanghai", (RosterSlot(6, 22 * 60, 30 * 60),))
    assert roster.on_duty(at(7, 5, 30))  # the next Monday 05:30
    assert roster.on_duty(at(0, 5, 30))  # this Monday 05:30 comes from the Sunday before
    assert not roster.on_duty(at(0, 6))


def test_on_duty_reads_the_instant_in_the_doctors_zone() -> None:
    """08:00-16:00 in Shanghai (UTC+8, no DST) is 00:00-08:00 UTC; in Berlin it follows the summer clock."""
    shanghai = WeeklyRoster("Asia/Shanghai", (RosterSlot(0, 8 * 60, 16 * 60),))
    assert shanghai.on_duty(datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
    assert not shanghai.on_duty(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    berlin = WeeklyRoster("Europe/Berlin", (RosterSlot(0, 8 * 60, 16 * 60),))
    assert berlin.on_duty(datetime(2026, 1, 5, 7, 0, tzinfo=UTC))  # winter: 08:00 CET
    assert not berlin.on_duty(datetime(2026, 7, 6, 14, 30, tzinfo=UTC))  # summer: 16:30 CEST
    assert berlin.on_duty(datetime(2026, 7, 6, 6, 0, tzinfo=UTC))  # summer: 08:00 CEST


def test_no_roster_means_always_on_duty() -> None:
    assert on_duty(None, at(3, 3))


@pytest.mark.parametrize(
    ("timezone", "slots", "field"),
    [
        ("Asia/Shanghai", [RosterSlot(7, 0, 60)], "slots[0].weekday"),
        ("Asia/Shanghai", [RosterSlot(-1, 0, 60)], "slots[0].weekday"),
        ("Asia/Shanghai", [RosterSlot(0, 1440, 1500)], "slots[0].start_minute"),
        ("Asia/Shanghai", [RosterSlot(0, 600, 600)], "slots[0].end_minute"),
        ("Asia/Shanghai", [RosterSlot(0, 0, 12 * 60 + 1)], "slots[0].end_minute"),
        ("Mars/Olympus", [RosterSlot(0, 0, 60)], "timezone"),
        ("Asia/Shanghai", [], "slots"),
        ("Asia/Shanghai", [RosterSlot(0, 480, 960), RosterSlot(0, 900, 1200)], "slots[1]"),
        ("Asia/Shanghai", [RosterSlot(0, 0, 60), RosterSlot(6, 1380, 1500)], "slots[1]"),  # Sunday night into Monday
    ],
)
def test_a_roster_that_breaks_a_rule_is_refused_naming_the_field(
    timezone: str, slots: list[RosterSlot], field: str
) -> None:
    assert [f for f, _ in roster_problems(timezone, slots)] == [field]
    with pytest.raises(ValidationFailed) as refused:
        WeeklyRoster(timezone, tuple(slots))
    assert refused.value.field == field


def test_back_to_back_slots_do_not_overlap() -> None:
    roster = WeeklyRoster("Asia/Shanghai", (RosterSlot(0, 720, 1440), RosterSlot(0, 0, 720), RosterSlot(1, 0, 720)))
    assert [s.start_minute for s in roster.slots] == [0, 720, 0]


def test_coverage_lists_the_minutes_nobody_is_on_duty() -> None:
    """Two doctors cover 08:00-20:00 and 20:00-02:00 every day: the gap is 02:00-08:00, seven times."""
    day = WeeklyRoster("Asia/Shanghai", tuple(RosterSlot(d, 8 * 60, 20 * 60) for d in range(7)))
    night = WeeklyRoster("Asia/Shanghai", tuple(RosterSlot(d, 20 * 60, 26 * 60) for d in range(7)))
    doctors = [doctor("day"), doctor("night")]
    gaps = uncovered(doctors, {"day": day, "night": night}, MONDAY, MONDAY + timedelta(days=7))
    # Monday 00:00-02:00 is the Sunday night slot of the week before.
    assert gaps[0] == (at(0, 2), at(0, 8))
    assert gaps[1] == (at(1, 2), at(1, 8))
    assert gaps[-1] == (at(6, 2), at(6, 8))
    assert len(gaps) == 7
    assert sum((e - s for s, e in gaps), timedelta()) == timedelta(hours=7 * 6)


def test_coverage_of_a_department_counts_only_its_doctors_and_a_doctor_without_roster_covers_all() -> None:
    day = WeeklyRoster("Asia/Shanghai", tuple(RosterSlot(d, 8 * 60, 20 * 60) for d in range(7)))
    derm = doctor("derm", departments=("dermatology",))
    week = (MONDAY, MONDAY + timedelta(days=7))
    assert uncovered([doctor("day"), derm], {"day": day}, *week, department="dermatology") == []
    assert uncovered([doctor("day"), derm], {"day": day}, *week, department="cardiology") == [
        (week[0].astimezone(UTC), week[1].astimezone(UTC))
    ]
    assert len(uncovered([doctor("day")], {"day": day}, *week, department="internal_medicine")) == 8
    junior = doctor("junior", years_practising=1)
    assert uncovered([junior], {}, *week) == [(week[0], week[1])]  # a doctor who may not consult covers nothing


def test_a_slot_on_the_night_the_clocks_go_forward_is_an_hour_shorter_in_real_time() -> None:
    """Berlin, Sunday 29 March 2026: 00:00-12:00 local is 11 hours, from 23:00 UTC to 10:00 UTC."""
    berlin = ZoneInfo("Europe/Berlin")
    roster = WeeklyRoster("Europe/Berlin", (RosterSlot(6, 0, 12 * 60),))
    day = datetime(2026, 3, 29, tzinfo=berlin)
    [shift] = roster.shifts("d1", day, day + timedelta(days=1))
    assert (shift.start, shift.end) == (datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 10, tzinfo=UTC))
    assert shift.end - shift.start == timedelta(hours=11)
