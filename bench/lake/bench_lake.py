"""Spike for issue 15, questions 3-6: a synthetic warehouse of N articles moved into a DuckLake
(SQLite catalog, local Parquet folder), then timed.

    .venv/bin/python bench/lake/bench_lake.py --articles 100000 [--fts-compare] [--json OUT]

Phases (each printed as it ends, all in one JSON at the end):
  generate     N articles (title + --words words of text from a skewed vocabulary) in a plain
               DuckDB file, shaped like today's `articles` table; plus 80 feeds.
  migrate      INSERT ... SELECT every table into the lake in one transaction; row counts of
               source and lake compared; storage sizes.
  postings     the search index as lake data: postings(term, article_id, tf) sorted by term,
               doc_len(article_id, len), built in bulk with fts's stem(); time and rows.
  fts_index    (--fts-compare) today's PRAGMA create_fts_index on the same plain DuckDB.
  empty_run    a run with no new articles: runs row + 80 feed updates + 80 feed_polls + the
               writer token, one commit; median of --repeat.
  small_run    20 new articles with their postings, sources and alerts in one commit, dedupe
               check by canonical URL first; median of --repeat.
  visible      a reader process attached read-only polls every 5 ms; the writer commits
               --repeat runs; commit-to-visible latency per run.
  search       BM25 over postings for 3 queries (median of --repeat), optionally against fts.
  maintenance  flush inlined data, merge adjacent files, expire snapshots, cleanup: times and
               file counts before/after.
  time_travel  count(*) AT (VERSION => first snapshot of the bench) and a view over the lake.
  backup       SQLite catalog backup (online API) then copy of the data folder; restore into a
               new folder and compare row counts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
import lakeutil

FILLER = [
    "the",
    "a",
    "of",
    "to",
    "in",
    "and",
    "for",
    "on",
    "with",
    "by",
    "from",
    "at",
    "as",
    "that",
    "said",
    "will",
    "has",
    "have",
    "was",
    "were",
    "government",
    "ministry",
    "officials",
    "plan",
    "programme",
    "launch",
    "mission",
    "agency",
    "orbit",
    "satellite",
    "station",
    "lunar",
    "moon",
    "mars",
    "crew",
    "rocket",
    "budget",
    "congress",
    "treaty",
    "policy",
    "law",
    "defence",
    "military",
    "security",
    "cooperation",
    "partners",
    "contract",
    "industry",
    "commercial",
    "market",
    "private",
    "funding",
    "year",
    "month",
    "week",
    "spokesman",
    "statement",
    "announced",
    "reported",
    "according",
    "sources",
    "director",
    "minister",
    "president",
    "council",
    "committee",
    "parliament",
    "talks",
    "agreement",
    "strategy",
    "national",
    "international",
    "global",
    "new",
    "first",
    "second",
    "next",
    "last",
    "module",
    "capsule",
    "engine",
    "booster",
    "payload",
    "spacecraft",
    "research",
    "science",
    "scientists",
    "experts",
    "analysts",
    "report",
    "deadline",
    "schedule",
    "delay",
    "cost",
    "billion",
    "million",
    "percent",
    "test",
    "flight",
    "landing",
    "surface",
    "south",
    "pole",
    "water",
    "ice",
    "resources",
    "artemis",
    "roscosmos",
    "esa",
    "nasa",
    "isro",
    "jaxa",
    "cnsa",
    "starship",
    "debris",
    "spectrum",
    "regulator",
    "licence",
    "constellation",
    "broadband",
]
TAIL = 20_000  # rare words, as in bench/analysts.py


def tail_word(i: int) -> str:
    letters = ""
    i += 26 * 26
    while i:
        i, r = divmod(i, 26)
        letters = chr(97 + r) + letters
    return "q" + letters


TABLES = {
    "feeds": """feed_id INTEGER, configured_url VARCHAR, url VARCHAR, name VARCHAR,
        last_polled_at TIMESTAMPTZ, last_outcome VARCHAR, consecutive_failures INTEGER,
        next_due_at TIMESTAMPTZ""",
    "feed_polls": """poll_id BIGINT, run_id BIGINT, feed_id INTEGER, polled_at TIMESTAMPTZ,
        url VARCHAR, outcome VARCHAR, http_status SMALLINT, duration_ms INTEGER""",
    "articles": """article_id BIGINT, canonical_url VARCHAR, url VARCHAR, story_id BIGINT,
        title VARCHAR, published_at TIMESTAMPTZ, first_seen_at TIMESTAMPTZ, language VARCHAR,
        site_name VARCHAR, text VARCHAR, extraction_method VARCHAR, word_count INTEGER,
        run_id BIGINT""",
    "article_sources": """feed_id INTEGER, guid VARCHAR, article_id BIGINT, link VARCHAR,
        first_seen_at TIMESTAMPTZ, run_id BIGINT""",
    "alerts": """alert_id BIGINT, topic_id VARCHAR, story_id BIGINT, article_id BIGINT,
        subscriber VARCHAR, status VARCHAR, created_at TIMESTAMPTZ""",
    "runs": """run_id BIGINT, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR,
        articles_new INTEGER, lake_snapshot BIGINT""",
    "writer_token": "n BIGINT",
    "postings": "term VARCHAR, article_id BIGINT, tf INTEGER",
    "doc_len": "article_id BIGINT, len INTEGER",
}

# fts's own tokenizer: strip_accents, lower, split on anything but a-z; english stopwords
TOKENS = """SELECT article_id, unnest(regexp_extract_all(
    lower(strip_accents(coalesce(title, '') || ' ' || coalesce(text, ''))), '[a-z]+')) AS w
    FROM {src}"""
POSTINGS = f"""WITH toks AS ({TOKENS}), kept AS (
    SELECT article_id, stem(w, 'english') AS term FROM toks
    WHERE w NOT IN (SELECT sw FROM stopwords))
