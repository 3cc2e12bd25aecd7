"""The live dispatcher's tick without a database: rows in, changes out.

Points sit around West Lake; every ride takes 3 minutes per great-circle km, so a courier next to
the pharmacy is always the nearer one. Orders are ready now unless a test says otherwise, so a free
courier near the pharmacy gets a committed assignment.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from yaodao.dispatch.live import ChangeKind, CourierRow, DeliveryChange, DeliveryRow, UnassignReason, plan_tick
from yaodao.dispatch.params import PlannerParams
from yaodao.dispatch.plan import HoldReason
from yaodao.kernel.geo import LatLng, haversine_km

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
PHARMACY = LatLng(30.2590, 120.1500)
KM = 0.009  # about one km of latitude
PARAMS = PlannerParams()


class KmTravel:
    """3 minutes per great-circle km."""

    def matrix(
        self, origins: Sequence[LatLng], destinations: Sequence[LatLng], at: datetime
    ) -> npt.NDArray[np.float64]:
        return np.array([[haversine_km(o, d) * 3.0 for d in destinations] for o in origins], dtype=np.float64).reshape(
            len(origins), len(destinations)
        )

    def pairwise(
        self, origins: Sequence[LatLng], destinations: Sequence[LatLng], at: datetime
    ) -> npt.NDArray[np.float64]:
        return np.array([haversine_km(o, d) * 3.0 for o, d in zip(origins, destinations, strict=True)])


TRAVEL = KmTravel()


def north(km: float, of: LatLng = PHARMACY) -> LatLng:
    return LatLng(of.lat + km * KM, of.lng)


def delivery(order_id: str, **changes: object) -> DeliveryRow:
    row = DeliveryRow(
        order_id=order_id, version=3, state="unassigned", courier_id=None, accepted_at=None, bundle_id=None,
        bundle_seq=None, pharmacy_id="ph-1", pickup=PHARMACY, dropoff=north(1.5), placed_at=NOW - timedelta(minutes=5),
        ready_at=NOW, due_at=NOW + timedelta(minutes=25), eta_at=None, size=1, cold_chain=False,
        order_status="paid", has_rx=False, approved_at=None,
    )  # fmt: skip
    return dataclasses.replace(row, **changes)  # type: ignore[arg-type]


def courier(courier_id: str, km_from_pharmacy: float, capacity: int = 3) -> CourierRow:
    return CourierRow(courier_id, north(-km_from_pharmacy), capacity, False, NOW + timedelta(hours=3))


def tick(
    deliveries: Sequence[DeliveryRow], couriers: Sequence[CourierRow], seed: int = 0
) -> tuple[DeliveryChange, ...]:
    return plan_tick(NOW, deliveries, couriers, TRAVEL, PARAMS, seed).changes


def of(changes: Sequence[DeliveryChange], order_id: str) -> list[DeliveryChange]:
    return [c for c in changes if c.order_id == order_id]


def test_a_ready_order_is_assigned_to_the_nearest_free_courier_with_its_eta() -> None:
    """Committed: state assigned, the nearer courier, bundle and sequence, the drop-off arrival as ETA."""
    (change,) = tick([delivery("o1")], [courier("far", 4.0), courier("near", 0.3)])
    assert change.kind is ChangeKind.ASSIGN
    assert change.courier_id == "near"
    assert change.bundle_seq == 0
    assert change.bundle_id
    assert change.expected_version == 3
    assert change.eta_at is not None
    assert NOW + timedelta(minutes=4) < change.eta_at < NOW + timedelta(minutes=20)


def test_an_rx_order_is_never_assigned_before_the_pharmacist_approves_it() -> None:
    """Held with the pharmacist's reason while unapproved; assigned the tick after approval."""
    unapproved = delivery("rx1", has_rx=True, order_status="awaiting_review")
    result = plan_tick(NOW, [unapproved], [courier("c1", 0.2)], TRAVEL, PARAMS, 0)
    assert result.changes == ()
    assert result.plan.held == {"rx1": HoldReason.AWAITING_PHARMACIST}

    approved = dataclasses.replace(unapproved, order_status="accepted", approved_at=NOW - timedelta(minutes=1))
    (change,) = tick([approved], [courier("c1", 0.2)])
    assert (change.kind, change.courier_id) == (ChangeKind.ASSIGN, "c1")


def test_an_unapproved_rx_order_assigned_earlier_is_taken_back() -> None:
    row = delivery("rx1", has_rx=True, order_status="awaiting_review", state="assigned", courier_id="c1")
    (change,) = tick([row], [courier("c1", 0.2)])
    assert (change.kind, change.reason) == (ChangeKind.UNASSIGN, UnassignReason.REPLANNED)


def test_an_accepted_delivery_is_never_moved_to_a_nearer_courier() -> None:
    """The courier took it: no change at all, although another courier stands at the pharmacy."""
    accepted = delivery("o1", state="assigned", courier_id="far", accepted_at=NOW - timedelta(minutes=1))
    assert of(tick([accepted], [courier("far", 5.0), courier("near", 0.0)]), "o1") == []

    not_yet = dataclasses.replace(accepted, accepted_at=None)  # the same delivery before acceptance moves
    (change,) = tick([not_yet], [courier("far", 5.0), courier("near", 0.0)])
    assert (change.kind, change.courier_id, change.previous_courier_id) == (ChangeKind.ASSIGN, "near", "far")


