"""Cheap language guess by script and stopwords: "en", "ru", "zh" or "other".

The tagger only needs to know which phrase lists apply, so four labels are enough; a statistical
language-identification model would be slower and heavier than the whole tagger.
"""

from __future__ import annotations

import re

__all__ = ["LANGUAGES", "detect_language"]

LANGUAGES = ("en", "ru", "zh", "other")


def _words(text: str) -> list[str]:
    # Word lists read better as one string than as hundreds of quoted items.
    return text.split()


_SAMPLE = 4000
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# Letters that Ukrainian, Belarusian, Serbian etc. use and Russian does not.
_NON_RUSSIAN_CYRILLIC = re.compile(r"[іїєґўђјљњћџ]", re.IGNORECASE)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_WORD = re.compile(r"[a-z']+")
_EN_STOPWORDS = frozenset(
    _words(
        "the of and to in a is that for on with as was by it at from said has be are its an this "
        "have which will were their but not or after who been also had"
    )
)


def detect_language(text: str) -> str:
    sample = text[:_SAMPLE] if isinstance(text, str) else ""
    cyr = len(_CYRILLIC.findall(sample))
    han = len(_HAN.findall(sample))
    kana = len(_KANA_HANGUL.findall(sample))
    latin = len(_LATIN.findall(sample))
    total = cyr + han + kana + latin
    if total < 3:
        return "other"
    if kana and kana * 20 >= han:
        return "other"  # Japanese or Korean: Han characters alone would say Chinese
    # Chinese packs a word into one or two characters, so weigh them against Latin letters.
    han_weight = han * 3
    top = max(cyr, han_weight, latin)
    if top == cyr:
        return "other" if len(_NON_RUSSIAN_CYRILLIC.findall(sample)) > cyr * 0.01 else "ru"
    if top == han_weight:
        return "zh"
    words = _WORD.findall(sample.lower())
    if not words:
        return "other"
    stop = sum(1 for w in words if w in _EN_STOPWORDS)
    return "en" if stop / len(words) >= 0.12 or (len(words) < 8 and stop) else "other"
