"""The consultation chat over WebSocket: ``/ws/consultations/{id}``.

Frames are JSON objects with a ``type``. The client speaks first:

1. ``{"type": "auth", "token": "<bearer>"}`` unless the browser's session cookie came with the
   handshake (then the Origin must be this site's own, against cross-site socket hijacking);
2. ``{"type": "hello", "after": N}``: the server sends every message with ``seq > N``, then
   ``{"type": "ready", ...}``, then each new message as it is stored, from either side.

Then, at any time: ``{"type": "message", "client_msg_id": "...", "text": "..."}`` is answered by
``{"type": "ack", "client_msg_id", "seq", "created"}`` only after the message is committed. A client
that lost the ack (a dropped connection, a restarted server) sends the same frame again and gets the
same seq with ``created: false``: nothing is lost and nothing doubles. ``{"type": "read", "seq": N}``
moves the reader's mark; ``{"type": "typing"}`` tells the other side's sockets on this server;
``{"type": "ping"}`` gets a pong. Images go up over HTTP (``POST …/attachments``); their message
frames carry ``attachment`` (id, type, width, height, size, url), null for text. A bad frame gets
``{"type": "error", "code", "detail"}`` and the socket stays open; the server closes it when the
consultation is closed (code 1000) or when the client is not allowed (4401 not signed in, 4403/4404).

New messages reach sockets on other server processes by polling the database every
``POLL_SECONDS``; on this process a post wakes the room's sockets at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from yaodao.accounts.policy import Actor
from yaodao.accounts.services import resolve_token
from yaodao.bootstrap import Container
from yaodao.care.consult_chat import mark_read, post_message, read_messages
from yaodao.care.consult_follow import Update, follow
from yaodao.care.consultation import Message
from yaodao.kernel.errors import DomainError, NotAuthenticated, NotFound, PermissionDenied
from yaodao.web.api_consult import attachment_json
from yaodao.web.deps import SESSION_COOKIE

router = APIRouter()

POLL_SECONDS = 1.0
HANDSHAKE_SECONDS = 10.0
MAX_FRAME_CHARS = 16_000
BURST = 20  # messages a socket may post at once, refilled at RATE per second
RATE = 2.0


@dataclass
class _Room:
    sockets: set[_Socket] = field(default_factory=set)


@dataclass(eq=False)
class _Socket:
    websocket: WebSocket
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))


class _Rooms:
    """This process's open sockets per consultation (an event loop's worth, touched only from it)."""

    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}

    def join(self, consultation_id: str, socket: _Socket) -> None:
        self._rooms.setdefault(consultation_id, _Room()).sockets.add(socket)

    def leave(self, consultation_id: str, socket: _Socket) -> None:
        room = self._rooms.get(consultation_id)
        if room is not None:
            room.sockets.discard(socket)
            if not room.sockets:
                del self._rooms[consultation_id]

    def others(self, consultation_id: str, socket: _Socket) -> list[_Socket]:
        room = self._rooms.get(consultation_id)
        return [s for s in room.sockets if s is not socket] if room else []

    def wake(self, consultation_id: str) -> None:
        room = self._rooms.get(consultation_id)
        for socket in room.sockets if room else ():
            socket.wake.set()


ROOMS = _Rooms()


def message_frame(message: Message) -> dict[str, Any]:
    return {
        "type": "message", "seq": message.seq, "sender": message.sender_role, "client_msg_id": message.client_msg_id,
        "text": message.text, "sent_at": message.sent_at.isoformat(), "attachment": attachment_json(message),
    }  # fmt: skip


def _close_code(exc: DomainError) -> int:
    if isinstance(exc, NotAuthenticated):
        return 4401
    if isinstance(exc, PermissionDenied):
        return 4403
    return 4404 if isinstance(exc, NotFound) else 4400


async def _receive(websocket: WebSocket, timeout: float | None = None) -> dict[str, Any] | None:
    """The next frame as a dict; None for a frame that is not a JSON object (or is too long)."""
    text = await asyncio.wait_for(websocket.receive_text(), timeout)
    if len(text) > MAX_FRAME_CHARS:
        return None
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc == websocket.headers.get("host", "")


async def _authenticate(websocket: WebSocket, container: Container) -> Actor | None:
    ip = websocket.client.host if websocket.client else None
    cookie = websocket.cookies.get(SESSION_COOKIE)
    if cookie and _same_origin(websocket):
        resolved = await run_in_threadpool(resolve_token, uow=container.uow(read_only=True), raw=cookie, ip=ip)
        if resolved is not None and resolved.kind == "cookie":
            return resolved.actor
    frame = await _receive(websocket, HANDSHAKE_SECONDS)
    if frame is None or frame.get("type") != "auth" or not isinstance(frame.get("token"), str):
        return None
    token = str(frame["token"])[:512]
    resolved = await run_in_threadpool(resolve_token, uow=container.uow(read_only=True), raw=token, ip=ip)
    return resolved.actor if resolved is not None and resolved.kind == "bearer" else None


@router.websocket("/ws/consultations/{consultation_id}")
async def consultation_socket(websocket: WebSocket, consultation_id: str) -> None:
    container: Container = websocket.app.state.container
    await websocket.accept()
    try:
        actor = await _authenticate(websocket, container)
        if actor is None:
            await websocket.close(4401, "sign in first")
            return
        hello = await _receive(websocket, HANDSHAKE_SECONDS)
        after = hello.get("after", 0) if hello and hello.get("type") == "hello" else None
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            await websocket.close(4400, "expected {'type': 'hello', 'after': <seq >= 0>}")
            return
        await _serve(websocket, container, actor, consultation_id, after)
    except (WebSocketDisconnect, TimeoutError):
        return


async def _serve(websocket: WebSocket, container: Container, actor: Actor, consultation_id: str, after: int) -> None:
    try:
        opening = await run_in_threadpool(
            read_messages, uow=container.uow(), actor=actor, consultation_id=consultation_id, after_seq=after, limit=200
        )
    except DomainError as exc:
        await websocket.close(_close_code(exc), exc.message[:120])
        return
    socket = _Socket(websocket)
    last = after
    for message in opening.messages:
        await socket.send(message_frame(message))
        last = message.seq
    await socket.send(
        {"type": "ready", "last_seq": opening.last_seq, "patient_read_seq": opening.patient_read_seq,
         "doctor_read_seq": opening.doctor_read_seq}
    )  # fmt: skip
    ROOMS.join(consultation_id, socket)
    pusher = asyncio.create_task(_push(socket, container, actor, consultation_id, last))
    try:
        await _read_frames(socket, container, actor, consultation_id)
    finally:
        ROOMS.leave(consultation_id, socket)
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pusher


async def _push(socket: _Socket, container: Container, actor: Actor, consultation_id: str, last: int) -> None:
    """Send what is new, when woken by a post on this process or every POLL_SECONDS."""
    marks: tuple[int, int] | None = None
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(socket.wake.wait(), POLL_SECONDS)
        socket.wake.clear()
        try:
            update: Update = await run_in_threadpool(
                follow, uow_factory=container.uow, actor=actor, consultation_id=consultation_id, after_seq=last
            )
        except DomainError as exc:
            await socket.websocket.close(_close_code(exc), exc.message[:120])
            return
        for message in update.messages:
            await socket.send(message_frame(message))
            last = message.seq
        if (update.patient_read_seq, update.doctor_read_seq) != marks:
            marks = (update.patient_read_seq, update.doctor_read_seq)
            await socket.send({"type": "read_marks", "patient": marks[0], "doctor": marks[1]})
        if not update.is_open and len(update.messages) < 100:
            await socket.send({"type": "closed", "status": update.status.value})
            await socket.websocket.close(1000, f"the consultation is {update.status.value}")
            return


async def _read_frames(socket: _Socket, container: Container, actor: Actor, consultation_id: str) -> None:
    tokens, refilled = float(BURST), time.monotonic()
    while True:
        frame = await _receive(socket.websocket)
        if frame is None:
            await socket.send({"type": "error", "code": "bad_frame", "detail": "frames are JSON objects up to 16 KB"})
            continue
        kind = frame.get("type")
        if kind == "message":
            now = time.monotonic()
            tokens, refilled = min(BURST, tokens + (now - refilled) * RATE), now
            if tokens < 1:
                await socket.send({"type": "error", "code": "too_many_requests", "detail": "slow down",
                                   "client_msg_id": frame.get("client_msg_id")})  # fmt: skip
                continue
            tokens -= 1
            await _post(socket, container, actor, consultation_id, frame)
        elif kind == "read":
            await _act(
                socket, functools.partial(_mark, container, actor, consultation_id, frame.get("seq")), consultation_id
            )
        elif kind == "typing":
            for other in ROOMS.others(consultation_id, socket):
                with contextlib.suppress(Exception):
                    await other.send({"type": "typing"})
        elif kind == "ping":
            await socket.send({"type": "pong"})
        else:
            await socket.send({"type": "error", "code": "unknown_type", "detail": f"unknown frame type {kind!r}"})


async def _post(
    socket: _Socket, container: Container, actor: Actor, consultation_id: str, frame: dict[str, Any]
) -> None:
    client_id, text = frame.get("client_msg_id"), frame.get("text")
    if not isinstance(client_id, str) or not isinstance(text, str):
        await socket.send({"type": "error", "code": "validation_failed", "client_msg_id": client_id,
                           "detail": "a message frame needs client_msg_id and text, both strings"})  # fmt: skip
        return
    try:
        posted = await run_in_threadpool(
            post_message, uow=container.uow(), actor=actor, consultation_id=consultation_id, client_id=client_id,
            text=text,
        )  # fmt: skip
    except DomainError as exc:
        await socket.send({"type": "error", "code": exc.code, "detail": exc.message, "client_msg_id": client_id})
        return
    await socket.send({"type": "ack", "client_msg_id": client_id, "seq": posted.message.seq, "created": posted.created})
    ROOMS.wake(consultation_id)


def _mark(container: Container, actor: Actor, consultation_id: str, seq: object) -> dict[str, Any]:
    if isinstance(seq, bool) or not isinstance(seq, int):
        return {"type": "error", "code": "validation_failed", "detail": "read needs an integer seq"}
    mark = mark_read(uow=container.uow(), actor=actor, consultation_id=consultation_id, seq=seq)
    return {"type": "read_ack", "seq": mark}


async def _act(socket: _Socket, work: Callable[[], dict[str, Any]], consultation_id: str) -> None:
    try:
        answer = await run_in_threadpool(work)
    except DomainError as exc:
        answer = {"type": "error", "code": exc.code, "detail": exc.message}
    await socket.send(answer)
    ROOMS.wake(consultation_id)
