"""Extraction quality on two public benchmarks: the real pipeline against trafilatura directly.

    .venv/bin/python bench/quality.py [--eval-dir DIR] [--json OUT] [--processes 2] [--keep]

Benchmarks (see the eval material's README.md; pages stay there, nothing is copied here):

* ``html/scrapinghub_aeb``: 181 news pages with a human-annotated article body. Metric of
  scrapinghub/article-extraction-benchmark ``evaluate.py``: tokens ``\\w+``, 4-gram shingle
  counts per page normalised to one, precision averaged over pages with predicted shingles,
  recall over pages with true shingles, F1 from those two means. An empty output therefore
  costs recall only.
* ``html/trafilatura_eval_en``: 166 pages with snippets that must (``with``) and must not
  (``without``) appear. A ``with`` snippet found is a true positive, a missing one a false
  negative, a ``without`` snippet found a false positive; P, R and F1 over the whole set.
  Snippets and output are whitespace-normalised first, as trafilatura's own
  ``tests/eval_common.py`` does; that is what reproduces the published 0.928.

The pipeline row comes from a real ``run_pipeline``: every page is served (gzip-encoded, as
stored) by a loopback HTTP server, listed in one RSS feed per benchmark whose items carry a
link and a one-word title but no summary or content (so a fallback to feed text cannot
inflate scores), fetched, extracted in the pipeline's worker pool and stored in a throw-away
DuckDB warehouse; the ``text`` column is then scored. A page without stored text scores as
empty output. The other rows call trafilatura directly on the same bytes in a process pool.
"""

from __future__ import annotations

import argparse
import atexit
import gzip
import json
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import trafilatura

from spacewatch.extractors.articles import DEFAULT_SETTINGS, ExtractionSettings, extract_article

REPO = Path(__file__).resolve().parent.parent
EVAL_CANDIDATES = (REPO.parent / "shared" / "eval", Path("/work/shared/eval"))
AEB, TEB = "scrapinghub_aeb", "trafilatura_eval_en"
BENCHMARKS = (AEB, TEB)
METRIC = {
    AEB: "4-gram shingles, macro-averaged P and R",
    TEB: "with/without snippets, pooled over the set",
}
# From the eval README: (label, precision, recall, f1); None where not published.
PUBLISHED: dict[str, list[tuple[str, float | None, float | None, float]]] = {
    AEB: [("trafilatura 2.0.0", 0.938, 0.978, 0.958), ("trafilatura 2.3.1", None, None, 0.960)],
    TEB: [("trafilatura 2.3.1", None, None, 0.928)],
}
PUBLISHED_REFERENCE = {AEB: 0.960, TEB: 0.928}  # trafilatura 2.3.1, for the delta column

PIPELINE = "pipeline: stored text (run_pipeline)"
DIRECT_DEFAULT = "extract_article default (the pipeline's)"
# A setting is either extract_article's settings or keyword arguments of trafilatura.extract;
# PAGE_URL there stands for the page's address.
PAGE_URL = object()
DIRECT_SETTINGS: dict[str, ExtractionSettings | dict[str, Any]] = {
    DIRECT_DEFAULT: DEFAULT_SETTINGS,
    "extract_article favor_precision": ExtractionSettings(favor_precision=True),
    "extract_article favor_recall": ExtractionSettings(favor_recall=True),
    "trafilatura.extract default (comments on)": {"url": PAGE_URL},
    "trafilatura.extract no comments, no url (published recipe)": {"include_comments": False},
}
SETTINGS = (PIPELINE, *DIRECT_SETTINGS)


# --- benchmark material ----------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    bench: str
    key: str  # the benchmark's own id: a hash (scrapinghub) or the original URL (trafilatura)
    gz_path: Path
    route: str  # path on the loopback server


