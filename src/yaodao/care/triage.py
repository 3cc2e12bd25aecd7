"""Consultation intake triage: the department, how urgent it is, and whether a red flag stops the online path.

:func:`triage` is pure and deterministic: the same :class:`Intake` and :class:`TriageParams` always give the
same :class:`Triage`. Its evidence comes from tables shipped with the code:

1. **Red flags** (DOMAIN.md §7 RF1, RELIABILITY I19). The shared gate (:mod:`yaodao.safety.redflags`) scans the
   whole intake and its flags always stand. ``data/intake_flags.tsv`` only *adds* flags: the many ways an intake
   narrative describes an emergency (asthma + ``话都说不完整``, ``孩子把我的降压药吃了好几片``), and flags that
   need the form: ``infant_fever`` (younger than 3 months by the form or the text, with a fever word or 38.0 °C
   or more), bleeding in pregnancy, a listed allergen followed by swelling. Any red flag makes the department
   and the urgency ``emergency``.
2. **Department evidence** (``data/departments.tsv``): weighted phrases in Chinese and English. A phrase counts
   once per department; a negated phrase (``没有发烧``, "no fever") not at all; a phrase about the past
   (``去年``, "last year", ``感冒好了``, "since covid") at :attr:`TriageParams.history_factor`; a condition a
   doctor named (``医生说是``) at :attr:`TriageParams.diagnosis_factor`; current medicines at
   :attr:`TriageParams.meds_factor`. For a child, every phrase not tagged ``keep`` counts for paediatrics, and
   in pregnancy for obstetrics_gynaecology, at :attr:`TriageParams.transfer_factor`; that department also gets
   :attr:`TriageParams.population_bonus`. Phrases tagged ``f``/``m`` count for that sex only; paediatrics
   phrases do not count for a patient known to be :attr:`TriageParams.paediatric_max_age` or older.
   Ties go to the population department, then to the strongest single phrase, then to the evidence that came
   first, then to the order of ``DEPARTMENTS``. Without evidence: paediatrics for a child,
   obstetrics_gynaecology in pregnancy, internal_medicine otherwise.
3. **Urgency**: ``emergency`` with a red flag; ``urgent`` with a same-day sign (rows with guidance ``urgent``:
   worsening, blood in stool or urine, 39 °C or more, a fever under 6 months, bleeding in pregnancy);
   ``routine`` otherwise.

Online care is for follow-ups only (DOMAIN.md D1): ``follow_up_eligible`` needs a prior in-person diagnosis and
no red flag, and the doctor still confirms it. A child under 6 needs a guardian for an online prescription (D5).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

from yaodao.care.departments import CODES, EMERGENCY, INTERNAL_MEDICINE, OBSTETRICS_GYNAECOLOGY, PAEDIATRICS, department
from yaodao.kernel.errors import ValidationFailed
from yaodao.safety.redflags import CALL_120, CRISIS_LINE, scan_normalized
from yaodao.search.normalize import normalize

URGENCIES = ("emergency", "urgent", "routine")
SEXES = ("f", "m", "u")
PERSONS = ("self", "child", "parent", "spouse", "family", "other")
MAX_TEXT_CHARS = 4000
URGENT = "urgent"
_GUIDANCE = (CALL_120, CRISIS_LINE, URGENT)
# Groups the triage fills from the form and from what it parses (see data/intake_flags.tsv).
_CONTEXT = ("@infant", "@under6m", "@child", "@pregnancy", "@fever", "@high_fever", "@allergen", "@many")

_HAN = "\u3400-\u9fff"
_HAS_HAN = re.compile(f"[{_HAN}]")
_HAN_GAP = re.compile(f"(?<=[{_HAN}]) (?=[{_HAN}])")
_CLAUSE = re.compile(r"[。！？!?；;，,\n\r]+|(?<!\d)\.|\.(?!\d)")
_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_NEAR = 3  # characters or words between the two parts of a "near" rule, unless the row says otherwise
# A phrase followed by these is over or in the past (感冒好了, 感冒后咳嗽); 后背, 后脑 and 后来 are not "after".
_ZH_AFTER = re.compile(r"^(?:已经|都|基本|差不多|也)?(?:好了|好多了|退了|没了|痊愈|之后|以后|后(?![背脑腰面来天]))")
_EN_AFTER = frozenset("since after post".split())
_EN_AFTER_FILLERS = frozenset("having had the my a an getting got catching caught i".split())
_ZH_CUES = ("否认", "没有", "不是", "并无", "没", "无", "不", "未")
_ZH_FILLER_WORDS = (
    "有 出现 感到 感觉 觉得 明显 任何 什么 过 再 还 也 都 太 很 的 怎么 啥 咋 和 或 或者 及 跟 一点 特别 发"
)
_ZH_FILLERS = tuple(sorted(_ZH_FILLER_WORDS.split(), key=len, reverse=True))
_ZH_LIST = frozenset("和 或 或者 及 跟 也".split())  # a negation carries over these: 没有发烧和咳嗽
_EN_LIST = frozenset("or and nor plus".split())
_EN_CUES = frozenset(
    "no not without never dont doesnt didnt isnt arent wasnt werent havent hasnt hadnt denies deny denied nor "
    "neither none".split()
)
_EN_FILLERS = frozenset(
    "have has had having any a an the feel feeling felt get getting got signs sign of symptoms symptom real really "
    "much more been is am are was were do did does i he she it we they im its my his her their significant obvious "
    "major other too very so experiencing noticed see seen seem seems also or and plus".split()
)

_CN_DIGITS = dict(zip("一二两三四五六七八九几半", (1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 3, 0.5), strict=True))
_EN_NUMBERS = {w: n for n, w in enumerate("one two three four five six seven eight nine ten eleven twelve".split(), 1)}
_NUM = r"(\d+(?:\.\d+)?|[一二两三四五六七八九十几半]+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_MONTHS_PER = {"天": 1 / 30.4, "日": 1 / 30.4, "周": 1 / 4.35, "星期": 1 / 4.35, "月": 1.0}
_MONTHS_PER |= {"day": _MONTHS_PER["天"], "week": _MONTHS_PER["周"], "month": 1.0}
_AGE_PATTERNS = (  # each gives (number, unit): a baby's age in days, weeks or months
    re.compile(rf"出生(?:后)?{_NUM}(?:个)?(天|日|周|星期|月)"),
    re.compile(rf"{_NUM}(?:个)?半?(天|周|星期|月)(?:大|龄|的宝宝|宝宝|的婴儿|婴儿|的孩子|的宝贝|宝贝|的娃)"),
    re.compile(rf"(?:宝宝|婴儿|宝贝|新生儿|孩子|儿子|女儿|娃)(?:才|刚|刚满|满)?{_NUM}(?:个)?半?(周|星期|月)"),
    re.compile(rf"(?:宝宝|婴儿|宝贝|孩子)(?:才|刚|刚满){_NUM}(天)"),
    re.compile(rf"\b{_NUM}[ -]?(day|week|month)s?[ -]?old\b"),
)
_YEARS = (re.compile(rf"{_NUM}(?:周)?岁"), re.compile(r"\b(\d{1,2}) ?(?:(?:year|yr)s? ?old|yo|y o)\b"))
_NEWBORN = re.compile(r"新生儿|刚出生|未满月|没满月|满月|newborn|neonate|new born")
# "took 30 paracetamol", 吃了几十片: ten or more dose units is an overdose whatever the medicine is called.
_DOSES = re.compile(
    r"(?:took|taken|swallowed|ate|吃了|吞了|服了|喝了)\s?(?:about |around |like |over |大概|差不多|有)?"
    r"(\d{2,3}|几十|十几|二十|三十|四十|五十)(?!\s?(?:岁|天|年|度|分钟|minutes|mins|days|years))"
)
_TEMPERATURE = re.compile(r"(?<![\d.])(\d{2,3})(?:\.(\d+))?\s?(摄氏度|度|degrees?|c|f)?(?![a-z])(\d(?!\d))?")
_TEMP_WORDS = re.compile(r"(体温|烧到|烧|发热|温度|腋温|耳温|肛温|量了|temperature|temp|fever|temperature of)\s*$")


@dataclass(frozen=True, slots=True)
class Intake:
    """What a patient, or a parent or family member for them, writes on the consultation form."""

    text: str
    age_years: float | None = None  # the patient's age; a baby's as a fraction (6 weeks ≈ 0.115)
    sex: str = "u"  # f, m or u (not given)
    pregnant: bool = False
    allergies: tuple[str, ...] = ()
    current_meds: tuple[str, ...] = ()
    diagnosed_before: bool = False  # the condition was diagnosed in person before (DOMAIN.md D1)
    for_person: str = "self"

    def __post_init__(self) -> None:
        errors: list[tuple[str, str]] = []
        if not isinstance(self.text, str) or not self.text.strip():
            errors.append(("text", "describe the problem in a few words"))
        elif len(self.text) > MAX_TEXT_CHARS:
            errors.append(("text", f"must be at most {MAX_TEXT_CHARS} characters"))
        age = self.age_years
        if age is not None and (
            isinstance(age, bool) or not isinstance(age, int | float) or math.isnan(age) or not 0 <= age <= 130
        ):
            errors.append(("age_years", "must be a number of years from 0 to 130"))
        if self.sex not in SEXES:
            errors.append(("sex", f"must be one of {', '.join(SEXES)}"))
        if self.pregnant and self.sex == "m":
            errors.append(("pregnant", "cannot be true for a patient recorded as male"))
        if self.for_person not in PERSONS:
            errors.append(("for_person", f"must be one of {', '.join(PERSONS)}"))
        for name in ("allergies", "current_meds"):
            if not all(isinstance(item, str) for item in getattr(self, name)):
                errors.append((name, "must be a list of names"))
        if errors:
            raise ValidationFailed("the intake form is incomplete or inconsistent", errors=errors)


@dataclass(frozen=True, slots=True)
class TriageParams:
    paediatric_max_age: float = 14.0  # children younger than this see paediatrics for most complaints
    infant_fever_max_age: float = 0.25  # a fever younger than this (3 months) is a red flag
    fever_celsius: float = 38.0
    high_fever_celsius: float = 39.0
    guardian_max_age: float = 6.0  # DOMAIN.md D5: an online prescription below this age needs a guardian
    population_bonus: float = 1.0
    transfer_factor: float = 0.6  # a child's or a pregnancy's general complaint, as evidence for that department
    history_factor: float = 0.5
    meds_factor: float = 0.5
    diagnosis_factor: float = 1.5

    def __post_init__(self) -> None:
        if not 0 < self.infant_fever_max_age < self.paediatric_max_age <= 18:
            raise ValueError("paediatric_max_age must be at most 18 and above infant_fever_max_age, which is positive.")
        if not 36.0 <= self.fever_celsius < self.high_fever_celsius <= 42.0:
            raise ValueError("fever_celsius must be at least 36.0 and below high_fever_celsius (at most 42.0).")
        if not 0 <= self.guardian_max_age <= 18:
            raise ValueError("guardian_max_age must be between 0 and 18.")
        if self.population_bonus < 0:
            raise ValueError("population_bonus must not be negative.")
        for name in ("transfer_factor", "history_factor", "meds_factor"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1.")
        if not 1 <= self.diagnosis_factor <= 5:
            raise ValueError("diagnosis_factor must be between 1 and 5.")


@dataclass(frozen=True, slots=True)
class Triage:
    department: str  # a code of yaodao.care.departments; "emergency" exactly when red_flags is not empty
    urgency: str  # emergency | urgent | routine
    red_flags: tuple[str, ...]  # codes: the shared gate's first, then the intake additions; never fewer than the gate's
    red_flag_evidence: tuple[str, ...]  # the words behind each flag, as typed (a+b for a combination)
    guidance: str | None  # call_120 (also when the crisis line applies too) or crisis_line; None without a flag
    confidence: float  # 0..1: how clearly the evidence picks the department (1.0 for a red flag)
    evidence: tuple[str, ...]  # the phrases behind the department, strongest first
    follow_up_eligible: bool  # DOMAIN.md D1: a diagnosed condition and no red flag (the doctor confirms)
    guardian_required: bool  # DOMAIN.md D5
    advice_zh: str
    advice_en: str


@dataclass(frozen=True, slots=True)
class _Entry:
    label: str  # a department code or "@group"
    weight: float
    keep: bool
    sex: str | None


@dataclass(frozen=True, slots=True)
class _Rule:
    code: str  # a red-flag code, an urgent sign, or "@group" for a rule that defines a group
    guidance: str
    groups: tuple[str, ...]
    near: int | None  # the most characters or words between the two parts, or None: anywhere


@dataclass(frozen=True, slots=True)
class _Lexicon:
    entries: dict[str, tuple[_Entry, ...]]  # phrase -> what it is evidence of
    zh: dict[str, tuple[str, ...]]  # first character -> phrases
    latin: dict[str, tuple[tuple[str, ...], ...]]  # first stemmed word -> stemmed word sequences
    glued: dict[str, str]  # words run together (xueyagao, heartburn) -> phrase
    fuzzy: dict[int, tuple[str, ...]]  # what typos of seven letters or more are corrected to, by length
    known: frozenset[str]  # words that are never corrected
    rules: tuple[_Rule, ...]
    allergy_classes: tuple[frozenset[str], ...]


@dataclass(frozen=True, slots=True)
class _Hit:
    phrase: str
    typed: str
    order: tuple[int, int, int]  # (clause, script: 0 Chinese / 1 Latin, start)
    end: int
    negated: bool
    history: bool = False  # about the past: 去年, "last year", 感冒好了, "since covid"
    meds: bool = False
    diagnosed: bool = False  # in a clause naming a diagnosis: 医生说是, "diagnosed with"


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _rows(name: str) -> Iterator[tuple[str, list[str]]]:
    text = resources.files("yaodao.care").joinpath("data", name).read_text(encoding="utf-8")
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            cols = [c.strip() for c in line.split("\t")]
            if len(cols) != 4:
                raise ValueError(f"{name} line {n}: expected 4 tab-separated columns, got {len(cols)}")
            yield f"{name} line {n}", cols


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    entries: dict[str, list[_Entry]] = {}
    glued: dict[str, str] = {}
    rules: list[_Rule] = []
    groups = set(_CONTEXT)
    allergy: list[frozenset[str]] = []
    plain: set[str] = set()

    def add(phrases: str, entry: _Entry) -> None:
        for raw in (p.strip() for p in phrases.split("|") if p.strip()):
            # Latin phrases are keyed by their stems, so "nosebleed" and "nosebleeds" are one phrase.
            phrase = raw if _HAS_HAN.search(raw) else " ".join(_stem(w) for w in raw.split())
            entries.setdefault(phrase, []).append(entry)
            if not _HAS_HAN.search(raw):
                glued.setdefault(raw.replace(" ", ""), phrase)

    for where, (code, weight, tags, phrases) in _rows("departments.tsv"):
        tagset = set() if tags == "-" else set(tags.split(","))
        if code not in CODES or code == EMERGENCY or not tagset <= {"keep", "f", "m"} or float(weight) <= 0:
            raise ValueError(f"{where}: bad department {code!r}, weight {weight!r} or tags {tags!r}")
        add(phrases, _Entry(code, float(weight), "keep" in tagset, next((s for s in "fm" if s in tagset), None)))
    for where, (kind, name, guidance, phrases) in _rows("intake_flags.tsv"):
        if kind in ("group", "except"):
            groups.add(name if kind == "group" else "@except")
            add(phrases, _Entry(name if kind == "group" else "@except", 1.0, False, None))
        elif kind == "words":
            plain.update(_stem(p) for p in phrases.split("|") if p)
        elif kind == "allergy":
            allergy.append(frozenset(p for p in phrases.split("|") if p))
        elif kind in ("flag", "combo", "near") and (guidance in _GUIDANCE or (guidance == "-" and name[0] == "@")):
            gap = None
            if kind == "flag":
                parts: tuple[str, ...] = (f"@flag:{where}",)
                groups.add(parts[0])
                add(phrases, _Entry(parts[0], 1.0, False, None))
            else:
                spec, _, limit = phrases.partition("~")
                parts = tuple(p.strip() for p in spec.split("+"))
                gap = int(limit) if limit else _NEAR if kind == "near" else None
            if unknown := [p for p in parts if p not in groups]:
                raise ValueError(f"{where}: group {unknown[0]} is used before it is defined")
            if name.startswith("@"):
                groups.add(name)
            rules.append(_Rule(name, guidance, parts, gap))
        else:
            raise ValueError(f"{where}: unknown row kind {kind!r} or guidance {guidance!r}")

    zh: dict[str, list[str]] = {}
    latin: dict[str, list[tuple[str, ...]]] = {}
    for phrase in entries:
        if _HAS_HAN.search(phrase):
            zh.setdefault(phrase[0], []).append(phrase)
        else:
            latin.setdefault(phrase.split()[0], []).append(tuple(phrase.split()))
    words = {w for seqs in latin.values() for seq in seqs for w in seq}
    targets = {w for w in words if len(w) >= 6 and w.isalpha()}
    return _Lexicon(
        entries={p: tuple(e) for p, e in entries.items()},
        zh={k: tuple(v) for k, v in zh.items()},
        latin={k: tuple(v) for k, v in latin.items()},
        glued=glued,
        fuzzy={n: tuple(sorted(w for w in targets if len(w) == n)) for n in {len(w) for w in targets}},
        known=frozenset(words | plain | _EN_CUES | _EN_FILLERS),
        rules=tuple(rules),
        allergy_classes=tuple(allergy),
    )


def _one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by one insertion, deletion, substitution or swap of neighbours."""
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        swapped = (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and (a[diffs[0]], a[diffs[1]]) == (b[diffs[1]], b[diffs[0]])
        )
        return len(diffs) == 1 or swapped
    short, long_ = sorted((a, b), key=len)
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return len(long_) - len(short) == 1 and short[i:] == long_[i + 1 :]


