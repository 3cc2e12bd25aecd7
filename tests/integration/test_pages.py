"""The server-rendered availability page: offers within the promise first, the rest apart, clear errors."""

from __future__ import annotations

from factories import WEST_LAKE
from support import Platform

SKU = "ibuprofen-sr-caps-300mg-24-fenbid"  # 芬必得, stocked by most pharmacies in the seed


def test_offers_within_the_promise_come_before_the_ones_that_miss_it(sqlite_platform: Platform) -> None:
    page = sqlite_platform.client.get("/availability", params={**WEST_LAKE, "sku": SKU})
    assert page.status_code == 200
    html = page.text
    assert "芬必得" in html
    kept, later = html.count('class="offer kept"'), html.count('class="offer"')
    assert kept >= 1
    if later:
        assert html.index("Beyond the 30-minute promise") > html.rindex('class="offer kept"')


def test_an_address_outside_the_city_or_an_unknown_product_says_so(sqlite_platform: Platform) -> None:
    outside = sqlite_platform.client.get("/availability", params={"lat": 31.2304, "lng": 121.4737, "sku": SKU})
    assert outside.status_code == 422
    assert "outside the service area" in outside.text
    unknown = sqlite_platform.client.get("/availability", params={**WEST_LAKE, "sku": "no-such-product"})
    assert unknown.status_code == 422
    assert "Unknown product" in unknown.text
