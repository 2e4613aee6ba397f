"""Is the monitor itself healthy? Pure evaluation of what the warehouse says about recent runs,
feeds, alert delivery and ingest volume, and the operator's notice. No I/O here:
`alerts/status.py` loads the observations (`warehouse/health.py`) and `alerts/monitor.py` sends
the notices.

A silent coverage gap is the failure users of monitors complain about most, so ingest volume
is compared with its own recent norm (the median of the previous days, which a single busy or
quiet day does not move) rather than with a fixed number.
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from spacewatch.alerts.messages import Message

# Problems that are worth waking the operator for; the others only show in `spacewatch status`
# (a stale or failed run cannot be reported by the run itself).
NOTIFIED_KINDS = frozenset({"ingest_drop", "feed_dead", "feed_failing", "alerts_failing"})


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    ingest_drop_ratio: float = 0.3  # last 24 h below this share of the baseline median: a drop
    ingest_baseline_days: int = 14  # 24-hour windows before the last one that form the norm
    min_baseline_days: int = 7  # fewer days of history: too early to judge a drop
    min_baseline_articles: float = 10.0  # a norm below this many articles a day is too small
    feed_dead_after_h: float = 48.0  # failing and no success for this long: dead
    alert_failing_after_h: float = 6.0  # a subscriber's delivery failing for this long
    run_stale_after_h: float = 24.0  # no completed run for this long


@dataclass(frozen=True, slots=True)
class RunObservation:
    run_id: int
    started_at: datetime
    finished_at: datetime | None
    status: str  # running, completed, failed, interrupted
    articles_new: int | None = None
    feeds_failed: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FeedObservation:
    feed_id: int
    name: str
    url: str
    created_at: datetime
    last_success_at: datetime | None
    consecutive_failures: int
    next_due_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class AlertBacklog:
    """One subscriber's undelivered alerts."""

    subscriber: str
    pending: int  # immediate alerts not yet accepted by every destination
    failed: int  # given up after max_attempts
    # Creation time of the oldest alert that failed at least once and is still undelivered,
    # counting only alerts newer than the subscriber's last successful delivery (older
    # failures are history once delivery works again).
    failing_since: datetime | None = None
    last_error: str | None = None
    # Whether any destination ever accepted an alert for this subscriber. A subscriber that
    # never received anything is misconfigured, not having a bad hour: judged at once.
    delivered_ever: bool = True


@dataclass(frozen=True, slots=True)
class NoticeFailure:
    """An operator (a `[health] notify` subscriber) whose destinations never accepted a
    health notice: the one channel meant to report problems is broken."""

    subscriber: str
    failing_since: datetime
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class IngestObservation:
    last_24h: int
    # Articles per 24-hour window before the last one, newest first; only windows the
    # warehouse fully covered (the first run had started), so a new install has no baseline.
    previous_days: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Observations:
    runs: tuple[RunObservation, ...] = ()  # newest first
    feeds: tuple[FeedObservation, ...] = ()  # active feeds
    alerts: tuple[AlertBacklog, ...] = ()
    ingest: IngestObservation = IngestObservation(0)
    notices: tuple[NoticeFailure, ...] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    # ingest_drop, feed_dead, feed_failing, alerts_failing, notices_failing, last_run_failed,
    # no_recent_run
    kind: str
    key: str  # stable identity across runs, so a problem is notified once, not every run
    summary: str  # one line for tables, logs and messages
    since: datetime | None = None

    @property
    def notify(self) -> bool:
        return self.kind in NOTIFIED_KINDS


@dataclass(frozen=True, slots=True)
class IngestBaseline:
    last_24h: int
    median: float | None  # None: not enough history
    days: int
    ratio: float | None  # last_24h / median


