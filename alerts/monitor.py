"""Telling the operator: each `[health] notify` subscriber hears of a problem once, then every
`renotify_after_h` while it lasts, through the same destinations, quiet hours and stoppable
sender as alerts (`alerts/delivery.py`). The warehouse is opened only to read and to record
(`warehouse/health.py`), never while a notice is on its way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from spacewatch.alerts.delivery import destinations, quiet_hours_end, send_with_timeout
from spacewatch.alerts.health import (
    HealthReport,
    Problem,
    format_health_notice,
    match_due_notices,
)
from spacewatch.alerts.sending import Sender
from spacewatch.config import Config
from spacewatch.warehouse import health as observed
from spacewatch.warehouse.writes import Writes, as_writes


@dataclass
class NoticeSummary:
    sent: int = 0  # messages accepted
    problems: int = 0  # problems in them
    errors: list[str] = field(default_factory=list)


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
        observed.resolve_notices(con, current, now)
        notices = observed.open_notices(con)
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
        if quiet_hours_end(quiet, now, zone) is not None:
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
                    observed.record_notice(con, problem, sub.name, target.label, error, now)
            if error:
                summary.errors.append(f"health notice to {sub.name} {target.label}: {error}")
            else:
                summary.sent += 1
                summary.problems += len(due)