def locate_eval_dir(option: Path | None) -> Path:
    candidates = [option] if option is not None else list(EVAL_CANDIDATES)
    for candidate in candidates:
        if all((candidate / "html" / bench).is_dir() for bench in BENCHMARKS):
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise SystemExit(
        f"quality.py: eval material not found (tried {tried}); pass --eval-dir pointing at a "
        f"folder with html/{AEB} and html/{TEB}"
    )


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def load_pages(eval_dir: Path) -> tuple[list[Page], dict[str, dict[str, Any]]]:
    """Pages of both benchmarks in a fixed order, and each benchmark's gold data by key."""
    pages: list[Page] = []
    gold: dict[str, dict[str, Any]] = {}
    aeb_dir = eval_dir / "html" / AEB
    truth = json.loads((aeb_dir / "ground-truth.json").read_text("utf-8"))
    gold[AEB] = {key: (item.get("articleBody") or "") for key, item in truth.items()}
    for key in truth:
        gz = aeb_dir / "html" / f"{key}.html.gz"
        pages.append(Page(AEB, key, gz, f"/{AEB}/{_slug(key)}.html"))
    teb_dir = eval_dir / "html" / TEB
    annotations = json.loads((teb_dir / "annotations.json").read_text("utf-8"))
    gold[TEB] = annotations
    routes: set[str] = set()
    for key, item in annotations.items():
        gz = teb_dir / item["html_file"]
        route = f"/{TEB}/{_slug(gz.name.removesuffix('.gz'))}"
        while route in routes:
            route += "_"
        routes.add(route)
        pages.append(Page(TEB, key, gz, route))
    missing = [str(p.gz_path) for p in pages if not p.gz_path.is_file()]
    if missing:
        raise SystemExit(f"quality.py: {len(missing)} benchmark pages missing, e.g. {missing[0]}")
    return pages, gold


# --- scoring ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)
_WS = re.compile(r"\s+")


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    pages: int
    empty: int  # pages with no output at all
    counts: dict[str, int] = field(default_factory=dict)  # tp/fp/fn for the snippet metric
    extract_s: float | None = None  # summed extraction time (direct runs only)


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    # As evaluate.py: a text shorter than four tokens is one shorter shingle, "" has none.
    tokens = _TOKEN.findall(text or "")
    return Counter(
        tuple(tokens[i : i + 4]) for i in range(max(1, len(tokens) - 3)) if tokens[i : i + 4]
    )


def shingle_tp_fp_fn(true: str, pred: str) -> tuple[float, float, float]:
    t, p = _shingles(true), _shingles(pred)
    tp = fp = fn = 0.0
    for key in t.keys() | p.keys():
        tc, pc = t.get(key, 0), p.get(key, 0)
        tp += min(tc, pc)
        fp += max(0, pc - tc)
        fn += max(0, tc - pc)
    total = tp + fp + fn
    if total > 0:  # normalised so that long pages do not weigh more
        return tp / total, fp / total, fn / total
    return tp, fp, fn


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fp == 0:
        return 0.0
    return tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fn == 0:
        return 0.0
    return tp / (tp + fn)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score_shingles(gold: dict[str, str], outputs: dict[str, str | None]) -> Score:
    triples = [shingle_tp_fp_fn(gold[key], outputs.get(key) or "") for key in gold]
    ps = [_precision(*t) for t in triples if t[0] + t[1] > 0]
    rs = [_recall(*t) for t in triples if t[0] + t[2] > 0]
    p = statistics.mean(ps) if ps else 0.0
    r = statistics.mean(rs) if rs else 0.0
    empty = sum(1 for key in gold if not outputs.get(key))
    return Score(p, r, _f1(p, r), len(gold), empty)


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def score_snippets(items: dict[str, dict[str, Any]], outputs: dict[str, str | None]) -> Score:
    tp = fp = fn = 0
    for key, item in items.items():
        text = _norm(outputs.get(key) or "")
        found = sum(1 for s in item["with"] if _norm(s) in text) if text else 0
        tp += found
        fn += len(item["with"]) - found
        fp += sum(1 for s in item["without"] if _norm(s) in text) if text else 0
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    empty = sum(1 for key in items if not outputs.get(key))
    return Score(p, r, _f1(p, r), len(items), empty, {"tp": tp, "fp": fp, "fn": fn})


def score(bench: str, gold: dict[str, Any], outputs: dict[str, str | None]) -> Score:
    return score_shingles(gold, outputs) if bench == AEB else score_snippets(gold, outputs)


# --- direct runs (worker processes) ----------------------------------------------------------


