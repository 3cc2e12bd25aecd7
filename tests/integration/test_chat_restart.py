"""The consultation chat survives a killed server: no message lost, none doubled.

A real platform process (``yaodao run``) and two real WebSocket clients, the patient and the doctor,
take turns sending messages. Twice the server is killed with SIGKILL: once right after a frame went
out and before its acknowledgement could come back, once between messages. Each client does what
a phone does: reconnect, say hello with the last sequence number it saw, and send again whatever
was not acknowledged, under the same client message id. Afterwards the stored transcript holds
every message exactly once, in one unbroken sequence, and each client saw every message of the
other side exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from support import free_port
from yaodao.accounts.model import Role, User
from yaodao.adapters.db import migrate
from yaodao.adapters.passwords import Argon2Passwords
from yaodao.bootstrap import bootstrap
from yaodao.care.doctors import Doctor
from yaodao.kernel.ids import new_id
from yaodao.seed import seed
from yaodao.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
PASSWORD = "chat-restart-password-2026"
TURNS = 30
KILL_AFTER_SEND = 9  # killed with the frame sent and its ack not yet read
KILL_BETWEEN = 21  # killed between two messages


def _http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Server:
    def __init__(self, folder: Path, db_url: str) -> None:
        self.folder, self.port = folder, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ, "YAODAO_DATABASE_URL": db_url, "YAODAO_PORT": str(self.port), "YAODAO_ENV": "test",
            "YAODAO_WALLET_SERVE": "false", "YAODAO_WALLET_DATA_DIR": str(folder / "wallet"),
            "YAODAO_PUBLIC_BASE_URL": self.base,
        }  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.folder / "server.log").open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "yaodao.cli", "run", "--no-seed"], env=self.env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not come up; see server.log")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


@dataclass
class Phone:
    """One participant's chat client, as a phone app would behave."""

    server: Server
    consultation_id: str
    token: str
    seen: list[int] = field(default_factory=list)  # seqs of message frames received, in order
    texts: dict[int, str] = field(default_factory=dict)
    ws: ClientConnection | None = None

    def connect(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.ws is not None:
                    self.ws.close()
                url = f"ws://127.0.0.1:{self.server.port}/ws/consultations/{self.consultation_id}"
                ws = connect(url, open_timeout=5, legacy=True)
                ws.send(json.dumps({"type": "auth", "token": self.token}))
                ws.send(json.dumps({"type": "hello", "after": max(self.seen, default=0)}))
                self.ws = ws
                self.until("ready")
                return
            except (OSError, ConnectionClosed, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def until(self, kind: str, client_msg_id: str | None = None) -> dict[str, Any]:
        """Read frames (keeping every message) until one of ``kind`` (for ``client_msg_id``) arrives."""
        assert self.ws is not None
        while True:
            frame: dict[str, Any] = json.loads(self.ws.recv(timeout=20))
            if frame["type"] == "message":
                self.seen.append(frame["seq"])
                self.texts[frame["seq"]] = frame["text"]
            if frame["type"] == kind and (client_msg_id is None or frame.get("client_msg_id") == client_msg_id):
                return frame

    def send(self, client_msg_id: str, text: str) -> dict[str, Any]:
        assert self.ws is not None
        self.ws.send(json.dumps({"type": "message", "client_msg_id": client_msg_id, "text": text}))
        return self.until("ack", client_msg_id)

    def deliver(self, client_msg_id: str, text: str) -> dict[str, Any]:
        """Send until acknowledged, reconnecting as often as the server goes away."""
        while True:
            try:
                return self.send(client_msg_id, text)
            except (OSError, ConnectionClosed, TimeoutError):
                self.connect()

    def drain(self, last_seq: int) -> None:
        """Read until the message with ``last_seq`` has been seen."""
        while max(self.seen, default=0) < last_seq:
            self.until("message")


@pytest.fixture
def chat(db_url: str, tmp_path: Path) -> Iterator[tuple[Server, str, str, str]]:
    """A running server with an active follow-up consultation: (server, consultation id, patient, doctor token)."""
    migrate.upgrade(db_url)
    container = bootstrap(Settings(env="test", database_url=db_url, wallet_data_dir=tmp_path / "wallet"))
    seed(container, demo_users=False)
    hasher = Argon2Passwords(fast=False)
    users = {}
    with container.uow() as uow:
        now = container.clock.now()
        for role in (Role.PATIENT, Role.DOCTOR):
            user = User(
                id=new_id(), email=f"{role.value}-{uuid.uuid4().hex[:8]}@chat.yaodao.local", display_name=role.value,
                password_hash=hasher.hash(PASSWORD), roles=frozenset({role}),
            )  # fmt: skip
            uow.users.add(user, now)
            users[role] = user
        uow.doctors.add(
            Doctor(
                id=users[Role.DOCTOR].id, licence_no=f"33{uuid.uuid4().hex[:12]}", hospital="浙江省人民医院",
                province="zhejiang", city="hangzhou", departments=("cardiology",), languages=("zh",), verified=True,
                years_practising=12, max_concurrent=3,
            ),
            now,
        )  # fmt: skip
        uow.commit()
    container.close()
    server = Server(tmp_path, db_url)
    server.start()
    try:
        tokens = {}
        for role, user in users.items():
            status, body = _http("POST", f"{server.base}/api/auth/token", {"email": user.email, "password": PASSWORD})
            assert status == 200, body
            tokens[role] = body["access_token"]
        intake = {
            "text": "高血压三年了，一直吃氨氯地平，想复诊续药", "age_years": 58, "sex": "m",
            "diagnosis": {"name": "高血压", "where": "杭州市第一人民医院", "when": "2023-04"},
        }  # fmt: skip
        status, made = _http("POST", f"{server.base}/api/consultations", intake, tokens[Role.PATIENT])
        assert status == 201, made
        consultation_id = made["consultation"]["id"]
        status, body = _http(
            "POST", f"{server.base}/api/doctor/consultations/{consultation_id}/accept", token=tokens[Role.DOCTOR]
        )
        assert status == 200, body
        yield server, consultation_id, tokens[Role.PATIENT], tokens[Role.DOCTOR]
    finally:
        server.stop()


def test_a_killed_server_loses_and_doubles_no_chat_message(chat: tuple[Server, str, str, str]) -> None:
    server, consultation_id, patient_token, doctor_token = chat
    patient, doctor = Phone(server, consultation_id, patient_token), Phone(server, consultation_id, doctor_token)
    patient.connect()
    doctor.connect()
    acks: dict[str, int] = {}
    for turn in range(TURNS):
        sender, other = (patient, doctor) if turn % 2 == 0 else (doctor, patient)
        client_msg_id, text = f"{'pd'[turn % 2]}-{turn}", f"消息 {turn} message"
        if turn == KILL_BETWEEN:
            server.kill()
            server.start()
        if turn == KILL_AFTER_SEND:
            assert sender.ws is not None
            sender.ws.send(json.dumps({"type": "message", "client_msg_id": client_msg_id, "text": text}))
            time.sleep(0.05)  # the server may or may not have stored it: the phone cannot know
            server.kill()
            server.start()
        ack = sender.deliver(client_msg_id, text)
        acks[client_msg_id] = ack["seq"]
        try:
            other.drain(ack["seq"])
        except (OSError, ConnectionClosed, TimeoutError):
            other.connect()
            other.drain(ack["seq"])

    status, transcript = _http(
        "GET", f"{server.base}/api/consultations/{consultation_id}/messages?after=0&limit=200", token=patient_token
    )
    assert status == 200, transcript
    stored = transcript["items"]
    assert [m["seq"] for m in stored] == list(range(1, TURNS + 1))  # none lost, none doubled, no gap
    assert sorted(m["client_msg_id"] for m in stored) == sorted(acks)
    assert {m["client_msg_id"]: m["seq"] for m in stored} == acks
    for phone in (patient, doctor):
        assert len(phone.seen) == len(set(phone.seen)), "a message frame arrived twice"
    # each side saw every message of the other side
    assert {acks[k] for k in acks if k.startswith("d-")} <= set(patient.seen)
    assert {acks[k] for k in acks if k.startswith("p-")} <= set(doctor.seen)
