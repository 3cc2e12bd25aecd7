"""Checking the wallet's asynchronous notifications before anything believes them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa

from yaodao.payments.signing import NOTIFICATION_UNSIGNED, canonical_string, parse_wallet_time, verify_rsa2, yuan_to_fen
from yaodao.payments.wallet import TradeStatus, WalletNotification

REQUIRED = (
    "notify_id",
    "notify_time",
    "app_id",
    "seller_id",
    "trade_no",
    "out_trade_no",
    "trade_status",
    "total_amount",
)
REASONS = ("bad_signature", "wrong_app", "wrong_seller", "malformed")


class NotificationRejected(Exception):
    """A notification that must not change anything; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def parse_and_verify_notification(
    params: Mapping[str, str], *, wallet_public_key: rsa.RSAPublicKey, app_id: str, seller_id: str
) -> WalletNotification:
    """Verify a notification's RSA2 signature and its addressee, then read it.

    Checks, in order: ``sign_type`` is RSA2 and ``sign`` verifies with the wallet's public key over
    every other parameter except ``sign_type`` (``bad_signature``); ``app_id`` is ours
    (``wrong_app``); ``seller_id`` is ours (``wrong_seller``); the required fields are present and
    amounts and times parse strictly (``malformed``). Any failure raises ``NotificationRejected``;
    reply with something other than ``success`` and change nothing.

    What this function cannot know, and the caller (the order service) must still check before
    applying the transition: that ``out_trade_no`` names one of its own payment intents (unknown
    ones are ignored and flagged), that ``total_fen`` equals that intent's amount exactly, and
    that the transition is new: the wallet resends each notification until it reads ``success``,
    so de-duplicate on (``out_trade_no``, ``transition``) with a state-guarded update, and reply
    ``success`` only after that commit.
    """
    sign = params.get("sign", "")
    if params.get("sign_type") != "RSA2" or not sign:
        raise NotificationRejected("bad_signature", "sign_type must be RSA2 and sign present")
    if not verify_rsa2(wallet_public_key, canonical_string(params, exclude=NOTIFICATION_UNSIGNED), sign):
        raise NotificationRejected("bad_signature", "the signature does not verify with the wallet's key")
    if params.get("app_id") != app_id:
        raise NotificationRejected("wrong_app", f"app_id {params.get('app_id', '')[:40]!r} is not ours")
    if params.get("seller_id") != seller_id:
        raise NotificationRejected("wrong_seller", f"seller_id {params.get('seller_id', '')[:40]!r} is not ours")
    missing = [name for name in REQUIRED if not params.get(name)]
    if missing:
        raise NotificationRejected("malformed", f"missing {', '.join(missing)}")
    try:
        status = TradeStatus(params["trade_status"])
        return WalletNotification(
            notify_id=params["notify_id"],
            notify_time=parse_wallet_time(params["notify_time"]),
            out_trade_no=params["out_trade_no"],
            trade_no=params["trade_no"],
            status=status,
            total_fen=yuan_to_fen(params["total_amount"]),
            refund_fen=yuan_to_fen(params["refund_fee"]) if params.get("refund_fee") else 0,
            seller_id=params["seller_id"],
            app_id=params["app_id"],
            buyer_id=params.get("buyer_id") or None,
            gmt_payment=_optional_time(params, "gmt_payment"),
            gmt_refund=_optional_time(params, "gmt_refund"),
            out_biz_no=params.get("out_biz_no") or None,
            raw=dict(params),
        )
    except ValueError as exc:
        raise NotificationRejected("malformed", str(exc)) from exc


def _optional_time(params: Mapping[str, str], name: str) -> datetime | None:
    value = params.get(name)
    return parse_wallet_time(value) if value else None