def test_a_courier_with_accepted_work_gets_no_new_work_to_start_now() -> None:
    """Busy until its accepted bundle is delivered: the new order waits for it (tentative at most)."""
    accepted = delivery("o1", state="assigned", courier_id="c1", accepted_at=NOW, dropoff=north(4.0))
    changes = tick([accepted, delivery("o2")], [courier("c1", 0.0)])
    assert [c for c in changes if c.kind is ChangeKind.ASSIGN] == []
    assert of(changes, "o1") == []


def test_an_offline_couriers_accepted_delivery_goes_back_to_unassigned() -> None:
    """Its courier is no longer among those on shift: unassigned, or straight to another courier."""
    accepted = delivery("o1", state="at_pickup", courier_id="gone", accepted_at=NOW - timedelta(minutes=3))
    (change,) = tick([accepted], [])
    assert (change.kind, change.reason, change.previous_courier_id) == (
        ChangeKind.UNASSIGN, UnassignReason.COURIER_GONE, "gone",
    )  # fmt: skip

    (change,) = tick([accepted], [courier("other", 0.5)])
    assert (change.kind, change.courier_id, change.previous_courier_id) == (ChangeKind.ASSIGN, "other", "gone")


def test_a_parcel_already_picked_up_stays_with_its_courier_and_keeps_it_busy() -> None:
    """Carried far away: the courier is not free for a new order now, and an offline carrier's parcel is not moved."""
    carried = delivery("o1", state="picked_up", courier_id="c1", accepted_at=NOW, order_status="picked_up",
                       dropoff=north(5.0))  # fmt: skip
    result = plan_tick(NOW, [carried, delivery("o2")], [courier("c1", 0.0)], TRAVEL, PARAMS, 0)
    assert [c for c in result.changes if c.kind is ChangeKind.ASSIGN] == []
    assert result.skipped == ()

    assert tick([carried], []) == ()
    assert tick([carried, delivery("o2")], [courier("c2", 0.1)]) == tick([delivery("o2")], [courier("c2", 0.1)])


def test_a_tentative_assignment_only_updates_the_eta() -> None:
    """Ready in 40 minutes: the courier need not leave yet, so nothing is assigned, but the ETA is live."""
    (change,) = tick([delivery("o1", ready_at=NOW + timedelta(minutes=40))], [courier("c1", 1.0)])
    assert change.kind is ChangeKind.ETA
    assert change.courier_id is None
    assert change.eta_at is not None
    assert change.eta_at > NOW + timedelta(minutes=40)


def test_an_assignment_whose_tentative_courier_changed_is_taken_back() -> None:
    """Given to c1 (not accepted); c1 is gone and c2 will take it later: back to unassigned, with an ETA."""
    row = delivery("o1", state="assigned", courier_id="c1", ready_at=NOW + timedelta(minutes=40))
    (change,) = tick([row], [courier("c2", 1.0)])
    assert (change.kind, change.reason, change.previous_courier_id) == (
        ChangeKind.UNASSIGN, UnassignReason.REPLANNED, "c1",
    )  # fmt: skip
    assert change.eta_at is not None


def test_an_order_not_yet_paid_or_already_closed_is_skipped() -> None:
    result = plan_tick(
        NOW, [delivery("o1", order_status="awaiting_payment"), delivery("o2", order_status="cancelled")],
        [courier("c1", 0.1)], TRAVEL, PARAMS, 0,
    )  # fmt: skip
    assert result.changes == ()
    assert result.skipped == ("o1", "o2")


def test_capacity_is_respected() -> None:
    """Six parcels ready at one pharmacy, two couriers with room for two each: at most two each."""
    rows = [delivery(f"o{i}", dropoff=north(1.0 + 0.1 * i)) for i in range(6)]
    changes = tick(rows, [courier("a", 0.2, capacity=2), courier("b", 0.4, capacity=2)])
    assigned = [c for c in changes if c.kind is ChangeKind.ASSIGN]
    per_courier = {k: sum(1 for c in assigned if c.courier_id == k) for k in ("a", "b")}
    assert per_courier == {"a": 2, "b": 2}
    for k in ("a", "b"):
        assert sorted(-1 if c.bundle_seq is None else c.bundle_seq for c in assigned if c.courier_id == k) == [0, 1]


def test_the_same_rows_and_seed_give_the_same_changes_in_any_read_order() -> None:
    rng = random.Random(11)
    pharmacies = [north(rng.uniform(-3, 3)) for _ in range(4)]
    rows = []
    for i in range(30):
        k = rng.randrange(4)
        rows.append(
            delivery(
                f"o{i:02d}", pharmacy_id=f"ph-{k}", pickup=pharmacies[k],
                dropoff=north(rng.uniform(-2, 2), pharmacies[k]), ready_at=NOW + timedelta(minutes=rng.uniform(-5, 15)),
            )
        )  # fmt: skip
    couriers = [courier(f"c{j}", rng.uniform(0, 4), capacity=rng.choice((2, 3))) for j in range(8)]
    first = tick(rows, couriers, seed=5)
    shuffled_rows, shuffled_couriers = rows[:], couriers[:]
    rng.shuffle(shuffled_rows)
    rng.shuffle(shuffled_couriers)
    assert tick(shuffled_rows, shuffled_couriers, seed=5) == first
    assert any(c.kind is ChangeKind.ASSIGN for c in first)


def test_an_assignment_already_written_is_not_written_again() -> None:
    """A second tick over the row the first one wrote changes at most its ETA."""
    (first,) = tick([delivery("o1")], [courier("c1", 0.3)])
    written = delivery(
        "o1", version=4, state="assigned", courier_id="c1", bundle_id=first.bundle_id, bundle_seq=0, eta_at=first.eta_at
    )
    assert tick([written], [courier("c1", 0.3)]) == ()