SELECT term, article_id, count(*)::INTEGER AS tf FROM kept GROUP BY ALL"""
DOCLEN = f"""WITH toks AS ({TOKENS})
SELECT article_id, count(*)::INTEGER AS len FROM toks
WHERE w NOT IN (SELECT sw FROM stopwords) GROUP BY ALL"""

BM25 = """WITH q AS (SELECT DISTINCT stem(w, 'english') AS term
                FROM (SELECT unnest(regexp_extract_all(lower(strip_accents($q)), '[a-z]+')) AS w)
                WHERE w NOT IN (SELECT sw FROM stopwords)),
 hits AS (SELECT term, article_id, tf FROM lake.postings
          WHERE term IN (SELECT term FROM q)),
 df AS (SELECT term, count(*) AS df FROM hits GROUP BY term),
 stats AS (SELECT count(*) AS n, avg(len) AS avgdl FROM lake.doc_len),
 conj AS (SELECT article_id FROM hits GROUP BY article_id
          HAVING count(*) = (SELECT count(*) FROM q))
SELECT h.article_id,
       sum(ln((s.n - df.df + 0.5) / (df.df + 0.5) + 1)
           * h.tf * 2.2 / (h.tf + 1.2 * (0.25 + 0.75 * d.len / s.avgdl))) AS score
FROM hits h JOIN conj USING (article_id) JOIN df USING (term)
     JOIN lake.doc_len d USING (article_id), stats s
