"""The double-entry ledger: accounts, balanced immutable transactions, corrections, captures and refunds."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yaodao.kernel.errors import ValidationFailed
from yaodao.payments.books import (
    DuplicateRefund,
    OrderAmounts,
    RefundExceedsCapture,
    SplitRule,
    capture_order,
    captured_fen,
    payee_shares,
    refund_payment,
    refunded_fen,
    split_order,
)
from yaodao.payments.ledger import (
    COURIER_PAYABLE,
    INSURANCE_POOL,
    PLATFORM_REVENUE,
    WALLET_CLEARING,
    Account,
    AccountKind,
    LedgerTransaction,
    Posting,
    TxnKind,
    apportion,
    balance_of,
    balances,
    claims,
    customer,
    pharmacy_payable,
    pot,
    reverse,
)

AT = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)
SPLIT = SplitRule(commission_bps=500, delivery_share_bps=2_000)  # 5% of items, 20% of delivery
LI, XIHU = "u-li", "ph-xihu"


def capture(amounts: OrderAmounts, split: SplitRule = SPLIT, txn_id: str = "t-cap") -> LedgerTransaction:
    return capture_order(split, txn_id=txn_id, payment_id="pay-1", user_id=LI, pharmacy_id=XIHU, amounts=amounts, at=AT)


def money(
    *lines: tuple[Account, int], kind: TxnKind = TxnKind.CORRECTION, parent: str | None = "t-0"
) -> LedgerTransaction:
    return LedgerTransaction(
        id="t-1",
        kind=kind,
        reference="ref-1",
        postings=tuple(Posting(a, n) for a, n in lines),
        occurred_at=AT,
        parent_id=parent,
    )


# -- accounts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "text"),
    [
        (pot(LI), "pot:u-li"),
        (claims(LI), "claims:u-li"),
        (customer(LI), "customer:u-li"),
        (pharmacy_payable(XIHU), "pharmacy_payable:ph-xihu"),
        (WALLET_CLEARING, "wallet_clearing"),
        (COURIER_PAYABLE, "courier_payable"),
        (PLATFORM_REVENUE, "platform_revenue"),
        (INSURANCE_POOL, "insurance_pool"),
    ],
)
def test_an_account_has_a_stable_string_form_that_parses_back(account: Account, text: str) -> None:
    """The string stored in a postings row names the kind and, for per-owner kinds, the owner."""
    assert str(account) == text
    assert Account.parse(text) == account


def test_every_account_kind_round_trips_through_its_string_form() -> None:
    """No kind is left without a parseable form."""
    for kind in AccountKind:
        account = Account(kind, "x-1" if kind.owned else None)
        assert Account.parse(str(account)) == account


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("savings:u-li", "unknown account kind"),
        ("Pot:u-li", "unknown account kind"),
        ("pot", "needs an owner"),
        ("pot:", "owner"),
        ("pot:u li", "spaces"),
        ("wallet_clearing:u-li", "takes no owner"),
        ("", "unknown account kind"),
    ],
)
def test_parsing_refuses_unknown_kinds_and_wrong_owners(text: str, fragment: str) -> None:
    """A typo in a stored account string is an error, never a new account."""
    with pytest.raises(ValueError, match=fragment):
        Account.parse(text)


# -- postings and transactions ----------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, 1.5, 100.0, True, "100"])
def test_a_posting_is_a_nonzero_whole_number_of_fen(amount: object) -> None:
    """Zero, floats, booleans and strings are refused with a ValueError naming amount_fen."""
    with pytest.raises(ValueError, match="amount_fen"):
        Posting(WALLET_CLEARING, amount)  # type: ignore[arg-type]


def test_an_unbalanced_transaction_is_refused() -> None:
    """Debits must equal credits to the fen."""
    with pytest.raises(ValueError, match="differ by 1 fen"):
        money((WALLET_CLEARING, 101), (PLATFORM_REVENUE, -100))


def test_an_empty_transaction_is_refused() -> None:
    """A transaction with no postings records nothing and is not allowed."""
    with pytest.raises(ValueError, match="at least two postings"):
        money()


def test_a_transaction_with_a_zero_posting_is_refused() -> None:
    """Zero lines would make a balanced-looking transaction that says nothing."""
    with pytest.raises(ValueError, match="must not be zero"):
        money((WALLET_CLEARING, 100), (PLATFORM_REVENUE, -100), (COURIER_PAYABLE, 0))


def test_a_transaction_needs_an_aware_time_and_is_stored_in_utc() -> None:
    """Naive times are refused; aware ones are normalised to UTC."""
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(money((WALLET_CLEARING, 1), (PLATFORM_REVENUE, -1)), occurred_at=datetime(2026, 3, 1))  # noqa: DTZ001
    shanghai = timezone(timedelta(hours=8))
    txn = dataclasses.replace(
        money((WALLET_CLEARING, 1), (PLATFORM_REVENUE, -1)), occurred_at=datetime(2026, 3, 2, 4, 30, tzinfo=shanghai)
    )
    assert txn.occurred_at == AT
    assert txn.occurred_at.tzinfo is UTC


def test_a_transaction_never_mixes_money_and_cover() -> None:
    """Cover is not money: no transaction can pay a pot from the wallet or a claim from revenue."""
    with pytest.raises(ValueError, match="one book"):
        money((pot(LI), 100), (WALLET_CLEARING, -100))
    with pytest.raises(ValueError, match="one book"):
        money((claims(LI), 100), (PLATFORM_REVENUE, -100))


def test_a_transaction_concerns_at_most_one_user() -> None:
    """INS3: no transaction debits one member's pot to credit another member, whatever its kind."""
    with pytest.raises(ValueError, match="at most one user"):
        money((pot("u-wang"), -100), (claims(LI), 100))
    with pytest.raises(ValueError, match="at most one user"):
        money((pot("u-wang"), -100), (claims(LI), 100), kind=TxnKind.CLAIM_PAYOUT, parent=None)
    with pytest.raises(ValueError, match="at most one user"):
        money((customer("u-wang"), -100), (customer(LI), 100))


