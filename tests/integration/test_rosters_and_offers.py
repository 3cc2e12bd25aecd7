"""Rosters and live offers on both engines: the roster API and its validation, coverage gaps, offers made by a
matcher tick, lapsing when the clock moves, accepting, declining, withdrawal by a queue accept, and off-duty
doctors kept out of offers, the queue and the wait estimate.

Each test's doctors and consultations speak a language of their own (``zh-<random>``), so the matcher's
passes over the shared platform never mix them with another test's.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from consult_support import account
from page_session import _hidden, _signed_in
from support import Platform
from yaodao.accounts.model import Role
from yaodao.adapters.db import tables as t
from yaodao.adapters.offer_worker import tick
from yaodao.care.consultation import Consultation, PriorDiagnosis
from yaodao.care.doctors import Doctor
from yaodao.care.offer_services import MatchSummary
from yaodao.care.offers import ConsultOffer, OfferParams, OfferState
from yaodao.kernel.ids import new_id
from yaodao.kernel.paging import PageRequest

SHANGHAI = ZoneInfo("Asia/Shanghai")
PARAMS = OfferParams(offer_seconds=60)
DEPARTMENT = "psychiatry"


def language() -> str:
    return f"zh-{uuid.uuid4().hex[:7]}"  # the column holds 10 characters


def make_doctor(
    platform: Platform, lang: str, *, department: str = DEPARTMENT, max_concurrent: int = 3
) -> tuple[str, dict[str, str]]:
    user, headers = account(platform, Role.DOCTOR)
    with platform.container.uow() as uow:
        uow.doctors.add(
            Doctor(
                id=user.id, licence_no=f"33{uuid.uuid4().hex[:12]}", hospital="浙江省人民医院", province="zhejiang",
                city="hangzhou", departments=(department,), languages=(lang,), verified=True, years_practising=10,
                max_concurrent=max_concurrent,
            ),
            platform.clock.now(),
        )  # fmt: skip
        uow.commit()
    return user.id, headers


def waiting(platform: Platform, lang: str, owner_id: str, *, department: str = DEPARTMENT) -> str:
    consult = Consultation(
        id=new_id(), patient_id=owner_id, owner_id=owner_id, city_id="hangzhou", complaint="焦虑复诊，想续药",
        age_years=40, sex="f", pregnant=False, allergies=(), current_meds=(),
        diagnosis=PriorDiagnosis("焦虑症", "杭州市第七人民医院", "2025-01"), department=department, urgency="routine",
        language=lang, requested_at=platform.clock.now(),
    )  # fmt: skip
    with platform.container.uow() as uow:
        uow.consultations.add(consult)
        uow.commit()
    return consult.id


def slot_around(at: datetime, *, before_min: int, after_min: int) -> dict[str, int]:
    """A Shanghai roster slot from ``before_min`` minutes before ``at`` to ``after_min`` minutes after it."""
    start = (at - timedelta(minutes=before_min)).astimezone(SHANGHAI)
    first = start.hour * 60 + start.minute
    return {"weekday": start.weekday(), "start_minute": first, "end_minute": first + before_min + after_min}


def put_roster(platform: Platform, doctor_id: str, slots: list[dict[str, int]], tz: str = "Asia/Shanghai") -> Any:
    return platform.client.put(
        f"/api/admin/doctors/{doctor_id}/roster",
        json={"timezone": tz, "slots": slots},
        headers=platform.auth(Role.ADMIN),
    )


def off_duty_now(platform: Platform) -> list[dict[str, int]]:
    return [slot_around(platform.clock.now() + timedelta(hours=3), before_min=0, after_min=60)]


def on_duty_now(platform: Platform) -> list[dict[str, int]]:
    return [slot_around(platform.clock.now(), before_min=60, after_min=240)]


def run_tick(platform: Platform) -> MatchSummary:
    return tick(uow_factory=platform.container.uow, params=PARAMS)


def offer(platform: Platform, offer_id: str) -> ConsultOffer:
    with platform.container.uow(read_only=True) as uow:
        found = uow.offers.get(offer_id)
    assert found is not None
    return found


def open_offer_of(platform: Platform, consultation_id: str) -> ConsultOffer | None:
    with platform.container.uow(read_only=True) as uow:
        return uow.offers.open_for(consultation_id)


def my_offers(platform: Platform, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = platform.client.get("/api/doctor/offers", headers=headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


# --- rosters -------------------------------------------------------------------------------------------------


def test_an_admin_sets_a_roster_that_admins_operators_and_the_doctor_read_and_others_may_not(
    platform: Platform,
) -> None:
    doctor_id, doctor_headers = make_doctor(platform, language())
    slots = [
        {"weekday": 6, "start_minute": 1320, "end_minute": 1800},
        {"weekday": 0, "start_minute": 480, "end_minute": 960},
    ]
    put = put_roster(platform, doctor_id, slots)
    assert put.status_code == 200, put.text
    expected = sorted(slots, key=lambda s: (s["weekday"], s["start_minute"]))
    assert put.json() == {"doctor_id": doctor_id, "rostered": True, "timezone": "Asia/Shanghai", "slots": expected}
    for role in (Role.ADMIN, Role.OPERATOR):
        got = platform.client.get(f"/api/admin/doctors/{doctor_id}/roster", headers=platform.auth(role))
        assert got.status_code == 200, got.text
        assert got.json()["slots"] == expected
    own = platform.client.get("/api/doctors/me/roster", headers=doctor_headers)
    assert own.status_code == 200, own.text
    assert own.json()["slots"] == expected
    assert put_roster(platform, doctor_id, slots[:1]).json()["slots"] == slots[:1]  # replaces the week
    for role in (Role.OPERATOR, Role.PATIENT, Role.DOCTOR):
        refused = platform.client.put(
            f"/api/admin/doctors/{doctor_id}/roster", json={"timezone": "Asia/Shanghai", "slots": slots},
            headers=platform.auth(role),
        )  # fmt: skip
        assert refused.status_code == 403, (role, refused.text)
    assert (
        platform.client.get(f"/api/admin/doctors/{doctor_id}/roster", headers=platform.auth(Role.PATIENT)).status_code
        == 403
    )
    assert put_roster(platform, "no-such-doctor", slots).status_code == 404
    with platform.container.uow(read_only=True) as uow:
        audited = uow.conn.execute(
            select(func.count())
            .select_from(t.audit_events)
            .where(t.audit_events.c.resource_type == "doctor_roster", t.audit_events.c.resource_id == doctor_id)
        ).scalar_one()
    assert audited == 2


def body_of(*slots: tuple[Any, int, int], tz: str = "Asia/Shanghai") -> dict[str, Any]:
    return {"timezone": tz, "slots": [{"weekday": w, "start_minute": s, "end_minute": e} for w, s, e in slots]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (body_of((7, 0, 60)), "slots[0].weekday"),
        (body_of((0, -5, 60)), "slots[0].start_minute"),
        (body_of((0, 1440, 1500)), "slots[0].start_minute"),
        (body_of((0, 600, 500)), "slots[0].end_minute"),
        (body_of((0, 0, 721)), "slots[0].end_minute"),
        (body_of((2, 480, 960), (2, 900, 1000)), "slots[1]"),
        (body_of((0, 0, 60), tz="Mars/Olympus_Mons"), "timezone"),
        (body_of(), "slots"),
        (body_of(("monday", 0, 60)), "slots.0.weekday"),
    ],
)
def test_a_bad_roster_is_a_422_naming_the_field_and_the_stored_week_is_unchanged(
    platform: Platform, body: dict[str, Any], field: str
) -> None:
    doctor_id, _ = make_doctor(platform, language())
    good = [{"weekday": 1, "start_minute": 60, "end_minute": 120}]
    assert put_roster(platform, doctor_id, good).status_code == 200
    bad = platform.client.put(f"/api/admin/doctors/{doctor_id}/roster", json=body, headers=platform.auth(Role.ADMIN))
    assert bad.status_code == 422, bad.text
    assert field in [e["field"] for e in bad.json()["errors"]]
    got = platform.client.get(f"/api/admin/doctors/{doctor_id}/roster", headers=platform.auth(Role.ADMIN)).json()
    assert got["slots"] == good


def test_coverage_lists_the_hours_nobody_of_the_department_is_on_duty(platform: Platform) -> None:
    """The only orthopaedic doctor works 08:00-20:00 every day: 8 gaps, 84 hours of the week uncovered."""
    doctor_id, _ = make_doctor(platform, language(), department="orthopaedics_surgery")
    week = [{"weekday": d, "start_minute": 480, "end_minute": 1200} for d in range(7)]
    assert put_roster(platform, doctor_id, week).status_code == 200
    monday = "2026-11-30T00:00:00+08:00"
    for role in (Role.ADMIN, Role.OPERATOR):
        found = platform.client.get(
            "/api/admin/rosters/coverage", params={"department": "orthopaedics_surgery", "start": monday},
            headers=platform.auth(role),
        )  # fmt: skip
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["uncovered_minutes"] == 7 * 12 * 60
        assert len(body["uncovered"]) == 8
        first = body["uncovered"][0]
        assert datetime.fromisoformat(first["start"]) == datetime.fromisoformat(monday)
        assert datetime.fromisoformat(first["end"]) == datetime(2026, 11, 30, 8, tzinfo=SHANGHAI)
        assert first["minutes"] == 480
    bad = platform.client.get(
        "/api/admin/rosters/coverage", params={"department": "astrology"}, headers=platform.auth(Role.ADMIN)
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "department"
    assert platform.client.get("/api/admin/rosters/coverage", headers=platform.auth(Role.PATIENT)).status_code == 403


# --- offers --------------------------------------------------------------------------------------------------


def test_a_tick_offers_the_consultation_and_it_lapses_to_the_next_doctor_who_accepts_once(platform: Platform) -> None:
    lang = language()
    patient, _ = account(platform, Role.PATIENT)
    doctors = dict([make_doctor(platform, lang), make_doctor(platform, lang)])
    consult_id = waiting(platform, lang, patient.id)

    made = run_tick(platform)
    first_doctor = made.made[consult_id]
    [shown] = my_offers(platform, doctors[first_doctor])
    assert (shown["consultation_id"], shown["state"], shown["expires_in_s"]) == (consult_id, "open", 60)
    first_offer = shown["id"]
    assert run_tick(platform).made.get(consult_id) is None  # one open offer per consultation

    platform.clock.advance(timedelta(seconds=61))
    moved = run_tick(platform)
    assert first_offer in moved.lapsed
    second_doctor = moved.made[consult_id]
    assert second_doctor != first_doctor
    assert offer(platform, first_offer).state is OfferState.LAPSED
    late = platform.client.post(f"/api/doctor/offers/{first_offer}/accept", headers=doctors[first_doctor])
    assert late.status_code == 409, late.text
    assert my_offers(platform, doctors[first_doctor]) == []

    [second] = my_offers(platform, doctors[second_doctor])
    taken = platform.client.post(f"/api/doctor/offers/{second['id']}/accept", headers=doctors[second_doctor])
    assert taken.status_code == 200, taken.text
    assert (taken.json()["status"], taken.json()["doctor_id"]) == ("active", second_doctor)
    assert offer(platform, second["id"]).state is OfferState.ACCEPTED
    again = platform.client.post(f"/api/doctor/offers/{second['id']}/accept", headers=doctors[second_doctor])
    assert again.status_code == 409, again.text
    with platform.container.uow(read_only=True) as uow:
        entries = uow.audit_log.list_page(PageRequest(1, 200), patient_id=patient.id).items
    states = sorted(e.detail["state"] for e in entries if e.resource_type == "consultation_offer")
    assert states == ["accepted", "lapsed", "open", "open"]


def test_a_declined_offer_goes_to_the_next_doctor_and_never_back(platform: Platform) -> None:
    lang = language()
    patient, _ = account(platform, Role.PATIENT)
    doctors = dict([make_doctor(platform, lang), make_doctor(platform, lang)])
    consult_id = waiting(platform, lang, patient.id)
    first_doctor = run_tick(platform).made[consult_id]
    [first] = my_offers(platform, doctors[first_doctor])
    other = next(d for d in doctors if d != first_doctor)
    assert platform.client.post(f"/api/doctor/offers/{first['id']}/decline", headers=doctors[other]).status_code == 404
    declined = platform.client.post(f"/api/doctor/offers/{first['id']}/decline", headers=doctors[first_doctor])
    assert declined.status_code == 200, declined.text
    assert declined.json()["state"] == "declined"
    assert run_tick(platform).made[consult_id] == other
    [second] = my_offers(platform, doctors[other])
    assert platform.client.post(f"/api/doctor/offers/{second['id']}/decline", headers=doctors[other]).status_code == 200
    assert consult_id not in run_tick(platform).made  # both passed: nobody is offered it again
    assert open_offer_of(platform, consult_id) is None


def test_a_queue_accept_withdraws_the_open_offer(platform: Platform) -> None:
    lang = language()
    patient, _ = account(platform, Role.PATIENT)
    doctors = dict([make_doctor(platform, lang), make_doctor(platform, lang)])
    consult_id = waiting(platform, lang, patient.id)
    offered_to = run_tick(platform).made[consult_id]
    open_one = open_offer_of(platform, consult_id)
    assert open_one is not None
    other = next(d for d in doctors if d != offered_to)
    taken = platform.client.post(f"/api/doctor/consultations/{consult_id}/accept", headers=doctors[other])
    assert taken.status_code == 200, taken.text
    assert offer(platform, open_one.id).state is OfferState.WITHDRAWN
    late = platform.client.post(f"/api/doctor/offers/{open_one.id}/accept", headers=doctors[offered_to])
    assert late.status_code == 409, late.text
    assert "withdrawn" in late.json()["detail"]


def test_an_off_duty_doctor_gets_no_offer_no_queue_and_does_not_count_in_the_wait(platform: Platform) -> None:
    lang = language()
    patient, patient_headers = account(platform, Role.PATIENT)
    off_id, off_headers = make_doctor(platform, lang)
    assert put_roster(platform, off_id, off_duty_now(platform)).status_code == 200
    consult_id = waiting(platform, lang, patient.id)

    seen = platform.client.get(f"/api/consultations/{consult_id}", headers=patient_headers).json()
    assert seen["queue_place"] >= 1  # the department's queue is shared with other languages
    assert seen["estimated_wait_s"] is None  # the only suitable doctor is off duty
    assert consult_id not in run_tick(platform).made
    queue = platform.client.get("/api/doctor/queue", headers=off_headers).json()["items"]
    assert consult_id not in [e["id"] for e in queue]
    refused = platform.client.post(f"/api/doctor/consultations/{consult_id}/accept", headers=off_headers)
    assert refused.status_code == 409, refused.text

    assert put_roster(platform, off_id, on_duty_now(platform)).status_code == 200  # now on duty
    seen = platform.client.get(f"/api/consultations/{consult_id}", headers=patient_headers).json()
    assert seen["estimated_wait_s"] is not None
    assert run_tick(platform).made[consult_id] == off_id
    queue = platform.client.get("/api/doctor/queue", headers=off_headers).json()["items"]
    assert consult_id in [e["id"] for e in queue]


def test_the_console_shows_open_offers_above_the_queue_and_accepting_one_opens_the_consultation(
    platform: Platform,
) -> None:
    lang = language()
    patient, _ = account(platform, Role.PATIENT)
    doctor_id, _ = make_doctor(platform, lang)
    other_id, _ = make_doctor(platform, lang)
    consult_id = waiting(platform, lang, patient.id)
    offered_to = run_tick(platform).made[consult_id]
    with platform.container.uow(read_only=True) as uow:
        user = uow.users.get(offered_to)
    assert user is not None
    browser = _signed_in(platform, user)
    console = browser.get("/doctor").text
    offer_id = my_offers_of(platform, consult_id)
    assert f'data-id="{offer_id}"' in console
    assert console.index('id="offers"') < console.index('id="queue"')
    form = _hidden(console, f"/doctor/offers/{offer_id}/accept")
    taken = browser.post(f"/doctor/offers/{offer_id}/accept", data=form)
    assert taken.status_code == 303, taken.text
    assert taken.headers["location"] == f"/consultations/{consult_id}"
    assert offer(platform, offer_id).state is OfferState.ACCEPTED
    assert {doctor_id, other_id} >= {offered_to}


def my_offers_of(platform: Platform, consultation_id: str) -> str:
    found = open_offer_of(platform, consultation_id)
    assert found is not None
    return found.id


def test_the_container_runs_the_matcher_loop_and_stops_it(platform: Platform) -> None:
    worker = platform.container.offers
    assert worker is not None
    assert platform.container.settings.offers_enabled
    assert platform.container.settings.offer_tick_s == 5.0
    assert not worker.running  # the test app starts no background work
    worker.start()
    assert worker.running
    worker.stop()
    assert not worker.running


def test_an_open_offer_holds_one_of_the_doctors_slots(platform: Platform) -> None:
    """A doctor taking one consultation at a time is offered one; the second waits until the first is decided."""
    lang = language()
    patient, _ = account(platform, Role.PATIENT)
    doctor_id, headers = make_doctor(platform, lang, max_concurrent=1)
    first, second = waiting(platform, lang, patient.id), waiting(platform, lang, patient.id)
    made = run_tick(platform).made
    assert (made.get(first), made.get(second)) == (doctor_id, None)
    [shown] = my_offers(platform, headers)
    assert platform.client.post(f"/api/doctor/offers/{shown['id']}/decline", headers=headers).status_code == 200
    assert run_tick(platform).made.get(second) == doctor_id
