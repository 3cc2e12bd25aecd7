"""In Chromium: the patient picks an image in the chat and the doctor (second browser context) sees it inline."""

from __future__ import annotations

import struct
import uuid
import zlib

from playwright.sync_api import Browser, expect

from browser_session import signed_in_page
from consult_support import FOLLOW_UP, account
from support import Platform, screenshot
from yaodao.accounts.model import Role
from yaodao.care.doctors import Doctor


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\x40" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_a_patient_sends_an_image_and_the_doctor_sees_it_inline(
    browser: Browser, live_server: str, platform: Platform
) -> None:
    patient_user, patient_headers = account(platform, Role.PATIENT)
    doctor_user, doctor_headers = account(platform, Role.DOCTOR)
    with platform.container.uow() as uow:
        uow.doctors.add(
            Doctor(
                id=doctor_user.id, licence_no=f"33{uuid.uuid4().hex[:12]}", hospital="浙江省人民医院",
                province="zhejiang", city="hangzhou", departments=("cardiology", "internal_medicine"),
                languages=("zh",), verified=True, years_practising=12, max_concurrent=5,
            ),
            platform.clock.now(),
        )  # fmt: skip
        uow.commit()
    made = platform.client.post("/api/consultations", json=FOLLOW_UP, headers=patient_headers)
    assert made.status_code == 201, made.text
    consultation_id = made.json()["consultation"]["id"]
    taken = platform.client.post(f"/api/doctor/consultations/{consultation_id}/accept", headers=doctor_headers)
    assert taken.status_code == 200, taken.text

    patient = signed_in_page(browser, live_server, patient_user.email)
    doctor = signed_in_page(browser, live_server, doctor_user.email)
    for page in (patient, doctor):
        page.goto(f"{live_server}/consultations/{consultation_id}")
        expect(page.locator("#chat-state")).to_contain_text("connected")

    patient.locator("#chat-image").set_input_files(
        files=[{"name": "rash.png", "mimeType": "image/png", "buffer": _png(40, 30)}]
    )
    patient.get_by_label("消息 Message").fill("手背上的皮疹")
    patient.get_by_role("button", name="发送 Send").click()

    seen = doctor.locator("#messages li.theirs img.chat-image")
    expect(seen).to_have_count(1)
    expect(seen).to_have_attribute("width", "40")
    expect(doctor.locator("#messages li.theirs")).to_contain_text("手背上的皮疹")
    doctor.wait_for_function("() => document.querySelector('#messages li.theirs img').naturalWidth === 40")
    mine = patient.locator("#messages li.mine img.chat-image")
    expect(mine).to_have_count(1)
    patient.wait_for_function("() => document.querySelector('#messages li.mine img').naturalHeight === 30")
    screenshot(doctor, "consult-doctor-sees-image")

    patient.locator("#chat-image").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not really an image"}]
    )
    patient.get_by_role("button", name="发送 Send").click()
    expect(patient.locator("#chat-state")).to_contain_text("PNG, JPEG or WebP")
    expect(doctor.locator("#messages img.chat-image")).to_have_count(1)
