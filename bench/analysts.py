"""Analysts' queries on a large synthetic warehouse: are the views and search fast enough?

Builds a warehouse of N articles (default 1,000,000) through the project's own schema
(`open_for_writing`), entirely in bulk SQL: titles and texts are drawn from a vocabulary made of
the seed corpus, the actors' names and the themes' phrases; actors and themes are assigned with
a skew (a few actors dominate, as in real news), dates spread over five years, ~80 feeds, a
share of syndicated copies (story_id shared by three outlets). Then publishes the analysts'
snapshot with `warehouse/snapshot.py` (copy plus BM25 index), and, in a fresh process reading
the snapshot, times each trend view, the cookbook's queries and the search query (median of
--repeat runs). The goal from the analysts' issue: every query under 1 s.

    python bench/analysts.py                           # 1,000,000 articles (a few minutes)
    python bench/analysts.py --articles 100000 --repeat 3
    python bench/analysts.py --reuse                   # keep the warehouse, refresh views,
                                                       # republish the snapshot, time again
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
COOKBOOK = ROOT / "docs" / "sql-cookbook.md"

_FILLER_TEXT = """
the a of to in and for on with by from at as that said will has have was were government
ministry officials plan programme launch mission agency orbit satellite station lunar moon
mars crew rocket budget congress treaty policy law defence military security cooperation
partners contract industry commercial market private funding year month week spokesman
statement announced reported according sources director minister president council committee
parliament talks agreement strategy national international global new first second next last
next-generation module capsule engine booster payload spacecraft research science scientists
experts analysts report week deadline schedule delay cost billion million percent test
flight landing surface south pole water ice resources
"""
FILLER = _FILLER_TEXT.split()


TAIL_WORDS = 20_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--words", type=int, default=120, help="filler words per text")
    parser.add_argument("--feeds", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/spacewatch-bench-analysts"))
    parser.add_argument("--reuse", action="store_true", help="keep an existing warehouse")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--split", action="store_true", help="also time the snapshot's copy and index separately"
    )
    parser.add_argument(
        "--queries-only", type=Path, metavar="SNAPSHOT", help="only time the queries on a snapshot"
    )
    return parser.parse_args()


# --- building the warehouse ------------------------------------------------------------------


def build_vocabulary() -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[str]]:
    """(actor id, name), (theme id, English phrase), filler words from the seed corpus."""
    from spacewatch.seeds.registry import load_corpus
    from spacewatch.seeds.tagging import load_tagger

    registry = load_tagger()[1]
    actors = [(a.id, a.name) for a in registry.actors]
    themes = []
    for theme in registry.themes:
        phrases = [p.text for p in theme.phrases if p.language == "en" and "*" not in p.text]
        themes.append((theme.id, max(phrases, key=len) if phrases else theme.id))
    # Word frequencies follow a power law as in real text: function words first (drawn most
    # often), then the seed corpus' words, the domain's words, then a long tail of made-up
    # words, so the index has a realistic dictionary and a term is not in most articles.
    stop = FILLER[: FILLER.index("government")]
    words = list(dict.fromkeys(stop))
    for doc in load_corpus(None):
        for w in re.findall(r"[A-Za-z][A-Za-z-]{2,}", doc.text):
            if w.lower() not in words:
                words.append(w.lower())
    words += [w for w in FILLER if w not in words]
    syllables = ["ka", "ro", "ni", "ve", "tal", "mor", "quin", "sa", "de", "lu", "bre", "ost"]
    tail = {
        "".join(syllables[(n // len(syllables) ** k) % len(syllables)] for k in range(4))
        for n in range(TAIL_WORDS)
    }
    return actors, themes, words + sorted(tail - set(words))


def generate(con: duckdb.DuckDBPyConnection, n: int, words: int, feeds: int) -> None:
    """Fill every table analysts read, in bulk (INSERT ... SELECT over generated rows)."""
    from spacewatch.seeds.registry import load_corpus
    from spacewatch.seeds.tagging import load_tagger
    from spacewatch.warehouse.tags import save_registry, save_seed_tags

    tagger, registry, version = load_tagger()
    save_registry(con, registry, version)
    save_seed_tags(con, [(d.name, tagger.tag(d.text)) for d in load_corpus(None)], version)
    actors, themes, vocab = build_vocabulary()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TEMP TABLE actor_pool AS SELECT unnest($a) AS id, unnest($b) AS name",
        {"a": [a for a, _ in actors], "b": [b for _, b in actors]},
    )
    con.execute(
        "CREATE TEMP TABLE vocab AS SELECT $v AS words, $an AS actor_names, "
        "$ai AS actor_ids, $ti AS theme_ids, $tp AS theme_phrases",
        {
            "v": vocab,
            "an": [b for _, b in actors],
            "ai": [a for a, _ in actors],
            "ti": [t for t, _ in themes],
            "tp": [p for _, p in themes],
        },
    )
    con.execute(
        "CREATE TEMP MACRO zipf_word(words, x) AS "
        "words[1 + floor(len(words) * pow((x % 1000003) / 1000003.0, 5))::BIGINT]"
    )
    con.execute("BEGIN")
    con.execute(
        """INSERT INTO feeds (feed_id, configured_url, url, name, title, created_at,
               last_polled_at, last_success_at, last_outcome, consecutive_failures)
           SELECT i, 'https://outlet' || i || '.example/feed', 'https://outlet' || i
                  || '.example/feed', 'Outlet ' || i, 'Outlet ' || i || ' news',
                  now() - INTERVAL 1825 DAY, now(), now(), 'ok', 0
           FROM range(1, $f + 1) t(i)""",
        {"f": feeds},
    )
    # One row per article with its random draws; copies (i % 7 in 1, 2) share the story, the
    # date and the tags of the article before them, as syndicated wire stories do.
    con.execute(
        """CREATE TEMP TABLE gen AS
           SELECT i + 1 AS article_id,
                  CASE WHEN i % 7 IN (1, 2) THEN i - i % 7 + 1 ELSE i + 1 END AS story_id,
                  (i % $f) + 1 AS feed_id,
                  (hash(CASE WHEN i % 7 IN (1, 2) THEN i - i % 7 ELSE i END) >> 1)::BIGINT AS h
           FROM range($n) t(i)""",
        {"n": n, "f": feeds},
    )
    na, nt = len(actors), len(themes)
    # Skewed draws: index = floor(count * u^2) favours the first entries (about 1 in 3 draws
    # hit the first tenth), like the few actors who dominate the news.
    con.execute(
        f"""CREATE TEMP TABLE gen2 AS
            SELECT g.*,
                   TIMESTAMPTZ '2026-11-01 00:00:00+00'
                     - to_seconds((h % (1825 * 86400))::BIGINT) AS event_at,
                   (h >> 8) % 10 < 6 AS relevant,
                   list_distinct(list_transform(range(1 + (h >> 12) % 4),
                       lambda j: 1 + floor({na} * pow(((hash(h, j) % 1000) / 1000.0), 2))::INT))
                     AS actor_idx,
                   list_distinct(list_transform(range((h >> 16) % 3), lambda j:
                       1 + floor({nt} * pow(((hash(h, j, 't') % 1000) / 1000.0), 1.5))::INT))
                     AS theme_idx
            FROM gen g"""
    )
    con.execute(
        f"""INSERT INTO articles (article_id, canonical_url, url, story_id, title, author,
                published_at, first_seen_at, language, site_name, description, text,
                extraction_method, fetch_outcome, http_status, content_hash, word_count, run_id)
            SELECT article_id, 'https://outlet' || feed_id || '.example/a/' || article_id,
                   'https://outlet' || feed_id || '.example/a/' || article_id, story_id,
                   v.actor_names[actor_idx[1]] || ' ' || zipf_word(v.words, h >> 20)
                     || ' ' || coalesce(v.theme_phrases[theme_idx[1]],
                                        zipf_word(v.words, h >> 24))
                     || ' ' || zipf_word(v.words, h >> 28) AS title,
                   'Reporter ' || (h % 500),
                   CASE WHEN h % 20 = 0 THEN NULL ELSE event_at END,
                   event_at + INTERVAL 1 HOUR, 'en', 'Outlet ' || feed_id, NULL,
                   array_to_string(list_transform(actor_idx, lambda a: v.actor_names[a]), ', ')
                     || ' ' || array_to_string(list_transform(theme_idx,
                                   lambda t: v.theme_phrases[t]), '. ')
                     || ' ' || array_to_string(list_transform(range({words}),
                          lambda j: zipf_word(v.words, hash(article_id, j))), ' '),
                   'trafilatura', 'ok', 200, md5(article_id::VARCHAR), {words} + 10, 1
            FROM gen2, vocab v"""
    )
    con.execute(
        """INSERT INTO article_sources
           SELECT feed_id, 'guid-' || article_id, article_id,
                  'https://outlet' || feed_id || '.example/a/' || article_id || '?utm_source=rss',
                  NULL, event_at, event_at + INTERVAL 1 HOUR, 1 FROM gen2"""
    )
    con.execute(
        """INSERT INTO article_tags
           SELECT article_id, $v, now(), 'en', true, relevant,
                  CASE WHEN relevant THEN 0.6 ELSE 0.2 END + (h % 30) / 100.0, (h % 50) / 100.0,
                  false FROM gen2""",
        {"v": version},
    )
    con.execute(
        """INSERT INTO article_actors
           SELECT article_id, v.actor_ids[a], (1 + hash(article_id, a) % 6)::INTEGER,
                  ['…' || v.actor_names[a] || ' said…'], ['alias'], $v
           FROM (SELECT article_id, unnest(actor_idx) AS a FROM gen2), vocab v""",
        {"v": version},
    )
    con.execute(
        """INSERT INTO article_themes
           SELECT article_id, v.theme_ids[t], 0.3 + (hash(article_id, t) % 70) / 100.0,
                  [v.theme_phrases[t]], $v
           FROM (SELECT article_id, unnest(theme_idx) AS t FROM gen2), vocab v""",
        {"v": version},
    )
    con.execute(
        """INSERT INTO emerging_actors
           SELECT 'Candidate ' || i, 50 - i, 40 - i, [i * 1000 + 1, i * 1000 + 2], now()
           FROM range(1, 30) t(i)"""
    )
    # Alerts: one story in 50 matched a topic, for three subscribers; one destination each
    # (mail) or two (mail and chat), a few failed.
    con.execute(
        """INSERT INTO alerts (alert_id, topic_id, rule_version, story_id, article_id, subscriber,
               mode, severity, evidence, status, attempts, last_error, created_at, sent_at)
           SELECT row_number() OVER (), 'topic_' || (h % 5), 'r1', story_id, article_id,
                  'desk_' || s, CASE WHEN s = 3 THEN 'digest' ELSE 'immediate' END, 'info',
                  ['lunar station'], CASE WHEN h % 100 = 0 THEN 'failed' ELSE 'sent' END,
                  1, CASE WHEN h % 100 = 0 THEN 'mailto://***@relay: refused' END,
                  event_at + INTERVAL 1 HOUR, event_at + INTERVAL 1 HOUR
           FROM gen2, range(1, 4) t(s) WHERE article_id = story_id AND h % 50 = 0"""
    )
    con.execute(
        """INSERT INTO alert_deliveries
           SELECT alert_id, d.destination, CASE WHEN status = 'failed' THEN 'failed' ELSE 'sent'
                  END, 1, last_error, sent_at
           FROM alerts, (VALUES ('mailto://***@relay.example'), ('json://***@chat.example'))
                d(destination)
           WHERE mode = 'immediate' AND (subscriber = 'desk_1' OR d.destination LIKE 'mailto%')"""
    )
    con.execute(
        """INSERT INTO runs (run_id, started_at, finished_at, status, articles_new)
           VALUES (1, now(), now(), 'completed', $n)""",
        {"n": n},
    )
    con.execute("COMMIT")
    con.execute("DROP TABLE gen")
    con.execute("DROP TABLE gen2")
    con.execute("CHECKPOINT")


# --- the queries ------------------------------------------------------------------------------

# Its first form, kept to show the difference: BM25 and the filters over the whole view.
SEARCH_SQL_BEFORE = """SELECT round(score, 3) AS score, strftime(v.event_at, '%Y-%m-%d') AS date,
       v.site_name AS source, v.title, v.themes, v.url
