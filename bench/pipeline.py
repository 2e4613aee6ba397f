"""Pipeline throughput against its floor: trafilatura alone on the same pages, same processes.

Generates N article pages (the bundled sample's templates with unique, generated bodies),
serves them and a set of feeds from a loopback server in another process, runs the real
Prefect flow once on a fresh warehouse, and prints articles/s, peak memory, the time split
and the floor. Prefect's one-off server start is measured separately, before the run.

    python bench/pipeline.py --articles 1000
    python bench/pipeline.py --articles 1000 --articles 5000   # several sizes in one go
    python bench/pipeline.py --articles 1000 --runner dask     # chunks on a local Dask cluster
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

WORDS = [
    "orbit",
    "lunar",
    "station",
    "agency",
    "launch",
    "mission",
    "crew",
    "rocket",
    "satellite",
    "treaty",
    "policy",
    "budget",
    "congress",
    "roscosmos",
    "nasa",
    "china",
    "russia",
    "india",
    "moon",
    "mars",
    "gateway",
    "artemis",
    "debris",
    "military",
    "commercial",
    "contract",
    "module",
    "habitat",
    "resource",
    "mining",
    "law",
    "cooperation",
    "partner",
    "schedule",
    "delay",
    "engine",
    "booster",
    "test",
    "flight",
    "program",
    "administrator",
    "director",
    "minister",
    "official",
    "analyst",
    "report",
    "statement",
    "plan",
    "decade",
    "capability",
    "deterrence",
    "surveillance",
    "reconnaissance",
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "for",
    "on",
    "with",
    "by",
    "from",
    "that",
    "this",
    "which",
    "will",
    "would",
    "could",
    "said",
    "says",
]


def make_body(rng: random.Random, paragraphs: int = 9) -> str:
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(3, 5)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(10, 22))]
            sentences.append(" ".join(words).capitalize() + ".")
        out.append("<p>" + " ".join(sentences) + "</p>")
    return "\n".join(out)


def make_pages(n: int, seed: int = 7) -> list[tuple[str, bytes]]:
    """(path, html) for n unique pages built on the sample's outlet templates."""
    import re

    from spacewatch.loopback import SAMPLE_DIR

    templates = []
    for path in sorted((SAMPLE_DIR / "pages").rglob("*.html")):
        html = path.read_bytes().decode("utf-8", errors="replace")
        # Keep the template (navigation, ads, comments, footer), replace the article's paragraphs.
        match = re.search(r"(<article.*?>)(.*?)(</article>)", html, re.S)
        if match:
            templates.append((html[: match.start(2)], html[match.end(2) :]))
    rng = random.Random(seed)
    pages = []
    for i in range(n):
        head, tail = templates[i % len(templates)]
        body = f"<h1>Generated article {i}</h1>\n" + make_body(rng)
        pages.append((f"/bench/a{i}.html", (head + body + tail).encode("utf-8")))
    return pages


def eval_pages(n: int, eval_dir: Path) -> list[tuple[str, bytes]]:
    """n pages cycled from the real news pages of ../shared/eval (local evaluation material)."""
    import gzip

    files = sorted(eval_dir.glob("html/*/html/*.gz"))
    if not files:
        raise SystemExit(f"no pages under {eval_dir}/html/*/html/")
    bodies = [gzip.decompress(f.read_bytes()) for f in files]
    return [(f"/bench/e{i}.html", bodies[i % len(bodies)]) for i in range(n)]


def default_eval_dir() -> Path | None:
    for candidate in (
        Path(__file__).resolve().parents[2] / "shared" / "eval",
        Path("/work/shared/eval"),
    ):
        if candidate.is_dir():
            return candidate
    return None


def make_feeds(pages: list[tuple[str, bytes]], per_feed: int) -> dict[str, bytes]:
    feeds = {}
    for start in range(0, len(pages), per_feed):
        items = "".join(
            f"<item><title>Article {start + j}</title><link>{{{{BASE}}}}{path}</link>"
            f"<guid>{path}</guid><description>Summary {start + j}.</description></item>"
            for j, (path, _) in enumerate(pages[start : start + per_feed])
        )
        feeds[f"/feeds/f{start // per_feed}.xml"] = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>'
            f"<link>{{{{BASE}}}}/</link>{items}</channel></rss>"
        ).encode()
    return feeds


def _extract_only(args: tuple[bytes, str]) -> int:
    from spacewatch.extractors.articles import extract_article

    extracted = extract_article(*args)
    return len(extracted.text or "")


def floor_seconds(pages: list[tuple[str, bytes]], base: str, workers: int) -> float:
    """trafilatura alone on the same pages, same number of processes, from memory."""
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(["spacewatch.extractors.articles"])
    with ctx.Pool(workers) as pool:
        pool.map(_extract_only, [(pages[0][1], base + pages[0][0])] * workers)  # warm up
        started = time.perf_counter()
        pool.map(_extract_only, [(html, base + path) for path, html in pages], chunksize=8)
        return time.perf_counter() - started


