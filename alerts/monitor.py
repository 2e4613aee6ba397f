"""Monitoring the monitor: load what the warehouse says about runs, feeds, alert delivery and
ingest volume, judge it (`alerts/health.py`), tell the operator, and show it in
`spacewatch status`.

`check_health` only reads, so it works on the pipeline's connection and on the analysts'
snapshot alike; `notify_health` writes `health_notices`, opening the writer only to record
(after a run has let go of it, like every delivery).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from spacewatch.alerts.delivery import (
    ShortWrites,
    Writes,
    _in_quiet_hours,
    as_writes,
    destinations,
    send_with_timeout,
)
from spacewatch.alerts.health import (
    AlertBacklog,
    FeedObservation,
    HealthReport,
    HealthThresholds,
    IngestObservation,
    NoticeFailure,
    Observations,
    Problem,
    RunObservation,
    build_report,
    format_duration,
    format_health_notice,
    match_due_notices,
)
from spacewatch.alerts.sending import Sender
from spacewatch.config import Config, HealthConfig

# `spacewatch status` exits with this when it found problems (0 when healthy, 1 when it could
# not check at all, for instance without a warehouse), so cron or systemd can act on it.
EXIT_UNHEALTHY = 4
_DAY = timedelta(hours=24)


def build_thresholds(health: HealthConfig) -> HealthThresholds:
    return HealthThresholds(
        ingest_drop_ratio=health.ingest_drop_ratio,
        ingest_baseline_days=health.ingest_baseline_days,
        min_baseline_days=health.min_baseline_days,
        min_baseline_articles=health.min_baseline_articles,
        feed_dead_after_h=health.feed_dead_after_h,
        alert_failing_after_h=health.alert_failing_after_h,
        run_stale_after_h=health.run_stale_after_h,
    )


# --- loading observations (read-only SQL) --------------------------------------------------


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


def check_health(con: duckdb.DuckDBPyConnection, config: Config, now: datetime) -> HealthReport:
    """Read the warehouse (or its snapshot) and judge it against `[health]`."""
    observations = Observations(
        runs=load_runs(con),
        feeds=load_feeds(con),
        alerts=load_alert_backlogs(con),
        ingest=load_ingest(con, now, config.health.ingest_baseline_days),
        notices=load_notice_failures(con),
    )
    return build_report(observations, build_thresholds(config.health), now)


# --- notifying the operator ----------------------------------------------------------------


@dataclass
class NoticeSummary:
    sent: int = 0  # messages accepted
    problems: int = 0  # problems in them
    errors: list[str] = field(default_factory=list)


def _open_notices(
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


def notify_health(
    db: Writes | duckdb.DuckDBPyConnection,
    config: Config,
    report: HealthReport,
    now: datetime,
) -> NoticeSummary:
    """Send each `[health] notify` subscriber the problems it has not heard about (or not for
    `renotify_after_h`), one message per destination; mark problems that are gone resolved.

    With `ShortWrites` the warehouse is open only to read and to record, never during a send.
    """
    db = as_writes(db)
    summary = NoticeSummary()
    current = {p.key for p in report.problems if p.notify}
    with db.writing() as con:
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
        notices = _open_notices(con)
    problems = [p for p in report.problems if p.notify]
    if not problems:
        return summary
    with Sender() as worker:
        _notify(db, config, problems, notices, now, worker, summary)
    return summary


def _notify(
    db: Writes,
    config: Config,
    problems: list[Problem],
    notices: dict[tuple[str, str], dict[str, datetime | None]],
    now: datetime,
    worker: Sender,
    summary: NoticeSummary,
) -> None:
    where = str(config.warehouse_path)
    wanted = set(config.health.notify)
    for sub in (s for s in config.subscribers if s.name in wanted):
        quiet, zone = config.quiet_hours_of(sub)
        if _in_quiet_hours(quiet, now, zone) is not None:
            continue  # nothing recorded: the notice goes out on the first run after them
        targets, issues = destinations(sub, config.alerts.min_interval_s)
        summary.errors += [f"health notice for {sub.name}: {issue}" for issue in issues]
        for target in targets:
            due = match_due_notices(
                problems,
                notices.get((sub.name, target.label), {}),
                config.health.renotify_after_h,
                now,
            )
            if not due:
                continue
            error = send_with_timeout(
                target, format_health_notice(due, now, where), config.alerts.timeout_s, worker
            )
            with db.writing() as con:
                for problem in due:
                    _record_notice(con, problem, sub.name, target.label, error, now)
            if error:
                summary.errors.append(f"health notice to {sub.name} {target.label}: {error}")
            else:
                summary.sent += 1
                summary.problems += len(due)


def _record_notice(
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


@task(name="health-check", cache_policy=NO_CACHE)
def health_check_task(con: duckdb.DuckDBPyConnection, config: Config) -> HealthReport:
    """Judge the warehouse at the end of a run (the operator is told after the run let go of
    the writer: `health_notify_task`)."""
    now = datetime.now(UTC)
    report = check_health(con.cursor(), config, now)
    logger = get_run_logger()
    for problem in report.problems:
        logger.warning(f"health: {problem.summary}")
    return report


@task(name="health-notify", cache_policy=NO_CACHE)
def health_notify_task(config: Config, wait_s: float) -> NoticeSummary:
    """Tell the operator of new problems, outside the writer: each notice is recorded in its
    own short write."""
    db = ShortWrites(config.warehouse_path, wait_s)
    now = datetime.now(UTC)
    with db.writing() as con:
        report = check_health(con, config, now)
    notified = notify_health(db, config, report, now)
    logger = get_run_logger()
    if notified.sent:
        logger.info(f"health: {notified.sent} notice(s) sent covering {notified.problems}")
    for error in notified.errors:
        logger.warning(error)
    return notified


def run_health_notices(config: Config, wait_s: float) -> None:
    """After the run: notify the operator. A broken notice is logged and never fails the run."""
    if not config.health.notify:
        return
    try:
        health_notify_task(config, wait_s)
    except Exception as exc:
        try:
            logger: Any = get_run_logger()
        except Exception:  # outside a flow run
            logger = logging.getLogger(__name__)
        logger.error(f"health notice failed (the run itself is fine): {type(exc).__name__}: {exc}")


def run_health_check(con: duckdb.DuckDBPyConnection, config: Config) -> HealthReport | None:
    """The pipeline's last step. A broken health check is logged and never fails the run."""
    try:
        return health_check_task(con, config)
    except Exception as exc:
        try:
            logger: Any = get_run_logger()
        except Exception:  # outside a flow run
            logger = logging.getLogger(__name__)
        logger.error(f"health check failed (the run itself is fine): {type(exc).__name__}: {exc}")
        return None


