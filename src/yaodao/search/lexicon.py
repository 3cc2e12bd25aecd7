"""The search lexicon: every word the query analyser recognises, built once from the catalogue.

``Lexicon.build(products)`` is pure: it reads only the catalogue it is given and the data files
shipped in ``yaodao/search/data`` (via importlib.resources):

* ``synonyms.tsv``: cross-language drug synonyms (布洛芬 = ibuprofen = 芬必得 = Advil = buluofen);
* ``symptoms.tsv``: symptom variants → canonical code → categories and indication words;
* ``vocab.tsv``: persons, body parts, urgency, consult and generic medicine words, stop words;
* ``non_medical.txt``: marketplace words that are evidence for a non-medical query;
* ``sites.tsv``: a body word next to a general complaint that names a specific one (嘴唇 + 水泡 = cold sore).

Drug entries are keyed by a *drug key*: the WHO INN (lower case, parenthetical dropped) for an
ingredient and for every single-ingredient product; for a combination or TCM product, its English
generic name without the dosage form (``ganmaoling``, ``lianhua qingwen``). Each term records how it
names the drug: ``exact`` (a catalogue name, brand, ingredient or INN), ``synonym`` (the synonym
table), ``pinyin`` (toneless full pinyin of a Chinese term) or ``initials`` (``blf``).

Matching is on :func:`yaodao.search.normalize.normalize` output. The jieba segmenter (an own
``jieba.Tokenizer``, never the global one) gets every Chinese term as a user word; it is built
lazily on first use, because loading jieba's dictionary takes most of a second.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from pypinyin import Style, lazy_pinyin, pinyin
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from yaodao.catalog.model import Product
from yaodao.search.normalize import normalize

DRUG, SYMPTOM, PERSON, BODY = "drug", "symptom", "person", "body"
URGENCY, CONSULT, MEDICAL, NON_MEDICAL = "urgency", "consult", "medical", "non_medical"
EXACT, SYNONYM, PINYIN, INITIALS, TYPO = "exact", "synonym", "pinyin", "initials", "typo"
_HOW_RANK = {EXACT: 0, SYNONYM: 1, PINYIN: 2, INITIALS: 3, TYPO: 4}
# Shop words get their pinyin too, so "kafei" (咖啡) is a shop word and not a typo of a drug (dafei).
_PINYIN_KINDS = frozenset({DRUG, SYMPTOM, PERSON, URGENCY, CONSULT, MEDICAL, NON_MEDICAL})

# Kinds whose terms tolerate typos, and whose terms of three or more characters are also found by
# their pinyin initials (blf, jyy for 急用药, zxwz for 在线问诊).
TYPO_KINDS = frozenset({DRUG, SYMPTOM, CONSULT, URGENCY})
_INITIALS_KINDS = frozenset({DRUG, CONSULT, URGENCY})
TYPO_SCORE_CUTOFF = 85  # rapidfuzz ratio for English and pinyin typos
_MIN_TYPO_LATIN = 4
_MIN_TWO_EDIT_LATIN = 9  # letters: below this, two edits turn one word into another
_MIN_TYPO_ZH = 3
_MIN_TYPO_PHRASE = 8  # characters of a multi-word Latin term that one slip may be corrected into (sore thraot)
_COMMON_WORD_FREQ = 50  # jieba dictionary count from which a two-character string is a real word
_MAX_NGRAM = 6
_JIEBA_FREQ = 200_000  # high enough that jieba keeps catalogue words whole

_HAN = re.compile("[\u3400-\u9fff]")
_ALL_HAN = re.compile("[\u3400-\u9fff]+")
_LATIN_TERM = re.compile(r"[a-z0-9]+(?: [a-z0-9]+)*")
_WORD = re.compile(r"[a-z0-9]+")
_PAREN = re.compile(r"[（(][^（）()]*[）)]")
_ZH_FORM = re.compile(
    "(?:缓释|控释|肠溶|分散|咀嚼|泡腾|口腔崩解|口崩|薄膜衣|干混悬|混悬|吸入|鼻喷|鼻|眼用|阴道|软|浓缩|滴|含|粘贴|凝胶|粉|口服)*"
    "(?:胶囊|颗粒|冲剂|口服液|口服溶液|溶液|合剂|糖浆|混悬液|滴剂|乳剂|软膏|乳膏|眼膏|凝胶|乳胶剂|滴眼液|滴耳液|"
    "喷雾剂|气雾剂|粉雾剂|吸入剂|洗剂|搽剂|酊|贴膏|贴剂|栓|注射液|散|丸|片)$"
)
_ROMAN_SUFFIX = re.compile("(?<=[\u3400-\u9fff])(?:iii|ii|iv|i)$")
_SALT_PREFIX = re.compile(
    "^(?:盐酸|硫酸氢|硫酸|马来酸|氢溴酸|磷酸|枸橼酸|富马酸|琥珀酸|"
    "酒石酸|苯磺酸|糠酸|丙酸|醋酸|草酸|硝酸|甲磺酸|戊酸|丁酸)"
)
_SALT_SUFFIX = re.compile("(?:钠|钾|钙|镁|叔丁胺|二乙胺)$")
_EN_FORM_WORDS = frozenset(
    "tablets tablet capsules capsule granules granule oral liquid solution suspension drops syrup ointment cream gel "
    "emulgel lotion spray nasal aqueous aerosol inhalation for powder pills pill plaster plasters cataplasms "
    "suppositories vaginal tincture injection emulsion shampoo liniment sustained release extended controlled "
    "modified enteric coated film chewable effervescent soft buccal dripping concentrated eye ear lozenges throat "
    "dispersible sublingual enema oil balm paste prefilled pen i ii iii iv".split()
)


@dataclass(frozen=True, slots=True)
class Entry:
    """What a term means: ``kind`` (drug, symptom, person …), ``value`` (drug key, code, word), ``how``."""

    kind: str
    value: str
    how: str


@dataclass(frozen=True, slots=True)
class TermMatch:
    """A lexicon term found in normalised text at ``[start, end)``."""

    term: str
    entries: tuple[Entry, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class DrugInfo:
    key: str
    names_zh: tuple[str, ...]  # Chinese names, shortest first: what a Chinese document calls it
    aliases: tuple[str, ...]  # synonym-table aliases
    product_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SymptomInfo:
    code: str
    categories: tuple[str, ...]
    indications: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Refinement:
    """A complaint (a symptom code, or one of its words) that a site word next to it turns into ``code``."""

    code: str
    complaints: frozenset[str]

    def refines(self, code: str, term: str) -> bool:
        return code in self.complaints or term in self.complaints


def _rows(name: str, columns: int) -> Iterator[list[str]]:
    text = resources.files("yaodao.search").joinpath("data", name).read_text(encoding="utf-8")
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            cols = [c.strip() for c in line.split("\t")]
            if len(cols) != columns:
                raise ValueError(f"{name} line {n}: expected {columns} tab-separated columns, got {len(cols)}")
            yield cols


def _split(cell: str, sep: str = "|") -> list[str]:
    return [t for t in (normalize(p) for p in cell.split(sep)) if t]


@lru_cache(maxsize=65536)
def pinyin_of(term: str) -> tuple[str, ...]:
    """Toneless pinyin syllables of an all-Chinese term (``布洛芬`` → ``bu luo fen``); ``()`` otherwise."""
    return tuple(lazy_pinyin(term)) if _ALL_HAN.fullmatch(term) else ()


def inn_key(inn: str) -> str:
    return normalize(_PAREN.sub(" ", inn))


def zh_names(raw: str) -> list[str]:
    """A Chinese catalogue name, its stem without the dosage form, and the stem without a salt."""
    names: list[str] = []
    for part in _PAREN.sub("", raw).split("/"):
        name = _ROMAN_SUFFIX.sub("", normalize(part)).removeprefix("吸入用")
        if not name:
            continue
        names.append(name)
        stem = _ZH_FORM.sub("", name)
        if stem != name and len(stem) >= 3:
            names.append(stem)
        for base in (name, stem):
            bare = _SALT_SUFFIX.sub("", _SALT_PREFIX.sub("", base))
            if bare != base and len(bare) >= 3 and not bare.endswith("酸"):
                names.append(bare)
    return list(dict.fromkeys(names))


def en_stem(raw: str) -> str:
    words = normalize(_PAREN.sub(" ", raw.split("/")[0])).split()
    while len(words) > 1 and words[-1] in _EN_FORM_WORDS:
        words.pop()
    return " ".join(words)


def product_key(product: Product) -> str:
    """The product's drug key: its INN when it has one ingredient, else its English name stem."""
    if len(product.ingredients) == 1:
        return inn_key(product.ingredients[0].inn)
    return en_stem(product.generic_name_en)


