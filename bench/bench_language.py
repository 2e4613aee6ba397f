"""Language detection: accuracy and speed of the candidate detectors on real feed items.

    .venv/bin/python bench/bench_language.py [--eval ../shared/eval]
        [--detectors spacewatch,py3langid,lingua]

Truth is the language a feed declares (`<language>`, or `feeds/space_policy/INDEX.json`), so an
item is counted only when its feed says what it is; labels outside the tagger's languages are
expected to come out as "other". Texts are an item's title and summary with markup stripped, as
the tagger sees feed-only items; a second timing runs each detector on 4,000-character articles
(the most `detect_language` reads). `lingua` is optional: it is measured only when installed.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import feedparser

from spacewatch.extractors.language import detect_language

_TAGS = re.compile(r"<[^>]+>")
# The languages the tagger has phrases for; anything else should come out as "other".
TARGET = ("en", "ru", "de", "fr", "es", "it", "pt", "ja", "ko", "zh", "ar", "hi")


def load_items(eval_dir: Path) -> list[tuple[str, str, str]]:
    """(truth language, source file, text) for every item of a feed that declares a language."""
    declared: dict[str, str] = {}
    index = eval_dir / "feeds" / "space_policy" / "INDEX.json"
    if index.is_file():
        for row in json.loads(index.read_text()):
            declared[row["file"]] = row["language"]
    out = []
    for path in sorted((eval_dir / "feeds").rglob("*")):
        if not path.is_file() or path.suffix in {".json", ".md"}:
            continue
        rel = str(path.relative_to(eval_dir))
        parsed = feedparser.parse(path.read_bytes())
        lang = (declared.get(rel) or parsed.feed.get("language") or "").lower()[:2]
        if not re.fullmatch(r"[a-z]{2}", lang):
            continue
        for e in parsed.entries:
            text = f"{e.get('title', '')}\n{e.get('summary', '')}"
            text = " ".join(html.unescape(_TAGS.sub(" ", text)).split())
            if len(text) >= 20:
                out.append((lang, rel, text))
    return out


def detectors(names: list[str]) -> dict[str, Callable[[str], str]]:
    ours = set(TARGET)
    out: dict[str, Callable[[str], str]] = {}
    for name in names:
        if name == "spacewatch":
            out[name] = detect_language
        elif name == "py3langid":
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            ident = LanguageIdentifier.from_model_file(MODEL_FILE)

            def _langid(text: str, ident: LanguageIdentifier = ident) -> str:
                code = ident.classify(text[:4000])[0]
                return code if code in ours else "other"

            out[name] = _langid
        elif name == "lingua":
            try:
                from lingua import LanguageDetectorBuilder
            except ImportError:
                print("lingua: not installed, skipped")
                continue
            det = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()

            def _lingua(text: str, det=det) -> str:
                lang = det.detect_language_of(text[:4000])
                code = lang.iso_code_639_1.name.lower() if lang else "other"
                return code if code in ours else "other"

            out[name] = _lingua
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=Path("../shared/eval"))
    ap.add_argument("--detectors", default="spacewatch,py3langid,lingua")
    args = ap.parse_args()
    items = load_items(args.eval)
    ours = set(TARGET)
    truth_n = Counter(lang for lang, _, _ in items)
    print(f"{len(items)} items; declared languages: {dict(truth_n.most_common())}")
    long_texts = [" ".join(t for _, _, t in items[i : i + 40])[:4000] for i in range(0, 400, 40)]
    for name, fn in detectors(args.detectors.split(",")).items():
        fn("warm up")
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        confusions: Counter[tuple[str, str]] = Counter()
        t0 = time.perf_counter()
        for lang, _, text in items:
            want = lang if lang in ours else "other"
            got = fn(text)
            per[lang][0] += got == want
            per[lang][1] += 1
            if got != want:
                confusions[(lang, got)] += 1
        short_us = (time.perf_counter() - t0) / len(items) * 1e6
        runs = []
        for text in long_texts:
            t1 = time.perf_counter()
            fn(text)
            runs.append(time.perf_counter() - t1)
        ok = sum(v[0] for v in per.values())
        print(f"\n{name}: accuracy {ok}/{len(items)} = {ok / len(items):.3f}")
        print("  " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(per.items())))
        print(f"  top confusions: {confusions.most_common(6)}")
        print(
            f"  speed: {short_us:.0f} us per feed item; "
            f"{statistics.median(runs) * 1e6:.0f} us per 4,000-character text (median)"
        )


if __name__ == "__main__":
    main()
