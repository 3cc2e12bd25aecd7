"""The customer's tracking view: masked phone, live ETA or quote, the promise at risk, and what is final."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from yaodao.tracking.view import CourierRow, DeliveryRow, Point, TrackingSnapshot, build_view, fingerprint, mask_phone

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
SHOP, DOOR = Point(30.2587, 120.1485), Point(30.2607, 120.1505)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("008613812345678", "138****5678"),
        ("057188001234", "057****1234"),
        ("12345", "***45"),
        ("", "****"),
    ],
)
def test_a_phone_shows_its_first_three_and_last_four_digits_only(phone: str, masked: str) -> None:
    """Country prefixes go; short numbers keep two digits; nothing else of the number survives."""
    assert mask_phone(phone) == masked


def _snapshot(status: str = "paid", delivery: DeliveryRow | None = None) -> TrackingSnapshot:
    return TrackingSnapshot(
        order_id="o1", city_id="hangzhou", status=status, entered_at={"paid": T0, "awaiting_payment": T0},
        promise_minutes=30, quoted_eta_minutes=22, address_text="北山街1号", dropoff=DOOR,
        pharmacy_name="药房", pharmacy_address="北山街", pharmacy=SHOP, delivery=delivery,
    )  # fmt: skip


def _delivery(state: str = "assigned", eta: timedelta | None = None, **kw: object) -> DeliveryRow:
    courier = CourierRow("小明", "13812345678", 30.26, 120.15, T0 - timedelta(seconds=5))
    values: dict[str, object] = {
        "state": state, "due_at": T0 + timedelta(minutes=30), "quoted_at": T0 + timedelta(minutes=20),
        "eta_at": T0 + eta if eta is not None else None, "picked_up_at": None, "delivered_at": None,
        "failed_at": None, "dropoff": DOOR, "courier": courier,
    }  # fmt: skip
    values.update(kw)
    return DeliveryRow(**values)  # type: ignore[arg-type]


def test_without_a_delivery_the_quote_and_promise_count_from_payment() -> None:
    view = build_view(_snapshot(), T0 + timedelta(minutes=1))
    assert view.eta_at == T0 + timedelta(minutes=22)
    assert view.eta_source == "quote"
    assert view.due_at == T0 + timedelta(minutes=30)
    assert view.courier is None
    assert not view.at_risk
    assert [s for s, _ in view.timeline] == ["awaiting_payment", "paid"]  # equal times: in status order


def test_a_live_eta_past_the_promise_puts_the_order_at_risk() -> None:
    view = build_view(_snapshot(delivery=_delivery(eta=timedelta(minutes=31))), T0 + timedelta(minutes=2))
    assert view.eta_source == "live"
    assert view.stage == "assigned"
    assert view.at_risk
    assert view.courier is not None
    assert view.courier.phone_masked == "138****5678"
    assert view.courier.position_age_s == 125


def test_the_clock_past_the_promise_puts_an_open_order_at_risk_and_late() -> None:
    view = build_view(_snapshot(delivery=_delivery(eta=timedelta(minutes=25))), T0 + timedelta(minutes=31))
    assert view.at_risk
    assert view.late


def test_a_delivered_order_is_final_with_no_eta_and_no_courier_position() -> None:
    delivery = _delivery("delivered", eta=timedelta(minutes=25), delivered_at=T0 + timedelta(minutes=29))
    view = build_view(_snapshot("delivered", delivery), T0 + timedelta(minutes=40))
    assert view.final
    assert not view.late
    assert not view.at_risk
    assert view.eta_at is None
    assert view.courier is not None
    assert view.courier.position is None


def test_the_fingerprint_ignores_the_position_age_only() -> None:
    snap = _snapshot(delivery=_delivery(eta=timedelta(minutes=25)))
    assert fingerprint(build_view(snap, T0)) == fingerprint(build_view(snap, T0 + timedelta(seconds=9)))
    moved = _snapshot(delivery=_delivery(eta=timedelta(minutes=26)))
    assert fingerprint(build_view(snap, T0)) != fingerprint(build_view(moved, T0))