def test_cover_transactions_have_a_fixed_shape() -> None:
    """An accrual credits the pool and debits a pot; a payout moves a pot to the same user's claims."""
    with pytest.raises(ValueError, match="moves cover"):
        money((pot(LI), -100), (INSURANCE_POOL, 100), kind=TxnKind.ACCRUAL)
    with pytest.raises(ValueError, match="moves cover"):
        money((INSURANCE_POOL, -100), (claims(LI), 100), kind=TxnKind.CLAIM_PAYOUT, parent=None)
    accrual = money((pot(LI), 100), (INSURANCE_POOL, -100), kind=TxnKind.ACCRUAL)
    assert accrual.user_id == LI


def test_captures_and_refunds_move_the_wallet_once_in_their_direction() -> None:
    """Captured and refunded amounts are read off the single wallet posting."""
    with pytest.raises(ValueError, match="wallet_clearing debit"):
        money((PLATFORM_REVENUE, 100), (COURIER_PAYABLE, -100), kind=TxnKind.CAPTURE, parent=None)
    with pytest.raises(ValueError, match="wallet_clearing credit"):
        money((WALLET_CLEARING, 100), (PLATFORM_REVENUE, -100), kind=TxnKind.REFUND)


def test_follow_up_transactions_name_what_they_follow() -> None:
    """Refunds, accruals, clawbacks and corrections carry the id of the transaction they answer."""
    with pytest.raises(ValueError, match="parent_id"):
        money((WALLET_CLEARING, -100), (PLATFORM_REVENUE, 100), kind=TxnKind.REFUND, parent=None)


