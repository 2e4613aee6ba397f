"""When a feed is next due: now when healthy, later and later while it keeps failing."""

from __future__ import annotations

from datetime import datetime, timedelta

from spacewatch.extractors.models import Outcome

HARD_FAILURE_FACTOR = 4  # a 404 or a refused address will not heal as fast as a 503


def backoff_seconds(
    outcome: Outcome, consecutive_failures: int, base_s: float, max_s: float
) -> float:
    """Delay before the next poll; grows 2x per consecutive failure and is capped."""
    if outcome in (Outcome.OK, Outcome.NOT_MODIFIED) or consecutive_failures <= 0:
        return 0.0
    factor = HARD_FAILURE_FACTOR if outcome is Outcome.HARD else 1
    exponent = min(consecutive_failures - 1, 30)
    return float(min(max_s, base_s * factor * (2**exponent)))


def next_due(
    outcome: Outcome,
    consecutive_failures: int,
    now: datetime,
    *,
    retry_after_s: float | None = None,
    base_s: float,
    max_s: float,
) -> datetime:
    delay = backoff_seconds(outcome, consecutive_failures, base_s, max_s)
    if retry_after_s is not None:
        # The server said when to come back; honour it, but never wait longer than the cap
        # on a server's say-so alone.
        delay = max(delay, min(retry_after_s, max_s))
    return now + timedelta(seconds=delay)