def _correct(word: str, lex: _Lexicon) -> str:
    if len(word) < 7 or word in lex.known or not word.isalpha():
        return word
    candidates = (w for n in (len(word) - 1, len(word), len(word) + 1) for w in lex.fuzzy.get(n, ()))
    return next((w for w in candidates if _one_edit(word, w)), word)


def _negated_zh(text: str, start: int, negated_ends: dict[int, bool]) -> bool:
    before, listed = text[:start], True
    for _ in range(6):
        before = before.rstrip()
        if listed and negated_ends.get(len(before)):
            return True  # 没有发烧和咳嗽: the negation carries over a list (not over 不是很严重的头疼)
        cue = next((c for c in _ZH_CUES if before.endswith(c)), None)
        if cue is not None:
            rest = before[: -len(cue)]
            # 有没有发烧 / 是不是心梗 / 痛不痛 ask; they do not deny.
            asks = rest.endswith("有") if cue in ("没有", "没") else rest.endswith("是") if cue == "不是" else False
            return not (asks or (cue == "不" and rest[-1:] == text[start : start + 1]))
        filler = next((f for f in _ZH_FILLERS if before.endswith(f)), None)
        if filler is None:
            return False
        before, listed = before[: -len(filler)], listed and filler in _ZH_LIST
    return False


