"""The tile-free map: a square view around the points, with cos(latitude) scaling, and districts clipped to it."""

from __future__ import annotations

import math

import pytest

from yaodao.tracking.mapview import CLIP_PAD, SIZE, clip, district_shapes, fit
from yaodao.tracking.view import Point

A, B = Point(30.25, 120.10), Point(30.30, 120.20)


def test_every_point_lands_inside_the_view_with_a_margin() -> None:
    projection = fit([A, B])
    for p in (A, B):
        x, y = projection.xy(p.lat, p.lng)
        assert 0.1 * SIZE < x < 0.9 * SIZE
        assert 0.1 * SIZE < y < 0.9 * SIZE
    ax, ay = projection.xy(A.lat, A.lng)
    bx, by = projection.xy(B.lat, B.lng)
    assert bx > ax  # east is right
    assert by < ay  # north is up


def test_a_degree_of_longitude_is_shorter_than_a_degree_of_latitude_by_cos_latitude() -> None:
    projection = fit([A, B])
    assert projection.kx / projection.ky == pytest.approx(math.cos(math.radians(30.275)))


def test_one_point_still_gives_a_view_of_about_a_kilometre() -> None:
    projection = fit([A])
    assert projection.xy(A.lat, A.lng) == (SIZE / 2, SIZE / 2)
    assert SIZE / projection.ky > 0.01  # degrees of latitude across the view
    with pytest.raises(ValueError, match="points"):
        fit([])


def test_districts_far_away_are_left_out_and_a_covering_one_is_labelled() -> None:
    projection = fit([A])
    around = [(120.0, 30.0), (120.3, 30.0), (120.3, 30.5), (120.0, 30.5), (120.0, 30.0)]
    far = [(121.0, 31.0), (121.1, 31.0), (121.1, 31.1), (121.0, 31.0)]
    shapes = district_shapes(projection, [("1", "周围", [around]), ("2", "远处", [far])])
    assert [s.code for s in shapes] == ["1"]
    assert shapes[0].path.startswith("M")
    assert shapes[0].path.endswith("Z")
    assert shapes[0].label is not None


def test_outlines_are_cut_to_the_view_with_a_small_pad() -> None:
    """A polygon bigger than the view becomes the padded view square; one wholly outside disappears."""
    big = [(-500.0, -500.0), (1500.0, -500.0), (1500.0, 1500.0), (-500.0, 1500.0)]
    cut = clip(big)
    assert sorted(cut) == sorted([(-CLIP_PAD, -CLIP_PAD), (SIZE + CLIP_PAD, -CLIP_PAD),
                                  (SIZE + CLIP_PAD, SIZE + CLIP_PAD), (-CLIP_PAD, SIZE + CLIP_PAD)])  # fmt: skip
    assert clip([(2000.0, 0.0), (3000.0, 0.0), (3000.0, 500.0)]) == []
    triangle = [(500.0, -300.0), (700.0, 500.0), (300.0, 500.0)]
    assert all(y >= -CLIP_PAD for _, y in clip(triangle))
    assert (700.0, 500.0) in clip(triangle)
