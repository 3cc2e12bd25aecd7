"""Wallet notifications are believed only when signed by the wallet, addressed to us, and well formed (I5)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from yaodao.payments.notifications import NotificationRejected, parse_and_verify_notification
from yaodao.payments.signing import (
    NOTIFICATION_UNSIGNED,
    canonical_string,
    generate_keypair,
    load_private_key,
    load_public_key,
    sign_rsa2,
)
from yaodao.payments.wallet import TradeStatus

APP_ID, SELLER_ID = "2021000000000001", "2088000000000001"


@pytest.fixture(scope="module")
def wallet_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    private_pem, public_pem = generate_keypair()
    return load_private_key(private_pem), load_public_key(public_pem)


@pytest.fixture(scope="module")
def forger_key() -> rsa.RSAPrivateKey:
    return load_private_key(generate_keypair()[0])


def payment_params(**changes: str) -> dict[str, str]:
    params = {
        "notify_time": "2026-11-25 14:00:03",
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9",
        "app_id": APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": "2026112522001400000000000001",
        "out_trade_no": "ord-7f3a",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "25.80",
        "receipt_amount": "25.80",
        "buyer_id": "2088102100000001",
        "seller_id": SELLER_ID,
        "gmt_payment": "2026-11-25 14:00:02",
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v != "<drop>"}


def signed(params: dict[str, str], key: rsa.RSAPrivateKey) -> dict[str, str]:
    return {**params, "sign": sign_rsa2(key, canonical_string(params, exclude=NOTIFICATION_UNSIGNED))}


def verify(params: dict[str, str], public: rsa.RSAPublicKey) -> object:
    return parse_and_verify_notification(params, wallet_public_key=public, app_id=APP_ID, seller_id=SELLER_ID)


def reason(params: dict[str, str], public: rsa.RSAPublicKey) -> str:
    with pytest.raises(NotificationRejected) as caught:
        verify(params, public)
    return caught.value.reason


def test_a_genuine_payment_notification_is_read_in_fen_and_utc(
    wallet_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey],
) -> None:
    """Amounts become integer fen and Beijing times aware UTC datetimes; the raw parameters are kept."""
    private, public = wallet_keys
    params = signed(payment_params(), private)
    note = parse_and_verify_notification(params, wallet_public_key=public, app_id=APP_ID, seller_id=SELLER_ID)
    assert (note.out_trade_no, note.status, note.total_fen, note.refund_fen) == (
        "ord-7f3a",
        TradeStatus.TRADE_SUCCESS,
        2580,
        0,
    )
    assert note.gmt_payment == datetime(2026, 11, 25, 6, 0, 2, tzinfo=UTC)
    assert note.notify_time == datetime(2026, 11, 25, 6, 0, 3, tzinfo=UTC)
    assert note.buyer_id == "2088102100000001"
    assert note.transition == "paid"
    assert note.raw == params


def test_a_refund_notification_carries_the_refunded_total_and_its_request_number(
    wallet_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey],
) -> None:
    """refund_fee is the total refunded so far; out_biz_no names the refund, and keys its de-duplication."""
    private, public = wallet_keys
    params = payment_params(refund_fee="5.80", gmt_refund="2026-11-25 15:00:00.320", out_biz_no="rf-1")
    note = parse_and_verify_notification(
        signed(params, private), wallet_public_key=public, app_id=APP_ID, seller_id=SELLER_ID
    )
    assert note.refund_fen == 580
    assert note.gmt_refund == datetime(2026, 11, 25, 7, 0, 0, 320000, tzinfo=UTC)
    assert note.transition == "refund:rf-1"


@pytest.mark.parametrize("field", ["total_amount", "out_trade_no", "trade_status", "buyer_id", "notify_id"])
def test_a_field_changed_after_signing_is_a_bad_signature(
    wallet_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey], field: str
) -> None:
    """Changing the amount by one fen (or any other field) after signing is caught."""
    private, public = wallet_keys
    params = signed(payment_params(), private)
    params[field] = {"total_amount": "25.81", "trade_status": "TRADE_CLOSED"}.get(field, params[field] + "0")
    assert reason(params, public) == "bad_signature"


def test_an_added_parameter_breaks_the_signature(wallet_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]) -> None:
    """Every non-empty parameter except sign and sign_type is covered, including ones a forger adds."""
    private, public = wallet_keys
    params = signed(payment_params(), private)
    params["refund_fee"] = "25.80"
    assert reason(params, public) == "bad_signature"


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda p: p.pop("sign"), id="missing-sign"),
        pytest.param(lambda p: p.update(sign=""), id="empty-sign"),
        pytest.param(lambda p: p.update(sign="Zm9yZ2Vk"), id="garbage-sign"),
        pytest.param(lambda p: p.update(sign_type="RSA"), id="sha1-rsa"),
        pytest.param(lambda p: p.pop("sign_type"), id="no-sign-type"),
    ],
)
def test_missing_or_weak_signatures_are_rejected(
    wallet_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey], mutate: object
) -> None:
    """Only an RSA2 signature counts."""
    private, public = wallet_keys
    params = signed(payment_params(), private)
    mutate(params)  # type: ignore[operator]
    assert reason(params, public) == "bad_signature"


def test_a_notification_signed_by_anyone_but_the_wallet_is_rejected(
    wallet_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey], forger_key: rsa.RSAPrivateKey
) -> None:
    """A well-formed notification signed with another key is a forgery."""
    assert reason(signed(payment_params(), forger_key), wallet_keys[1]) == "bad_signature"


def test_a_genuine_notification_for_another_app_is_rejected(
    wallet_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey],
) -> None:
    """The wallet's signature is not enough: it must be addressed to our app_id."""
    private, public = wallet_keys
    assert reason(signed(payment_params(app_id="2021000000009999"), private), public) == "wrong_app"


def test_a_genuine_notification_for_another_seller_is_rejected(
    wallet_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey],
) -> None:
    """…and to our seller_id."""
    private, public = wallet_keys
    assert reason(signed(payment_params(seller_id="2088000000009999"), private), public) == "wrong_seller"


@pytest.mark.parametrize(
    "changes",
    [
        {"out_trade_no": "<drop>"},
        {"trade_no": "<drop>"},
        {"notify_id": "<drop>"},
        {"total_amount": "<drop>"},
        {"total_amount": "25.801"},
        {"total_amount": "-25.80"},
        {"total_amount": "2.58e1"},
        {"refund_fee": "0.1e1"},
        {"refund_fee": "30.00"},
        {"gmt_payment": "2026/11/25 14:00:02"},
        {"notify_time": "tomorrow"},
        {"trade_status": "PAID"},
    ],
)
def test_signed_but_malformed_notifications_are_rejected(
    wallet_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey], changes: dict[str, str]
) -> None:
    """A missing field, a non-money amount, a refund above the total, a bad time or status: malformed."""
    private, public = wallet_keys
    assert reason(signed(payment_params(**changes), private), public) == "malformed"


def test_a_resend_reads_exactly_like_the_first_delivery(
    wallet_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey],
) -> None:
    """The same notify_id and transition each time, so the order service can de-duplicate."""
    private, public = wallet_keys
    params = signed(payment_params(), private)
    first, again = verify(dict(params), public), verify(dict(params), public)
    assert first == again