@dataclass
class _Builder:
    non_medical: frozenset[str]
    terms: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    products: dict[str, list[str]] = field(default_factory=dict)

    def add(self, term: str, kind: str, value: str, how: str) -> None:
        if not term or (kind == DRUG and term in self.non_medical and how != SYNONYM):
            return
        slot = self.terms.setdefault(term, {})
        old = slot.get((kind, value))
        if old is None or _HOW_RANK[how] < _HOW_RANK[old]:
            slot[(kind, value)] = how

    def drug(self, key: str, product_id: str | None = None, zh: Iterable[str] = ()) -> None:
        self.names.setdefault(key, []).extend(n for n in zh if _HAN.search(n))
        if product_id:
            self.products.setdefault(key, []).append(product_id)

    def add_product(self, product: Product) -> None:
        key = product_key(product)
        own = [n for raw in (product.generic_name_zh, product.brand_name_zh or "") for n in zh_names(raw)]
        own += [normalize(product.generic_name_en), en_stem(product.generic_name_en)]
        own += [normalize(product.brand_name_en or ""), en_stem(product.brand_name_en or "")]
        for term in own:
            self.add(term, DRUG, key, EXACT)
        self.drug(key, product.id, zh_names(product.generic_name_zh) if len(product.ingredients) != 1 else ())
        for ingredient in product.ingredients:
            ikey = inn_key(ingredient.inn)
            names = zh_names(ingredient.name_zh)
            for name in names:
                self.add(name, DRUG, ikey, EXACT)
            if not ("tcm" in product.categories and ingredient.amount is None):  # herbs' English names are not
                self.add(ikey, DRUG, ikey, EXACT)  # search words ("pearl", "honey"); their Chinese names are
            self.drug(ikey, product.id, sorted(names, key=len))

    def add_synonyms(self) -> None:
        for heads, aliases in _rows("synonyms.tsv", 2):
            keys: list[str] = []
            for head in _split(heads, ","):
                known = [value for (kind, value) in self.terms.get(head, {}) if kind == DRUG]
                if not known and _HAN.search(head):
                    raise ValueError(f"synonyms.tsv: {head!r} is not a catalogue name")
                keys += known or [head]
            for key in dict.fromkeys(keys):
                words = _split(aliases)
                self.drug(key, zh=words if key not in self.names else ())
                self.aliases.setdefault(key, []).extend(words)
                for alias in words:
                    self.add(alias, DRUG, key, SYNONYM)

    def add_pinyin(self, stop: frozenset[str]) -> None:
        for term, slot in list(self.terms.items()):
            syllables = pinyin_of(term)
            if not syllables:
                continue
            variants = {"".join(syllables), "".join(lazy_pinyin(list(term)))}
            initials = "".join(s[0] for s in syllables if s)
            for kind, value in list(slot):
                if kind not in _PINYIN_KINDS:
                    continue
                for full in variants:
                    if len(full) >= 4 and full not in stop:
                        self.add(full, kind, value, PINYIN)
                if kind in _INITIALS_KINDS and len(term) >= 3 and initials not in stop and initials not in self.terms:
                    self.add(initials, kind, value, INITIALS)


