"""Emergency guidance: the number, the crisis line when it applies, and the nearest departments first."""

from __future__ import annotations

from yaodao.care.emergency import departments, guidance
from yaodao.kernel.geo import LatLng

BINJIANG = LatLng(30.2085, 120.2100)  # south of the river, near the children's hospital campus


def test_hangzhou_ships_at_least_eight_emergency_departments_with_names_in_both_languages() -> None:
    number, found = departments("hangzhou")
    assert number == "120"
    assert len(found) >= 8
    assert all(d.name_zh and d.name_en and d.address_zh for d in found)


def test_the_nearest_departments_come_first_with_their_distances() -> None:
    advice = guidance(city_id="hangzhou", near=BINJIANG)
    distances = [km for _, km in advice.nearest]
    assert len(advice.nearest) == 3
    assert distances == sorted(distances)
    assert advice.nearest[0][0].id == "zju-childrens-binjiang"
    assert "120" in advice.message_zh
    assert "120" in advice.message_en


def test_without_a_position_the_list_is_given_without_distances_and_the_crisis_line_is_added_when_asked() -> None:
    advice = guidance(city_id=None, near=None, crisis=True)
    assert all(km is None for _, km in advice.nearest)
    assert "12356" in advice.message_zh
    assert advice.crisis_line
