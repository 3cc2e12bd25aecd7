"""Query analysis against the real catalogue seed: Chinese, English, pinyin, initials, typos, Traditional."""

from __future__ import annotations

import pytest

from yaodao.catalog.model import CATEGORIES, Product
from yaodao.search.analyze import Analysis, analyze, document_tokens, query_terms
from yaodao.search.lexicon import Lexicon
from yaodao.seed import seed_products


@pytest.fixture(scope="module")
def products() -> list[Product]:
    return seed_products()


@pytest.fixture(scope="module")
def lexicon(products: list[Product]) -> Lexicon:
    return Lexicon.build(products)


def drug_keys(analysis: Analysis) -> list[str]:
    return [hit.inn for hit in analysis.drugs]


@pytest.mark.parametrize(
    ("query", "inn", "how"),
    [
        ("buluofen", "ibuprofen", "synonym"),
        ("bu luo fen", "ibuprofen", "synonym"),
        ("blf", "ibuprofen", "initials"),
        ("芬必得", "ibuprofen", "exact"),
        ("fenbide", "ibuprofen", "pinyin"),
        ("Advil", "ibuprofen", "synonym"),
        ("布洛芬", "ibuprofen", "exact"),
        ("ＩＢＵＰＲＯＦＥＮ", "ibuprofen", "exact"),
        ("扑热息痛", "paracetamol", "synonym"),
        ("Tylenol", "paracetamol", "exact"),
        ("思密达", "diosmectite", "exact"),
        ("Claritin", "loratadine", "synonym"),
        ("拜阿司匹灵", "acetylsalicylic acid", "exact"),
        ("连花清瘟", "lianhua qingwen", "exact"),
    ],
)
def test_a_drug_is_found_by_name_brand_synonym_pinyin_or_initials(
    lexicon: Lexicon, query: str, inn: str, how: str
) -> None:
    """Every way of naming a drug resolves to its INN (or a combination's name key), with how it matched."""
    analysis = analyze(query, lexicon)
    hit = next(h for h in analysis.drugs if h.inn == inn)
    assert hit.how == how


@pytest.mark.parametrize(
    ("query", "inn", "corrected"),
    [
        ("paracetmol", "paracetamol", "paracetamol"),
        ("ibuprofin", "ibuprofen", "ibuprofen"),
        ("布落芬", "ibuprofen", "布洛芬"),
        ("阿莫西琳", "amoxicillin", "阿莫西林"),
        ("buluofeng", "ibuprofen", "buluofen"),
    ],
)
def test_typos_are_corrected_to_the_nearest_drug(lexicon: Lexicon, query: str, inn: str, corrected: str) -> None:
    """English and pinyin typos by rapidfuzz, Chinese ones by one wrong character; both are recorded."""
    analysis = analyze(query, lexicon)
    assert drug_keys(analysis) == [inn]
    assert analysis.drugs[0].how == "typo"
    assert [(c.typo, c.term) for c in analysis.corrections] == [(analysis.normalized, corrected)]


def test_traditional_characters_find_the_simplified_drug(lexicon: Lexicon) -> None:
    """撲熱息痛 (Traditional) is 扑热息痛 is paracetamol."""
    analysis = analyze("撲熱息痛", lexicon)
    assert analysis.normalized == "扑热息痛"
    assert drug_keys(analysis) == ["paracetamol"]


@pytest.mark.parametrize("query", ["头疼", "头痛", "headache", "touteng", "偏头痛", "頭痛"])
def test_headache_in_any_form_is_the_headache_symptom(lexicon: Lexicon, query: str) -> None:
    """Colloquial, formal, English, pinyin and Traditional forms share one symptom code."""
    assert [s.code for s in analyze(query, lexicon).symptoms] == ["headache"]


def test_a_toddler_with_diarrhoea_is_a_child_with_diarrhoea(lexicon: Lexicon) -> None:
    """PRODUCT journey: 宝宝拉肚子 recognises the child and the symptom."""
    analysis = analyze("宝宝拉肚子", lexicon)
    assert analysis.persons == ("child",)
    assert [s.code for s in analysis.symptoms] == ["diarrhoea"]
    assert analysis.body_parts == ("abdomen",)
    assert analysis.red_flags == ()


@pytest.mark.parametrize(
    ("query", "person"), [("3岁宝宝发烧", "child"), ("孕妇感冒", "pregnant"), ("老人便秘", "elderly")]
)
def test_who_the_medicine_is_for_is_recognised(lexicon: Lexicon, query: str, person: str) -> None:
    """Persons come from words (宝宝, 孕妇, 老人) and from ages (3岁)."""
    assert person in analyze(query, lexicon).persons


def test_glued_pinyin_splits_into_words(lexicon: Lexicon) -> None:
    """PRODUCT: "tuishaoyao" is 退烧 + 药, a fever query."""
    analysis = analyze("tuishaoyao", lexicon)
    assert [s.code for s in analysis.symptoms] == ["fever"]
    assert analysis.medical == ("药",)


def test_urgency_consult_and_non_medical_words_are_collected(lexicon: Lexicon) -> None:
    """Modifiers are reported as the words typed."""
    assert analyze("急用药 半夜", lexicon).urgency == ("急用药", "半夜")
    assert analyze("在线问诊", lexicon).consult == ("在线问诊",)
    assert analyze("手机壳 零食", lexicon).non_medical == ("手机壳", "零食")


