"""The wallet provider port over HTTP: an Alipay-style OpenAPI client (``gateway.do``, RSA2).

Every request carries the common parameters (app_id, method, format, charset=utf-8,
sign_type=RSA2, Beijing ``timestamp``, version=1.0, biz_content as JSON) signed with the app's
private key. Every response is verified with the wallet's public key before it is read: the
signature covers the exact JSON text of the ``<method>_response`` value, so the document is
split without re-serialising it. Anything that cannot be trusted (transport error, non-200,
missing or bad signature, malformed fields, a code meaning "try again") is ProviderUnavailable;
a definite business answer is ProviderRefused with the wallet's sub code.

``Trade.refunded_fen`` is read from the query's ``refund_fee``, which the sandbox always sends; a
gateway that leaves it out reads as 0, so reconcile refunds with ``query_refund`` per out_request_no.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2
from cryptography.hazmat.primitives.asymmetric import rsa

from yaodao.kernel.clock import Clock, SystemClock
from yaodao.payments.signing import (
    MAX_AMOUNT_FEN,
    canonical_string,
    fen_to_yuan,
    format_wallet_time,
    load_private_key,
    load_public_key,
    parse_wallet_time,
    sign_rsa2,
    verify_rsa2,
    yuan_to_fen,
)
from yaodao.payments.wallet import (
    MAX_TIMEOUT_MINUTES,
    ProviderRefused,
    ProviderUnavailable,
    RefundResult,
    Trade,
    TradeStatus,
    check_reference,
)

RETRYABLE_CODES = frozenset({"20000", "ACQ.SYSTEM_ERROR", "isp.unknow-error", "aop.unknow-error"})
MAX_SUBJECT = 256


class AlipayStyleClient:
    """PaymentProvider for an Alipay-style wallet (the sandbox, or the real gateway)."""

    def __init__(
        self,
        gateway_url: str,
        app_id: str,
        app_private_key_pem: str,
        wallet_public_key_pem: str,
        *,
        timeout_s: float = 5.0,
        transport: httpx2.BaseTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        if urlsplit(gateway_url).scheme not in ("http", "https"):
            raise ValueError(f"gateway_url must be an http(s) URL, got {gateway_url!r}")
        if not app_id:
            raise ValueError("app_id must not be empty")
        if not timeout_s > 0:
            raise ValueError("timeout_s must be positive")
        self.gateway_url = gateway_url
        self.app_id = app_id
        self._private_key = load_private_key(app_private_key_pem)
        self._wallet_key = load_public_key(wallet_public_key_pem)
        self._clock: Clock = clock or SystemClock()
        self._http = httpx2.Client(transport=transport, timeout=timeout_s)

    def close_connections(self) -> None:
        self._http.close()

    # -- PaymentProvider ----------------------------------------------------------------------

    def pay_url(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        return_url: str,
        timeout_minutes: int,
    ) -> str:
        check_reference("out_trade_no", out_trade_no)
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not 0 < amount_fen <= MAX_AMOUNT_FEN:
            raise ValueError(f"amount_fen must be an int between 1 and {MAX_AMOUNT_FEN}, got {amount_fen!r}")
        if not subject.strip() or len(subject) > MAX_SUBJECT:
            raise ValueError(f"subject must be 1-{MAX_SUBJECT} characters")
        if isinstance(timeout_minutes, bool) or not 1 <= timeout_minutes <= MAX_TIMEOUT_MINUTES:
            raise ValueError(f"timeout_minutes must be between 1 and {MAX_TIMEOUT_MINUTES}")
        for name, url in (("notify_url", notify_url), ("return_url", return_url)):
            if url and urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"{name} must be an http(s) URL")
        biz = {
            "out_trade_no": out_trade_no,
            "product_code": "FAST_INSTANT_TRADE_PAY",
            "total_amount": fen_to_yuan(amount_fen),
            "subject": subject,
            "time_expire": format_wallet_time(self._clock.now() + timedelta(minutes=timeout_minutes)),
        }
        params = self.signed_params("alipay.trade.page.pay", biz, notify_url=notify_url, return_url=return_url)
        return f"{self.gateway_url}?{urlencode(params)}"

    def query(self, out_trade_no: str) -> Trade | None:
        check_reference("out_trade_no", out_trade_no)
        try:
            body = self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        except ProviderRefused as exc:
            if exc.code == "ACQ.TRADE_NOT_EXIST":
                return None
            raise
        with _malformed("alipay.trade.query"):
            if body.get("out_trade_no") != out_trade_no:
                raise ValueError("the response is about another out_trade_no")
            return Trade(
                out_trade_no=out_trade_no,
                trade_no=_text(body, "trade_no"),
                status=TradeStatus(_text(body, "trade_status")),
                total_fen=yuan_to_fen(_text(body, "total_amount")),
                refunded_fen=yuan_to_fen(body.get("refund_fee") or "0"),
                buyer_id=body.get("buyer_user_id") or body.get("buyer_id") or None,
                paid_at=parse_wallet_time(body["send_pay_date"]) if body.get("send_pay_date") else None,
            )

    def close(self, out_trade_no: str) -> bool:
        check_reference("out_trade_no", out_trade_no)
        try:
            self._call("alipay.trade.close", {"out_trade_no": out_trade_no})
        except ProviderRefused as exc:
            if exc.code == "ACQ.TRADE_NOT_EXIST":
                return False
            raise
        return True

    def refund(self, *, out_trade_no: str, out_request_no: str, amount_fen: int, reason: str) -> RefundResult:
        check_reference("out_trade_no", out_trade_no)
        check_reference("out_request_no", out_request_no)
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not 0 < amount_fen <= MAX_AMOUNT_FEN:
            raise ValueError(f"amount_fen must be an int between 1 and {MAX_AMOUNT_FEN}, got {amount_fen!r}")
        biz = {
            "out_trade_no": out_trade_no,
            "out_request_no": out_request_no,
            "refund_amount": fen_to_yuan(amount_fen),
            "refund_reason": reason[:256],
        }
        body = self._call("alipay.trade.refund", biz)
        with _malformed("alipay.trade.refund"):
            if body.get("out_trade_no") != out_trade_no:
                raise ValueError("the response is about another out_trade_no")
            return RefundResult(
                out_request_no=out_request_no,
                refund_fen=yuan_to_fen(body["send_back_fee"]) if body.get("send_back_fee") else amount_fen,
                total_refunded_fen=yuan_to_fen(_text(body, "refund_fee")),
                fund_change=_text(body, "fund_change") == "Y",
            )

    # -- beyond the port: reconciliation ------------------------------------------------------

    def query_refund(self, out_trade_no: str, out_request_no: str) -> int | None:
        """The fen refunded under ``out_request_no``, or None when the wallet made no such refund."""
        check_reference("out_trade_no", out_trade_no)
        check_reference("out_request_no", out_request_no)
        body = self._call(
            "alipay.trade.fastpay.refund.query", {"out_trade_no": out_trade_no, "out_request_no": out_request_no}
        )
        if not body.get("refund_amount") or body.get("refund_status", "REFUND_SUCCESS") != "REFUND_SUCCESS":
            return None
        with _malformed("alipay.trade.fastpay.refund.query"):
            return yuan_to_fen(body["refund_amount"])

    def signed_params(
        self, method: str, biz: Mapping[str, Any], *, notify_url: str = "", return_url: str = ""
    ) -> dict[str, str]:
        """The common parameters for ``method`` with ``biz`` as biz_content, signed with the app's key."""
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": format_wallet_time(self._clock.now()),
            "version": "1.0",
            "biz_content": json.dumps(dict(biz), ensure_ascii=False, separators=(",", ":")),
        }
        if notify_url:
            params["notify_url"] = notify_url
        if return_url:
            params["return_url"] = return_url
        params["sign"] = sign_rsa2(self._private_key, canonical_string(params))
        return params

    def _call(self, method: str, biz: Mapping[str, Any]) -> dict[str, Any]:
        params = self.signed_params(method, biz)
        try:
            response = self._http.post(self.gateway_url, data=params)
        except httpx2.HTTPError as exc:
            raise ProviderUnavailable(f"{method}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise ProviderUnavailable(f"{method}: HTTP {response.status_code}")
        body = verified_response(response.text, method, self._wallet_key)
        code = str(body.get("code", ""))
        if code == "10000":
            return body
        sub_code = str(body.get("sub_code") or code)
        message = str(body.get("sub_msg") or body.get("msg") or "")
        if code in RETRYABLE_CODES or sub_code in RETRYABLE_CODES:
            raise ProviderUnavailable(f"{method}: {sub_code} {message}")
        raise ProviderRefused(sub_code, message)


def verified_response(text: str, method: str, wallet_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The ``<method>_response`` (or ``error_response``) object of a response, once its signature verifies."""
    try:
        members = _top_level_members(text)
    except (ValueError, IndexError) as exc:
        raise ProviderUnavailable(f"{method}: malformed response document") from exc
    key = f"{method.replace('.', '_')}_response"
    if key not in members:
        key = "error_response"
    if key not in members or not isinstance(members[key][0], dict):
        raise ProviderUnavailable(f"{method}: the response has no {method.replace('.', '_')}_response")
    value, raw = members[key]
    sign = members.get("sign", (None, ""))[0]
    if not isinstance(sign, str) or not verify_rsa2(wallet_key, raw, sign):
        raise ProviderUnavailable(f"{method}: the response signature does not verify")
    return dict(value)


def _top_level_members(text: str) -> dict[str, tuple[Any, str]]:
    """Each top-level member of a JSON object with its exact source text; duplicate names are refused."""
    decoder = json.JSONDecoder()
    i = _skip(text, 0)
    if text[i] != "{":
        raise ValueError("not an object")
    i = _skip(text, i + 1)
    members: dict[str, tuple[Any, str]] = {}
    if text[i] == "}":
        i += 1
    else:
        while True:
            name, i = decoder.raw_decode(text, i)
            if not isinstance(name, str) or name in members:
                raise ValueError("bad or repeated member name")
            i = _skip(text, i)
            if text[i] != ":":
                raise ValueError("expected ':'")
            start = _skip(text, i + 1)
            value, end = decoder.raw_decode(text, start)
            members[name] = (value, text[start:end])
            i = _skip(text, end)
            if text[i] == ",":
                i = _skip(text, i + 1)
                continue
            if text[i] != "}":
                raise ValueError("expected ',' or '}'")
            i += 1
            break
    if text[i:].strip():
        raise ValueError("trailing data")
    return members


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} is missing")
    return value


@contextmanager
def _malformed(method: str) -> Iterator[None]:
    """Turn a response field that does not parse into ProviderUnavailable: the answer cannot be trusted."""
    try:
        yield
    except (ValueError, KeyError, TypeError) as exc:
        raise ProviderUnavailable(f"{method}: malformed response: {exc}") from exc
