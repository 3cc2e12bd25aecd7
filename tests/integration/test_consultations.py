"""Online consultations on both engines: intake and red flags, the queue, accepting, chat, closing, access."""

from __future__ import annotations

from datetime import date

from consult_support import FOLLOW_UP, NOTE, account, doctor
from shop import consultation, race
from support import Platform
from yaodao.accounts.model import AuditRecord, FamilyMember, Role
from yaodao.accounts.policy import Actor
from yaodao.care import consult_chat as chat
from yaodao.care import consult_services as consults
from yaodao.care.consultation import Consultation, ConsultParams
from yaodao.kernel.errors import Conflict
from yaodao.kernel.ids import new_id
from yaodao.kernel.paging import PageRequest


def audits(platform: Platform, patient_id: str) -> list[AuditRecord]:
    with platform.container.uow(read_only=True) as uow:
        return uow.audit_log.list_page(PageRequest(1, 200), patient_id=patient_id).items


def get_consult(platform: Platform, consultation_id: str) -> Consultation:
    with platform.container.uow(read_only=True) as uow:
        found = uow.consultations.get(consultation_id)
    assert found is not None
    return found


def test_a_follow_up_intake_queues_a_consultation_with_its_place_and_an_estimated_wait(platform: Platform) -> None:
    patient, headers = account(platform, Role.PATIENT)
    made = platform.client.post("/api/consultations", json=FOLLOW_UP, headers=headers)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["outcome"] == "queued"
    c = body["consultation"]
    assert (c["status"], c["kind"], c["patient_id"]) == ("waiting", "follow_up", patient.id)
    assert c["department"] == body["triage"]["department"] != "emergency"
    doctor(platform, departments=(c["department"],))
    seen = platform.client.get(f"/api/consultations/{c['id']}", headers=headers).json()
    assert seen["queue_place"] >= 1
    assert seen["estimated_wait_s"] is not None
    assert seen["estimated_wait_s"] >= 60
    first = platform.client.post("/api/consultations", json={**FOLLOW_UP, "diagnosis": None}, headers=headers)
    assert first.json()["consultation"]["kind"] == "first_visit"


