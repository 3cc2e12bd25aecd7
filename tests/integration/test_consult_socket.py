"""The chat WebSocket in-process: who may connect, acks after storing, resends, bad frames, closing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from consult_support import NOTE, account, active_consultation
from support import Platform
from yaodao.accounts.model import Role
from yaodao.accounts.policy import Actor
from yaodao.care.consult_follow import follow
from yaodao.care.consultation import ConsultParams, ConsultStatus
from yaodao.kernel.errors import NotFound


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _until(ws: Any, kind: str, limit: int = 20) -> dict[str, Any]:
    for _ in range(limit):
        frame: dict[str, Any] = json.loads(ws.receive_text())
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame in {limit} frames")


def _open(client: TestClient, consultation_id: str, headers: dict[str, str], after: int = 0) -> Any:
    ws = client.websocket_connect(f"/ws/consultations/{consultation_id}").__enter__()
    ws.send_text(json.dumps({"type": "auth", "token": _token(headers)}))
    ws.send_text(json.dumps({"type": "hello", "after": after}))
    return ws


def test_a_message_is_acked_once_stored_reaches_the_other_side_and_a_resend_is_not_doubled(
    platform: Platform,
) -> None:
    consultation_id, patient, doctor = active_consultation(platform)
    client = platform.client
    p, d = _open(client, consultation_id, patient), _open(client, consultation_id, doctor)
    try:
        assert _until(p, "ready")["last_seq"] == 0
        _until(d, "ready")
        p.send_text(json.dumps({"type": "message", "client_msg_id": "m-1", "text": "医生您好"}))
        ack = _until(p, "ack")
        assert (ack["client_msg_id"], ack["seq"], ack["created"]) == ("m-1", 1, True)
        seen = _until(d, "message")
        assert (seen["seq"], seen["text"], seen["sender"]) == (1, "医生您好", "patient")
        p.send_text(json.dumps({"type": "message", "client_msg_id": "m-1", "text": "医生您好"}))
        again = _until(p, "ack")
        assert (again["seq"], again["created"]) == (1, False)
        d.send_text(json.dumps({"type": "read", "seq": 1}))
        assert _until(d, "read_ack")["seq"] == 1
    finally:
        p.close()
        d.close()
    stored = client.get(f"/api/consultations/{consultation_id}/messages", headers=patient).json()
    assert [(m["seq"], m["client_msg_id"]) for m in stored["items"]] == [(1, "m-1")]
    assert stored["doctor_read_seq"] == 1


def test_reconnecting_with_hello_gets_exactly_what_was_missed(platform: Platform) -> None:
    consultation_id, patient, doctor = active_consultation(platform)
    client = platform.client
    for n in range(1, 4):
        sent = client.post(
            f"/api/consultations/{consultation_id}/messages", json={"client_msg_id": f"x-{n}", "text": f"第{n}条"},
            headers=doctor,
        )  # fmt: skip
        assert sent.status_code == 201, sent.text
    ws = _open(client, consultation_id, patient, after=1)
    try:
        frames = [json.loads(ws.receive_text()) for _ in range(3)]
    finally:
        ws.close()
    assert [(f["type"], f.get("seq")) for f in frames] == [("message", 2), ("message", 3), ("ready", None)]


@pytest.mark.parametrize("role", [None, Role.PATIENT, Role.PHARMACIST, Role.COURIER])
def test_only_the_two_participants_may_connect(platform: Platform, role: Role | None) -> None:
    """No token: 4401; another patient: 4404; staff roles without consultation access: 4403."""
    consultation_id, _, _ = active_consultation(platform)
    expected = {None: 4401, Role.PATIENT: 4404, Role.PHARMACIST: 4403, Role.COURIER: 4403}[role]
    with platform.client.websocket_connect(f"/ws/consultations/{consultation_id}") as ws:
        token = _token(account(platform, role)[1]) if role else "not-a-token"
        ws.send_text(json.dumps({"type": "auth", "token": token}))
        ws.send_text(json.dumps({"type": "hello", "after": 0}))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == expected


def test_bad_frames_get_an_error_and_the_socket_stays_open(platform: Platform) -> None:
    consultation_id, patient, _ = active_consultation(platform)
    ws = _open(platform.client, consultation_id, patient)
    try:
        _until(ws, "ready")
        for bad in ("not json", "[1, 2]", json.dumps({"type": "dance"}), "x" * 20_000):
            ws.send_text(bad)
            assert _until(ws, "error")["code"] in {"bad_frame", "unknown_type"}
        ws.send_text(json.dumps({"type": "message", "client_msg_id": "e-1", "text": "   "}))
        assert _until(ws, "error")["client_msg_id"] == "e-1"
        ws.send_text(json.dumps({"type": "message", "client_msg_id": 7, "text": "hi"}))
        assert _until(ws, "error")["code"] == "validation_failed"
        ws.send_text(json.dumps({"type": "ping"}))
        assert _until(ws, "pong") == {"type": "pong"}
    finally:
        ws.close()
    stored = platform.client.get(f"/api/consultations/{consultation_id}/messages", headers=patient).json()
    assert stored["items"] == []


def test_closing_the_consultation_closes_the_sockets(platform: Platform) -> None:
    consultation_id, patient, doctor = active_consultation(platform)
    ws = _open(platform.client, consultation_id, patient)
    try:
        _until(ws, "ready")
        closed = platform.client.post(f"/api/consultations/{consultation_id}/close", json=NOTE, headers=doctor)
        assert closed.status_code == 200, closed.text
        assert _until(ws, "closed")["status"] == "closed"
    finally:
        ws.close()


def test_following_reads_without_writing_until_the_consultation_is_overdue_then_records_the_expiry(
    platform: Platform,
) -> None:
    """The socket's once-a-second poll: a live consultation is read as it is; one past its time limit is
    marked expired by the poll itself (and the socket is then told it closed)."""
    consultation_id, patient, _ = active_consultation(platform)
    me = platform.client.get("/api/auth/me", headers=patient).json()
    actor = Actor(user_id=me["id"], roles=frozenset({Role.PATIENT}))
    live = follow(uow_factory=platform.container.uow, actor=actor, consultation_id=consultation_id, after_seq=0)
    assert live.status is ConsultStatus.ACTIVE
    with platform.container.uow(read_only=True) as uow:
        version = uow.consultations.get(consultation_id).version
    platform.clock.advance(ConsultParams().active_limit + timedelta(minutes=1))
    try:
        late = follow(uow_factory=platform.container.uow, actor=actor, consultation_id=consultation_id, after_seq=0)
    finally:
        platform.clock.advance(-(ConsultParams().active_limit + timedelta(minutes=1)))
    assert late.status is ConsultStatus.EXPIRED
    assert not late.is_open
    with platform.container.uow(read_only=True) as uow:
        stored = uow.consultations.get(consultation_id)
    assert stored.status is ConsultStatus.EXPIRED
    assert stored.version == version + 1
    stranger = Actor(user_id="someone-else", roles=frozenset({Role.PATIENT}))
    with pytest.raises(NotFound):
        follow(uow_factory=platform.container.uow, actor=stranger, consultation_id=consultation_id, after_seq=0)
