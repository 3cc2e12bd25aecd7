"""Delivery: couriers, their shifts and positions, and the delivery of each order from pharmacy to door."""
