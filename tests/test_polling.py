"""Pure polling decisions (backoff, Retry-After, redirects, validators), then a few real polls.

`decide_update` and `next_due` are pure, so most tests build `FetchResult`s by hand; the last
section feeds them results from real fetches against a LoopbackServer.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from spacewatch.extractors.feeds import parse_feed
from spacewatch.extractors.fetch import Fetcher, FetchPolicy
from spacewatch.extractors.models import (
    FeedEntry,
    FeedState,
    FetchResult,
    Outcome,
    ParsedFeed,
    Redirect,
)
from spacewatch.extractors.polling import BackoffPolicy, body_digest, decide_update, due_feeds
from spacewatch.extractors.schedule import HARD_FAILURE_FACTOR, backoff_seconds, next_due
from spacewatch.loopback import LoopbackServer, Route, static_route

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
URL = "https://example.org/feed.xml"
NEW = "https://example.org/new-feed.xml"
OTHER = "https://elsewhere.example/feed.xml"
POLICY = BackoffPolicy(base_s=900.0, max_s=24 * 3600.0, redirect_confirmations=2)


def state(**overrides: object) -> FeedState:
    values: dict[str, object] = {
        "feed_id": 7,
        "configured_url": URL,
        "url": URL,
        "name": "Example",
        "etag": None,
        "last_modified": None,
        "body_hash": None,
        "consecutive_failures": 0,
        "next_due_at": None,
        "pending_redirect_url": None,
        "pending_redirect_count": 0,
    }
    values.update(overrides)
    return FeedState(**values)  # type: ignore[arg-type]


def result(outcome: Outcome = Outcome.OK, **overrides: object) -> FetchResult:
    values: dict[str, object] = {
        "url": URL,
        "final_url": URL,
        "outcome": outcome,
        "status": {
            Outcome.OK: 200,
            Outcome.NOT_MODIFIED: 304,
            Outcome.TEMPORARY: 503,
            Outcome.HARD: 404,
        }[outcome],
    }
    values.update(overrides)
    return FetchResult(**values)  # type: ignore[arg-type]


def moved(*hops: tuple[int, str], outcome: Outcome = Outcome.OK) -> FetchResult:
    """A result that followed `hops` (status, target) starting from URL."""
    redirects, current = [], URL
    for status, target in hops:
        redirects.append(Redirect(status, current, target))
        current = target
    return result(outcome, final_url=current, redirects=tuple(redirects))


def apply(feed: FeedState, res: FetchResult, now: datetime = NOW, **kwargs: object) -> FeedState:
    """The feed's state after `decide_update`, as the pipeline would store it."""
    update = decide_update(feed, res, now, POLICY, **kwargs)  # type: ignore[arg-type]
    return dataclasses.replace(
        feed,
        url=update.new_url,
        etag=update.etag,
        last_modified=update.last_modified,
        body_hash=update.body_hash,
        consecutive_failures=update.consecutive_failures,
        next_due_at=update.next_due_at,
        pending_redirect_url=update.pending_redirect_url,
        pending_redirect_count=update.pending_redirect_count,
    )


def delay(feed: FeedState, now: datetime = NOW) -> float:
    assert feed.next_due_at is not None
    return (feed.next_due_at - now).total_seconds()


# -- backoff ---------------------------------------------------------------------------------


def test_backoff_doubles_per_failure_and_is_capped() -> None:
    base, cap = 900.0, 24 * 3600.0
    delays = [backoff_seconds(Outcome.TEMPORARY, n, base, cap) for n in range(1, 10)]
    assert delays[:7] == [900, 1800, 3600, 7200, 14400, 28800, 57600]
    assert delays[7:] == [cap, cap]
    assert all(b <= cap for b in delays)


def test_hard_failures_back_off_faster_and_share_the_cap() -> None:
    base, cap = 900.0, 24 * 3600.0
    assert backoff_seconds(Outcome.HARD, 1, base, cap) == base * HARD_FAILURE_FACTOR
    assert backoff_seconds(Outcome.HARD, 2, base, cap) == base * HARD_FAILURE_FACTOR * 2
    assert backoff_seconds(Outcome.HARD, 50, base, cap) == cap


@pytest.mark.parametrize("failures", [0, -1])
def test_no_failures_no_backoff(failures: int) -> None:
    assert backoff_seconds(Outcome.TEMPORARY, failures, 900, 3600) == 0.0


@pytest.mark.parametrize("outcome", [Outcome.OK, Outcome.NOT_MODIFIED])
def test_success_never_backs_off(outcome: Outcome) -> None:
    assert backoff_seconds(outcome, 5, 900, 3600) == 0.0


def test_huge_failure_counts_do_not_overflow() -> None:
    assert backoff_seconds(Outcome.TEMPORARY, 10**6, 900, 3600) == 3600.0


