"""The wallet's wire format: canonical strings, RSA2 signatures, exact yuan amounts, Beijing times."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from yaodao.payments.signing import (
    MAX_AMOUNT_FEN,
    NOTIFICATION_UNSIGNED,
    canonical_string,
    fen_to_yuan,
    format_wallet_time,
    generate_keypair,
    load_private_key,
    load_public_key,
    parse_wallet_time,
    sign_rsa2,
    verify_rsa2,
    yuan_to_fen,
)


@pytest.fixture(scope="module")
def pems() -> tuple[str, str]:
    return generate_keypair()


@pytest.fixture(scope="module")
def keys(pems: tuple[str, str]) -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    return load_private_key(pems[0]), load_public_key(pems[1])


@pytest.fixture(scope="module")
def other_public_key() -> rsa.RSAPublicKey:
    return load_public_key(generate_keypair()[1])


def test_canonical_string_sorts_keys_skips_empty_values_and_leaves_out_the_signature() -> None:
    """Keys in order, ``k=v`` joined by '&', raw (not URL-encoded) values, empty ones and ``sign`` gone."""
    params = {
        "timestamp": "2026-11-25 14:00:00",
        "app_id": "2021001",
        "sign": "abc",
        "notify_url": "",
        "biz_content": '{"subject":"布洛芬 & 对乙酰氨基酚"}',
        "sign_type": "RSA2",
    }
    assert canonical_string(params) == (
        'app_id=2021001&biz_content={"subject":"布洛芬 & 对乙酰氨基酚"}&sign_type=RSA2&timestamp=2026-11-25 14:00:00'
    )


def test_notifications_are_verified_without_sign_type() -> None:
    """The wallet signs a notification over everything but ``sign`` and ``sign_type``."""
    params = {"b": "2", "a": "1", "sign": "x", "sign_type": "RSA2"}
    assert canonical_string(params, exclude=NOTIFICATION_UNSIGNED) == "a=1&b=2"


def test_a_signature_verifies_with_the_matching_public_key(
    keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey],
) -> None:
    """sign_rsa2 is SHA256withRSA (PKCS#1 v1.5) in base64, checked here with the primitives directly."""
    private, public = keys
    content = "app_id=2021001&total_amount=12.30&subject=感冒灵"
    signature = sign_rsa2(private, content)
    public.verify(base64.b64decode(signature), content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    assert verify_rsa2(public, content, signature)


def test_a_changed_amount_or_a_foreign_key_fails_verification(
    keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey], other_public_key: rsa.RSAPublicKey
) -> None:
    """One fen more, or someone else's key, and the signature no longer holds."""
    private, public = keys
    signature = sign_rsa2(private, "total_amount=12.30")
    assert not verify_rsa2(public, "total_amount=12.31", signature)
    assert not verify_rsa2(other_public_key, "total_amount=12.30", signature)


@pytest.mark.parametrize(
    "garbage",
    ["", "not base64!", "QUJD", "====", "A" * 400, "ÿÿÿÿ", "QUJD\n", " QUJD"],
)
def test_garbage_signatures_are_false_not_errors(
    keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey], garbage: str
) -> None:
    """verify_rsa2 answers False for anything that is not a valid signature; it never raises."""
    assert verify_rsa2(keys[1], "a=1", garbage) is False


@given(text=st.text(max_size=600))
def test_no_text_is_accepted_as_a_signature_or_raises(
    keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey], text: str
) -> None:
    """Random text is never a valid signature and never crashes verification."""
    assert verify_rsa2(keys[1], "a=1", text) is False


def test_a_tampered_signature_fails(keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]) -> None:
    """Flipping one byte of a genuine signature breaks it."""
    private, public = keys
    raw = bytearray(base64.b64decode(sign_rsa2(private, "a=1")))
    raw[10] ^= 0x01
    assert not verify_rsa2(public, "a=1", base64.b64encode(bytes(raw)).decode())


def test_keys_load_from_pem_and_from_the_bare_base64_the_console_shows(pems: tuple[str, str]) -> None:
    """The wallet console shows keys without PEM armour; both forms load to the same key."""
    private_pem, public_pem = pems
    bare_public = "".join(line for line in public_pem.splitlines() if not line.startswith("-----"))
    bare_private = "".join(line for line in private_pem.splitlines() if not line.startswith("-----"))
    assert load_public_key(bare_public).public_numbers() == load_public_key(public_pem).public_numbers()
    assert load_private_key(bare_private).private_numbers() == load_private_key(private_pem).private_numbers()
    signature = sign_rsa2(load_private_key(bare_private), "x=1")
    assert verify_rsa2(load_public_key(public_pem), "x=1", signature)