def _negated_en(tokens: list[str], start: int, negated_ends: dict[int, bool]) -> bool:
    j, listed = start, True
    for _ in range(6):
        if listed and negated_ends.get(j):
            return True
        if j == 0 or tokens[j - 1] not in _EN_FILLERS:
            return j > 0 and tokens[j - 1] in _EN_CUES
        j, listed = j - 1, listed and tokens[j - 1] in _EN_LIST
    return False


def _scan(clause: str, index: int, lex: _Lexicon, *, meds: bool = False) -> list[_Hit]:
    """Every phrase of the lexicon in one normalised clause, with its negation and whether it is past."""
    compact = _HAN_GAP.sub("", clause)
    found: set[tuple[int, int, int, str, str]] = set()  # (script, start, -end, phrase, typed)
    for i, char in enumerate(compact):
        found.update((0, i, -i - len(p), p, p) for p in lex.zh.get(char, ()) if compact.startswith(p, i))
    tokens = _TOKEN.findall(clause)
    stems = [_correct(_stem(t), lex) for t in tokens]
    for i in range(len(tokens)):
        for seq in lex.latin.get(stems[i], ()):
            if tuple(stems[i : i + len(seq)]) == seq:
                found.add((1, i, -i - len(seq), " ".join(seq), " ".join(tokens[i : i + len(seq)])))
        for n in (1, 2, 3):
            glued = lex.glued.get("".join(tokens[i : i + n]))
            if glued is not None and i + n <= len(tokens) and (n > 1 or " " in glued):
                found.add((1, i, -i - n, glued, " ".join(tokens[i : i + n])))
    hits: list[_Hit] = []
    negated_ends: tuple[dict[int, bool], dict[int, bool]] = ({}, {})
    for script, start, minus_end, phrase, typed in sorted(found):
        ends = negated_ends[script]
        if script == 0:
            negated = _negated_zh(compact, start, ends)
            past = bool(_ZH_AFTER.match(compact[-minus_end:]))
        else:
            negated = _negated_en(tokens, start, ends)
            j = start - 1
            while j >= 0 and tokens[j] in _EN_AFTER_FILLERS:
                j -= 1
            past = j >= 0 and tokens[j] in _EN_AFTER
        ends[-minus_end] = ends.get(-minus_end, False) or negated
        hits.append(_Hit(phrase, typed, (index, script, start), -minus_end, negated, past, meds))
    return hits


