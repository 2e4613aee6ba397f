"""Digests through real receivers on loopback, with an injected clock: each subscriber's digest
goes out at its own digest hour, once per slot and destination, and a failing destination is
retried on its own without the working ones receiving the digest again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from receivers import WebhookSink

from helpers import query, sample_feeds, write_config
from spacewatch.alerts.delivery import send_digests
from spacewatch.alerts.status import check_health
from spacewatch.config import load_config
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer
from spacewatch.warehouse.connect import open_for_writing

pytestmark = pytest.mark.usefixtures("prefect_harness")
DOWN = "json://127.0.0.1:9/down"  # nothing listens on the discard port


def digest_config(tmp_path: Path, base_url: str, subscribers: str, alerts: str = "") -> Path:
    config = write_config(tmp_path, sample_feeds(base_url))
    config.write_text(
        config.read_text()
        + f"""
[alerts]
timeout_s = 10
min_interval_s = 0
retry_base_s = 60
max_age_h = 0  # the bundled sample's stories are years old
{alerts}

[[topics]]
id = "lunar"
name = "Lunar station"
themes = ["moon_base_ilrs"]
{subscribers}
""",
        encoding="utf-8",
    )
    return config


def first_at(hour: int, after: datetime) -> datetime:
    """The first `hour`:00 strictly after `after`."""
    at = after.replace(hour=hour, minute=0, second=0, microsecond=0)
    return at if at > after else at + timedelta(days=1)


def test_a_failing_destination_never_makes_a_working_one_get_the_digest_again(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    with WebhookSink() as hook:
        subscribers = (
            f'[[subscribers]]\nname = "weekly"\nurls = ["{hook.url()}", "{DOWN}"]\n'
            'topics = ["lunar"]\nmode = "digest"\ndigest_hour_utc = 7\n'
        )
        config = digest_config(tmp_path, sample_server.base_url, subscribers, "max_attempts = 2")
        cfg = load_config(config)
        summary = pipeline.run_pipeline(config)
        assert summary.alerts_new > 0 and hook.posts == []  # digest alerts wait
        wh = tmp_path / "wh.duckdb"
        (created,) = query(wh, "SELECT max(created_at) FROM alerts")[0]
        slot = first_at(7, created)
        con = open_for_writing(wh)
        try:
            # Three runs in the same slot, each after the failing destination's backoff.
            results = [
                send_digests(con, cfg, slot + timedelta(minutes=minutes)) for minutes in (5, 7, 12)
            ]
            report = check_health(con, cfg, slot + timedelta(hours=7))
        finally:
            con.close()
        assert len(hook.posts) == 1  # the working destination: exactly one digest
        assert "digest" in hook.posts[0]["title"].lower()
    assert [r.digests for r in results] == [1, 0, 0]
    assert [bool(r.errors) for r in results] == [True, True, False]  # third: cap reached
    rows = query(
        wh,
        """SELECT destination, status, attempts, alerts, last_error, next_attempt_at
           FROM digest_deliveries ORDER BY destination""",
    )
    by_kind = {("json://127.0.0.1:9#" in r[0]): r for r in rows}
    working, failing = by_kind[False], by_kind[True]
    assert working[1:4] == ("sent", 1, summary.alerts_new)
    assert failing[0].startswith("weekly/json://127.0.0.1:9#")
    assert failing[1:3] == ("failed", 2)  # [alerts] max_attempts = 2, then left for the slot
    assert failing[4] and failing[5] == slot + timedelta(minutes=7, seconds=120)
    # The alerts wait for the failing destination (tomorrow's digest), and say why.
    assert query(wh, "SELECT DISTINCT status FROM alerts") == [("digest",)]
    errors = {r[0] for r in query(wh, "SELECT last_error FROM alerts")}
    assert len(errors) == 1 and next(iter(errors)).startswith("digest to weekly/json://127.0.0.1:9#")
    # `status` names the failing subscriber and its destination.
    (backlog,) = [a for a in report.observations.alerts if a.subscriber == "weekly"]
    assert "weekly/json://127.0.0.1:9#" in (backlog.last_error or "")
    assert any(p.key == "alerts_failing:weekly" for p in report.problems)


def test_each_subscriber_gets_its_digest_at_its_own_hour_and_once_per_slot(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    with WebhookSink() as early_hook, WebhookSink() as late_hook:
        # Hours relative to the run, so the test means the same whenever it runs.
        now = datetime.now(UTC)
        early_hour, late_hour = (now.hour + 1) % 24, (now.hour + 3) % 24
        subscribers = "".join(
            f'[[subscribers]]\nname = "{name}"\nurls = ["{hook.url()}"]\ntopics = ["lunar"]\n'
            f'mode = "digest"\ndigest_hour_utc = {hour}\n'
            for name, hook, hour in (
                ("early", early_hook, early_hour),
                ("late", late_hook, late_hour),
            )
        )
        config = digest_config(tmp_path, sample_server.base_url, subscribers)
        cfg = load_config(config)
        pipeline.run_pipeline(config)
        wh = tmp_path / "wh.duckdb"
        (created,) = query(wh, "SELECT max(created_at) FROM alerts")[0]
        early_slot, late_slot = first_at(early_hour, created), first_at(late_hour, created)
        assert late_slot == early_slot + timedelta(hours=2)
        con = open_for_writing(wh)

        def digests_at(when: datetime) -> tuple[int, int]:
            send_digests(con, cfg, when)
            return len(early_hook.posts), len(late_hook.posts)

        try:
            assert digests_at(early_slot - timedelta(minutes=1)) == (0, 0)  # before any hour
            assert digests_at(early_slot + timedelta(minutes=5)) == (1, 0)
            assert digests_at(late_slot - timedelta(minutes=1)) == (1, 0)
            assert digests_at(late_slot + timedelta(minutes=5)) == (1, 1)
            # An alert that waits again (an hourly cap rolled it over): not in this slot...
            (alert_id,) = con.execute(
                "SELECT min(alert_id) FROM alerts WHERE subscriber = 'early'"
            ).fetchone()  # type: ignore[misc]
            con.execute(
                "UPDATE alerts SET status = 'digest', sent_at = NULL WHERE alert_id = ?",
                [alert_id],
            )
            con.execute("DELETE FROM alert_deliveries WHERE alert_id = ?", [alert_id])
            assert digests_at(early_slot + timedelta(minutes=50)) == (1, 1)
            assert digests_at(late_slot + timedelta(hours=3)) == (1, 1)
            # ... but at the next day's digest hour, alone.
            assert digests_at(early_slot + timedelta(days=1, minutes=5)) == (2, 1)
        finally:
            con.close()
    carried = query(
        wh, "SELECT slot, alerts FROM digest_deliveries WHERE subscriber = 'early' ORDER BY slot"
    )
    assert [n for _, n in carried][1:] == [1]  # the next day's digest: that alert alone
    assert [s for s, _ in carried] == [early_slot, early_slot + timedelta(days=1)]
    assert query(wh, "SELECT DISTINCT status FROM alerts") == [("sent",)]
