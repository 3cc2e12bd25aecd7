"""DOMAIN S6: every entry of the online-sales prohibition list is unsellable; the listed exceptions stay sellable."""

from __future__ import annotations

import pytest

from yaodao.catalog.model import Ingredient
from yaodao.catalog.prohibition import check_online_sale


def single(inn: str, form: str = "tablet", name_zh: str = "") -> tuple[tuple[Ingredient, ...], str, str]:
    return (Ingredient(inn=inn, name_zh=name_zh or inn),), form, name_zh


PART_2_ITEM_4 = [
    "digoxin",
    "disopyramide",
    "quinidine sulfate",
    "prazosin hydrochloride",
    "procainamide",
    "propafenone",
    "amiodarone hydrochloride",
    "quinine",
    "aminophylline",
    "choline theophyllinate",
    "isoprenaline",
    "phenytoin sodium",
    "carbamazepine",
    "lamotrigine",
    "chloral hydrate",
    "dabigatran etexilate",
    "warfarin sodium",
    "ticagrelor",
    "cilostazol",
    "primidone",
    "lithium carbonate",
    "isoflurane",
    "sevoflurane",
    "enflurane",
    "desflurane",
    "colchicine",
    "cyproterone acetate",
    "carboprost methylate",
    "estradiol valerate",
    "misoprostol",
    "dinoprostone",
    "faropenem sodium",
    "fusidic acid",
    "voriconazole",
    "linezolid",
    "nemonoxacin malate",
    "posaconazole",
    "cefdinir",
    "itraconazole",
    "levornidazole",
    "cefpodoxime proxetil",
]


@pytest.mark.parametrize("inn", PART_2_ITEM_4)
def test_single_ingredient_products_on_the_list_are_not_sellable(inn: str) -> None:
    """Part 2 item 4, one fixture per entry."""
    verdict = check_online_sale(*single(inn))
    assert not verdict.sellable
    assert verdict.reason is not None
    assert "Part 2 item 4" in verdict.reason


@pytest.mark.parametrize(
    ("ingredients", "form", "name_zh", "part"),
    [
        ((Ingredient("influenza vaccine", "流感疫苗"),), "injection", "流感疫苗", "Part 1"),
        ((Ingredient("morphine sulfate", "硫酸吗啡"),), "sustained_release_tablet", "", "Part 1"),
        ((Ingredient("alprazolam", "阿普唑仑"),), "tablet", "", "Part 1"),
        ((Ingredient("tramadol hydrochloride", "盐酸曲马多"),), "tablet", "", "Part 1"),
        ((Ingredient("ephedrine hydrochloride", "盐酸麻黄碱"),), "tablet", "", "Part 1"),
        ((Ingredient("ceftriaxone sodium", "头孢曲松钠"),), "injection", "", "Part 2 item 1"),
        (
            (
                Ingredient("paracetamol", "对乙酰氨基酚"),
                Ingredient("pseudoephedrine hydrochloride", "盐酸伪麻黄碱"),
                Ingredient("chlorphenamine maleate", "马来酸氯苯那敏"),
            ),
            "film_coated_tablet",
            "",
            "Part 2 item 2",
        ),
        (
            (Ingredient("liquorice extract", "甘草浸膏粉"), Ingredient("opium powder", "阿片粉")),
            "tablet",
            "复方甘草片",
            "Part 2 item 2",
        ),
        (
            (Ingredient("tramadol hydrochloride", "盐酸曲马多"), Ingredient("paracetamol", "对乙酰氨基酚")),
            "tablet",
            "",
            "Part 2 item 2",
        ),
        ((Ingredient("dextromethorphan hydrobromide", "氢溴酸右美沙芬"),), "tablet", "", "Part 2 item 2"),
        ((Ingredient("testosterone undecanoate", "十一酸睾酮"),), "soft_capsule", "", "Part 2 item 3"),
        (
            (Ingredient("mifepristone", "米非司酮"), Ingredient("misoprostol", "米索前列醇")),
            "tablet",
            "",
            "Part 2 item 4",
        ),
        ((Ingredient("warfarin", "华法林"),), "tablet", "华法林钠片", "Part 2 item 4"),
        ((Ingredient("anticoagulant", "抗凝药"),), "tablet", "华法林钠片", "Part 2 item 4"),  # mislabelled INN
    ],
)
def test_parts_one_and_two_are_enforced_by_ingredient_and_form(
    ingredients: tuple[Ingredient, ...], form: str, name_zh: str, part: str
) -> None:
    verdict = check_online_sale(ingredients, form, name_zh)
    assert not verdict.sellable
    assert verdict.reason is not None
    assert verdict.reason.startswith(part)


@pytest.mark.parametrize(
    ("ingredients", "form", "name_zh"),
    [
        ((Ingredient("insulin glargine", "甘精胰岛素"),), "injection", "甘精胰岛素注射液"),
        ((Ingredient("semaglutide", "司美格鲁肽"),), "injection", "司美格鲁肽注射液"),
        ((Ingredient("fusidic acid", "夫西地酸"),), "cream", "夫西地酸乳膏"),
        ((Ingredient("itraconazole", "伊曲康唑"),), "vaginal_tablet", ""),
        ((Ingredient("ibuprofen", "布洛芬"),), "sustained_release_capsule", "布洛芬缓释胶囊"),
        (
            (Ingredient("dextromethorphan hydrobromide", "氢溴酸右美沙芬"), Ingredient("guaifenesin", "愈创甘油醚")),
            "syrup",
            "右美沙芬愈创甘油醚糖浆",
        ),
        ((Ingredient("ephedra herb", "麻黄"), Ingredient("bitter apricot seed", "苦杏仁")), "granules", "通宣理肺颗粒"),
        ((Ingredient("warfarin", "华法林"), Ingredient("vitamin k", "维生素K")), "tablet", ""),
    ],
)
def test_the_lists_exceptions_and_ordinary_products_stay_sellable(
    ingredients: tuple[Ingredient, ...], form: str, name_zh: str
) -> None:
    """Insulin and anti-diabetic injections, topical antibacterials, TCM with ephedra herb, ordinary OTCs."""
    verdict = check_online_sale(ingredients, form, name_zh)
    assert verdict.sellable, verdict.reason
    assert verdict.reason is None
