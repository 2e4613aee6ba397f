"""The alert outbox's SQL: which alerts are due, what each destination already has, and every
outcome of a send or a digest (`alerts/delivery.py` decides; this module reads and records).

A row of `due_alerts` / `digest_alerts` is the alert with its story's outlets, when the story
was first seen and the alerting article's actors, so a subscriber can judge it from the
message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

_VIEW_SQL = """
SELECT al.alert_id, al.topic_id, al.severity, a.title, a.url, a.site_name, a.published_at,
       al.evidence, left(coalesce(a.text, a.description), 20000), al.subscriber, al.attempts,
       (SELECT list_sort(list(DISTINCT coalesce(o.site_name, f.name, f.title)))
        FROM articles o LEFT JOIN article_sources s ON s.article_id = o.article_id
        LEFT JOIN feeds f ON f.feed_id = s.feed_id
        WHERE o.story_id = a.story_id
          AND coalesce(o.site_name, f.name, f.title) IS NOT NULL),
       (SELECT min(o.first_seen_at) FROM articles o WHERE o.story_id = a.story_id),
       (SELECT list_sort(list(DISTINCT coalesce(r.name, x.actor_id)))
        FROM article_actors x LEFT JOIN registry_actors r ON r.actor_id = x.actor_id
        WHERE x.article_id = a.article_id)
FROM alerts al JOIN articles a USING (article_id)
"""


# --- immediate alerts ------------------------------------------------------------------------


def due_alerts(con: duckdb.DuckDBPyConnection, now: datetime, retry_failed: bool) -> list[tuple]:
    """Pending alerts whose next attempt is due; with `retry_failed`, every pending or failed
    one whatever its time."""
    if retry_failed:
        sql = f"{_VIEW_SQL} WHERE al.status IN ('pending', 'failed') ORDER BY al.alert_id"
        return con.execute(sql).fetchall()
    sql = (
        f"{_VIEW_SQL} WHERE al.status IN ('pending') AND al.next_attempt_at <= $now "
        "ORDER BY al.alert_id"
    )
    return con.execute(sql, {"now": now}).fetchall()


def sent_last_hour(con: duckdb.DuckDBPyConnection, now: datetime) -> dict[str, int]:
    """Immediate alerts sent in the hour before `now`, per subscriber (the hourly cap)."""
    return dict(
        con.execute(
            """SELECT subscriber, count(*) FROM alerts WHERE mode = 'immediate'
               AND sent_at > ? GROUP BY 1""",
            [now - timedelta(hours=1)],
        ).fetchall()
    )


def delivered(con: duckdb.DuckDBPyConnection, alert_ids: list[int]) -> dict[int, set[str]]:
    """alert id -> the destination labels that already accepted it."""
    rows = con.execute(
        """SELECT alert_id, destination FROM alert_deliveries
           WHERE list_contains(?, alert_id) AND status = 'sent'""",
        [alert_ids],
    ).fetchall()
    done: dict[int, set[str]] = {}
    for alert_id, label in rows:
        done.setdefault(alert_id, set()).add(label)
    return done


def record_delivery(
    con: duckdb.DuckDBPyConnection, alert_id: int, label: str, error: str | None, now: datetime
) -> None:
    """One destination's outcome for one alert."""
    con.execute(
        """INSERT INTO alert_deliveries VALUES (?, ?, ?, 1, ?, ?)
           ON CONFLICT DO UPDATE SET status = excluded.status,
               attempts = alert_deliveries.attempts + 1, last_error = excluded.last_error,
               sent_at = excluded.sent_at""",
        [alert_id, label, "failed" if error else "sent", error, None if error else now],
    )


def finish_alert(
    con: duckdb.DuckDBPyConnection,
    alert_id: int,
    status: str,
    attempts: int,
    error: str | None,
    now: datetime,
) -> None:
    """The alert is done: sent, or failed for good."""
    con.execute(
        """UPDATE alerts SET status = ?, attempts = ?, last_error = ?, next_attempt_at = NULL,
               sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE alert_id = ?""",
        [status, attempts, error, status, now, alert_id],
    )


def hold_alert(con: duckdb.DuckDBPyConnection, alert_id: int, status: str, note: str) -> None:
    """Paused (waits for a digest) or muted (kept, never sent); no further attempt is planned."""
    con.execute(
        "UPDATE alerts SET status = ?, note = ?, next_attempt_at = NULL WHERE alert_id = ?",
        [status, note, alert_id],
    )


def defer_alert(con: duckdb.DuckDBPyConnection, alert_id: int, until: datetime) -> None:
    """Quiet hours: the next attempt waits until they end."""
    con.execute("UPDATE alerts SET next_attempt_at = ? WHERE alert_id = ?", [until, alert_id])


def roll_into_digest(con: duckdb.DuckDBPyConnection, alert_id: int) -> None:
    """Over the hourly cap: the alert goes out in the subscriber's next digest."""
    con.execute("UPDATE alerts SET status = 'digest' WHERE alert_id = ?", [alert_id])


