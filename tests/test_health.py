"""Monitoring the monitor: pure judgement of each problem kind, the SQL that observes a real
warehouse, notices to an operator on a real SMTP receiver (once, not on every run), and
`spacewatch status` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from receivers import smtp_server

from helpers import query, sample_feeds, write_config
from spacewatch.alerts.health import (
    AlertBacklog,
    FeedObservation,
    HealthThresholds,
    IngestObservation,
    Observations,
    Problem,
    RunObservation,
    format_health_notice,
    match_due_notices,
    match_problems,
)
from spacewatch.alerts.monitor import notify_health
from spacewatch.alerts.status import EXIT_UNHEALTHY, check_health
from spacewatch.config import ConfigError, load_config, parse_config
from spacewatch.loopback import LoopbackServer, Route
from spacewatch.warehouse.connect import open_for_writing, writer_lock

SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
T = HealthThresholds()  # the documented defaults
H = timedelta(hours=1)
FRESH_RUN = RunObservation(9, NOW - 0.5 * H, NOW - 0.4 * H, "completed", 12, 0)


def observe(**parts: object) -> Observations:
    base: dict[str, object] = {"runs": (FRESH_RUN,), "ingest": IngestObservation(40, (40,) * 14)}
    return Observations(**{**base, **parts})  # type: ignore[arg-type]


def kinds(problems: tuple[Problem, ...]) -> list[str]:
    return [p.kind for p in problems]


# --- pure judgement ------------------------------------------------------------------------


def test_a_healthy_picture_has_no_problem() -> None:
    feeds = (FeedObservation(1, "Wire", "https://w/feed", NOW - 900 * H, NOW - H, 0),)
    assert match_problems(observe(feeds=feeds), T, NOW) == ()


def test_ingest_drop_against_the_median_of_previous_days() -> None:
    history = (40, 38, 5, 44, 41, 39, 300, 42, 40, 37, 43, 41, 40, 39)  # one outlier each way
    problems = match_problems(observe(ingest=IngestObservation(3, history)), T, NOW)
    assert kinds(problems) == ["ingest_drop"]
    assert problems[0].key == "ingest_drop" and problems[0].notify
    assert "3 articles in the last 24 h" in problems[0].summary
    assert "median of 40 a day over the previous 14 days" in problems[0].summary
    # At the threshold (30 % of 40 = 12) it is not a drop; just below it is.
    assert match_problems(observe(ingest=IngestObservation(12, history)), T, NOW) == ()
    assert kinds(match_problems(observe(ingest=IngestObservation(11, history)), T, NOW)) == [
        "ingest_drop"
    ]


def test_a_quiet_weekend_on_a_small_baseline_is_not_a_drop() -> None:
    # A handful of articles a day: 0 on a Sunday is noise, not a coverage gap.
    small = (4, 6, 5, 0, 1, 5, 6, 4, 5, 0, 2, 6, 5, 4)
    assert match_problems(observe(ingest=IngestObservation(0, small)), T, NOW) == ()


def test_too_little_history_is_not_judged() -> None:
    # Day two after install: the first day held the feeds' whole backlog.
    young = IngestObservation(30, (900,))
    assert match_problems(observe(ingest=young), T, NOW) == ()
    # Only the configured number of days forms the norm.
    window = HealthThresholds(ingest_baseline_days=3, min_baseline_days=3)
    old_busy = IngestObservation(10, (12, 11, 10, 500, 500, 500, 500))
    assert match_problems(observe(ingest=old_busy), window, NOW) == ()


def test_dead_feed_after_threshold_and_not_before() -> None:
    dying = FeedObservation(3, "Orbital", "https://o/rss", NOW - 900 * H, NOW - 47 * H, 4)
    dead = FeedObservation(
        4, "Lunar", "https://l/atom", NOW - 900 * H, NOW - 49 * H, 6, None, "HTTP 500"
    )
    never = FeedObservation(5, "New", "https://n/rss", NOW - 50 * H, None, 2, None, "DNS failure")
    recovered = FeedObservation(6, "Back", "https://b/rss", NOW - 900 * H, NOW - H, 0)
    problems = match_problems(observe(feeds=(dying, dead, never, recovered)), T, NOW)
    assert [p.key for p in problems] == ["feed_dead:4", "feed_failing:5"]
    assert "Lunar (https://l/atom) dead for 2 d 1 h" in problems[0].summary
    assert "HTTP 500" in problems[0].summary and problems[0].since == NOW - 49 * H
    assert "never succeeded" in problems[1].summary


def test_a_feed_that_never_succeeded_fails_from_its_first_failed_poll() -> None:
    # A new install with a wrong URL: one failed poll, ten minutes after the feed was added.
    new = FeedObservation(
        7, "Typo", "https://t/rss", NOW - H / 6, None, 1, None, "could not connect"
    )
    not_polled = FeedObservation(8, "Fresh", "https://f/rss", NOW - H / 6, None, 0)
    problems = match_problems(observe(feeds=(new, not_polled)), T, NOW)
    assert [(p.kind, p.key) for p in problems] == [("feed_failing", "feed_failing:7")]
    assert problems[0].notify and problems[0].since == NOW - H / 6
    assert problems[0].summary == (
        "feed Typo (https://t/rss) has never succeeded: 1 failure in a row since it was added "
        "10 min ago; last error: could not connect"
    )


def test_alerts_failing_after_threshold() -> None:
    failing = AlertBacklog("desk", 5, 1, NOW - 7 * H, "mailto://***: no answer within 20 s")
    recent = AlertBacklog("chat", 2, 0, NOW - 2 * H, "json://***: refused")
    waiting = AlertBacklog("night", 3, 0, None, None)  # quiet hours: pending, never failed
    problems = match_problems(observe(alerts=(failing, recent, waiting)), T, NOW)
    assert [p.key for p in problems] == ["alerts_failing:desk"]
    assert "alerts to desk failing for 7 h: 5 pending, 1 given up" in problems[0].summary


def test_a_subscriber_that_never_received_anything_is_a_problem_at_once() -> None:
    # The first alert failed five minutes ago and nothing ever reached this subscriber: a
    # mistyped address, not a bad hour. One that has received alerts before gets 6 h.
    never = AlertBacklog("desk", 1, 0, NOW - H / 12, "mailto://***: refused", False)
    known = AlertBacklog("chat", 1, 0, NOW - H / 12, "json://***: refused", True)
    problems = match_problems(observe(alerts=(never, known)), T, NOW)
    assert [p.key for p in problems] == ["alerts_failing:desk"] and problems[0].notify
    assert problems[0].summary == (
        "alerts to desk have never been delivered: 1 pending, 0 given up; "
        "last error: mailto://***: refused"
    )


def test_run_problems_are_shown_but_not_notified() -> None:
    failed = RunObservation(10, NOW - H, NOW - 0.9 * H, "failed", None, None, "OSError: disk full")
    problems = match_problems(observe(runs=(failed, FRESH_RUN)), T, NOW)
    assert kinds(problems) == ["last_run_failed"]
    assert "disk full" in problems[0].summary and not problems[0].notify
    stale = RunObservation(8, NOW - 30 * H, NOW - 29 * H, "completed", 3, 0)
    problems = match_problems(observe(runs=(stale,)), T, NOW)
    assert kinds(problems) == ["no_recent_run"] and "29 h" in problems[0].summary
    assert kinds(match_problems(observe(runs=()), T, NOW)) == ["no_recent_run"]
    # A run in progress is alive.
    running = RunObservation(11, NOW - 0.1 * H, None, "running")
    assert match_problems(observe(runs=(running, stale)), T, NOW) == ()


def test_due_notices_once_then_after_renotify_period() -> None:
    feed = Problem("feed_dead", "feed_dead:4", "feed Lunar dead", NOW - 50 * H)
    drop = Problem("ingest_drop", "ingest_drop", "ingest dropped")
    stale = Problem("no_recent_run", "no_recent_run", "no run")
    assert match_due_notices([feed, drop, stale], {}, 24, NOW) == (feed, drop)
    told = {"feed_dead:4": NOW - 2 * H, "ingest_drop": None}  # the drop's notice failed
    assert match_due_notices([feed, drop], told, 24, NOW) == (drop,)
    assert match_due_notices([feed, drop], told, 24, NOW + 22 * H) == (feed, drop)


def test_notice_message_lists_each_problem() -> None:
    problems = (
        Problem("feed_dead", "feed_dead:4", "feed Lunar <x> dead for 2 d 1 h"),
        Problem("ingest_drop", "ingest_drop", "ingest dropped: 3 articles"),
    )
    message = format_health_notice(problems, NOW, "/srv/spacewatch.duckdb")
    assert message.title == "Spacewatch health: 2 problems (dead feed, ingest drop)"
    assert "- **dead feed**: feed Lunar <x> dead for 2 d 1 h" in message.markdown
    assert "feed Lunar &lt;x&gt; dead" in message.html and "/srv/spacewatch.duckdb" in message.html


# --- configuration -------------------------------------------------------------------------


def test_health_section_is_validated_with_the_key_named(tmp_path: Path) -> None:
    source = tmp_path / "s.toml"
    ops = '[[subscribers]]\nname = "ops"\nurls = ["json://127.0.0.1:9/x"]\ntopics = []\n'
    cfg = parse_config(f'[health]\nnotify = ["ops"]\nfeed_dead_after_h = 12\n{ops}', source)
    assert cfg.health.notify == ("ops",) and cfg.health.feed_dead_after_h == 12
    assert cfg.health.ingest_drop_ratio == 0.3 and cfg.health.renotify_after_h == 24
    with pytest.raises(ConfigError) as err:
        parse_config(f'[health]\nnotify = ["opps"]\n{ops}', source)
    assert "[health] notify: unknown subscriber(s) ['opps'] (known: ['ops'])" in str(err.value)
    with pytest.raises(ConfigError, match=r"\[health\] ingest_drop_ratio"):
        parse_config("[health]\ningest_drop_ratio = 1.5\n", source)
    with pytest.raises(ConfigError, match=r"\[health\] notice: unknown key"):
        parse_config("[health]\nnotice = []\n", source)
    with pytest.raises(ConfigError, match=r"min_baseline_days \(20\) is more than"):
        parse_config("[health]\nmin_baseline_days = 20\n", source)


# --- observing a real warehouse ------------------------------------------------------------


def _article(con: duckdb.DuckDBPyConnection, article_id: int, seen: datetime) -> None:
    con.execute(
        """INSERT INTO articles (article_id, canonical_url, url, story_id, first_seen_at,
               extraction_method) VALUES (?, ?, ?, ?, ?, 'none')""",
        [article_id, f"https://x/{article_id}", f"https://x/{article_id}", article_id, seen],
    )


def test_check_health_reads_a_warehouse_with_a_coverage_gap(tmp_path: Path) -> None:
    config = write_config(tmp_path, [("https://example.org/feed", None)])
    cfg = load_config(config)
    con = open_for_writing(cfg.warehouse_path)
    try:
        con.execute(
            "INSERT INTO runs (run_id, started_at, finished_at, status) VALUES (1, ?, ?, 'completed')",
            [NOW - 20 * 24 * H, NOW - 20 * 24 * H + H],
        )
        con.execute(
            "INSERT INTO runs (run_id, started_at, finished_at, status) VALUES (2, ?, ?, 'completed')",
            [NOW - H, NOW - 0.9 * H],
        )
        article = 0
        for day in range(1, 16):  # 20 articles in every 24 h window before the last one
            for i in range(20):
                article += 1
                _article(con, article, NOW - day * 24 * H - (i + 1) * 0.5 * H)
        _article(con, 999, NOW - 2 * H)  # one in the last 24 h
        report = check_health(con, cfg, NOW)
    finally:
        con.close()
    assert report.observations.ingest.last_24h == 1
    assert report.observations.ingest.previous_days == (20,) * 14
    assert report.baseline.median == 20 and report.baseline.days == 14
    assert kinds(report.problems) == ["ingest_drop"]


def test_history_younger_than_the_baseline_counts_only_covered_days(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, [("https://example.org/feed", None)]))
    con = open_for_writing(cfg.warehouse_path)
    try:
        con.execute(
            "INSERT INTO runs (run_id, started_at, finished_at, status) VALUES (1, ?, ?, 'completed')",
            [NOW - 3.5 * 24 * H, NOW - H],
        )
        _article(con, 1, NOW - 3.4 * 24 * H)
        report = check_health(con, cfg, NOW)
    finally:
        con.close()
    # Windows 1 and 2 lie after the first run; window 3 started before it.
    assert report.observations.ingest.previous_days == (0, 0)
    assert report.baseline.median is None and report.healthy


# --- the real pipeline: a feed dies, the operator hears once --------------------------------


def health_config(tmp_path: Path, base_url: str, mail_url: str) -> Path:
    config = write_config(tmp_path, sample_feeds(base_url))
    config.write_text(
        config.read_text()
        + f"""