def _direct_job(job: tuple[str, str, str, str]) -> tuple[str, str, dict[str, Any]]:
    """Every direct setting on one page: (bench, key, {setting: (text, seconds)})."""
    bench, key, gz_path, url = job
    html = gzip.decompress(Path(gz_path).read_bytes())
    results: dict[str, Any] = {}
    for name, spec in DIRECT_SETTINGS.items():
        started = time.perf_counter()
        try:
            if isinstance(spec, ExtractionSettings):
                text = extract_article(html, url, spec).text
            else:
                kwargs = {k: (url if v is PAGE_URL else v) for k, v in spec.items()}
                text = trafilatura.extract(html, **kwargs)
        except Exception:  # a crash counts as empty output, as in both benchmarks
            text = None
        results[name] = (text, time.perf_counter() - started)
    return bench, key, results


def run_direct(
    pages: list[Page], urls: dict[Page, str], processes: int
) -> tuple[dict[str, dict[str, dict[str, str | None]]], dict[str, dict[str, float]]]:
    """texts[setting][bench][key] and seconds[setting][bench], from a pool of processes."""
    jobs = [(p.bench, p.key, str(p.gz_path), urls[p]) for p in pages]
    texts: dict[str, dict[str, dict[str, str | None]]] = {
        name: {bench: {} for bench in BENCHMARKS} for name in DIRECT_SETTINGS
    }
    seconds = {name: dict.fromkeys(BENCHMARKS, 0.0) for name in DIRECT_SETTINGS}
    # spawn: the workers share nothing with this process (no threads, no Prefect).
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        for bench, key, results in pool.imap_unordered(_direct_job, jobs, chunksize=4):
            for name, (text, spent) in results.items():
                texts[name][bench][key] = text
                seconds[name][bench] += spent
    return texts, seconds


# --- the real pipeline -----------------------------------------------------------------------


def prepare_prefect(workdir: Path) -> None:
    """A throw-away Prefect home and an ephemeral server; must run before Prefect is imported."""
    home = workdir / "prefect-home"
    home.mkdir()
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.pop("PREFECT_API_URL", None)  # never write benchmark runs to a real server


def rss(title: str, items: list[tuple[str, str]]) -> bytes:
    """RSS 2.0 whose items have a link, a guid and a one-word title, and no text at all."""
    body = "".join(
        f"<item><title>{escape(word)}</title><link>{escape(url)}</link>"
        f'<guid isPermaLink="true">{escape(url)}</guid></item>\n'
        for word, url in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<description>Spacewatch quality benchmark</description>\n{body}</channel></rss>\n"
    ).encode()


def write_config(workdir: Path, feed_urls: list[tuple[str, str]]) -> Path:
    feeds = "".join(f'\n[[feeds]]\nurl = "{url}"\nname = "{name}"\n' for url, name in feed_urls)
    config = workdir / "spacewatch.toml"
    config.write_text(
        "# Written by bench/quality.py: benchmark pages served on loopback.\n"
        '[warehouse]\npath = "quality.duckdb"\n\n'
        "[fetch]\nallow_private_addresses = true\n" + feeds,
        encoding="utf-8",
    )
    return config


@dataclass
class PipelineResult:
    texts: dict[str, dict[str, str | None]]  # bench -> key -> stored text
    methods: dict[str, Counter[str]]  # bench -> extraction_method -> pages ("not stored" too)
    rows: dict[tuple[str, str], tuple[Any, ...]]  # (bench, key) -> stored row
    summary: list[str]
    counters: dict[str, Any]
    seconds: float


def serve_pages(server: Any, pages: list[Page]) -> list[tuple[str, str]]:
    """Every page on the loopback server plus one feed per benchmark; (feed URL, name) pairs."""
    from spacewatch.loopback import Route, static_route

    for page in pages:
        # The files are gzip already: served as Content-Encoding: gzip, byte for byte.
        body = page.gz_path.read_bytes()
        server.set(page.route, Route(body=body, content_type="text/html", raw_gzip=True))
    feed_urls = []
    for bench in BENCHMARKS:
        items = [
            (f"page{i}", server.url(p.route))
            for i, p in enumerate(q for q in pages if q.bench == bench)
        ]
        path = f"/feeds/{bench}.xml"
        server.set(path, static_route(rss(bench, items), "application/rss+xml"))
        feed_urls.append((server.url(path), bench))
    return feed_urls


