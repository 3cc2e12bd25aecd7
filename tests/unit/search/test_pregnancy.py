"""Pregnancy fit of real seed products: preferred, avoided by ingredient or by the label, or neutral."""

from __future__ import annotations

import pytest

from yaodao.catalog.model import Product
from yaodao.search.pregnancy import pregnancy_fit
from yaodao.seed import seed_products


@pytest.fixture(scope="module")
def products() -> list[Product]:
    return seed_products()


def _first(products: list[Product], *, inns: set[str] | None = None, warning: str | None = None) -> Product:
    for p in products:
        if inns is not None and set(p.inns) == inns:
            return p
        if warning is not None and any(warning in c for c in p.contraindications) and not set(p.inns) & {"ibuprofen"}:
            return p
    raise AssertionError(f"no seed product with {inns or warning}")


def test_single_ingredient_paracetamol_is_preferred(products: list[Product]) -> None:
    assert pregnancy_fit(_first(products, inns={"paracetamol"})) == 1


@pytest.mark.parametrize("inn", ["ibuprofen", "loperamide", "acetylsalicylic acid"])
def test_an_avoided_ingredient_is_avoided(products: list[Product], inn: str) -> None:
    assert pregnancy_fit(_first(products, inns={inn})) == -1


def test_a_preferred_ingredient_beside_an_unlisted_one_is_not_preferred(products: list[Product]) -> None:
    mixed = next(
        p for p in products if "paracetamol" in p.inns and len(p.inns) > 1 and not set(p.inns) & {"pseudoephedrine"}
    )
    assert pregnancy_fit(mixed) <= 0


def test_the_labels_own_pregnancy_warning_counts(products: list[Product]) -> None:
    assert pregnancy_fit(_first(products, warning="孕妇禁用")) == -1


def test_a_product_the_guidance_does_not_cover_is_neutral(products: list[Product]) -> None:
    assert pregnancy_fit(_first(products, inns={"isatis root"})) == 0