# --- `spacewatch status` -------------------------------------------------------------------


@dataclass(frozen=True)
class StatusSource:
    """What `status` read: the warehouse itself when no run holds it (so `alerts retry` or a
    fixed feed shows at once), else the analysts' snapshot of the last completed run."""

    kind: str  # "warehouse" or "snapshot"
    warehouse: str
    snapshot: str | None = None  # the snapshot file, when one is published
    snapshot_at: datetime | None = None
    writer: str | None = None  # who holds the warehouse, when the snapshot had to answer


class StatusUnavailable(Exception):
    """Neither the warehouse nor a snapshot can be read; one line for the user."""


def open_status_source(config: Config) -> tuple[duckdb.DuckDBPyConnection, StatusSource]:
    """The warehouse read-only when no run holds it, else the snapshot (saying who writes).

    DuckDB lets a read-only connection in only while no process has the file open for
    writing, and a writer that starts while we read waits a few seconds for us
    (`warehouse.connect.READER_GRACE_S`), so reading live never fails a run.
    """
    from spacewatch.warehouse.connect import WarehouseBusy, WarehouseError, connect, writer_holder
    from spacewatch.warehouse.migrate import SchemaError, check_schema
    from spacewatch.warehouse.snapshot import SnapshotMissing, open_snapshot, snapshot_path

    path = config.warehouse_path
    if not path.exists():
        raise StatusUnavailable(f"{path}: warehouse not found (run `spacewatch run` first)")
    snap = snapshot_path(path)
    published = datetime.fromtimestamp(snap.stat().st_mtime, UTC) if snap.exists() else None
    holder = writer_holder(path)
    if holder is None:
        try:
            con = connect(path, read_only=True)
        except WarehouseBusy:
            holder = "another process has it open"
        except WarehouseError as exc:
            raise StatusUnavailable(str(exc)) from None
        else:
            try:
                check_schema(con, str(path))
            except SchemaError as exc:
                con.close()
                raise StatusUnavailable(str(exc)) from None
            where = str(snap) if published else None
            return con, StatusSource("warehouse", str(path), where, published)
    try:
        con = open_snapshot(path)
    except SnapshotMissing:
        raise StatusUnavailable(
            f"{path}: a run is writing the warehouse ({holder}) and no analysts' snapshot is "
            "published yet; try again when the run ends"
        ) from None
    return con, StatusSource("snapshot", str(path), str(snap), published, holder)


