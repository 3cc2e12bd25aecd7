"""The gateway's wire protocol: checking a signed request, and signing a response.

Error answers have the wallet's shape: ``code`` 40001 (a required common parameter is missing),
40002 (a common parameter is invalid: ``isv.invalid-signature``, ``isv.invalid-app-id`` …) or
40004 (a business refusal: ``ACQ.*`` sub codes). A response sits under ``<method>_response``
(dots as underscores), or ``error_response`` when the method itself is unknown, next to a
``sign`` over the exact JSON text of that value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from yaodao.payments.signing import canonical_string, parse_wallet_time, sign_rsa2, verify_rsa2
from yaodao.wallet_sandbox.config import AppRegistration, SandboxConfig

PAGE_PAY = "alipay.trade.page.pay"
QUERY = "alipay.trade.query"
CLOSE = "alipay.trade.close"
REFUND = "alipay.trade.refund"
REFUND_QUERY = "alipay.trade.fastpay.refund.query"
METHODS = frozenset({PAGE_PAY, QUERY, CLOSE, REFUND, REFUND_QUERY})
SUCCESS = {"code": "10000", "msg": "Success"}


class GatewayError(Exception):
    """An answer other than success, in the wallet's terms."""

    def __init__(self, code: str, msg: str, sub_code: str, sub_msg: str) -> None:
        super().__init__(f"{code} {sub_code}: {sub_msg}")
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg

    def body(self) -> dict[str, str]:
        return {"code": self.code, "msg": self.msg, "sub_code": self.sub_code, "sub_msg": self.sub_msg}


def missing(sub_code: str, sub_msg: str) -> GatewayError:
    return GatewayError("40001", "Missing Required Arguments", sub_code, sub_msg)


def invalid(sub_code: str, sub_msg: str) -> GatewayError:
    return GatewayError("40002", "Invalid Arguments", sub_code, sub_msg)


def refused(sub_code: str, sub_msg: str) -> GatewayError:
    return GatewayError("40004", "Business Failed", sub_code, sub_msg)


@dataclass(frozen=True)
class SignedRequest:
    """A request whose signature verified with its app's public key."""

    app: AppRegistration
    method: str
    biz: dict[str, Any]
    params: dict[str, str]


def verify_request(config: SandboxConfig, params: Mapping[str, str]) -> SignedRequest:
    """Check the common parameters and the app's RSA2 signature; raise GatewayError otherwise."""
    app_id = params.get("app_id", "")
    if not app_id:
        raise missing("isv.missing-app-id", "缺少AppID参数 app_id is missing")
    app = config.app(app_id)
    if app is None:
        raise invalid("isv.invalid-app-id", "无效的AppID参数 unknown app_id")
    method = params.get("method", "")
    if not method:
        raise missing("isv.missing-method", "缺少方法名参数 method is missing")
    if method not in METHODS:
        raise invalid("isv.invalid-method", "不存在的方法名 unknown method")
    sign = params.get("sign", "")
    if not sign:
        raise missing("isv.missing-signature", "缺少签名参数 sign is missing")
    if params.get("sign_type") != "RSA2":
        raise invalid("isv.invalid-signature-type", "无效的签名类型 sign_type must be RSA2")
    if not verify_rsa2(app.public_key, canonical_string(params), sign):
        raise invalid("isv.invalid-signature", "验签出错 the signature does not verify with the app's public key")
    if params.get("charset", "utf-8").lower() != "utf-8":
        raise invalid("isv.invalid-charset", "字符集错误 charset must be utf-8")
    if params.get("version", "1.0") != "1.0":
        raise invalid("isv.invalid-version", "版本号错误 version must be 1.0")
    try:
        parse_wallet_time(params.get("timestamp", ""))
    except ValueError as exc:
        raise invalid("isv.invalid-timestamp", "非法的时间戳参数 timestamp must be 'YYYY-MM-DD HH:MM:SS'") from exc
    try:
        biz = json.loads(params.get("biz_content", ""))
    except ValueError as exc:
        raise invalid("isv.invalid-parameter", "biz_content must be a JSON object") from exc
    if not isinstance(biz, dict):
        raise invalid("isv.invalid-parameter", "biz_content must be a JSON object")
    return SignedRequest(app=app, method=method, biz=biz, params=dict(params))


def response_key(method: str | None) -> str:
    return f"{method.replace('.', '_')}_response" if method in METHODS and method else "error_response"


def signed_response(private_key: rsa.RSAPrivateKey, method: str | None, body: Mapping[str, str]) -> str:
    """The response document: ``{"<method>_response": {...}, "sign": "..."}``, the sign over the value's exact text."""
    content = json.dumps(dict(body), ensure_ascii=False, separators=(",", ":"))
    signature = sign_rsa2(private_key, content)
    return f'{{"{response_key(method)}":{content},"sign":"{signature}"}}'


def text_field(biz: Mapping[str, Any], name: str, *, required: bool = True, max_length: int = 256) -> str:
    """A string field of biz_content; a missing, non-text or oversized one is ACQ.INVALID_PARAMETER."""
    value = biz.get(name)
    if value is None or value == "":
        if required:
            raise refused("ACQ.INVALID_PARAMETER", f"参数无效 {name} is required")
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise refused("ACQ.INVALID_PARAMETER", f"参数无效 {name} must be text of at most {max_length} characters")
    return value
