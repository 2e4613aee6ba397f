"""Throughput of the tagger on one core: ~2,000 synthetic 800-word English articles.

    taskset -c 0 .venv/bin/python bench/bench_tagger.py [--articles 2000] [--words 800]
        [--seed 7] [--model PATH|none]

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--words", type=int, default=800)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--model", default=None, help="model file, or none (default: the shipped one)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    model = None if args.model == "none" else load_model(args.model)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tagger = build_tagger(load_registry(), load_corpus(), model)
    build_s = time.perf_counter() - t0
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
    print(f"articles: {len(articles)} x {args.words} words (seed {args.seed})")
    print(f"throughput: {len(articles) / total:.0f} articles/s on one core")
    print(f"throughput by CPU time: {len(articles) / cpu:.0f} articles/s")
    print(
        f"median per article: {statistics.median(per_article) * 1000:.2f} ms; "
        f"p95: {sorted(per_article)[int(len(per_article) * 0.95)] * 1000:.2f} ms"
    )
    print(f"relevant: {relevant}/{len(articles)}")


if __name__ == "__main__":
    main()
