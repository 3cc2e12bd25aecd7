"""Intent classification: which landing page a query opens, and the precedence between intents."""

from __future__ import annotations

import pytest

from yaodao.search.analyze import analyze
from yaodao.search.intent import ENTITY_KEYS, INTENTS, IntentResult, classify
from yaodao.search.lexicon import Lexicon
from yaodao.seed import seed_products


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.build(seed_products())


def intent_of(query: str, lexicon: Lexicon) -> IntentResult:
    return classify(analyze(query, lexicon))


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("胸口疼 出冷汗", "emergency"),
        ("can't breathe", "emergency"),
        ("想自杀", "emergency"),
        ("xiongtong", "emergency"),
        ("急用药", "urgent_medicine"),
        ("半夜 宝宝发烧", "urgent_medicine"),
        ("need paracetamol asap", "urgent_medicine"),
        ("24小时药店", "urgent_medicine"),
        ("问医生", "consult"),
        ("在线问诊", "consult"),
        ("talk to a doctor", "consult"),
        ("布洛芬", "drug"),
        ("buluofen", "drug"),
        ("Advil", "drug"),
        ("paracetmol", "drug"),
        ("头疼", "symptom"),
        ("宝宝拉肚子", "symptom"),
        ("退烧药", "symptom"),
        ("sore throat", "symptom"),
        ("鼻塞流涕", "symptom"),
        ("手机壳", "non_medical"),
        ("连衣裙", "non_medical"),
        ("cat food", "non_medical"),
        ("心疼你", "non_medical"),
    ],
)
def test_queries_open_the_expected_landing_page(lexicon: Lexicon, query: str, intent: str) -> None:
    """One or more queries per intent, across Chinese, English and pinyin."""
    assert intent_of(query, lexicon).intent == intent


def test_a_red_flag_outranks_everything_with_full_confidence(lexicon: Lexicon) -> None:
    """RF1: even with urgency, consult and drug words, a red flag opens the emergency page."""
    result = intent_of("急用 布洛芬 问医生 胸痛", lexicon)
    assert (result.intent, result.confidence) == ("emergency", 1.0)


def test_urgency_outranks_consult_drug_and_symptom(lexicon: Lexicon) -> None:
    """急用药: urgency words decide the page, with or without a drug or symptom."""
    assert intent_of("马上 问医生 布洛芬 发烧", lexicon).intent == "urgent_medicine"


def test_consult_outranks_a_drug_or_symptom(lexicon: Lexicon) -> None:
    """A request for a doctor about a drug is a consult."""
    assert intent_of("布洛芬 发烧 问医生", lexicon).intent == "consult"


def test_a_drug_outranks_a_symptom(lexicon: Lexicon) -> None:
    """Naming a drug is more specific than naming a symptom."""
    assert intent_of("布洛芬 头疼", lexicon).intent == "drug"


def test_medical_evidence_outranks_shop_words(lexicon: Lexicon) -> None:
    """Non-medical needs the absence of medical evidence; mixed evidence costs confidence."""
    mixed = intent_of("零食 拉肚子", lexicon)
    assert mixed.intent == "symptom"
    assert mixed.confidence < intent_of("拉肚子", lexicon).confidence


def test_a_generic_urgency_word_next_to_shop_words_stays_non_medical(lexicon: Lexicon) -> None:
    """手机壳 马上要: "right now" alone does not make a phone case a medicine."""
    assert intent_of("手机壳 马上要", lexicon).intent == "non_medical"


def test_nothing_recognised_falls_back_to_non_medical_with_low_confidence(lexicon: Lexicon) -> None:
    """The marketplace is the default, said with little confidence."""
    result = intent_of("qwzxv", lexicon)
    assert result.intent == "non_medical"
    assert result.confidence <= 0.3


def test_exact_names_are_more_confident_than_initials_or_typos(lexicon: Lexicon) -> None:
    """How a drug matched sets how sure the drug intent is."""
    exact, initials, typo = (intent_of(q, lexicon).confidence for q in ("布洛芬", "blf", "ibuprofin"))
    assert exact > initials
    assert exact > typo


def test_entities_have_every_key_and_name_what_was_found(lexicon: Lexicon) -> None:
    """Entities: drug (INN), symptom (code), body_part, person, urgency; always all five keys."""
    result = intent_of("半夜 宝宝 头疼 布洛芬", lexicon)
    assert tuple(result.entities) == ENTITY_KEYS
    assert result.entities == {
        "drug": ["ibuprofen"],
        "symptom": ["headache"],
        "body_part": ["head"],
        "person": ["child"],
        "urgency": ["半夜"],
    }
    assert intent_of("", lexicon).entities == {key: [] for key in ENTITY_KEYS}


@pytest.mark.parametrize("query", ["布洛芬", "头疼", "手机壳", "", "急用药", "胸痛", "blf", "药店"])
def test_every_result_is_a_known_intent_with_confidence_between_zero_and_one(lexicon: Lexicon, query: str) -> None:
    """The contract the search page relies on."""
    result = intent_of(query, lexicon)
    assert result.intent in INTENTS
    assert 0.0 <= result.confidence <= 1.0


def test_a_hurry_for_a_doctor_is_a_consultation_not_a_medicine_run(lexicon: Lexicon) -> None:
    """24小时在线医生 and 马上问医生 name no medicine: the time words are about the doctor."""
    for query in ("24小时在线医生", "马上问医生"):
        assert intent_of(query, lexicon).intent == "consult", query
    assert intent_of("急用药 问医生", lexicon).intent == "urgent_medicine"


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("头腾", "symptom"),  # 疼 → 腾: same sound, two characters
        ("docter online", "consult"),  # one letter wrong in a short word
        ("online docotr", "consult"),  # two letters swapped
        ("jyy", "urgent_medicine"),  # initials of 急用药
        ("zxwz", "consult"),  # initials of 在线问诊
        ("dyxajjf", "drug"),  # initials of 对乙酰氨基酚, one letter doubled
        ("咳", "symptom"),
    ],
)
def test_slips_of_the_keyboard_still_find_their_meaning(lexicon: Lexicon, query: str, intent: str) -> None:
    assert intent_of(query, lexicon).intent == intent
