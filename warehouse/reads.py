"""What the commands list, read-only: feeds with their health, recent alerts, the articles a
backtest replays and what a demo run ingested. Rows come back as tuples in the order each
docstring names; the commands only format them."""

from __future__ import annotations

from datetime import datetime

import duckdb


def feed_health(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(feed_id, name, url, active, last_success_at, consecutive_failures, next_due_at,
    last_outcome, last_error, articles) per feed: active first, failing first."""
    return con.execute(
        """SELECT f.feed_id, coalesce(f.name, f.title, ''), f.url, f.active,
                  f.last_success_at, f.consecutive_failures, f.next_due_at,
                  f.last_outcome, f.last_error,
                  (SELECT count(*) FROM article_sources s WHERE s.feed_id = f.feed_id)
           FROM feeds f ORDER BY f.active DESC, f.consecutive_failures DESC, f.feed_id"""
    ).fetchall()


def recent_alerts(con: duckdb.DuckDBPyConnection, limit: int) -> list[tuple]:
    """(alert_id, created_at, topic_id, subscriber, status, attempts, error or note, title),
    newest first."""
    return con.execute(
        """SELECT al.alert_id, al.created_at, al.topic_id, al.subscriber, al.status,
                  al.attempts, coalesce(al.last_error, al.note, ''), left(a.title, 60)
           FROM alerts al JOIN articles a USING (article_id)
           ORDER BY al.alert_id DESC LIMIT ?""",
        [limit],
    ).fetchall()


def alert_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """status -> how many alerts have it."""
    return dict(con.execute("SELECT status, count(*) FROM alerts GROUP BY 1").fetchall())


def articles_as_first_seen(con: duckdb.DuckDBPyConnection, since: datetime) -> list[tuple]:
    """Articles dated from `since`, in the order they arrived, each with what the pipeline
    knew of its story when it arrived: (article_id, story_id, title, text, date, site_name,
    canonical_url, story's earliest publication, story's first sight, article's first sight).
    """
    # The story's earliest publication and first sight among the copies stored by the
    # time each article arrived: what the pipeline knew when it matched that article.
    return con.execute(
        """WITH known AS (
               SELECT *,
                   min(published_at) OVER w AS story_published,
                   min(first_seen_at) OVER w AS story_seen
               FROM articles
               WINDOW w AS (PARTITION BY story_id ORDER BY first_seen_at
                            RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
           SELECT article_id, story_id, title, text, coalesce(published_at, first_seen_at),
                  site_name, canonical_url, story_published, story_seen, first_seen_at
           FROM known WHERE coalesce(published_at, first_seen_at) >= ?
           ORDER BY first_seen_at, article_id""",
        [since],
    ).fetchall()


def ingested_articles(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(article_id, story_id, site, title, method, words, language, feeds, relevant, themes)
    for every article, as the demo shows them."""
    return con.execute(
        """SELECT a.article_id, a.story_id, coalesce(a.site_name, ''), left(a.title, 60),
                  a.extraction_method, a.word_count, a.language,
                  (SELECT count(*) FROM article_sources s WHERE s.article_id = a.article_id),
                  CASE WHEN a.relevant THEN 'yes' ELSE 'no' END,
                  array_to_string(a.themes[1:2], ', ')
           FROM v_articles a ORDER BY a.article_id"""
    ).fetchall()