def test_decide_update_backs_off_through_consecutive_failures() -> None:
    feed = state()
    seen = []
    for n in range(1, 10):
        feed = apply(feed, result(Outcome.TEMPORARY, error="HTTP 503"))
        assert feed.consecutive_failures == n
        seen.append(delay(feed))
    assert seen == [min(900 * 2 ** (n - 1), POLICY.max_s) for n in range(1, 10)]
    assert seen[-1] == POLICY.max_s


def test_success_resets_failures_and_is_due_now() -> None:
    feed = state(consecutive_failures=6, next_due_at=NOW + timedelta(hours=3))
    for outcome in (Outcome.OK, Outcome.NOT_MODIFIED):
        update = decide_update(feed, result(outcome), NOW, POLICY)
        assert update.success is True
        assert update.consecutive_failures == 0
        assert update.next_due_at == NOW
        assert update.outcome == outcome.value


def test_failure_record_carries_the_fetch_details() -> None:
    res = result(
        Outcome.HARD,
        status=410,
        error="HTTP 410 Gone",
        duration_ms=12,
        bytes_read=0,
        final_url=OTHER,
    )
    update = decide_update(state(consecutive_failures=1), res, NOW, POLICY)
    assert update.success is False
    assert update.consecutive_failures == 2
    assert update.next_due_at == NOW + timedelta(seconds=900 * HARD_FAILURE_FACTOR * 2)
    assert (update.http_status, update.error, update.final_url) == (410, "HTTP 410 Gone", OTHER)
    assert update.duration_ms == 12
    assert update.url == update.new_url == URL
    assert update.polled_at == NOW
    assert update.entries is None and update.bozo_reason is None


# -- Retry-After -----------------------------------------------------------------------------


def test_retry_after_longer_than_backoff_is_honoured() -> None:
    update = decide_update(
        state(), result(Outcome.TEMPORARY, status=429, retry_after_s=7200), NOW, POLICY
    )
    assert update.next_due_at == NOW + timedelta(seconds=7200)
    assert update.retry_after_s == 7200


def test_retry_after_shorter_than_backoff_does_not_shorten_it() -> None:
    feed = state(consecutive_failures=3)  # the 4th failure backs off 7200 s
    update = decide_update(feed, result(Outcome.TEMPORARY, retry_after_s=60), NOW, POLICY)
    assert update.next_due_at == NOW + timedelta(seconds=7200)


def test_retry_after_is_capped_at_max() -> None:
    res = result(Outcome.TEMPORARY, retry_after_s=30 * 24 * 3600)
    update = decide_update(state(), res, NOW, POLICY)
    assert update.next_due_at == NOW + timedelta(seconds=POLICY.max_s)


def test_retry_after_on_success_does_not_delay() -> None:
    update = decide_update(state(), result(Outcome.OK, retry_after_s=3600), NOW, POLICY)
    assert update.next_due_at == NOW


def test_next_due_without_retry_after() -> None:
    due = next_due(Outcome.TEMPORARY, 2, NOW, base_s=60, max_s=600)
    assert due == NOW + timedelta(seconds=120)
    assert next_due(Outcome.TEMPORARY, 2, NOW, retry_after_s=0.0, base_s=60, max_s=600) == due


# -- redirects -------------------------------------------------------------------------------


def test_permanent_redirect_moves_after_two_confirmations() -> None:
    feed = apply(state(), moved((301, NEW)))
    assert feed.url == URL
    assert (feed.pending_redirect_url, feed.pending_redirect_count) == (NEW, 1)

    update = decide_update(feed, moved((301, NEW)), NOW, POLICY)
    assert update.url == URL  # the URL this poll used
    assert update.new_url == NEW  # where the next poll goes
    assert (update.pending_redirect_url, update.pending_redirect_count) == (None, 0)


@pytest.mark.parametrize("confirmations", [1, 2, 3, 5])
def test_redirect_confirmations_is_the_policys(confirmations: int) -> None:
    pol = dataclasses.replace(POLICY, redirect_confirmations=confirmations)
    feed = state()
    for poll in range(1, confirmations + 1):
        update = decide_update(feed, moved((308, NEW)), NOW, pol)
        if poll < confirmations:
            assert update.new_url == URL
            assert update.pending_redirect_count == poll
        feed = dataclasses.replace(
            feed,
            url=update.new_url,
            pending_redirect_url=update.pending_redirect_url,
            pending_redirect_count=update.pending_redirect_count,
        )
    assert feed.url == NEW
    assert feed.pending_redirect_url is None


def test_multi_hop_permanent_chain_moves_to_the_last_target() -> None:
    feed = apply(state(), moved((301, OTHER), (308, NEW)))
    feed = apply(feed, moved((301, OTHER), (308, NEW)))
    assert feed.url == NEW


