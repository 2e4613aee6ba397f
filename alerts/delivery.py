"""Delivering alerts and digests from the outbox through Apprise, one destination at a time.

An alert is marked sent only after every destination of its subscriber accepted it; each
destination's outcome is recorded at once, so a retry never re-sends to a destination that
already has the message. Sending happens outside the warehouse writer: the outbox is read in a
short write, each outcome is recorded in its own short write (`ShortWrites`), and a send that
times out is stopped, not abandoned (`sending.Sender`).

URLs and tokens never leave this module: rows, messages and errors carry a destination label
(`alerts/redact.py`) and Apprise's own reasons with every part of the URL masked.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

import duckdb

from spacewatch.alerts.messages import AlertView, Message, format_alert, format_digest
from spacewatch.alerts.redact import destination_label, mask_secrets, secret_parts
from spacewatch.alerts.rules import RuleError, build_rule, describe_rule, hold_reason
from spacewatch.alerts.sending import Outcome, Sender
from spacewatch.config import Config, SubscriberConfig
from spacewatch.warehouse import outbox
from spacewatch.warehouse.connect import delivery_lock, open_for_writing, writer_lock
from spacewatch.warehouse.writes import ShortWrites, Writes, as_writes

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

    def add(self, other: DeliverySummary) -> None:
        self.sent += other.sent
        self.deferred += other.deferred
        self.failed += other.failed
        self.retrying += other.retrying
        self.digests += other.digests
        self.errors += other.errors


@dataclass(frozen=True)
class Destination:
    label: str  # `destination_label`: safe to store and print
    target: str  # the Apprise URL, or "config:PATH"; never stored or printed
    interval_s: float | None
    secrets: tuple[str, ...]  # every part of the URL that may be a credential

    def mask(self, text: str) -> str:
        return mask_secrets(text, self.secrets)


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
    """Apprise targets of a subscriber, and problems (naming labels, never URLs) with its
    entries."""
    import apprise  # here, not at the top: commands that send nothing never load it

    found, problems = [], []
    for index, entry in enumerate(subscriber.urls, start=1):
        label = destination_label(subscriber.name, entry)
        if entry.startswith("env:"):
            name = entry[4:]
            url = os.environ.get(name, "").strip()
            if not url:
                problems.append(f"destination #{index}: environment variable {name} is not set")
                continue
        elif entry.startswith("secret:"):
            url, problem = _secret_url(entry[7:])
            if problem:
                problems.append(f"destination #{index}: {problem}")
                continue
        elif entry.startswith("config:"):
            cfg = apprise.AppriseConfig()
            if not cfg.add(entry[7:]):
                problems.append(f"destination #{index}: cannot read Apprise config {entry[7:]}")
                continue
            found.append(Destination(label, entry, interval_s, ()))
            continue
        else:
            url = entry
        if not apprise.Apprise().add(url):
            problems.append(f"destination #{index}: not a valid Apprise URL ({label})")
            continue
        found.append(Destination(label, url, interval_s, secret_parts(url)))
    return found, problems


def send_message(
    sender: Sender, destination: Destination, message: Message, timeout_s: float
) -> Outcome:
    """Send through the stoppable worker; the reason comes back masked."""
    outcome = sender.send(destination.target, destination.interval_s, message, timeout_s)
    if outcome.reason is None:
        return outcome
    return Outcome(outcome.status, destination.mask(outcome.reason)[:500])


def send_with_timeout(
    destination: Destination, message: Message, timeout_s: float, sender: Sender | None = None
) -> str | None:
    """None when the destination accepted the message, else the (masked) reason."""
    with _using(sender) as s:
        return send_message(s, destination, message, timeout_s).reason


@contextmanager
def _using(sender: Sender | None) -> Iterator[Sender]:
    if sender is not None:
        yield sender
        return
    with Sender() as own:
        yield own


# --- reading and updating the outbox -----------------------------------------------------


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


def quiet_hours_end(spec: str | None, now: datetime, zone: tzinfo = UTC) -> datetime | None:
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


def deliver_due(
    db: Writes | duckdb.DuckDBPyConnection,
    config: Config,
    now: datetime,
    *,
    retry_failed: bool = False,
    sender: Sender | None = None,
) -> DeliverySummary:
    """Send pending immediate alerts that are due (and failed ones with retry_failed).

    `db` is a connection the caller holds, or `ShortWrites`: then the warehouse is opened for
    each read and each record only, never while a message is on its way.
    """
    db = as_writes(db)
    summary = DeliverySummary()
    subscribers = {s.name: s for s in config.subscribers}
    with db.writing() as con:
        rows = outbox.due_alerts(con, now, retry_failed)
        sent_last_hour = outbox.sent_last_hour(con, now)
        delivered = outbox.delivered(con, [r[0] for r in rows])
    if not rows:
        return summary
    resolved: dict[str, tuple[list[Destination], list[str]]] = {}
    with _using(sender) as worker:
        for view, sub_name, attempts in _views(rows, config):
            _deliver_one(
                db, config, now, worker, view, subscribers.get(sub_name), sub_name, attempts,
                delivered.get(view.alert_id, set()), resolved, sent_last_hour, summary,
            )  # fmt: skip
    return summary


def _deliver_one(
    db: Writes,
    config: Config,
    now: datetime,
    worker: Sender,
    view: AlertView,
    sub: SubscriberConfig | None,
    sub_name: str,
    attempts: int,
    done: set[str],
    resolved: dict[str, tuple[list[Destination], list[str]]],
    sent_last_hour: dict[str, int],
    summary: DeliverySummary,
) -> None:
    if sub is None:
        with db.writing() as con:
            outbox.finish_alert(
                con, view.alert_id, "failed", attempts, "subscriber no longer configured", now
            )
        summary.failed += 1
        return
    held = hold_reason(view.topic_id, sub.paused_until, sub.muted_topics, now)
    if held is not None:  # paused: waits for the first digest after; muted: kept, never sent
        with db.writing() as con:
            outbox.hold_alert(con, view.alert_id, *held)
        summary.deferred += 1
        return
    quiet, zone = config.quiet_hours_of(sub)
    quiet_until = quiet_hours_end(quiet, now, zone)
    if quiet_until is not None:
        with db.writing() as con:
            outbox.defer_alert(con, view.alert_id, quiet_until)
        summary.deferred += 1
        return
    if sub.max_per_hour is not None and sent_last_hour.get(sub_name, 0) >= sub.max_per_hour:
        # Over the hourly cap: the alert rolls into the subscriber's next digest.
        with db.writing() as con:
            outbox.roll_into_digest(con, view.alert_id)
        summary.deferred += 1
        return
    if sub_name not in resolved:
        resolved[sub_name] = destinations(sub, config.alerts.min_interval_s)
    targets, problems = resolved[sub_name]
    message = format_alert(view)
    errors = list(problems)
    for target in targets:
        if target.label in done:
            continue
        outcome = send_message(worker, target, message, config.alerts.timeout_s)
        # Recorded at once, in its own short write: a crash after this line never re-sends
        # to this destination; a crash just before it re-sends this one message once.
        with db.writing() as con:
            outbox.record_delivery(con, view.alert_id, target.label, outcome.reason, now)
        if outcome.reason:
            errors.append(f"{target.label}: {outcome.reason}")
    if not errors and targets:
        with db.writing() as con:
            outbox.finish_alert(con, view.alert_id, "sent", attempts + 1, None, now)
        sent_last_hour[sub_name] = sent_last_hour.get(sub_name, 0) + 1
        summary.sent += 1
        return
    if not targets:
        errors = errors or ["the subscriber has no usable destination"]
    attempts += 1
    reason = "; ".join(errors)[:1000]
    with db.writing() as con:
        if attempts >= config.alerts.max_attempts:
            outbox.finish_alert(con, view.alert_id, "failed", attempts, reason, now)
        else:
            delay = min(config.alerts.retry_max_s, config.alerts.retry_base_s * 2 ** (attempts - 1))
            outbox.retry_alert(con, view.alert_id, attempts, reason, now + timedelta(seconds=delay))
    if attempts >= config.alerts.max_attempts:
        summary.failed += 1
    else:
        summary.retrying += 1
    summary.errors.append(f"alert #{view.alert_id} for {sub_name}: {reason}")


def digest_slot(hour: int, now: datetime, zone: tzinfo = UTC) -> datetime:
    """The start of the digest period `now` falls in: the latest `hour`:00 (read in `zone`) at
    or before it, in UTC."""
    local = now.astimezone(zone)
    today = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    slot = today if local >= today else today - timedelta(days=1)
    return slot.astimezone(UTC)


def send_digests(
    db: Writes | duckdb.DuckDBPyConnection,
    config: Config,
    now: datetime,
    *,
    force: bool = False,
    sender: Sender | None = None,
) -> DeliverySummary:
    """Send each subscriber's waiting digest alerts once its daily digest hour has come.

    Each destination gets at most one digest per slot (`digest_deliveries`): a destination
    that fails is retried with the same backoff and cap as immediate alerts, and the others
    are never sent the digest again. A digest is due when an alert waits that came before the
    slot began, so nothing goes out before a subscriber's digest hour. `force` sends now.
    """
    db = as_writes(db)
    summary = DeliverySummary()
    with _using(sender) as worker:
        for sub in config.subscribers:
            _send_digest(db, config, now, force, worker, sub, summary)
    return summary


def _send_digest(
    db: Writes,
    config: Config,
    now: datetime,
    force: bool,
    worker: Sender,
    sub: SubscriberConfig,
    summary: DeliverySummary,
) -> None:
    if sub.paused_until is not None and now < sub.paused_until:
        return  # paused: the digest alerts wait, nothing is lost
    hour, zone = config.digest_hour_of(sub)
    slot = digest_slot(hour, now, zone)
    with db.writing() as con:
        last = outbox.last_digest(con, sub.name)
        rows = outbox.digest_alerts(con, sub.name)
        oldest = outbox.oldest_digest_alert(con, sub.name)
        state = outbox.digest_deliveries(con, sub.name, slot)
        delivered = outbox.delivered(con, [r[0] for r in rows])
    if not rows:
        return
    assert oldest is not None  # rows are digest alerts, so there is an oldest
    if not force and (oldest >= slot or (last is not None and last >= slot)):
        return  # nothing waited when the digest hour came, or this slot is finished
    views = []
    for view, _, _ in _views(rows, config):
        held = hold_reason(view.topic_id, None, sub.muted_topics, now)
        if held is None:
            views.append(view)
            continue
        with db.writing() as con:  # muted since it was held for the digest: kept, never sent
            outbox.note_alert(con, view.alert_id, *held)
    if not views:
        return
    targets, problems = destinations(sub, config.alerts.min_interval_s)
    errors = [f"digest for {sub.name}: {p}" for p in problems]
    accepted = 0
    for target in targets:
        status, attempts, next_at = state.get(target.label, (None, 0, None))
        if not force and (
            status == "sent"
            or attempts >= config.alerts.max_attempts
            or (next_at is not None and next_at > now)
        ):
            continue
        batch = [v for v in views if target.label not in delivered.get(v.alert_id, set())]
        if not batch:
            continue
        outcome = send_message(
            worker, target, format_digest(sub.name, batch, now), config.alerts.timeout_s
        )
        attempts += 1
        delay = min(config.alerts.retry_max_s, config.alerts.retry_base_s * 2 ** (attempts - 1))
        ids = [v.alert_id for v in batch]
        with db.writing() as con:
            outbox.record_digest(
                con, sub.name, slot, target.label, attempts, ids, outcome.reason,
                now + timedelta(seconds=delay), now,
            )  # fmt: skip
        if outcome.reason:
            errors.append(f"digest for {sub.name}: {target.label}: {outcome.reason}")
        else:
            accepted += 1
    summary.digests += 1 if accepted else 0  # one digest per subscriber, however many outlets
    with db.writing() as con:
        labels = [t.label for t in targets]
        # An alert is sent once every destination has it; the others stay waiting, so a
        # destination that gave up today gets them in tomorrow's digest.
        if labels and not problems:
            summary.sent += outbox.mark_digest_sent(con, sub.name, labels, now)
        finished = outbox.finished_destinations(con, sub.name, slot, config.alerts.max_attempts)
        if targets and finished >= len(targets):
            # The slot is over once every destination has it or has used its attempts.
            outbox.close_digest_slot(con, sub.name, now)
    if errors or not targets:
        summary.errors += errors or [f"digest for {sub.name}: no destination"]
        summary.failed += 1


def send_test(subscriber: SubscriberConfig, timeout_s: float) -> list[tuple[str, str | None]]:
    """(destination label, error or None) for a test message to each destination."""
    targets, problems = destinations(subscriber)
    message = Message(
        "Spacewatch test message",
        f"This is a test from Spacewatch for **{subscriber.name}**.",
        f"<p>This is a test from Spacewatch for <b>{subscriber.name}</b>.</p>",
    )
    results: list[tuple[str, str | None]] = [(p.split(":", 1)[0], p) for p in problems]
    with Sender() as worker:
        for target in targets:
            results.append((target.label, send_message(worker, target, message, timeout_s).reason))
    return results


# --- delivery passes, outside the writer ----------------------------------------------------

# Passes in one delivery run: alerts committed while a pass was sending are picked up by the
# next; a run that found nothing to send ends.
MAX_PASSES = 10


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def delivering(config: Config, wait_s: float) -> Iterator[ShortWrites]:
    """The delivery lock, the warehouse migrated once, then short writes only."""
    path = config.warehouse_path
    with delivery_lock(path, wait_s):
        with writer_lock(path, wait_s):
            open_for_writing(path).close()  # migrations and views, before any short write
        yield ShortWrites(path, wait_s)


def deliver_pending(
    config: Config, wait_s: float, clock: Callable[[], datetime] = _now
) -> DeliverySummary:
    """Every due immediate alert, sent outside the writer: what the `spacewatch-delivery`
    flow and the end of `spacewatch run` do."""
    total = DeliverySummary()
    if not config.subscribers or not config.warehouse_path.exists():
        return total
    with delivering(config, wait_s) as db, Sender() as worker:
        for _ in range(MAX_PASSES):
            summary = deliver_due(db, config, clock(), sender=worker)
            total.add(summary)
            if not summary.sent:
                break
    return total


def deliver_digests(
    config: Config, wait_s: float, now: datetime | None = None, *, force: bool = False
) -> DeliverySummary:
    """The digests that are due, sent outside the writer (the `spacewatch-digest` flow)."""
    if not config.subscribers or not config.warehouse_path.exists():
        return DeliverySummary()
    with delivering(config, wait_s) as db:
        return send_digests(db, config, now or _now(), force=force)
