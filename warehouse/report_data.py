"""What `spacewatch report` shows, read from the analysts' snapshot into frozen dataclasses.

Only the documented views (v_*) are read, plus `alerts` / `alert_deliveries` for alert counts
and `runs` for the snapshot's freshness: the report stays valid as long as the view contract
holds. Counts over time are distinct stories, so syndicated copies count once (as in
v_actor_trends), bucketed by week for short periods and by month for long ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

TOP_SERIES = 8
STORIES_PER_THEME = 5
WEEKLY_UP_TO_DAYS = 183  # about 26 weekly points; longer spans would crowd the chart


@dataclass(frozen=True)
class Series:
    id: str
    label: str
    stories: int  # distinct stories over the whole period
    mentions: int
    counts: tuple[int, ...]  # distinct stories per bucket, aligned with Trend.buckets


@dataclass(frozen=True)
class Trend:
    grain: str  # 'week' or 'month'
    buckets: tuple[date, ...]  # first day of each bucket (weeks start on Monday)
    series: tuple[Series, ...]


@dataclass(frozen=True)
class Story:
    story_id: int
    article_id: int
    title: str
    site_name: str
    event_at: datetime
    url: str
    score: float
    evidence: tuple[str, ...]  # the theme's matched phrases
    snippet: str | None  # a passage naming the article's most mentioned actor
    copies: int  # articles of this story in the period with this theme


@dataclass(frozen=True)
class ThemeStories:
    theme_id: str
    label: str
    stories: int
    top: tuple[Story, ...]


@dataclass(frozen=True)
class Recurring:
    kind: str
    tag_id: str
    label: str
    seeds: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    articles: int
    stories: int
    stories_30d: int
    stories_prior_30d: int
    ratio_to_prior: float | None


@dataclass(frozen=True)
class Example:
    title: str
    url: str


@dataclass(frozen=True)
class Emerging:
    name: str
    mentions: int
    articles: int
    examples: tuple[Example, ...]
    refreshed_at: datetime | None


@dataclass(frozen=True)
class AlertCount:
    topic_id: str
    alerts: int
    sent: int
    failed: int
    pending: int
    digest: int
    deliveries_sent: int
    deliveries_failed: int


@dataclass(frozen=True)
class ReportData:
    since: datetime
    until: datetime  # when the report was made
    relevant_only: bool
    snapshot: str | None
    snapshot_modified_at: datetime | None
    last_run_at: datetime | None  # last completed run: the snapshot's freshness
    runs: int
    articles_total: int
    articles_in_period: int
    relevant_in_period: int
    stories_in_period: int  # counted over the articles the report covers
    feeds: int
    actors: Trend
    themes: Trend
    theme_stories: tuple[ThemeStories, ...]
    recurring: tuple[Recurring, ...]
    emerging: tuple[Emerging, ...]
    alerts: tuple[AlertCount, ...]

    @property
    def empty(self) -> bool:
        return not self.actors.series and not self.themes.series and not self.theme_stories


def build_label(tag_id: str) -> str:
    """Theme ids carry no display name in the views: 'moon_base_ilrs' -> 'Moon base ilrs'."""
    text = tag_id.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def build_buckets(start: datetime, end: datetime, grain: str) -> tuple[date, ...]:
    """Every bucket from the one holding `start` to the one holding `end`, none skipped."""
    first, last = _bucket(start.date(), grain), _bucket(end.date(), grain)
    out: list[date] = []
    day = first
    while day <= last:
        out.append(day)
        if grain == "week":
            day += timedelta(days=7)
        else:
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return tuple(out)


def _bucket(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def choose_grain(start: datetime, end: datetime) -> str:
    return "week" if (end - start).days <= WEEKLY_UP_TO_DAYS else "month"


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[tuple]:
    return con.execute(sql, params).fetchall()


# Articles the report covers: in the period and, unless asked otherwise, about space policy.
_COVERED = "event_at >= ? AND (coalesce(relevant, false) OR NOT ?)"


def _load_trend(
    con: duckdb.DuckDBPyConnection,
    view: str,
    id_col: str,
    name_sql: str,
    mentions_sql: str,
    since: datetime,
    relevant_only: bool,
    buckets: tuple[date, ...],
    grain: str,
) -> Trend:
    top = _rows(
        con,
        f"""SELECT {id_col}, {name_sql}, count(DISTINCT story_id) AS stories,
                   {mentions_sql} AS mentions
            FROM {view} WHERE {_COVERED}
            GROUP BY {id_col} ORDER BY stories DESC, mentions DESC, {id_col} LIMIT ?""",
        [since, relevant_only, TOP_SERIES],
    )
    if not top:
        return Trend(grain, buckets, ())
    ids = [row[0] for row in top]
    per_bucket = _rows(
        con,
        f"""SELECT {id_col}, CAST(date_trunc('{grain}', event_at) AS DATE) AS bucket,
                   count(DISTINCT story_id)
            FROM {view} WHERE {_COVERED} AND list_contains(?, {id_col})
            GROUP BY ALL""",
        [since, relevant_only, ids],
    )
    index = {day: i for i, day in enumerate(buckets)}
    counts = {tag: [0] * len(buckets) for tag in ids}
    for tag, day, n in per_bucket:
        if day in index:
            counts[tag][index[day]] = n
    series = tuple(
        Series(tag, name or build_label(tag), stories, int(mentions or 0), tuple(counts[tag]))
        for tag, name, stories, mentions in top
    )
    return Trend(grain, buckets, series)


def _load_theme_stories(
    con: duckdb.DuckDBPyConnection, since: datetime, relevant_only: bool
) -> tuple[ThemeStories, ...]:
    themes = _rows(
        con,
        f"""SELECT theme_id, count(DISTINCT story_id) AS stories FROM v_theme_mentions
            WHERE {_COVERED} GROUP BY 1 ORDER BY stories DESC, max(score) DESC, theme_id""",
        [since, relevant_only],
    )
    if not themes:
        return ()
    # One row per story and theme: its best-scoring article, then the best stories per theme.
    rows = _rows(
        con,
        f"""WITH m AS (
                SELECT *, row_number() OVER (PARTITION BY theme_id, story_id
                                             ORDER BY score DESC, article_id) AS pick,
                          count(*) OVER (PARTITION BY theme_id, story_id) AS copies
                FROM v_theme_mentions WHERE {_COVERED}
            ), best AS (
                SELECT *, row_number() OVER (PARTITION BY theme_id
                                             ORDER BY score DESC, event_at DESC, story_id) AS rank
                FROM m WHERE pick = 1
            )
            SELECT theme_id, story_id, article_id, title, site_name, event_at, url, score,
                   evidence, copies
            FROM best WHERE rank <= ? ORDER BY theme_id, rank""",
        [since, relevant_only, STORIES_PER_THEME],
    )
    snippets = _load_snippets(con, sorted({row[2] for row in rows}))
    by_theme: dict[str, list[Story]] = {}
    for theme, story, article, title, site, when, url, score, evidence, copies in rows:
        by_theme.setdefault(theme, []).append(
            Story(
                story_id=story,
                article_id=article,
                title=title or "(untitled)",
                site_name=site or "",
                event_at=when,
                url=url or "",
                score=float(score or 0.0),
                evidence=tuple(evidence or ()),
                snippet=snippets.get(article),
                copies=copies,
            )
        )
    return tuple(
        ThemeStories(theme, build_label(theme), n, tuple(by_theme.get(theme, ())))
        for theme, n in themes
    )


def _load_snippets(con: duckdb.DuckDBPyConnection, articles: list[int]) -> dict[int, str]:
    """A passage of each article naming its most mentioned actor, from the stored evidence."""
    if not articles:
        return {}
    rows = _rows(
        con,
        """SELECT article_id, evidence FROM (
               SELECT article_id, evidence,
                      row_number() OVER (PARTITION BY article_id
                                         ORDER BY mentions DESC, actor_id) AS r
               FROM v_actor_mentions WHERE list_contains(?, article_id))
           WHERE r = 1""",
        [articles],
    )
    return {article: pick_snippet(tuple(evidence or ())) for article, evidence in rows}


def pick_snippet(evidence: tuple[str, ...]) -> str | None:
    """Prefer a passage from the body (it starts with an ellipsis) over the headline."""
    if not evidence:
        return None
    return next((e for e in evidence if e.startswith("…")), evidence[0])


def _load_recurring(con: duckdb.DuckDBPyConnection, since: datetime) -> tuple[Recurring, ...]:
    rows = _rows(
        con,
        """SELECT r.kind, r.tag_id, coalesce(n.actor_name, r.tag_id), r.seeds, r.first_seen,
                  r.last_seen, r.articles, r.stories, r.stories_30d, r.stories_prior_30d,
                  r.ratio_to_prior
           FROM v_recurring r
           LEFT JOIN (SELECT actor_id, any_value(actor_name) AS actor_name
                      FROM v_actor_mentions GROUP BY 1) n
             ON r.kind = 'actor' AND n.actor_id = r.tag_id
           WHERE r.last_seen >= ?
           ORDER BY r.stories DESC, r.kind, r.tag_id""",
        [since],
    )
    return tuple(
        Recurring(
            kind=kind,
            tag_id=tag,
            label=name if kind == "actor" else build_label(tag),
            seeds=tuple(seeds or ()),
            first_seen=first,
            last_seen=last,
            articles=articles,
            stories=stories,
            stories_30d=s30,
            stories_prior_30d=prior,
            ratio_to_prior=None if ratio is None else float(ratio),
        )
        for kind, tag, name, seeds, first, last, articles, stories, s30, prior, ratio in rows
    )


def _load_emerging(con: duckdb.DuckDBPyConnection) -> tuple[Emerging, ...]:
    rows = _rows(
        con,
        """SELECT name, mentions, articles, examples, refreshed_at FROM v_emerging_actors
           ORDER BY mentions DESC, articles DESC, name""",
        [],
    )
    wanted = sorted({a for row in rows for a in (row[3] or ())[:3]})
    titles = {
        aid: Example(title or "(untitled)", url or "")
        for aid, title, url in (
            _rows(
                con,
                "SELECT article_id, title, url FROM v_articles WHERE list_contains(?, article_id)",
                [wanted],
            )
            if wanted
            else []
        )
    }
    return tuple(
        Emerging(
            name,
            mentions,
            articles,
            tuple(titles[a] for a in (examples or ())[:3] if a in titles),
            refreshed,
        )
        for name, mentions, articles, examples, refreshed in rows
    )


def _load_alerts(con: duckdb.DuckDBPyConnection, since: datetime) -> tuple[AlertCount, ...]:
    rows = _rows(
        con,
        """WITH d AS (
               SELECT al.topic_id,
                      count(*) FILTER (WHERE d.status = 'sent') AS sent,
                      count(*) FILTER (WHERE d.status = 'failed') AS failed
               FROM alert_deliveries d JOIN alerts al USING (alert_id)
               WHERE al.created_at >= ? GROUP BY 1
           )
           SELECT a.topic_id, count(*) AS alerts,
                  count(*) FILTER (WHERE a.status = 'sent'),
                  count(*) FILTER (WHERE a.status = 'failed'),
                  count(*) FILTER (WHERE a.status = 'pending'),
                  count(*) FILTER (WHERE a.status = 'digest'),
                  coalesce(any_value(d.sent), 0), coalesce(any_value(d.failed), 0)
           FROM alerts a LEFT JOIN d USING (topic_id)
           WHERE a.created_at >= ?
           GROUP BY a.topic_id ORDER BY alerts DESC, a.topic_id""",
        [since, since],
    )
    return tuple(AlertCount(*row) for row in rows)


def load_report_data(
    con: duckdb.DuckDBPyConnection,
    since: datetime,
    *,
    now: datetime | None = None,
    relevant_only: bool = True,
    snapshot: Path | None = None,
) -> ReportData:
    """Everything the report shows, for articles dated from `since` (published, else seen)."""
    now = now or datetime.now(UTC)
    total, in_period, relevant, stories, first, last = _rows(
        con,
        f"""SELECT count(*),
                   count(*) FILTER (WHERE event_at >= ?),
                   count(*) FILTER (WHERE event_at >= ? AND relevant),
                   count(DISTINCT story_id) FILTER (WHERE {_COVERED}),
                   min(event_at) FILTER (WHERE {_COVERED}),
                   max(event_at) FILTER (WHERE {_COVERED})
            FROM v_articles""",
        [since, since, since, relevant_only, since, relevant_only, since, relevant_only],
    )[0]
    last_run, runs = _rows(
        con, "SELECT max(finished_at) FILTER (WHERE status = 'completed'), count(*) FROM runs", []
    )[0]
    feeds = _rows(con, "SELECT count(*) FROM v_feed_health WHERE active", [])[0][0]
    # The chart starts at the first covered article, not at a --since far before any data.
    start = max(since, first) if first is not None else since
    end = max(now, last) if last is not None else now
    grain = choose_grain(start, end)
    buckets = build_buckets(start, end, grain)
    actors = _load_trend(
        con,
        "v_actor_mentions",
        "actor_id",
        "any_value(actor_name)",
        "sum(mentions)",
        since,
        relevant_only,
        buckets,
        grain,
    )
    themes = _load_trend(
        con,
        "v_theme_mentions",
        "theme_id",
        "NULL",
        "count(DISTINCT article_id)",
        since,
        relevant_only,
        buckets,
        grain,
    )
    modified = None
    if snapshot is not None and snapshot.exists():
        modified = datetime.fromtimestamp(snapshot.stat().st_mtime, UTC)
    return ReportData(
        since=since,
        until=now,
        relevant_only=relevant_only,
        snapshot=str(snapshot) if snapshot is not None else None,
        snapshot_modified_at=modified,
        last_run_at=last_run,
        runs=runs,
        articles_total=total,
        articles_in_period=in_period,
        relevant_in_period=relevant,
        stories_in_period=stories,
        feeds=feeds,
        actors=actors,
        themes=themes,
        theme_stories=_load_theme_stories(con, since, relevant_only),
        recurring=_load_recurring(con, since),
        emerging=_load_emerging(con),
        alerts=_load_alerts(con, since),
    )
