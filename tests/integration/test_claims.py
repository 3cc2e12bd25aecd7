# ruff: noqa: F811
"""Claims on the insurance pot and the pot statement, on SQLite and PostgreSQL (DOMAIN INS2-INS3, RELIABILITY I10).

A patient's pot is filled either by paying an order at the sandbox wallet (1% accrues) or, where a
test needs a larger pot, by a captured payment and its accrual written straight into the ledger
under a generous rule. The adjuster is the platform's admin (``claim:decide``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

# The sandbox wallet fixture is shared with the refund tests; tests take it as a parameter (F811).
from integration.test_refunds import (  # noqa: F401
    Wallet,
    money_client,
    paid_order,
    refund,
    signed_in_patient,
    wallet,
)
from shop import make_patients, race
from support import Platform
from yaodao.accounts.model import Role
from yaodao.accounts.policy import Actor
from yaodao.adapters.db import tables as t
from yaodao.kernel.errors import NotFound, PermissionDenied, ValidationFailed
from yaodao.kernel.ids import new_id
from yaodao.ordering.services import cancel_order
from yaodao.payments import claims
from yaodao.payments.books import DuplicateClaim, OrderAmounts, SplitRule, accrue_for_capture, capture_order
from yaodao.payments.ledger import TxnKind
from yaodao.payments.pot import (
    AccrualRule,
    ClaimAlreadyDecided,
    ClaimAlreadyPaid,
    ClaimKind,
    ClaimNotPayable,
    ClaimStatus,
    PaymentKind,
    PotInsufficient,
    PotState,
)

RULE = AccrualRule()


def adjuster(platform: Platform) -> Actor:
    return Actor(user_id=platform.users[Role.ADMIN].id, roles=frozenset({Role.ADMIN}))


def fill_pot(platform: Platform, user_id: str, cover_fen: int) -> None:
    """A captured payment and its accrual of exactly ``cover_fen`` (10% of the capture, no cap)."""
    rule = AccrualRule(rate_bps=1_000, per_payment_cap_fen=None, term_cap_fen=10**9)
    now = platform.clock.now()
    with platform.container.uow() as uow:
        capture = capture_order(
            SplitRule(), txn_id=new_id(), payment_id=f"pay-{new_id()}", user_id=user_id, pharmacy_id="ph-test",
            amounts=OrderAmounts(items_fen=cover_fen * 10), at=now,
        )  # fmt: skip
        accrual = accrue_for_capture(
            rule, capture, [], txn_id=new_id(), age_years=30, payment_kind=PaymentKind.ORDER, pot_state=PotState(),
            at=now,
        )  # fmt: skip
        assert accrual is not None
        assert uow.ledger.record(capture)
        assert uow.ledger.record(accrual)
        uow.commit()


def submit(platform: Platform, patient: Actor, amount: int, subject: str | None = None) -> claims.StoredClaim:
    return claims.submit_claim(
        uow=platform.container.uow(), actor=patient, kind=ClaimKind.OUTSIDE_RECEIPT, claimed_fen=amount,
        evidence_ref=f"upload-{uuid.uuid4().hex[:8]}", subject_ref=subject or f"receipt-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip


def pot_balance(platform: Platform, user_id: str) -> int:
    with platform.container.uow(read_only=True) as uow:
        return uow.ledger.pot_balance(user_id)


def payouts(platform: Platform, claim_ids: list[str]) -> Counter[str]:
    c = t.ledger_transactions.c
    with platform.container.engine.connect() as conn:
        rows = conn.execute(
            select(c.reference).where(c.kind == TxnKind.CLAIM_PAYOUT.value, c.reference.in_(claim_ids))
        ).scalars()
        return Counter(str(r) for r in rows)


def test_a_claim_for_a_paid_order_is_approved_in_part_paid_once_and_shown_on_the_statement(wallet: Wallet) -> None:
    """The buyer claims ¥50 for their order; the adjuster approves what the pot holds less one fen and
    pays it: the pot keeps one fen, a second payout is refused, and the statement lists the accrual
    and the payout with the balance after each."""
    platform = wallet.platform
    buyer, order, _ = paid_order(wallet)
    held = pot_balance(platform, buyer.user_id or "")
    assert held >= 2
    stored = claims.submit_claim(
        uow=platform.container.uow(), actor=buyer, kind=ClaimKind.ORDER, claimed_fen=5_000,
        evidence_ref="upload-discharge-summary", subject_ref=order.id,
    )  # fmt: skip
    assert stored.claim.status is ClaimStatus.SUBMITTED
    decided = claims.decide_claim(
        uow=platform.container.uow(), actor=adjuster(platform), claim_id=stored.claim.id, approve=True,
        approved_fen=held - 1,
    )  # fmt: skip
    assert (decided.claim.status, decided.claim.approved_fen) == (ClaimStatus.APPROVED, held - 1)
    assert decided.decided_by == adjuster(platform).user_id
    paid, txn = claims.pay_claim(uow=platform.container.uow(), actor=adjuster(platform), claim_id=stored.claim.id)
    assert paid.claim.status is ClaimStatus.PAID
    assert txn.kind is TxnKind.CLAIM_PAYOUT
    with pytest.raises(ClaimAlreadyPaid):
        claims.pay_claim(uow=platform.container.uow(), actor=adjuster(platform), claim_id=stored.claim.id)
    assert pot_balance(platform, buyer.user_id or "") == 1

    statement = claims.pot_statement(uow=platform.container.uow(), actor=buyer, rule=RULE)
    assert [line.kind for line in statement.lines] == [TxnKind.ACCRUAL, TxnKind.CLAIM_PAYOUT]
    assert [line.amount_fen for line in statement.lines] == [held, -(held - 1)]
    assert [line.balance_fen for line in statement.lines] == [held, 1]
    assert statement.balance_fen == 1
    assert statement.paid_out_fen == held - 1
    assert statement.accrued_fen == held
    assert [c.claim.id for c in statement.claims] == [stored.claim.id]
    assert statement.claims[0].subject_ref == order.id


def test_a_refund_after_a_payout_claws_back_only_what_the_pot_still_holds(wallet: Wallet) -> None:
    """The cover was used in good faith: cancelling and refunding the order takes back at most the pot,
    which never goes below zero, and the statement shows the clawback."""
    platform = wallet.platform
    buyer, order, payment = paid_order(wallet)
    held = pot_balance(platform, buyer.user_id or "")
    stored = submit(platform, buyer, held)
    claims.decide_claim(uow=platform.container.uow(), actor=adjuster(platform), claim_id=stored.claim.id, approve=True)
    claims.pay_claim(uow=platform.container.uow(), actor=adjuster(platform), claim_id=stored.claim.id)
    assert pot_balance(platform, buyer.user_id or "") == 0
    cancel_order(uow=platform.container.uow(), actor=buyer, order_id=order.id, reason="not needed")
    refund(wallet, order, payment.amount_fen)
    statement = claims.pot_statement(uow=platform.container.uow(), actor=buyer, rule=RULE)
    assert statement.balance_fen == 0
    assert all(line.balance_fen >= 0 for line in statement.lines)
    assert TxnKind.ACCRUAL_REVERSAL not in [line.kind for line in statement.lines]  # nothing left to take back
    with platform.container.uow(read_only=True) as uow:
        assert uow.ledger.check() == []


def test_a_rejection_states_its_reason_and_a_rejected_claim_is_never_paid(platform: Platform) -> None:
    """No reason, no rejection; a rejected claim cannot be approved or paid, and the pot is untouched."""
    (patient,) = make_patients(platform, 1)
    fill_pot(platform, patient.user_id or "", 500)
    stored = submit(platform, patient, 300)
    with pytest.raises(ValidationFailed):
        claims.decide_claim(
            uow=platform.container.uow(), actor=adjuster(platform), claim_id=stored.claim.id, approve=False, reason=" "
        )
    rejected = claims.decide_claim(
        uow=platform.container.uow(), actor=adjuster(platform), claim_id=stored.claim.id, approve=False,
        reason="not a covered condition",
    )  # fmt: skip
    assert rejected.claim.rejection_reason == "not a covered condition"
    with pytest.raises(ClaimAlreadyDecided):
        claims.decide_claim(
            uow=platform.container.uow(), actor=adjuster(platform), claim_id=stored.claim.id, approve=True
        )
    with pytest.raises(ClaimNotPayable):
        claims.pay_claim(uow=platform.container.uow(), actor=adjuster(platform), claim_id=stored.claim.id)
    assert pot_balance(platform, patient.user_id or "") == 500
    assert payouts(platform, [stored.claim.id]) == Counter()


def test_patients_neither_decide_nor_pay_claims_and_adjusters_not_their_own(platform: Platform) -> None:
    """A patient approving or paying is forbidden; so is an adjuster deciding a claim on their own pot."""
    (patient,) = make_patients(platform, 1)
    fill_pot(platform, patient.user_id or "", 500)
    stored = submit(platform, patient, 100)
    with pytest.raises(PermissionDenied):
        claims.decide_claim(uow=platform.container.uow(), actor=patient, claim_id=stored.claim.id, approve=True)
    both = Actor(user_id=patient.user_id, roles=frozenset({Role.PATIENT, Role.ADMIN}))
    with pytest.raises(PermissionDenied):
        claims.decide_claim(uow=platform.container.uow(), actor=both, claim_id=stored.claim.id, approve=True)
    claims.decide_claim(uow=platform.container.uow(), actor=adjuster(platform), claim_id=stored.claim.id, approve=True)
    with pytest.raises(PermissionDenied):
        claims.pay_claim(uow=platform.container.uow(), actor=patient, claim_id=stored.claim.id)
    assert pot_balance(platform, patient.user_id or "") == 500


def test_a_claim_names_its_own_paid_order_once(wallet: Wallet) -> None:
    """Someone else's order is not found; a second open claim for the same order is a conflict."""
    platform = wallet.platform
    buyer, order, _ = paid_order(wallet)
    (stranger,) = make_patients(platform, 1)

    def claim_order(actor: Actor) -> claims.StoredClaim:
        return claims.submit_claim(
            uow=platform.container.uow(), actor=actor, kind=ClaimKind.ORDER, claimed_fen=100,
            evidence_ref="upload-1", subject_ref=order.id,
        )  # fmt: skip

    with pytest.raises(NotFound):
        claim_order(stranger)
    claim_order(buyer)
    with pytest.raises(DuplicateClaim):
        claim_order(buyer)


