"""A map without tiles: district boundaries and a few points drawn as SVG, zoomed to what matters.

Equirectangular projection: x grows with longitude scaled by cos(latitude) at the view's centre, y
grows southwards with latitude, both in the same units, so distances look right at city scale. The
view is the bounding box of the points with a margin, widened to a square; districts outside it are
left out and those crossing it are cut to it (the SVG viewBox clips the small pad left around it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from yaodao.kernel.geo import LatLng, point_in_ring
from yaodao.tracking.view import Point

SIZE = 1000.0  # the viewBox is SIZE x SIZE
MARGIN = 0.25  # of the points' span, on every side
MIN_SPAN_DEG = 0.012  # about 1.3 km: two points side by side still show their streets' district
LABEL_GRID = 6  # candidate label points per side of the view
LABEL_CLEARANCE = 120.0  # viewBox units between a district name and a pin
CLIP_PAD = 20.0  # district outlines are cut this far outside the view, so their edges never show

Ring = Sequence[tuple[float, float]]  # (lng, lat) pairs, as in GeoJSON
XY = tuple[float, float]  # viewBox coordinates


@dataclass(frozen=True, slots=True)
class Projection:
    """lat/lng -> viewBox coordinates; the page's script repeats this arithmetic for the live courier dot."""

    west: float
    north: float
    kx: float  # viewBox units per degree of longitude (already scaled by cos(latitude))
    ky: float  # viewBox units per degree of latitude

    def xy(self, lat: float, lng: float) -> tuple[float, float]:
        return round((lng - self.west) * self.kx, 1), round((self.north - lat) * self.ky, 1)

    def latlng(self, x: float, y: float) -> LatLng:
        return LatLng(self.north - y / self.ky, self.west + x / self.kx)


def fit(points: Sequence[Point]) -> Projection:
    """The projection showing every point, with a margin, in a square viewBox."""
    if not points:
        raise ValueError("points: at least one point is needed to place the map")
    south, north = min(p.lat for p in points), max(p.lat for p in points)
    west, east = min(p.lng for p in points), max(p.lng for p in points)
    mid_lat = (south + north) / 2
    cos_lat = max(math.cos(math.radians(mid_lat)), 1e-6)
    # Spans in "latitude degrees" so both axes share one unit.
    height = max(north - south, MIN_SPAN_DEG)
    width = max((east - west) * cos_lat, MIN_SPAN_DEG)
    side = max(height, width) * (1 + 2 * MARGIN)
    centre_lat, centre_lng = mid_lat, (west + east) / 2
    k = SIZE / side
    return Projection(
        west=centre_lng - side / 2 / cos_lat,
        north=centre_lat + side / 2,
        kx=k * cos_lat,
        ky=k,
    )


def clip(points: Sequence[XY], low: float = -CLIP_PAD, high: float = SIZE + CLIP_PAD) -> list[XY]:
    """Sutherland-Hodgman: the polygon cut to the square [low, high]², so the page carries only what shows."""
    out = list(points)
    for axis, bound, below in ((0, low, False), (0, high, True), (1, low, False), (1, high, True)):
        if not out:
            break
        src, out = out, []
        prev = src[-1]
        for cur in src:
            cur_in, prev_in = _keeps(cur, axis, bound, below), _keeps(prev, axis, bound, below)
            if cur_in != prev_in:
                out.append(_crossing(prev, cur, axis, bound))
            if cur_in:
                out.append(cur)
            prev = cur
    return out


def _keeps(p: XY, axis: int, bound: float, below: bool) -> bool:
    return p[axis] <= bound if below else p[axis] >= bound


def _crossing(a: XY, b: XY, axis: int, bound: float) -> XY:
    t = (bound - a[axis]) / (b[axis] - a[axis])
    other = round(a[1 - axis] + t * (b[1 - axis] - a[1 - axis]), 1)
    return (bound, other) if axis == 0 else (other, bound)


def ring_path(projection: Projection, ring: Ring) -> str:
    """One closed SVG sub-path for a (lng, lat) ring, clipped to the view; "" when nothing of it shows."""
    coords: list[XY] = []
    for point in clip([projection.xy(lat, lng) for lng, lat in ring]):
        if not coords or coords[-1] != point:  # vertices closer than a tenth of a unit add nothing
            coords.append(point)
    if len(coords) < 3:
        return ""
    head, *rest = coords
    return f"M{head[0]} {head[1]}" + "".join(f"L{x} {y}" for x, y in rest) + "Z"


def overlaps(projection: Projection, rings: Sequence[Ring]) -> bool:
    """Whether any part of the rings' bounding box falls inside the view."""
    xs, ys = [], []
    for ring in rings:
        for lng, lat in ring:
            x, y = projection.xy(lat, lng)
            xs.append(x)
            ys.append(y)
    return bool(xs) and min(xs) <= SIZE and max(xs) >= 0 and min(ys) <= SIZE and max(ys) >= 0


@dataclass(frozen=True, slots=True)
class DistrictShape:
    code: str
    name: str
    path: str
    label: tuple[float, float] | None  # a point of the view inside the district; None when little of it shows


def _label(projection: Projection, rings: Sequence[Ring], avoid: Sequence[XY]) -> tuple[float, float] | None:
    """The grid point of the view inside the district nearest the middle of the district's grid points, away
    from the pins (``avoid``) so names and pins do not overlap."""
    step = SIZE / LABEL_GRID
    cells = [
        (x, y)
        for x, y in (((i + 0.5) * step, (j + 0.5) * step) for i in range(LABEL_GRID) for j in range(LABEL_GRID))
        if all((x - ax) ** 2 + (y - ay) ** 2 > LABEL_CLEARANCE**2 for ax, ay in avoid)
    ]
    inside = [
        (x, y)
        for x, y in cells
        if sum(point_in_ring(projection.latlng(x, y), ring) for ring in rings) % 2 == 1  # even-odd, as drawn
    ]
    if not inside:
        return None
    mx, my = sum(x for x, _ in inside) / len(inside), sum(y for _, y in inside) / len(inside)
    x, y = min(inside, key=lambda c: (c[0] - mx) ** 2 + (c[1] - my) ** 2)
    return round(x, 1), round(y, 1)


def district_shapes(
    projection: Projection, districts: Sequence[tuple[str, str, Sequence[Ring]]], avoid: Sequence[XY] = ()
) -> list[DistrictShape]:
    """The districts (code, name, rings) whose bounding box meets the view, as SVG paths, each with a label
    point when part of it covers a label grid point."""
    shapes = []
    for code, name, rings in districts:
        path = "".join(ring_path(projection, ring) for ring in rings) if rings and overlaps(projection, rings) else ""
        if path:
            shapes.append(DistrictShape(code, name, path, _label(projection, rings, avoid)))
    return shapes
