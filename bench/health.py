"""What the end-of-run health check costs on a large warehouse.

    .venv/bin/python bench/health.py [--articles 1000000] [--feeds 500] [--alerts 20000]

Builds a throw-away warehouse through the real migrations with synthetic rows spread over
30 days (articles, feeds of which 5 % failing, alerts of which some failing), then times
`check_health` (the status command's and the run's reads) and `notify_health` with no
operator configured (its bookkeeping only), each the median of 5 calls.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from spacewatch.alerts.monitor import notify_health
from spacewatch.alerts.status import check_health
from spacewatch.config import parse_config
from spacewatch.warehouse.connect import open_for_writing


def build(path: Path, articles: int, feeds: int, alerts: int, now: datetime) -> None:
    con = open_for_writing(path)
    con.execute(
        """INSERT INTO runs (run_id, started_at, finished_at, status, articles_new)
           SELECT i, $now - to_minutes(15 * (2881 - i)), $now - to_minutes(15 * (2881 - i) - 1),
                  'completed', 10
           FROM range(1, 2881) t(i)""",
        {"now": now},
    )
    con.execute(
        """INSERT INTO feeds (feed_id, configured_url, url, created_at, last_success_at,
               consecutive_failures, last_error)
           SELECT i, 'https://f/' || i, 'https://f/' || i, $now - INTERVAL 60 DAY,
                  $now - to_hours(CASE WHEN i % 20 = 0 THEN 72 ELSE 1 END),
                  CASE WHEN i % 20 = 0 THEN 5 ELSE 0 END,
                  CASE WHEN i % 20 = 0 THEN 'HTTP 500' END
           FROM range(1, $n + 1) t(i)""",
        {"now": now, "n": feeds},
    )
    con.execute(
        """INSERT INTO articles (article_id, canonical_url, url, story_id, first_seen_at,
               extraction_method)
           SELECT i, 'https://a/' || i, 'https://a/' || i, i,
                  $now - to_seconds(CAST(i * (30 * 86400 / $n) AS BIGINT)), 'none'
           FROM range(1, $n + 1) t(i)""",
        {"now": now, "n": articles},
    )
    con.execute(
        """INSERT INTO alerts (alert_id, topic_id, rule_version, story_id, article_id,
               subscriber, mode, severity, evidence, status, attempts, last_error, created_at,
               sent_at)
           SELECT i, 't', 'v', i, i, 'desk' || (i % 10), 'immediate', 'info', ['x'],
                  CASE WHEN i % 50 = 0 THEN 'pending' ELSE 'sent' END,
                  1, CASE WHEN i % 50 = 0 THEN 'refused' END,
                  $now - to_minutes(i), CASE WHEN i % 50 = 0 THEN NULL ELSE $now - to_minutes(i) END
           FROM range(1, $n + 1) t(i)""",
        {"now": now, "n": alerts},
    )
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--alerts", type=int, default=20_000)
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        started = time.perf_counter()
        build(path, args.articles, args.feeds, args.alerts, now)
        print(f"built warehouse: {time.perf_counter() - started:.1f} s")
        cfg = parse_config(f'[warehouse]\npath = "{path}"\n', Path(tmp) / "bench.toml")
        con = open_for_writing(path)
        try:
            checks, notes = [], []
            for _ in range(5):
                t0 = time.perf_counter()
                report = check_health(con, cfg, now)
                checks.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                notify_health(con, cfg, report, now)
                notes.append(time.perf_counter() - t0)
        finally:
            con.close()
    kinds: dict[str, int] = {}
    for p in report.problems:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    print(
        f"{args.articles:,} articles, {args.feeds} feeds, {args.alerts:,} alerts: "
        f"check_health median {statistics.median(checks) * 1000:.0f} ms, "
        f"notify_health (no operator) {statistics.median(notes) * 1000:.1f} ms; "
        f"problems found: {kinds}"
    )


if __name__ == "__main__":
    main()