def retry_alert(
    con: duckdb.DuckDBPyConnection, alert_id: int, attempts: int, reason: str, at: datetime
) -> None:
    con.execute(
        """UPDATE alerts SET status = 'pending', attempts = ?, last_error = ?,
               next_attempt_at = ? WHERE alert_id = ?""",
        [attempts, reason, at, alert_id],
    )


# --- digests ---------------------------------------------------------------------------------


def last_digest(con: duckdb.DuckDBPyConnection, subscriber: str) -> datetime | None:
    row = con.execute(
        "SELECT last_sent_at FROM digests WHERE subscriber = ?", [subscriber]
    ).fetchone()
    return row[0] if row else None


def digest_alerts(con: duckdb.DuckDBPyConnection, subscriber: str) -> list[tuple]:
    return con.execute(
        f"{_VIEW_SQL} WHERE al.status = 'digest' AND al.subscriber = ? ORDER BY al.alert_id",
        [subscriber],
    ).fetchall()


def oldest_digest_alert(con: duckdb.DuckDBPyConnection, subscriber: str) -> datetime | None:
    return con.execute(
        "SELECT min(created_at) FROM alerts WHERE status = 'digest' AND subscriber = ?",
        [subscriber],
    ).fetchone()[0]  # type: ignore[index]


def digest_deliveries(
    con: duckdb.DuckDBPyConnection, subscriber: str, slot: datetime
) -> dict[str, tuple[str, int, datetime | None]]:
    """destination label -> (status, attempts, next attempt) for one digest slot."""
    return {
        label: (status, attempts, next_at)
        for label, status, attempts, next_at in con.execute(
            """SELECT destination, status, attempts, next_attempt_at FROM digest_deliveries
               WHERE subscriber = ? AND slot = ?""",
            [subscriber, slot],
        ).fetchall()
    }


def note_alert(con: duckdb.DuckDBPyConnection, alert_id: int, status: str, note: str) -> None:
    """Muted since it was held for the digest: kept, never sent."""
    con.execute(
        "UPDATE alerts SET status = ?, note = ? WHERE alert_id = ?", [status, note, alert_id]
    )


def record_digest(
    con: duckdb.DuckDBPyConnection,
    subscriber: str,
    slot: datetime,
    label: str,
    attempts: int,
    alert_ids: list[int],
    error: str | None,
    next_at: datetime | None,
    now: datetime,
) -> None:
    """One destination's outcome for one digest: the slot's row, and on success each alert's."""
    con.execute(
        """INSERT INTO digest_deliveries VALUES ($sub, $slot, $dest, $status, $attempts,
               $alerts, $error, $next, $sent)
           ON CONFLICT DO UPDATE SET status = excluded.status,
               attempts = excluded.attempts, alerts = excluded.alerts,
               last_error = excluded.last_error, next_attempt_at = excluded.next_attempt_at,
               sent_at = excluded.sent_at""",
        {
            "sub": subscriber,
            "slot": slot,
            "dest": label,
            "status": "failed" if error else "sent",
            "attempts": attempts,
            "alerts": len(alert_ids),
            "error": error,
            "next": next_at if error else None,
            "sent": None if error else now,
        },
    )
    if error:
        con.execute(
            "UPDATE alerts SET last_error = ? WHERE list_contains(?, alert_id)",
            [f"digest to {label}: {error}", alert_ids],
        )
    else:
        for alert_id in alert_ids:
            record_delivery(con, alert_id, label, None, now)


def mark_digest_sent(
    con: duckdb.DuckDBPyConnection, subscriber: str, labels: list[str], now: datetime
) -> int:
    """Digest alerts that every one of `labels` has: sent. Returns how many."""
    return len(
        con.execute(
            """UPDATE alerts SET status = 'sent', sent_at = $now, last_error = NULL
               WHERE status = 'digest' AND subscriber = $sub AND (
                   SELECT count(DISTINCT destination) FROM alert_deliveries d
                   WHERE d.alert_id = alerts.alert_id AND d.status = 'sent'
                     AND list_contains($labels, d.destination)) = len($labels)
               RETURNING alert_id""",
            {"now": now, "sub": subscriber, "labels": labels},
        ).fetchall()
    )


def finished_destinations(
    con: duckdb.DuckDBPyConnection, subscriber: str, slot: datetime, max_attempts: int
) -> int:
    """Destinations of a slot that have the digest or have used their attempts."""
    return con.execute(
        """SELECT count(*) FROM digest_deliveries WHERE subscriber = ? AND slot = ?
             AND (status = 'sent' OR attempts >= ?)""",
        [subscriber, slot, max_attempts],
    ).fetchone()[0]  # type: ignore[index]


def close_digest_slot(con: duckdb.DuckDBPyConnection, subscriber: str, now: datetime) -> None:
    con.execute(
        "INSERT INTO digests VALUES (?, ?) ON CONFLICT DO UPDATE SET last_sent_at = ?",
        [subscriber, now, now],
    )
