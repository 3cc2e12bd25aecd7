"""RF1 (DOMAIN.md §7): the deterministic red-flag gate routes emergencies before any shop or consult.

Every RF1 row is checked in Chinese and English, plus pinyin, typos, negations and controls; the
corpus mirrors the DOMAIN test note ("routed 100%, false negatives 0, false positives tracked").
"""

from __future__ import annotations

from importlib import resources

import pytest

from yaodao.safety.redflags import CALL_120, CRISIS_LINE, RedFlag, detect_red_flags, scan_normalized
from yaodao.search.normalize import normalize

RF1_ROWS = [
    # (code, Chinese example, English example): the DOMAIN.md RF1 table, row by row
    ("chest_pain", "胸口压榨样痛", "crushing pain into my left arm"),
    ("chest_pain", "疼到左臂", "chest pain"),
    ("breathing", "喘不上气", "can't breathe"),
    ("breathing", "呼吸困难", "gasping"),
    ("unconscious", "昏迷", "passed out"),
    ("unconscious", "叫不醒", "won't wake up"),
    ("confusion", "突然糊涂", "suddenly confused"),
    ("confusion", "认不出人", "my dad is suddenly confused"),
    ("seizure", "抽搐不止", "seizure won't stop"),
    ("stroke", "口角歪斜", "face drooping"),
    ("stroke", "说话含糊", "slurred speech"),
    ("stroke", "一侧无力", "arm weak"),
    ("bleeding", "大出血", "bleeding won't stop"),
    ("bleeding", "血止不住", "bleeding won't stop after a cut"),
    ("anaphylaxis", "嘴唇肿", "lips swelling"),
    ("anaphylaxis", "舌头肿 喉咙发紧", "tongue swelling"),
    ("burn", "大面积烫伤", "large burn"),
    ("head_injury_trauma", "撞头后呕吐", "hit my head, keep vomiting"),
    ("head_injury_trauma", "车祸", "car crash"),
    ("head_injury_trauma", "高处坠落", "fell from a ladder"),
    ("sick_child", "宝宝软绵绵", "floppy baby"),
    ("sick_child", "皮疹压不褪色", "rash doesn't fade when pressed"),
    ("abdominal_pain_severe", "剧烈腹痛", "worst stomach pain"),
    ("suicide", "想自杀", "want to kill myself"),
    ("suicide", "不想活了", "I want to end my life"),
]


def codes(text: str) -> list[str]:
    return [flag.code for flag in detect_red_flags(text)]


@pytest.mark.parametrize(("code", "zh", "en"), RF1_ROWS)
def test_every_rf1_row_is_flagged_in_chinese(code: str, zh: str, en: str) -> None:
    """RF1: the Chinese example of each row raises that row's flag."""
    assert code in codes(zh)


@pytest.mark.parametrize(("code", "zh", "en"), RF1_ROWS)
def test_every_rf1_row_is_flagged_in_english(code: str, zh: str, en: str) -> None:
    """RF1: the English example of each row raises that row's flag."""
    assert code in codes(en)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("xiongtong", "chest_pain"),
        ("xiong tong", "chest_pain"),
        ("huxikunnan", "breathing"),
        ("hunmi", "unconscious"),
        ("zisha", "suicide"),
        ("buxianghuole", "suicide"),
        ("chehuo", "head_injury_trauma"),
    ],
)
def test_toneless_pinyin_with_or_without_spaces_is_flagged(text: str, code: str) -> None:
    """RF1 test corpus: pinyin ("xiongtong") counts like the characters it spells."""
    assert code in codes(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("胸通", "chest_pain"),
        ("胸口通 出冷汗", "chest_pain"),
        ("呼吸困男", "breathing"),
        ("chest pian", "chest_pain"),
        ("siezure", "seizure"),
        ("unconcious", "unconscious"),
        ("suicde", "suicide"),
        ("cant brethe", "breathing"),
        ("xiongtogn", "chest_pain"),
    ],
)
def test_common_typos_are_flagged(text: str, code: str) -> None:
    """RF1 test corpus: typos, same-sounding characters and swapped letters are still red flags."""
    assert code in codes(text)


