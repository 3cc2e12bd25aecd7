"""Images in the consultation chat on both engines: upload checks, one transaction, resends, download, sockets."""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from typing import Any

import pytest
from sqlalchemy import func, select

from consult_support import NOTE, account, active_consultation, doctor
from shop import consultation, race
from support import Platform
from yaodao.accounts.model import Role
from yaodao.accounts.policy import Actor
from yaodao.adapters.db import tables as t
from yaodao.care import consult_chat as chat
from yaodao.care.images import ImageLimits
from yaodao.kernel.errors import Conflict

MIB = 1024 * 1024


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\x80" * min(width, 64) for _ in range(min(height, 64)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def jpeg(width: int, height: int) -> bytes:
    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    frame = struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"
    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xC0, frame)
        + b"\xff\xd9"
    )


def upload(
    platform: Platform,
    consultation_id: str,
    headers: dict[str, str],
    data: bytes,
    client_msg_id: str = "img-1",
    text: str | None = None,
    name: str = "photo.png",
    declared: str = "image/png",
) -> Any:
    form = {"client_msg_id": client_msg_id} | ({"text": text} if text is not None else {})
    return platform.client.post(
        f"/api/consultations/{consultation_id}/attachments", headers=headers, data=form,
        files={"file": (name, data, declared)},
    )  # fmt: skip


def stored(platform: Platform, consultation_id: str) -> tuple[int, int]:
    """(image rows, message rows) of the consultation, counted in the database."""
    with platform.container.engine.connect() as conn:
        images = conn.execute(
            select(func.count()).select_from(t.consultation_attachments)
            .where(t.consultation_attachments.c.consultation_id == consultation_id)
        ).scalar_one()  # fmt: skip
        messages = conn.execute(
            select(func.count()).select_from(t.consultation_messages)
            .where(t.consultation_messages.c.consultation_id == consultation_id)
        ).scalar_one()  # fmt: skip
    return int(images), int(messages)


def attachment_reads(platform: Platform, consultation_id: str) -> int:
    """Audit entries that record a read of one of the consultation's images."""
    a = t.audit_events.c
    with platform.container.engine.connect() as conn:
        details = conn.execute(
            select(a.detail).where(a.resource_id == consultation_id, a.action == "read")
        ).scalars()  # fmt: skip
        return sum(1 for d in details if (d or {}).get("part") == "attachment")


def test_an_image_is_stored_with_its_message_and_shown_in_the_transcript(platform: Platform) -> None:
    consultation_id, patient, doctor = active_consultation(platform)
    data = png(3, 2)
    sent = upload(platform, consultation_id, patient, data, text="手背上的皮疹")
    assert sent.status_code == 201, sent.text
    body = sent.json()
    a = body["attachment"]
    assert (body["seq"], body["text"], body["sender_role"]) == (1, "手背上的皮疹", "patient")
    assert (a["content_type"], a["width"], a["height"], a["size_bytes"]) == ("image/png", 3, 2, len(data))
    assert a["url"] == f"/api/consultations/{consultation_id}/attachments/{a['id']}"
    assert stored(platform, consultation_id) == (1, 1)
    text = platform.client.post(
        f"/api/consultations/{consultation_id}/messages", json={"client_msg_id": "t-1", "text": "看到了"},
        headers=doctor,
    )  # fmt: skip
    assert text.status_code == 201
    assert text.json()["attachment"] is None
    items = platform.client.get(f"/api/consultations/{consultation_id}/messages", headers=doctor).json()["items"]
    assert [m["attachment"] and m["attachment"]["id"] for m in items] == [a["id"], None]


def test_the_type_stored_is_the_one_the_bytes_show_not_the_one_declared(platform: Platform) -> None:
    consultation_id, patient, _ = active_consultation(platform)
    sent = upload(platform, consultation_id, patient, jpeg(640, 480), name="scan.png", declared="image/png")
    assert sent.status_code == 201, sent.text
    assert (sent.json()["attachment"]["content_type"], sent.json()["attachment"]["width"]) == ("image/jpeg", 640)
    caption_free = upload(platform, consultation_id, patient, png(1, 1), client_msg_id="img-2")
    assert caption_free.status_code == 201
    assert caption_free.json()["text"] == ""