def _inside(hit: _Hit, other: _Hit) -> bool:
    """True when ``hit`` lies within ``other`` in the same clause and script, and is shorter."""
    within = hit.order[:2] == other.order[:2] and other.order[2] <= hit.order[2] and hit.end <= other.end
    return within and (hit.order[2], hit.end) != (other.order[2], other.end)


def _clauses(text: str) -> list[str]:
    out = []
    for piece in _CLAUSE.split(text[:MAX_TEXT_CHARS]):
        # The normaliser caps its output: a long clause is read in overlapping slices so nothing is cut off.
        out += [n for k in range(0, max(len(piece) - 20, 1), 100) if (n := normalize(piece[k : k + 120]))]
    return out


def _number(token: str) -> float | None:
    if token[0].isdigit():
        return float(token)
    if token in _EN_NUMBERS:
        return float(_EN_NUMBERS[token])
    if "十" in token:
        tens, _, units = token.partition("十")
        return 10.0 * _CN_DIGITS.get(tens, 1) + _CN_DIGITS.get(units, 0)
    return float(_CN_DIGITS[token]) if token in _CN_DIGITS else None


def _stated_ages(text: str) -> list[float]:
    """Ages the text states, in years: 出生45天, 2个月宝宝, 3岁, "my 6 week old", 新生儿."""
    ages = [0.02] if _NEWBORN.search(text) else []
    for pattern in _AGE_PATTERNS:
        for found in pattern.finditer(text):
            if (number := _number(found.group(1))) is not None:
                ages.append(number * _MONTHS_PER[found.group(2)] / 12)
    for pattern in _YEARS:
        ages += [n for found in pattern.finditer(text) if (n := _number(found.group(1))) is not None]
    return ages