FROM (SELECT *, fts_main_articles.match_bm25(article_id, ?) AS score FROM v_articles) v
WHERE {where}
ORDER BY score DESC, v.article_id LIMIT 20"""
ACTOR_FILTER = (
    "EXISTS (SELECT 1 FROM article_actors x WHERE x.article_id = v.article_id AND x.actor_id = ?)"
)


def queries() -> list[tuple[str, str, list]]:
    """(name, SQL, parameters): the views, the cookbook's questions, the search query."""
    found: list[tuple[str, str, list]] = [
        ("v_actor_trends: all rows", "SELECT * FROM v_actor_trends", []),
        (
            "v_actor_trends: one actor by week",
            "SELECT * FROM v_actor_trends WHERE actor_id = 'roscosmos' AND grain = 'week' "
            "ORDER BY period",
            [],
        ),
        ("v_theme_trends: all rows", "SELECT * FROM v_theme_trends", []),
        (
            "v_theme_trends: one theme by week",
            "SELECT * FROM v_theme_trends WHERE theme_id = 'moon_base_ilrs' AND grain = 'week' "
            "ORDER BY period",
            [],
        ),
        ("v_recurring", "SELECT * FROM v_recurring", []),
        ("v_emerging_actors", "SELECT * FROM v_emerging_actors", []),
        ("v_feed_health", "SELECT * FROM v_feed_health", []),
        ("v_alert_log", "SELECT * FROM v_alert_log", []),
        ("v_articles: count", "SELECT count(*) FROM v_articles", []),
        (
            "v_articles: one month, relevant",
            "SELECT article_id, title, themes, actors FROM v_articles WHERE relevant AND "
            "event_at >= TIMESTAMPTZ '2026-06-01 00:00:00+00' AND "
            "event_at < TIMESTAMPTZ '2026-07-01 00:00:00+00'",
            [],
        ),
    ]
    markdown = COOKBOOK.read_text("utf-8")
    pattern = re.compile(r"^### (?P<title>.+?)$|```sql\n(?P<sql>.*?)```", re.DOTALL | re.MULTILINE)
    title = ""
    for match in pattern.finditer(markdown):
        if match["title"]:
            title = match["title"]
        elif match["sql"]:
            found.append((f"cookbook: {title}", match["sql"], []))
    from spacewatch.warehouse.search import SearchFilters, build_search

    since = "2025-11-01"
    # What `spacewatch search` runs, built by the same function.
    plain = build_search("lunar station", SearchFilters(relevant=False))
    filtered = build_search(
        "lunar station",
        SearchFilters(actors=("roscosmos",), since=datetime.fromisoformat(since), relevant=True),
    )
    found += [
        ("search 'lunar station' (no filter)", *plain),
        ("search 'lunar station' --actor roscosmos --since 1y --relevant", *filtered),
        (
            "search, first form (no filter)",
            SEARCH_SQL_BEFORE.format(where="score IS NOT NULL"),
            ["lunar station"],
        ),
        (
            "search, first form (--actor --since --relevant)",
            SEARCH_SQL_BEFORE.format(
                where=f"score IS NOT NULL AND {ACTOR_FILTER} AND v.event_at >= ? AND v.relevant"
            ),
            ["lunar station", "roscosmos", since],
        ),
    ]
    return found


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM restarts at exec, unlike ru_maxrss, which a child
    inherits from the parent it was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_queries(snapshot: Path, repeat: int) -> dict:
    """Runs in a fresh process, so its peak memory is the readers' alone."""
    from spacewatch.warehouse.snapshot import open_snapshot

    opened = time.perf_counter()
    warehouse = snapshot.with_name(snapshot.name.replace(".snapshot.duckdb", ".duckdb"))
    con = open_snapshot(warehouse)
    open_s = time.perf_counter() - opened
    results = []
    for name, sql, params in queries():
        times, rows = [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            rows = con.execute(sql, params).fetch_arrow_table().num_rows
            times.append(time.perf_counter() - started)
        results.append(
            {"query": name, "median_s": statistics.median(times), "rows": rows, "max_s": max(times)}
        )
    con.close()
    peak_mb = peak_rss_mb()
    return {"open_s": open_s, "queries": results, "reader_peak_rss_mb": peak_mb}


def time_search_command(config: Path, repeat: int) -> float:
    """The whole `spacewatch search` command, process start included."""
    command = [
        str(Path(sys.executable).with_name("spacewatch")),
        "search",
        "lunar station",
        "--actor",
        "roscosmos",
        "--since",
        "365d",
        "--relevant",
        "--config",
        str(config),
        "--format",
        "json",
    ]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, timeout=600)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def time_snapshot_parts(con: duckdb.DuckDBPyConnection, workdir: Path) -> dict:
    """The two halves of publish_snapshot, apart: the database copy and the BM25 index."""
    from spacewatch.warehouse.fts import load_fts
    from spacewatch.warehouse.sqltext import sql_identifier, sql_string

    scratch = workdir / "split.duckdb"
    scratch.unlink(missing_ok=True)
    source = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    started = time.perf_counter()
    con.execute(f"ATTACH {sql_string(scratch)} AS split_copy")
    con.execute(f"COPY FROM DATABASE {sql_identifier(source)} TO split_copy")
    con.execute("DETACH split_copy")
    copy_s = time.perf_counter() - started
    snap = duckdb.connect(str(scratch))
    load_fts(snap)
    started = time.perf_counter()
    snap.execute(
        "PRAGMA create_fts_index('articles', 'article_id', 'title', 'text', "
        "stemmer = 'english', overwrite = 1)"
    )
    snap.execute("CHECKPOINT")
    index_s = time.perf_counter() - started
    snap.close()
    scratch.unlink()
    return {"copy_s": copy_s, "fts_index_s": index_s}


