"""Delivering alerts from the outbox through Apprise, one destination at a time.

An alert is marked sent only after every destination of its subscriber accepted it; each
destination's success is recorded at once, so a retry never re-sends to a destination that
already has the message. URLs and tokens never leave this module: rows and messages carry the
subscriber's name and a masked destination label.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

import apprise
import duckdb

from ..extractors.alerting import RuleError, build_rule, describe_rule, hold_reason
from ..extractors.messages import AlertView, Message, format_alert, format_digest
from ..warehouse.batch import transaction
from .apprise_check import apprise_reason, capture_apprise_log, check_apprise_url, secret_parts
from .config import Config, SubscriberConfig

# Apprise logs at warning level about failed sends; our own records are the masked ones.
logging.getLogger("apprise").setLevel(logging.CRITICAL)


@dataclass
class DeliverySummary:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    retrying: int = 0
    digests: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"alerts delivered: {self.sent} sent, {self.deferred} deferred, "
            f"{self.retrying} to retry, {self.failed} failed, {self.digests} digests"
        )


@dataclass(frozen=True)
class Destination:
    label: str  # masked, safe to store and print
    send: Callable[[Message], bool]
    secrets: tuple[str, ...] = ()  # parts of its URL(s) to mask in Apprise's own reasons


def _masked(url: str) -> str:
    try:
        plugin = apprise.Apprise.instantiate(url)
    except Exception:  # a malformed URL must not leak through an exception message
        plugin = None
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else "unknown"
        return f"{scheme}://(invalid URL)"
    return str(plugin.url(privacy=True))


def _formats(plugin: object) -> list[str]:
    """The formats a plugin takes, preferred first (a ?format= override alone if given)."""
    declared = getattr(plugin, "_formats", None)
    formats = [str(getattr(f, "value", f)) for f in declared()] if callable(declared) else []
    override = getattr(plugin, "_format_override", None)
    if override is not None and str(getattr(override, "value", override)) in formats:
        return [str(getattr(override, "value", override))]
    return formats or [str(getattr(plugin, "notify_format", "text"))]


def _sender(target: apprise.Apprise) -> Callable[[Message], bool]:
    """Each plugin gets the rendering written for its format (Message.body_for), escaped for
    it, instead of Apprise converting one body: a conversion would undo our escaping."""

    def send(message: Message) -> bool:
        ok = True
        for plugin in target:
            body, body_format = message.body_for(
                _formats(plugin), str(getattr(plugin, "service_name", ""))
            )
            single = apprise.Apprise()
            single.add(plugin)
            ok = bool(single.notify(title=message.title, body=body, body_format=body_format)) and ok
        return ok

    return send


def _pace(target: apprise.Apprise, interval_s: float | None) -> apprise.Apprise:
    if interval_s is not None:
        for plugin in target:
            plugin.request_rate_per_sec = interval_s
    return target


def _secret_url(name: str) -> tuple[str, str | None]:
    """An Apprise URL kept in a Prefect Secret block (rotated in the UI, never in the file)."""
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name, _sync=True).get()  # type: ignore[union-attr]
    except ValueError:
        return "", f"Prefect Secret block {name!r} not found"
    except Exception as exc:  # no reachable API, or a block of another type
        return "", f"cannot read Prefect Secret block {name!r}: {type(exc).__name__}"
    if not isinstance(value, str) or not value.strip():
        return "", f"Prefect Secret block {name!r} holds no URL"
    return value.strip(), None


def destinations(
    subscriber: SubscriberConfig, interval_s: float | None = None
) -> tuple[list[Destination], list[str]]:
    """Apprise targets of a subscriber, and problems (already masked) with its entries."""
    found, problems = [], []
    for index, entry in enumerate(subscriber.urls, start=1):
        if entry.startswith("env:"):
            name = entry[4:]
            url = os.environ.get(name)
            if not url:
                problems.append(f"destination #{index}: environment variable {name} is not set")
                continue
            entries = [(url, f"env:{name}")]
        elif entry.startswith("secret:"):
            name = entry[7:]
            url, problem = _secret_url(name)
            if problem:
                problems.append(f"destination #{index}: {problem}")
                continue
            entries = [(url, f"secret:{name}")]
        elif entry.startswith("config:"):
            cfg = apprise.AppriseConfig()
            if not cfg.add(entry[7:]):
                problems.append(f"destination #{index}: cannot read Apprise config {entry[7:]}")
                continue
            target = apprise.Apprise()
            target.add(cfg)
            hidden = tuple(p for plugin in target for p in secret_parts(plugin.url()))
            found.append(
                Destination(f"config:{entry[7:]}", _sender(_pace(target, interval_s)), hidden)
            )
            continue
        else:
            entries = [(entry, None)]
        for url, label in entries:
            target = apprise.Apprise()
            if not target.add(url):
                why = check_apprise_url(url) or "not a valid Apprise URL"
                problems.append(f"destination #{index}: {why} ({_masked(url)})")
                continue
            found.append(
                Destination(
                    label or _masked(url), _sender(_pace(target, interval_s)), secret_parts(url)
                )
            )
    return found, problems


def send_with_timeout(destination: Destination, message: Message, timeout_s: float) -> str | None:
    """None when the destination accepted the message, else the (masked) reason."""
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(destination.send, message)
    try:
        return None if future.result(timeout=timeout_s) else "the destination refused the message"
    except FutureTimeout:
        return f"no answer within {timeout_s:g} s"
    except Exception as exc:  # Apprise plugins may raise; keep only the type, not its text
        return f"the notification library failed ({type(exc).__name__})"
    finally:
        pool.shutdown(wait=False)


# --- reading and updating the outbox -----------------------------------------------------

# The story's outlets (every syndicated copy, by site or feed name), when it was first seen,
# and the actors of the alerting article, so a subscriber can judge it from the message.
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


def _rule_texts(config: Config) -> dict[str, str]:
    texts = {}
    for topic in config.topics:
        try:
            texts[topic.id] = describe_rule(build_rule(topic.model_dump()))
        except RuleError:  # the pipeline reports bad rules; a message still goes out
            texts[topic.id] = topic.id
    return texts


def _views(rows: list[tuple], config: Config) -> list[tuple[AlertView, str, int]]:
    names = {t.id: t.name for t in config.topics}
    rules = _rule_texts(config)
    out = []
    for row in rows:
        aid, topic, severity, title, url, site, published, evidence, excerpt, sub, attempts = row[
            :11
        ]
        outlets, first_seen, actors = row[11:]
        view = AlertView(
            aid,
            topic,
            names.get(topic, topic),
            severity,
            title,
            url,
            site,
            published,
            tuple(evidence or ()),
            excerpt,
            subscriber=sub,
            outlets=tuple(outlets or ()),
            first_seen_at=first_seen,
            actors=tuple(actors or ()),
            rule_text=rules.get(topic),
        )
        out.append((view, sub, attempts))
    return out


def _in_quiet_hours(spec: str | None, now: datetime, zone: tzinfo = UTC) -> datetime | None:
    """End of the quiet period (in UTC) if `now` falls in it; `spec` is read in `zone`."""
    if not spec:
        return None
    start, end = (int(x) for x in spec.split("-"))
    local = now.astimezone(zone)
    hour = local.hour
    inside = start <= hour < end if start < end else (hour >= start or hour < end)
    if not inside:
        return None
    until = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(UTC)


def _delivered(con: duckdb.DuckDBPyConnection, alert_id: int) -> set[str]:
    rows = con.execute(
        "SELECT destination FROM alert_deliveries WHERE alert_id = ? AND status = 'sent'",
        [alert_id],
    ).fetchall()
    return {r[0] for r in rows}


def _record(
    con: duckdb.DuckDBPyConnection, alert_id: int, label: str, error: str | None, now: datetime
) -> None:
    con.execute(
        """INSERT INTO alert_deliveries VALUES (?, ?, ?, 1, ?, ?)
           ON CONFLICT DO UPDATE SET status = excluded.status,
               attempts = alert_deliveries.attempts + 1, last_error = excluded.last_error,
               sent_at = excluded.sent_at""",
        [alert_id, label, "failed" if error else "sent", error, None if error else now],
    )


def deliver_due(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    now: datetime,
    *,
    retry_failed: bool = False,
) -> DeliverySummary:
    """Send pending immediate alerts that are due (and failed ones with retry_failed)."""
    summary = DeliverySummary()
    subscribers = {s.name: s for s in config.subscribers}
    statuses = "('pending', 'failed')" if retry_failed else "('pending')"
    due = "" if retry_failed else "AND al.next_attempt_at <= $now"
    rows = con.execute(
        f"{_VIEW_SQL} WHERE al.status IN {statuses} {due} ORDER BY al.alert_id",
        {"now": now} if due else {},
    ).fetchall()
    sent_last_hour = dict(
        con.execute(
            """SELECT subscriber, count(*) FROM alerts WHERE mode = 'immediate'
               AND sent_at > ? GROUP BY 1""",
            [now - timedelta(hours=1)],
        ).fetchall()
    )
    resolved: dict[str, tuple[list[Destination], list[str]]] = {}
    for view, sub_name, attempts in _views(rows, config):
        sub = subscribers.get(sub_name)
        if sub is None:
            _finish(con, view.alert_id, "failed", attempts, "subscriber no longer configured", now)
            summary.failed += 1
            continue
        held = hold_reason(view.topic_id, sub.paused_until, sub.muted_topics, now)
        if held is not None:
            con.execute(
                "UPDATE alerts SET status = ?, note = ?, next_attempt_at = NULL WHERE alert_id = ?",
                [*held, view.alert_id],
            )
            summary.deferred += 1
            continue
        quiet, zone = config.quiet_hours_of(sub)
        quiet_until = _in_quiet_hours(quiet, now, zone)
        if quiet_until is not None:
            con.execute(
                "UPDATE alerts SET next_attempt_at = ? WHERE alert_id = ?",
                [quiet_until, view.alert_id],
            )
            summary.deferred += 1
            continue
        if sub.max_per_hour is not None and sent_last_hour.get(sub_name, 0) >= sub.max_per_hour:
            # Over the hourly cap: the alert rolls into the subscriber's next digest.
            con.execute("UPDATE alerts SET status = 'digest' WHERE alert_id = ?", [view.alert_id])
            summary.deferred += 1
            continue
        if sub_name not in resolved:
            resolved[sub_name] = destinations(sub, config.alerts.min_interval_s)
        targets, problems = resolved[sub_name]
        message = format_alert(view)
        done = _delivered(con, view.alert_id)
        errors = list(problems)
        for target in targets:
            if target.label in done:
                continue
            error = send_with_timeout(target, message, config.alerts.timeout_s)
            _record(con, view.alert_id, target.label, error, now)
            if error:
                errors.append(f"{target.label}: {error}")
        if not errors and targets:
            _finish(con, view.alert_id, "sent", attempts + 1, None, now)
            sent_last_hour[sub_name] = sent_last_hour.get(sub_name, 0) + 1
            summary.sent += 1
            continue
        if not targets:
            errors = errors or ["the subscriber has no usable destination"]
        attempts += 1
        reason = "; ".join(errors)[:1000]
        if attempts >= config.alerts.max_attempts:
            _finish(con, view.alert_id, "failed", attempts, reason, now)
            summary.failed += 1
        else:
            delay = min(config.alerts.retry_max_s, config.alerts.retry_base_s * 2 ** (attempts - 1))
            con.execute(
                """UPDATE alerts SET status = 'pending', attempts = ?, last_error = ?,
                       next_attempt_at = ? WHERE alert_id = ?""",
                [attempts, reason, now + timedelta(seconds=delay), view.alert_id],
            )
            summary.retrying += 1
        summary.errors.append(f"alert #{view.alert_id} for {sub_name}: {reason}")
    return summary


def _finish(
    con: duckdb.DuckDBPyConnection,
    alert_id: int,
    status: str,
    attempts: int,
    error: str | None,
    now: datetime,
) -> None:
    con.execute(
        """UPDATE alerts SET status = ?, attempts = ?, last_error = ?, next_attempt_at = NULL,
               sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE alert_id = ?""",
        [status, attempts, error, status, now, alert_id],
    )


def send_digests(
    con: duckdb.DuckDBPyConnection, config: Config, now: datetime, *, force: bool = False
) -> DeliverySummary:
    """Send each subscriber's waiting digest alerts once its daily digest hour has come."""
    summary = DeliverySummary()
    last = dict(con.execute("SELECT subscriber, last_sent_at FROM digests").fetchall())
    for sub in config.subscribers:
        hour, zone = config.digest_hour_of(sub)
        local = now.astimezone(zone)
        today = local.replace(hour=hour, minute=0, second=0, microsecond=0)
        slot = today if local >= today else today - timedelta(days=1)
        if not force and sub.name in last and last[sub.name] >= slot:
            continue
        if sub.paused_until is not None and now < sub.paused_until:
            continue  # paused: the digest alerts wait, nothing is lost
        rows = con.execute(
            f"{_VIEW_SQL} WHERE al.status = 'digest' AND al.subscriber = ? ORDER BY al.alert_id",
            [sub.name],
        ).fetchall()
        views = []
        for view, _, _ in _views(rows, config):
            held = hold_reason(view.topic_id, None, sub.muted_topics, now)
            if held is not None:
                con.execute(
                    "UPDATE alerts SET status = ?, note = ? WHERE alert_id = ?",
                    [*held, view.alert_id],
                )
            else:
                views.append(view)
        if not views:
            continue
        message = format_digest(sub.name, views, now)
        targets, problems = destinations(sub, config.alerts.min_interval_s)
        errors = list(problems)
        for target in targets:
            error = send_with_timeout(target, message, config.alerts.timeout_s)
            if error:
                errors.append(f"{target.label}: {error}")
        if errors or not targets:
            summary.errors.append(f"digest for {sub.name}: {'; '.join(errors) or 'no destination'}")
            summary.failed += 1
            continue
        with transaction(con):
            con.execute(
                """UPDATE alerts SET status = 'sent', sent_at = ?
                   WHERE status = 'digest' AND subscriber = ? AND alert_id <= ?""",
                [now, sub.name, max(v.alert_id for v in views)],
            )
            con.execute(
                "INSERT INTO digests VALUES (?, ?) ON CONFLICT DO UPDATE SET last_sent_at = ?",
                [sub.name, now, now],
            )
        summary.digests += 1
        summary.sent += len(views)
    return summary


def send_test(subscriber: SubscriberConfig, timeout_s: float) -> list[tuple[str, str | None]]:
    """(destination label, error or None) for a test message to each destination.

    A failure carries Apprise's own reason (read from its log for that send, credentials
    masked): "SMTP AUTH extension not supported by server" says more than "refused".
    """
    targets, problems = destinations(subscriber)
    message = Message(
        "Spacewatch test message",
        f"This is a test from Spacewatch for **{subscriber.name}**.",
        f"<p>This is a test from Spacewatch for <b>{subscriber.name}</b>.</p>",
    )
    results: list[tuple[str, str | None]] = [(p.split(":", 1)[0], p) for p in problems]
    for target in targets:
        with capture_apprise_log() as records:
            error = send_with_timeout(target, message, timeout_s)
        if error:
            reason = apprise_reason(list(records), target.secrets)
            if reason:
                # A timeout keeps its own words; a bare refusal gives way to Apprise's reason.
                generic = error == "the destination refused the message"
                error = f"Apprise: {reason}" if generic else f"{error} (Apprise: {reason})"
        results.append((target.label, error))
    return results
