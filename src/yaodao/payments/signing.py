"""The wallet's wire format: canonical strings, RSA2 signatures, amounts in yuan, Beijing times.

Alipay-style OpenAPI signs a *canonical string*: every parameter except ``sign`` (and, when a
notification is verified, ``sign_type`` too), empty values skipped, keys sorted, ``k=v`` pairs
joined by ``&``, values raw (not URL-encoded). RSA2 is SHA256withRSA (PKCS#1 v1.5) over the
UTF-8 bytes of that string, sent as standard base64.

Amounts travel as yuan strings with at most two decimals ("12.30"); inside yaodao they are
integer fen, so the conversion here is exact and strict. Times travel as Beijing wall-clock
text ("2026-11-25 14:00:00"); inside yaodao they are timezone-aware.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from yaodao.kernel.clock import require_aware

WALLET_TZ = ZoneInfo("Asia/Shanghai")
MAX_AMOUNT_FEN = 10_000_000_000  # ¥100,000,000.00: the largest single amount the wallet accepts
NOTIFICATION_UNSIGNED = ("sign", "sign_type")

_YUAN = re.compile(r"(0|[1-9][0-9]{0,8})(?:\.([0-9]{1,2}))?", re.ASCII)
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?", re.ASCII)
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}", re.ASCII)


def canonical_string(params: Mapping[str, str], *, exclude: Collection[str] = ("sign",)) -> str:
    """``k=v`` pairs sorted by key and joined by ``&``; empty values and ``exclude`` keys left out.

    Requests are signed over everything but ``sign``; notifications are verified over everything
    but ``sign`` and ``sign_type`` (pass ``exclude=NOTIFICATION_UNSIGNED``).
    """
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if key not in exclude and params[key] != "")


def sign_rsa2(private_key: rsa.RSAPrivateKey, content: str) -> str:
    """SHA256withRSA over the UTF-8 bytes of ``content``, as standard base64."""
    signature = private_key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_rsa2(public_key: rsa.RSAPublicKey, content: str, signature_b64: str) -> bool:
    """True only when ``signature_b64`` is a valid RSA2 signature of ``content``; never raises."""
    if not isinstance(signature_b64, str) or not isinstance(content, str) or not _BASE64.fullmatch(signature_b64):
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError, TypeError, UnicodeEncodeError):
        return False
    return True


def generate_keypair(bits: int = 2048) -> tuple[str, str]:
    """A new RSA key pair as (PKCS#8 private PEM, SubjectPublicKeyInfo public PEM)."""
    if bits < 2048:
        raise ValueError("bits must be at least 2048 for RSA2")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return private_key_pem(key), public_key_pem(key.public_key())


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_key_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def load_private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#8 or PKCS#1), or from the bare base64 PKCS#8 the wallet console shows."""
    return _load_private_key(pem.encode("ascii") if isinstance(pem, str) else bytes(pem))


@functools.lru_cache(maxsize=16)
def _load_private_key(data: bytes) -> rsa.RSAPrivateKey:
    # Loading checks the key's consistency, which costs ~0.1 s for RSA-2048; a process loads the same few keys.
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(base64.b64decode(b"".join(data.split()), validate=True), None)
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a readable unencrypted private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("RSA2 needs an RSA private key")
    return key


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    """An RSA public key from PEM, or from the bare base64 SubjectPublicKeyInfo the wallet console shows."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(base64.b64decode(b"".join(data.split()), validate=True))
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a readable public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("RSA2 needs an RSA public key")
    return key


def fen_to_yuan(amount_fen: int) -> str:
    """Integer fen as the wallet's yuan text: 1230 -> '12.30', 5 -> '0.05'."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise TypeError(f"amount_fen must be an int, got {type(amount_fen).__name__}")
    if not 0 <= amount_fen <= MAX_AMOUNT_FEN:
        raise ValueError(f"amount_fen must be between 0 and {MAX_AMOUNT_FEN}, got {amount_fen}")
    yuan, fen = divmod(amount_fen, 100)
    return f"{yuan}.{fen:02d}"


def yuan_to_fen(text: str) -> int:
    """The wallet's yuan text as integer fen, exactly: '12.3' -> 1230.

    Only ASCII digits with an optional '.' and one or two decimals are money: no sign, exponent,
    whitespace, grouping, leading zeros or full-width digits; anything else raises ValueError.
    """
    if not isinstance(text, str):
        raise ValueError(f"amount must be text, got {type(text).__name__}")
    match = _YUAN.fullmatch(text)
    if match is None:
        raise ValueError(f"not a yuan amount with at most two decimals: {text[:40]!r}")
    whole, decimals = match.group(1), (match.group(2) or "").ljust(2, "0")
    amount = int(whole) * 100 + int(decimals)
    if amount > MAX_AMOUNT_FEN:
        raise ValueError(f"amount exceeds {fen_to_yuan(MAX_AMOUNT_FEN)}: {text!r}")
    return amount


def format_wallet_time(at: datetime) -> str:
    """An aware datetime as Beijing wall-clock text, 'YYYY-MM-DD HH:MM:SS'."""
    return require_aware(at).astimezone(WALLET_TZ).strftime("%Y-%m-%d %H:%M:%S")


def parse_wallet_time(text: str) -> datetime:
    """Beijing wall-clock text ('YYYY-MM-DD HH:MM:SS', optional fraction) as an aware UTC datetime."""
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a 'YYYY-MM-DD HH:MM:SS' time: {str(text)[:40]!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micro = int((match.group(7) or "").ljust(6, "0"))
    local = datetime(year, month, day, hour, minute, second, micro, tzinfo=WALLET_TZ)
    return local.astimezone(UTC)
