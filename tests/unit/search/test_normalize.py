"""The one normaliser for queries, documents and red flags: full width, Traditional, emoji, junk."""

from __future__ import annotations

import pytest

from yaodao.search.normalize import MAX_CHARS, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＤＶＩＬ　４００ｍｇ", "advil 400mg"),
        ("布洛芬（芬必得）", "布洛芬 芬必得"),
        ("Ⅱ型糖尿病", "ii型糖尿病"),
    ],
)
def test_full_width_letters_digits_and_punctuation_fold_to_half_width(raw: str, expected: str) -> None:
    """NFKC folds full-width input; brackets become spaces."""
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("撲熱息痛", "扑热息痛"), ("喉嚨痛 發燒", "喉咙痛 发烧"), ("頭痛藥", "头痛药"), ("寶寶拉肚子", "宝宝拉肚子")],
)
def test_traditional_characters_become_simplified(raw: str, expected: str) -> None:
    """OpenCC t2s: Hong Kong and Taiwan spellings find the same drugs."""
    assert normalize(raw) == expected


def test_emoji_only_input_normalises_to_nothing() -> None:
    """Emoji, joiners, skin tones and variation selectors are not words."""
    assert normalize("🤒😷👨\u200d👩\u200d👧🏽❤️") == ""


def test_emoji_between_words_separates_them() -> None:
    """An emoji is a word break, like punctuation."""
    assert normalize("发烧🤒头疼") == "发烧 头疼"


def test_control_and_zero_width_characters_are_dropped_and_line_breaks_become_spaces() -> None:
    """Pasted text carries NULs, zero-width spaces and newlines; none survive."""
    assert normalize("ibu\u200bprofen\x00\n\t400mg\r\n") == "ibuprofen 400mg"


def test_lone_surrogates_are_dropped_without_raising() -> None:
    """A broken UTF-16 pair from a client must not crash search."""
    assert normalize("\ud83d布洛芬\udc00") == "布洛芬"


def test_a_ten_thousand_character_input_is_capped() -> None:
    """Long input is cut to MAX_CHARS characters."""
    result = normalize("布洛芬 " * 2_500)
    assert len(result) <= MAX_CHARS
    assert result.startswith("布洛芬 布洛芬")


def test_case_accents_and_apostrophes_fold() -> None:
    """Lower case; pinyin tone marks and accents stripped; can't → cant; decimals keep their dot."""
    assert normalize("Can't BùLuòFēn 0.3g Lǜ") == "cant buluofen 0.3g lv"


@pytest.mark.parametrize("raw", ["撲熱息痛 ＡＤＶＩＬ!", "  a  b  ", "😷", "0.5mg×24粒", "Ⅲ", "x" * 500])
def test_normalising_twice_changes_nothing(raw: str) -> None:
    """Idempotent: documents and queries may be normalised more than once."""
    once = normalize(raw)
    assert normalize(once) == once


def test_spaces_collapse_and_blank_input_is_empty() -> None:
    """Runs of spaces collapse; whitespace-only input gives the empty string."""
    assert normalize("  感冒   发烧  ") == "感冒 发烧"
    assert normalize(" \u3000\t ") == ""