GROUP BY h.article_id ORDER BY score DESC, h.article_id LIMIT 20"""


def query_terms(con, q: str) -> list[str]:
    """The stemmed, stopword-free terms of a query, as the postings hold them."""
    return [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT stem(w, 'english') FROM (SELECT unnest(regexp_extract_all("
            "lower(strip_accents($q)), '[a-z]+')) AS w) "
            "WHERE w NOT IN (SELECT sw FROM stopwords)",
            {"q": q},
        ).fetchall()
    ]


QUERIES = ["lunar station", "satellite debris regulator", "artemis " + tail_word(77)]

RESULTS: dict = {}


def note(phase: str, **figures) -> None:
    RESULTS[phase] = figures
    print(json.dumps({phase: figures}), flush=True)


def size_mb(path: Path) -> float:
    if path.is_file():
        return round(path.stat().st_size / 1e6, 1)
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)


def file_count(path: Path) -> int:
    return sum(1 for p in path.rglob("*.parquet"))


def stopwords(con) -> None:
    """The fts extension's english stopword list, taken from a throw-away index."""
    import duckdb

    probe = duckdb.connect()
    lakeutil.load(probe, "fts")
    probe.execute("CREATE TABLE sw_probe AS SELECT 1 AS id, 'x' AS t")
    probe.execute("PRAGMA create_fts_index('sw_probe', 'id', 't')")
    words = [r[0] for r in probe.execute("SELECT sw FROM fts_main_sw_probe.stopwords").fetchall()]
    probe.close()
    con.execute("CREATE OR REPLACE TEMP TABLE stopwords AS SELECT unnest($w) AS sw", {"w": words})


def generate(src: Path, n: int, words: int) -> None:
    import duckdb

    con = duckdb.connect(str(src))
    lakeutil.load(con, "fts")
    vocab = FILLER + [tail_word(i) for i in range(TAIL)]
    con.execute("CREATE TABLE vocab AS SELECT $v AS words", {"v": vocab})
    for name, cols in TABLES.items():
        con.execute(f"CREATE TABLE {name} ({cols})")
    nf = len(FILLER)
    # skew: filler words come from random()^2, one word in 8 is a rare tail word
    con.execute(
        f"""INSERT INTO articles
        SELECT hash('https://news.example/' || i) >> 1, 'https://news.example/' || i,
               'https://news.example/' || i || '?utm=x', hash('story' || (i // 3)) >> 1,
               array_to_string(list_transform(range(8),
                   x -> words[1 + floor(random()^2 * {nf})::INT]), ' '),
               TIMESTAMPTZ '2021-01-01' + to_seconds((i * 157) % 157000000),
               TIMESTAMPTZ '2021-01-01' + to_seconds((i * 157) % 157000000),
               'en', 'site' || (i % 80),
               array_to_string(list_transform(range({words}), x -> CASE WHEN random() < 0.125
                   THEN words[{nf} + 1 + floor(random() * {TAIL})::INT]
                   ELSE words[1 + floor(random()^2 * {nf})::INT] END), ' '),
               'trafilatura', {words}, 1 + i // 200
        FROM range({n}) t(i), vocab"""
    )
    con.execute(
        """INSERT INTO article_sources SELECT i % 80, 'guid' || i, a.article_id, a.url,
           a.first_seen_at, a.run_id FROM (SELECT row_number() OVER () AS i, * FROM articles) a"""
    )
    con.execute(
        """INSERT INTO feeds SELECT i, 'https://feed.example/' || i, 'https://feed.example/' || i,
           'feed ' || i, now(), 'ok', 0, now() FROM range(80) t(i)"""
    )
    con.execute(
        """INSERT INTO runs SELECT i, now(), now(), 'finished', 200, NULL
           FROM range(1, 1 + (SELECT max(run_id) FROM articles)) t(i)"""
    )
    con.execute(
        """INSERT INTO alerts SELECT row_number() OVER (), 'topic', story_id, min(article_id),
           'desk', 'sent', now() FROM articles WHERE article_id % 50 = 0 GROUP BY story_id"""
    )
    con.execute("INSERT INTO writer_token VALUES (0)")
    con.execute("DROP TABLE vocab")
    con.execute("CHECKPOINT")
    con.close()