def children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def runner_section(runner: str, workers: int, dask_workers: int) -> str:
    """[extract] and [runner] for the run: with Dask, the same number of extraction processes
    in all, split over the temporary cluster's worker processes."""
    if runner == "local":
        return f"[extract]\nworkers = {workers}\n"
    per_worker = max(1, workers // dask_workers)
    return (
        f"[extract]\nworkers = {per_worker}\n"
        f'[runner]\nkind = "dask"\ndask_workers = {dask_workers}\n'
    )


def run_one(
    n: int,
    workers: int,
    per_feed: int,
    workdir: Path,
    eval_dir: Path | None,
    runner: str = "local",
    dask_workers: int = 2,
) -> dict[str, float]:
    from spacewatch.flows import pipeline
    from spacewatch.loopback import Route, serve_forever_in_subprocess

    pages = eval_pages(n, eval_dir) if eval_dir else make_pages(n)
    routes = {
        path: Route(body=html, content_type="text/html; charset=utf-8") for path, html in pages
    }
    for path, body in make_feeds(pages, per_feed).items():
        routes[path] = Route(body=body, content_type="application/rss+xml")
    base, stop = serve_forever_in_subprocess(routes, substitute_base=True)
    try:
        config = workdir / f"bench-{n}.toml"
        feeds = "".join(
            f'[[feeds]]\nurl = "{base}{p}"\n' for p in routes if p.startswith("/feeds/")
        )
        config.write_text(
            f'[warehouse]\npath = "bench-{n}.duckdb"\n[fetch]\nallow_private_addresses = true\n'
            f"{runner_section(runner, workers, dask_workers)}{feeds}",
            encoding="utf-8",
        )
        started = time.perf_counter()
        summary = pipeline.run_pipeline(config)
        wall = time.perf_counter() - started
        floor = floor_seconds(pages, base, workers)
    finally:
        stop()
    return {
        "n": n,
        "stored": summary.articles_new,
        "wall_s": wall,
        "floor_s": floor,
        "ratio": wall / floor,
        "articles_per_s": summary.articles_new / wall,
        "poll_s": summary.poll_s,
        "articles_s": summary.articles_s,
        "extract_cpu_s": summary.extract_s,
        "store_s": summary.store_s,
        "orchestration_s": wall - summary.total_s - summary.snapshot_s,
        "snapshot_s": summary.snapshot_s,
        "peak_main_mb": self_peak_mb(),
    }


def warm_prefect() -> float:
    """Start Prefect's embedded server once (the one-off cost), with a trivial flow."""
    from prefect import flow

    @flow(name="bench-warmup")
    def warmup() -> int:
        return 1

    started = time.perf_counter()
    warmup()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, action="append", help="N (repeatable)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--per-feed", type=int, default=100, help="items per feed")
    parser.add_argument("--repeat", type=int, default=1, help="runs per N; medians reported")
    parser.add_argument(
        "--runner",
        choices=("local", "dask"),
        default="local",
        help="where chunks are fetched and extracted: the flow's pool, or a temporary local "
        "Dask cluster (needs spacewatch[dask]; --workers extraction processes in all)",
    )
    parser.add_argument("--dask-workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument(
        "--pages",
        choices=("eval", "synthetic"),
        default="eval",
        help="real news pages from ../shared/eval (default, when present) or generated pages "
        "on the sample's templates (about 11 kB each, several times lighter than real pages)",
    )
    args = parser.parse_args()
    eval_dir = default_eval_dir() if args.pages == "eval" else None
    sizes = args.articles or [1000]
    if len(sizes) > 1:
        # One process per size, so each peak-memory figure belongs to its own N.
        for n in sizes:
            argv = [
                sys.argv[0],
                "--articles",
                str(n),
                "--workers",
                str(args.workers),
                "--per-feed",
                str(args.per_feed),
                "--repeat",
                str(args.repeat),
                "--runner",
                args.runner,
                "--dask-workers",
                str(args.dask_workers),
            ]
            subprocess.run([sys.executable, *argv], check=True)
        return 0

    home = tempfile.mkdtemp(prefix="spacewatch-bench-prefect-")
    os.environ.setdefault("PREFECT_HOME", home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    startup = warm_prefect()
    n = sizes[0]
    runs = []
    with tempfile.TemporaryDirectory(prefix="spacewatch-bench-") as tmp:
        for i in range(args.repeat):
            workdir = Path(tmp) / f"run{i}"
            workdir.mkdir()
            runs.append(
                run_one(
                    n,
                    args.workers,
                    args.per_feed,
                    workdir,
                    eval_dir,
                    args.runner,
                    args.dask_workers,
                )
            )
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    pages = f"real pages from {eval_dir}" if eval_dir else "synthetic pages"
    print(f"N={n} workers={args.workers} items/feed={args.per_feed} runs={args.repeat} (medians)")
    if args.runner == "dask":
        print(f"  runner: temporary local Dask cluster of {args.dask_workers} worker processes")
    print(f"  pages: {pages}")
    print(f"  Prefect embedded server start (one-off, not in the figures): {startup:.1f} s")
    print(f"  articles stored        {med['stored']:.0f}")
    print(
        f"  pipeline wall time     {med['wall_s']:.1f} s  ({med['articles_per_s']:.1f} articles/s)"
    )
    print(f"  floor (trafilatura)    {med['floor_s']:.1f} s  -> ratio {med['ratio']:.2f}")
    print(
        f"  split: polling {med['poll_s']:.1f} s, fetch+extract stage {med['articles_s']:.1f} s, "
        f"storing {med['store_s']:.2f} s, Prefect and set-up {med['orchestration_s']:.1f} s"
    )
    print(
        f"  extraction work in workers {med['extract_cpu_s']:.1f} s "
        f"(/{args.workers} = {med['extract_cpu_s'] / args.workers:.1f} s)"
    )
    print(f"  analysts' snapshot published in {med['snapshot_s']:.1f} s (inside the wall time)")
    print(
        f"  peak RSS: main process {med['peak_main_mb']:.0f} MB, "
        f"largest worker {children_peak_mb():.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