def main() -> None:
    args = parse_args()
    if args.queries_only:
        print(json.dumps(time_queries(args.queries_only, args.repeat)))
        return

    from spacewatch.warehouse.connect import open_for_writing
    from spacewatch.warehouse.snapshot import publish_snapshot

    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / "wh.duckdb"
    figures: dict = {"articles": args.articles, "words": args.words, "feeds": args.feeds}
    if not args.reuse:
        for old in args.workdir.glob("wh*"):
            old.unlink()
    fresh = not path.exists()
    con = open_for_writing(path)
    try:
        if fresh:
            started = time.perf_counter()
            generate(con, args.articles, args.words, args.feeds)
            figures["generate_s"] = time.perf_counter() - started
            print(f"generated {args.articles:,} articles in {figures['generate_s']:.1f} s")
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("articles", "article_actors", "article_themes", "article_sources")
        }
        figures["rows"] = counts
        print("rows:", ", ".join(f"{t} {c:,}" for t, c in counts.items()))
        snap, seconds = publish_snapshot(con, path)
        if args.split:
            figures["snapshot_parts"] = time_snapshot_parts(con, args.workdir)
            print("snapshot parts:", figures["snapshot_parts"])
    finally:
        con.close()
    figures["snapshot_s"] = seconds
    figures["warehouse_mb"] = path.stat().st_size / 1e6
    figures["snapshot_mb"] = snap.stat().st_size / 1e6
    figures["writer_peak_rss_mb"] = peak_rss_mb()
    print(
        f"snapshot published in {seconds:.1f} s: {figures['snapshot_mb']:,.0f} MB "
        f"(warehouse {figures['warehouse_mb']:,.0f} MB); writer peak RSS "
        f"{figures['writer_peak_rss_mb']:,.0f} MB"
    )

    child = subprocess.run(
        [sys.executable, __file__, "--queries-only", str(snap), "--repeat", str(args.repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    timed = json.loads(child.stdout.strip().splitlines()[-1])
    figures.update(timed)
    config = args.workdir / "spacewatch.toml"
    config.write_text(f'[warehouse]\npath = "{path}"\n', encoding="utf-8")
    figures["search_command_s"] = time_search_command(config, min(args.repeat, 3))

    print(f"\nsnapshot opened in {timed['open_s']:.2f} s; median of {args.repeat} runs each:")
    width = max(len(q["query"]) for q in timed["queries"])
    for q in timed["queries"]:
        flag = "" if q["median_s"] < 1 else "   <-- over 1 s"
        print(f"  {q['query']:<{width}}  {q['median_s']:7.3f} s  {q['rows']:>9,} rows{flag}")
    print(
        f"`spacewatch search` command, process start included: "
        f"{figures['search_command_s']:.2f} s (median of {min(args.repeat, 3)})"
    )
    print(f"reader peak RSS {timed['reader_peak_rss_mb']:,.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
