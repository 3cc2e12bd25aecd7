"""The red-flag rule gate (DOMAIN.md §7, RF1): route to emergency care, not to a shop or a consult.

One deterministic gate for search queries now and the consultation intake and chat later. A model
may add hits to what :func:`detect_red_flags` returns; nothing may remove them.

Codes, the RF1 row each implements, and the guidance shown:

==========================  =============================================  ===========
code                        DOMAIN.md §7 RF1 row                           guidance
==========================  =============================================  ===========
``chest_pain``              Chest pain / heart attack                      call_120
``breathing``               Breathing difficulty                           call_120
``unconscious``             Unconscious / hard to rouse                    call_120
``confusion``               Acute confusion                                call_120
``seizure``                 Fits not stopping (> 5 min)                    call_120
``stroke``                  Suspected stroke (FAST)                        call_120
``bleeding``                Severe bleeding                                call_120
``anaphylaxis``             Severe allergic reaction                       call_120
``burn``                    Severe burns/scalds                            call_120
``head_injury_trauma``      Head injury, major trauma, spinal              call_120
``sick_child``              Seriously ill child                            call_120
``abdominal_pain_severe``   Severe abdominal pain                          call_120
``suicide``                 Suicidal ideation                              crisis_line
``overdose``                (decision: NHS "call 999" lists)               call_120
``poisoning``               (decision: NHS "call 999" lists)               call_120
==========================  =============================================  ===========

The phrases live in ``data/red_flags.tsv`` (its header explains the format). Matching runs on
:func:`yaodao.search.normalize.normalize` output and covers:

* Chinese phrases as substrings (spaces between Chinese characters are ignored: ``胸口 疼``), their
  toneless pinyin with and without spaces (``xiongtong``, ``xiong tong``), and one same-sounding
  wrong character in phrases of three or more characters (``呼吸困男``), never where the text typed
  is itself a phrase (``吐了`` is vomiting, not a slip for ``跌了``);
* English phrases word by word, after fixing listed typos (``pian`` → ``pain``) and words within
  one edit of a distinctive flag word (``siezure`` → ``seizure``);
* combinations: one phrase from each group anywhere in the text (``胸闷`` + ``出冷汗``);
* "took 20 pills" style counts of ten or more dose units (overdose), in digits or Chinese numerals (三十多片);
* a fit going on for minutes (抽了十分钟还没停, "fitting for 10 minutes": seizure), a whole pack finished at
  once (孩子把一瓶退烧药喝光了: with a medicine word, overdose) and the ribs sinking in with words between
  (肋骨一吸一吸凹进去: with a breath word or a child, breathing difficulty or a seriously ill child);
* English spellings of the same words: can not / cannot / cant, breath for breathe.

A phrase directly followed by a picture, game or print word (车祸现场 表情包, 德国心脏病 桌游, "heart attack
lyrics") names that thing, and does not count.

Chest pain alone is a flag (DOMAIN: "胸痛" counts). A negation directly before a phrase cancels
that phrase: 没有/没/无/不/未/否认/不是 or no/not/without/never/dont…, with only filler words in
between (``没有明显胸痛``, ``i dont have any chest pain``). ``胸痛 没有发烧`` still flags, and so
does ``没有发烧胸痛`` (the negation may belong to 发烧 only: when in doubt, flag); a negation does cover a list of
phrases of the same flag (``没有胸闷胸痛``, ``没有胸闷或胸痛``, "no chest tightness or chest pain"). Question forms
(``有没有胸痛``, ``是不是心梗``) are not negations. Spans listed as exceptions (``眼皮抽搐``,
``食物中毒``, ``跳楼价``, ``heat stroke``) never count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pypinyin import Style, lazy_pinyin, pinyin
from rapidfuzz import process
from rapidfuzz.distance import OSA

from yaodao.search.normalize import normalize

CALL_120 = "call_120"
CRISIS_LINE = "crisis_line"
GUIDANCE = frozenset({CALL_120, CRISIS_LINE})

_HAN = "\u3400-\u9fff"
_ALL_HAN = re.compile(f"[{_HAN}]+")
_HAN_GAP = re.compile(f"(?<=[{_HAN}]) (?=[{_HAN}])")
_WORD = re.compile(r"[a-z0-9]+")
_ZH_DOSES = re.compile(
    r"(?:吃|吞|服|喝)了?(?:大概|差不多|有|将近|快|足足|一共|总共)?(\d{2,4}|[二三四五六七八九]?十[一二三四五六七八九]?|几十)多?(?:片|粒|颗|袋|支)"
)
# A drug name may sit between the count and the unit: "took 25 paracetamol tablets".
_EN_DOSES = re.compile(
    r"\b(?:took|taken|ate|swallowed)\s+(?:like|about|around|maybe|over|almost|nearly|at least|more than)?\s*(\d{2,4})"
    r"\s+(?:[a-z]+\s+){0,2}?(?:pills|tablets|capsules|caps|tabs)\b"
)
_EN_FIT_GOING = re.compile(
    r"\b(?:seizure|seizures|seizing|fitting|convulsing|convulsions?|fit|shaking|jerking)\s+"
    r"(?:for\s+)?(?:over\s+|more than\s+)?"
    r"(?:\d{1,3}|five|ten|fifteen|twenty|thirty|several|a few)\s+(?:minutes|mins|min)\b"
    r"|\b(?:seizure|fit|fitting|convulsion|shaking)\s+(?:hasnt|has not|havent|isnt|is not|wont|still hasnt)\s+stop"
)
# A whole container of a medicine finished at once (孩子把一瓶退烧药喝光了, 一盒药全吃了): the @took_lots phrase it
# stands for still needs a @medicine word, so a bottle of cola drunk up is nothing.
_ZH_WHOLE_PACK = re.compile(
    "(?:把|将)(?:一|整|一整|满满一|大半|半|好几|几)(?:瓶|盒|板|排|袋|罐)[^把将]{0,8}?(?:全|都|全部|一口气|一下子)?"
    "(?:喝|吃|吞|服)(?:光|完|掉|下去|下|了)"
    "|(?:一|整|一整|大半|好几)(?:瓶|盒|板|排|罐)[^把将]{0,8}?(?:全|都|全部|一口气|一下子)(?:喝|吃|吞|服)"
    "|(?:一|整|一整|大半|好几)(?:瓶|盒|板|排|罐)[^把将]{0,8}?(?:喝|吃|吞|服)(?:光|掉|下去)"
    "|(?:喝|吃|吞|服)(?:光|掉|下)了?(?:一|整|一整|大半|半|好几)(?:瓶|盒|板|排|罐)"
)
# The ribs or the chest sinking in, with words between (肋骨一吸一吸凹进去, 吸气的时候胸口往里陷): an @indrawing phrase.
# Said of the chest or the pit of the stomach, only with a breath between (胸口凹陷 alone may be the chest's shape).
_ZH_INDRAWING = re.compile(
    "(?:肋骨|肋间|肋条|锁骨上窝|锁骨)[^凹陷瘪]{0,8}?(?:凹|陷|瘪)"
    "|(?:胸口|胸骨|胸廓|心窝|胸)[^凹陷瘪]{0,6}?(?:吸|喘)[^凹陷瘪]{0,4}?(?:凹|陷|瘪)"
)
_INDRAWING = "肋骨凹进去"  # the @indrawing phrase an indrawing hit stands for
_WHOLE_PACK = "吃了一整瓶"  # the @took_lots phrase a whole-pack hit stands for
_FIT_NOT_STOPPING = "抽搐不止"  # the seizure phrase a fit-duration hit stands for
# Words that make the red-flag phrase before them the name of a picture, a game or a print (车祸现场 表情包, 德国心脏病
# 桌游, 车祸现场 视频合集): no one is hurt. Only what follows the phrase directly counts, with two of 现场/的/搞笑 …
# between at most.
_ZH_MEDIA_TAIL = re.compile(
    "(?:现场|的|版|风|主题|系列|搞笑|沙雕){0,2}(?:表情包|梗图|壁纸|头像|桌游|手办|海报|贴纸|歌词|周边|同款|图案|印花)"
    # A scene filmed and collected (车祸现场 视频合集): the 现场 comes first, 窒息 视频 may be a parent asking how.
    "|现场的?(?:合集|集锦|名场面|盘点|视频(?!问诊|看病|咨询|医生|通话|求助))"
)
_EN_MEDIA_TAIL = re.compile(
    r" (?:song|songs|lyrics|lyric|chords|karaoke|album|mv|music video|meme|memes|board game|poster)\b"
)
# A baby's age in days, weeks or months, only where the number is an age and not a duration
# ("出生40天", "2个月大", "两个月的宝宝", "10 week old"; not "发烧3天", "宝宝3天没大便", "2周岁").
_ZH_NUM = r"\d{1,3}|[一二两三四五六七八九十]{1,3}"
# A fit that has gone on for a while (抽了十分钟还没停, 抽搐半小时了, "seizure for 10 minutes"): RF1 row 5, a fit
# not stopping. The duration or the "not stopped" comes straight after the fit word.
_ZH_FIT_GOING = re.compile(
    "(?:(?:抽搐|抽风|惊厥)(?:了|着|得)?|抽(?:了|着|起来))"
    "(?:(?:已经|都|快|有|大概|差不多|将近|超过|足足|好|一直)?"
    f"(?:{_ZH_NUM}|几|十几|好几|半)多?(?:分钟|分多钟|个?小时|个?钟头)(?:了)?(?:还|都|一直)?"
    "|(?:好久|半天|很久|这么久|一会儿)(?:了)?(?:还|都)?(?=没|不|停))"
    "|(?:抽搐|抽风|惊厥|抽)(?:了|着)?(?:还|都|一直)(?:没停|不停|没有停|停不下来|停不住|止不住)"
)
_ZH_CHILD = "宝宝|宝贝|婴儿|孩子|小孩|娃|女儿|儿子|闺女"
_ZH_INFANT_AGE = re.compile(
    f"(?:出生|刚生|生下来)({_ZH_NUM})(天|周|个?月)(?!岁)"
    f"|({_ZH_NUM})(天|周|个?月)(?:大|龄)"
    f"|({_ZH_NUM})(天|周|个月)的(?:{_ZH_CHILD})"
    f"|({_ZH_NUM})(个月)(?:{_ZH_CHILD})"
    f"|(?:{_ZH_CHILD})(?:才|刚|刚满|满)?({_ZH_NUM})(个月)"
    f"|(?:{_ZH_CHILD})(?:才|刚|刚满|刚出生|出生)({_ZH_NUM})(天|周)(?!岁)"
)
_EN_INFANT_AGE = re.compile(
    r"\b(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+(day|week|month)s?\s+old\b"
)
_EN_NUMBERS = {
    w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())
}
_INFANT_DAYS = {"天": 1, "周": 7, "月": 30, "个月": 30, "day": 1, "week": 7, "month": 30}
_YOUNG_INFANT_DAYS = 90  # under three months: any fever is an emergency (NICE NG143 red)
_YOUNG_INFANT = "under 3 months"  # the @young_infant phrase an age hit stands for
_MIN_DOSES = 10
_NEAR_HAN = 2  # characters between the parts of a "near" rule: 胸口好痛, 胸口有点疼
_NEAR_LATIN = 16  # characters, about two words: "chest really hurts"

_ZH_CUES = ("否认", "没有", "不是", "并无", "没", "无", "不", "未")
_ZH_FILLERS = tuple(
    sorted(
        (
            "有 出现 出现过 感到 感觉 觉得 明显 任何 什么 过 再 还 也 都 发生 伴 伴有 伴随 太 很 的 再次 发现 见 啥"
        ).split(),
        key=len,
        reverse=True,
    )
)
# What joins the items of a list of complaints (胸闷胸痛, 胸闷或胸痛, "chest tightness or chest pain").
_ZH_LIST_JOINERS = frozenset({"", "和", "或", "或者", "及", "与", "跟", "或是"})
_EN_LIST_JOINERS = frozenset({"or", "nor", "and or"})  # a comma is gone after normalising: no joiner
_QUESTION_BEFORE_CUE = {"没": "有", "没有": "有", "无": "有", "不是": "是"}
_EN_CUES = frozenset(
    "no not without never denies deny denied dont doesnt didnt isnt arent wasnt havent hasnt nor neither none "
    "meiyou mei bu wu foren".split()
)
_EN_FILLERS = frozenset(
    "have has had having any a an the feel feeling felt experiencing experience experienced get getting got "
    "signs sign of symptoms real really much more other been is am are was were do did does i he she it we they "
    "currently significant".split()
)


@dataclass(frozen=True, slots=True)
class RedFlag:
    """One red flag: its code, the words that raised it (``a+b`` for a combination), the guidance key."""

    code: str
    phrase: str
    guidance: str


@dataclass(frozen=True, slots=True)
class _Rule:
    code: str
    guidance: str
    parts: tuple[frozenset[str], ...]  # canonical phrases; one of each part must be present
    near: bool = False  # the two parts must be next to each other (a few characters or words apart)


@dataclass(frozen=True, slots=True)
class _Gate:
    rules: tuple[_Rule, ...]
    zh_index: dict[str, tuple[str, ...]]  # first character -> Chinese phrases, longest first
    latin_index: dict[str, tuple[tuple[str, ...], ...]]  # first word -> word sequences, longest first
    canonical: dict[str, str]  # variant (pinyin, spaced pinyin) -> the phrase of the rule
    homophones: dict[tuple[int, str], tuple[str, ...]]  # (0, first char) / (1, second char) -> phrases
    exceptions: frozenset[str]
    typos: dict[str, str]
    fuzzy_targets: dict[int, tuple[str, ...]]  # by length
    known_words: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Hit:
    phrase: str  # canonical
    text: str  # as typed
    position: int
    end: int
    weak: bool = False  # a same-sounding typo of a two-character phrase: counts only beside other evidence


@lru_cache(maxsize=4096)
def _readings(char: str) -> frozenset[str]:
    """All toneless readings of one character (``血`` → ``{xue, xie}``)."""
    return frozenset(pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")[0] or ())


# The same English words typed apart, together or as the noun (can not / cannot / cant, breath for breathe): each
# phrase is also found in the other spellings.
_LATIN_SPELLINGS = {
    "cant": ("cannot", "can not"),
    "cannot": ("cant", "can not"),
    "breathe": ("breath",),
    "wont": ("will not",),
    "dont": ("do not",),
    "doesnt": ("does not",),
    "isnt": ("is not",),
}


def _latin_variants(phrase: str) -> set[str]:
    if _ALL_HAN.search(phrase):
        return set()
    variants = {phrase}
    for word, others in _LATIN_SPELLINGS.items():
        for variant in list(variants):
            words = variant.split()
            if word in words:
                variants.update(" ".join(o if w == word else w for w in words) for o in others)
    variants.discard(phrase)
    return variants


def _pinyin_variants(phrase: str) -> set[str]:
    if not _ALL_HAN.fullmatch(phrase) or len(phrase) < 2:
        return set()
    variants = set()
    for syllables in (lazy_pinyin(phrase), lazy_pinyin(list(phrase))):
        joined = "".join(syllables)
        if len(joined) >= 5:
            variants.update({joined, " ".join(syllables)})
    return variants


def _canonical_form(phrase: str) -> str:
    """A Chinese phrase as the normaliser leaves it, so that the text and the phrase meet whatever the script
    conversion does to a character (it turns 结束 into 結束)."""
    return normalize(phrase) if _ALL_HAN.search(phrase) else phrase


def _parse(text: str) -> list[tuple[str, str, str, list[str]]]:
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 4:
            raise ValueError(f"red_flags.tsv line {n}: expected 4 tab-separated columns, got {len(cols)}")
        kind, name, guidance, phrases = (c.strip() for c in cols)
        rows.append((kind, name, guidance, [p.strip() for p in phrases.split("|") if p.strip()]))
    return rows


@lru_cache(maxsize=1)
def _gate() -> _Gate:
    text = resources.files("yaodao.safety").joinpath("data", "red_flags.tsv").read_text(encoding="utf-8")
    groups: dict[str, frozenset[str]] = {}
    rules: list[_Rule] = []
    canonical: dict[str, str] = {}
    homophone_lists: dict[tuple[int, str], list[str]] = {}
    exceptions: set[str] = set()
    typos: dict[str, str] = {}
    fuzzy: set[str] = set()

    def register(raw: str) -> str:
        phrase = _canonical_form(raw.lstrip("~"))
        canonical.setdefault(phrase, phrase)
        if raw.startswith("~"):
            return phrase
        for variant in _latin_variants(phrase):
            canonical.setdefault(variant, phrase)
        for variant in _pinyin_variants(phrase):
            canonical.setdefault(variant, phrase)
            if " " not in variant and len(variant) >= 8:
                fuzzy.add(variant)
        if len(phrase) >= 2 and _ALL_HAN.fullmatch(phrase):
            homophone_lists.setdefault((0, phrase[0]), []).append(phrase)
            homophone_lists.setdefault((1, phrase[1]), []).append(phrase)
        return phrase

    for kind, name, guidance, phrases in _parse(text):
        if kind == "group":
            groups[name] = frozenset(register(p) for p in phrases)
        elif kind == "flag":
            rules.append(_Rule(name, guidance, (frozenset(register(p) for p in phrases),)))
        elif kind in ("combo", "near"):
            parts = tuple(groups[ref.strip()] for ref in phrases[0].split("+"))
            rules.append(_Rule(name, guidance, parts, near=kind == "near"))
        elif kind == "except":
            spans = [_canonical_form(p) for p in phrases]
            exceptions.update(spans)
            canonical.update((p, p) for p in spans)
        elif kind == "typo":
            typos.update((p, name) for p in phrases)
        elif kind == "fuzzy":
            fuzzy.update(phrases)
        else:
            raise ValueError(f"red_flags.tsv: unknown row kind {kind!r}")
        if kind in ("flag", "combo", "near") and guidance not in GUIDANCE:
            raise ValueError(f"red_flags.tsv: unknown guidance {guidance!r} for {name}")

    zh_lists: dict[str, list[str]] = {}
    latin_lists: dict[str, list[tuple[str, ...]]] = {}
    for variant in canonical:
        if _ALL_HAN.search(variant):
            zh_lists.setdefault(variant[0], []).append(variant)
        else:
            words = tuple(variant.split())
            latin_lists.setdefault(words[0], []).append(words)
    known = {w for seqs in latin_lists.values() for seq in seqs for w in seq} | _EN_CUES | _EN_FILLERS
    return _Gate(
        rules=tuple(rules),
        zh_index={k: tuple(sorted(set(v), key=len, reverse=True)) for k, v in zh_lists.items()},
        latin_index={k: tuple(sorted(set(v), key=len, reverse=True)) for k, v in latin_lists.items()},
        canonical=canonical,
        homophones={k: tuple(sorted(set(v))) for k, v in homophone_lists.items()},
        exceptions=frozenset(exceptions),
        typos=typos,
        fuzzy_targets={n: tuple(sorted(w for w in fuzzy if len(w) == n)) for n in {len(w) for w in fuzzy}},
        known_words=frozenset(known),
    )


def _same_flag(a: str, b: str) -> bool:
    """Whether two phrases take part in rules of the same flag code (胸闷 and 胸痛: chest_pain)."""
    codes = _codes_by_phrase()
    return not codes.get(a, frozenset()).isdisjoint(codes.get(b, frozenset()))


@lru_cache(maxsize=1)
def _codes_by_phrase() -> dict[str, frozenset[str]]:
    gate = _gate()
    return {phrase: frozenset(gate.rules[n].code for n in found) for phrase, found in _rules_by_phrase().items()}


def _negated_zh(text: str, start: int) -> bool:
    before = text[max(0, start - 12) : start].rstrip()
    for _ in range(5):
        cue = next((c for c in _ZH_CUES if before.endswith(c)), None)
        if cue is not None:
            cut = before[: -len(cue)]
            asker = _QUESTION_BEFORE_CUE.get(cue)
            # 有没有胸痛 / 是不是心梗 / 痛不痛 ask; they do not deny.
            asks = bool(asker and cut.endswith(asker)) or (cue == "不" and cut[-1:] == text[start : start + 1])
            return not asks
        filler = next((f for f in _ZH_FILLERS if before.endswith(f)), None)
        if filler is None:
            return False
        before = before[: -len(filler)].rstrip()
    return False


def _negated_words(words: list[str], start: int) -> bool:
    j, skipped = start - 1, 0
    while j >= 0 and skipped <= 3:
        if words[j] in _EN_CUES:
            return True
        if words[j] not in _EN_FILLERS:
            return False
        j, skipped = j - 1, skipped + 1
    return False


def _correct(word: str, gate: _Gate) -> str:
    if word in gate.typos:
        return gate.typos[word]
    if len(word) < 5 or word in gate.known_words or not word.isalpha():
        return word
    limit = 1 if len(word) < 9 else 2
    targets = [t for n in range(len(word) - limit, len(word) + limit + 1) for t in gate.fuzzy_targets.get(n, ())]
    best = process.extractOne(word, targets, scorer=OSA.distance, score_cutoff=limit)
    return str(best[0]) if best else word


def _zh_hits(compact: str, gate: _Gate, breaks: frozenset[int] = frozenset()) -> list[_Hit]:
    """Chinese phrase hits in ``compact`` (spaces between Chinese characters removed; ``breaks``: where they were)."""
    found: list[tuple[str, str, int, int]] = []
    for i, char in enumerate(compact):
        for phrase in gate.zh_index.get(char, ()):
            end = i + len(phrase)
            if not compact.startswith(phrase, i):
                continue
            if phrase[0].isdigit() and i and compact[i - 1].isdigit():
                continue
            if phrase[-1].isdigit() and end < len(compact) and compact[end].isdigit():
                continue
            found.append((gate.canonical[phrase], phrase, i, end))
    for run in _ALL_HAN.finditer(compact):
        chars = run.group()
        for i in range(len(chars) - 1):
            candidates = gate.homophones.get((0, chars[i]), ()) + gate.homophones.get((1, chars[i + 1]), ())
            for phrase in candidates:
                window = chars[i : i + len(phrase)]
                if len(window) != len(phrase) or window == phrase:
                    continue
                diffs = [k for k, (a, b) in enumerate(zip(window, phrase, strict=True)) if a != b]
                if len(diffs) == 1 and _readings(window[diffs[0]]) & _readings(phrase[diffs[0]]):
                    found.append((phrase, window, run.start() + i, run.start() + i + len(phrase)))
    spans = [(s, e) for phrase, _, s, e in found if phrase in gate.exceptions]
    # Text that is a phrase as typed means that phrase, not a slip for one that sounds the same (吐了 is
    # not 跌了: 跌 also reads tu).
    exact = {(s, e) for phrase, typed, s, e in found if typed == phrase}
    kept = sorted(
        (
            (phrase, typed, s, e)
            for phrase, typed, s, e in found
            if phrase not in gate.exceptions
            and not any(xs <= s and e <= xe for xs, xe in spans)
            and not (typed != phrase and (s, e) in exact)
            and not _ZH_MEDIA_TAIL.match(compact, e)
        ),
        key=lambda item: (item[2], item[3]),
    )
    # A negation covers a list of phrases of the same kind (没有胸闷胸痛, 没有胸闷或胸痛): a phrase right after a
    # negated one, joined by nothing or by 和/或 …, is negated too when both speak of the same flag. Another
    # complaint in between (没有发烧胸痛), or a space (没有胸闷 胸口剧痛 may be a new clause), does not carry it:
    # when in doubt, flag.
    denied: list[tuple[str, int]] = []  # (phrase, end) of the negated phrases, as typed
    out = []
    for phrase, typed, s, e in kept:
        listed = any(
            compact[end:s] in _ZH_LIST_JOINERS
            and not any(end <= b <= s for b in breaks)
            and _same_flag(phrase, earlier)
            for earlier, end in denied
            if end <= s
        )
        if listed or _negated_zh(compact, s):
            if typed == phrase:
                denied.append((phrase, e))
            continue
        out.append(_Hit(phrase, typed, s, e, weak=len(phrase) == 2 and typed != phrase))
    return out


def _latin_hits(text: str, gate: _Gate) -> list[_Hit]:
    matches = list(_WORD.finditer(text))
    typed = [m.group() for m in matches]
    words = [_correct(w, gate) for w in typed]
    found: list[tuple[str, int, int]] = []
    for i, word in enumerate(words):
        for seq in gate.latin_index.get(word, ()):
            if tuple(words[i : i + len(seq)]) == seq:
                found.append((gate.canonical[" ".join(seq)], i, i + len(seq)))
        # Pinyin is typed grouped any way (huxi kunnan, hu xikunnan): compare 2-4 words run together.
        for n in range(2, 5):
            glued = "".join(words[i : i + n])
            if i + n <= len(words) and len(glued) >= 8 and glued in gate.canonical and not _ALL_HAN.search(glued):
                found.append((gate.canonical[glued], i, i + n))
    spans = [(s, e) for phrase, s, e in found if phrase in gate.exceptions]
    denied: list[tuple[str, int]] = []  # as in _zh_hits: "no chest tightness or chest pain" denies both
    out = []
    for phrase, s, e in sorted(found, key=lambda item: (item[1], item[2])):
        if (
            phrase in gate.exceptions
            or any(xs <= s and e <= xe for xs, xe in spans)
            or _EN_MEDIA_TAIL.match(text, matches[e - 1].end())
        ):
            continue
        listed = any(
            " ".join(words[end:s]) in _EN_LIST_JOINERS and _same_flag(phrase, earlier)
            for earlier, end in denied
            if end <= s
        )
        if listed or _negated_words(words, s):
            denied.append((phrase, e))
            continue
        out.append(_Hit(phrase, " ".join(typed[s:e]), matches[s].start(), matches[e - 1].end()))
    return out


def _dose_hits(compact: str, text: str) -> list[_Hit]:
    hits = []
    for pattern, source in ((_ZH_DOSES, compact), (_EN_DOSES, text)):
        for m in pattern.finditer(source):
            if _number(m.group(1)) >= _MIN_DOSES or m.group(1) == "几十":
                hits.append(_Hit("", m.group(), m.start(), m.end()))
    return hits


def _pattern_hits(compact: str, text: str) -> list[_Hit]:
    """A fit that has gone on for minutes (a seizure phrase), a whole pack finished (a @took_lots phrase) and the
    chest sinking in at each breath (an @indrawing phrase)."""
    hits = [_Hit(_FIT_NOT_STOPPING, m.group(), m.start(), m.end()) for m in _ZH_FIT_GOING.finditer(compact)]
    hits += [_Hit(_FIT_NOT_STOPPING, m.group(), m.start(), m.end()) for m in _EN_FIT_GOING.finditer(text)]
    hits += [_Hit(_WHOLE_PACK, m.group(), m.start(), m.end()) for m in _ZH_WHOLE_PACK.finditer(compact)]
    hits += [_Hit(_INDRAWING, m.group(), m.start(), m.end()) for m in _ZH_INDRAWING.finditer(compact)]
    return hits


def _number(raw: str) -> int:
    """A small count written in digits, English words or Chinese numerals (十二, 二十五, 两)."""
    if raw.isdigit():
        return int(raw)
    if raw in _EN_NUMBERS:
        return _EN_NUMBERS[raw]
    digits = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
    tens, _, ones = raw.partition("十")
    if "十" not in raw:
        return digits.get(raw, 0)
    return (digits.get(tens, 0) if tens else 1) * 10 + digits.get(ones, 0)


def _infant_hits(compact: str, text: str) -> list[_Hit]:
    """Ages under three months, as hits of the @young_infant phrase (出生40天, 10 week old)."""
    hits = []
    for pattern, source in ((_ZH_INFANT_AGE, compact), (_EN_INFANT_AGE, text)):
        for m in pattern.finditer(source):
            number, unit = (g for g in m.groups() if g is not None)
            days = _number(number) * _INFANT_DAYS[unit]
            if 0 < days < _YOUNG_INFANT_DAYS:
                hits.append(_Hit(_YOUNG_INFANT, m.group(), m.start(), m.end()))
    return hits


def _evidence(rule: _Rule, hits: list[_Hit]) -> list[_Hit] | None:
    """The earliest hit for each part of ``rule`` (hits are sorted), or None when a part is missing."""
    # Two-character sound-alikes (胸桶 for 胸痛) are too common to flag alone; beside a second
    # signal (胸桶 出汗) they complete a combination.
    strong_only = len(rule.parts) == 1
    present = [[h for h in hits if h.phrase in part and not (strong_only and h.weak)] for part in rule.parts]
    if not all(present):
        return None
    if not rule.near:
        return [found[0] for found in present]
    for a in present[0]:
        for b in present[1]:
            gap = max(a.position, b.position) - min(a.end, b.end)
            limit = _NEAR_HAN if _ALL_HAN.fullmatch(a.phrase + b.phrase) else _NEAR_LATIN
            if 0 <= gap <= limit:
                return [a, b]
    return None


@lru_cache(maxsize=1)
def _rules_by_phrase() -> dict[str, tuple[int, ...]]:
    """For each canonical phrase, the rules (by position) that one of its parts names."""
    index: dict[str, set[int]] = {}
    for n, rule in enumerate(_gate().rules):
        for part in rule.parts:
            for phrase in part:
                index.setdefault(phrase, set()).add(n)
    return {phrase: tuple(sorted(found)) for phrase, found in index.items()}


def scan_normalized(text: str) -> list[RedFlag]:
    """Red flags in text that is already :func:`normalize` output (the search analyser's path)."""
    if not text:
        return []
    gate = _gate()
    compact = _HAN_GAP.sub("", text)
    breaks = frozenset(m.start() - n for n, m in enumerate(_HAN_GAP.finditer(text)))
    hits = (
        _zh_hits(compact, gate, breaks)
        + _latin_hits(text, gate)
        + _infant_hits(compact, text)
        + _pattern_hits(compact, text)
    )
    hits.sort(key=lambda h: (h.position, -h.end))
    flags: dict[str, tuple[int, int, RedFlag]] = {}  # code -> (position, -evidence parts, flag)
    # Only the rules that name a phrase found can fire; a set test then skips those with a part missing.
    phrases = {h.phrase for h in hits}
    by_phrase = _rules_by_phrase()
    candidates = sorted({n for phrase in phrases for n in by_phrase.get(phrase, ())})
    for rule in (gate.rules[n] for n in candidates):
        if any(part.isdisjoint(phrases) for part in rule.parts):
            continue
        chosen = _evidence(rule, hits)
        if chosen is None:
            continue
        # The earliest evidence wins; at the same place, a combination of separate symptoms says more.
        rank = (min(h.position for h in chosen), -1 if rule.near else -len(chosen))
        if rule.code not in flags or rank < flags[rule.code][:2]:
            phrase = "+".join(h.text for h in sorted(chosen, key=lambda h: h.position))
            flags[rule.code] = (*rank, RedFlag(rule.code, phrase, rule.guidance))
    for hit in _dose_hits(compact, text):
        if "overdose" not in flags:
            flags["overdose"] = (hit.position, -1, RedFlag("overdose", hit.text, CALL_120))
    return [flag for *_, flag in sorted(flags.values(), key=lambda item: item[:2])]


def detect_red_flags(text: str) -> list[RedFlag]:
    """The red flags in free text (a query, an intake answer, a chat message), in order of appearance.

    One flag per code, for its earliest evidence. Never raises on a ``str``.
    """
    return scan_normalized(normalize(text))