@pytest.mark.parametrize(
    "text",
    ["胸口疼 出冷汗", "胸闷 出冷汗", "胸闷 左臂疼", "tight chest and cold sweat", "胸口 疼"],
)
def test_chest_symptoms_with_sweating_or_arm_pain_flag_chest_pain(text: str) -> None:
    """RF1 row 1: chest discomfort with cold sweat, left-arm pain or pressure is a heart-attack flag."""
    assert codes(text) == ["chest_pain"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("胸口好痛", "chest_pain"),
        ("胸口有点疼", "chest_pain"),
        ("my chest really hurts", "chest_pain"),
        ("开水烫伤了一大片", "burn"),
        ("摔倒后头晕呕吐", "head_injury_trauma"),
        ("宝宝吞了一颗纽扣电池", "poisoning"),
        ("grandma is confused all of a sudden", "confusion"),
        ("突然半边身子不能动", "stroke"),
    ],
)
def test_words_in_between_do_not_hide_a_flag(text: str, code: str) -> None:
    """Intensifiers and details between the words (胸口好痛) still raise the flag."""
    assert code in codes(text)


def test_chest_pain_alone_is_a_flag() -> None:
    """DOMAIN: "胸痛" alone counts, without any second symptom."""
    assert codes("胸痛") == ["chest_pain"]


@pytest.mark.parametrize(
    "text",
    [
        "没有胸痛 头疼",
        "没有胸痛",
        "无胸痛",
        "否认胸痛",
        "没有明显胸痛",
        "胸口不疼 头疼",
        "no chest pain",
        "I don't have any chest pain",
    ],
)
def test_a_negation_directly_before_the_phrase_cancels_it(text: str) -> None:
    """RF1: 没有胸痛 is a false positive, not a miss; the negation must sit right before the phrase."""
    assert codes(text) == []


@pytest.mark.parametrize(
    "text", ["胸痛 没有发烧", "没有发烧 胸痛", "没有发烧胸痛", "有没有胸痛", "是不是心梗", "not sure, chest pain"]
)
def test_a_negation_of_something_else_or_a_question_still_flags(text: str) -> None:
    """Only a negation of the phrase itself cancels it; when in doubt, flag."""
    assert "chest_pain" in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "鼻塞流涕",
        "sore throat",
        "心疼你",
        "头疼",
        "宝宝拉肚子",
        "烫伤",
        "眼皮抽搐",
        "跳楼价",
        "heat stroke",
        "食物中毒",
        "吃了一盒饼干",
        "抽出时间",
        "紫砂壶",
        "我想死你了",
        "13个月宝宝发烧",
        "布洛芬",
        "",
    ],
)
def test_everyday_complaints_and_idioms_are_not_flagged(text: str) -> None:
    """Controls (鼻塞流涕, "sore throat", 心疼你) and idioms stay out of the emergency route."""
    assert codes(text) == []


def test_suicidal_ideation_routes_to_the_crisis_line_and_the_rest_to_120() -> None:
    """RF1: suicidal ideation → crisis line; every other red flag → call 120."""
    assert detect_red_flags("想自杀") == [RedFlag("suicide", "想自杀", CRISIS_LINE)]
    assert {flag.guidance for flag in detect_red_flags("胸痛 抽搐 大出血")} == {CALL_120}


def test_a_combination_reports_both_phrases_as_typed() -> None:
    """The phrase of a combination flag names each part, so the audit event shows the evidence."""
    assert detect_red_flags("胸口疼，出冷汗！") == [RedFlag("chest_pain", "胸口疼+出冷汗", CALL_120)]


def test_flags_come_once_per_code_in_order_of_appearance() -> None:
    """One flag per code, ordered by where its evidence starts."""
    assert codes("想自杀 胸痛 胸痛 can't breathe") == ["suicide", "chest_pain", "breathing"]


@pytest.mark.parametrize(
    ("text", "code"), [("吃了30片安眠药", "overdose"), ("took 20 pills", "overdose"), ("喝了农药", "poisoning")]
)
def test_overdose_and_poisoning_are_flagged(text: str, code: str) -> None:
    """Decision: overdose and poisoning follow the NHS "call 999" lists."""
    assert codes(text) == [code]


def test_traditional_full_width_and_emoji_input_is_normalised_first() -> None:
    """The gate matches on the shared normaliser's output: 胸痛 in Traditional, full width, emoji."""
    assert codes("😭胸口痛！ＣＨＥＳＴ ＰＡＩＮ") == ["chest_pain"]
    assert codes("呼吸困難") == ["breathing"]


