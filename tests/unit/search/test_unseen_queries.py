"""Queries worded in ways the lexicon has no entry for: the rules behind them, not the words.

Each case failed before its cause was fixed: typo correction turning everyday words into medical
ones, shop words that contain symptom words, the head noun of a shop query, illness characters and
body-part sensations outside the lexicon, drug-name stems, lone urgency characters and late hours.
"""

from __future__ import annotations

import pytest

from yaodao.search.analyze import analyze
from yaodao.search.intent import classify
from yaodao.search.lexicon import Lexicon
from yaodao.seed import seed_products


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.build(seed_products())


def intent_of(query: str, lexicon: Lexicon) -> str:
    return classify(analyze(query, lexicon)).intent


@pytest.mark.parametrize(
    ("query", "not_meant"),
    [
        ("冰箱贴", "冰宝贴"),  # 箱 makes the word 冰箱: not a slip
        ("喉咙发出呼噜声", "喉咙发炎"),  # 发出 is a word
        ("吃完了", "吃多了"),  # three everyday characters: only a same-sounding slip counts
        ("宝宝辅食机", "食积"),  # 食机 sits inside the word 辅食机
        ("ever", "fever"),  # the first letter is rarely the slip
        ("kafei", "dafei"),  # 咖啡 in pinyin is a shop word
        ("nike 运动鞋", "neike"),
    ],
)
def test_everyday_words_are_not_corrected_into_medical_ones(query: str, not_meant: str, lexicon: Lexicon) -> None:
    assert not_meant not in {c.term for c in analyze(query, lexicon).corrections}


@pytest.mark.parametrize(
    ("query", "meant"),
    [("极用药", "急用药"), ("对乙酰胺基酚", "对乙酰氨基酚"), ("布落芬", "布洛芬"), ("肚子腾", "肚子疼")],
)
def test_keyboard_slips_are_still_corrected(query: str, meant: str, lexicon: Lexicon) -> None:
    assert meant in {c.term for c in analyze(query, lexicon).corrections}


def test_fuzzy_pinyin_slips_sound_alike(lexicon: Lexicon) -> None:
    """z/zh, c/ch, s/sh, n/l … as pinyin keyboards offer them: 纸 (zhi) for 子 (zi)."""
    assert lexicon.correct_zh("拉肚纸") == "拉肚子"


@pytest.mark.parametrize(
    "query",
    [
        "手机壳 头疼款",
        "发烧友 耳机",
        "发烧 显卡",
        "cold brew concentrate",
        "croissant and pain au chocolat",
        "cough drop candy flavor soda",
        "eye mask for sleeping",
        "heart shaped balloons",
        "药丸 形状 抱枕",
        "screen protector urgent",
        "quick dry towel",
        "心疼你",
        "kafei",
    ],
)
def test_shop_queries_with_medical_looking_words_stay_non_medical(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "non_medical"


@pytest.mark.parametrize(
    "query",
    [
        "宝宝38度5 精神还行",
        "手上长了好多小水泡 很痒",
        "手腕疼 鼠标手",
        "耳朵里痒",
        "大便有点黑",
        "孕期腿抽筋",
        "老花眼 看不清",
    ],
)
def test_complaints_worded_outside_the_lexicon_are_symptoms(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "symptom"


@pytest.mark.parametrize("query", ["依巴斯汀", "酮替芬", "硫酸亚铁", "赛庚啶", "ebastine tablets", "zofran"])
def test_drugs_outside_the_lexicon_are_recognised_by_their_stem_or_synonym(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "drug"


@pytest.mark.parametrize(
    "query", ["快 胃药", "药 急", "緊急 需要退燒藥", "跑腿买药", "1小时送达 布洛芬", "晚上11点了还能买到药吗"]
)
def test_urgency_in_a_lone_character_a_delivery_word_or_a_late_hour(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "urgent_medicine"


@pytest.mark.parametrize("query", ["急性肠胃炎", "急救箱 家用"])
def test_urgency_characters_inside_words_are_not_urgency(query: str, lexicon: Lexicon) -> None:
    assert analyze(query, lexicon).urgency == ()


@pytest.mark.parametrize("query", ["dermatologist online", "开个处方 阿莫西林"])
def test_specialists_and_prescription_requests_are_consults(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "consult"


def test_a_temperature_with_its_unit_is_a_fever_and_a_shoe_size_is_not(lexicon: Lexicon) -> None:
    assert "fever" in {s.code for s in analyze("宝宝体温38.2", lexicon).symptoms}
    assert "fever" not in {s.code for s in analyze("运动鞋 38.5码", lexicon).symptoms}


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        # A style word after a space still names a product's look (头疼 同款 = 头疼款).
        ("头疼 同款 发箍", "non_medical"),
        ("退烧贴 造型 抱枕", "non_medical"),
        # A medicine that only names the look of a shop product.
        ("感冒灵 同款 卫衣", "non_medical"),
        ("药丸造型 钥匙扣", "non_medical"),
        ("颈椎按摩仪", "non_medical"),
        ("kids fever costume", "non_medical"),
        # A doctor that a shop product depicts is not a consult.
        ("医生 cosplay 服装", "non_medical"),
        ("doctor costume", "non_medical"),
        ("医生 手办", "non_medical"),
        # Night-time delivery and closed pharmacies are the hurry of a medicine order.
        ("夜里 送 胃药", "urgent_medicine"),
        ("晚上能送 退烧药吗", "urgent_medicine"),
        ("孩子高烧 药店关门了 哪里能买", "urgent_medicine"),
        ("pharmacy closed need cough syrup", "urgent_medicine"),
        # "问一下" asks someone: a consult, before the drug it asks about.
        ("吃完头孢能喝酒吗 问一下", "consult"),
        ("想问下 孕妇能吃布洛芬吗", "consult"),
        # Long pinyin with a vowel group lost or swapped (奥美拉唑).
        ("aomolazuo", "drug"),
    ],
)
def test_wordings_first_seen_outside_the_labelled_set(query: str, intent: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == intent


@pytest.mark.parametrize("word", ["chongdianbao", "headphones", "sunglasses", "basketball", "lianyiqun"])
def test_two_edit_correction_leaves_long_shop_words_alone(word: str, lexicon: Lexicon) -> None:
    assert lexicon.correct_latin(word) is None
