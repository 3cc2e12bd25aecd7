"""The server-rendered pages that stand in for the wallet app: pay, status and error (zh + en, phone width)."""

from __future__ import annotations

from html import escape

from yaodao.kernel.money import format_yuan
from yaodao.payments.signing import format_wallet_time
from yaodao.payments.wallet import TradeStatus
from yaodao.wallet_sandbox.store import TradeRecord

_STYLE = """
body{margin:0;background:#f2f4f7;font:16px/1.5 -apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;color:#1f2329}
main{max-width:420px;margin:0 auto;padding:16px}
.card{background:#fff;border-radius:12px;padding:20px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.brand{color:#1677ff;font-weight:600;margin:0 0 8px}
.amount{font-size:2.4rem;margin:8px 0 16px;text-align:center}
dl{display:grid;grid-template-columns:auto 1fr;gap:4px 12px;font-size:.9rem;margin:0 0 16px}
dt{color:#646a73}dd{margin:0;word-break:break-all}
label{display:block;font-size:.9rem;color:#646a73;margin-bottom:12px}
input{display:block;width:100%;box-sizing:border-box;padding:10px;font-size:1rem;border:1px solid #d0d3d6;
border-radius:8px}
button{display:block;width:100%;padding:14px;font-size:1.05rem;border:0;border-radius:8px;margin-top:8px}
.pay{background:#1677ff;color:#fff}.cancel{background:#fff;color:#1f2329;border:1px solid #d0d3d6}
.status{text-align:center;font-size:1.2rem}.error{color:#c62828}
"""

_STATUS_TEXT = {
    TradeStatus.WAIT_BUYER_PAY: ("等待付款", "Waiting for payment"),
    TradeStatus.TRADE_SUCCESS: ("支付成功", "Paid"),
    TradeStatus.TRADE_CLOSED: ("交易已关闭", "Closed"),
    TradeStatus.TRADE_FINISHED: ("交易完成", "Finished"),
}


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main><div class="card"><p class="brand">沙箱钱包 Sandbox wallet</p>{body}</div></main></body></html>'
    )


def _details(trade: TradeRecord) -> str:
    rows = [
        ("商品 Item", trade.subject),
        ("商户订单号 Order no.", trade.out_trade_no),
        ("交易号 Trade no.", trade.trade_no),
    ]
    if trade.status is TradeStatus.WAIT_BUYER_PAY:
        rows.append(("付款截止 Pay before", f"{format_wallet_time(trade.expires_at)} (北京时间 Beijing time)"))
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>"


def pay_page(trade: TradeRecord) -> str:
    """The checkout: amount, item, the Pay and Cancel buttons; a trade that is no longer waiting shows its state."""
    if trade.status is not TradeStatus.WAIT_BUYER_PAY:
        return status_page(trade)
    trade_no = escape(trade.trade_no)
    body = (
        f'<h1 class="amount" data-amount-fen="{trade.total_fen}">{escape(format_yuan(trade.total_fen))}</h1>'
        f"{_details(trade)}"
        f'<form method="post" action="/pay/{trade_no}/confirm">'
        '<label>买家账号 Buyer account <input name="buyer_id" maxlength="32" placeholder="2088102100000001" '
        'autocomplete="off"></label>'
        '<button type="submit" class="pay">确认付款 Pay</button></form>'
        f'<form method="post" action="/pay/{trade_no}/cancel">'
        '<button type="submit" class="cancel">取消 Cancel</button></form>'
    )
    return _page("收银台 Checkout", body)


def status_page(trade: TradeRecord, note: str = "") -> str:
    zh, en = _STATUS_TEXT[trade.status]
    extra = f"<p>{escape(note)}</p>" if note else ""
    back = (
        f'<p><a href="/pay/{escape(trade.trade_no)}">返回付款 Back to payment</a></p>'
        if trade.status is TradeStatus.WAIT_BUYER_PAY
        else ""
    )
    body = (
        f'<h1 class="amount">{escape(format_yuan(trade.total_fen))}</h1>'
        f'<p class="status" data-status="{trade.status.value}">{zh} {en}</p>{extra}{_details(trade)}{back}'
    )
    return _page(f"{zh} {en}", body)


def error_page(code: str, message: str) -> str:
    body = f'<p class="status error">出错了 Something went wrong</p><dl><dt>错误码 Code</dt><dd>{escape(code)}</dd>'
    body += f"<dt>原因 Reason</dt><dd>{escape(message)}</dd></dl>"
    return _page("出错了 Error", body)