def test_scanning_normalised_text_gives_the_same_answer() -> None:
    """The search analyser passes normalised text; the answer does not depend on the entry point."""
    text = "孩子撞到头后一直吐"
    assert scan_normalized(normalize(text)) == detect_red_flags(text)
    assert codes(text) == ["head_injury_trauma"]


@pytest.mark.parametrize("text", ["\ud800胸痛", "\x00" * 50, "胸" * 10_000, "🙂" * 500])
def test_any_string_is_scanned_without_raising(text: str) -> None:
    """The gate runs on every chat message: odd input never raises."""
    assert isinstance(detect_red_flags(text), list)


def test_the_rule_file_only_uses_documented_codes_and_guidance() -> None:
    """Every flag row names one of the fifteen codes in the module docstring, with a known guidance key."""
    documented = {
        "chest_pain", "breathing", "unconscious", "confusion", "seizure", "stroke", "bleeding", "anaphylaxis",
        "burn", "head_injury_trauma", "sick_child", "abdominal_pain_severe", "suicide", "overdose", "poisoning",
    }  # fmt: skip
    text = resources.files("yaodao.safety").joinpath("data", "red_flags.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    flag_rows = [row for row in rows if row[0] in ("flag", "combo", "near")]
    assert {row[1] for row in flag_rows} == documented
    assert {row[2] for row in flag_rows} == {CALL_120, CRISIS_LINE}
    assert {row[1] for row in flag_rows if row[2] == CRISIS_LINE} == {"suicide"}


def test_a_two_character_sound_alike_counts_beside_a_second_sign_but_not_alone() -> None:
    """胸桶 (typed for 胸痛) with sweating is chest pain; 胸桶 alone is too weak to stop the shop."""
    assert [f.code for f in detect_red_flags("胸桶 出汗")] == ["chest_pain"]
    assert detect_red_flags("胸桶") == []


def test_pinyin_typed_in_any_grouping_is_matched() -> None:
    """huxi kunnan / hu xikunnan / huxikunnan all read 呼吸困难."""
    for text in ("huxi kunnan", "hu xikunnan", "huxikunnan"):
        assert [f.code for f in detect_red_flags(text)] == ["breathing"], text


def test_a_swapped_letter_in_chest_is_still_chest() -> None:
    assert [f.code for f in detect_red_flags("chset pain")] == ["chest_pain"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("出生40天的宝宝发烧", "sick_child"),
        ("2个月大的宝宝发烧了", "sick_child"),
        ("宝宝才20天 发烧38度", "sick_child"),
        ("my 10 week old has a temperature", "sick_child"),
        ("baby 5 weeks old temperature 38", "sick_child"),
    ],
)
def test_a_baby_under_three_months_with_a_fever_is_flagged_from_any_stated_age(text: str, code: str) -> None:
    assert code in codes(text)