def _when(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def build_status_record(
    report: HealthReport, source: StatusSource, notices: list[tuple]
) -> dict[str, Any]:
    """`spacewatch status --format json`: everything the tables show, machine-readable."""
    obs, base = report.observations, report.baseline
    snapshot = None
    if source.snapshot is not None and source.snapshot_at is not None:
        snapshot = {
            "path": source.snapshot,
            "published_at": _when(source.snapshot_at),
            "age_s": round((report.now - source.snapshot_at).total_seconds()),
        }
    return {
        "healthy": report.healthy,
        "checked_at": _when(report.now),
        "read_from": source.kind,
        "warehouse": source.warehouse,
        "writer": source.writer,
        "snapshot": snapshot,
        "problems": [
            {"kind": p.kind, "key": p.key, "summary": p.summary, "since": _when(p.since)}
            for p in report.problems
        ],
        "runs": [
            {
                "run_id": r.run_id,
                "started_at": _when(r.started_at),
                "finished_at": _when(r.finished_at),
                "status": r.status,
                "articles_new": r.articles_new,
                "feeds_failed": r.feeds_failed,
                "error": r.error,
            }
            for r in obs.runs
        ],
        "feeds": {
            "active": len(obs.feeds),
            "failing": [
                {
                    "feed_id": f.feed_id,
                    "name": f.name,
                    "url": f.url,
                    "consecutive_failures": f.consecutive_failures,
                    "last_success_at": _when(f.last_success_at),
                    "next_due_at": _when(f.next_due_at),
                    "last_error": f.last_error,
                }
                for f in obs.feeds
                if f.consecutive_failures
            ],
        },
        "alerts": [
            {
                "subscriber": a.subscriber,
                "pending": a.pending,
                "failed": a.failed,
                "failing_since": _when(a.failing_since),
                "last_error": a.last_error,
            }
            for a in obs.alerts
        ],
        "ingest": {
            "last_24h": base.last_24h,
            "baseline_median": base.median,
            "baseline_days": base.days,
            "ratio": None if base.ratio is None else round(base.ratio, 3),
            "previous_days": list(obs.ingest.previous_days),
        },
        "notices": [
            {"problem_key": k, "subscriber": s, "destination": d, "notified_at": _when(t)}
            for k, s, d, t in notices
        ],
    }


def load_recent_notices(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Open health notices (empty on a snapshot older than migration 0004)."""
    try:
        return con.execute(
            """SELECT problem_key, subscriber, destination, notified_at FROM health_notices
               WHERE resolved_at IS NULL ORDER BY problem_key, subscriber, destination"""
        ).fetchall()
    except duckdb.CatalogException:
        return []


def render_status(report: HealthReport, source: StatusSource, notices: list[tuple]) -> list[Any]:
    """Rich renderables for `spacewatch status`, most important first."""
    from rich.table import Table
    from rich.text import Text

    now = report.now
    out: list[Any] = []
    if source.kind == "warehouse":
        line = f"Warehouse {source.warehouse}, read live at {now:%Y-%m-%d %H:%M} UTC"
    else:
        assert source.snapshot_at is not None
        age = format_duration(now - source.snapshot_at)
        line = (
            f"Snapshot {source.snapshot}, published {source.snapshot_at:%Y-%m-%d %H:%M} UTC "
            f"({age} ago): a run is writing the warehouse ({source.writer}), so this is the "
            "state at the end of the last run"
        )
    out.append(Text(line, style="dim"))
    if report.healthy:
        out.append(Text("Healthy: no problems found.", style="bold green"))
    else:
        problems = Table(title=f"Problems ({len(report.problems)})", title_style="bold red")
        for column in ("kind", "since", "notified", "problem"):
            problems.add_column(column, overflow="fold")
        notified: dict[str, datetime] = {}
        for key, _sub, _dest, when in notices:
            if when is not None and (key not in notified or when > notified[key]):
                notified[key] = when
        for p in report.problems:
            told = notified.get(p.key)
            problems.add_row(
                p.kind,
                f"{p.since:%Y-%m-%d %H:%M}" if p.since else "",
                f"{told:%Y-%m-%d %H:%M}" if told else ("-" if p.notify else "status only"),
                p.summary,
                style="red",
            )
        out.append(problems)

    runs = Table(title="Last runs")
    for column in ("run", "started (UTC)", "took", "status", "new articles", "feeds failed"):
        runs.add_column(column, overflow="fold")
    for r in report.observations.runs:
        took = format_duration(r.finished_at - r.started_at) if r.finished_at else ""
        status = r.status + (f": {r.error}" if r.error else "")
        style = {"failed": "red", "interrupted": "red", "running": "yellow"}.get(r.status)
        runs.add_row(
            str(r.run_id),
            f"{r.started_at:%Y-%m-%d %H:%M}",
            took,
            status,
            str(r.articles_new if r.articles_new is not None else ""),
            str(r.feeds_failed if r.feeds_failed is not None else ""),
            style=style,
        )
    out.append(runs)

    feeds = report.observations.feeds
    failing = [f for f in feeds if f.consecutive_failures]
    table = Table(title=f"Feeds failing or backed off: {len(failing)} of {len(feeds)} active feeds")
    for column in ("id", "name", "failures", "last success", "next try", "last error"):
        table.add_column(column, overflow="fold")
    dead = {p.key.split(":", 1)[1] for p in report.problems if p.kind.startswith("feed_")}
    for f in failing:
        table.add_row(
            str(f.feed_id),
            f.name,
            str(f.consecutive_failures),
            f"{format_duration(now - f.last_success_at)} ago" if f.last_success_at else "never",
            f"{f.next_due_at:%Y-%m-%d %H:%M}" if f.next_due_at and f.next_due_at > now else "now",
            f.last_error or "",
            style="red" if str(f.feed_id) in dead else "yellow",
        )
    out.append(table if failing else Text(f"Feeds: all {len(feeds)} active feeds healthy."))

    alerts = Table(title="Alerts pending or failed")
    for column in ("subscriber", "pending", "failed", "failing since", "last error"):
        alerts.add_column(column, overflow="fold")
    for a in report.observations.alerts:
        alerts.add_row(
            a.subscriber,
            str(a.pending),
            str(a.failed),
            f"{a.failing_since:%Y-%m-%d %H:%M}" if a.failing_since else "",
            a.last_error or "",
            style="red" if a.failing_since else None,
        )
    backlog = report.observations.alerts
    out.append(alerts if backlog else Text("Alerts: none pending or failed."))

    base = report.baseline
    if base.median is None:
        norm = f"no norm yet ({base.days} full days of history)"
    else:
        ratio = f", {base.ratio:.0%} of it" if base.ratio is not None else ""
        norm = f"median {base.median:g} a day over the previous {base.days} days{ratio}"
    days = ", ".join(str(n) for n in report.observations.ingest.previous_days)
    out.append(
        Text(
            f"Ingest: {base.last_24h} articles in the last 24 h; {norm}."
            + (f"\nPrevious days, newest first: {days}" if days else "")
        )
    )
    return out
