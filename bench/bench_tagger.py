"""Throughput of the tagger on one core: ~2,000 synthetic 800-word English articles.

    taskset -c 0 .venv/bin/python bench/bench_tagger.py [--articles 2000] [--words 800]
        [--seed 7] [--model PATH|none] [--language ru]

The tagger is measured as the pipeline builds it: with the shipped learned model
(seeds/tagger_model.npz) unless `--model none` (the registries alone) or another file is given.

Articles mix ordinary newswire filler with registry names, role phrases, theme phrases and
near-misses at realistic densities, so the automaton reports a typical number of hits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time

from spacewatch.seeds.model import hash_text, load_model
from spacewatch.seeds.registry import load_corpus, load_registry
from spacewatch.seeds.tagger import build_tagger


def _words(text: str) -> list[str]:
    # Word lists read better as one string than as hundreds of quoted items.
    return text.split()


FILLER = _words(
    "the of and to in a is that for on with as was by it at from said has be are its an this "
    "have which will were their but not or after who been also had officials year on Monday "
    "government people new program report week told statement according further plans could "
    "would first second percent million billion last next years months during while before "
    "since against between under over about more most other some many such only then than "
    "company market analysts data system public support development future decision"
)
SPICE = [
    "NASA", "Roscosmos", "SpaceX", "Elon Musk", "the head of Roscosmos", "NASA administrator",
    "Moscow announced", "in Beijing", "WASHINGTON —", "Washington wants", "the Kremlin said",
    "anti-satellite", "lunar base", "Artemis Accords", "Lunar Gateway", "humans to Mars",
    "Space Force", "deployed to Qatar", "International Lunar Research Station", "helium-3",
    "launch market", "Outer Space Treaty", "memorandum of understanding", "China", "Russia",
    "the United States", "US", "India", "Israel", "Japan", "ISRO", "JAXA", "ESA", "CNSA",
    "Bruno Mars", "Lunar New Year", "Iron Dome", "counterspace", "reconnaissance satellites",
    "Blue Origin", "Jeff Bezos", "Starlink", "International Space Station", "executive order",
    "Russian", "Chinese", "American", "the Pentagon", "Space Command", "Tiangong",
]  # fmt: skip


def make_articles(n: int, words: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        toks: list[str] = []
        while len(toks) < words:
            if rng.random() < 0.06:
                toks.extend(rng.choice(SPICE).split())
            else:
                w = rng.choice(FILLER)
                toks.append(w.capitalize() if rng.random() < 0.05 else w)
            if rng.random() < 0.06:
                toks[-1] += "."
            if rng.random() < 0.01:
                toks[-1] += "\n\n"
        out.append(" ".join(toks[:words]))
    return out


# Chinese and Japanese are written without spaces: an "800-word" article is taken as 1,600
# characters (about two characters a word in news text).
_CHARS_PER_WORD = {"zh": 2, "zh-Hant": 2, "ja": 2}


def language_articles(language: str, n: int, words: int, seed: int) -> list[str]:
    """`n` articles of about `words` words in `language`, each a shuffled run of the labelled
    texts of that language: tests/data/gold, the hand-written texts of tests/data/real and, when
    the evaluation folder is there, the real items of the dev split."""
    from spacewatch.seeds.realset import RealSetError, load_handwritten, load_realset
    from spacewatch.seeds.train_model import load_gold

    texts = [d.text for d in load_gold() if d.language == language]
    texts += [d.text for d in load_handwritten() if d.language == language]
    try:
        real = load_realset("dev", origins=("real",))
    except RealSetError:
        real = ()
    texts += [d.text for d in real if d.language == language and d.text.strip()]
    if not texts:
        raise SystemExit(f"no labelled texts in language {language!r}")
    rng = random.Random(seed)
    per_word = _CHARS_PER_WORD.get(language)
    out = []
    for _ in range(n):
        parts: list[str] = []
        size = 0
        while size < words:
            t = rng.choice(texts)
            parts.append(t)
            size += len(t) / per_word if per_word else len(t.split())
        text = "\n\n".join(parts)
        if per_word:
            out.append(text[: words * per_word])
        else:
            out.append(" ".join(text.split(" ")[:words]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--words", type=int, default=800)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--model", default=None, help="model file, or none (default: the shipped one)")
    ap.add_argument(
        "--language",
        default=None,
        help="articles built from the hand-written labelled texts of this language instead of "
        "synthetic English (de, es, fr, it, pt, ru, ja, ko, zh, zh-Hant, ar, hi, en)",
    )
    args = ap.parse_args()

    t0 = time.perf_counter()
    model = None if args.model == "none" else load_model(args.model)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tagger = build_tagger(load_registry(), load_corpus(), model)
    build_s = time.perf_counter() - t0
    if args.language:
        articles = language_articles(args.language, args.articles, args.words, args.seed)
    else:
        articles = make_articles(args.articles, args.words, args.seed)
    published = dt.date(2023, 5, 1)

    for text in articles[:50]:  # warm caches
        tagger.tag(text, published=published)
    per_article = []
    t0 = time.perf_counter()
    cpu0 = time.process_time()  # on a shared machine CPU time says more than the wall clock
    relevant = 0
    for text in articles:
        s = time.perf_counter()
        res = tagger.tag(text, published=published)
        per_article.append(time.perf_counter() - s)
        relevant += res.relevant
    total = time.perf_counter() - t0
    cpu = time.process_time() - cpu0

    if model is not None:
        print(f"model: {model.version}, loaded in {load_s * 1000:.1f} ms")
        t0 = time.perf_counter()
        for text in articles[:200]:
            hash_text(text.lower())
        print(f"hashing n-grams alone: {(time.perf_counter() - t0) / 200 * 1000:.2f} ms/article")
    else:
        print("model: none (registries alone)")
    print(f"build_tagger: {build_s * 1000:.1f} ms")
    kind = f"{args.language} (labelled texts)" if args.language else "synthetic English"
    print(f"articles: {len(articles)} x {args.words} words, {kind} (seed {args.seed})")
    print(f"throughput: {len(articles) / total:.0f} articles/s on one core")
    print(f"throughput by CPU time: {len(articles) / cpu:.0f} articles/s")
    print(
        f"median per article: {statistics.median(per_article) * 1000:.2f} ms; "
        f"p95: {sorted(per_article)[int(len(per_article) * 0.95)] * 1000:.2f} ms"
    )
    print(f"relevant: {relevant}/{len(articles)}")


if __name__ == "__main__":
    main()
