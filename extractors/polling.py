"""Pure decisions about feeds: which are due, and what a poll's result does to a feed's state."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from spacewatch.extractors.models import FeedState, FeedUpdate, FetchResult, Outcome, ParsedFeed
from spacewatch.extractors.schedule import next_due


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    base_s: float = 900.0
    max_s: float = 24 * 3600.0
    redirect_confirmations: int = 2


def due_feeds(feeds: list[FeedState], now: datetime) -> tuple[list[FeedState], list[FeedState]]:
    """(due, backed off) among active feeds."""
    due, waiting = [], []
    for feed in feeds:
        if feed.next_due_at is None or feed.next_due_at <= now:
            due.append(feed)
        else:
            waiting.append(feed)
    return due, waiting


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def decide_update(
    state: FeedState,
    result: FetchResult,
    now: datetime,
    policy: BackoffPolicy,
    *,
    parsed: ParsedFeed | None = None,
    unchanged: bool = False,
    body_hash: str | None = None,
) -> FeedUpdate:
    """The feed's next state and its poll record, from what the fetch returned."""
    success = result.outcome in (Outcome.OK, Outcome.NOT_MODIFIED)
    failures = 0 if success else state.consecutive_failures + 1
    retry_after = None if success else result.retry_after_s
    due = next_due(
        result.outcome,
        failures,
        now,
        retry_after_s=retry_after,
        base_s=policy.base_s,
        max_s=policy.max_s,
    )

    new_url = state.url
    pending_url, pending_count = state.pending_redirect_url, state.pending_redirect_count
    if success:
        target = result.permanent_redirect_target
        if target is None:
            pending_url, pending_count = None, 0  # a temporary redirect never moves the feed
        else:
            pending_count = pending_count + 1 if target == pending_url else 1
            pending_url = target
            if pending_count >= policy.redirect_confirmations:
                new_url, pending_url, pending_count = target, None, 0

    if result.outcome is Outcome.OK:
        etag, last_modified = result.header("etag"), result.header("last-modified")
    elif result.outcome is Outcome.NOT_MODIFIED:
        etag = result.header("etag") or state.etag
        last_modified = result.header("last-modified") or state.last_modified
    else:  # an error page's validators describe the error page, not the feed
        etag, last_modified = state.etag, state.last_modified

    return FeedUpdate(
        feed_id=state.feed_id,
        polled_at=now,
        url=state.url,
        new_url=new_url,
        final_url=result.final_url,
        outcome=result.outcome.value,
        unchanged=unchanged or result.outcome is Outcome.NOT_MODIFIED,
        http_status=result.status,
        duration_ms=result.duration_ms,
        bytes=result.bytes_read,
        entries=len(parsed.entries) if parsed else None,
        new_entries=None,
        error=result.error,
        bozo_reason=parsed.bozo_reason if parsed else None,
        retry_after_s=result.retry_after_s,
        etag=etag,
        last_modified=last_modified,
        body_hash=body_hash,
        consecutive_failures=failures,
        next_due_at=due,
        success=success,
        pending_redirect_url=pending_url,
        pending_redirect_count=pending_count,
        title=parsed.title if parsed else None,
        site_url=parsed.site_url if parsed else None,
    )
