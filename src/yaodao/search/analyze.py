"""Query analysis: what a search box entry says, in Chinese, English, pinyin, initials or with typos.

``analyze(query, lexicon)`` normalises the query, finds lexicon terms (longest match wins between
drugs, symptoms and other exclusive words; persons and body parts are kept alongside), corrects
typos in what is left (Latin words by rapidfuzz, Chinese runs by one wrong character), runs the
red-flag gate and segments the text for retrieval. ``query_terms(analysis)`` is what the
retrieval index matches; ``document_tokens(product, lexicon)`` is what it indexes for a product.
Both go through the same normaliser, segmenter and lexicon, so a query word and a document word
meet as the same token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

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

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in covered)

    found: list[TermMatch] = []
    corrections: list[Correction] = []

    def accept(typed: str, term: str, start: int, end: int) -> None:
        entries = tuple(Entry(e.kind, e.value, TYPO) for e in lexicon.terms[term] if e.kind in TYPO_KINDS)
        found.append(TermMatch(term, entries, start, end))
        corrections.append(Correction(typed, term))
        covered.append((start, end))

    for word in _WORD.finditer(text):
        if not free(word.start(), word.end()):
            continue
        if pieces := _split_pinyin(word.group(), lexicon):
            found += [replace(p, start=p.start + word.start(), end=p.end + word.start()) for p in pieces]
            covered.append((word.start(), word.end()))
        elif term := lexicon.correct_latin(word.group()):
            accept(word.group(), term, word.start(), word.end())
    for run in _HAN_RUN.finditer(text):
        for size in range(min(6, len(run.group())), 1, -1):
            for start in range(run.start(), run.end() - size + 1):
                window = text[start : start + size]
                if free(start, start + size) and not lexicon.is_word(window) and (term := lexicon.correct_zh(window)):
                    accept(window, term, start, start + size)
    return found, corrections


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
    by_kind: dict[str, list[str]] = {PERSON: [], BODY: [], URGENCY: [], CONSULT: [], NON_MEDICAL: [], MEDICAL: []}
    symptom_starts = {m.start for m in matches if any(e.kind == SYMPTOM for e in m.entries)}
    for match in matches:
        # One character (头, 胃) is a body part only as a symptom's first character or a word of its own.
        lone = len(match.term) == 1 and match.start not in symptom_starts and match.term not in tokens
        for entry in match.entries:
            if entry.kind == DRUG:
                drugs.setdefault(entry.value, DrugHit(entry.value, match.term, entry.how))
            elif entry.kind == SYMPTOM:
                symptoms.setdefault(entry.value, SymptomHit(entry.value, match.term))
            elif not (entry.kind == BODY and lone):
                by_kind[entry.kind].append(entry.value)
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
