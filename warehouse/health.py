"""The SQL of the monitor's health: what the warehouse says about runs, feeds, alert delivery
and ingest volume (read-only, so it works on the snapshot too), and the `health_notices` table
that remembers which operator was told about which problem."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from spacewatch.alerts.health import (
    AlertBacklog,
    FeedObservation,
    IngestObservation,
    NoticeFailure,
    Problem,
    RunObservation,
)

_DAY = timedelta(hours=24)


def load_runs(con: duckdb.DuckDBPyConnection, limit: int = 10) -> tuple[RunObservation, ...]:
    rows = con.execute(
        """SELECT run_id, started_at, finished_at, status, articles_new, feeds_failed, error
           FROM runs ORDER BY run_id DESC LIMIT ?""",
        [limit],
    ).fetchall()
    return tuple(RunObservation(*row) for row in rows)


def load_feeds(con: duckdb.DuckDBPyConnection) -> tuple[FeedObservation, ...]:
    rows = con.execute(
        """SELECT feed_id, coalesce(name, title, url), url, created_at, last_success_at,
                  consecutive_failures, next_due_at, last_error
           FROM feeds WHERE active ORDER BY consecutive_failures DESC, feed_id"""
    ).fetchall()
    return tuple(FeedObservation(*row) for row in rows)


def load_alert_backlogs(con: duckdb.DuckDBPyConnection) -> tuple[AlertBacklog, ...]:
    rows = con.execute(
        """WITH last_sent AS (
               SELECT subscriber, max(sent_at) AS sent_at FROM alerts
               WHERE status = 'sent' GROUP BY subscriber),
           -- any destination that accepted any alert: the subscriber is set up right
           delivered AS (
               SELECT DISTINCT a.subscriber FROM alert_deliveries d JOIN alerts a USING (alert_id)
               WHERE d.status = 'sent')
           SELECT a.subscriber,
                  count(*) FILTER (WHERE a.status = 'pending'),
                  count(*) FILTER (WHERE a.status = 'failed'),
                  min(a.created_at) FILTER (
                      WHERE a.last_error IS NOT NULL
                        AND a.created_at > coalesce(l.sent_at, '-infinity'::TIMESTAMPTZ)),
                  arg_max(a.last_error, a.alert_id) FILTER (WHERE a.last_error IS NOT NULL),
                  bool_or(l.sent_at IS NOT NULL OR d.subscriber IS NOT NULL)
           FROM alerts a LEFT JOIN last_sent l USING (subscriber)
                LEFT JOIN delivered d USING (subscriber)
           WHERE a.status IN ('pending', 'failed')
              OR (a.status = 'digest' AND a.last_error IS NOT NULL)  -- a digest destination failing
           GROUP BY a.subscriber ORDER BY a.subscriber"""
    ).fetchall()
    return tuple(AlertBacklog(*row) for row in rows)


def load_notice_failures(con: duckdb.DuckDBPyConnection) -> tuple[NoticeFailure, ...]:
    """Operators none of whose destinations ever accepted a health notice."""
    rows = con.execute(
        """SELECT subscriber, min(first_seen_at), arg_max(last_error, first_seen_at)
           FROM health_notices GROUP BY subscriber
           HAVING sum(notices) = 0 AND count(last_error) > 0 ORDER BY subscriber"""
    ).fetchall()
    return tuple(NoticeFailure(*row) for row in rows)


def load_ingest(
    con: duckdb.DuckDBPyConnection, now: datetime, baseline_days: int
) -> IngestObservation:
    """Articles stored in the last 24 h, and in each 24 h window before it that the warehouse
    fully covered (windows starting before the first run would count a gap that was never
    monitored)."""
    first = con.execute("SELECT min(started_at) FROM runs").fetchone()[0]  # type: ignore[index]
    rows = con.execute(
        """SELECT CAST(floor((epoch($now) - epoch(first_seen_at)) / 86400) AS INTEGER) AS day,
                  count(*)
           FROM articles
           WHERE first_seen_at <= $now AND first_seen_at > $now - to_days($days + 1)
           GROUP BY day""",
        {"now": now, "days": baseline_days},
    ).fetchall()
    counts = {int(day): int(n) for day, n in rows}
    previous = []
    for day in range(1, baseline_days + 1):
        if first is None or now - (day + 1) * _DAY < first:
            break
        previous.append(counts.get(day, 0))
    return IngestObservation(counts.get(0, 0), tuple(previous))


def open_notices(
    con: duckdb.DuckDBPyConnection,
) -> dict[tuple[str, str], dict[str, datetime | None]]:
    """(subscriber, destination) -> {problem key: last accepted notice} for unresolved rows."""
    found: dict[tuple[str, str], dict[str, datetime | None]] = {}
    for key, sub, dest, when in con.execute(
        """SELECT problem_key, subscriber, destination, notified_at FROM health_notices
           WHERE resolved_at IS NULL"""
    ).fetchall():
        found.setdefault((sub, dest), {})[key] = when
    return found


def resolve_notices(con: duckdb.DuckDBPyConnection, current: set[str], now: datetime) -> None:
    """Mark resolved the open notices whose problem is no longer in `current`."""
    open_rows = con.execute(
        "SELECT DISTINCT problem_key FROM health_notices WHERE resolved_at IS NULL"
    ).fetchall()
    gone = [key for (key,) in open_rows if key not in current]
    if gone:
        con.execute(
            """UPDATE health_notices SET resolved_at = ?
               WHERE resolved_at IS NULL AND list_contains(?, problem_key)""",
            [now, gone],
        )


def record_notice(
    con: duckdb.DuckDBPyConnection,
    problem: Problem,
    subscriber: str,
    destination: str,
    error: str | None,
    now: datetime,
) -> None:
    sent = error is None
    con.execute(
        """INSERT INTO health_notices VALUES ($key, $sub, $dest, $kind, $summary, $now,
               CASE WHEN $sent THEN $now END, CASE WHEN $sent THEN 1 ELSE 0 END, $error, NULL)
           ON CONFLICT DO UPDATE SET
               kind = excluded.kind, summary = excluded.summary, last_error = excluded.last_error,
               -- a problem that came back after being resolved starts afresh
               first_seen_at = CASE WHEN health_notices.resolved_at IS NULL
                                    THEN health_notices.first_seen_at ELSE $now END,
               notified_at = CASE WHEN $sent THEN $now
                                  WHEN health_notices.resolved_at IS NULL
                                  THEN health_notices.notified_at END,
               notices = health_notices.notices + CASE WHEN $sent THEN 1 ELSE 0 END,
               resolved_at = NULL""",
        {
            "key": problem.key,
            "sub": subscriber,
            "dest": destination,
            "kind": problem.kind,
            "summary": problem.summary[:1000],
            "now": now,
            "sent": sent,
            "error": error,
        },
    )


def load_recent_notices(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Open health notices (empty on a snapshot older than migration 0004)."""
    try:
        return con.execute(
            """SELECT problem_key, subscriber, destination, notified_at FROM health_notices
               WHERE resolved_at IS NULL ORDER BY problem_key, subscriber, destination"""
        ).fetchall()
    except duckdb.CatalogException:
        return []
