"""Dispatch: couriers, the delivery promise, travel times, the planner and tracking."""
