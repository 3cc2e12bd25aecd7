"""What the sandbox wallet does with trades: open, pay, close, refund, and the notifications they cause.

Every operation is one store transaction, so a retried request sees the first one's effect:
the same out_trade_no reopens the same trade, the same out_request_no returns the first refund
(``fund_change`` "N"), and the refund total never passes the paid total. An unpaid trade past its
expiry reads as closed (the check is made on access, in the same transaction).

Notifications are produced in the transaction that changes the trade and signed once; the
``Notifier`` delivers them. The sandbox sends none for a close or an expiry.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from yaodao.kernel.clock import Clock
from yaodao.payments.signing import (
    NOTIFICATION_UNSIGNED,
    WALLET_TZ,
    canonical_string,
    fen_to_yuan,
    format_wallet_time,
    parse_wallet_time,
    sign_rsa2,
    yuan_to_fen,
)
from yaodao.payments.wallet import MAX_TIMEOUT_MINUTES, REFERENCE, TradeStatus
from yaodao.wallet_sandbox.config import SandboxConfig
from yaodao.wallet_sandbox.protocol import SUCCESS, refused, text_field
from yaodao.wallet_sandbox.store import RefundRecord, SandboxStore, TradeRecord, WalletTx

_TIMEOUT = re.compile(r"([1-9][0-9]{0,5})([mhd])", re.ASCII)
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 24 * 60}
BUYER_ID = re.compile(r"[0-9A-Za-z_-]{1,32}", re.ASCII)
DEFAULT_BUYER_ID = "2088102100000001"


class SandboxWallet:
    """The sandbox's trade logic over its store; the HTTP app and the pages call these methods."""

    def __init__(self, config: SandboxConfig, store: SandboxStore, clock: Clock) -> None:
        self.config, self.store, self.clock = config, store, clock

    # -- the pay page -------------------------------------------------------------------------

    def open_page_pay(self, app_id: str, biz: Mapping[str, Any], *, notify_url: str, return_url: str) -> TradeRecord:
        """Create the trade for out_trade_no, or reopen it when the same amount comes again."""
        now = self.clock.now()
        out_trade_no = _reference(biz, "out_trade_no")
        total_fen = _amount(biz, "total_amount")
        subject = text_field(biz, "subject")
        expires_at = _expiry(biz, now)
        with self.store.transaction() as tx:
            trade = tx.trade_by_out(app_id, out_trade_no)
            if trade is not None:
                if trade.total_fen != total_fen:
                    raise refused(
                        "ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改 the amount differs from the first request"
                    )
                return _expire_if_due(tx, trade, now)
            if expires_at <= now:
                raise refused("ACQ.TRADE_HAS_CLOSE", "交易已关闭 time_expire has passed")
            return tx.insert_trade(
                app_id=app_id,
                out_trade_no=out_trade_no,
                trade_no=_new_trade_no(now),
                subject=subject,
                total_fen=total_fen,
                notify_url=notify_url,
                return_url=return_url,
                created_at=now,
                expires_at=expires_at,
            )

    def trade(self, trade_no: str) -> TradeRecord | None:
        with self.store.transaction() as tx:
            trade = tx.trade_by_no(trade_no)
            return None if trade is None else _expire_if_due(tx, trade, self.clock.now())

    def confirm(self, trade_no: str, buyer_id: str = "") -> TradeRecord:
        """The buyer pays: TRADE_SUCCESS and a queued notification; paying a paid trade again changes nothing."""
        now = self.clock.now()
        buyer = buyer_id or DEFAULT_BUYER_ID
        if not BUYER_ID.fullmatch(buyer):
            raise refused("ACQ.INVALID_PARAMETER", "参数无效 buyer_id must be 1-32 letters or digits")
        with self.store.transaction() as tx:
            trade = tx.trade_by_no(trade_no)
            if trade is None:
                raise refused("ACQ.TRADE_NOT_EXIST", "交易不存在 no such trade")
            trade = _expire_if_due(tx, trade, now)
            if trade.status is not TradeStatus.WAIT_BUYER_PAY:
                if trade.paid_at is not None:
                    return trade
                raise refused("ACQ.TRADE_HAS_CLOSE", "交易已关闭 the trade is closed")
            tx.update_trade(
                trade.id, status=TradeStatus.TRADE_SUCCESS, refunded_fen=0, buyer_id=buyer, paid_at=now, closed_at=None
            )
            paid = tx.trade_by_no(trade_no)
            assert paid is not None
            self._queue_notification(tx, paid, now, refund=None)
            return paid

    def return_params(self, trade: TradeRecord) -> dict[str, str]:
        """The signed parameters the buyer's browser carries back to return_url after paying."""
        params = {
            "app_id": trade.app_id,
            "auth_app_id": trade.app_id,
            "charset": "utf-8",
            "method": "alipay.trade.page.pay.return",
            "out_trade_no": trade.out_trade_no,
            "seller_id": self._seller_id(trade.app_id),
            "sign_type": "RSA2",
            "timestamp": format_wallet_time(self.clock.now()),
            "total_amount": fen_to_yuan(trade.total_fen),
            "trade_no": trade.trade_no,
            "version": "1.0",
        }
        params["sign"] = sign_rsa2(self.config.private_key, canonical_string(params, exclude=NOTIFICATION_UNSIGNED))
        return params

    # -- gateway methods ----------------------------------------------------------------------

    def query(self, app_id: str, biz: Mapping[str, Any]) -> dict[str, str]:
        now = self.clock.now()
        with self.store.transaction() as tx:
            trade = _expire_if_due(tx, _find(tx, app_id, biz), now)
        body = {
            **SUCCESS,
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "trade_status": trade.status.value,
            "total_amount": fen_to_yuan(trade.total_fen),
            "refund_fee": fen_to_yuan(trade.refunded_fen),
        }
        if trade.paid_at is not None:
            body |= {
                "buyer_pay_amount": fen_to_yuan(trade.total_fen),
                "receipt_amount": fen_to_yuan(trade.total_fen),
                "send_pay_date": format_wallet_time(trade.paid_at),
                "buyer_user_id": trade.buyer_id or "",
            }
        return body

    def close(self, app_id: str, biz: Mapping[str, Any]) -> dict[str, str]:
        """Close an unpaid trade; closing a closed trade again is answered with success."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            trade = _expire_if_due(tx, _find(tx, app_id, biz), now)
            if trade.status is TradeStatus.WAIT_BUYER_PAY:
                tx.update_trade(
                    trade.id,
                    status=TradeStatus.TRADE_CLOSED,
                    refunded_fen=0,
                    buyer_id=None,
                    paid_at=None,
                    closed_at=now,
                )
            elif trade.status is not TradeStatus.TRADE_CLOSED or trade.paid_at is not None:
                raise refused("ACQ.TRADE_STATUS_ERROR", "交易状态不合法 only an unpaid trade can be closed")
        return {**SUCCESS, "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}

    def refund(self, app_id: str, biz: Mapping[str, Any]) -> dict[str, str]:
        """Refund part of a paid trade, once per out_request_no; the full amount closes the trade."""
        now = self.clock.now()
        amount = _amount(biz, "refund_amount")
        reason = text_field(biz, "refund_reason", required=False)
        with self.store.transaction() as tx:
            trade = _find(tx, app_id, biz)
            out_request_no = _reference(biz, "out_request_no") if biz.get("out_request_no") else trade.out_trade_no
            earlier = tx.refund_by_request(trade.id, out_request_no)
            if earlier is not None:
                if earlier.refund_fen != amount:
                    raise refused(
                        "ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求 this out_request_no had another amount"
                    )
                return _refund_body(trade, earlier, fund_change=False)
            trade = _expire_if_due(tx, trade, now)
            if trade.status is not TradeStatus.TRADE_SUCCESS:
                raise refused("ACQ.TRADE_STATUS_ERROR", "交易状态不合法 only a paid, open trade can be refunded")
            if amount > trade.total_fen - trade.refunded_fen:
                raise refused("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限 the refunds would exceed the paid amount")
            total = trade.refunded_fen + amount
            full = total == trade.total_fen
            tx.update_trade(
                trade.id,
                status=TradeStatus.TRADE_CLOSED if full else TradeStatus.TRADE_SUCCESS,
                refunded_fen=total,
                buyer_id=trade.buyer_id,
                paid_at=trade.paid_at,
                closed_at=now if full else None,
            )
            refund = tx.insert_refund(
                trade_id=trade.id,
                out_request_no=out_request_no,
                refund_fen=amount,
                total_refunded_fen=total,
                reason=reason,
                at=now,
            )
            refunded = tx.trade_by_no(trade.trade_no)
            assert refunded is not None
            self._queue_notification(tx, refunded, now, refund=refund)
        return _refund_body(refunded, refund, fund_change=True)

    def refund_query(self, app_id: str, biz: Mapping[str, Any]) -> dict[str, str]:
        """One refund by out_request_no; a refund that never happened answers without refund_amount."""
        with self.store.transaction() as tx:
            trade = _find(tx, app_id, biz)
            out_request_no = _reference(biz, "out_request_no") if biz.get("out_request_no") else trade.out_trade_no
            refund = tx.refund_by_request(trade.id, out_request_no)
        body = {**SUCCESS, "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}
        if refund is not None:
            body |= {
                "out_request_no": refund.out_request_no,
                "total_amount": fen_to_yuan(trade.total_fen),
                "refund_amount": fen_to_yuan(refund.refund_fen),
                "refund_status": "REFUND_SUCCESS",
                "gmt_refund_pay": format_wallet_time(refund.created_at),
            }
        return body

    # -- notifications ------------------------------------------------------------------------

    def _seller_id(self, app_id: str) -> str:
        app = self.config.app(app_id)
        return app.seller_id if app is not None else ""

    def _queue_notification(
        self, tx: WalletTx, trade: TradeRecord, now: datetime, *, refund: RefundRecord | None
    ) -> None:
        notify_id = secrets.token_hex(16)
        params = {
            "notify_time": format_wallet_time(now),
            "notify_type": "trade_status_sync",
            "notify_id": notify_id,
            "app_id": trade.app_id,
            "auth_app_id": trade.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "trade_status": trade.status.value,
            "total_amount": fen_to_yuan(trade.total_fen),
            "receipt_amount": fen_to_yuan(trade.total_fen),
            "buyer_pay_amount": fen_to_yuan(trade.total_fen),
            "buyer_id": trade.buyer_id or "",
            "seller_id": self._seller_id(trade.app_id),
            "subject": trade.subject,
            "gmt_create": format_wallet_time(trade.created_at),
            "gmt_payment": format_wallet_time(trade.paid_at) if trade.paid_at else "",
        }
        if refund is not None:
            millis = refund.created_at.astimezone(WALLET_TZ).microsecond // 1000
            params |= {
                "refund_fee": fen_to_yuan(trade.refunded_fen),
                "gmt_refund": f"{format_wallet_time(refund.created_at)}.{millis:03d}",
                "out_biz_no": refund.out_request_no,
            }
        if trade.closed_at is not None:
            params["gmt_close"] = format_wallet_time(trade.closed_at)
        params = {k: v for k, v in params.items() if v != ""}
        params["sign"] = sign_rsa2(self.config.private_key, canonical_string(params, exclude=NOTIFICATION_UNSIGNED))
        tx.insert_notification(
            notify_id=notify_id, trade_id=trade.id, notify_url=trade.notify_url, params=params, at=now
        )


def _find(tx: WalletTx, app_id: str, biz: Mapping[str, Any]) -> TradeRecord:
    if biz.get("out_trade_no"):
        trade = tx.trade_by_out(app_id, _reference(biz, "out_trade_no"))
    elif biz.get("trade_no"):
        trade = tx.trade_by_no(_reference(biz, "trade_no"))
        trade = trade if trade is not None and trade.app_id == app_id else None
    else:
        raise refused("ACQ.INVALID_PARAMETER", "参数无效 out_trade_no or trade_no is required")
    if trade is None:
        raise refused("ACQ.TRADE_NOT_EXIST", "交易不存在 no such trade")
    return trade


def _expire_if_due(tx: WalletTx, trade: TradeRecord, now: datetime) -> TradeRecord:
    if trade.status is not TradeStatus.WAIT_BUYER_PAY or now < trade.expires_at:
        return trade
    tx.update_trade(
        trade.id,
        status=TradeStatus.TRADE_CLOSED,
        refunded_fen=0,
        buyer_id=None,
        paid_at=None,
        closed_at=trade.expires_at,
    )
    closed = tx.trade_by_no(trade.trade_no)
    assert closed is not None
    return closed


def _refund_body(trade: TradeRecord, refund: RefundRecord, *, fund_change: bool) -> dict[str, str]:
    return {
        **SUCCESS,
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_user_id": trade.buyer_id or "",
        "fund_change": "Y" if fund_change else "N",
        "refund_fee": fen_to_yuan(refund.total_refunded_fen),
        "send_back_fee": fen_to_yuan(refund.refund_fen),
        "gmt_refund_pay": format_wallet_time(refund.created_at),
    }


def _reference(biz: Mapping[str, Any], name: str) -> str:
    value = biz.get(name)
    if not isinstance(value, str) or not REFERENCE.fullmatch(value):
        raise refused("ACQ.INVALID_PARAMETER", f"参数无效 {name} must be 1-64 letters, digits or '_.:-'")
    return value


def _amount(biz: Mapping[str, Any], name: str) -> int:
    """A positive yuan amount given as text; numbers are refused, as floats are never money."""
    value = biz.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError(name)
        amount = yuan_to_fen(value)
    except ValueError as exc:
        raise refused("ACQ.INVALID_PARAMETER", f"参数无效 {name} must be yuan text such as '12.30'") from exc
    if amount <= 0:
        raise refused("ACQ.INVALID_PARAMETER", f"参数无效 {name} must be at least 0.01")
    return amount


def _expiry(biz: Mapping[str, Any], now: datetime) -> datetime:
    """time_expire (Beijing time) wins over timeout_express ('90m', '2h', '1d'); the default is 15 days."""
    latest = now + timedelta(minutes=MAX_TIMEOUT_MINUTES)
    if biz.get("time_expire"):
        try:
            return min(parse_wallet_time(text_field(biz, "time_expire")), latest)
        except ValueError as exc:
            raise refused("ACQ.INVALID_PARAMETER", "参数无效 time_expire must be 'YYYY-MM-DD HH:MM:SS'") from exc
    if biz.get("timeout_express"):
        match = _TIMEOUT.fullmatch(text_field(biz, "timeout_express"))
        if match is None:
            raise refused("ACQ.INVALID_PARAMETER", "参数无效 timeout_express must look like '30m', '2h' or '1d'")
        return min(now + timedelta(minutes=int(match.group(1)) * _UNIT_MINUTES[match.group(2)]), latest)
    return latest


def _new_trade_no(now: datetime) -> str:
    # The wallet's shape: the Beijing date, then digits; 28 characters in all.
    return f"{now.astimezone(WALLET_TZ):%Y%m%d}2200{secrets.randbelow(10**16):016d}"