class Lexicon:
    """Term → entities maps, dictionary matching, typo matching and segmentation; see the module docstring."""

    def __init__(
        self,
        terms: dict[str, tuple[Entry, ...]],
        drugs: dict[str, DrugInfo],
        symptoms: dict[str, SymptomInfo],
        stopwords: frozenset[str],
        refinements: dict[str, tuple[Refinement, ...]] | None = None,
    ) -> None:
        self.terms = terms
        self.drugs = drugs
        self.symptoms = symptoms
        self.stopwords = stopwords
        self.refinements = refinements or {}  # site word -> the complaints it makes specific
        # Stop words of one character (的, 了, 是): typed on purpose, never a slip for a drug's character.
        self._particles = frozenset(w for w in stopwords if len(w) == 1 and _HAN.match(w))
        self._pairs: dict[str, tuple[str, ...]] = {}  # first two characters -> Chinese terms, longest first
        self._singles: dict[str, str] = {}  # one-character Chinese terms
        self._max_words = 1
        for term in sorted(terms, key=len, reverse=True):
            if _LATIN_TERM.fullmatch(term):
                self._max_words = max(self._max_words, min(_MAX_NGRAM, term.count(" ") + 1))
            elif len(term) == 1:
                self._singles[term] = term
            else:
                self._pairs[term[:2]] = (*self._pairs.get(term[:2], ()), term)
        fuzzy = TYPO_KINDS
        self._latin_vocab: dict[int, list[str]] = {}
        self._latin_drugs: dict[int, list[str]] = {}  # the drug names among them, for two-edit slips
        self._latin_phrases: dict[int, list[str]] = {}  # multi-word terms ("sore throat") by length
        self._initials: dict[int, list[str]] = {}
        for term, entries in sorted(terms.items()):
            if len(term) >= 5 and any(e.kind == DRUG and e.how == INITIALS for e in entries):
                self._initials.setdefault(len(term), []).append(term)
        self._zh_wild: dict[str, list[str]] = {}
        for term, entries in sorted(terms.items()):
            if not any(e.kind in fuzzy and e.how != INITIALS for e in entries):
                continue
            if _WORD.fullmatch(term) and len(term) >= _MIN_TYPO_LATIN and not term.isdigit():
                self._latin_vocab.setdefault(len(term), []).append(term)
                if any(e.kind == DRUG for e in entries):
                    self._latin_drugs.setdefault(len(term), []).append(term)
            elif " " in term and _LATIN_TERM.fullmatch(term) and len(term) >= _MIN_TYPO_PHRASE:
                self._latin_phrases.setdefault(len(term), []).append(term)
            elif _ALL_HAN.fullmatch(term) and len(term) >= 2:
                for i in range(len(term)):
                    self._zh_wild.setdefault(f"{term[:i]}?{term[i + 1 :]}", []).append(term)
        # Pinyin words (not initials, not English) that glued pinyin may be split into: tuishao+yao.
        syllables = frozenset(s for t in terms for s in pinyin_of(t))
        self.syllables = syllables  # every pinyin syllable of a Chinese term: what spaced pinyin is made of
        pieces = (t for t in terms if t.isascii() and t.isalpha() and len(t) >= 4 and _spells(t, syllables))
        self.pinyin_pieces = frozenset(t for t in pieces if any(e.how != INITIALS for e in terms[t]))
        self._lock = threading.Lock()
        self._jieba: Any = None

    @classmethod
    def build(cls, products: Iterable[Product]) -> Lexicon:
        lines = resources.files("yaodao.search").joinpath("data", "non_medical.txt").read_text("utf-8").splitlines()
        non_medical = frozenset(w for line in lines if not line.startswith("#") and (w := normalize(line)))
        builder = _Builder(non_medical)
        for product in products:
            builder.add_product(product)
        builder.add_synonyms()
        symptoms: dict[str, SymptomInfo] = {}
        for code, categories, indications, variants in _rows("symptoms.tsv", 4):
            symptoms[code] = SymptomInfo(
                code, tuple(c.strip() for c in categories.split(",")), tuple(_split(indications))
            )
            for variant in _split(variants):
                builder.add(variant, SYMPTOM, code, EXACT)
        stop: set[str] = set()
        for kind, code, cell in _rows("vocab.tsv", 3):
            if kind == "stop":
                stop.update(_split(cell))
                continue
            for term in _split(cell):
                builder.add(term, kind, term if code == "-" else code, EXACT)
        for word in non_medical:
            builder.add(word, NON_MEDICAL, word, EXACT)
        builder.add_pinyin(frozenset(stop))
        refinements: dict[str, list[Refinement]] = {}
        for code, sites, complaints in _rows("sites.tsv", 3):
            if code not in symptoms:
                raise ValueError(f"sites.tsv: {code!r} is not a symptom code")
            # A complaint is a symptom code as written, or a word in normalised form.
            words = [c if c in symptoms else normalize(c) for c in (c.strip() for c in complaints.split("|"))]
            refinement = Refinement(code, frozenset(w for w in words if w))
            for site in _split(sites):
                if not any(kind == BODY for kind, _ in builder.terms.get(site, {})):
                    raise ValueError(f"sites.tsv: {site!r} is not a body word in vocab.tsv")
                refinements.setdefault(site, []).append(refinement)
        terms = {
            term: tuple(Entry(kind, value, how) for (kind, value), how in sorted(slot.items(), key=_entry_order))
            for term, slot in builder.terms.items()
        }
        drugs = {
            key: DrugInfo(
                key,
                tuple(sorted(dict.fromkeys(builder.names.get(key, [])), key=len)),
                tuple(dict.fromkeys(builder.aliases.get(key, []))),
                tuple(dict.fromkeys(builder.products.get(key, []))),
            )
            for key in {v for slot in builder.terms.values() for (k, v) in slot if k == DRUG}
        }
        return cls(terms, drugs, symptoms, frozenset(stop), {k: tuple(v) for k, v in refinements.items()})

    def find(self, text: str) -> list[TermMatch]:
        """Every lexicon term in normalised ``text``: Chinese as substrings, Latin as whole words (1-6)."""
        found: list[TermMatch] = []
        for i, char in enumerate(text):
            for term in self._pairs.get(text[i : i + 2], ()):
                if text.startswith(term, i) and _bounded(text, i, i + len(term)):
                    found.append(TermMatch(term, self.terms[term], i, i + len(term)))
            if char in self._singles:
                found.append(TermMatch(char, self.terms[char], i, i + 1))
        words = list(_WORD.finditer(text))
        for i in range(len(words)):
            for n in range(min(self._max_words, len(words) - i), 0, -1):
                group = words[i : i + n]
                if any(group[k + 1].start() - group[k].end() != 1 for k in range(n - 1)):
                    continue
                parts = [w.group() for w in group]
                key = next((k for k in (" ".join(parts), "".join(parts)) if k in self.terms), None)
                if key is not None:
                    found.append(TermMatch(key, self.terms[key], group[0].start(), group[-1].end()))
                    break
        return found

    def correct_latin(self, word: str) -> str | None:
        """The drug or symptom word a Latin typo most likely meant (``paracetmol`` → ``paracetamol``)."""
        if len(word) < _MIN_TYPO_LATIN or word in self.terms or word in self.stopwords or not word.isalpha():
            return None
        # People rarely mistype the first letter; an everyday word one letter off a medical one is not a
        # slip for it ("ever" is not "fever", "kafei" not "dafei").
        first = word[0]
        choices = [
            t for n in range(len(word) - 2, len(word) + 3) for t in self._latin_vocab.get(n, ()) if t[0] == first
        ]
        best = process.extractOne(word, choices, scorer=fuzz.ratio, score_cutoff=TYPO_SCORE_CUTOFF)
        if best:
            return str(best[0])
        # Short words: the ratio punishes one slip too hard (docter, docotr); allow one edit or swap.
        near = [
            t for n in (len(word) - 1, len(word), len(word) + 1) for t in self._latin_vocab.get(n, ()) if t[0] == first
        ]
        closest = process.extractOne(word, near, scorer=OSA.distance, score_cutoff=1) if len(word) >= 5 else None
        if closest:
            return str(closest[0])
        # Long pinyin loses or swaps a whole vowel group (aomolazuo for aomeilazuo, 奥美拉唑): two edits
        # are still specific in nine letters or more, if the first two letters agree, and only into a drug
        # name: everyday pinyin is two edits from a symptom word as often as not (xiongzhen, 胸针, is no
        # xiongmen).
        if len(word) >= _MIN_TWO_EDIT_LATIN:
            wider = [
                t
                for n in range(len(word) - 2, len(word) + 3)
                for t in self._latin_drugs.get(n, ())
                if t[:2] == word[:2]
            ]
            found = process.extractOne(word, wider, scorer=OSA.distance, score_cutoff=2)
            if found:
                return str(found[0])
        # Long initials are specific enough to survive one slip (dyxajjf for dyxajf, 对乙酰氨基酚).
        if len(word) >= 6:
            initials = [
                t for n in (len(word) - 1, len(word), len(word) + 1) for t in self._initials.get(n, ()) if t[0] == first
            ]
            found = process.extractOne(word, initials, scorer=OSA.distance, score_cutoff=1)
            return str(found[0]) if found else None
        return None

    def correct_latin_phrase(self, words: list[str]) -> str | None:
        """The multi-word drug or symptom term that adjacent Latin words mistype (``sore thraot`` → ``sore
        throat``): one edit or swap in the words run together, the first letter and the word count kept.
        A word the lexicon knows must stand as it is in the term: only the unknown one is the slip."""
        phrase = " ".join(words)
        if len(phrase) < _MIN_TYPO_PHRASE or phrase in self.terms or all(w in self.terms for w in words):
            return None
        # The slip is in a word of its own length that could be one (has fever is not hay fever).
        if any(w not in self.terms and (len(w) < _MIN_TYPO_LATIN or w in self.stopwords) for w in words):
            return None
        choices = [
            t
            for n in (len(phrase) - 1, len(phrase), len(phrase) + 1)
            for t in self._latin_phrases.get(n, ())
            if t[0] == phrase[0] and t.count(" ") == len(words) - 1
        ]
        found = process.extractOne(phrase, choices, scorer=OSA.distance, score_cutoff=1)
        if not found:
            return None
        term = str(found[0])
        if any(w in self.terms and w != t for w, t in zip(words, term.split(), strict=True)):
            return None
        return term

    def is_word(self, text: str) -> bool:
        """Whether jieba's dictionary knows ``text`` as a word (出冷汗 is a word, 布落芬 is not)."""
        return bool(self._tokenizer().FREQ.get(text, 0))

    def word_spans(self, text: str) -> list[tuple[int, int]]:
        """Where jieba's default mode (dictionary and HMM for unknown words) puts the words of ``text``."""
        return [(start, end) for _, start, end in self._tokenizer().tokenize(text)]

    def correct_zh(self, window: str, before: str = "", after: str = "") -> str | None:
        """A Chinese drug or symptom term one character away from ``window`` (``布落芬`` → ``布洛芬``).

        ``before`` and ``after`` are the (up to two) characters just outside the window in the query.
        """
        if len(window) < 2 or window in self.terms:
            return None
        candidates = {t for i in range(len(window)) for t in self._zh_wild.get(f"{window[:i]}?{window[i + 1 :]}", ())}
        if len(window) < _MIN_TYPO_ZH:
            # Two characters: only a same-sounding slip of the pinyin keyboard (头腾 → 头疼), not any character,
            # and not a particle that sounds like one (水都 is not 水痘, 都疼 not 肚疼).
            candidates = {
                t
                for t in candidates
                if len(t) == 2 and _sounds_alike(window, t) and not self._particle_typed(window, t)
            }
        else:
            # Everyday words one character apart are often another everyday phrase (吃完了 is not a slip
            # for 吃多了, 疼得厉害 not for 吐得厉害, 腿不舒服 not for 胃不舒服): a non-drug term must sound
            # alike (肚子腾 → 肚子疼). Drug names are distinctive enough that any one wrong character is a
            # slip (阿莫西琳).
            candidates = {t for t in candidates if self.terms[t][0].kind == DRUG or _sounds_alike(window, t)}
        # A slip of the pinyin keyboard sounds alike (对乙酰胺基酚); any other slip makes a non-word: when
        # the typed character forms a common word with its neighbour (冰箱贴 is not 冰宝贴, 喉咙发出 not
        # 喉咙发炎), or is a particle (心痛的 is not 心痛定), the window says something else. A typed
        # character that forms a word with the character just outside the window was never a slip, however
        # it sounds (孕期用药 is not 孕急用药, 安全座椅 not 安全套).
        candidates = {
            t
            for t in candidates
            if not self._outside_word(window, t, before, after)
            and (_sounds_alike(window, t) or not (self._forms_word(window, t) or self._particle_typed(window, t)))
        }
        if not candidates:
            return None
        return min(candidates, key=lambda t: (self.terms[t][0].kind != DRUG, t))

    def _forms_word(self, window: str, term: str) -> bool:
        freq = self._tokenizer().FREQ
        for i, (typed, meant) in enumerate(zip(window, term, strict=True)):
            if typed != meant:
                pairs = (window[max(0, i - 1) : i + 1], window[i : i + 2])
                return any(len(p) == 2 and freq.get(p, 0) >= _COMMON_WORD_FREQ for p in pairs)
        return False

    def _particle_typed(self, window: str, term: str) -> bool:
        return any(typed != meant and typed in self._particles for typed, meant in zip(window, term, strict=True))

    def _outside_word(self, window: str, term: str, before: str, after: str) -> bool:
        """Whether the typed first (last) character ends (starts) a common word with the one or two
        characters before (after) the window: 孕期, 哺乳期, 座椅."""
        freq = self._tokenizer().FREQ
        words = []
        if window[0] != term[0]:
            words += [before[-n:] + window[0] for n in (1, 2) if len(before) >= n]
        if window[-1] != term[-1]:
            words += [window[-1] + after[:n] for n in (1, 2) if len(after) >= n]
        return any(_ALL_HAN.fullmatch(w) and freq.get(w, 0) >= _COMMON_WORD_FREQ for w in words)

    def segment(self, text: str) -> list[str]:
        """jieba search-mode tokens (``布洛芬缓释胶囊`` → ``缓释 胶囊 布洛芬 布洛芬缓释胶囊``), blanks dropped.

        Search mode adds the two- and three-character words inside a long word; lexicon terms of four
        or more characters inside it are added too (``连花清瘟`` in ``连花清瘟胶囊``).
        """
        tokens = []
        for token in self._tokenizer().lcut_for_search(text):
            if not token.strip():
                continue
            if len(token) > 4 and _HAN.search(token):
                tokens += [m.term for m in self.find(token) if 4 <= len(m.term) < len(token) and _HAN.search(m.term)]
            tokens.append(token)
        return tokens

    def _tokenizer(self) -> Any:
        with self._lock:
            if self._jieba is None:
                with warnings.catch_warnings():
                    # jieba 0.42.1 has invalid escapes: a DeprecationWarning (3.11) or SyntaxWarning (3.12)
                    # whenever it is compiled, i.e. every import without cached bytecode. Upstream's, harmless.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    warnings.simplefilter("ignore", SyntaxWarning)
                    import jieba  # importing jieba costs ~0.3 s: only once something is segmented

                    jieba.setLogLevel(logging.WARNING)
                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                for term in self.terms:
                    if _HAN.search(term) and " " not in term:
                        tokenizer.add_word(term, freq=_JIEBA_FREQ)
                self._jieba = tokenizer
            return self._jieba