def test_a_red_flag_queues_nothing_and_answers_with_120_and_the_nearest_emergency_departments(
    platform: Platform,
) -> None:
    patient, headers = account(platform, Role.PATIENT)
    body = {
        "text": "胸口压榨样痛，疼到左臂，一直出冷汗",
        "age_years": 61,
        "sex": "m",
        "location": {"lat": 30.25, "lng": 120.17},
    }
    answer = platform.client.post("/api/consultations", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["outcome"] == "emergency"
    assert out["triage"]["red_flags"]
    assert out["emergency"]["number"] == "120"
    distances = [d["distance_km"] for d in out["emergency"]["nearest"]]
    assert len(distances) == 3
    assert distances == sorted(distances)
    assert distances[0] < 3
    assert platform.client.get("/api/consultations", headers=headers).json()["total"] == 0
    redirected = [r for r in audits(platform, patient.id) if r.outcome == "redirected"]
    assert len(redirected) == 1
    assert redirected[0].resource_type == "consultation"


def test_a_parent_consults_for_a_family_member_and_another_account_cannot_use_that_member(platform: Platform) -> None:
    parent, headers = account(platform, Role.PATIENT)
    _, stranger = account(platform, Role.PATIENT)
    child = FamilyMember(id=new_id(), owner_id=parent.id, name="小明", relation="child", date_of_birth=date(2018, 3, 1))
    with platform.container.uow() as uow:
        uow.family.add(child, platform.clock.now())
        uow.commit()
    body = {"text": "孩子湿疹复诊，皮肤又有点痒", "age_years": 8, "sex": "m", "patient_id": child.id,
            "diagnosis": {"name": "湿疹", "where": "浙大儿院", "when": "2025-06"}}  # fmt: skip
    made = platform.client.post("/api/consultations", json=body, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["consultation"]["patient_id"] == child.id
    assert platform.client.post("/api/consultations", json=body, headers=stranger).status_code == 404
    cid = made.json()["consultation"]["id"]
    assert platform.client.get(f"/api/consultations/{cid}", headers=headers).status_code == 200
    assert platform.client.get(f"/api/consultations/{cid}", headers=stranger).status_code == 404


def test_the_queue_serves_the_most_urgent_then_the_longest_waiting_and_only_the_doctors_departments(
    platform: Platform,
) -> None:
    _, headers = doctor(platform, departments=("endocrinology",))
    p = account(platform, Role.PATIENT)[0].id
    old_routine = consultation(platform, p, department="endocrinology", minutes_ago=20)
    new_urgent = consultation(platform, p, department="endocrinology", urgency="urgent", minutes_ago=1)
    new_routine = consultation(platform, p, department="endocrinology", minutes_ago=2)
    elsewhere = consultation(platform, p, department="dermatology", urgency="urgent", minutes_ago=30)
    listed = platform.client.get("/api/doctor/queue", headers=headers)
    assert listed.status_code == 200, listed.text
    ids = [e["id"] for e in listed.json()["items"]]
    mine = [i for i in ids if i in (old_routine, new_urgent, new_routine)]
    assert mine == [new_urgent, old_routine, new_routine]
    assert elsewhere not in ids
    assert set(listed.json()["items"][0]) == {"id", "kind", "department", "urgency", "language", "waited_s"}
    _, patient_headers = account(platform, Role.PATIENT)
    assert platform.client.get("/api/doctor/queue", headers=patient_headers).status_code == 403


def test_two_doctors_accepting_the_same_consultation_at_once_one_wins_the_other_gets_409(platform: Platform) -> None:
    first, second = doctor(platform, ("neurology",))[0], doctor(platform, ("neurology",))[0]
    p = account(platform, Role.PATIENT)[0].id
    cid = consultation(platform, p, department="neurology")
    results = race(
        2, lambda i: consults.accept(uow=platform.container.uow(), actor=(first, second)[i], consultation_id=cid)
    )
    winners = [r for r in results if isinstance(r, Consultation)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    assert get_consult(platform, cid).doctor_id == winners[0].doctor_id


def test_a_doctor_at_the_concurrency_limit_cannot_accept_another(platform: Platform) -> None:
    _, headers = doctor(platform, ("ophthalmology",), max_concurrent=1)
    p = account(platform, Role.PATIENT)[0].id
    one, two = (consultation(platform, p, department="ophthalmology") for _ in range(2))
    assert platform.client.post(f"/api/doctor/consultations/{one}/accept", headers=headers).status_code == 200
    again = platform.client.post(f"/api/doctor/consultations/{one}/accept", headers=headers)
    assert again.status_code == 409
    assert "active, not waiting" in again.json()["detail"]
    full = platform.client.post(f"/api/doctor/consultations/{two}/accept", headers=headers)
    assert full.status_code == 409
    assert "limit is 1" in full.json()["detail"]
    assert get_consult(platform, two).status.value == "waiting"


def _active(platform: Platform) -> tuple[str, dict[str, str], dict[str, str], str]:
    """A consultation a fresh doctor accepted: its id, the patient's and the doctor's headers, the doctor's id."""
    _, patient_headers = account(platform, Role.PATIENT)
    made = platform.client.post("/api/consultations", json=FOLLOW_UP, headers=patient_headers).json()["consultation"]
    dr, dr_headers = doctor(platform, (made["department"],))
    accepted = platform.client.post(f"/api/doctor/consultations/{made['id']}/accept", headers=dr_headers)
    assert accepted.status_code == 200, accepted.text
    return made["id"], patient_headers, dr_headers, str(dr.user_id)


def test_only_participants_see_a_consultation_and_every_read_writes_one_audit_entry(platform: Platform) -> None:
    cid, patient_headers, dr_headers, _ = _active(platform)
    patient_id = get_consult(platform, cid).patient_id
    _, other_patient = account(platform, Role.PATIENT)
    _, other_doctor = doctor(platform)
    before = len(audits(platform, patient_id))
    for headers in (patient_headers, dr_headers):
        assert platform.client.get(f"/api/consultations/{cid}", headers=headers).status_code == 200
    reads = [r for r in audits(platform, patient_id) if r.action == "read" and r.resource_id == cid]
    assert len(reads) == 2
    assert len(audits(platform, patient_id)) == before + 2
    for headers in (other_patient, other_doctor):
        assert platform.client.get(f"/api/consultations/{cid}", headers=headers).status_code == 404
        assert platform.client.get(f"/api/consultations/{cid}/messages", headers=headers).status_code == 404
    for role in (Role.COURIER, Role.PHARMACIST, Role.STORE_STAFF):
        _, headers = account(platform, role)
        assert platform.client.get(f"/api/consultations/{cid}", headers=headers).status_code == 403
        assert platform.client.get("/api/consultations", headers=headers).status_code == 403
    assert len(audits(platform, patient_id)) == before + 2
    assert platform.client.get(f"/api/consultations/{cid}").status_code == 401


def test_messages_are_stored_in_sequence_a_resend_returns_the_stored_copy_and_pages_by_sequence(
    platform: Platform,
) -> None:
    cid, patient_headers, dr_headers, _ = _active(platform)
    url = f"/api/consultations/{cid}/messages"
    first = platform.client.post(url, json={"client_msg_id": "p-1", "text": "医生好"}, headers=patient_headers)
    assert first.status_code == 201
    assert first.json()["seq"] == 1
    resend = platform.client.post(url, json={"client_msg_id": "p-1", "text": "医生好"}, headers=patient_headers)
    assert resend.status_code == 200
    assert resend.json() == first.json()
    reply = platform.client.post(url, json={"client_msg_id": "p-1", "text": "你好"}, headers=dr_headers)
    assert reply.status_code == 201
    assert reply.json()["seq"] == 2
    for i in range(3):
        platform.client.post(url, json={"client_msg_id": f"d-{i}", "text": f"问题{i}"}, headers=dr_headers)
    page = platform.client.get(f"{url}?after=1&limit=2", headers=patient_headers).json()
    assert [m["seq"] for m in page["items"]] == [2, 3]
    assert page["has_more"]
    assert page["last_seq"] == 5
    rest = platform.client.get(f"{url}?after=3&limit=2", headers=patient_headers).json()
    assert [m["seq"] for m in rest["items"]] == [4, 5]
    assert not rest["has_more"]
    marked = platform.client.post(f"/api/consultations/{cid}/read", json={"seq": 99}, headers=patient_headers)
    assert marked.json() == {"read_seq": 5}
    lower = platform.client.post(f"/api/consultations/{cid}/read", json={"seq": 2}, headers=patient_headers)
    assert lower.json() == {"read_seq": 5}
    assert platform.client.get(url, headers=dr_headers).json()["patient_read_seq"] == 5
    too_long = platform.client.post(url, json={"client_msg_id": "x", "text": "字" * 2001}, headers=patient_headers)
    assert too_long.status_code == 422
    assert "text" in too_long.text


def test_the_same_message_sent_twice_at_once_is_stored_once(platform: Platform) -> None:
    cid, patient_headers, _, _ = _active(platform)
    owner = get_consult(platform, cid).owner_id
    actor = Actor(user_id=owner, roles=frozenset({Role.PATIENT}))
    results = race(
        2,
        lambda _: chat.post_message(
            uow=platform.container.uow(), actor=actor, consultation_id=cid, client_id="twice", text="在吗"
        ),
    )
    assert all(isinstance(r, chat.Posted) for r in results), results
    assert sorted(r.created for r in results) == [False, True]
    assert {r.message.seq for r in results} == {1}
    listed = platform.client.get(f"/api/consultations/{cid}/messages", headers=patient_headers).json()
    assert [m["client_msg_id"] for m in listed["items"]] == ["twice"]


def test_no_message_before_a_doctor_accepts(platform: Platform) -> None:
    _, headers = account(platform, Role.PATIENT)
    cid = platform.client.post("/api/consultations", json=FOLLOW_UP, headers=headers).json()["consultation"]["id"]
    early = platform.client.post(
        f"/api/consultations/{cid}/messages", json={"client_msg_id": "a", "text": "hi"}, headers=headers
    )
    assert early.status_code == 409
    assert "only while it is active" in early.json()["detail"]


def test_the_doctor_closes_with_the_note_the_patient_rates_once_and_the_doctors_rating_moves(
    platform: Platform,
) -> None:
    cid, patient_headers, dr_headers, doctor_id = _active(platform)
    cancel = platform.client.post(f"/api/consultations/{cid}/cancel", headers=patient_headers)
    assert cancel.status_code == 409
    assert "it is active, not waiting" in cancel.json()["detail"]
    early = platform.client.post(f"/api/consultations/{cid}/rating", json={"stars": 5}, headers=patient_headers)
    assert early.status_code == 409
    assert (
        platform.client.post(f"/api/consultations/{cid}/close", json=NOTE, headers=patient_headers).status_code == 403
    )
    incomplete = platform.client.post(
        f"/api/consultations/{cid}/close", json={**NOTE, "advice": " "}, headers=dr_headers
    )
    assert incomplete.status_code == 422
    assert "note.advice" in incomplete.text
    closed = platform.client.post(f"/api/consultations/{cid}/close", json=NOTE, headers=dr_headers)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["note"] == NOTE
    rated = platform.client.post(f"/api/consultations/{cid}/rating", json={"stars": 4}, headers=patient_headers)
    assert rated.status_code == 200
    assert rated.json()["rating"] == 4
    twice = platform.client.post(f"/api/consultations/{cid}/rating", json={"stars": 5}, headers=patient_headers)
    assert twice.status_code == 409
    with platform.container.uow(read_only=True) as uow:
        found = uow.doctors.get(doctor_id)
    assert found is not None
    assert (found[0].rating, found[0].ratings) == (4.0, 1)


def test_the_patient_cancels_a_waiting_consultation_and_it_leaves_the_queue(platform: Platform) -> None:
    _, headers = account(platform, Role.PATIENT)
    made = platform.client.post("/api/consultations", json=FOLLOW_UP, headers=headers).json()["consultation"]
    _, dr_headers = doctor(platform, (made["department"],))
    cancelled = platform.client.post(f"/api/consultations/{made['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    queue = platform.client.get("/api/doctor/queue", headers=dr_headers).json()["items"]
    assert made["id"] not in [e["id"] for e in queue]
    late = platform.client.post(f"/api/doctor/consultations/{made['id']}/accept", headers=dr_headers)
    assert late.status_code == 409
    assert "cancelled" in late.json()["detail"]


def test_past_their_time_limits_a_waiting_consultation_expires_and_an_active_one_stops_chat(
    platform: Platform,
) -> None:
    cid, patient_headers, dr_headers, _ = _active(platform)
    p = account(platform, Role.PATIENT)
    waiting = platform.client.post("/api/consultations", json=FOLLOW_UP, headers=p[1]).json()["consultation"]["id"]
    start = platform.clock.now()
    try:
        platform.clock.advance(ConsultParams().active_limit)
        chat_late = platform.client.post(
            f"/api/consultations/{cid}/messages",
            json={"client_msg_id": "late", "text": "还在吗"},
            headers=patient_headers,
        )
        assert chat_late.status_code == 409
        assert "expired" in chat_late.json()["detail"]
        closed = platform.client.post(f"/api/consultations/{cid}/close", json=NOTE, headers=dr_headers)
        assert closed.status_code == 200
        assert closed.json()["status"] == "closed"
        platform.clock.advance(ConsultParams().waiting_limit)
        seen = platform.client.get(f"/api/consultations/{waiting}", headers=p[1]).json()
        assert seen["status"] == "expired"
        assert seen["queue_place"] is None
    finally:
        platform.clock.set(start)


def test_a_patients_chat_message_with_a_red_flag_comes_back_flagged_and_is_audited(platform: Platform) -> None:
    cid, patient_headers, dr_headers, _ = _active(platform)
    patient_id = get_consult(platform, cid).patient_id
    url = f"/api/consultations/{cid}/messages"
    calm = platform.client.post(url, json={"client_msg_id": "c1", "text": "今天血压135/85"}, headers=patient_headers)
    assert calm.json()["red_flags"] == []
    flagged = platform.client.post(
        url, json={"client_msg_id": "c2", "text": "突然胸口压榨样痛"}, headers=patient_headers
    )
    assert flagged.status_code == 201
    assert flagged.json()["red_flags"]
    doctor_says = platform.client.post(
        url, json={"client_msg_id": "d1", "text": "有胸痛请立即拨打120"}, headers=dr_headers
    )
    assert doctor_says.json()["red_flags"] == []
    flagged_audits = [r for r in audits(platform, patient_id) if r.detail.get("red_flags")]
    assert len(flagged_audits) == 1
    assert flagged_audits[0].detail["seq"] == "2"


def test_one_doctor_accepting_two_consultations_at_once_stays_within_the_limit(platform: Platform) -> None:
    """The doctor's row is held while accepting, so two simultaneous accepts cannot both pass the limit."""
    me = doctor(platform, ("urology_andrology",), max_concurrent=1)[0]
    p = account(platform, Role.PATIENT)[0].id
    ids = [consultation(platform, p, department="urology_andrology") for _ in range(2)]
    results = race(2, lambda i: consults.accept(uow=platform.container.uow(), actor=me, consultation_id=ids[i]))
    assert sum(isinstance(r, Consultation) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    with platform.container.uow(read_only=True) as uow:
        assert uow.consultations.active_count(str(me.user_id)) == 1