def test_transactions_are_immutable() -> None:
    """Neither fields nor postings can change after construction; lists are frozen into tuples."""
    txn = LedgerTransaction(
        id="t-1",
        kind=TxnKind.CORRECTION,
        reference="ref-1",
        postings=[Posting(WALLET_CLEARING, 5), Posting(PLATFORM_REVENUE, -5)],  # type: ignore[arg-type]
        occurred_at=AT,
        parent_id="t-0",
    )
    assert isinstance(txn.postings, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        txn.memo = "edited"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        txn.postings[0].amount_fen = 6  # type: ignore[misc]


def test_a_correction_is_a_new_reversing_transaction() -> None:
    """reverse() leaves the original alone and brings every balance it touched back to zero."""
    original = capture(OrderAmounts(items_fen=10_000, delivery_fen=800, discount_fen=500))
    correction = reverse(original, "t-fix", AT + timedelta(hours=1))
    assert correction.kind is TxnKind.CORRECTION
    assert correction.parent_id == original.id
    assert correction.reference == original.reference
    assert [(p.account, -p.amount_fen) for p in correction.postings] == [
        (p.account, p.amount_fen) for p in original.postings
    ]
    assert all(v == 0 for v in balances([original, correction]).values())
    with pytest.raises(ValueError, match="precede"):
        reverse(original, "t-early", AT - timedelta(seconds=1))


def test_balances_are_sums_of_postings_and_sum_to_zero() -> None:
    """Two captures and a refund: each account's balance is the sum of its postings, and the books net to zero."""
    first = capture(OrderAmounts(items_fen=2_000), txn_id="t-a")
    second = capture(OrderAmounts(items_fen=3_000, delivery_fen=500), txn_id="t-b")
    refund = refund_payment(second, [], txn_id="t-c", refund_no="rf-1", amount_fen=1_000, at=AT)
    totals = balances([first, second, refund])
    assert totals[WALLET_CLEARING] == 2_000 + 3_500 - 1_000
    assert totals[WALLET_CLEARING] == balance_of(WALLET_CLEARING, [first, second, refund])
    assert totals[customer(LI)] == 0
    assert sum(totals.values()) == 0


# -- capture ----------------------------------------------------------------------------------------


def test_a_capture_splits_items_delivery_and_a_platform_funded_discount() -> None:
    """¥100 of items, ¥8 delivery, ¥5 coupon: 5% commission, 20% of delivery to the platform."""
    amounts = OrderAmounts(items_fen=10_000, delivery_fen=800, discount_fen=500)
    txn = capture(amounts)
    commission, share = 10_000 * 5 // 100, 800 * 20 // 100
    assert (txn.kind, txn.reference) == (TxnKind.CAPTURE, "pay-1")
    assert txn.amount_on(WALLET_CLEARING) == 10_000 + 800 - 500
    assert txn.amount_on(pharmacy_payable(XIHU)) == -(10_000 - commission)
    assert txn.amount_on(COURIER_PAYABLE) == -(800 - share)
    assert txn.amount_on(PLATFORM_REVENUE) == -(commission + share) + 500
    assert txn.amount_on(customer(LI)) == 0
    assert captured_fen(txn) == amounts.paid_fen


def test_a_discount_beyond_the_platform_take_is_a_platform_cost() -> None:
    """The platform funds the coupon: its revenue is debited, the pharmacy still gets items less commission."""
    txn = capture(OrderAmounts(items_fen=1_000, discount_fen=900))
    assert txn.amount_on(PLATFORM_REVENUE) == 900 - 50
    assert txn.amount_on(pharmacy_payable(XIHU)) == -950
    assert txn.amount_on(WALLET_CLEARING) == 100


def test_shares_round_down_so_the_odd_fen_stays_with_the_payee() -> None:
    """5% of 19 fen is 0.95 fen: the platform takes 0, the pharmacy keeps all 19."""
    split = split_order(SPLIT, OrderAmounts(items_fen=19, delivery_fen=9))
    assert (split.pharmacy_fen, split.courier_fen, split.platform_fen) == (19, 8, 1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"items_fen": 0}, "items_fen"),
        ({"items_fen": 100, "delivery_fen": -1}, "delivery_fen"),
        ({"items_fen": 100, "discount_fen": 100}, "discount_fen"),
        ({"items_fen": 99.5}, "items_fen"),
    ],
)
def test_order_amounts_are_whole_fen_and_leave_something_to_pay(kwargs: dict[str, object], field: str) -> None:
    """Bad amounts are a 422 naming the field; a fully discounted order is not a payment."""
    with pytest.raises(ValidationFailed) as caught:
        OrderAmounts(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize("kwargs", [{"commission_bps": -1}, {"delivery_share_bps": 10_001}, {"commission_bps": 5.0}])
def test_split_rule_validates_itself_naming_the_field(kwargs: dict[str, object]) -> None:
    """Basis points are whole numbers from 0 to 10,000."""
    (name,) = kwargs
    with pytest.raises(ValueError, match=name):
        SplitRule(**kwargs)  # type: ignore[arg-type]


# -- refunds ----------------------------------------------------------------------------------------


def test_a_full_refund_returns_every_payee_to_zero() -> None:
    """Refunding everything reverses each share exactly: no fen left anywhere."""
    cap = capture(OrderAmounts(items_fen=10_001, delivery_fen=799, discount_fen=333))
    refund = refund_payment(cap, [], txn_id="t-r", refund_no="rf-1", amount_fen=captured_fen(cap), at=AT)
    assert (refund.kind, refund.parent_id, refund.reference) == (TxnKind.REFUND, cap.id, "rf-1")
    assert all(v == 0 for v in balances([cap, refund]).values())


def test_a_rounding_tie_leaves_the_odd_fen_with_the_first_payee_until_the_next_refund() -> None:
    """Refunding half of shares of 3 and 1 fen reverses 1.5 and 0.5: the first payee is reversed 1, the second 1."""
    assert apportion([-3, -1], 2, 4) == [-1, -1]
    assert apportion([-1, -3], 2, 4) == [0, -2]
    cap = capture(OrderAmounts(items_fen=3, delivery_fen=1), SplitRule(commission_bps=0, delivery_share_bps=0))
    half = refund_payment(cap, [], txn_id="t-r", refund_no="rf-1", amount_fen=2, at=AT)
    assert (half.amount_on(pharmacy_payable(XIHU)), half.amount_on(COURIER_PAYABLE)) == (1, 1)


def test_refunds_beyond_the_capture_are_refused() -> None:
    """I9: what is refunded never exceeds what was captured, counting earlier refunds."""
    cap = capture(OrderAmounts(items_fen=1_000))
    first = refund_payment(cap, [], txn_id="t-r1", refund_no="rf-1", amount_fen=600, at=AT)
    with pytest.raises(RefundExceedsCapture) as caught:
        refund_payment(cap, [first], txn_id="t-r2", refund_no="rf-2", amount_fen=401, at=AT)
    assert caught.value.code == "refund_exceeds_capture"
    last = refund_payment(cap, [first], txn_id="t-r2", refund_no="rf-2", amount_fen=400, at=AT)
    assert refunded_fen([first, last]) == 1_000
    with pytest.raises(RefundExceedsCapture):
        refund_payment(cap, [first, last], txn_id="t-r3", refund_no="rf-3", amount_fen=1, at=AT)


def test_a_refund_number_is_used_once() -> None:
    """The refund request number is the idempotency key: a second use is refused, whatever the amount."""
    cap = capture(OrderAmounts(items_fen=1_000))
    first = refund_payment(cap, [], txn_id="t-r1", refund_no="rf-1", amount_fen=100, at=AT)
    with pytest.raises(DuplicateRefund):
        refund_payment(cap, [first], txn_id="t-r2", refund_no="rf-1", amount_fen=100, at=AT)


@pytest.mark.parametrize("amount", [0, -5, 1.0])
def test_a_refund_is_a_positive_whole_number_of_fen(amount: object) -> None:
    """Zero, negative and float refunds are a 422."""
    cap = capture(OrderAmounts(items_fen=1_000))
    with pytest.raises(ValidationFailed):
        refund_payment(cap, [], txn_id="t-r", refund_no="rf-1", amount_fen=amount, at=AT)  # type: ignore[arg-type]


def test_a_refund_only_follows_its_own_capture() -> None:
    """Another payment's refunds are not this payment's history."""
    cap = capture(OrderAmounts(items_fen=1_000), txn_id="t-a")
    other = capture(OrderAmounts(items_fen=1_000), txn_id="t-b")
    foreign = refund_payment(other, [], txn_id="t-r", refund_no="rf-1", amount_fen=10, at=AT)
    with pytest.raises(ValueError, match="does not follow"):
        refund_payment(cap, [foreign], txn_id="t-r2", refund_no="rf-2", amount_fen=10, at=AT)


amounts_strategy = st.builds(
    OrderAmounts,
    items_fen=st.integers(1, 200_000) | st.integers(1, 9),
    delivery_fen=st.integers(0, 2_000) | st.integers(0, 3),
).flatmap(
    lambda a: st.builds(OrderAmounts, st.just(a.items_fen), st.just(a.delivery_fen), st.integers(0, a.gross_fen - 1))
)
splits_strategy = st.builds(SplitRule, commission_bps=st.integers(0, 10_000), delivery_share_bps=st.integers(0, 10_000))


@settings(max_examples=300, deadline=None)
@given(
    amounts=amounts_strategy, split=splits_strategy, cuts=st.lists(st.integers(1, 10**6), max_size=8), data=st.data()
)
def test_partial_refunds_that_add_up_to_the_payment_reverse_it_exactly(
    amounts: OrderAmounts, split: SplitRule, cuts: list[int], data: st.DataObject
) -> None:
    """Any sequence of partial refunds summing to the payment leaves every account at zero.

    Along the way each refund balances, reverses each payee by no more than it still holds and
    never in the wrong direction.
    """
    cap = capture(amounts, split)
    paid = captured_fen(cap)
    marks = sorted({c % paid for c in cuts} - {0})
    pieces = [b - a for a, b in zip([0, *marks], [*marks, paid], strict=True)]
    order = data.draw(st.permutations(pieces))
    followers: list[LedgerTransaction] = []
    for n, piece in enumerate(order):
        held = payee_shares(cap, followers)
        refund = refund_payment(cap, followers, txn_id=f"t-r{n}", refund_no=f"rf-{n}", amount_fen=piece, at=AT)
        for account, amount in held.items():
            reversed_ = refund.amount_on(account)
            assert abs(reversed_) <= abs(amount)
            assert reversed_ == 0 or (reversed_ > 0) == (amount < 0)
        followers.append(refund)
    assert refunded_fen(followers) == paid
    assert all(v == 0 for v in balances([cap, *followers]).values())


@given(
    values=st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=6),
    data=st.data(),
)
def test_apportion_stays_within_a_fen_of_the_exact_share_and_sums_exactly(
    values: list[int], data: st.DataObject
) -> None:
    """Largest remainder: each part is the floor or ceiling of its quota, and the parts sum to the scaled total."""
    total = -sum(values)
    denominator = data.draw(st.integers(1, 10**6)) if total == 0 else abs(total)
    numerator = data.draw(st.integers(0, denominator))
    parts = apportion(values, numerator, denominator)
    assert sum(parts) * denominator == sum(values) * numerator
    for value, part in zip(values, parts, strict=True):
        assert abs(part * denominator - value * numerator) < denominator