def test_changing_target_restarts_the_count() -> None:
    feed = apply(state(), moved((301, NEW)))
    feed = apply(feed, moved((301, OTHER)))
    assert feed.url == URL
    assert (feed.pending_redirect_url, feed.pending_redirect_count) == (OTHER, 1)
    feed = apply(feed, moved((301, OTHER)))
    assert feed.url == OTHER


@pytest.mark.parametrize("status", [302, 303, 307])
def test_temporary_redirect_never_moves_and_resets_pending(status: int) -> None:
    feed = apply(state(), moved((301, NEW)))
    assert feed.pending_redirect_count == 1
    feed = apply(feed, moved((status, NEW)))
    assert feed.url == URL
    assert (feed.pending_redirect_url, feed.pending_redirect_count) == (None, 0)
    for _ in range(5):
        feed = apply(feed, moved((status, NEW)))
        assert feed.url == URL
        assert feed.pending_redirect_count == 0
    # The permanent count starts again from one after the temporary interlude.
    feed = apply(feed, moved((301, NEW)))
    assert (feed.url, feed.pending_redirect_count) == (URL, 1)


def test_mixed_chain_counts_as_temporary() -> None:
    feed = apply(state(), moved((301, OTHER), (302, NEW)))
    feed = apply(feed, moved((301, OTHER), (302, NEW)))
    assert feed.url == URL
    assert feed.pending_redirect_count == 0


def test_no_redirect_resets_pending() -> None:
    feed = apply(state(), moved((301, NEW)))
    feed = apply(feed, result())
    assert (feed.pending_redirect_url, feed.pending_redirect_count) == (None, 0)


def test_permanent_redirect_on_304_counts() -> None:
    feed = apply(state(), moved((301, NEW), outcome=Outcome.NOT_MODIFIED))
    feed = apply(feed, moved((301, NEW), outcome=Outcome.NOT_MODIFIED))
    assert feed.url == NEW


@pytest.mark.parametrize("outcome", [Outcome.HARD, Outcome.TEMPORARY])
def test_redirect_to_a_failing_target_never_moves(outcome: Outcome) -> None:
    feed = state()
    for _ in range(4):
        feed = apply(feed, moved((301, NEW), outcome=outcome))
    assert feed.url == URL
    assert feed.pending_redirect_count == 0


def test_failure_keeps_pending_redirect() -> None:
    feed = apply(state(), moved((301, NEW)))
    feed = apply(feed, result(Outcome.TEMPORARY))
    assert (feed.url, feed.pending_redirect_url, feed.pending_redirect_count) == (URL, NEW, 1)


# -- validators ------------------------------------------------------------------------------

OLD_LM = "Mon, 01 Jan 2024 00:00:00 GMT"
NEW_LM = "Tue, 02 Jan 2024 00:00:00 GMT"


def test_ok_takes_the_responses_validators() -> None:
    res = result(headers=(("etag", '"v2"'), ("last-modified", NEW_LM)))
    update = decide_update(state(etag='"v1"', last_modified=OLD_LM), res, NOW, POLICY)
    assert (update.etag, update.last_modified) == ('"v2"', NEW_LM)


def test_ok_without_validators_drops_the_old_ones() -> None:
    update = decide_update(state(etag='"v1"', last_modified=OLD_LM), result(), NOW, POLICY)
    assert (update.etag, update.last_modified) == (None, None)


def test_304_keeps_validators() -> None:
    feed = state(etag='"v1"', last_modified=OLD_LM, body_hash="abc")
    update = decide_update(feed, result(Outcome.NOT_MODIFIED), NOW, POLICY)
    assert (update.etag, update.last_modified) == ('"v1"', OLD_LM)
    assert update.unchanged is True
    assert update.success is True


def test_304_with_a_fresh_etag_takes_it() -> None:
    feed = state(etag='"v1"', last_modified=OLD_LM)
    res = result(Outcome.NOT_MODIFIED, headers=(("etag", '"v1-gzip"'),))
    update = decide_update(feed, res, NOW, POLICY)
    assert (update.etag, update.last_modified) == ('"v1-gzip"', OLD_LM)


def test_failure_without_validators_keeps_the_stored_ones() -> None:
    feed = state(etag='"v1"', last_modified=OLD_LM)
    update = decide_update(feed, result(Outcome.TEMPORARY), NOW, POLICY)
    assert (update.etag, update.last_modified) == ('"v1"', OLD_LM)


def test_failure_does_not_adopt_the_error_pages_validators() -> None:
    feed = state(etag='"v1"', last_modified=OLD_LM)
    res = result(
        Outcome.TEMPORARY,
        status=503,
        headers=(("etag", '"maintenance-page"'), ("last-modified", NEW_LM)),
    )
    update = decide_update(feed, res, NOW, POLICY)
    assert (update.etag, update.last_modified) == ('"v1"', OLD_LM)


