"""One normaliser for search queries, index documents and the red-flag gate.

``normalize`` folds the ways people type the same words into one form, so the lexicon, the
index and the safety rules only ever see that form:

1. drop lone surrogates, control and format characters (zero-width joiners, BOMs, variation
   selectors); tabs and line breaks become spaces;
2. NFKC: full-width letters, digits and spaces fold to ASCII (``ＡＤＶＩＬ４００ｍｇ`` → ``advil400mg``),
   ``Ⅱ`` → ``ii``, ligatures split;
3. lower case; Latin accents and pinyin tone marks are stripped (``bùluòfēn`` → ``buluofen``,
   ``ü`` → ``v`` as pinyin keyboards type it);
4. Traditional → Simplified with OpenCC ``t2s`` (``撲熱息痛`` → ``扑热息痛``), built once;
5. Chinese typed one character at a time, three characters or more, joins into words (``头 疼 ， 发 烧`` →
   ``头疼 发烧``; two, ``药 急``, may be two words and stay apart);
   emoji, symbols and punctuation become spaces; apostrophes vanish (``can't`` → ``cant``) and a
   dot between digits stays (``0.3g``);
6. runs of spaces collapse, and the result is capped at :data:`MAX_CHARS` characters.

It never raises on a ``str`` and is idempotent: ``normalize(normalize(s)) == normalize(s)``.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from functools import lru_cache

from opencc_purepy import OpenCC

MAX_CHARS = 200
# Only this much of the input is looked at: NFKC can expand text, the cap applies at the end.
_MAX_INPUT_CHARS = 4 * MAX_CHARS

_LINE_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")
# Surrogates, C0/C1 controls, zero-width and bidi marks, word joiners, BOM, variation selectors, tags.
_INVISIBLE = re.compile(
    "[\ud800-\udfff\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufe00-\ufe0f\ufeff\ufff0-\ufffb\U000e0000-\U000e0fff]"
)
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U0010ffff]")
_APOSTROPHES = re.compile("['\u2018\u2019\u201b\u02bc\u02b9`\u00b4\u2032]")
# Anything that is not a letter, digit or space; a dot survives only between two digits.
_NOT_WORD = re.compile(r"[^\w\s.]|_|(?<!\d)\.|\.(?!\d)")
_SPACES = re.compile(r"\s+")
_HAS_HAN = re.compile("[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_HAS_ACCENT = re.compile("[\u00c0-\u024f\u1e00-\u1eff\u0300-\u036f]")


# Chinese typed one character at a time (头 疼 ， 发 烧): three or more characters that each stand alone, between
# spaces or punctuation. Spaces join them into words; punctuation still parts them (头疼 发烧).
_HAN_CHAR = "[\u3400-\u9fff\uf900-\ufaff]"
_LONE_HAN_RUN = re.compile(f"(?<!\\w){_HAN_CHAR}(?:[^\\w]+{_HAN_CHAR}(?!\\w))+")
_MIN_LONE_RUN = 3  # characters
_HAN_SEPARATOR = re.compile(f"(?<={_HAN_CHAR})([^\\w]+)(?={_HAN_CHAR})")


def _join_lone_han(match: re.Match[str]) -> str:
    """One run of lone characters as words: joined across spaces, parted at punctuation; a part of one character
    left alone is joined to its lone neighbours too, so that normalising again changes nothing."""
    parts = _HAN_SEPARATOR.split(match.group())
    if len(parts) < 2 * _MIN_LONE_RUN - 1:
        # Two characters apart (药 急, 急 药) are as often two words as one word spaced out: left as typed.
        return match.group()
    groups: list[str] = [parts[0]]
    for separator, char in zip(parts[1::2], parts[2::2], strict=True):
        if separator.isspace():
            groups[-1] += char
        else:
            groups.append(char)
    merged: list[str] = []
    for group in groups:
        if merged and len(group) == 1 and len(merged[-1]) == 1:
            merged[-1] += group
        else:
            merged.append(group)
    return " ".join(merged)


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    # Loading the dictionaries takes ~0.1 s: once per process, on first use.
    return OpenCC("t2s")


def _strip_accents(text: str) -> str:
    text = text.replace("ü", "v").replace("ǖ", "v").replace("ǘ", "v").replace("ǚ", "v").replace("ǜ", "v")
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def normalize(text: str) -> str:
    """The canonical search form of ``text``: see the module docstring. Never raises."""
    if not isinstance(text, str):
        return ""
    text = text[:_MAX_INPUT_CHARS]
    text = _LINE_BREAKS.sub(" ", text)
    text = _INVISIBLE.sub("", text)
    text = _PRIVATE_USE.sub("", text)
    text = unicodedata.normalize("NFKC", text).lower()
    if _HAS_ACCENT.search(text):
        text = _strip_accents(text)
    if _HAS_HAN.search(text):
        # A conversion bug must not take search down: keep the text as it is.
        with contextlib.suppress(Exception):
            text = _t2s().convert(text)
    text = _APOSTROPHES.sub("", text)
    if _HAS_HAN.search(text):
        text = _LONE_HAN_RUN.sub(_join_lone_han, text)
    text = _NOT_WORD.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS].rstrip()
    return text