def _sounds_alike(a: str, b: str) -> bool:
    """Same toneless pinyin, character by character (头腾 ~ 头疼), allowing any reading of either and the
    fuzzy sounds pinyin keyboards offer (z/zh, c/ch, s/sh, n/l, an/ang, en/eng, in/ing: 拉肚纸 ~ 拉肚子)."""
    return all(_fuzzy_readings(x) & _fuzzy_readings(y) for x, y in zip(a, b, strict=True))


_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
_FUZZY_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))


@lru_cache(maxsize=8192)
def _fuzzy_readings(char: str) -> frozenset[str]:
    readings = set()
    for reading in pinyin(char, style=Style.NORMAL, heteronym=True)[0]:
        for long, short in _FUZZY_INITIALS:
            if reading.startswith(long):
                reading = short + reading[len(long) :]
                break
        for long, short in _FUZZY_FINALS:
            if reading.endswith(long):
                reading = reading[: -len(long)] + short
                break
        readings.add(reading)
    return frozenset(readings)


def _entry_order(item: tuple[tuple[str, str], str]) -> tuple[int, int, str]:
    (kind, value), how = item
    kinds = (DRUG, SYMPTOM, NON_MEDICAL, PERSON, BODY, URGENCY, CONSULT, MEDICAL)
    return kinds.index(kind), _HOW_RANK[how], value


def _spells(word: str, syllables: frozenset[str]) -> bool:
    """Whether ``word`` is a run of pinyin syllables (``lazhuzi`` is, ``liver`` is not)."""
    ends = {0}
    for end in range(1, len(word) + 1):
        if any(word[start:end] in syllables for start in ends if end - start <= 6):
            ends.add(end)
    return len(word) in ends


def _bounded(text: str, start: int, end: int) -> bool:
    """A term that begins or ends with a Latin letter or digit must not continue a Latin word."""
    before = text[start - 1 : start]
    after = text[end : end + 1]
    if text[start].isascii() and text[start].isalnum() and before.isascii() and before.isalnum():
        return False
    return not (text[end - 1].isascii() and text[end - 1].isalnum() and after.isascii() and after.isalnum())
