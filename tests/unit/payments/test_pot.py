"""The insurance pot: accrual rules (DOMAIN INS2), clawbacks, claims and their payouts (INS3, RELIABILITY I10)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yaodao.kernel.errors import ValidationFailed
from yaodao.payments.books import (
    AlreadyAccrued,
    OrderAmounts,
    RefundedBeforeAccrual,
    SplitRule,
    accrue_for_capture,
    capture_order,
    claim_payout,
    clawback_on_refund,
    refund_payment,
)
from yaodao.payments.ledger import INSURANCE_POOL, LedgerTransaction, TxnKind, balance_of, balances, claims, pot
from yaodao.payments.pot import (
    AccrualBasis,
    AccrualRule,
    Claim,
    ClaimAlreadyDecided,
    ClaimAlreadyPaid,
    ClaimKind,
    ClaimNotPayable,
    ClaimStatus,
    PaymentKind,
    PotInsufficient,
    PotState,
    accrual_for,
    clawback_for,
    is_eligible,
    pot_state_of,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RULE = AccrualRule(rate_bps=100, per_payment_cap_fen=2_000, term_cap_fen=200_000, term_days=365, max_age_years=60)
LI, WANG = "u-li", "u-wang"
EMPTY = PotState()


def accrue(
    captured: int, state: PotState = EMPTY, *, rule: AccrualRule = RULE, age: int = 30, at: datetime = T0
) -> int:
    return accrual_for(
        rule, captured_fen=captured, age_years=age, payment_kind=PaymentKind.ORDER, pot_state=state, at=at
    )


def claim(user: str = LI, amount: int = 5_000) -> Claim:
    return Claim(
        id="cl-1",
        user_id=user,
        kind=ClaimKind.OUTSIDE_RECEIPT,
        claimed_fen=amount,
        evidence_ref="upload-7",
        submitted_at=T0,
    )


def captured(items: int, txn_id: str = "t-cap", user: str = LI) -> LedgerTransaction:
    return capture_order(
        SplitRule(),
        txn_id=txn_id,
        payment_id=f"pay-{txn_id}",
        user_id=user,
        pharmacy_id="ph-xihu",
        amounts=OrderAmounts(items_fen=items),
        at=T0,
    )


# -- the rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate_bps": None}, "rate_bps"),
        ({"rate_bps": 100, "fixed_fen": 500}, "rate_bps"),
        ({"rate_bps": 0}, "rate_bps"),
        ({"rate_bps": 10_001}, "rate_bps"),
        ({"rate_bps": None, "fixed_fen": 0}, "fixed_fen"),
        ({"per_payment_cap_fen": 0}, "per_payment_cap_fen"),
        ({"term_cap_fen": -1}, "term_cap_fen"),
        ({"term_days": 0}, "term_days"),
        ({"max_age_years": 60.0}, "max_age_years"),
        ({"eligible_kinds": {"order"}}, "eligible_kinds"),
        ({"version": " "}, "version"),
    ],
)
def test_the_accrual_rule_validates_itself_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    """Misconfigured policy fails at load time with the offending field in the message."""
    with pytest.raises(ValueError, match=field):
        AccrualRule(**kwargs)  # type: ignore[arg-type]


def test_the_default_rule_is_the_alipay_like_cover() -> None:
    """¥2,000 per one-year term, under-60s, a rate of the captured amount."""
    rule = AccrualRule()
    assert (rule.term_cap_fen, rule.term_days, rule.max_age_years, rule.basis) == (200_000, 365, 60, AccrualBasis.RATE)


def test_a_rate_rule_accrues_its_rate_of_the_captured_amount_rounded_down() -> None:
    """1% of ¥123.45 is 123.45 fen: 123 fen accrue."""
    assert accrue(12_345) == 12_345 // 100


def test_a_fixed_rule_accrues_the_same_amount_per_payment() -> None:
    """A fixed rule ignores the payment's size."""
    fixed = AccrualRule(rate_bps=None, fixed_fen=300)
    assert fixed.basis is AccrualBasis.FIXED
    assert accrue(1, rule=fixed) == accrue(1_000_000, rule=fixed) == 300


def test_the_cap_per_payment_limits_one_large_payment() -> None:
    """1% of ¥5,000 would be ¥50; the cap per payment is ¥20."""
    assert accrue(500_000) == 2_000
    assert accrue(500_000, rule=dataclasses.replace(RULE, per_payment_cap_fen=None)) == 5_000


def test_nothing_accrues_beyond_the_term_cap() -> None:
    """The payment that crosses the cap accrues only what is left; the next accrues nothing."""
    assert accrue(100_000, PotState(T0, accrued_fen=199_500, balance_fen=199_500)) == 500
    assert accrue(100_000, PotState(T0, accrued_fen=200_000, balance_fen=150_000)) == 0