@pytest.mark.parametrize(
    "text", ["3个月大宝宝发烧", "宝宝发烧3天", "宝宝3天没大便 发烧", "孩子2周岁 发烧39度", "13个月宝宝发烧"]
)
def test_an_age_of_three_months_or_more_or_a_duration_is_not_a_young_infant(text: str) -> None:
    assert "sick_child" not in codes(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("took 25 paracetamol tablets", "overdose"),
        ("吃了半瓶降压药", "overdose"),
        ("吃了一把安眠药", "overdose"),
        ("she took a whole bottle of tylenol", "overdose"),
        ("手被刀割了 血一直流止不住", "bleeding"),
        ("咳血 一大口一大口的", "bleeding"),
        ("突然左半边身子没知觉", "stroke"),
        ("说话突然说不清楚了 嘴也歪", "stroke"),
        ("我妈突然站不稳 说话含含糊糊", "stroke"),
        ("突然一只眼睛看不见了", "stroke"),
        ("sudden worst headache ever", "stroke"),
        ("突然胸口撕裂样疼到后背", "chest_pain"),
        ("胸口一阵阵绞痛 出汗", "chest_pain"),
        ("孩子发高烧 抽了", "seizure"),
        ("宝宝抽筋了 眼睛上翻", "seizure"),
        ("宝宝全身发紫", "breathing"),
        ("呼吸的时候喉咙发出呼噜声 喘不上来", "breathing"),
        ("从三楼掉下来了", "head_injury_trauma"),
        ("活着好痛苦 想结束", "suicide"),
        ("想跳河", "suicide"),
        ("my friend is talking about killing himself", "suicide"),
        ("taking all my pills tonight to end it", "suicide"),
    ],
)
def test_red_flags_in_everyday_wording_are_flagged(text: str, code: str) -> None:
    assert code in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "drank a whole bottle of wine",
        "宝宝发烧 抽了血 验血",
        "活着好累 想离开这座城市",
        "小腿抽筋",
        "咳嗽不停",
        "流鼻血",
        "took 3 ibuprofen tablets",
        "胸口的纹身有点疼",
        "突然摔倒 膝盖破了",
    ],
)
def test_the_everyday_wording_rules_leave_ordinary_complaints_alone(text: str) -> None:
    assert codes(text) == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("手被刀划了个大口子 血一直往外喷", "bleeding"),
        ("腿上好大的口子 一直在流血", "bleeding"),
        ("deep cut on my hand bleeding", "bleeding"),
        ("拉出来全是黑便 头晕", "bleeding"),
        ("大便发黑 眼前发黑站不住", "bleeding"),
        ("black stools and feel dizzy", "bleeding"),
        ("头突然炸裂一样疼 这辈子最疼", "stroke"),
        ("后脑勺疼 从来没这么疼过", "stroke"),
        ("头突然像要炸开", "stroke"),
        ("爷爷胸口像被石头压住 一身汗", "chest_pain"),
        ("胸口被石头压着一样", "chest_pain"),
        ("孩子身上红点 按了不褪色", "sick_child"),
        ("腿上好多紫点 压了也不褪", "sick_child"),
        ("烫伤 半个背都是水泡", "burn"),
        ("手被开水烫了 全是水泡", "burn"),
        ("嘴唇和舌头都肿起来了", "anaphylaxis"),
        ("嘴唇突然肿了 舌头也肿了", "anaphylaxis"),
        ("喘气 呼哧呼哧 说不出话", "breathing"),
        ("哮喘 喘得话都说不出", "breathing"),
        ("so breathless i cant speak", "breathing"),
    ],
)
def test_red_flags_worded_around_the_listed_phrases_are_flagged(text: str, code: str) -> None:
    assert code in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "这辈子最头疼的事 数学",
        "石头 胸针",
        "孩子身上红点 痒",
        "宝宝 红疹 按了会褪色",
        "痔疮 便血",
        "大便发黑 吃了铁剂",
        "手划了个口子 流血",
        "嗓子哑了 说不出话",
        "喉咙肿了",
        "烫伤膏",
    ],
)
def test_the_new_wording_rules_leave_ordinary_complaints_alone(text: str) -> None:
    assert codes(text) == []


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("2个月宝宝体温37.6", False),
        ("2 month old baby temperature 37.2", False),
        ("2个月宝宝体温38.2", True),
        ("2 month old baby temperature 38.5", True),
        ("7 week old with a temp of 38", True),
        ("6 week old baby has a temperature", True),
    ],
)
def test_a_young_babys_temperature_is_a_fever_only_from_38(text: str, flagged: bool) -> None:
    """A temperature named with its value counts as fever from 38 °C; a normal one is not a red flag."""
    assert ("sick_child" in {f.code for f in detect_red_flags(text)}) is flagged


