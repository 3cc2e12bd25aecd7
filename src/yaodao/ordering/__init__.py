"""Ordering: carts, the order aggregate and its state machine, the pharmacy safety gate, e-prescriptions."""