def test_a_resend_with_the_same_client_msg_id_returns_the_stored_message_and_no_second_image(
    platform: Platform,
) -> None:
    consultation_id, patient, _ = active_consultation(platform)
    first = upload(platform, consultation_id, patient, png(4, 4), client_msg_id="again")
    again = upload(platform, consultation_id, patient, png(4, 4), client_msg_id="again")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["seq"] == first.json()["seq"]
    assert again.json()["attachment"]["id"] == first.json()["attachment"]["id"]
    assert stored(platform, consultation_id) == (1, 1)


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"just some notes, renamed to photo.png\n", 415, "image_type"),
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00", 415, "image_type"),
        (png(2, 2) + b"\x00" * (2 * MIB), 413, "image_size"),
        (b"", 422, "image_empty"),
        (png(5000, 5000), 422, "image_dimensions"),
        (png(3, 2)[:20], 422, "image_header"),
    ],
)
def test_a_refused_image_gets_a_clear_4xx_and_stores_nothing(
    platform: Platform, data: bytes, status: int, code: str
) -> None:
    consultation_id, patient, _ = active_consultation(platform)
    refused = upload(platform, consultation_id, patient, data)
    assert refused.status_code == status, refused.text
    assert refused.json()["code"] == code
    assert refused.json()["errors"][0]["field"] == "file"
    assert stored(platform, consultation_id) == (0, 0)


def test_the_body_limit_lets_a_2_mib_image_through_but_refuses_huge_bodies(platform: Platform) -> None:
    consultation_id, patient, _ = active_consultation(platform)
    full = png(8, 8)
    full += b"\x00" * (2 * MIB - len(full))  # exactly at the image limit, over the ordinary body limit
    assert len(full) > platform.container.settings.max_body_bytes
    assert upload(platform, consultation_id, patient, full).status_code == 201
    huge = upload(platform, consultation_id, patient, b"\x89PNG" + b"\x00" * (4 * MIB), client_msg_id="huge")
    assert huge.status_code == 413
    assert huge.json()["code"] == "body_too_large"
    other = platform.client.post(
        f"/api/consultations/{consultation_id}/messages", headers={**patient, "Content-Type": "application/json"},
        content=b'{"client_msg_id": "x", "text": "' + b"a" * (2 * MIB) + b'"}',
    )  # fmt: skip
    assert other.status_code == 413  # the wider cap is for the upload route only
    assert stored(platform, consultation_id) == (1, 1)


def test_a_sender_may_send_at_most_10_images_per_consultation(platform: Platform) -> None:
    consultation_id, patient, doctor = active_consultation(platform)
    for n in range(10):
        assert upload(platform, consultation_id, patient, png(1, n + 1), client_msg_id=f"n-{n}").status_code == 201
    over = upload(platform, consultation_id, patient, png(2, 2), client_msg_id="n-10")
    assert over.status_code == 409, over.text
    assert "at most 10 images" in over.json()["detail"]
    assert stored(platform, consultation_id) == (10, 10)
    assert upload(platform, consultation_id, patient, png(1, 10), client_msg_id="n-9").status_code == 200  # resend
    assert upload(platform, consultation_id, doctor, png(2, 2), client_msg_id="d-1").status_code == 201  # per sender
    assert stored(platform, consultation_id) == (11, 11)


@pytest.mark.parametrize(("role", "status"), [(Role.PATIENT, 404), (Role.PHARMACIST, 403), (Role.COURIER, 403)])
def test_only_participants_upload_and_download(platform: Platform, role: Role, status: int) -> None:
    consultation_id, patient, _ = active_consultation(platform)
    sent = upload(platform, consultation_id, patient, png(2, 2))
    url = sent.json()["attachment"]["url"]
    _, outsider = account(platform, role)
    assert upload(platform, consultation_id, outsider, png(2, 2), client_msg_id="x").status_code == status
    assert platform.client.get(url, headers=outsider).status_code == status
    assert stored(platform, consultation_id) == (1, 1)
    assert attachment_reads(platform, consultation_id) == 0


