"""The SQL that reads or writes the pipeline's tables (feeds, sources, stories, articles, runs).
Writes are batched, one transaction each. The outbox, health, tags, search and report data have
their own modules beside this one; this one is just over 500 lines and stays one cohesive step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from spacewatch.alerts.rules import Subscription, TopicRule, plan_alerts
from spacewatch.extractors import dedupe
from spacewatch.extractors.models import Article, FeedState, FeedUpdate, SourceLink
from spacewatch.warehouse.alerts import insert_alerts
from spacewatch.warehouse.batch import registered, transaction
from spacewatch.warehouse.tags import insert_tags


@dataclass(frozen=True, slots=True)
class SaveStats:
    articles_new: int = 0
    sources_new: int = 0
    stories_new: int = 0
    syndicated_copies: int = 0
    alerts_new: int = 0
    matches: tuple[tuple[str, int, int], ...] = ()  # (topic, story, article) matched now


def _arrow(rows: Sequence[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=schema)


# --- feeds -----------------------------------------------------------------------------------

_FEED_COLUMNS = [f.name for f in fields(FeedState)]


def load_feeds(con: duckdb.DuckDBPyConnection, *, active_only: bool = True) -> list[FeedState]:
    where = "WHERE active" if active_only else ""
    rows = con.execute(
        f"SELECT {', '.join(_FEED_COLUMNS)} FROM feeds {where} ORDER BY feed_id"
    ).fetchall()
    return [FeedState(*row) for row in rows]


def sync_feeds(
    con: duckdb.DuckDBPyConnection, configured: Iterable[tuple[str, str | None]], now: datetime
) -> list[FeedState]:
    """Make the feeds table match the configuration; feeds dropped from it become inactive.

    Nothing is deleted: a feed removed and later re-added keeps its history.
    """
    # Keyed by URL: the same feed listed twice is one feed (the last name wins).
    wanted = list({url: name for url, name in configured}.items())
    table = _arrow(
        [{"url": url, "name": name} for url, name in wanted],
        pa.schema([("url", pa.string()), ("name", pa.string())]),
    )
    with transaction(con), registered(con, wanted_feeds=table):
        con.execute(
            """INSERT INTO feeds (configured_url, url, name, created_at, next_due_at)
                   SELECT w.url, w.url, w.name, $now, $now FROM wanted_feeds w
                   WHERE w.url NOT IN (SELECT configured_url FROM feeds)""",
            {"now": now},
        )
        con.execute(
            """UPDATE feeds SET name = w.name, active = TRUE FROM wanted_feeds w
                   WHERE feeds.configured_url = w.url
                     AND (feeds.name IS DISTINCT FROM w.name OR NOT feeds.active)"""
        )
        con.execute(
            """UPDATE feeds SET active = FALSE
                   WHERE active AND configured_url NOT IN (SELECT url FROM wanted_feeds)"""
        )
    return load_feeds(con)


def save_feed_updates(
    con: duckdb.DuckDBPyConnection, run_id: int | None, updates: Sequence[FeedUpdate]
) -> None:
    """Record every poll in feed_polls and move each feed to its new state, atomically."""
    if not updates:
        return
    rows = [{f.name: getattr(u, f.name) for f in fields(FeedUpdate)} for u in updates]
    for row in rows:
        row["run_id"] = run_id
    table = pa.Table.from_pylist(rows)
    with transaction(con), registered(con, feed_updates=table):
        con.execute(
            """INSERT INTO feed_polls (run_id, feed_id, polled_at, url, final_url, outcome,
                       unchanged, http_status, duration_ms, bytes, entries, new_entries, error,
                       bozo_reason, retry_after_s)
                   SELECT run_id, feed_id, polled_at, url, final_url, outcome, unchanged,
                       http_status, duration_ms, bytes, entries, new_entries, error,
                       bozo_reason, retry_after_s
                   FROM feed_updates"""
        )
        con.execute(
            """UPDATE feeds SET
                       url = u.new_url,
                       etag = CASE WHEN u.success THEN u.etag ELSE feeds.etag END,
                       last_modified = CASE WHEN u.success THEN u.last_modified
                                            ELSE feeds.last_modified END,
                       body_hash = coalesce(u.body_hash, feeds.body_hash),
                       title = coalesce(u.title, feeds.title),
                       site_url = coalesce(u.site_url, feeds.site_url),
                       last_polled_at = u.polled_at,
                       last_success_at = CASE WHEN u.success THEN u.polled_at
                                              ELSE feeds.last_success_at END,
                       last_outcome = u.outcome,
                       last_error = u.error,
                       consecutive_failures = u.consecutive_failures,
                       next_due_at = u.next_due_at,
                       pending_redirect_url = u.pending_redirect_url,
                       pending_redirect_count = u.pending_redirect_count
                   FROM feed_updates u WHERE feeds.feed_id = u.feed_id"""
        )


# --- articles --------------------------------------------------------------------------------


def known_sources(
    con: duckdb.DuckDBPyConnection, pairs: Iterable[tuple[int, str]]
) -> set[tuple[int, str]]:
    pairs = list(set(pairs))
    if not pairs:
        return set()
    table = _arrow(
        [{"feed_id": f, "guid": g} for f, g in pairs],
        pa.schema([("feed_id", pa.int32()), ("guid", pa.string())]),
    )
    with registered(con, probe_sources=table):
        rows = con.execute(
            """SELECT s.feed_id, s.guid FROM article_sources s
               JOIN probe_sources p USING (feed_id, guid)"""
        ).fetchall()
    return {(int(f), str(g)) for f, g in rows}


def known_articles(con: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, int]:
    """article_id of each canonical URL already stored."""
    urls = list(set(urls))
    if not urls:
        return {}
    table = _arrow(
        [{"canonical_url": u} for u in urls], pa.schema([("canonical_url", pa.string())])
    )
    with registered(con, probe_urls=table):
        rows = con.execute(
            """SELECT a.canonical_url, a.article_id
               FROM articles a JOIN probe_urls USING (canonical_url)"""
        ).fetchall()
    return {str(u): int(i) for u, i in rows}


_SOURCE_SCHEMA = pa.schema(
    [
        ("feed_id", pa.int32()),
        ("guid", pa.string()),
        ("canonical_url", pa.string()),
        ("link", pa.string()),
        ("entry_title", pa.string()),
        ("entry_published_at", pa.timestamp("us", tz="UTC")),
    ]
)


def _insert_sources(
    con: duckdb.DuckDBPyConnection, run_id: int | None, now: datetime, links: Sequence[SourceLink]
) -> int:
    if not links:
        return 0
    unique = {(s.feed_id, s.guid): s for s in links}
    table = _arrow(
        [{f.name: getattr(s, f.name) for f in fields(SourceLink)} for s in unique.values()],
        _SOURCE_SCHEMA,
    )
    with registered(con, new_sources=table):
        before = con.execute("SELECT count(*) FROM article_sources").fetchone()[0]  # type: ignore[index]
        con.execute(
            """INSERT INTO article_sources
                   (feed_id, guid, article_id, link, entry_title, entry_published_at,
                    first_seen_at, run_id)
               SELECT n.feed_id, n.guid, a.article_id, n.link, n.entry_title,
                      n.entry_published_at, $now, $run
               FROM new_sources n JOIN articles a USING (canonical_url)
               ON CONFLICT DO NOTHING""",
            {"now": now, "run": run_id},
        )
        after = con.execute("SELECT count(*) FROM article_sources").fetchone()[0]  # type: ignore[index]
    return int(after - before)


def save_sources(
    con: duckdb.DuckDBPyConnection, run_id: int | None, now: datetime, links: Sequence[SourceLink]
) -> int:
    """Attach feed entries to articles already stored (the same article in another feed)."""
    with transaction(con):
        return _insert_sources(con, run_id, now, links)


def _story_candidates(
    con: duckdb.DuckDBPyConnection, probes: list[dict[str, Any]]
) -> dict[int, list[tuple[int, int, bytes]]]:
    """For each probe index: stored (article_id, story_id, signature) sharing a band key."""
    if not probes:
        return {}
    table = _arrow(
        probes, pa.schema([("idx", pa.int32()), ("band", pa.int8()), ("band_hash", pa.int64())])
    )
    with registered(con, probe_bands=table):
        rows = con.execute(
            """SELECT DISTINCT p.idx, a.article_id, a.story_id, f.signature
               FROM probe_bands p
               JOIN article_bands b ON b.band = p.band AND b.band_hash = p.band_hash
               JOIN articles a ON a.article_id = b.article_id
               JOIN article_fingerprints f ON f.article_id = b.article_id"""
        ).fetchall()
    found: dict[int, list[tuple[int, int, bytes]]] = {}
    for idx, article_id, story_id, sig in rows:
        found.setdefault(int(idx), []).append((int(article_id), int(story_id), bytes(sig)))
    return found


def _stories_by_hash(con: duckdb.DuckDBPyConnection, hashes: list[str]) -> dict[str, int]:
    if not hashes:
        return {}
    table = _arrow(
        [{"content_hash": h} for h in set(hashes)], pa.schema([("content_hash", pa.string())])
    )
    with registered(con, probe_hashes=table):
        rows = con.execute(
            """SELECT a.content_hash, min(a.story_id) FROM articles a
               JOIN probe_hashes USING (content_hash) GROUP BY 1"""
        ).fetchall()
    return {str(h): int(s) for h, s in rows}


_ARTICLE_SCHEMA = pa.schema(
    [
        ("article_id", pa.int64()),
        ("canonical_url", pa.string()),
        ("url", pa.string()),
        ("story_id", pa.int64()),
        ("title", pa.string()),
        ("author", pa.string()),
        ("published_at", pa.timestamp("us", tz="UTC")),
        ("language", pa.string()),
        ("site_name", pa.string()),
        ("description", pa.string()),
        ("text", pa.string()),
        ("extraction_method", pa.string()),
        ("fetch_outcome", pa.string()),
        ("http_status", pa.int16()),
        ("fetch_error", pa.string()),
        ("content_hash", pa.string()),
        ("word_count", pa.int32()),
    ]
)


_FINGERPRINT_SCHEMA = pa.schema([("article_id", pa.int64()), ("signature", pa.binary())])
_BAND_SCHEMA = pa.schema(
    [("band", pa.int8()), ("band_hash", pa.int64()), ("article_id", pa.int64())]
)


def assign_stories(
    con: duckdb.DuckDBPyConnection,
    articles: Sequence[Article],
    ids: Sequence[int],
    *,
    threshold: float,
    min_words: int,
) -> tuple[list[int], list[list[int]]]:
    """story_id per article, and band keys.

    A copy joins the most similar story at or above `threshold`; of equally similar ones, the
    earliest (the lowest story_id: a story is named by its first article's id, and ids grow).
    """
    bands: list[list[int]] = [
        dedupe.band_hashes(a.signature) if a.signature and a.word_count >= min_words else []
        for a in articles
    ]
    probes = [
        {"idx": i, "band": b, "band_hash": h}
        for i, keys in enumerate(bands)
        for b, h in enumerate(keys)
    ]
    stored = _story_candidates(con, probes)
    by_hash = _stories_by_hash(con, [a.content_hash for a in articles if a.content_hash])
    stories: list[int] = []
    seen_bands: dict[tuple[int, int], list[int]] = {}
    seen_hash: dict[str, int] = {}
    for i, article in enumerate(articles):
        story = None
        if article.content_hash:
            story = by_hash.get(article.content_hash) or seen_hash.get(article.content_hash)
        if story is None and bands[i]:
            best: tuple[float, int] | None = None
            candidates = [(s, sig) for _, s, sig in stored.get(i, [])]
            for b, h in enumerate(bands[i]):
                for j in seen_bands.get((b, h), []):
                    candidates.append((stories[j], articles[j].signature or b""))
            for story_id, sig in candidates:
                score = dedupe.similarity(article.signature or b"", sig)
                if score >= threshold and (
                    best is None or (score, -story_id) > (best[0], -best[1])
                ):
                    best = (score, story_id)
            story = best[1] if best else None
        story = ids[i] if story is None else story
        stories.append(story)
        if article.content_hash:
            seen_hash.setdefault(article.content_hash, story)
        for b, h in enumerate(bands[i]):
            seen_bands.setdefault((b, h), []).append(i)
    return stories, bands


def save_articles(
    con: duckdb.DuckDBPyConnection,
    run_id: int | None,
    now: datetime,
    articles: Sequence[Article],
    links: Sequence[SourceLink],
    *,
    threshold: float = 0.5,
    min_words: int = 40,
    tagger_version: str = "untagged",
    alerting: tuple[Sequence[TopicRule], Mapping[str, Sequence[Subscription]]] | None = None,
    max_age_h: float = 0.0,
) -> SaveStats:
    """Store new articles with their sources and fingerprints in one transaction.

    Articles whose canonical URL is already stored are skipped (their sources still attach),
    which makes a repeated or resumed run harmless. Alerts for stories older than `max_age_h`
    (by publication, else first sight) are stored as 'stale' and never sent.
    """
    unique: dict[str, Article] = {}
    for article in articles:
        unique.setdefault(article.canonical_url, article)
    with transaction(con):
        existing = known_articles(con, unique)
        fresh = [a for url, a in unique.items() if url not in existing]
        stories_new = copies = alerts_new = 0
        matches: tuple[tuple[str, int, int], ...] = ()
        if fresh:
            ids = [
                int(r[0])
                for r in con.execute(
                    "SELECT nextval('article_id_seq') FROM range(?)", [len(fresh)]
                ).fetchall()
            ]
            stories, bands = assign_stories(
                con, fresh, ids, threshold=threshold, min_words=min_words
            )
            rows = []
            for article_id, story_id, a in zip(ids, stories, fresh, strict=True):
                rows.append(
                    {
                        "article_id": article_id,
                        "canonical_url": a.canonical_url,
                        "url": a.url,
                        "story_id": story_id,
                        "title": a.title,
                        "author": a.author,
                        "published_at": a.published_at,
                        "language": a.language,
                        "site_name": a.site_name,
                        "description": a.description,
                        "text": a.text,
                        "extraction_method": a.extraction_method,
                        "fetch_outcome": a.fetch_outcome,
                        "http_status": a.http_status,
                        "fetch_error": a.fetch_error,
                        "content_hash": a.content_hash,
                        "word_count": a.word_count,
                    }
                )
                if story_id == article_id:
                    stories_new += 1
                else:
                    copies += 1
            with registered(con, new_articles=_arrow(rows, _ARTICLE_SCHEMA)):
                con.execute(
                    """INSERT INTO articles (article_id, canonical_url, url, story_id, title,
                           author, published_at, first_seen_at, language, site_name,
                           description, text, extraction_method, fetch_outcome, http_status,
                           fetch_error, content_hash, word_count, run_id)
                       SELECT article_id, canonical_url, url, story_id, title, author,
                           published_at, $now, language, site_name, description, text,
                           extraction_method, fetch_outcome, http_status, fetch_error,
                           content_hash, word_count, $run
                       FROM new_articles""",
                    {"now": now, "run": run_id},
                )
            fingerprints = [
                {"article_id": i, "signature": a.signature}
                for i, a, keys in zip(ids, fresh, bands, strict=True)
                if keys
            ]
            band_rows = [
                {"band": b, "band_hash": h, "article_id": i}
                for i, keys in zip(ids, bands, strict=True)
                for b, h in enumerate(keys)
            ]
            if fingerprints:
                with registered(
                    con,
                    new_fp=_arrow(fingerprints, _FINGERPRINT_SCHEMA),
                    new_bands=_arrow(band_rows, _BAND_SCHEMA),
                ):
                    con.execute("INSERT INTO article_fingerprints SELECT * FROM new_fp")
                    con.execute("INSERT INTO article_bands SELECT * FROM new_bands")
            insert_tags(
                con,
                [(i, a.tags) for i, a in zip(ids, fresh, strict=True) if a.tags is not None],
                tagger_version,
                now,
            )
            if alerting is not None:
                # Same transaction as the article: an alert exists if and only if its article does.
                rules, subscriptions = alerting
                planned = plan_alerts(
                    rules,
                    subscriptions,
                    [
                        (i, s, a.tags, a.text, a.title)
                        for i, s, a in zip(ids, stories, fresh, strict=True)
                        if a.tags is not None
                    ],
                    story_times=story_times(con, set(stories)),
                    now=now,
                    max_age_h=max_age_h,
                )
                alerts_new = insert_alerts(con, planned, now)
                # Stale matches raise no event either: an automation would mail the backlog.
                matches = tuple(
                    dict.fromkeys(
                        (p.topic_id, p.story_id, p.article_id) for p in planned if p.stale is None
                    )
                )
        sources_new = _insert_sources(con, run_id, now, links)
    return SaveStats(len(fresh), sources_new, stories_new, copies, alerts_new, matches)


def story_times(
    con: duckdb.DuckDBPyConnection, story_ids: set[int]
) -> dict[int, tuple[datetime | None, datetime]]:
    """(earliest publication, earliest first sight) of each story over its stored copies."""
    if not story_ids:
        return {}
    rows = con.execute(
        """SELECT story_id, min(published_at), min(first_seen_at) FROM articles
           WHERE story_id IN (SELECT unnest($ids::BIGINT[])) GROUP BY story_id""",
        {"ids": sorted(story_ids)},
    ).fetchall()
    return {int(story): (published, seen) for story, published, seen in rows}


# --- runs ------------------------------------------------------------------------------------


def start_run(con: duckdb.DuckDBPyConnection, now: datetime, flow_run_id: str | None) -> int:
    # Only one run holds the warehouse, so a row still 'running' belongs to a killed process.
    con.execute(
        "UPDATE runs SET status = 'interrupted', error = 'the process stopped before the run "
        "was recorded as finished' WHERE status = 'running'"
    )
    row = con.execute(
        """INSERT INTO runs (run_id, flow_run_id, started_at, status)
           VALUES (nextval('run_id_seq'), ?, ?, 'running') RETURNING run_id""",
        [flow_run_id, now],
    ).fetchone()
    return int(row[0])  # type: ignore[index]


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    finished_at: datetime,
    status: str,
    counts: dict[str, Any],
    error: str | None = None,
) -> None:
    fixed = {"run_id", "flow_run_id", "started_at", "finished_at", "status", "error"}
    allowed = {c[0] for c in con.execute("DESCRIBE runs").fetchall()} - fixed
    unknown = set(counts) - allowed
    if unknown:
        raise ValueError(f"unknown run counters: {sorted(unknown)}")
    assignments = ", ".join(f"{name} = ${name}" for name in counts)
    params = {
        **counts,
        "run_id": run_id,
        "finished_at": finished_at,
        "status": status,
        "error": error,
    }
    extra = f", {assignments}" if assignments else ""
    con.execute(
        f"""UPDATE runs SET finished_at = $finished_at, status = $status, error = $error{extra}
            WHERE run_id = $run_id""",
        params,
    )


def count_deliveries(
    con: duckdb.DuckDBPyConnection, run_id: int, sent: int, deferred: int, failed: int
) -> None:
    """The alerts a run's delivery sent, deferred and failed, recorded on the run's row once the
    delivery (outside the writer) is done."""
    con.execute(
        "UPDATE runs SET alerts_sent = ?, alerts_deferred = ?, alerts_failed = ? WHERE run_id = ?",
        [sent, deferred, failed, run_id],
    )
