"""ASGI middleware: a body-size cap (413 before any parsing) and request ids."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _problem_bytes(status: int, title: str, detail: str, code: str) -> bytes:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code, "errors": []}
    return json.dumps(body).encode()


class BodyLimit:
    """Refuse bodies larger than ``max_bytes``, whether declared by Content-Length or streamed.

    ``wider`` names the few upload routes (a path pattern and its own cap) whose bodies may be larger.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, wider: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.wider = [(re.compile(pattern), cap) for pattern, cap in wider]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        cap = next((c for pattern, c in self.wider if pattern.match(path)), self.max_bytes)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > cap
            except ValueError:
                too_big = True
            if too_big:
                await self._reject(send, cap)
                return
        seen = 0
        rejected = False

        async def limited_receive() -> Message:
            nonlocal seen, rejected
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    rejected = True
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(send, cap)

    async def _reject(self, send: Send, cap: int) -> None:
        body = _problem_bytes(413, "Request too large", f"the body exceeds {cap} bytes", "body_too_large")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class RequestId:
    """Give each request an id (or keep a sane one the client sent) and echo it in X-Request-Id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if sent.isalnum() and len(sent) <= 64 else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_id)