@given(payments=st.lists(st.integers(1, 1_000_000), max_size=60), cap=st.integers(1, 50_000))
def test_accrued_is_the_cap_or_the_sum_of_accruals_whichever_is_less(payments: list[int], cap: int) -> None:
    """INS2: accrued = min(cap, Σ accruals), however the payments fall."""
    rule = dataclasses.replace(RULE, term_cap_fen=cap)
    state, uncapped = PotState(), 0
    for n, amount in enumerate(payments):
        at = T0 + timedelta(days=n)
        uncapped += min(amount * rule.rate_bps // 10_000, 2_000)  # type: ignore[operator]
        added = accrue(amount, state, rule=rule, at=at)
        state = PotState(state.term_started_at or at, state.accrued_fen + added, state.balance_fen + added)
    assert state.accrued_fen == min(cap, uncapped)


def test_nothing_accrues_from_the_end_of_the_term() -> None:
    """The term is 365 days from the first accrual: the last second inside accrues, its end does not."""
    state = PotState(T0, accrued_fen=1_000, balance_fen=1_000)
    end = T0 + timedelta(days=365)
    assert state.term_ends_at(RULE) == end
    assert accrue(10_000, state, at=end - timedelta(seconds=1)) == 100
    assert accrue(10_000, state, at=end) == 0
    assert accrue(10_000, state, at=end + timedelta(days=30)) == 0


def test_a_first_payment_starts_the_term_whenever_it_comes() -> None:
    """Before any accrual there is no term to be outside of."""
    assert accrue(10_000, PotState(), at=T0 + timedelta(days=5_000)) == 100


@pytest.mark.parametrize(("age", "accrues"), [(0, True), (59, True), (60, False), (75, False)])
def test_only_payers_under_the_age_limit_accrue(age: int, accrues: bool) -> None:
    """Eligibility is age < 60: a 59-year-old accrues, a 60-year-old does not."""
    assert (accrue(10_000, age=age) > 0) is accrues


def test_only_eligible_payment_kinds_accrue() -> None:
    """A rule limited to orders grants nothing for a consultation fee."""
    orders_only = dataclasses.replace(RULE, eligible_kinds=frozenset({PaymentKind.ORDER}))
    assert is_eligible(orders_only, age_years=30, payment_kind=PaymentKind.ORDER)
    assert not is_eligible(orders_only, age_years=30, payment_kind=PaymentKind.CONSULTATION)
    assert (
        accrual_for(
            orders_only,
            captured_fen=10_000,
            age_years=30,
            payment_kind=PaymentKind.CONSULTATION,
            pot_state=PotState(),
            at=T0,
        )
        == 0
    )


# -- clawback ---------------------------------------------------------------------------------------


def test_a_refund_claws_back_its_proportional_share_rounded_down() -> None:
    """Refunding a third of a payment that accrued 100 fen takes back 33 fen."""
    share = clawback_for(
        payment_accrual_fen=100, captured_fen=9_000, refunded_before_fen=0, refund_fen=3_000, pot_balance_fen=1_000
    )
    assert share == 100 * 3_000 // 9_000


@given(
    accrual=st.integers(0, 2_000),
    captured_amount=st.integers(1, 100_000),
    cuts=st.lists(st.integers(1, 10**6), max_size=6),
)
def test_partial_refunds_of_the_whole_payment_claw_back_exactly_its_accrual(
    accrual: int, captured_amount: int, cuts: list[int]
) -> None:
    """With cover in the pot, refunds adding up to the payment take back its accrual, no more, no less."""
    marks = sorted({c % captured_amount for c in cuts} - {0})
    pieces = [b - a for a, b in zip([0, *marks], [*marks, captured_amount], strict=True)]
    refunded = clawed = 0
    for piece in pieces:
        clawed += clawback_for(
            payment_accrual_fen=accrual,
            captured_fen=captured_amount,
            refunded_before_fen=refunded,
            refund_fen=piece,
            pot_balance_fen=10**9,
        )
        refunded += piece
    assert clawed == accrual


def test_a_clawback_never_takes_more_than_the_pot_holds() -> None:
    """When a claim already used the cover, the pot goes to zero and the shortfall is forgone."""
    assert (
        clawback_for(
            payment_accrual_fen=2_000,
            captured_fen=200_000,
            refunded_before_fen=0,
            refund_fen=200_000,
            pot_balance_fen=300,
        )
        == 300
    )


def test_a_clawback_refuses_a_refund_beyond_the_payment() -> None:
    """The caller checked the refund; a clawback for more than was captured is a programming error."""
    with pytest.raises(ValueError, match="refund_fen"):
        clawback_for(
            payment_accrual_fen=10, captured_fen=100, refunded_before_fen=60, refund_fen=41, pot_balance_fen=10
        )


# -- accrual and clawback transactions ------------------------------------------------------------------


def test_an_accrual_moves_cover_from_the_pool_to_the_payers_pot_once() -> None:
    """One accrual per captured payment; its memo names the rule version."""
    cap = captured(50_000)
    txn = accrue_for_capture(
        RULE, cap, [], txn_id="t-acc", age_years=30, payment_kind=PaymentKind.ORDER, pot_state=PotState(), at=T0
    )
    assert txn is not None
    assert (txn.kind, txn.parent_id, txn.reference) == (TxnKind.ACCRUAL, cap.id, cap.reference)
    assert (txn.amount_on(pot(LI)), txn.amount_on(INSURANCE_POOL)) == (500, -500)
    assert RULE.version in txn.memo
    with pytest.raises(AlreadyAccrued):
        accrue_for_capture(
            RULE, cap, [txn], txn_id="t-acc2", age_years=30, payment_kind=PaymentKind.ORDER, pot_state=PotState(), at=T0
        )


def test_an_ineligible_payment_writes_no_accrual() -> None:
    """A zero accrual is no transaction at all (zero postings are not allowed)."""
    txn = accrue_for_capture(
        RULE,
        captured(50_000),
        [],
        txn_id="t",
        age_years=60,
        payment_kind=PaymentKind.ORDER,
        pot_state=PotState(),
        at=T0,
    )
    assert txn is None


def test_a_refunded_payment_no_longer_accrues() -> None:
    """Accrual belongs in the capture's unit of work; after a refund it is refused."""
    cap = captured(50_000)
    refund = refund_payment(cap, [], txn_id="t-r", refund_no="rf-1", amount_fen=1, at=T0)
    with pytest.raises(RefundedBeforeAccrual):
        accrue_for_capture(
            RULE, cap, [refund], txn_id="t", age_years=30, payment_kind=PaymentKind.ORDER, pot_state=PotState(), at=T0
        )


def test_a_refund_after_a_claim_empties_the_pot_but_never_below_zero() -> None:
    """Pay, accrue 500, claim 400 of it, refund everything: the clawback takes the 100 left."""
    cap = captured(50_000)
    accrual = accrue_for_capture(
        RULE, cap, [], txn_id="t-acc", age_years=30, payment_kind=PaymentKind.ORDER, pot_state=PotState(), at=T0
    )
    assert accrual is not None
    _, payout = claim_payout(claim(amount=400).approve(T0), txn_id="t-pay", pot_balance_fen=500, at=T0)
    refund = refund_payment(cap, [accrual], txn_id="t-r", refund_no="rf-1", amount_fen=50_000, at=T0)
    left = balance_of(pot(LI), [cap, accrual, payout])
    assert left == 100
    clawback = clawback_on_refund(cap, [accrual], refund, txn_id="t-cb", pot_balance_fen=left, at=T0)
    assert clawback is not None
    assert (clawback.kind, clawback.parent_id, clawback.reference) == (TxnKind.ACCRUAL_REVERSAL, "t-acc", "rf-1")
    totals = balances([cap, accrual, payout, refund, clawback])
    assert totals[pot(LI)] == 0
    assert totals[claims(LI)] == 400


def test_a_refund_of_a_payment_that_never_accrued_claws_nothing_back() -> None:
    """No accrual, no clawback transaction."""
    cap = captured(50_000)
    refund = refund_payment(cap, [], txn_id="t-r", refund_no="rf-1", amount_fen=10_000, at=T0)
    assert clawback_on_refund(cap, [], refund, txn_id="t-cb", pot_balance_fen=1_000, at=T0) is None


def test_the_pot_state_is_derived_from_the_ledger() -> None:
    """Accrued = what the pot holds + what claims took out; the term starts at the first accrual."""
    first, second = captured(50_000, "t-c1"), captured(30_000, "t-c2")
    a1 = accrue_for_capture(
        RULE, first, [], txn_id="t-a1", age_years=30, payment_kind=PaymentKind.ORDER, pot_state=PotState(), at=T0
    )
    assert a1 is not None
    later = T0 + timedelta(days=3)
    state = pot_state_of(LI, [first, a1])
    a2 = accrue_for_capture(
        RULE, second, [], txn_id="t-a2", age_years=30, payment_kind=PaymentKind.ORDER, pot_state=state, at=later
    )
    assert a2 is not None
    _, payout = claim_payout(claim(amount=600).approve(later), txn_id="t-pay", pot_balance_fen=800, at=later)
    state = pot_state_of(LI, [first, a1, second, a2, payout])
    assert state == PotState(term_started_at=T0, accrued_fen=500 + 300, balance_fen=500 + 300 - 600)
    assert pot_state_of(WANG, [first, a1, second, a2, payout]) == PotState()


# -- claims -----------------------------------------------------------------------------------------


def test_a_claim_goes_submitted_approved_paid() -> None:
    """Each transition returns a new claim and bumps its version."""
    submitted = claim()
    approved = submitted.approve(T0 + timedelta(hours=1))
    paid = approved.pay(pot_balance=5_000, at=T0 + timedelta(hours=2))
    assert [c.status for c in (submitted, approved, paid)] == [
        ClaimStatus.SUBMITTED,
        ClaimStatus.APPROVED,
        ClaimStatus.PAID,
    ]
    assert [c.version for c in (submitted, approved, paid)] == [0, 1, 2]
    assert paid.approved_fen == 5_000
    assert submitted.status is ClaimStatus.SUBMITTED


def test_an_adjuster_may_approve_part_of_a_claim() -> None:
    """Partial approval is explicit, between 1 fen and the claimed amount."""
    assert claim(amount=5_000).approve(T0, 3_000).approved_fen == 3_000
    for bad in (0, 5_001, 2.5):
        with pytest.raises(ValidationFailed):
            claim(amount=5_000).approve(T0, bad)  # type: ignore[arg-type]


def test_a_claim_is_decided_once() -> None:
    """A rejected claim cannot be approved, nor an approved one rejected or re-approved."""
    rejected = claim().reject("not a covered condition", T0)
    assert rejected.rejection_reason == "not a covered condition"
    with pytest.raises(ClaimAlreadyDecided):
        rejected.approve(T0)
    approved = claim().approve(T0)
    with pytest.raises(ClaimAlreadyDecided):
        approved.reject("changed my mind", T0)
    with pytest.raises(ClaimAlreadyDecided):
        approved.approve(T0, 1)


def test_a_rejection_states_its_reason() -> None:
    """An empty reason is a 422."""
    with pytest.raises(ValidationFailed):
        claim().reject(" ", T0)


def test_a_claim_is_paid_at_most_once() -> None:
    """I10: a replayed payout is refused."""
    paid = claim().approve(T0).pay(pot_balance=10_000, at=T0)
    with pytest.raises(ClaimAlreadyPaid):
        paid.pay(pot_balance=10_000, at=T0)


def test_only_an_approved_claim_is_paid() -> None:
    """Submitted and rejected claims are not payable."""
    with pytest.raises(ClaimNotPayable):
        claim().pay(pot_balance=10_000, at=T0)
    with pytest.raises(ClaimNotPayable):
        claim().reject("no evidence", T0).pay(pot_balance=10_000, at=T0)


def test_a_payout_never_exceeds_the_pot_and_is_never_partial() -> None:
    """5,000 approved against 4,999 in the pot is refused, and the claim stays approved."""
    approved = claim(amount=5_000).approve(T0)
    with pytest.raises(PotInsufficient):
        approved.pay(pot_balance=4_999, at=T0)
    assert approved.status is ClaimStatus.APPROVED
    assert approved.pay(pot_balance=5_000, at=T0).status is ClaimStatus.PAID


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"claimed_fen": 0}, "claimed_fen"),
        ({"claimed_fen": 1.5}, "claimed_fen"),
        ({"evidence_ref": ""}, "evidence_ref"),
    ],
)
def test_a_claim_needs_an_amount_and_evidence(kwargs: dict[str, object], field: str) -> None:
    """Claims are whole fen with a reference to the uploaded proof."""
    with pytest.raises(ValidationFailed) as caught:
        dataclasses.replace(claim(), **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


@given(
    claimant=st.sampled_from([LI, WANG, "u-zhao"]),
    amount=st.integers(1, 200_000),
    approved_share=st.integers(1, 1_000),
)
def test_a_payout_touches_only_the_claimants_own_pot_and_claims(
    claimant: str, amount: int, approved_share: int
) -> None:
    """INS3: the payout's accounts come from the claim alone, so no member funds another's claim."""
    approved = claim(claimant, amount).approve(T0, max(1, amount * approved_share // 1_000))
    paid, txn = claim_payout(approved, txn_id="t-pay", pot_balance_fen=10**9, at=T0)
    assert {str(p.account) for p in txn.postings} == {f"pot:{claimant}", f"claims:{claimant}"}
    assert txn.amount_on(pot(claimant)) == -(paid.approved_fen or 0)
    assert (txn.kind, txn.reference, txn.user_id) == (TxnKind.CLAIM_PAYOUT, "cl-1", claimant)


def test_claim_payout_refuses_what_the_pot_cannot_cover() -> None:
    """The payout builder goes through the claim's own check: 900 approved, 899 in the pot."""
    with pytest.raises(PotInsufficient):
        claim_payout(claim(amount=900).approve(T0), txn_id="t-pay", pot_balance_fen=899, at=T0)