def open_lake(work: Path, readonly: bool = False):
    con = lakeutil.connect()
    options = ", ".join(
        o for o in ("READ_ONLY" if readonly else "", os.environ.get("LAKE_ATTACH_OPTIONS", "")) if o
    )
    lakeutil.attach(
        con, f"sqlite:{work}/lake/catalog.sqlite", f"{work}/lake/data/", options=options
    )
    return con


def migrate(work: Path, src: Path) -> None:
    con = open_lake(work)
    con.execute(f"ATTACH '{src}' AS src (READ_ONLY)")
    start = time.perf_counter()
    con.execute("BEGIN")
    for name, cols in TABLES.items():
        con.execute(f"CREATE TABLE lake.{name} ({cols})")
        if name not in ("postings", "doc_len"):
            order = " ORDER BY first_seen_at" if name == "articles" else ""
            con.execute(f"INSERT INTO lake.{name} SELECT * FROM src.{name}{order}")
    con.execute("COMMIT")
    elapsed = time.perf_counter() - start
    counts = {}
    for name in TABLES:
        if name in ("postings", "doc_len"):
            continue
        a = con.execute(f"SELECT count(*) FROM src.{name}").fetchone()[0]
        b = con.execute(f"SELECT count(*) FROM lake.{name}").fetchone()[0]
        counts[name] = [a, b]
    note(
        "migrate",
        seconds=round(elapsed, 1),
        row_counts_src_lake=counts,
        all_equal=all(a == b for a, b in counts.values()),
        duckdb_file_mb=size_mb(src),
        lake_data_mb=size_mb(work / "lake" / "data"),
        catalog_mb=size_mb(work / "lake" / "catalog.sqlite"),
        parquet_files=file_count(work / "lake" / "data"),
    )
    con.close()


def postings(work: Path) -> None:
    con = open_lake(work)
    stopwords(con)
    start = time.perf_counter()
    con.execute("BEGIN")
    con.execute("ALTER TABLE lake.postings SET SORTED BY (term)")
    con.execute(
        f"INSERT INTO lake.postings SELECT * FROM ({POSTINGS.format(src='lake.articles')}) "
        "ORDER BY term, article_id"
    )
    con.execute(f"INSERT INTO lake.doc_len {DOCLEN.format(src='lake.articles')}")
    con.execute("COMMIT")
    elapsed = time.perf_counter() - start
    rows = con.execute("SELECT count(*) FROM lake.postings").fetchone()[0]
    note(
        "postings",
        seconds=round(elapsed, 1),
        rows=rows,
        lake_data_mb_after=size_mb(work / "lake" / "data"),
        parquet_files=file_count(work / "lake" / "data"),
    )
    con.close()


def fts_index(src: Path) -> None:
    import duckdb

    con = duckdb.connect(str(src))
    lakeutil.load(con, "fts")
    start = time.perf_counter()
    con.execute(
        "PRAGMA create_fts_index('articles', 'article_id', 'title', 'text', "
        "stemmer='english', stopwords='english', overwrite=1)"
    )
    elapsed = time.perf_counter() - start
    times = {}
    for q in QUERIES:
        samples = []
        for _ in range(3):
            t0 = time.perf_counter()
            con.execute(
                "SELECT article_id, score FROM (SELECT article_id, fts_main_articles.match_bm25("
                "article_id, ?, conjunctive := 1) AS score FROM articles) WHERE score IS NOT NULL "
                "ORDER BY score DESC LIMIT 20",
                [q],
            ).fetchall()
            samples.append(time.perf_counter() - t0)
        times[q] = round(statistics.median(samples), 3)
    note("fts_index", create_fts_index_s=round(elapsed, 1), match_bm25_query_s=times)
    con.close()