def test_a_hundred_concurrent_payouts_worth_three_pots_never_overdraw_it_or_pay_twice(platform: Platform) -> None:
    """RELIABILITY I10: 100 approved claims of ¥0.90 on a ¥30 pot, paid by 120 threads at once (20
    of them replaying a claim): 33 claims are paid, each once, the pot ends at ¥0.30 and never below
    zero, and every refusal is a clear 409."""
    (patient,) = make_patients(platform, 1)
    user = patient.user_id or ""
    fill_pot(platform, user, 3_000)
    ids = []
    for _ in range(100):
        stored = submit(platform, patient, 90)
        claims.decide_claim(
            uow=platform.container.uow(), actor=adjuster(platform), claim_id=stored.claim.id, approve=True
        )
        ids.append(stored.claim.id)

    def pay(i: int) -> Any:
        return claims.pay_claim(uow=platform.container.uow(), actor=adjuster(platform), claim_id=ids[i % 100])

    results = race(120, pay)
    odd = [r for r in results if isinstance(r, Exception) and not isinstance(r, (PotInsufficient, ClaimAlreadyPaid))]
    assert odd == []
    made = payouts(platform, ids)
    assert set(made.values()) == {1}
    assert len(made) == 3_000 // 90
    assert pot_balance(platform, user) == 3_000 - 90 * len(made)
    with platform.container.engine.connect() as conn:
        paid_rows = conn.execute(
            select(func.count())
            .select_from(t.insurance_claims)
            .where(t.insurance_claims.c.user_id == user, t.insurance_claims.c.status == "paid")
        ).scalar_one()
    assert paid_rows == len(made)
    with platform.container.uow(read_only=True) as uow:
        assert uow.ledger.check() == []


