"""Queries worded in ways the lexicon has no entry for: the rules behind them, not the words.

Each case failed before its cause was fixed: typo correction turning everyday words into medical
ones, shop words that contain symptom words, the head noun of a shop query, illness characters and
body-part sensations outside the lexicon, drug-name stems, lone urgency characters and late hours;
then a brand or ingredient before a shop product, sales idioms, songs, shows, recipes and food, a
site that names the condition of a general complaint, dialect and two-word English slips, and
characters that form a word with their neighbour outside a typo window.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from yaodao.search.analyze import DrugHit, analyze
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


def symptom_codes(query: str, lexicon: Lexicon) -> set[str]:
    return {s.code for s in analyze(query, lexicon).symptoms}


@pytest.mark.parametrize(
    "query",
    [
        "曼秀雷敦 防晒霜",  # a pharmacy brand's cosmetics
        "维生素c 面膜",  # an ingredient in a beauty product
        "烟酰胺 身体乳",
        "王老吉 凉茶 24罐",  # the head noun before a quantity
        "999 眼影",  # a number brand next to a shop word is a shade
        "口红 999 正品",
    ],
)
def test_a_brand_or_ingredient_before_a_shop_product_is_that_product(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "non_medical"


@pytest.mark.parametrize("query", ["开塞露 儿童装", "王老吉 保济丸", "曼秀雷敦", "999", "维生素c 泡腾片"])
def test_a_drug_with_its_pack_or_alone_is_still_a_drug(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "drug"


def test_a_two_character_typo_among_shop_words_is_a_shop_word_and_a_longer_one_a_drug(lexicon: Lexicon) -> None:
    shop = analyze("榴莲 猫山王", lexicon)
    slip = replace(shop, drugs=(DrugHit("jinzhen", "金振", "typo"),))
    assert classify(slip).intent == "non_medical"
    assert intent_of("奶茶 布洛分", lexicon) == "drug"


@pytest.mark.parametrize(
    "query",
    [
        "换季清仓大出血 毛衣",
        "年终大出血 蓝牙耳机",
        "叫不醒的人专用 闹钟 超响",
        "发烧 歌词",  # songs, tabs, shows and recipes are content, not a complaint
        "头痛 吉他谱",
        "感冒灵 广告 歌曲",
        "医生 电视剧 全集",
        "川贝炖梨 做法",
        "烧烤炉 户外",  # food and cooking words
        "深夜 烧烤 外卖",
        "chocolate cheesecake",
        "bbq grill",
        "榨菜 下饭",
        "汽车安全座椅",
    ],
)
def test_idioms_content_and_food_words_make_a_query_non_medical(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "non_medical"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("嘴角长了个泡", "cold_sore"),  # lip + blister
        ("嘴唇 起水泡", "cold_sore"),
        ("嘴唇干 起皮", "chapped_lips"),
        ("脚底板痒", "athletes_foot"),  # foot + itch
        ("脚趾缝痒 还脱皮", "athletes_foot"),
        ("itchy feet", "athletes_foot"),
        ("下体好痒", "vaginal_infection"),
        ("月经来了肚子疼", "period_pain"),  # menses + belly ache
        ("例假 肚子痛", "period_pain"),
        ("眼睛好痒", "itchy_eyes"),
    ],
)
def test_a_site_next_to_a_general_complaint_names_the_condition(query: str, code: str, lexicon: Lexicon) -> None:
    assert code in symptom_codes(query, lexicon)


@pytest.mark.parametrize(
    ("query", "kept", "not_meant"),
    [
        ("脚后跟干裂", "dry_skin", "athletes_foot"),  # the complaint word holds its own site
        ("身上起疹子 嘴唇干", "rash", "cold_sore"),  # a site after the complaint, in another clause
        ("我姨妈肚子疼", "abdominal_pain", "period_pain"),  # an aunt is not a period
    ],
)
def test_a_site_refines_only_its_own_complaint(query: str, kept: str, not_meant: str, lexicon: Lexicon) -> None:
    codes = symptom_codes(query, lexicon)
    assert kept in codes
    assert not_meant not in codes


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("孩子又吐又拉", "diarrhoea"),
        ("吐泻 两天了", "diarrhoea"),
        ("早孕反应 恶心", "nausea_vomiting"),
        ("被纸划了个口子", "cut_wound"),
        ("切菜割了个口子 消毒", "cut_wound"),
        ("屙稀 食乜药", "diarrhoea"),  # Cantonese
        ("周身痕", "itchy_skin"),
        ("sore troat", "sore_throat"),  # two English words, one slip
        ("runny noze", "runny_nose"),
    ],
)
def test_complaints_in_colloquial_dialect_or_misspelt_words(query: str, code: str, lexicon: Lexicon) -> None:
    assert code in symptom_codes(query, lexicon)
    assert intent_of(query, lexicon) == "symptom"


def test_early_pregnancy_sickness_names_the_person_too(lexicon: Lexicon) -> None:
    assert "pregnant" in analyze("早孕反应", lexicon).persons


@pytest.mark.parametrize(
    ("query", "not_meant"),
    [
        ("my son has fever", "allergic_rhinitis"),  # "has fever" is not a slip for "hay fever"
        ("sore knees", "nasal_congestion"),  # "sore" is a word, not a slip for "snore"
        ("牙疼得厉害", "nausea_vomiting"),  # 疼得厉害 is not a slip for 吐得厉害
        ("腿不舒服", "stomach_ache"),  # nor 腿不舒服 for 胃不舒服
        ("喉咙痛 咽口水都疼", "chickenpox"),  # a particle that sounds alike (水都 ~ 水痘) is a particle
    ],
)
def test_everyday_wording_is_not_corrected_into_another_complaint(query: str, not_meant: str, lexicon: Lexicon) -> None:
    assert not_meant not in symptom_codes(query, lexicon)


@pytest.mark.parametrize(
    ("window", "context"),
    [
        ("期用药", ("经", "")),  # 经期 is a word: 经期用药 is no 急用药
        ("期用药", ("哺乳", "")),  # and so is 哺乳期
        ("安全座", ("", "椅")),  # 座椅 is a word: no 安全套
        ("心痛的", ("", "")),  # 的 is typed on purpose: no 心痛定
        ("水都", ("", "")),
    ],
)
def test_a_character_that_makes_a_word_with_its_neighbour_or_a_particle_is_no_slip(
    window: str, context: tuple[str, str], lexicon: Lexicon
) -> None:
    assert lexicon.correct_zh(window, *context) is None


@pytest.mark.parametrize(("window", "meant"), [("拉都子", "拉肚子"), ("布落芬", "布洛芬"), ("极用药", "急用药")])
def test_real_slips_are_still_corrected_beside_those_rules(window: str, meant: str, lexicon: Lexicon) -> None:
    assert lexicon.correct_zh(window) == meant


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("退烧药 越快越好", "urgent_medicine"),
        ("need cough syrup the sooner the better", "urgent_medicine"),
        ("问药师 哺乳期用药", "consult"),
        ("经期用药 咨询药师", "consult"),
        ("睇医生", "consult"),
        ("my mum tripped and banged her head", "emergency"),
        ("奶奶在浴室滑倒 后脑勺着地", "emergency"),
    ],
)
def test_hurry_consult_and_fall_wordings(query: str, intent: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == intent


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("嗓子又干又痒", "sore_throat"),
        ("喉咙里火辣辣的", "sore_throat"),
        ("胃里烧得慌", "heartburn"),
        ("吃完火锅 胃里一阵阵火辣辣", "heartburn"),
        ("眼睛好涩", "dry_eyes"),
        ("看手机久了 眼睛有点干", "dry_eyes"),
        ("来月经第二天 小腹坠着疼", "period_pain"),
        ("my throat is so pain", "sore_throat"),
        ("throat really pain", "sore_throat"),
    ],
)
def test_a_feeling_at_a_body_part_names_its_complaint(query: str, code: str, lexicon: Lexicon) -> None:
    """A body part, a few words of how, then a feeling (又干又涩, 火辣辣, 坠着疼): the part says which complaint."""
    assert code in symptom_codes(query, lexicon)


@pytest.mark.parametrize(
    ("query", "code"), [("孩子三天不拉屎", "constipation"), ("腿上被蚊子叮了几个包", "insect_bites")]
)
def test_everyday_words_for_constipation_and_bites(query: str, code: str, lexicon: Lexicon) -> None:
    assert code in symptom_codes(query, lexicon)


@pytest.mark.parametrize("query", ["头发好干", "手机发烫", "头发烫 卷发棒"])
def test_a_feeling_with_no_complaint_at_that_place_is_none(query: str, lexicon: Lexicon) -> None:
    assert not symptom_codes(query, lexicon) - {"pain"}


@pytest.mark.parametrize(
    ("query", "inn"),
    [("lu lei ta ding pian", "loratadine"), ("a mo xi lin", "amoxicillin"), ("tai nuo lin", "paracetamol")],
)
def test_spaced_pinyin_is_read_as_one_name(query: str, inn: str, lexicon: Lexicon) -> None:
    assert inn in {d.inn for d in analyze(query, lexicon).drugs}


def test_a_short_spaced_pinyin_run_is_not_corrected_into_a_brand(lexicon: Lexicon) -> None:
    """huan shi (缓释) is seven letters one slip from huangshi: too short to correct."""
    assert {d.inn for d in analyze("bu luo fen huan shi", lexicon).drugs} == {"ibuprofen"}


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("大夫说吃蒙脱石散 一天几次", "drug"),
        ("医生开的布洛芬 饭前还是饭后吃", "drug"),
        ("想问医生 布洛芬能不能和感冒药一起吃", "consult"),
    ],
)
def test_a_doctor_quoted_is_a_drug_question_a_doctor_asked_for_is_a_consult(
    query: str, intent: str, lexicon: Lexicon
) -> None:
    assert intent_of(query, lexicon) == intent


@pytest.mark.parametrize(
    "query",
    [
        "笑到头疼的综艺",
        "笑得我肚子痛",
        "太极拳 练功服",
        "太极扇",
        "感冒灵配色 卫衣",
        "双11 购物清单",
        "剁手 清单",
        "布洛芬 表情包",
        "心脏病 桌游",
        "老干妈 辣椒酱",
        "杀虫剂 蟑螂",
        "灭蚊 电蚊香",
        "笔记本发烫 散热器",
        "药到病除 成语",
        "药神 电影",
    ],
)
def test_figures_of_speech_games_clothes_sauces_and_pest_poison_are_shop_queries(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "non_medical"


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("笑的时候肚子疼", "symptom"),
        ("宝宝身上发烫", "symptom"),
        ("打虫药 儿童", "symptom"),
        ("孩子误服了杀虫剂", "emergency"),
    ],
)
def test_real_complaints_beside_those_words_stay_medical(query: str, intent: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == intent


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("孩子抽筋 停不下来", "emergency"),  # a child's fit called 抽筋
        ("老人抽筋 两眼发直", "emergency"),
        ("孩子小腿抽筋 一直不停", "symptom"),  # a cramp of one limb stays a cramp
        ("没有胸闷或胸痛 想咨询医生降压药", "consult"),  # the negation covers the list
        ("had a headache for like 2 days", "symptom"),  # "like" is a filler, no pinyin of 立刻
        ("anything for heartburn", "symptom"),  # "anything" is no slip for a drug brand
        ("晚上还开的药店", "urgent_medicine"),  # a pharmacy open at night is a hurry
        ("通宵药房 买退烧药", "urgent_medicine"),
    ],
)
def test_fits_negated_lists_english_fillers_and_night_pharmacies(query: str, intent: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == intent


@pytest.mark.parametrize(
    "query",
    [
        "深夜饿了 点外卖 汉堡",  # a late hour beside food is a takeaway order
        "doc martens 短靴",  # dr/doc in a brand is no doctor
        "护士服 cosplay",
        "咨询 流量套餐",  # 咨询 about a phone plan is no consultation
        "芍药 盆栽",  # a flower whose name ends in 药
        "erding",  # 耳钉 in pinyin
        "凌晨 叫外卖 炸鸡",
        "丰唇 唇釉",
    ],
)
def test_shop_words_beside_time_consult_and_body_words_are_shop_queries(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "non_medical"


@pytest.mark.parametrize("query", ["xiongzhen", "xiongzhan"])
def test_everyday_pinyin_is_not_corrected_two_edits_into_a_symptom(query: str, lexicon: Lexicon) -> None:
    assert analyze(query, lexicon).corrections == ()


def test_long_drug_pinyin_with_two_slips_is_still_corrected(lexicon: Lexicon) -> None:
    assert "aomeilazuo" in {c.term for c in analyze("aomolazuo", lexicon).corrections}


@pytest.mark.parametrize("query", ["嘴边起了好多小水泡", "嘴巴周围长了个泡", "嘴周起水泡"])
def test_blisters_around_the_mouth_are_a_cold_sore(query: str, lexicon: Lexicon) -> None:
    assert "cold_sore" in {s.code for s in analyze(query, lexicon).symptoms}


def test_blisters_inside_the_mouth_stay_a_mouth_ulcer(lexicon: Lexicon) -> None:
    assert "mouth_ulcer" in {s.code for s in analyze("舌头上起了小水泡", lexicon).symptoms}


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("肚 子 疼 ， 拉 肚 子", {"abdominal_pain", "diarrhoea"}),
        ("嗓 子 疼、咳 嗽", {"sore_throat", "cough"}),
        ("宝 宝 发 烧", {"fever"}),
        ("流 鼻 涕 怎 么 办", {"runny_nose"}),
    ],
)
def test_chinese_typed_one_character_at_a_time_reads_as_words(query: str, codes: set[str], lexicon: Lexicon) -> None:
    assert codes <= {s.code for s in analyze(query, lexicon).symptoms}


@pytest.mark.parametrize("query", ["药 急", "急 药 送到小区"])
def test_two_lone_characters_stay_two_words(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "urgent_medicine"


@pytest.mark.parametrize(
    "query", ["昨天闪了腰 起不来", "腰扭了 贴什么膏药", "打羽毛球扭到腰", "threw my back out lifting a box"]
)
def test_a_wrenched_back_is_a_sprain(query: str, lexicon: Lexicon) -> None:
    assert "sprain" in {s.code for s in analyze(query, lexicon).symptoms}


@pytest.mark.parametrize(
    "query",
    [
        "让人窒息的颜值 壁纸",
        "翻唱车祸现场 合集",
        "the walking dead season 3",
        "fever pitch s01e02",
        "咳嗽的小丑 第二季",
        "小个子 穿搭 女",
        "感冒灵 配色 穿搭 男生",
        "summer outfit ideas",
        "minimalist wardrobe",
        "自发热护腰",
        "自热米饭 整箱",
        "发热鞋垫 男",
    ],
)
def test_idioms_shows_outfits_and_self_heating_goods_are_shop_queries(query: str, lexicon: Lexicon) -> None:
    assert intent_of(query, lexicon) == "non_medical"


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("flu season", "symptom"),  # a season with no number is no show
        ("宝宝 发热 怎么办", "symptom"),
        ("布洛芬 男", "drug"),
        ("孩子喘得很急 鼻翼一张一张", "emergency"),
        ("宝宝吸气时肋骨往里凹", "emergency"),
    ],
)
def test_real_complaints_beside_show_fashion_and_breathing_words_stay_medical(
    query: str, intent: str, lexicon: Lexicon
) -> None:
    assert intent_of(query, lexicon) == intent


@pytest.mark.parametrize(
    ("query", "normalized"),
    [
        ("头 疼 ， 发 烧", "头疼 发烧"),
        ("咳、嗽、痰", "咳嗽 痰"),
        ("胃 疼 ， 想 吐 ， 拉", "胃疼 想吐 拉"),
        ("药 急", "药 急"),
    ],
)
def test_lone_characters_join_into_words_and_normalising_again_changes_nothing(query: str, normalized: str) -> None:
    from yaodao.search.normalize import normalize

    assert normalize(query) == normalized
    assert normalize(normalized) == normalized