def one_commit(con, run_id: int, new: int) -> float:
    """A run: `new` articles (with sources, postings, alerts), 80 feed updates, 80 polls."""
    start = time.perf_counter()
    con.execute("BEGIN")
    urls = [f"https://new.example/{run_id}/{i}" for i in range(new)]
    if urls:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE batch AS SELECT hash(u) >> 1 AS article_id, u AS url "
            "FROM unnest(?) t(u)",
            [urls],
        )
        con.execute(
            "DELETE FROM temp.batch WHERE url IN (SELECT canonical_url FROM lake.articles "
            "WHERE canonical_url IN (SELECT url FROM temp.batch))"
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE new_articles AS SELECT article_id,
                url AS canonical_url, url, article_id AS story_id,
                'Lunar station plan ' || article_id AS title,
                now() AS published_at, now() AS first_seen_at, 'en' AS language,
                'site' AS site_name, 'the ministry announced a lunar station module ' ||
                article_id AS text, 'trafilatura' AS extraction_method, 7 AS word_count,
                {run_id} AS run_id FROM temp.batch"""
        )
        con.execute("INSERT INTO lake.articles SELECT * FROM temp.new_articles")
        con.execute(
            "INSERT INTO lake.article_sources SELECT 1, url, article_id, url, now(), run_id "
            "FROM temp.new_articles"
        )
        con.execute(f"INSERT INTO lake.postings {POSTINGS.format(src='temp.new_articles')}")
        con.execute(f"INSERT INTO lake.doc_len {DOCLEN.format(src='temp.new_articles')}")
        con.execute(
            "INSERT INTO lake.alerts SELECT article_id, 'topic', story_id, article_id, 'desk', "
            "'pending', now() FROM temp.new_articles"
        )
    con.execute(
        "UPDATE lake.feeds SET last_polled_at = now(), next_due_at = now() + INTERVAL 1 HOUR"
    )
    con.execute(
        "INSERT INTO lake.feed_polls SELECT ? * 100 + feed_id, ?, feed_id, now(), url, "
        "'not_modified', 304, 12 FROM lake.feeds",
        [run_id, run_id],
    )
    con.execute("UPDATE lake.writer_token SET n = n + 1")
    con.execute(
        "INSERT INTO lake.runs VALUES (?, now(), now(), 'finished', ?, NULL)", [run_id, new]
    )
    con.execute("COMMIT")
    return time.perf_counter() - start


def runs(work: Path, repeat: int) -> None:
    con = open_lake(work)
    stopwords(con)
    first = con.execute("SELECT max(run_id) FROM lake.runs").fetchone()[0] + 1
    empty = [one_commit(con, first + i, 0) for i in range(repeat)]
    small = [one_commit(con, first + repeat + i, 20) for i in range(repeat)]
    t0 = time.perf_counter()
    con.execute(
        "SELECT count(*) FROM lake.articles WHERE canonical_url IN "
        "('https://news.example/5', 'https://news.example/77', 'https://nope.example/1')"
    ).fetchall()
    dedupe = time.perf_counter() - t0
    note(
        "runs",
        empty_run_commit_s_median=round(statistics.median(empty), 3),
        empty_run_commit_s_all=[round(x, 3) for x in empty],
        run_20_new_articles_commit_s_median=round(statistics.median(small), 3),
        dedupe_check_3_urls_s=round(dedupe, 3),
        parquet_files=file_count(work / "lake" / "data"),
    )
    con.close()


def reader(work: str, target_runs: list[int], out) -> None:
    con = open_lake(Path(work), readonly=True)
    seen = {}
    deadline = time.time() + 300
    while len(seen) < len(target_runs) and time.time() < deadline:
        top = con.execute("SELECT max(run_id) FROM lake.runs").fetchone()[0]
        now = time.time()
        for r in target_runs:
            if r <= top and r not in seen:
                seen[r] = now
        time.sleep(0.005)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the forking parent
    hwm = [ln for ln in Path("/proc/self/status").read_text().splitlines() if "VmHWM" in ln]
    out.put((seen, int(hwm[0].split()[1]) / 1024))


def visible(work: Path, repeat: int) -> None:
    con = open_lake(work)
    first = con.execute("SELECT max(run_id) FROM lake.runs").fetchone()[0] + 1
    targets = list(range(first, first + repeat))
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=reader, args=(str(work), targets, out))
    proc.start()
    time.sleep(3)  # let the reader attach
    committed = {}
    for r in targets:
        one_commit(con, r, 0)
        committed[r] = time.time()
        time.sleep(0.5)
    seen, reader_rss = out.get(timeout=400)
    proc.join()
    lat = [seen[r] - committed[r] for r in targets if r in seen]
    note(
        "visible",
        commits=len(targets),
        seen=len(seen),
        latency_s_median=round(statistics.median(lat), 3) if lat else None,
        latency_s_max=round(max(lat), 3) if lat else None,
        reader_peak_rss_mb=round(reader_rss),
        note="reader polls every 5 ms; negative = seen before the writer's clock read",
    )
    con.close()


def search(work: Path, repeat: int) -> None:
    con = open_lake(work, readonly=True)
    stopwords(con)
    times, hits = {}, {}
    for q in QUERIES:
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            rows = con.execute(BM25, {"q": q}).fetchall()
            samples.append(time.perf_counter() - t0)
        times[q] = round(statistics.median(samples), 3)
        hits[q] = len(rows)
    note("search", bm25_postings_query_s=times, top_hits=hits)
    con.close()


def maintenance(work: Path) -> None:
    con = open_lake(work)
    data = work / "lake" / "data"
    before = file_count(data)
    snaps = con.execute("SELECT count(*) FROM ducklake_snapshots('lake')").fetchone()[0]
    figures = {"parquet_files_before": before, "snapshots_before": snaps}
    for label, sql in [
        ("flush_inlined_s", "CALL ducklake_flush_inlined_data('lake')"),
        ("merge_adjacent_files_s", "CALL ducklake_merge_adjacent_files('lake')"),
        (
            "expire_snapshots_s",
            "CALL ducklake_expire_snapshots('lake', older_than => now() - INTERVAL 5 SECOND)",
        ),
        ("cleanup_old_files_s", "CALL ducklake_cleanup_old_files('lake', cleanup_all => true)"),
    ]:
        t0 = time.perf_counter()
        con.execute(sql).fetchall()
        figures[label] = round(time.perf_counter() - t0, 2)
        figures[f"files_after_{label[:-2]}"] = file_count(data)
    figures["snapshots_after"] = con.execute(
        "SELECT count(*) FROM ducklake_snapshots('lake')"
    ).fetchone()[0]
    figures["lake_data_mb"] = size_mb(data)
    figures["catalog_mb"] = size_mb(work / "lake" / "catalog.sqlite")
    t0 = time.perf_counter()
    one_commit(con, con.execute("SELECT max(run_id) FROM lake.runs").fetchone()[0] + 1, 0)
    figures["empty_run_commit_after_maintenance_s"] = round(time.perf_counter() - t0, 3)
    note("maintenance", **figures)
    con.close()


def time_travel(work: Path, first_snapshot: int) -> None:
    con = open_lake(work)
    now_count = con.execute("SELECT count(*) FROM lake.articles").fetchone()[0]
    t0 = time.perf_counter()
    then = con.execute(
        f"SELECT count(*) FROM lake.articles AT (VERSION => {first_snapshot})"
    ).fetchone()[0]
    at_s = time.perf_counter() - t0
    con.execute(
        "CREATE OR REPLACE VIEW lake.v_articles AS SELECT article_id, story_id, title, "
        "coalesce(published_at, first_seen_at) AS event_at, site_name FROM lake.articles"
    )
    con.close()
    # a plain reader, pinned to the old snapshot, using the view defined in the lake
    con = lakeutil.connect()
    lakeutil.attach(
        con,
        f"sqlite:{work}/lake/catalog.sqlite",
        None,
        alias="pinned",
        options=f"READ_ONLY, SNAPSHOT_VERSION {first_snapshot}",
    )
    try:
        pinned = con.execute("SELECT count(*) FROM pinned.articles").fetchone()[0]
    except Exception as exc:
        pinned = " ".join(str(exc).split())[:200]
    con2 = lakeutil.connect()
    lakeutil.attach(con2, f"sqlite:{work}/lake/catalog.sqlite", None, options="READ_ONLY")
    via_view = con2.execute("SELECT count(*) FROM v_articles").fetchone()[0]
    note(
        "time_travel",
        first_snapshot=first_snapshot,
        articles_now=now_count,
        articles_at_first_snapshot=then,
        at_query_s=round(at_s, 3),
        attach_snapshot_version_count=pinned,
        view_in_lake_count_from_plain_attach=via_view,
    )


def backup(work: Path) -> None:
    dest = work / "backup"
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "lake").mkdir(parents=True)
    t0 = time.perf_counter()
    # 1. catalog first (online, consistent), 2. then the data files it names: files are
    # immutable, and cleanup must not run between 1 and 2 (the nightly flow orders it so)
    src = sqlite3.connect(work / "lake" / "catalog.sqlite")
    out = sqlite3.connect(dest / "lake" / "catalog.sqlite")
    src.backup(out)
    out.close()
    src.close()
    shutil.copytree(work / "lake" / "data", dest / "lake" / "data")
    took = time.perf_counter() - t0
    live = open_lake(work, readonly=True)
    restored = lakeutil.connect()  # the catalog names the old folder: override it
    lakeutil.attach(
        restored,
        f"sqlite:{dest}/lake/catalog.sqlite",
        f"{dest}/lake/data/",
        options="READ_ONLY, OVERRIDE_DATA_PATH TRUE",
    )
    counts = {}
    for name in TABLES:
        a = live.execute(f"SELECT count(*) FROM lake.{name}").fetchone()[0]
        b = restored.execute(f"SELECT count(*) FROM lake.{name}").fetchone()[0]
        counts[name] = [a, b]
    note(
        "backup",
        seconds=round(took, 1),
        row_counts_live_restored=counts,
        all_equal=all(a == b for a, b in counts.values()),
        note="restored: ATTACH ... (DATA_PATH copy, OVERRIDE_DATA_PATH TRUE)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--words", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/spacewatch-bench-lake"))
    parser.add_argument("--fts-compare", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--inlining", type=int, help="DATA_INLINING_ROW_LIMIT (default: the extension's)"
    )
    args = parser.parse_args()
    if args.inlining is not None:  # inherited by the spawned reader
        os.environ["LAKE_ATTACH_OPTIONS"] = f"DATA_INLINING_ROW_LIMIT {args.inlining}"
    work = args.workdir / str(args.articles)
    shutil.rmtree(work, ignore_errors=True)
    (work / "lake").mkdir(parents=True)
    src = work / "warehouse.duckdb"
    t0 = time.perf_counter()
    generate(src, args.articles, args.words)
    note(
        "generate",
        articles=args.articles,
        words=args.words,
        seconds=round(time.perf_counter() - t0, 1),
    )
    migrate(work, src)
    con = open_lake(work)
    first_snapshot = con.execute(
        "SELECT max(snapshot_id) FROM ducklake_snapshots('lake')"
    ).fetchone()[0]
    con.close()
    postings(work)
    if args.fts_compare:
        fts_index(src)
    runs(work, args.repeat)
    visible(work, args.repeat)
    search(work, args.repeat)
    time_travel(work, first_snapshot)  # before expiry: expired snapshots cannot be read
    maintenance(work)
    search(work, args.repeat)
    RESULTS["search_after_maintenance"] = RESULTS.pop("search")
    backup(work)
    RESULTS["bench_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps({"bench_peak_rss_mb": RESULTS["bench_peak_rss_mb"]}))
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=1))


if __name__ == "__main__":
    main()