def test_an_image_of_another_consultation_is_not_found_through_this_one(platform: Platform) -> None:
    mine, patient, _ = active_consultation(platform)
    theirs, other_patient, _ = active_consultation(platform)
    other = upload(platform, theirs, other_patient, png(2, 2)).json()["attachment"]["id"]
    assert platform.client.get(f"/api/consultations/{mine}/attachments/{other}", headers=patient).status_code == 404


def test_a_closed_or_waiting_consultation_takes_no_image(platform: Platform) -> None:
    consultation_id, patient, doctor = active_consultation(platform)
    shown = upload(platform, consultation_id, patient, png(2, 2))
    assert platform.client.post(f"/api/consultations/{consultation_id}/close", json=NOTE, headers=doctor).is_success
    late = upload(platform, consultation_id, patient, png(2, 2), client_msg_id="late")
    assert late.status_code == 409, late.text
    assert stored(platform, consultation_id) == (1, 1)
    assert platform.client.get(shown.json()["attachment"]["url"], headers=patient).status_code == 200  # still readable


def test_the_download_has_the_stored_type_nosniff_inline_a_strong_etag_and_is_audited(platform: Platform) -> None:
    consultation_id, patient, doctor = active_consultation(platform)
    data = jpeg(32, 16)
    a = upload(platform, consultation_id, patient, data, name="x.webp", declared="image/webp").json()["attachment"]
    got = platform.client.get(a["url"], headers=doctor)
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"] == "inline"
    assert "private" in got.headers["cache-control"]
    etag = got.headers["etag"]
    assert not etag.startswith("W/")  # strong
    assert etag == f'"{hashlib.sha256(data).hexdigest()}"'
    same = platform.client.get(a["url"], headers={**patient, "If-None-Match": etag})
    assert same.status_code == 304
    assert same.content == b""
    assert attachment_reads(platform, consultation_id) == 2
    missing = platform.client.get(f"/api/consultations/{consultation_id}/attachments/nope", headers=patient)
    assert missing.status_code == 404


def _until(ws: Any, kind: str, limit: int = 20) -> dict[str, Any]:
    for _ in range(limit):
        frame: dict[str, Any] = json.loads(ws.receive_text())
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame in {limit} frames")


def test_a_websocket_client_receives_the_image_message(platform: Platform) -> None:
    consultation_id, patient, doctor = active_consultation(platform)
    with platform.client.websocket_connect(f"/ws/consultations/{consultation_id}") as ws:
        ws.send_text(json.dumps({"type": "auth", "token": doctor["Authorization"].removeprefix("Bearer ")}))
        ws.send_text(json.dumps({"type": "hello", "after": 0}))
        _until(ws, "ready")
        sent = upload(platform, consultation_id, patient, png(7, 5), text="照片")
        assert sent.status_code == 201
        frame = _until(ws, "message")
    a = frame["attachment"]
    assert (frame["seq"], frame["sender"], frame["text"]) == (1, "patient", "照片")
    assert (a["id"], a["content_type"], a["width"], a["height"]) == (
        sent.json()["attachment"]["id"], "image/png", 7, 5,
    )  # fmt: skip
    assert a["url"] == sent.json()["attachment"]["url"]


def test_uploads_racing_for_the_last_places_never_exceed_the_count_limit(platform: Platform) -> None:
    patient_user, _ = account(platform, Role.PATIENT)
    doctor_actor, _ = doctor(platform)
    consultation_id = consultation(platform, patient_user.id, doctor_id=doctor_actor.user_id)
    me = Actor(user_id=patient_user.id, roles=patient_user.roles)
    limits = ImageLimits(max_per_sender=2)

    def send(i: int) -> chat.Posted:
        return chat.post_image(
            uow=platform.container.uow(), actor=me, consultation_id=consultation_id, client_id=f"race-{i}",
            data=png(2, i + 1), limits=limits,
        )  # fmt: skip

    results = race(4, send)
    stored_ok = [r for r in results if isinstance(r, chat.Posted) and r.created]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert (len(stored_ok), len(refused)) == (2, 2), results
    assert stored(platform, consultation_id) == (2, 2)
