"""Refunds, the insurance pot and its claims over HTTP.

* ``POST /api/orders/{id}/refunds`` (operator of the order's city, or admin; ``Idempotency-Key``):
  200 with the booked refund, or 202 while the wallet has not confirmed it (the reconciler retries
  it with the same ``out_request_no``). Without an ``out_request_no`` one is derived from the
  caller and the key, so a retried request never becomes a second refund.
* ``GET /api/me/pot``: the pot statement. ``GET|POST /api/me/claims`` (POST: ``Idempotency-Key``).
* ``POST /api/admin/claims/{id}/decision`` and ``POST /api/admin/claims/{id}/pay``: the adjuster.

Amounts are whole fen as JSON integers: floats, strings, booleans, negatives and amounts beyond the
largest posting are 422 before any service runs.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from yaodao.kernel.errors import NotAuthenticated, ValidationFailed
from yaodao.payments import claims, refunds
from yaodao.payments.ledger import MAX_POSTING_FEN
from yaodao.payments.pot import ClaimKind
from yaodao.web.api_orders import idempotent
from yaodao.web.deps import ActorDep, ContainerDep

router = APIRouter(tags=["money"])

AmountFen = Annotated[
    int, Field(strict=True, ge=1, le=MAX_POSTING_FEN, description="a whole number of fen (分), at least 1")
]
Reference = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: AmountFen
    reason: Annotated[str, Field(min_length=1, max_length=refunds.MAX_REASON)]
    out_request_no: Reference | None = None


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["order", "consultation_fee", "outside_receipt"]
    claimed_fen: AmountFen
    evidence_ref: Annotated[str, Field(min_length=1, max_length=claims.MAX_EVIDENCE)]
    subject_ref: Annotated[str, Field(min_length=1, max_length=claims.MAX_SUBJECT)]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    approved_fen: AmountFen | None = None
    reason: Annotated[str, Field(min_length=1, max_length=claims.MAX_REASON)] | None = None


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def refund_json(outcome: refunds.RefundOutcome) -> dict[str, Any]:
    r = outcome.refund
    return {
        "refund_id": r.id, "order_id": outcome.order_id, "payment_id": r.payment_id,
        "out_request_no": r.out_request_no, "amount_fen": r.amount_fen, "reason": r.reason, "state": r.state.value,
        "created_at": _time(r.created_at), "completed_at": _time(r.completed_at),
        "refunded_fen": outcome.refunded_fen, "replayed": outcome.replayed,
    }  # fmt: skip


def claim_json(stored: claims.StoredClaim) -> dict[str, Any]:
    c = stored.claim
    return {
        "id": c.id, "kind": c.kind.value, "status": c.status.value, "claimed_fen": c.claimed_fen,
        "approved_fen": c.approved_fen, "evidence_ref": c.evidence_ref, "subject_ref": stored.subject_ref,
        "submitted_at": _time(c.submitted_at), "decided_at": _time(c.decided_at),
        "rejection_reason": c.rejection_reason, "paid_at": _time(c.paid_at), "version": c.version,
    }  # fmt: skip


@router.post(
    "/api/orders/{order_id}/refunds",
    responses={200: {"description": "refunded"}, 202: {"description": "requested; the wallet has not confirmed"}},
)
def refund_order(
    order_id: str,
    body: RefundIn,
    container: ContainerDep,
    actor: ActorDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    if actor.user_id is None:
        raise NotAuthenticated("sign in first")
    number = body.out_request_no or _derived_request_no(actor.user_id, order_id, idempotency_key or "")

    def run() -> tuple[int, dict[str, Any]]:
        outcome = refunds.refund_order(
            uow_factory=container.uow, provider=container.payments().provider, actor=actor, order_id=order_id,
            amount_fen=body.amount_fen, out_request_no=number, reason=body.reason,
        )  # fmt: skip
        done = outcome.refund.state is refunds.RefundState.SUCCEEDED
        return (200 if done else 202), refund_json(outcome)

    route = f"POST /api/orders/{order_id}/refunds"
    return idempotent(container, actor.user_id, route, idempotency_key, body.model_dump(mode="json"), run)


@router.get("/api/me/pot")
def my_pot(container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    statement = claims.pot_statement(uow=container.uow(), actor=actor, rule=container.payments().accrual)
    return {
        "user_id": statement.user_id,
        "balance_fen": statement.balance_fen,
        "paid_out_fen": statement.paid_out_fen,
        "accrued_fen": statement.accrued_fen,
        "term_cap_fen": statement.term_cap_fen,
        "term_started_at": _time(statement.term_started_at),
        "term_ends_at": _time(statement.term_ends_at),
        "lines": [
            {
                "at": _time(line.at),
                "kind": line.kind.value,
                "amount_fen": line.amount_fen,
                "balance_fen": line.balance_fen,
                "reference": line.reference,
            }
            for line in statement.lines
        ],
        "claims": [claim_json(c) for c in statement.claims],
    }


@router.get("/api/me/claims")
def my_claims(container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    return {"items": [claim_json(c) for c in claims.list_claims(uow=container.uow(), actor=actor)]}


@router.post("/api/me/claims", status_code=201, responses={201: {"description": "the claim, submitted"}})
def submit_claim(
    body: ClaimIn,
    container: ContainerDep,
    actor: ActorDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    def run() -> tuple[int, dict[str, Any]]:
        stored = claims.submit_claim(
            uow=container.uow(), actor=actor, kind=ClaimKind(body.kind), claimed_fen=body.claimed_fen,
            evidence_ref=body.evidence_ref, subject_ref=body.subject_ref,
        )  # fmt: skip
        return 201, claim_json(stored)

    return idempotent(
        container, actor.user_id, "POST /api/me/claims", idempotency_key, body.model_dump(mode="json"), run
    )


@router.post("/api/admin/claims/{claim_id}/decision")
def decide_claim(claim_id: str, body: DecisionIn, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    if body.decision == "reject" and body.approved_fen is not None:
        raise ValidationFailed("a rejection approves no amount", field="approved_fen")
    stored = claims.decide_claim(
        uow=container.uow(), actor=actor, claim_id=claim_id, approve=body.decision == "approve",
        approved_fen=body.approved_fen, reason=body.reason,
    )  # fmt: skip
    return claim_json(stored)


@router.post("/api/admin/claims/{claim_id}/pay")
def pay_claim(claim_id: str, container: ContainerDep, actor: ActorDep) -> dict[str, Any]:
    stored, txn = claims.pay_claim(uow=container.uow(), actor=actor, claim_id=claim_id)
    return {**claim_json(stored), "payout_txn_id": txn.id}


def _derived_request_no(principal_id: str, order_id: str, key: str) -> str:
    """A wallet request number that is the same for every retry of one idempotent request."""
    digest = hashlib.sha256(f"{principal_id}\x1f{order_id}\x1f{key}".encode()).hexdigest()
    return f"rf-{digest[:40]}"
