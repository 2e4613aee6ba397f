"""The full-text search query: BM25 over titles and texts, filtered, ranked, then described.

Ranking and filtering run on the base tables, and the theme lists are built for the results
only: over all of v_articles the same query took seconds at a million articles
(bench/analysts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SearchFilters:
    actors: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    source: str | None = None  # site or feed name contains this
    since: datetime | None = None
    until: datetime | None = None  # inclusive day
    relevant: bool = False


def build_search(text: str, filters: SearchFilters, limit: int = 20) -> tuple[str, list]:
    """(SQL, parameters) for the snapshot, which carries the `fts_main_articles` index."""
    where, params = ["score IS NOT NULL"], [text]
    for actor_id in filters.actors:
        where.append(
            "EXISTS (SELECT 1 FROM article_actors x "
            "WHERE x.article_id = v.article_id AND x.actor_id = ?)"
        )
        params.append(actor_id)
    for theme_id in filters.themes:
        where.append(
            "EXISTS (SELECT 1 FROM article_themes x "
            "WHERE x.article_id = v.article_id AND x.theme_id = ?)"
        )
        params.append(theme_id)
    if filters.source:
        where.append(
            "(v.site_name ILIKE ? OR EXISTS (SELECT 1 FROM article_sources s "
            "JOIN feeds f USING (feed_id) "
            "WHERE s.article_id = v.article_id AND coalesce(f.name, f.title, '') ILIKE ?))"
        )
        params += [f"%{filters.source}%", f"%{filters.source}%"]
    if filters.since:
        where.append("v.event_at >= ?")
        params.append(filters.since)
    if filters.until:
        where.append("v.event_at < ? + INTERVAL 1 DAY")
        params.append(filters.until)
    if filters.relevant:
        where.append("v.relevant")
    sql = f"""WITH hits AS (
            SELECT v.article_id, v.score FROM (
                SELECT a.article_id, a.site_name, t.relevant,
                       coalesce(a.published_at, a.first_seen_at) AS event_at,
                       fts_main_articles.match_bm25(a.article_id, ?) AS score
                FROM articles a LEFT JOIN article_tags t USING (article_id)) v
            WHERE {" AND ".join(where)}
            ORDER BY v.score DESC, v.article_id LIMIT {int(limit)})
        SELECT round(h.score, 3) AS score,
               strftime(coalesce(a.published_at, a.first_seen_at), '%Y-%m-%d') AS date,
               a.site_name AS source, a.title,
               (SELECT list(th.theme_id ORDER BY th.score DESC, th.theme_id)
                FROM article_themes th WHERE th.article_id = h.article_id) AS themes,
               a.canonical_url AS url
        FROM hits h JOIN articles a USING (article_id)
        ORDER BY h.score DESC, h.article_id"""
    return sql, params