def _temperatures(clauses: list[str]) -> list[float]:
    """Body temperatures in °C: 38.5, 38度5, 101 f, or a number after 体温 / "temperature"."""
    out = []
    for clause in clauses:
        for found in _TEMPERATURE.finditer(clause):
            whole, fraction, unit, tail = found.groups()
            decimals = fraction or (tail if unit == "度" else None)
            value = float(f"{whole}.{decimals}") if decimals else float(whole)
            if not (unit or _TEMP_WORDS.search(clause[: found.start()]) or (fraction and 35 <= value < 43)):
                continue
            if unit == "f" or value >= 90:
                value = (value - 32) * 5 / 9
            if 34.0 <= value <= 43.0:
                out.append(value)
    return out


def _context(intake: Intake, clauses: list[str], present: dict[str, list[_Hit]], p: TriageParams) -> dict[str, str]:
    """The groups the form and the parsed text add (``@infant``, ``@fever`` ...), with what raised each."""
    whole = " ".join(_HAN_GAP.sub("", c) for c in clauses)
    stated = _stated_ages(whole)
    ages = ([intake.age_years] if intake.age_years is not None else []) + stated
    hottest = max(_temperatures(clauses), default=0.0)
    allergies = {normalize(a) for a in intake.allergies} - {""}
    classes = [c for c in _lexicon().allergy_classes if any(n in a or a in n for a in allergies for n in c)]
    allergens = {n for n in allergies.union(*classes) if len(n) >= 2}
    doses = (d.group() for d in _DOSES.finditer(whole) if not d.group(1).isdigit() or int(d.group(1)) >= 10)
    context = {
        # When in doubt, flag: the youngest age the form or the text gives counts.
        "@infant": "age under 3 months" if any(a < p.infant_fever_max_age for a in ages) else "",
        "@under6m": "age under 6 months" if any(a < 0.5 for a in ages) else "",
        "@pregnancy": "pregnant" if intake.pregnant else "",
        "@fever": f"{hottest:.1f} °C" if hottest >= p.fever_celsius else "",
        "@high_fever": f"{hottest:.1f} °C" if hottest >= p.high_fever_celsius else "",
        "@allergen": next((a for a in sorted(allergens) if a in whole), ""),
        "@many": next(doses, ""),
    }
    if intake.sex != "m" and present.get("@pregnant_text"):
        context["@pregnancy"] = context["@pregnancy"] or present["@pregnant_text"][0].typed
    age = intake.age_years
    if stated and (age is None or (age >= 18 and present.get("@child_word") and min(stated) < 14)):
        age = min(stated)  # no age on the form, or the parent's: the text says how old the patient is
    is_child = age < p.paediatric_max_age if age is not None else bool(present.get("@child_word"))
    context["@child"] = "child" if is_child else ""
    context["@adult"] = "adult" if age is not None and not is_child else ""
    return {k: v for k, v in context.items() if v}