# -- parsed feed, unchanged, digest, due feeds --------------------------------------------


def test_parsed_feed_fills_the_record() -> None:
    entry = FeedEntry("g1", "https://example.org/1", "One", None, None, None, None)
    parsed = ParsedFeed(
        title="Example",
        site_url="https://example.org/",
        entries=(entry, entry),
        bozo_reason="SAXParseException: oops",
    )
    update = decide_update(
        state(), result(bytes_read=321), NOW, POLICY, parsed=parsed, body_hash="h1"
    )
    assert update.entries == 2
    assert update.bozo_reason == "SAXParseException: oops"
    assert (update.title, update.site_url) == ("Example", "https://example.org/")
    assert update.body_hash == "h1"
    assert update.bytes == 321
    assert update.unchanged is False


def test_unchanged_flag_is_passed_through() -> None:
    update = decide_update(state(), result(), NOW, POLICY, unchanged=True)
    assert update.unchanged is True


def test_body_digest_is_stable_and_short() -> None:
    # Stored as feeds.body_hash and compared with the next poll's: pinned, so a change of
    # hash is deliberate (it would make every feed look changed once).
    assert body_digest(b"abc") == "ba7816bf8f01cfea414140de5dae2223"
    assert body_digest(b"abd") == "a52d159f262b2c6ddb724a61840befc3"


def test_due_feeds_splits_on_next_due_at() -> None:
    never = state(feed_id=1, next_due_at=None)
    past = state(feed_id=2, next_due_at=NOW - timedelta(seconds=1))
    exactly = state(feed_id=3, next_due_at=NOW)
    future = state(feed_id=4, next_due_at=NOW + timedelta(seconds=1))
    due, waiting = due_feeds([never, past, exactly, future], NOW)
    assert [f.feed_id for f in due] == [1, 2, 3]
    assert [f.feed_id for f in waiting] == [4]


# -- real polls against the loopback server ------------------------------------------------

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Moved feed</title><link>https://example.org/</link>
<item><title>One</title><link>https://example.org/1</link><guid>one</guid></item>
<item><title>Two</title><link>https://example.org/2</link><guid>two</guid></item>
</channel></rss>
"""


def poll(feed: FeedState) -> FetchResult:
    async def run() -> FetchResult:
        pol = FetchPolicy(allow_private_addresses=True, timeout_s=5.0)
        async with Fetcher(pol) as fetcher:
            return await fetcher.fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified)

    return asyncio.run(run())


def test_real_polls_follow_a_confirmed_move_and_use_validators() -> None:
    target = static_route(FEED, "application/rss+xml")
    with LoopbackServer(
        {"/old": Route(b"", status=301, headers=(("Location", "/new"),)), "/new": target}
    ) as server:
        feed = state(url=server.url("/old"), configured_url=server.url("/old"))

        first = poll(feed)
        assert first.outcome is Outcome.OK
        assert first.permanent_redirect_target == server.url("/new")
        parsed = parse_feed(first.body, dict(first.headers), first.final_url)
        update = decide_update(feed, first, NOW, POLICY, parsed=parsed)
        assert update.entries == 2 and update.title == "Moved feed"
        assert update.new_url == server.url("/old")
        assert update.etag == target.etag
        feed = apply(feed, first)

        # Second poll: validators go out, the server says 304, the move is confirmed.
        second = poll(feed)
        assert second.outcome is Outcome.NOT_MODIFIED
        assert server.requests[-1].headers["if-none-match"] == target.etag
        feed = apply(feed, second)
        assert feed.url == server.url("/new")
        assert feed.etag == target.etag

        # Third poll goes straight to the new URL.
        server.requests.clear()
        third = poll(feed)
        assert third.outcome is Outcome.NOT_MODIFIED
        assert [r.route_path for r in server.requests] == ["/new"]
        feed = apply(feed, third)
        assert (feed.pending_redirect_url, feed.pending_redirect_count) == (None, 0)


def test_real_503_backs_off_with_retry_after_then_recovers() -> None:
    with LoopbackServer(
        {"/feed": Route(b"busy", status=503, headers=(("Retry-After", "5400"),))}
    ) as server:
        feed = state(url=server.url("/feed"))
        failed = poll(feed)
        feed = apply(feed, failed)
        assert feed.consecutive_failures == 1
        assert delay(feed) == pytest.approx(5400)

        server.set("/feed", Route(FEED, content_type="application/rss+xml"))
        later = NOW + timedelta(seconds=5400)
        feed = apply(feed, poll(feed), now=later)
        assert feed.consecutive_failures == 0
        assert feed.next_due_at == later
