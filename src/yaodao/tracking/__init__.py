"""Tracking: what a customer may see of their order on its way, and how well the promise is kept."""