def run_real_pipeline(
    pages: list[Page], urls: dict[Page, str], feed_urls: list[tuple[str, str]], workdir: Path
) -> PipelineResult:
    """run_pipeline on the served feeds, then the stored text of every page from DuckDB."""
    import duckdb

    from spacewatch.extractors.urls import canonical_url
    from spacewatch.flows.pipeline import run_pipeline

    started = time.perf_counter()
    summary = run_pipeline(write_config(workdir, feed_urls))
    seconds = time.perf_counter() - started
    by_url = {canonical_url(urls[p]): p for p in pages}
    con = duckdb.connect(str(workdir / "quality.duckdb"), read_only=True)
    try:
        stored = con.execute(
            "SELECT canonical_url, text, extraction_method, word_count, fetch_outcome, "
            "fetch_error FROM articles"
        ).fetchall()
    finally:
        con.close()
    texts: dict[str, dict[str, str | None]] = {bench: {} for bench in BENCHMARKS}
    rows: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in stored:
        page = by_url.get(row[0])
        if page is not None:
            texts[page.bench][page.key] = row[1]
            rows[(page.bench, page.key)] = row
    methods: dict[str, Counter[str]] = {bench: Counter() for bench in BENCHMARKS}
    for page in pages:
        row = rows.get((page.bench, page.key))
        methods[page.bench][row[2] if row else "not stored"] += 1
    return PipelineResult(
        texts,
        methods,
        rows,
        summary.lines() + [f"  failed: {f}" for f in summary.failures],
        summary.counters(),
        seconds,
    )


def compare_with_direct(
    pages: list[Page], stored: PipelineResult, direct: dict[str, dict[str, str | None]]
) -> list[dict[str, Any]]:
    """Pages whose stored text is not exactly what extract_article returned for them."""
    out = []
    for page in pages:
        mine = direct[page.bench].get(page.key)
        row = stored.rows.get((page.bench, page.key))
        text = row[1] if row else None
        if (text or None) == (mine or None):
            continue
        out.append(
            {
                "bench": page.bench,
                "key": page.key,
                "method": row[2] if row else "not stored",
                "words": row[3] if row else None,
                "fetch": row[4] if row else None,
                "error": row[5] if row else None,
                "stored_chars": len(text or ""),
                "direct_chars": len(mine or ""),
            }
        )
    return out


# --- report ----------------------------------------------------------------------------------