@pytest.mark.parametrize(
    "text",
    [
        "外婆在厨房滑倒 撞到头了",
        "孩子从床上摔下来 磕到头",
        "my dad slipped in the shower and banged his head",
        "she had a fall and hit her head",
        "爷爷摔了一跤 后脑勺着地",
    ],
)
def test_a_fall_that_hits_the_head_is_a_head_injury(text: str) -> None:
    """RF1 row 10: a head injury after a fall, with or without a second sign."""
    assert "head_injury_trauma" in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "摔了一跤 没有磕到头 手掌擦破了",
        "tripped on the stairs, didn't hit my head, sprained ankle",
        "孩子晚上吐了两次 有药吗",  # 吐了 is vomiting as typed, not a slip for 跌了 (a fall)
        "上吐下泻 吐了三次",
    ],
)
def test_a_fall_without_a_head_hit_or_a_word_that_only_sounds_like_one_is_not_flagged(text: str) -> None:
    assert "head_injury_trauma" not in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "换季清仓大出血 毛衣",
        "老板大出血 零食礼包",
        "年终大出血 蓝牙耳机",
        "双11大出血 洗衣液",
        "叫不醒的人专用 闹钟 超响",
        "专治叫不醒 震动手环",
    ],
)
def test_sales_talk_and_alarm_clocks_for_heavy_sleepers_are_not_red_flags(text: str) -> None:
    """清仓大出血 is a clearance sale and 叫不醒的人 a heavy sleeper: idioms, not a wound or a coma."""
    assert codes(text) == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("产后大出血", "bleeding"),
        ("手上伤口大出血 止不住", "bleeding"),
        ("清仓的时候被玻璃割伤 大出血", "bleeding"),
        ("我爸怎么叫都叫不醒", "unconscious"),
        ("闹钟响了也叫不醒 叫他没反应", "unconscious"),
    ],
)
def test_real_bleeding_and_an_unrousable_person_still_flag_beside_those_idioms(text: str, code: str) -> None:
    assert code in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "宝宝抽了五分钟了 怎么办",
        "孩子抽搐半个小时了",
        "我爸抽了好久都没停",
        "他抽着还没停",
        "she has been fitting for 10 minutes",
        "seizure for over 5 minutes",
    ],
)
def test_a_fit_that_has_gone_on_for_minutes_is_a_seizure_not_stopping(text: str) -> None:
    assert "seizure" in codes(text)


@pytest.mark.parametrize("text", ["每天抽十分钟做运动", "抽了血 等了十分钟", "小腿抽筋十分钟", "抽烟十分钟"])
def test_sparing_minutes_a_blood_test_or_a_cramp_is_no_fit(text: str) -> None:
    assert "seizure" not in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "娃把半瓶美林喝了",
        "儿子把一整盒药全吃了",
        "一板安眠药一口气全吞了",
        "孩子偷吃了奶奶的降压药",
        "女儿误服了爸爸的药",
        "宝宝把布洛芬混悬液当糖吃了",
        "吃了三十多片安眠药",
        "toddler drank the whole bottle of calpol",
        "my son swallowed a whole bottle of tylenol",
        "took like 40 pills",
    ],
)
def test_a_whole_pack_or_a_child_taking_medicine_is_an_overdose(text: str) -> None:
    assert "overdose" in codes(text)


@pytest.mark.parametrize(
    "text",
    ["孩子把一瓶可乐喝光了", "一大瓶酸奶全喝了", "孩子偷吃薯片", "一盒饼干吃光了", "drank a whole bottle of water"],
)
def test_a_whole_bottle_of_something_else_or_a_child_eating_snacks_is_not_an_overdose(text: str) -> None:
    assert codes(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "真的不太想活了",
        "再也不要醒来就好了",
        "睡着了永远不醒多好",
        "想结束一切",
        "活着有啥意思",
        "降压药吃多少会死",
        "褪黑素吃几片能一睡不起",
        "how many pills to never wake up",
        "lethal dose of paracetamol",
    ],
)
def test_indirect_wording_of_suicidal_thoughts_goes_to_the_crisis_line(text: str) -> None:
    assert "suicide" in codes(text)


@pytest.mark.parametrize("text", ["安眠药吃几片能睡着", "布洛芬一次吃几片", "吃多少 不行吗", "how many tablets a day"])
def test_a_dose_question_is_not_a_suicide_flag(text: str) -> None:
    assert "suicide" not in codes(text)


@pytest.mark.parametrize(
    "text", ["i can not breath", "cannot breath help", "my son can not breathe", "he cant breath properly"]
)
def test_cannot_breathe_in_any_spelling(text: str) -> None:
    assert "breathing" in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "笔记本中毒了 怎么办",
        "u盘中毒 文件没了",
        "吐血整理 考研资料",
        "亏到吐血 清仓",
        "吐血安利 面膜",
        "车祸现场 搞笑表情包",
        "心梗 表情包",
        "heart attack lyrics",
        "stroke song chords",
        "手被烫了一下 一元硬币大小 起了个小水泡",
    ],
)
def test_figurative_red_flag_words_and_pictures_are_not_red_flags(text: str) -> None:
    """A computer virus, 吐血 as a superlative, a meme of a crash, a song title; and 起了 is no slip for 吃了."""
    assert codes(text) == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("喝了农药 中毒了", "poisoning"),
        ("一直吐血 止不住", "bleeding"),
        ("车祸现场 有人受伤", "head_injury_trauma"),
        ("heart attack symptoms", "chest_pain"),
        ("孩子吞了一枚硬币", "poisoning"),
    ],
)
def test_real_poisoning_bleeding_and_trauma_still_flag_beside_those_idioms(text: str, code: str) -> None:
    assert code in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "孩子抽筋了 叫没反应",
        "小孩抽筋一直不停怎么办",
        "女儿突然抽筋 停不下来",
        "老人抽筋 两眼发直",
        "爸爸抽筋翻了白眼",
        "toddler jerking and eyes rolled back",
        "baby twitching and not responding",
        "宝宝抽筋了",  # a baby's 抽筋 with no limb named: a fit when in doubt
        "8个月婴儿发烧抽筋",
    ],
)
def test_a_whole_body_cramp_with_rolling_eyes_or_in_a_child_not_stopping_is_a_fit(text: str) -> None:
    assert "seizure" in {f.code for f in detect_red_flags(text)}