def _fire(rule: _Rule, present: dict[str, list[_Hit]]) -> list[_Hit] | None:
    if not all(present.get(g) for g in rule.groups):
        return None
    if rule.near is None:
        return [present[g][0] for g in rule.groups]
    for a in present[rule.groups[0]]:
        for b in present[rule.groups[1]]:
            if a.order[:2] == b.order[:2] and -1 <= max(a.order[2], b.order[2]) - min(a.end, b.end) <= rule.near:
                return [a, b]
    return None


_Score = tuple[float, float, tuple[int, int, int], list[str]]  # total, strongest phrase, first place, phrases


def _scores(hits: list[_Hit], intake: Intake, context: dict[str, str], p: TriageParams) -> dict[str, _Score]:
    lex = _lexicon()
    coded = [h for h in hits if not h.negated and any(e.label in CODES for e in lex.entries[h.phrase])]
    coded = [h for h in coded if not any(_inside(h, o) for o in coded)]  # 偏头痛 is not also 头痛
    population = OBSTETRICS_GYNAECOLOGY if "@pregnancy" in context else PAEDIATRICS if "@child" in context else None
    best: dict[tuple[str, str], tuple[float, _Hit]] = {}
    for hit in coded:
        for entry in lex.entries[hit.phrase]:
            if entry.label not in CODES or (entry.sex and intake.sex in ("f", "m") and entry.sex != intake.sex):
                continue
            if entry.label == PAEDIATRICS and "@adult" in context:
                continue
            target = entry.label if entry.keep or population is None else population
            weight = entry.weight * (p.transfer_factor if target != entry.label else 1.0)
            weight *= (p.history_factor if hit.history else 1.0) * (p.meds_factor if hit.meds else 1.0)
            weight *= p.diagnosis_factor if hit.diagnosed else 1.0
            if weight > best.get((target, hit.phrase), (0.0, hit))[0]:
                best[(target, hit.phrase)] = (weight, hit)
    scores: dict[str, _Score] = {}
    for (code, _), (weight, hit) in sorted(best.items(), key=lambda item: -item[1][0]):
        total, strongest, first, phrases = scores.get(code, (0.0, 0.0, hit.order, []))
        scores[code] = (total + weight, max(strongest, weight), min(first, hit.order), [*phrases, hit.typed])
    if population is not None:
        total, strongest, first, phrases = scores.get(population, (0.0, 0.0, (10**6, 0, 0), []))
        scores[population] = (total + p.population_bonus, strongest, first, phrases)
    return scores


