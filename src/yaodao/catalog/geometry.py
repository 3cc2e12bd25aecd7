"""Polygon checks that need real computational geometry (shapely), kept out of the pure kernel."""

from __future__ import annotations

from collections.abc import Sequence

from shapely import Polygon
from shapely.validation import explain_validity


def ring_self_intersections(ring: Sequence[tuple[float, float]]) -> list[str]:
    """Why a closed ring is not a valid simple polygon (self-intersection, zero area); [] when it is."""
    polygon = Polygon(ring)
    if polygon.is_valid and polygon.area > 0:
        return []
    reason = explain_validity(polygon) if not polygon.is_valid else "the polygon has no area"
    return [f"not a valid polygon: {reason}"]
