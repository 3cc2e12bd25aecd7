"""Pinyin for product names: full spellings and initials, so Latin keyboards find Chinese names."""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

_HAN = re.compile(r"[\u4e00-\u9fff]+")


def pinyin_of(*names: str | None) -> tuple[str, str]:
    """('buluofen huanshi jiaonang fenbide', 'blfhsjn fbd') for the Chinese names given."""
    full: list[str] = []
    initials: list[str] = []
    for name in names:
        if not name:
            continue
        for run in _HAN.findall(name):
            syllables = lazy_pinyin(run, style=Style.NORMAL, errors="ignore")
            full.append("".join(syllables))
            initials.append("".join(s[0] for s in syllables if s))
    return " ".join(full), " ".join(initials)
