"""Query analysis: what a search box entry says, in Chinese, English, pinyin, initials or with typos.

``analyze(query, lexicon)`` normalises the query, finds lexicon terms (longest match wins between
drugs, symptoms and other exclusive words; persons and body parts are kept alongside), corrects
typos in what is left (Latin words and word pairs by rapidfuzz, Chinese runs by one wrong character),
refines a general complaint by the body site next to it (嘴唇 + 水泡 = cold sore), runs the
red-flag gate and segments the text for retrieval. ``query_terms(analysis)`` is what the
retrieval index matches; ``document_tokens(product, lexicon)`` is what it indexes for a product.
Both go through the same normaliser, segmenter and lexicon, so a query word and a document word
meet as the same token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import pairwise

from yaodao.catalog.model import Product
from yaodao.safety.redflags import RedFlag, scan_normalized
from yaodao.search.lexicon import (
    BODY,
    CONSULT,
    DRUG,
    MEDICAL,
    NON_MEDICAL,
    PERSON,
    PINYIN,
    SYMPTOM,
    TYPO,
    TYPO_KINDS,
    URGENCY,
    Entry,
    Lexicon,
    TermMatch,
    en_stem,
    inn_key,
    pinyin_of,
    product_key,
    zh_names,
)
from yaodao.search.normalize import normalize

MAX_QUERY_TERMS = 30
_EXCLUSIVE = frozenset({DRUG, SYMPTOM, NON_MEDICAL, MEDICAL, URGENCY, CONSULT})
_HAN_RUN = re.compile("[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+")
_LATIN_TOKEN = re.compile(r"[0-9]*[a-z][a-z0-9]*")
_ZH_NUMBERS = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_AGE_YEARS = re.compile(r"(\d{1,3}|[一两二三四五六七八九十]{1,2})\s*(?:周岁|岁)|(\d{1,3})\s*(?:years?|yrs?)\s*old")
_AGE_MONTHS = re.compile(
    r"(?:\d{1,2}|[一两二三四五六七八九十]{1,2})\s*(?:个月大|月大|月龄|周大)|\d{1,2}\s*(?:months?|weeks?)\s*old"
)
_PERSON_EXPANSIONS = {"child": ("儿童", "小儿", "childrens_health")}
# Pinyin syllables that glue onto a known pinyin word (tuishao+yao, baobao+fashao); yao is 药.
_PARTICLES = frozenset("yao de le ma ne wo ni ta you hen chi mai yong shenme zenme zenmeban na nage".split())
_MEDICINE = TermMatch("yao", (Entry(MEDICAL, "药", PINYIN),), 0, 3)
_MAX_INDICATIONS = 6
# A body temperature with its unit or its verb is a fever (38度5, 38.5 c, 体温38.2, temp 39), not a size.
_FEVER_TEMPERATURE = re.compile(
    r"(?<![\d.])(?:3[7-9]|4[0-2])(?:\.\d)?\s*(?:度|c\b)|(?:体温|烧到|烧了|temp|temperature)\s*(?:of\s*)?(?:3[7-9]|4[0-2])"
)
_FEVER = "fever"  # the symptom code a temperature stands for
# Characters that name an illness or a complaint (the 疒 radical's 疼痛痒疹疮癣…, 炎 inflammation, 肿
# swelling): a query with one of them and no shop word is about health even when its words are unknown.
_COMPLAINT_CHARS = frozenset("疼痛痒疹疮癣痘症疱痰瘤痔疝疖痂瘀疤癌疾瘫痪痫痢疸瘙炎肿")
_NOT_COMPLAINTS = ("炎热", "炎炎", "臃肿", "肿么", "症结", "痛快", "痛痛快快", "心疼", "疼爱", "痛恨")
# Name stems of drug classes (沙星, 他汀, -cillin, -sartan …) and dosage forms: a drug the lexicon does not
# know by name (依巴斯汀, 酮替芬, ebastine) is still medicine.
_DRUG_STEM = re.compile(
    "(?:沙星|霉素|西林|头孢|他汀|地平|沙坦|普利|洛尔|替丁|拉唑|司琼|格列|列净|列汀|昔布|洛芬|替尼|单抗|唑仑|西泮|"
    "噻嗪|替芬|斯汀|庚啶|他定|利嗪|米松|奈德|可的松|康唑|硝唑|萘芬|环素|卡因|溴铵|特罗|亚铁|氨酚|那敏|溴索|胰岛素|"
    "缓释片|肠溶片|分散片|泡腾片|咀嚼片|含片|滴眼液|滴耳液|滴鼻液|喷雾剂|气雾剂|注射液|混悬液|口服溶液|栓剂|搽剂)"
    r"|\b[a-z]{3,}(?:cillin|mycin|floxacin|statin|dipine|sartan|pril|olol|tidine|prazole|conazole|setron|triptan|"
    r"gliptin|gliflozin|afil|oxetine|pramine|tadine|cycline|profen|coxib|parin|semide|thiazide|terol|dronate|navir|"
    r"ciclovir|cyclovir|lukast|tropium|zepam|zolam|barbital|fenac|olone|asone|isone|triptyline|azepine|mab|tinib)\b"
)
_SENSATIONS = {"疼": "pain", "痛": "pain", "酸": "muscle_pain", "痒": "itchy_skin", "肿": "pain"}
# What a feeling means at one body part (眼睛又干又涩 is dry eyes, 胃里火辣辣的 heartburn, 嗓子干 a sore throat): a
# feeling with no entry here for its body part is no complaint (头发干 is a hair-care question).
_SITE_SENSATIONS = {
    "eye": {"干": "dry_eyes", "涩": "dry_eyes"},
    "stomach": {"火辣辣": "heartburn", "辣辣": "heartburn", "烧": "heartburn", "灼": "heartburn", "胀": "bloating"},
    "abdomen": {"胀": "bloating"},
    "throat": {
        "疼": "sore_throat",
        "痛": "sore_throat",
        "干": "sore_throat",
        "痒": "sore_throat",
        "肿": "sore_throat",
        "火辣辣": "sore_throat",
        "烧": "sore_throat",
        "灼": "sore_throat",
    },
    "skin": {"干": "dry_skin"},
}
# A body part, then a few words that only say how or how often (里, 有点, 又, 坠着, 一阵阵), then the feeling.
_BODY_SENSATION = re.compile(
    "(?:里面|里|上|有点|有些|好|很|特别|非常|超级|太|真|老是|一直|总是|经常|又|还|也|着|坠着|隐隐|一阵阵|一阵一阵|感觉|觉得)*"
    "(火辣辣|辣辣|[疼痛酸痒肿干涩烧灼胀])"
)
# Laughing "until it hurts" (笑到肚子疼, 笑得我头疼) is a figure of speech, not a complaint.
_LAUGHING = ("笑到", "笑得", "笑的", "笑出", "乐到", "乐得", "笑到我", "笑得我")
# A consult word that reports what a doctor said or gave (医生说吃思密达, 大夫开的药): the user already saw one and
# asks about the medicine.
_QUOTED = re.compile(r"\s?(?:说|讲|让|叫我|叫吃|建议|开的|开了|给开|给我开|嘱咐|交代|推荐的)")
# Between a site word and its complaint, a time (大姨妈第一天 肚子疼, 经期的时候 小腹痛): still the same clause.
_PERIOD_TIME_GAP = re.compile(
    r"(?:的)?(?:第[一二三四五六七八九十\d]{1,2}天|头[一二两三]天|这几天|那几天|期间|的时候|时候)\s?"
)
# English words that only link a site and its complaint (my throat is very pain, eyes are so itchy).
_LATIN_LINKS = frozenset(
    "is are am very so really feels feel quite too still kind of a bit getting gets has been".split()
)
# More feelings after the first (又干又涩, 又干又痒): the feeling goes on to the last of them.
_MORE_FEELING = re.compile("(?:又|也|还|而且|还有点|有点)?(?:火辣辣|[疼痛酸痒肿干涩烧灼胀])(?:得慌|得厉害)?")
_MAX_PINYIN_RUN = 8  # words: spaced pinyin of one name (lu lei ta ding) is read as one word
# Letters from which spaced pinyin with a slip (lu lei ta ding for lvleitading) is corrected: shorter runs are often
# other words (huan shi, 缓释, is not huangshi).
_MIN_PINYIN_RUN_SLIP = 9
# A late hour is a hurry (晚上11点, 凌晨2点, 11点了): pharmacies are closed, the delivery is what counts.
_LATE_HOUR = re.compile(
    r"(?:晚上|夜里|夜间|半夜|深夜|凌晨)\s*(?:\d{1,2}|[一二两三四五六七八九十]{1,3})\s*点|(?<!\d)(?:1[0-2]|[0-4])\s*点了"
)
# Delivery asked for at night, with or without a space (夜里 送, 晚上能送), and a pharmacy open at night (夜间药房,
# 晚上还开的药店, 通宵药店): the hurry of a night-time order.
_NIGHT_DELIVERY = re.compile(
    r"(?:夜里|夜间|晚上|今晚|今天晚上)\s*(?:能|可以|还能|还)?\s*(?:送|配送)"
    r"|(?:夜间|夜里|晚上|今晚|通宵|夜班|深夜)\s*(?:还|都)?\s*(?:营业|开门|开着|开)?\s*的?\s*(?:大药房|药房|药店|送药|买药)"
)
# Shop words for a product's style or grade: 头疼款 (a "headache" design), 发烧级 (audiophile grade).
_STYLE_WORDS = ("款", "同款", "图案", "造型", "风格", "印花", "表情包", "配色", "级")
# How much of a product, or which pack, at the end of a query (整箱, 24罐, 一提, 儿童装, "12 pack"): the head noun
# is the word before it.
_QUANTITY_TAIL = re.compile(
    r"(?:\s*(?:整箱|一箱|整件|一件|整提|一提|箱装|罐装|瓶装|袋装|整盒|包邮|批发|(?:儿童|成人|家庭|旅行|便携|小|大)装|"
    r"\d+\s*(?:罐|瓶|箱|袋|包|听|支|个|斤|公斤|kg|ml|l|pack|packs|cans|bottles)|multipack"
    # Who the product is for, after the head noun (穿搭 男, 卫衣 女款): the head noun is the word before.
    r"|男|女|男款|女款|男士|女士|男生|女生|男童|女童|男女通用))+$"
)
# A show by its season or episode (burn notice season 1, s02e05, 第二季, 第3集): the season is the head noun.
_EPISODE_TAIL = re.compile(
    r"(?:\b(?:season|seasons|episode|episodes|ep|series)\s*\d{1,3}|\bs\d{1,2}\s*e\d{1,3}"
    r"|第\s*(?:\d{1,3}|[一二三四五六七八九十]{1,3})\s*[季集部])(?:\s*(?:episode|ep|e)?\s*\d{1,3}|\s*第?\s*\d{1,3}\s*集)?$"
)
_SITE_GAP = 5  # characters between a site word and the complaint it makes specific (嘴唇上长了个小水泡)


@dataclass(frozen=True, slots=True)
class DrugHit:
    """A drug named in the query: its drug key (the INN, or a combination's name stem), the term, how."""

    inn: str
    term: str
    how: str  # exact | synonym | pinyin | initials | typo


@dataclass(frozen=True, slots=True)
class SymptomHit:
    code: str
    term: str


@dataclass(frozen=True, slots=True)
class Correction:
    typo: str
    term: str


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything recognised in one query. Sequences are tuples, in order of appearance, without repeats."""

    raw: str
    normalized: str
    tokens: tuple[str, ...]  # segmented (jieba search mode), as the retrieval index tokenises documents
    latin_tokens: tuple[str, ...]
    drugs: tuple[DrugHit, ...]
    symptoms: tuple[SymptomHit, ...]
    persons: tuple[str, ...]  # child | pregnant | elderly | breastfeeding
    body_parts: tuple[str, ...]
    urgency: tuple[str, ...]  # the urgency words as typed (normalised)
    consult: tuple[str, ...]
    non_medical: tuple[str, ...]
    medical: tuple[str, ...]  # generic medicine words (药店, medicine) that name no drug or symptom
    red_flags: tuple[RedFlag, ...]
    corrections: tuple[Correction, ...]
    terms: tuple[str, ...]  # the retrieval terms: see query_terms
    # The query ends in a non-medical word: its head noun in Chinese and English alike ("cold brew
    # coffee", "止咳糖浆味 汽水"), so the words before it only describe a shop product.
    non_medical_head: bool = False
    complaints: tuple[str, ...] = ()  # illness characters (疼, 痒, 炎 …) outside the words recognised


def _resolve(matches: list[TermMatch]) -> list[TermMatch]:
    """Longest match wins among exclusive kinds; persons and body parts inside longer words stay."""
    kept: list[TermMatch] = []
    for match in sorted(matches, key=lambda m: (m.start - m.end, m.start)):
        inside = any(
            k.start <= match.start and match.end <= k.end and k.end - k.start > match.end - match.start
            for k in kept
            if any(e.kind in _EXCLUSIVE for e in k.entries)
        )
        if inside:
            entries = tuple(e for e in match.entries if e.kind not in _EXCLUSIVE)
            if not entries:
                continue
            match = replace(match, entries=entries)
        kept.append(match)
    return sorted(kept, key=lambda m: (m.start, m.end))


def _split_pinyin(word: str, lexicon: Lexicon) -> list[TermMatch] | None:
    """Glued pinyin as lexicon words and particles, fewest pieces first (``tuishaoyao`` → tuishao + yao)."""
    if not word.isalpha() or len(word) > 40:
        return None
    best: list[list[tuple[str, int]] | None] = [[], *([None] * len(word))]
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 24), end):
            piece, before = word[start:end], best[start]
            if before is None or not (piece in _PARTICLES or piece in lexicon.pinyin_pieces):
                continue
            if best[end] is None or len(before) + 1 < len(best[end] or ()):
                best[end] = [*before, (piece, start)]
    pieces = best[-1]
    if not pieces or len(pieces) < 2 or not any(p in lexicon.pinyin_pieces for p, _ in pieces):
        return None
    return [
        TermMatch(piece, lexicon.terms[piece], start, start + len(piece))
        if piece in lexicon.pinyin_pieces
        else replace(_MEDICINE, start=start, end=start + 3)
        for piece, start in pieces
        if piece in lexicon.pinyin_pieces or piece == _MEDICINE.term
    ]


def _typos(text: str, matches: list[TermMatch], lexicon: Lexicon) -> tuple[list[TermMatch], list[Correction]]:
    # Persons and body parts (头, 宝宝) sit inside the words people mistype (头腾): they do not block.
    covered = [(m.start, m.end) for m in matches if any(e.kind not in (BODY, PERSON) for e in m.entries)]
    # Generic words (用药, 医生) sit inside the longer words people mistype (极用药 for 急用药): a
    # window that holds one whole may still be corrected; a drug or symptom found exactly may not.
    named = [(m.start, m.end) for m in matches if any(e.kind in (DRUG, SYMPTOM) for e in m.entries)]

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e and ((s, e) in named or not (start <= s and e <= end)) for s, e in covered)

    found: list[TermMatch] = []
    corrections: list[Correction] = []

    def accept(typed: str, term: str, start: int, end: int) -> None:
        entries = tuple(Entry(e.kind, e.value, TYPO) for e in lexicon.terms[term] if e.kind in TYPO_KINDS)
        found.append(TermMatch(term, entries, start, end))
        corrections.append(Correction(typed, term))
        covered.append((start, end))

    latin = list(_WORD.finditer(text))
    for first, second in pairwise(latin):
        # Two words one slip away from a term of two words (sore thraot): the words the lexicon knows
        # stand as typed, so a window over them is free unless a match crosses its edge.
        start, end = first.start(), second.end()
        crossed = any(s < end and start < e and not (start <= s and e <= end) for s, e in covered)
        if second.start() - first.end() != 1 or crossed:
            continue
        if term := lexicon.correct_latin_phrase([first.group(), second.group()]):
            accept(text[start:end], term, start, end)
    for syllables in _pinyin_runs(latin, lexicon):
        # Spaced pinyin (lu lei ta ding, ke sou): the syllables run together name one word, or its slip.
        for size in range(len(syllables), 1, -1):
            for i in range(len(syllables) - size + 1):
                words_in = syllables[i : i + size]
                start, end = words_in[0].start(), words_in[-1].end()
                glued = "".join(w.group() for w in words_in)
                if len(glued) < 5 or not free(start, end):
                    continue
                slip = lexicon.correct_latin(glued) if len(glued) >= _MIN_PINYIN_RUN_SLIP else None
                term = glued if glued in lexicon.terms else slip
                if not term or not any(e.kind in (DRUG, SYMPTOM) for e in lexicon.terms[term]):
                    continue
                if term == glued:
                    found.append(TermMatch(term, lexicon.terms[term], start, end))
                    covered.append((start, end))
                else:
                    accept(text[start:end], term, start, end)
    for word in latin:
        if not free(word.start(), word.end()):
            continue
        if pieces := _split_pinyin(word.group(), lexicon):
            found += [replace(p, start=p.start + word.start(), end=p.end + word.start()) for p in pieces]
            covered.append((word.start(), word.end()))
        elif term := lexicon.correct_latin(word.group()):
            accept(word.group(), term, word.start(), word.end())
    words: list[tuple[int, int]] | None = None  # segmented only when a window needs it: jieba is slow
    for run in _HAN_RUN.finditer(text):
        for size in range(min(6, len(run.group())), 1, -1):
            for start in range(run.start(), run.end() - size + 1):
                window = text[start : start + size]
                if not free(start, start + size) or lexicon.is_word(window):
                    continue
                if words is None:
                    words = lexicon.word_spans(text)
                outside = text[max(0, start - 2) : start], text[start + size : start + size + 2]
                if not _inside_word(start, start + size, words) and (term := lexicon.correct_zh(window, *outside)):
                    accept(window, term, start, start + size)
    return found, corrections


def _pinyin_runs(latin: list[re.Match[str]], lexicon: Lexicon) -> list[list[re.Match[str]]]:
    """Runs of two or more single-spaced words that are each one pinyin syllable (lu lei ta ding)."""
    runs: list[list[re.Match[str]]] = []
    current: list[re.Match[str]] = []
    for word in latin:
        syllable = word.group() in lexicon.syllables and word.group().isalpha()
        if syllable and current and word.start() - current[-1].end() == 1 and len(current) < _MAX_PINYIN_RUN:
            current.append(word)
            continue
        if len(current) >= 2:
            runs.append(current)
        current = [word] if syllable else []
    if len(current) >= 2:
        runs.append(current)
    return runs


def _inside_word(start: int, end: int, words: list[tuple[int, int]]) -> bool:
    """Whether ``[start, end)`` is part of a longer word the segmenter found (食机 in 辅食机): not a slip."""
    return any(a <= start and end <= b and b - a > end - start for a, b in words)


def _head_is_non_medical(text: str, matches: list[TermMatch]) -> bool:
    """Whether the query's head noun is a shop word: its last word, or in English the last word before
    "for"/"with" ("eye mask for sleeping", "cold brew coffee", "发烧友 耳机"); a show's season or episode
    ("burn notice season 1", "第二季") is the head noun whatever comes before."""
    end = len(text)
    if _EPISODE_TAIL.search(text):
        return True
    if text.isascii() and (cut := re.search(r" (?:for|with|in|from) ", text)):
        end = cut.start()
    elif tail := _QUANTITY_TAIL.search(text):
        end = tail.start()
    # The words ending there: a body part inside the head noun (唇 in 润唇膏) does not hide it.
    return any(e.kind == NON_MEDICAL for m in matches if m.end == end for e in m.entries)


def _complaints(text: str, matches: list[TermMatch]) -> tuple[str, ...]:
    spans = [(m.start, m.end) for m in matches]
    found = []
    for i, char in enumerate(text):
        if char not in _COMPLAINT_CHARS or any(s <= i < e for s, e in spans):
            continue
        if any(text.startswith(w, j) for w in _NOT_COMPLAINTS for j in range(max(0, i - len(w) + 1), i + 1)):
            continue
        found.append(char)
    return _unique(found)


def _refine(
    text: str,
    matches: list[TermMatch],
    found: list[tuple[SymptomHit, int, int]],
    symptoms: dict[str, SymptomHit],
    lexicon: Lexicon,
) -> dict[str, SymptomHit]:
    """A site word next to a general complaint names a specific one (嘴唇上起了小水泡 = cold sore, 脚丫子痒 =
    athlete's foot, 来姨妈肚子疼 = period pain): the nearest site refines the complaint. In Chinese the site
    comes first, in the same clause or as the keyword just before (大姨妈 肚子疼; 起疹子 嘴唇肿了 is two
    things); in English either order, as neighbouring words (itchy feet, feet itch). A complaint word that
    holds its own site (脚后跟干裂) already says where it is."""
    sites = [m for m in matches if m.term in lexicon.refinements]
    if not sites:
        return symptoms
    refined: dict[str, SymptomHit] = {}
    kept: set[str] = set()
    for hit, start, end in found:
        best: tuple[int, str] | None = None
        for site in sites:
            if start <= site.start and site.end <= end:
                continue
            latin = text[site.start].isascii() and text[start].isascii()
            if site.end <= start:
                gap = text[site.end : start]
            elif latin and end <= site.start:
                gap = text[end : site.start]
            else:
                continue
            if latin and gap.strip() and all(w in _LATIN_LINKS for w in gap.split()) and len(gap.split()) <= 3:
                gap = " "  # my throat is very pain: the words between only link the two
            elif _PERIOD_TIME_GAP.fullmatch(gap):
                # 大姨妈第一天 肚子疼: the words between say when in the period, not another thing.
                gap = gap[-1:] if gap.endswith(" ") else ""
            if len(gap) > _SITE_GAP or (" " in gap and gap != " "):
                continue
            rule = next((r for r in lexicon.refinements[site.term] if r.refines(hit.code, hit.term)), None)
            if rule and (best is None or len(gap) < best[0]):
                best = (len(gap), rule.code)
        if best:
            refined.setdefault(hit.code, SymptomHit(best[1], hit.term))
        else:
            kept.add(hit.code)
    out: dict[str, SymptomHit] = {}
    for code, hit in symptoms.items():
        if code in refined:
            out.setdefault(refined[code].code, refined[code])
        if code in kept or code not in refined:
            out.setdefault(code, hit)
    return out


def _describes_product(text: str, match: TermMatch) -> bool:
    """A word followed by a style word names a product's look, not a complaint (头疼款, 发烧级); people
    often type a space between them (头疼 同款, 体温计 造型)."""
    end = match.end + 1 if text.startswith(" ", match.end) else match.end
    return text.startswith(_STYLE_WORDS, end)


def _body_feelings(
    text: str,
    matches: list[TermMatch],
    symptoms: dict[str, SymptomHit],
    found: list[tuple[SymptomHit, int, int]],
) -> None:
    """A body part, then a feeling (手腕好疼, 耳朵里痒, 眼睛又干又涩, 胃里烧得慌), added to ``symptoms`` and ``found``.

    A feeling the body part gives its own meaning (_SITE_SENSATIONS) wins over the general complaint words inside
    it (痒 in 嗓子又干又痒, 烧得 in 胃里烧得慌); a general pain or itch counts only when nothing else was named.
    """
    named = bool(symptoms)
    for match in matches:
        sites = [e.value for e in match.entries if e.kind == BODY]
        sensed = _BODY_SENSATION.match(text, match.end) if sites else None
        if not sensed or _laughing(text, match.start) or any(text.startswith(w, match.start) for w in _NOT_COMPLAINTS):
            continue
        feeling, end = sensed.group(1), sensed.end()
        while more := _MORE_FEELING.match(text, end):
            end = more.end()
        if text.startswith(_STYLE_WORDS, end):
            continue
        special = next((c for site in sites if (c := _SITE_SENSATIONS.get(site, {}).get(feeling))), None)
        inside = [m for m in matches if m is not match and match.end <= m.start < end]
        if special:
            # The general words inside the feeling (痒, 烧得) are part of it: only the specific complaint stays.
            for m in inside:
                for code in (e.value for e in m.entries if e.kind == SYMPTOM):
                    if code in symptoms and symptoms[code].term == m.term:
                        del symptoms[code]
            found[:] = [f for f in found if not (match.end <= f[1] < end)]
        elif named or any(m.start < sensed.end() <= m.end and m is not match for m in matches):
            continue
        meant = special or _SENSATIONS.get(feeling)
        if meant:
            hit = SymptomHit(meant, text[match.start : end])
            symptoms.setdefault(meant, hit)
            found.append((hit, match.start, end))


def _laughing(text: str, start: int) -> bool:
    """Whether the words before ``start`` laugh "until it hurts" (笑到肚子疼, 笑得 头疼)."""
    return text[max(0, start - 4) : start].rstrip().endswith(_LAUGHING)


def _ages(text: str) -> list[str]:
    persons = []
    for m in _AGE_YEARS.finditer(text):
        raw = m.group(1) or m.group(2)
        years = int(raw) if raw.isdigit() else sum(_ZH_NUMBERS.get(c, 0) for c in raw)
        if 0 < years <= 12:
            persons.append("child")
        elif years >= 65:
            persons.append("elderly")
    if _AGE_MONTHS.search(text):
        persons.append("child")
    return persons


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def analyze(query: str, lexicon: Lexicon) -> Analysis:
    """Analyse one search query against ``lexicon``. Never raises on a ``str``."""
    text = normalize(query)
    exact = lexicon.find(text)
    typo_matches, corrections = _typos(text, exact, lexicon)
    matches = _resolve(exact + typo_matches)
    tokens = tuple(lexicon.segment(text)) if text else ()
    drugs: dict[str, DrugHit] = {}
    symptoms: dict[str, SymptomHit] = {}
    found: list[tuple[SymptomHit, int, int]] = []  # each symptom word with its place, for _refine
    by_kind: dict[str, list[str]] = {PERSON: [], BODY: [], URGENCY: [], CONSULT: [], NON_MEDICAL: [], MEDICAL: []}
    symptom_starts = {m.start for m in matches if any(e.kind == SYMPTOM for e in m.entries)}
    shop = any(e.kind == NON_MEDICAL for m in matches for e in m.entries)
    for match in matches:
        # One character (头, 胃) is a body part only as a symptom's first character or a word of its own;
        # 急 is urgency only as a word of its own (药 急), not inside 急性 or 急救.
        lone = len(match.term) == 1 and match.start not in symptom_starts and match.term not in tokens
        alone = len(match.term) > 1 or match.term in tokens
        styled = _describes_product(text, match) or _laughing(text, match.start)
        quoted = bool(_QUOTED.match(text, match.end))
        for entry in match.entries:
            if styled and shop and entry.kind in (DRUG, MEDICAL):
                # "感冒灵 同款 卫衣", "药丸造型 钥匙扣": the medicine only names the look of a shop product.
                continue
            if entry.kind == DRUG and shop and match.term.isdigit():
                # A brand that is only a number (999) next to a shop word is a shade or a model: 口红 999.
                continue
            if entry.kind == DRUG:
                drugs.setdefault(entry.value, DrugHit(entry.value, match.term, entry.how))
            elif entry.kind == SYMPTOM and not styled:
                symptoms.setdefault(entry.value, SymptomHit(entry.value, match.term))
                found.append((SymptomHit(entry.value, match.term), match.start, match.end))
            elif entry.kind == URGENCY and not alone:
                continue
            elif entry.kind == CONSULT and quoted:
                # "医生说吃思密达 一次吃多少": what a doctor said, the question is about the medicine.
                continue
            elif entry.kind not in (SYMPTOM, BODY) or (entry.kind == BODY and not lone and not styled):
                by_kind[entry.kind].append(entry.value)
    _body_feelings(text, matches, symptoms, found)
    symptoms = _refine(text, matches, found, symptoms, lexicon)
    if temperature := _FEVER_TEMPERATURE.search(text):
        symptoms.setdefault(_FEVER, SymptomHit(_FEVER, temperature.group()))
    if late := _LATE_HOUR.search(text) or _NIGHT_DELIVERY.search(text):
        by_kind[URGENCY].append(late.group())
    if episode := _EPISODE_TAIL.search(text):
        # "fever pitch s01e02": a show's episode is what is sought, whatever its title says.
        by_kind[NON_MEDICAL].append(episode.group().strip())
    if not drugs and (stem := _DRUG_STEM.search(text)):
        by_kind[MEDICAL].append(stem.group())
    persons = by_kind[PERSON] + _ages(text)
    analysis = Analysis(
        raw=query if isinstance(query, str) else "",
        normalized=text,
        tokens=tokens,
        latin_tokens=tuple(m.group() for m in _LATIN_TOKEN.finditer(text)),
        drugs=tuple(drugs.values()),
        symptoms=tuple(symptoms.values()),
        persons=_unique(persons),
        body_parts=_unique(by_kind[BODY]),
        urgency=_unique(by_kind[URGENCY]),
        consult=_unique(by_kind[CONSULT]),
        non_medical=_unique(by_kind[NON_MEDICAL]),
        medical=_unique(by_kind[MEDICAL]),
        red_flags=tuple(scan_normalized(text)),
        corrections=tuple(dict.fromkeys(corrections)),
        terms=(),
        non_medical_head=_head_is_non_medical(text, matches),
        complaints=_complaints(text, matches),
    )
    return replace(analysis, terms=_search_terms(analysis, lexicon))


def _search_terms(analysis: Analysis, lexicon: Lexicon) -> tuple[str, ...]:
    single_query = len(analysis.tokens) == 1
    terms = [
        t
        for t in analysis.tokens
        if t not in lexicon.stopwords
        and (single_query or len(t) > 1 or not _HAN_RUN.fullmatch(t))
        and not (t.isdigit() and len(t) < 3)
    ]
    terms += [c.term for c in analysis.corrections]
    for hit in analysis.drugs:
        info = lexicon.drugs.get(hit.inn)
        terms += [hit.inn, *(info.names_zh[:2] if info else ())]
    terms += [s.code for s in analysis.symptoms]
    for symptom in analysis.symptoms:
        known = lexicon.symptoms.get(symptom.code)
        terms += list(known.indications[:_MAX_INDICATIONS]) if known else []
    for person in analysis.persons:
        terms += _PERSON_EXPANSIONS.get(person, ())
    return _unique(terms)[:MAX_QUERY_TERMS]


def query_terms(analysis: Analysis) -> list[str]:
    """The terms to match in the retrieval index, most specific first, at most :data:`MAX_QUERY_TERMS`.

    The query's own tokens (stop words and stray single characters dropped), typo corrections,
    each drug's key and Chinese names, each symptom's code and indication words, and for a child
    the paediatric words. Synonyms need no expansion here: documents carry them.
    """
    return list(analysis.terms)


def _pinyin_tokens(words: list[str]) -> list[str]:
    """Full pinyin (phrase and per-character readings: fenbidei, fenbide) and, from three characters, initials."""
    out = []
    for word in words:
        syllables = pinyin_of(word)
        if len(syllables) >= 2:
            out += ["".join(syllables), "".join(pinyin_of(c)[0] for c in word if pinyin_of(c))]
        if len(syllables) >= 3:
            out.append("".join(s[0] for s in syllables if s))
    return out


def document_tokens(product: Product, lexicon: Lexicon) -> str:
    """The space-joined index text for ``product``: names (segmented), INNs, brands, pinyin, initials,
    indications, synonyms of its drug keys, the symptom codes it treats and its categories."""
    names = [n for raw in (product.generic_name_zh, product.brand_name_zh or "") for n in zh_names(raw)]
    names += [n for i in product.ingredients for n in zh_names(i.name_zh)]
    segments = [s for name in names for s in lexicon.segment(name)]
    tokens = names + segments + _pinyin_tokens(names + segments)
    tokens += [product.pinyin_full, product.pinyin_initials]
    tokens += [
        normalize(product.generic_name_en),
        en_stem(product.generic_name_en),
        normalize(product.brand_name_en or ""),
    ]
    keys = [product_key(product)] + [inn_key(i.inn) for i in product.ingredients]
    tokens += keys
    for key in dict.fromkeys(keys):
        info = lexicon.drugs.get(key)
        aliases = list(info.aliases) if info else []
        tokens += aliases + _pinyin_tokens([a for a in aliases if _HAN_RUN.fullmatch(a)])
    indications = [normalize(i) for i in (*product.indications_zh, *product.indications_en)]
    tokens += indications + [s for i in indications if _HAN_RUN.search(i) for s in lexicon.segment(i)]
    for indication in indications:
        for match in _resolve(lexicon.find(indication)):
            tokens += [e.value for e in match.entries if e.kind == SYMPTOM]
    tokens += list(product.categories)
    return " ".join(dict.fromkeys(w for t in tokens for w in t.split()))