def test_non_rsa_and_unreadable_keys_are_refused() -> None:
    """RSA2 needs RSA: an EC key or junk is a ValueError, never a silent fallback."""
    from cryptography.hazmat.primitives import serialization

    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ValueError, match="RSA"):
        load_public_key(ec_pem)
    with pytest.raises(ValueError, match="public key"):
        load_public_key("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ValueError, match="private key"):
        load_private_key("not a key")
    with pytest.raises(ValueError, match="bits"):
        generate_keypair(1024)


@pytest.mark.parametrize(
    ("fen", "yuan"), [(0, "0.00"), (5, "0.05"), (1230, "12.30"), (100, "1.00"), (MAX_AMOUNT_FEN, "100000000.00")]
)
def test_fen_are_written_as_yuan_with_two_decimals(fen: int, yuan: str) -> None:
    """Integer fen become the wallet's amount text exactly."""
    assert fen_to_yuan(fen) == yuan


@pytest.mark.parametrize(("yuan", "fen"), [("12.30", 1230), ("12.3", 1230), ("12", 1200), ("0.01", 1), ("0", 0)])
def test_yuan_text_is_read_as_exact_fen(yuan: str, fen: int) -> None:
    """One or two decimals, or none."""
    assert yuan_to_fen(yuan) == fen


@pytest.mark.parametrize(
    "text",
    [
        "0.1e1",
        "1e2",
        "-1",
        "+1",
        "1.234",
        " 1",
        "1 ",
        "1.",
        ".5",
        "01",
        "00.10",
        "1,000",
        "1_000",
        "１２",
        "٣",
        "",
        "NaN",
        "inf",
        "0x10",
        "12.30\n",
        "100000000.01",
        "9999999999",
    ],
)
def test_anything_but_plain_yuan_text_is_refused(text: str) -> None:
    """No sign, exponent, whitespace, grouping, leading zero, non-ASCII digit, third decimal or excess."""
    with pytest.raises(ValueError, match=r"amount|yuan"):
        yuan_to_fen(text)


@pytest.mark.parametrize("bad", [1.5, True, "12", None])
def test_only_integers_are_fen(bad: object) -> None:
    """A float, a bool or text is never an amount of fen."""
    with pytest.raises(TypeError):
        fen_to_yuan(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, MAX_AMOUNT_FEN + 1])
def test_fen_outside_the_wallet_range_are_refused(bad: int) -> None:
    """Negative amounts and amounts above the single-payment cap never reach the wire."""
    with pytest.raises(ValueError, match="amount_fen"):
        fen_to_yuan(bad)


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_FEN))
def test_every_amount_survives_the_round_trip(fen: int) -> None:
    """fen -> yuan text -> fen is the identity over the whole range."""
    assert yuan_to_fen(fen_to_yuan(fen)) == fen


def test_wallet_times_are_beijing_wall_clock_and_read_back_as_utc() -> None:
    """06:00 UTC is 14:00 in Beijing; the fraction of gmt_refund is accepted."""
    at = datetime(2026, 11, 25, 6, 0, 5, tzinfo=UTC)
    assert format_wallet_time(at) == "2026-11-25 14:00:05"
    assert format_wallet_time(at.astimezone(timezone(timedelta(hours=-5)))) == "2026-11-25 14:00:05"
    assert parse_wallet_time("2026-11-25 14:00:05") == at
    assert parse_wallet_time("2026-11-25 14:00:05.320") == at + timedelta(milliseconds=320)
    assert parse_wallet_time("2026-11-25 14:00:05").tzinfo is UTC


@pytest.mark.parametrize("text", ["2026-11-25T14:00:00", "2026-13-01 00:00:00", "2026-11-25 14:00", "", "yesterday"])
def test_malformed_wallet_times_are_refused(text: str) -> None:
    """Only 'YYYY-MM-DD HH:MM:SS' with real calendar values is a time."""
    with pytest.raises(ValueError, match=r"time|month|day|hour"):
        parse_wallet_time(text)


def test_naive_datetimes_are_refused_on_the_way_out() -> None:
    """A naive datetime has no instant, so it has no Beijing time."""
    with pytest.raises(ValueError, match="aware"):
        format_wallet_time(datetime(2026, 11, 25, 14, 0))  # noqa: DTZ001
