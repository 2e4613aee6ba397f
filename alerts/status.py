"""`spacewatch status` and the pipeline's health check: read what the warehouse says
(`warehouse/health.py`), judge it (`alerts/health.py`) and show it.

`check_health` only reads, so it works on the pipeline's connection and on the analysts'
snapshot alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from spacewatch.alerts.health import (
    HealthReport,
    Observations,
    build_report,
    format_duration,
)
from spacewatch.config import Config
from spacewatch.warehouse import health as observed

# `spacewatch status` exits with this when it found problems (0 when healthy, 1 when it could
# not check at all, for instance without a warehouse), so cron or systemd can act on it.
EXIT_UNHEALTHY = 4


def check_health(con: duckdb.DuckDBPyConnection, config: Config, now: datetime) -> HealthReport:
    """Read the warehouse (or its snapshot) and judge it against `[health]`."""
    observations = Observations(
        runs=observed.load_runs(con),
        feeds=observed.load_feeds(con),
        alerts=observed.load_alert_backlogs(con),
        ingest=observed.load_ingest(con, now, config.health.ingest_baseline_days),
        notices=observed.load_notice_failures(con),
    )
    return build_report(observations, config.health_policy, now)


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


def take_status(config: Config, now: datetime) -> tuple[HealthReport, StatusSource, list[tuple]]:
    """What `spacewatch status` shows: the report, where it was read, the open notices."""
    con, source = open_status_source(config)
    try:
        return check_health(con, config, now), source, observed.load_recent_notices(con)
    except duckdb.Error as exc:
        where = source.snapshot if source.kind == "snapshot" else source.warehouse
        raise StatusUnavailable(f"{where}: cannot read: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


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