# -- over HTTP ----------------------------------------------------------------------------------


def test_claims_over_http_from_submission_to_payout_and_the_pot_statement(wallet: Wallet) -> None:
    """The signed-in patient claims for their paid order (idempotently), sees it listed and on the pot
    statement; only the adjuster decides and pays; a second payout is a clear 409; bad amounts 422."""
    platform = wallet.platform
    client = money_client(platform)
    buyer = signed_in_patient(platform)
    _, order, _ = paid_order(wallet, buyer=buyer)
    patient, admin = platform.auth(Role.PATIENT), platform.auth(Role.ADMIN)
    pot_before = client.get("/api/me/pot", headers=patient).json()["balance_fen"]
    assert pot_before >= 1

    body = {"kind": "order", "claimed_fen": 10_000, "evidence_ref": "upload-7f3a", "subject_ref": order.id}
    headers = {**patient, "Idempotency-Key": "claim-" + order.id[-12:]}
    created = client.post("/api/me/claims", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert client.post("/api/me/claims", json=body, headers=headers).json() == created.json()
    claim_id = created.json()["id"]
    listed = client.get("/api/me/claims", headers=patient).json()["items"]
    assert [c["id"] for c in listed if c["subject_ref"] == order.id] == [claim_id]
    for amount in (99.5, "100", -5, 0, False, 10**13):
        bad = client.post(
            "/api/me/claims", json={**body, "claimed_fen": amount}, headers={**patient, "Idempotency-Key": f"b{amount}"}
        )
        assert bad.status_code == 422, (amount, bad.text)

    decision = f"/api/admin/claims/{claim_id}/decision"
    assert client.post(decision, json={"decision": "approve"}, headers=patient).status_code == 403
    assert client.post(decision, json={"decision": "reject"}, headers=admin).status_code == 422  # no reason
    assert client.post(decision, json={"decision": "approve", "approved_fen": 1.0}, headers=admin).status_code == 422
    approved = client.post(decision, json={"decision": "approve", "approved_fen": pot_before}, headers=admin)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["approved_fen"]) == ("approved", pot_before)

    pay = f"/api/admin/claims/{claim_id}/pay"
    assert client.post(pay, headers=patient).status_code == 403
    paid = client.post(pay, headers=admin)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    again = client.post(pay, headers=admin)
    assert (again.status_code, again.json()["code"]) == (409, "claim_already_paid")
    assert client.post("/api/admin/claims/no-such-claim/pay", headers=admin).status_code == 404

    statement = client.get("/api/me/pot", headers=patient).json()
    assert statement["balance_fen"] == 0
    assert statement["lines"][-1]["kind"] == "claim_payout"
    assert statement["lines"][-1]["amount_fen"] == -pot_before
    assert statement["lines"][-1]["balance_fen"] == 0
    assert claim_id in [c["id"] for c in statement["claims"]]
    assert payouts(platform, [claim_id]) == Counter({claim_id: 1})