def triage(intake: Intake, params: TriageParams | None = None) -> Triage:
    """Triage one intake: red flags first (none is ever removed), then the department and the urgency."""
    p = params or TriageParams()
    lex = _lexicon()
    clauses = _clauses(intake.text)
    hits = [h for i, clause in enumerate(clauses) for h in _scan(clause, i, lex)]
    labels = {h.phrase: {e.label for e in lex.entries[h.phrase]} for h in hits}
    past = {h.order[0] for h in hits if not h.negated and "@history" in labels[h.phrase]}
    named = {h.order[0] for h in hits if not h.negated and "@diagnosis" in labels[h.phrase]}
    hits = [replace(h, history=h.history or h.order[0] in past, diagnosed=h.order[0] in named) for h in hits]
    meds = [h for i, med in enumerate(intake.current_meds) for h in _scan(normalize(med), -1 - i, lex, meds=True)]
    excepted = [h for h in hits if "@except" in labels[h.phrase]]
    present: dict[str, list[_Hit]] = {}
    for hit in hits:
        if not hit.negated and not any(_inside(hit, x) for x in excepted):
            for group in (g for g in labels[hit.phrase] if g.startswith("@")):
                present.setdefault(group, []).append(hit)
    context = _context(intake, clauses, present, p)
    for group, why in context.items():
        present.setdefault(group, []).insert(0, _Hit(group, why, (-1, 0, 0), 0, False))

    flags = {f.code: (f.guidance, f.phrase) for f in scan_normalized(" ".join(clauses))}
    urgent: list[str] = []
    for rule in lex.rules:
        if (chosen := _fire(rule, present)) is None:
            continue
        evidence = "+".join(h.typed for h in chosen)
        if rule.code.startswith("@"):  # a group defined by a combination (喉咙 + 发紧), for the rules after it
            first, last = min(chosen, key=lambda h: h.order), max(chosen, key=lambda h: h.end)
            present.setdefault(rule.code, []).append(_Hit(rule.code, evidence, first.order, last.end, False))
        elif rule.guidance == URGENT:
            urgent.append(evidence)
        elif rule.code not in flags:
            flags[rule.code] = (rule.guidance, evidence)

    guardian = intake.age_years is not None and intake.age_years < p.guardian_max_age
    if flags:
        guidance = {g for g, _ in flags.values()}
        zh, en = _advice(EMERGENCY, "emergency", guidance, eligible=False, guardian=guardian)
        return Triage(EMERGENCY, "emergency", tuple(flags), tuple(e for _, e in flags.values()),
                      CALL_120 if CALL_120 in guidance else CRISIS_LINE, 1.0, (), False, guardian, zh, en)  # fmt: skip

    scores = _scores(hits + meds, intake, context, p)
    population = OBSTETRICS_GYNAECOLOGY if "@pregnancy" in context else PAEDIATRICS if "@child" in context else None
    ranked = sorted(scores, key=lambda c: (-scores[c][0], c != population, -scores[c][1], scores[c][2], CODES.index(c)))
    code = ranked[0] if ranked and scores[ranked[0]][0] > 0 else population or INTERNAL_MEDICINE
    total, _, _, phrases = scores.get(code, (0.0, 0.0, (0, 0, 0), []))
    runner_up = scores[ranked[1]][0] if len(ranked) > 1 else 0.0
    confidence = round(min(1.0, total / 5.0) * total / (total + runner_up), 2) if total > 0 else 0.0
    urgency = URGENT if urgent else "routine"
    zh, en = _advice(code, urgency, set(), eligible=intake.diagnosed_before, guardian=guardian)
    return Triage(code, urgency, (), (), None, confidence, tuple(phrases), intake.diagnosed_before, guardian, zh, en)