def print_table(scores: dict[str, dict[str, Score]], pages: dict[str, int]) -> None:
    width = max(len(s) for s in SETTINGS) + 2
    for bench in BENCHMARKS:
        print(f"\n{bench} ({pages[bench]} pages; {METRIC[bench]})")
        header = f"  {'setting':<{width}}{'P':>7}{'R':>7}{'F1':>7}{'dF1 pub':>9}"
        print(header + f"{'empty':>7}{'extract s':>11}")
        reference = PUBLISHED_REFERENCE[bench]
        for name in SETTINGS:
            s = scores[bench].get(name)
            if s is None:
                print(f"  {name:<{width}}{'(not run)':>21}")
                continue
            spent = f"{s.extract_s:11.1f}" if s.extract_s is not None else f"{'':11}"
            print(
                f"  {name:<{width}}{s.precision:7.3f}{s.recall:7.3f}{s.f1:7.3f}"
                f"{round(s.f1 - reference, 3) + 0.0:+9.3f}{s.empty:7d}{spent}"
            )
        for label, p, r, f in PUBLISHED[bench]:
            ps = f"{p:7.3f}" if p is not None else f"{'-':>7}"
            rs = f"{r:7.3f}" if r is not None else f"{'-':>7}"
            print(f"  {'published: ' + label:<{width}}{ps}{rs}{f:7.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/quality.py",
        description="Extraction quality of the pipeline and of trafilatura on public benchmarks.",
    )
    parser.add_argument("--eval-dir", type=Path, help="the eval material (default: shared/eval)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers here")
    parser.add_argument("--processes", type=int, default=2, help="pool size for direct runs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary warehouse")
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    eval_dir = locate_eval_dir(args.eval_dir)
    started = time.perf_counter()

    workdir = Path(tempfile.mkdtemp(prefix="spacewatch-quality-"))
    if not args.keep:
        # Registered before Prefect is imported, so it runs after Prefect's own exit hooks.
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    prepare_prefect(workdir)

    pages, gold = load_pages(eval_dir)
    counts = Counter(p.bench for p in pages)
    print(
        f"trafilatura {trafilatura.__version__}; {counts[AEB]} + {counts[TEB]} pages "
        f"from {eval_dir}; work dir {workdir}",
        flush=True,
    )

    from spacewatch.loopback import LoopbackServer

    pipeline: PipelineResult | None = None
    error = None
    with LoopbackServer(record=False) as server:
        feed_urls = serve_pages(server, pages)
        # Each page's address is what the pipeline hands trafilatura; the direct runs get it too.
        urls = {p: server.url(p.route) for p in pages}
        t0 = time.perf_counter()
        direct, seconds = run_direct(pages, urls, args.processes)
        direct_s = time.perf_counter() - t0
        print(
            f"direct runs: {len(DIRECT_SETTINGS)} settings x {len(pages)} pages "
            f"in {direct_s:.1f} s",
            flush=True,
        )
        try:
            pipeline = run_real_pipeline(pages, urls, feed_urls, workdir)
        except Exception as exc:  # still report the direct rows
            error = f"{type(exc).__name__}: {exc}"
            print(f"pipeline run failed: {error}", file=sys.stderr)

    scores: dict[str, dict[str, Score]] = {bench: {} for bench in BENCHMARKS}
    for bench in BENCHMARKS:
        if pipeline is not None:
            scores[bench][PIPELINE] = score(bench, gold[bench], pipeline.texts[bench])
        for name in DIRECT_SETTINGS:
            s = score(bench, gold[bench], direct[name][bench])
            s.extract_s = seconds[name][bench]
            scores[bench][name] = s

    if pipeline is not None:
        print(f"\npipeline run in {pipeline.seconds:.1f} s (Prefect start included):")
        for line in pipeline.summary:
            print(f"  {line}")
        for bench in BENCHMARKS:
            methods = ", ".join(f"{n} {m}" for m, n in pipeline.methods[bench].most_common())
            print(f"  stored text of {bench}: {methods}")
    print_table(scores, dict(counts))

    differing: list[dict[str, Any]] = []
    if pipeline is not None:
        default = {b: direct[DIRECT_DEFAULT][b] for b in BENCHMARKS}
        differing = compare_with_direct(pages, pipeline, default)
        print(
            f"\nstored text differs from extract_article default on {len(differing)} of "
            f"{len(pages)} pages"
        )
        for d in differing[:15]:
            print(
                f"  {d['bench']} {d['key'][:60]}: method={d['method']} words={d['words']} "
                f"fetch={d['fetch']} stored={d['stored_chars']} chars, "
                f"direct={d['direct_chars']} chars" + (f" error={d['error']}" if d["error"] else "")
            )
    elapsed = time.perf_counter() - started
    print(
        f"\nelapsed {elapsed:.1f} s (direct runs {direct_s:.1f} s, pipeline "
        f"{pipeline.seconds if pipeline else 0.0:.1f} s)"
    )

    if args.json:
        pipeline_report = None
        if pipeline is not None:
            pipeline_report = {
                "methods": {b: dict(pipeline.methods[b]) for b in BENCHMARKS},
                "summary": pipeline.counters,
                "differs_from_direct_default": differing,
            }
        report = {
            "trafilatura": trafilatura.__version__,
            "eval_dir": str(eval_dir),
            "pages": dict(counts),
            "elapsed_s": round(elapsed, 2),
            "direct_s": round(direct_s, 2),
            "pipeline_s": round(pipeline.seconds, 2) if pipeline else None,
            "pipeline_error": error,
            "metric": METRIC,
            "scores": {b: {n: asdict(s) for n, s in scores[b].items()} for b in BENCHMARKS},
            "published": {
                b: [
                    dict(zip(("label", "precision", "recall", "f1"), row, strict=True))
                    for row in PUBLISHED[b]
                ]
                for b in BENCHMARKS
            },
            "pipeline": pipeline_report,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"numbers written to {args.json}")
    if args.keep:
        print(f"warehouse kept at {workdir / 'quality.duckdb'}")
    return 1 if error else 0


if __name__ == "__main__":
    raise SystemExit(main())