[alerts]
min_interval_s = 0
timeout_s = 10

[health]
notify = ["ops"]

[[subscribers]]
name = "ops"
urls = ["{mail_url}"]
topics = []
""",
        encoding="utf-8",
    )
    return config


def spacewatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SPACEWATCH, *args], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )


@pytest.mark.usefixtures("prefect_harness")
def test_dead_feed_notifies_the_operator_once_and_status_reports_it(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    from spacewatch.flows import pipeline

    wh = tmp_path / "wh.duckdb"
    with smtp_server() as smtp:
        config = health_config(tmp_path, sample_server.base_url, smtp.url("ops@example.com"))
        first = pipeline.run_pipeline(config)
        assert first.articles_new > 0 and first.feeds_failed == 0
        assert smtp.messages == []  # healthy: nobody is bothered

        healthy = spacewatch("status", "--config", str(config))
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        assert "Healthy: no problems found." in healthy.stdout
        assert f"Warehouse {wh}, read live at" in healthy.stdout
        assert "Feeds: all 4 active feeds healthy." in healthy.stdout
        assert "Alerts: none pending or failed." in healthy.stdout

        # The Lunar Ledger feed starts answering 500; its last success goes back three days
        # (as if the server had been failing since), past the default 48 h.
        feed_path = "/feeds/lunar-ledger.atom"
        sample_server.set(feed_path, Route(b"oops", status=500))
        con = open_for_writing(wh)
        con.execute(
            "UPDATE feeds SET last_success_at = last_success_at - INTERVAL 3 DAY "
            "WHERE url LIKE '%lunar-ledger.atom'"
        )
        con.close()
        second = pipeline.run_pipeline(config)
        assert second.feeds_failed == 1
        assert len(smtp.messages) == 1
        mail = smtp.messages[0]
        assert mail["To"] == "ops@example.com"
        assert "Spacewatch health: 1 problem (dead feed)" in mail["Subject"]
        body = smtp.html_bodies()[0]
        assert (
            "lunar-ledger.atom" in body
            and "HTTP 500" in body
            and "Spacewatch health notice" in body
        )

        # Next run: still dead (backed off, not polled again), but already notified.
        third = pipeline.run_pipeline(config)
        assert third.feeds_skipped == 1
        assert len(smtp.messages) == 1

        notices = query(
            wh, "SELECT problem_key, subscriber, notices, resolved_at IS NULL FROM health_notices"
        )
        feed_id = query(wh, "SELECT feed_id FROM feeds WHERE url LIKE '%lunar-ledger.atom'")[0][0]
        assert notices == [(f"feed_dead:{feed_id}", "ops", 1, True)]

        # The operator checks from cron while a run holds the warehouse: the snapshot answers.
        with writer_lock(wh):
            unhealthy = spacewatch("status", "--config", str(config))
            as_json = spacewatch("status", "--config", str(config), "--format", "json")
    assert unhealthy.returncode == EXIT_UNHEALTHY, unhealthy.stdout + unhealthy.stderr
    out = unhealthy.stdout
    assert "Problems (1)" in out and "feed_dead" in out and "lunar-ledger.atom" in out
    assert "Feeds failing or backed off: 1 of 4 active feeds" in out
    assert "Snapshot " in out and " ago)" in out
    assert as_json.returncode == EXIT_UNHEALTHY
    record = json.loads(as_json.stdout)
    assert record["healthy"] is False
    assert [p["key"] for p in record["problems"]] == [f"feed_dead:{feed_id}"]
    assert record["snapshot"]["age_s"] >= 0 and len(record["runs"]) == 3
    assert record["read_from"] == "snapshot" and f'"pid": {os.getpid()}' in record["writer"]
    assert record["feeds"]["failing"][0]["consecutive_failures"] == 1
    assert record["notices"][0]["subscriber"] == "ops"


def test_status_without_a_warehouse_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path, [("https://example.org/feed", None)])
    result = spacewatch("status", "--config", str(config))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "wh.duckdb: warehouse not found" in lines[0]
    bad = spacewatch("status", "--config", str(config), "--format", "yaml")
    assert bad.returncode == 2 and "--format 'yaml'" in bad.stderr


def test_notify_health_records_and_resolves(tmp_path: Path) -> None:
    """Without the pipeline: a notice is sent once, a resolved problem notifies again when it
    returns."""
    from spacewatch.alerts.health import build_report

    with smtp_server() as smtp:
        config = health_config(tmp_path, "http://127.0.0.1:9", smtp.url())
        cfg = load_config(config)
        con = open_for_writing(cfg.warehouse_path)
        try:
            feed = FeedObservation(7, "Wire", "https://w/rss", NOW - 900 * H, NOW - 60 * H, 3)
            sick = build_report(observe(feeds=(feed,)), T, NOW)
            well = build_report(observe(), T, NOW)
            assert notify_health(con, cfg, sick, NOW).sent == 1
            assert notify_health(con, cfg, sick, NOW + H).sent == 0
            assert notify_health(con, cfg, well, NOW + 2 * H).sent == 0  # resolves it
            assert notify_health(con, cfg, sick, NOW + 3 * H).sent == 1  # it came back
            assert notify_health(con, cfg, sick, NOW + 28 * H).sent == 1  # renotified
            rows = con.execute(
                "SELECT notices, first_seen_at, notified_at, resolved_at FROM health_notices"
            ).fetchall()
        finally:
            con.close()
    assert len(smtp.messages) == 3
    assert rows == [(3, NOW + 3 * H, NOW + 28 * H, None)]


def test_example_configuration_documents_every_health_key_with_its_default(
    tmp_path: Path,
) -> None:
    from spacewatch.config import HealthConfig

    example = Path(__file__).resolve().parents[1] / "deploy" / "spacewatch.example.toml"
    text = example.read_text(encoding="utf-8")
    block = text[text.index("# [health]") :].split("\n\n")[0]
    uncommented = "\n".join(line.removeprefix("#").removeprefix(" ") for line in block.splitlines())
    cfg = parse_config(uncommented, tmp_path / "example.toml")
    keys = {line.split("=")[0].strip() for line in uncommented.splitlines() if "=" in line}
    assert set(HealthConfig.model_fields) <= keys
    assert cfg.health.model_dump(exclude={"notify"}) == HealthConfig().model_dump(
        exclude={"notify"}
    )
    assert cfg.health.notify == ("operator",)


@pytest.mark.usefixtures("prefect_harness")
def test_a_failing_health_check_never_fails_the_run(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    from spacewatch.flows import pipeline

    wh = tmp_path / "wh.duckdb"
    config = health_config(tmp_path, sample_server.base_url, "json://127.0.0.1:9/unused")
    pipeline.run_pipeline(config)
    # A damaged warehouse: the notices table is gone while migration 0004 is recorded as
    # applied, so the check's first query fails.
    con = open_for_writing(wh)
    con.execute("DROP TABLE health_notices")
    con.close()
    sample_server.set("/feeds/orbital-desk.rss", Route(b"", status=404))
    summary = pipeline.run_pipeline(config)
    assert summary.feeds_failed == 1
    assert query(wh, "SELECT status, error FROM runs ORDER BY run_id") == [
        ("completed", None),
        ("completed", None),
    ]


# --- the first hour: an honest status from the first run -----------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_a_fresh_install_whose_feeds_all_fail_is_unhealthy_after_one_run(
    tmp_path: Path,
) -> None:
    from receivers import free_port

    from spacewatch.flows import pipeline

    # Nothing listens on these loopback ports: every feed fails, as offline or mistyped.
    feeds = [(f"http://127.0.0.1:{free_port()}/feed.xml", f"Feed {i}") for i in (1, 2)]
    # The operator's mail relay is not there either: the notice about the feeds fails too.
    relay = f"mailto://127.0.0.1:{free_port()}?from=sw@example.org&to=ops@example.org"
    config = write_config(tmp_path, feeds)
    config.write_text(
        config.read_text()
        + '\n[alerts]\nmin_interval_s = 0\ntimeout_s = 10\n\n[health]\nnotify = ["ops"]\n'
        + f'\n[[subscribers]]\nname = "ops"\nurls = ["{relay}"]\ntopics = []\n',
        encoding="utf-8",
    )
    summary = pipeline.run_pipeline(config)
    assert summary.feeds_failed == 2 and summary.articles_new == 0

    result = spacewatch("status", "--config", str(config))
    assert result.returncode == EXIT_UNHEALTHY, result.stdout + result.stderr
    assert "Problems (3)" in result.stdout and "Healthy" not in result.stdout
    shown = " ".join(result.stdout.split())
    for url, name in feeds:
        assert f"feed {name} ({url}) has never succeeded" in shown
    assert "health notices to ops have never been delivered" in shown
    record = json.loads(spacewatch("status", "--config", str(config), "--format", "json").stdout)
    assert sorted(p["kind"] for p in record["problems"]) == [
        "feed_failing",
        "feed_failing",
        "notices_failing",
    ]


def test_status_reads_live_state_so_alerts_retry_shows_at_once(tmp_path: Path) -> None:
    """An alert that failed, then `alerts retry` once the mail server is back: status says so
    straight away, not after the next run republishes the snapshot."""
    from receivers import SMTPServer

    from spacewatch.warehouse.snapshot import publish_snapshot

    smtp = SMTPServer()  # its port is chosen, but nothing listens until start()
    config = health_config(tmp_path, "http://127.0.0.1:9", smtp.url("desk@example.com"))
    config.write_text(
        config.read_text()
        .replace('notify = ["ops"]', "notify = []")
        .replace("topics = []", 'topics = ["lunar"]')  # no notices: ops follows the topic
        + '\n[[topics]]\nid = "lunar"\nname = "Lunar"\nthemes = ["moon_base_ilrs"]\n'
        + '\n[[subscribers]]\nname = "desk"\nurls = ["'
        + smtp.url("desk@example.com")
        + '"]\ntopics = ["lunar"]\n',
        encoding="utf-8",
    )
    wh = tmp_path / "wh.duckdb"
    con = open_for_writing(wh)
    try:
        now = datetime.now(UTC)
        con.execute(
            "INSERT INTO runs (run_id, started_at, finished_at, status) VALUES (1, ?, ?, 'completed')",
            [now - H / 6, now - H / 6],
        )
        _article(con, 1, now - H / 6)
        con.execute(
            """INSERT INTO alerts (topic_id, rule_version, story_id, article_id, subscriber, mode,
                   severity, evidence, status, attempts, next_attempt_at, last_error, created_at)
               VALUES ('lunar', 'v1', 1, 1, 'desk', 'immediate', 'info', ['lunar base'],
                       'pending', 1, ?, 'mailto://127.0.0.1: could not connect', ?)""",
            [now + H, now - H / 6],
        )
        publish_snapshot(con, wh)  # the analysts' copy still holds the failing alert
    finally:
        con.close()

    before = spacewatch("status", "--config", str(config))
    assert before.returncode == EXIT_UNHEALTHY, before.stdout + before.stderr
    assert "alerts to desk have never been delivered: 1 pending" in " ".join(before.stdout.split())

    smtp.start()
    try:
        retry = spacewatch("alerts", "retry", "--config", str(config))
        assert retry.returncode == 0, retry.stdout + retry.stderr
    finally:
        smtp.stop()
    assert len(smtp.messages) == 1

    after = spacewatch("status", "--config", str(config))
    assert after.returncode == 0, after.stdout + after.stderr
    assert "Alerts: none pending or failed." in after.stdout
    assert "Healthy: no problems found." in after.stdout
