"""Intent classification for the search box: which landing page a query opens.

Rules over an :class:`~yaodao.search.analyze.Analysis`, first match wins:

1. ``emergency`` (confidence 1.0): any red flag (DOMAIN.md §7 RF1). Nothing outranks safety: not
   urgency, not a consult request, not a drug name.
2. ``consult`` when consult words come with only time words (24小时在线医生): the hurry is for a doctor.
3. ``urgent_medicine``: urgency words (急用药, 半夜, asap …), with or without a drug or symptom. A
   generic urgency word (马上, now) next to non-medical words and no medical evidence stays
   ``non_medical`` ("手机壳 马上要" is a shop query).
4. ``consult``: consult words (问医生, 在线问诊, pharmacist …).
5. ``non_medical`` when a drug's brand or ingredient only names what a shop product is made by or made
   of: the query ends in a shop word ("王老吉 凉茶", "曼秀雷敦 润唇膏", "烟酰胺 精华") and names no
   symptom; or the only drug is a two-character typo beside a shop word ("榴莲 金枕" is no 金振).
   Otherwise ``drug``: a drug named (exact, synonym, pinyin, initials or a corrected typo).
6. ``non_medical`` when the query ends in a marketplace word and names no drug: the last word is the
   head noun ("cold brew coffee", "发烧友 耳机", "药丸 形状 抱枕"), what comes before describes it.
   This also holds for consult words with no drug or symptom ("医生 cosplay 服装"), checked before 2.
7. ``symptom``: a symptom or condition named; a body part or an illness character (疼, 痒, 炎) alone
   counts as a weak symptom query.
8. ``drug`` with low confidence: only generic medicine words (药店, medicine).
9. ``non_medical``: marketplace words and no medical evidence; and, with low confidence, nothing
   recognised at all: the marketplace is the default.

Confidence is a calibrated-by-hand score in [0, 1]: exact names score higher than initials or typos,
and mixed evidence (medical and non-medical words together) lowers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yaodao.search.analyze import Analysis
from yaodao.search.lexicon import EXACT, INITIALS, PINYIN, SYNONYM, TYPO

URGENT_MEDICINE = "urgent_medicine"
SYMPTOM = "symptom"
DRUG = "drug"
CONSULT = "consult"
EMERGENCY = "emergency"
NON_MEDICAL = "non_medical"
INTENTS = (URGENT_MEDICINE, SYMPTOM, DRUG, CONSULT, EMERGENCY, NON_MEDICAL)
ENTITY_KEYS = ("drug", "symptom", "body_part", "person", "urgency")

_HOW_CONFIDENCE = {EXACT: 0.95, SYNONYM: 0.95, PINYIN: 0.9, INITIALS: 0.75, TYPO: 0.7}
_MIXED_PENALTY = 0.15
_SHORT_NAME = 2  # characters: a drug name this short, found only as a typo, is often another everyday word


@dataclass(frozen=True, slots=True)
class IntentResult:
    intent: str
    confidence: float
    entities: dict[str, list[str]] = field(default_factory=dict)


def _entities(analysis: Analysis) -> dict[str, list[str]]:
    return {
        "drug": [d.inn for d in analysis.drugs],
        "symptom": [s.code for s in analysis.symptoms],
        "body_part": list(analysis.body_parts),
        "person": list(analysis.persons),
        "urgency": list(analysis.urgency),
    }


def _decide(a: Analysis) -> tuple[str, float]:
    if a.red_flags:
        return EMERGENCY, 1.0
    named = bool(a.drugs or a.symptoms)
    medical = named or bool(a.medical or a.consult or any("药" in w or "yao" in w for w in a.urgency))
    penalty = _MIXED_PENALTY if a.non_medical else 0.0
    if a.consult and a.non_medical_head and not named and not a.urgency:
        # "医生 cosplay 服装", "护士 手办": a doctor is what the shop product depicts.
        return NON_MEDICAL, 0.6
    if a.consult and not named and not any("药" in w or "yao" in w for w in a.urgency):
        # "24小时在线医生", "马上问医生": the hurry is about the doctor, not about a medicine.
        return CONSULT, 0.9 - penalty
    if a.urgency and (medical or not a.non_medical):
        return URGENT_MEDICINE, (0.9 if medical else 0.7) - penalty
    if a.consult:
        return CONSULT, 0.9 - penalty
    if a.drugs and a.non_medical and not a.symptoms:
        if a.non_medical_head:
            # "江中 饼干", "曼秀雷敦 润唇膏": the brand makes the shop product the query ends in.
            return NON_MEDICAL, 0.6
        if all(d.how == TYPO and len(d.term) <= _SHORT_NAME for d in a.drugs) and not a.medical:
            # "榴莲 金枕": two characters one off a drug name (金振), among shop words, are a shop word;
            # a longer name with a slip (奶茶 布洛分) is still that drug.
            return NON_MEDICAL, 0.5
    if a.drugs:
        return DRUG, max(_HOW_CONFIDENCE.get(d.how, 0.7) for d in a.drugs) - penalty
    if a.non_medical_head and (a.symptoms or a.body_parts or a.medical):
        # "cold brew coffee", "cough drop candy flavor soda", "pill organizer box": the last word is
        # the product sought.
        return NON_MEDICAL, 0.6
    if a.symptoms:
        typo_only = all(s.term in {c.term for c in a.corrections} for s in a.symptoms)
        return SYMPTOM, (0.7 if typo_only else 0.9) - penalty
    if (a.body_parts or a.complaints) and not a.non_medical:
        return SYMPTOM, 0.5
    if a.medical and not a.non_medical:
        return DRUG, 0.5
    if a.non_medical:
        return NON_MEDICAL, 0.85 if not a.medical else 0.6
    return NON_MEDICAL, 0.3


def classify(analysis: Analysis) -> IntentResult:
    """The intent of an analysed query, its confidence and the entities found (keys: ENTITY_KEYS)."""
    intent, confidence = _decide(analysis)
    return IntentResult(intent, round(min(1.0, max(0.0, confidence)), 2), _entities(analysis))