def test_a_longer_word_wins_over_the_words_inside_it(lexicon: Lexicon) -> None:
    """葵花籽 is a snack, not the brand 葵花; 感冒灵 is a drug, not the symptom 感冒."""
    assert analyze("葵花籽", lexicon).drugs == ()
    analysis = analyze("999感冒灵", lexicon)
    assert drug_keys(analysis) == ["ganmaoling"]
    assert analysis.symptoms == ()


def test_red_flags_come_from_the_safety_gate(lexicon: Lexicon) -> None:
    """The analyser runs the shared RF1 gate on the normalised query."""
    assert [f.code for f in analyze("胸口疼 出冷汗", lexicon).red_flags] == ["chest_pain"]
    assert analyze("没有胸痛 头疼", lexicon).red_flags == ()


def test_tokens_are_segmented_with_the_catalogue_dictionary(lexicon: Lexicon) -> None:
    """jieba with catalogue user words keeps 连花清瘟 and 布洛芬 whole (STACK trap 3)."""
    analysis = analyze("连花清瘟胶囊 布洛芬 ibuprofen", lexicon)
    assert {"连花清瘟", "布洛芬", "ibuprofen"} <= set(analysis.tokens)
    assert analysis.latin_tokens == ("ibuprofen",)


def test_query_terms_expand_drugs_and_symptoms_and_stay_short(lexicon: Lexicon) -> None:
    """A brand expands to its INN and Chinese name; a symptom to its code and indication words; ≤ 30 terms."""
    advil = query_terms(analyze("Advil", lexicon))
    assert advil[:3] == ["advil", "ibuprofen", "布洛芬"]
    fever = query_terms(analyze("退烧药", lexicon))
    assert {"fever", "发热"} <= set(fever)
    assert len(query_terms(analyze("布洛芬 " * 100 + "头疼 发烧 咳嗽 流鼻涕 嗓子疼", lexicon))) <= 30


def test_query_terms_of_a_typo_include_the_correction(lexicon: Lexicon) -> None:
    """The misspelling itself matches nothing; the corrected word and its INN do."""
    assert {"ibuprofen", "布洛芬"} <= set(query_terms(analyze("ibuprofin", lexicon)))


def test_document_tokens_carry_pinyin_initials_synonyms_and_symptom_codes(
    lexicon: Lexicon, products: list[Product]
) -> None:
    """The index text lets Latin keyboards, brands from abroad and symptom searches find a product."""
    fenbid = next(p for p in products if p.sku.startswith("ibuprofen-sr-caps") and p.brand_name_zh == "芬必得")
    tokens = document_tokens(fenbid, lexicon).split()
    assert {"布洛芬", "缓释", "胶囊", "芬必得"} <= set(tokens)
    assert {"buluofen", "blf", "fenbide", "ibuprofen"} <= set(tokens)
    assert {"advil", "nurofen", "美林"} <= set(tokens)
    assert {"fever", "headache", "toothache", "fever_pain"} <= set(tokens)
    assert len(tokens) == len(set(tokens))


def test_query_and_document_meet_on_the_same_tokens(lexicon: Lexicon, products: list[Product]) -> None:
    """Every product's document contains a term of a query naming it in pinyin, English or Chinese."""
    smecta = next(p for p in products if p.brand_name_zh == "思密达")
    document = set(document_tokens(smecta, lexicon).split())
    for query in ("mengtuoshi", "Smecta", "蒙脱石散", "宝宝拉肚子"):
        assert document & set(query_terms(analyze(query, lexicon))), query


@pytest.mark.parametrize("query", ["", "   ", "😷", "\ud800", "x" * 10_000, "的了吗"])
def test_odd_input_analyses_to_nothing_without_raising(lexicon: Lexicon, query: str) -> None:
    """Empty, emoji-only, broken and huge input: no exception, no invented entities."""
    analysis = analyze(query, lexicon)
    assert analysis.drugs == ()
    assert analysis.red_flags == ()


def test_the_lexicon_covers_sixty_symptoms_mapped_to_catalogue_categories(lexicon: Lexicon) -> None:
    """symptoms.tsv: at least 60 canonical symptoms, each pointing at real catalogue categories."""
    assert len(lexicon.symptoms) >= 60
    for info in lexicon.symptoms.values():
        assert info.categories, info.code
        assert set(info.categories) <= CATEGORIES, info.code


def test_every_seed_product_is_reachable_from_the_lexicon(lexicon: Lexicon, products: list[Product]) -> None:
    """Each product sits under at least one drug key, so a named drug can always be boosted."""
    reachable = {pid for info in lexicon.drugs.values() for pid in info.product_ids}
    assert reachable == {p.id for p in products}


def test_every_site_refinement_names_a_body_word_and_a_known_symptom(lexicon: Lexicon) -> None:
    """sites.tsv: a site is a body word of vocab.tsv and turns a complaint into a symptom code."""
    assert {"嘴唇", "脚丫", "私处", "来姨妈", "眼睛"} <= lexicon.refinements.keys()
    for site, rules in lexicon.refinements.items():
        assert any(e.kind == "body" for e in lexicon.terms[site]), site
        for rule in rules:
            assert rule.code in lexicon.symptoms, rule.code
            assert rule.complaints, rule.code


def test_a_refined_complaint_replaces_the_general_one(lexicon: Lexicon) -> None:
    """嘴唇上长了个水泡: a cold sore, searched as one, not also as any rash."""
    analysis = analyze("嘴唇上长了个水泡", lexicon)
    assert [s.code for s in analysis.symptoms] == ["cold_sore"]
    assert "cold_sore" in query_terms(analysis)