def _advice(code: str, urgency: str, guidance: set[str], *, eligible: bool, guardian: bool) -> tuple[str, str]:
    d = department(code)
    if guidance:
        zh, en = [], []
        if CALL_120 in guidance:
            zh.append("这可能是急症：请立即拨打120，或尽快到最近的医院急诊科。不要等待在线问诊，也不要自行用药。")
            en.append("This may be an emergency: call 120 now or go to the nearest emergency department. "
                      "Do not wait for an online consultation or take medicine on your own.")  # fmt: skip
        if CRISIS_LINE in guidance:
            zh.append("你的安全最重要：请马上拨打120或当地心理危机干预热线，并请身边的人陪着你。你不是一个人。")
            en.append("Your safety matters most: call 120 or your local crisis line now, and ask someone to stay "
                      "with you. You are not alone.")  # fmt: skip
        return " ".join(zh), " ".join(en)
    if urgency == URGENT:
        zh_text = f"建议今天就到医院{d.name_zh}面诊；如果症状加重，请拨打120。"
        en_text = f"Please see a doctor in {d.name_en} in person today; if it gets worse, call 120."
    elif eligible:
        zh_text = f"可以在线复诊（{d.name_zh}）。请准备好之前的诊断记录：门诊病历、出院小结或诊断证明。"
        en_text = (f"You can book an online follow-up with {d.name_en}. Have your earlier diagnosis ready: "
                   "an outpatient record, a discharge summary or a diagnosis certificate.")  # fmt: skip
    else:
        zh_text = f"在线问诊只用于已确诊疾病的复诊。请先到医院{d.name_zh}面诊；确诊后可以在线复诊。"
        en_text = ("Online consultations are for follow-ups of a condition already diagnosed in person. "
                   f"Please see {d.name_en} in person first; follow-ups can then be online.")  # fmt: skip
    if guardian:
        zh_text += "6岁以下儿童在线开药需要监护人和陪诊医生。"
        en_text += " An online prescription for a child under 6 needs a guardian and an accompanying physician."
    return zh_text, en_text
