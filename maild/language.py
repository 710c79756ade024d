"""Which language to answer a customer in: Chinese when they wrote Chinese, else English."""

from __future__ import annotations

import re

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_QUOTED_LINE = re.compile(r"^\s*>.*$", re.MULTILINE)


def detect_language(subject: str, text: str, *, fallback: str) -> str:
    """'zh' or 'en' from the customer's own words; quoted lines do not count.

    Chinese carries a word in one or two characters, so a handful of Han characters outweighs
    the English product names mixed into Chinese mail, while a Chinese signature under a long
    English mail does not.
    """
    own_words = subject + "\n" + _QUOTED_LINE.sub("", text[:20000])
    han = len(_HAN.findall(own_words))
    latin_words = len(_LATIN_WORD.findall(own_words))
    if han >= 2 and han >= latin_words / 2:
        return "zh"
    if latin_words:
        return "en"
    return fallback