@dataclass(frozen=True, slots=True)
class HealthReport:
    now: datetime
    observations: Observations
    problems: tuple[Problem, ...]
    baseline: IngestBaseline

    @property
    def healthy(self) -> bool:
        return not self.problems


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def format_duration(delta: timedelta) -> str:
    """'3 d 4 h', '5 h', '12 min', '40 s': how long a problem has lasted, for people."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} d {hours % 24} h"


def match_baseline(ingest: IngestObservation, thresholds: HealthThresholds) -> IngestBaseline:
    days = ingest.previous_days[: thresholds.ingest_baseline_days]
    if len(days) < thresholds.min_baseline_days or not days:
        return IngestBaseline(ingest.last_24h, None, len(days), None)
    median = float(statistics.median(days))
    ratio = ingest.last_24h / median if median else None
    return IngestBaseline(ingest.last_24h, median, len(days), ratio)


def match_ingest_drop(
    baseline: IngestBaseline, thresholds: HealthThresholds, now: datetime
) -> Problem | None:
    """A drop: the last 24 h fell below `ingest_drop_ratio` of a norm large enough to judge.

    A small norm (a quiet source list, weekends) is not judged: 1 article against a median of
    3 is noise, not a coverage gap.
    """
    if baseline.median is None or baseline.median < thresholds.min_baseline_articles:
        return None
    if baseline.last_24h >= thresholds.ingest_drop_ratio * baseline.median:
        return None
    return Problem(
        "ingest_drop",
        "ingest_drop",
        f"ingest dropped: {baseline.last_24h} articles in the last 24 h against a median of "
        f"{baseline.median:g} a day over the previous {baseline.days} days "
        f"(below {thresholds.ingest_drop_ratio:.0%})",
        now - timedelta(hours=24),
    )


def match_dead_feeds(
    feeds: Sequence[FeedObservation], thresholds: HealthThresholds, now: datetime
) -> list[Problem]:
    """A feed that worked and has failed for `feed_dead_after_h` is dead; one that has never
    worked is failing from its first failed poll (a wrong URL on a new install should not wait
    two days to be reported)."""
    problems = []
    for feed in feeds:
        if feed.consecutive_failures <= 0:
            continue
        many = feed.consecutive_failures > 1
        failures = f"{feed.consecutive_failures} failure{'s' if many else ''}"
        error = f"last error: {feed.last_error or 'unknown'}"
        if feed.last_success_at is None:
            problems.append(
                Problem(
                    "feed_failing",
                    f"feed_failing:{feed.feed_id}",
                    f"feed {feed.name} ({feed.url}) has never succeeded: {failures} in a row "
                    f"since it was added {format_duration(now - feed.created_at)} ago; {error}",
                    feed.created_at,
                )
            )
            continue
        since = feed.last_success_at
        if _hours(now - since) < thresholds.feed_dead_after_h:
            continue
        problems.append(
            Problem(
                "feed_dead",
                f"feed_dead:{feed.feed_id}",
                f"feed {feed.name} ({feed.url}) dead for {format_duration(now - since)}: "
                f"{failures} in a row, last success {since:%Y-%m-%d %H:%M} UTC; {error}",
                since,
            )
        )
    return problems


def match_failing_alerts(
    backlogs: Sequence[AlertBacklog], thresholds: HealthThresholds, now: datetime
) -> list[Problem]:
    """Delivery failing for `alert_failing_after_h`; at once when nothing ever got through."""
    problems = []
    for backlog in backlogs:
        since = backlog.failing_since
        if since is None:
            continue
        counts = f"{backlog.pending} pending, {backlog.failed} given up"
        error = f"last error: {backlog.last_error or 'unknown'}"
        if not backlog.delivered_ever:
            summary = f"alerts to {backlog.subscriber} have never been delivered: {counts}; {error}"
        elif _hours(now - since) >= thresholds.alert_failing_after_h:
            summary = (
                f"alerts to {backlog.subscriber} failing for {format_duration(now - since)}: "
                f"{counts}; {error}"
            )
        else:
            continue
        problems.append(
            Problem("alerts_failing", f"alerts_failing:{backlog.subscriber}", summary, since)
        )
    return problems


def match_failing_notices(failures: Sequence[NoticeFailure]) -> list[Problem]:
    """Shown by `status` only: a notice through the broken channel would not arrive."""
    return [
        Problem(
            "notices_failing",
            f"notices_failing:{f.subscriber}",
            f"health notices to {f.subscriber} have never been delivered; "
            f"last error: {f.last_error or 'unknown'}",
            f.failing_since,
        )
        for f in failures
    ]


def match_run_problems(
    runs: Sequence[RunObservation], thresholds: HealthThresholds, now: datetime
) -> list[Problem]:
    problems = []
    finished = [r for r in runs if r.status != "running"]
    if finished and finished[0].status in ("failed", "interrupted"):
        last = finished[0]
        problems.append(
            Problem(
                "last_run_failed",
                f"last_run_failed:{last.run_id}",
                f"the last run (#{last.run_id}, started {last.started_at:%Y-%m-%d %H:%M} UTC) "
                f"{last.status}: {last.error or 'no reason recorded'}",
                last.finished_at or last.started_at,
            )
        )
    # A run in progress counts as alive: the pipeline is running.
    alive = [r.finished_at or r.started_at for r in runs if r.status in ("completed", "running")]
    latest = max(alive, default=None)
    if latest is None:
        problems.append(Problem("no_recent_run", "no_recent_run", "no completed run recorded"))
    elif _hours(now - latest) >= thresholds.run_stale_after_h:
        problems.append(
            Problem(
                "no_recent_run",
                "no_recent_run",
                f"no completed run for {format_duration(now - latest)} "
                f"(last at {latest:%Y-%m-%d %H:%M} UTC)",
                latest,
            )
        )
    return problems


def match_problems(
    observations: Observations, thresholds: HealthThresholds, now: datetime
) -> tuple[Problem, ...]:
    """Every problem the observations show, most urgent kinds first."""
    baseline = match_baseline(observations.ingest, thresholds)
    drop = match_ingest_drop(baseline, thresholds, now)
    return (
        *match_run_problems(observations.runs, thresholds, now),
        *([drop] if drop else []),
        *match_dead_feeds(observations.feeds, thresholds, now),
        *match_failing_alerts(observations.alerts, thresholds, now),
        *match_failing_notices(observations.notices),
    )


def build_report(
    observations: Observations, thresholds: HealthThresholds, now: datetime
) -> HealthReport:
    return HealthReport(
        now,
        observations,
        match_problems(observations, thresholds, now),
        match_baseline(observations.ingest, thresholds),
    )


def match_due_notices(
    problems: Sequence[Problem],
    last_notified: Mapping[str, datetime | None],
    renotify_after_h: float,
    now: datetime,
) -> tuple[Problem, ...]:
    """Problems to notify now to one destination.

    `last_notified` maps the key of each problem still open for that destination to when the
    destination last accepted a notice about it (None: the last attempt failed). A problem not
    in it is new (or came back after being resolved); one notified recently waits until
    `renotify_after_h` has passed, so a dead feed is not announced on every run.
    """
    due = []
    for problem in problems:
        if not problem.notify:
            continue
        if problem.key not in last_notified:
            due.append(problem)
            continue
        when = last_notified[problem.key]
        if when is None or _hours(now - when) >= renotify_after_h:
            due.append(problem)
    return tuple(due)


_LABELS = {
    "ingest_drop": "ingest drop",
    "feed_dead": "dead feed",
    "feed_failing": "failing feed",
    "alerts_failing": "alerts failing",
    "notices_failing": "health notices failing",
    "last_run_failed": "run failed",
    "no_recent_run": "no recent run",
}


def format_health_notice(problems: Sequence[Problem], now: datetime, where: str) -> Message:
    """One message listing the problems for an operator: Markdown for chat, HTML for email."""
    kinds = sorted({_LABELS.get(p.kind, p.kind) for p in problems})
    count = len(problems)
    title = f"Spacewatch health: {count} problem{'s' if count != 1 else ''} ({', '.join(kinds)})"
    stamp = f"{now:%Y-%m-%d %H:%M} UTC"
    md = [f"**{title}**", f"Warehouse `{where}`, checked {stamp}"]
    md += [f"- **{_LABELS.get(p.kind, p.kind)}**: {p.summary}" for p in problems]
    md.append("Details: `spacewatch status`. Spacewatch health notice")
    items = "".join(
        f"<li><b>{html.escape(_LABELS.get(p.kind, p.kind))}</b>: {html.escape(p.summary)}</li>"
        for p in problems
    )
    body = (
        f"<h2>{html.escape(title)}</h2>"
        f"<p>Warehouse <code>{html.escape(where)}</code>, checked {stamp}</p>"
        f"<ul>{items}</ul>"
        "<p>Details: <code>spacewatch status</code>.</p>"
        "<p><small>Spacewatch health notice</small></p>"
    )
    return Message(title, "\n\n".join(md), body)