@pytest.mark.parametrize(
    "text",
    [
        "宝宝腿抽筋",
        "孩子小腿抽筋 一直不停",
        "晚上脚抽筋",
        "肚子抽筋了 一直不停",
        "笑到抽筋 翻白眼",
        "抽筋了怎么办",
        "孩子抽筋",
        "baby twitching in her sleep",
    ],
)
def test_a_cramp_of_one_limb_or_without_fit_signs_is_no_fit(text: str) -> None:
    assert detect_red_flags(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "没有胸闷胸痛 就是咳嗽",
        "无胸闷或胸痛 只是头晕",
        "没有心慌胸痛 想复查血脂",
        "no chest tightness or chest pain, just a cough",
    ],
)
def test_a_negation_covers_a_list_of_complaints_of_the_same_flag(text: str) -> None:
    assert detect_red_flags(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "没有发烧胸痛",
        "没有头晕胸痛",
        "没有胸闷 但是胸痛",
        "没有胸闷 胸口剧痛",  # a space may start a new clause: when in doubt, flag
        "胸闷胸痛",
        "no fever or chest pain",
        "no cough, chest pain",
        "no chest tightness, chest pain",
    ],
)
def test_a_negation_does_not_carry_over_another_complaint(text: str) -> None:
    assert "chest_pain" in {f.code for f in detect_red_flags(text)}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("宝宝呼吸好急 一直哼哼", "sick_child"),
        ("小孩喘得很急", "sick_child"),
        ("女儿呼吸特别快", "sick_child"),
        ("宝宝吸气的时候肋骨凹下去", "breathing"),
        ("儿子肋骨一吸一吸地往里陷", "sick_child"),
        ("孩子胸口一吸气就凹进去", "breathing"),
        ("宝宝鼻翼扇动", "breathing"),
        ("医生说有三凹征", "breathing"),
        ("my toddler has chest indrawing", "breathing"),
        ("baby's ribs sucking in when breathing", "breathing"),
        ("nasal flaring in my son", "breathing"),
        ("my kid is breathing really fast", "sick_child"),
    ],
)
def test_fast_breathing_and_chest_indrawing_are_breathing_difficulty(text: str, code: str) -> None:
    # WHO IMCI: fast breathing or chest indrawing in a child is a seriously ill child; indrawing is breathing
    # difficulty at any age.
    assert code in {f.code for f in detect_red_flags(text)}


@pytest.mark.parametrize("text", ["胸口凹陷 漏斗胸", "宝宝肋骨外翻", "吸气收腹 肚子凹进去", "呼吸很急"])
def test_the_shape_of_the_chest_alone_is_no_indrawing(text: str) -> None:
    assert detect_red_flags(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "让人窒息的颜值",
        "美到窒息的风景壁纸",
        "令人窒息的穿搭",
        "翻唱车祸现场",
        "开口车祸 搞笑",
        "选秀车祸现场 视频",
        "车祸现场集锦",
    ],
)
def test_breathtaking_idioms_and_filmed_crash_scenes_are_no_patient(text: str) -> None:
    assert detect_red_flags(text) == []


@pytest.mark.parametrize("text", ["宝宝窒息了", "孩子窒息 视频通话", "出车祸了 视频问诊", "车祸 腿出血", "窒息 视频"])
def test_real_choking_and_crashes_beside_those_words_still_flag(text: str) -> None:
    assert detect_red_flags(text) != []
