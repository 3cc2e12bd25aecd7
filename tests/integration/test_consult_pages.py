"""The consultation pages over a cookie session: intake, the red-flag stop, the doctor's console, who sees what."""

from __future__ import annotations

import httpx2
from sqlalchemy import select
from starlette.testclient import TestClient

from consult_support import doctor
from page_session import _hidden, _signed_in, _user
from support import Platform
from yaodao.accounts.model import Role
from yaodao.adapters.db import tables as t

FOLLOW_UP = {
    "text": "高血压三年了，一直吃氨氯地平，想复诊续药", "age_years": "58", "sex": "m",
    "diagnosis_name": "高血压", "diagnosis_where": "杭州市第一人民医院", "diagnosis_when": "2023-04",
}  # fmt: skip


def _intake(browser: TestClient, fields: dict[str, str]) -> httpx2.Response:
    form = _hidden(browser.get("/consult").text, "/consult")
    return browser.post("/consult", data={**form, **fields})


def test_a_red_flag_gets_emergency_guidance_and_no_consultation(platform: Platform) -> None:
    user = _user(platform)
    browser = _signed_in(platform, user)
    answer = _intake(browser, {"text": "胸口疼，出冷汗，左臂发麻", "age_years": "61", "sex": "m"})
    assert answer.status_code == 200
    assert 'id="emergency"' in answer.text
    assert "120" in answer.text
    assert 'id="nearest-ed"' in answer.text
    with platform.container.engine.connect() as conn:
        queued = conn.execute(select(t.consultations.c.id).where(t.consultations.c.owner_id == user.id)).all()
        redirected = conn.execute(
            select(t.audit_events.c.outcome).where(
                t.audit_events.c.actor_id == user.id, t.audit_events.c.resource_type == "consultation"
            )
        ).all()
    assert queued == []
    assert [row.outcome for row in redirected] == ["redirected"]


def test_a_follow_up_is_queued_the_doctor_accepts_it_and_a_stranger_cannot_see_it(platform: Platform) -> None:
    browser = _signed_in(platform, _user(platform))
    made = _intake(browser, FOLLOW_UP)
    assert made.status_code == 303, made.text
    url = made.headers["location"]
    page = browser.get(url)
    assert 'data-status="waiting"' in page.text
    assert "复诊 follow-up" in page.text
    cardiologist, _ = doctor(platform)
    with platform.container.uow(read_only=True) as uow:
        user = uow.users.get(str(cardiologist.user_id))
    assert user is not None
    doctor_browser = _signed_in(platform, user)
    console = doctor_browser.get("/doctor")
    consultation_id = url.rsplit("/", 1)[1]
    assert f'data-id="{consultation_id}"' in console.text
    accept = _hidden(console.text, f"/doctor/consultations/{consultation_id}/accept")
    taken = doctor_browser.post(f"/doctor/consultations/{consultation_id}/accept", data=accept)
    assert taken.status_code == 303
    doctor_page = doctor_browser.get(url)
    assert 'id="rx-form"' in doctor_page.text  # a follow-up may be prescribed for
    assert 'data-side="doctor"' in doctor_page.text
    stranger = _signed_in(platform, _user(platform))
    assert stranger.get(url).status_code == 404
    pharmacist = _signed_in(platform, _user(platform, Role.PHARMACIST, platform.pharmacy_id))
    assert pharmacist.get(url).status_code in (403, 404)
    assert pharmacist.get("/doctor").status_code == 403


def test_bad_input_comes_back_with_the_problem_and_a_first_visit_is_marked_as_one(platform: Platform) -> None:
    browser = _signed_in(platform, _user(platform))
    bad = _intake(browser, {"text": "咳嗽三天", "age_years": "abc", "sex": "f"})
    assert bad.status_code == 422
    assert "age" in bad.text
    half = _intake(browser, {"text": "咳嗽三天", "age_years": "30", "sex": "f", "diagnosis_name": "支气管炎"})
    assert half.status_code == 422
    made = _intake(browser, {"text": "咳嗽三天，有点发烧", "age_years": "30", "sex": "f"})
    assert made.status_code == 303
    url = made.headers["location"]
    assert "初诊 first visit" in browser.get(url).text


def test_my_consultations_lists_mine_only_with_an_empty_state_first(platform: Platform) -> None:
    browser = _signed_in(platform, _user(platform))
    assert 'id="consultations-empty"' in browser.get("/consultations").text
    made = _intake(browser, FOLLOW_UP)
    consultation_id = made.headers["location"].rsplit("/", 1)[1]
    listed = browser.get("/consultations").text
    assert f'data-id="{consultation_id}"' in listed
    assert "问诊 Consultations" in listed  # the header link for patients
    stranger = _signed_in(platform, _user(platform))
    assert consultation_id not in stranger.get("/consultations").text
