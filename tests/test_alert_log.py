"""v_alert_log: what analysts see of alerts, after a real run that delivers to a real SMTP server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from receivers import smtp_server

from helpers import sample_feeds, write_config
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer
from spacewatch.warehouse.snapshot import open_snapshot

pytestmark = pytest.mark.usefixtures("prefect_harness")
SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))
SECRET = "hunter2-token"
# Nothing listens on port 9 (discard) on loopback: a destination that always fails.
DOWN_HOOK = f"json://user:{SECRET}@127.0.0.1:9/down"


def alert_config(tmp_path: Path, base_url: str, mail_url: str) -> Path:
    config = write_config(tmp_path, sample_feeds(base_url))
    config.write_text(
        config.read_text()
        + f"""
[alerts]
max_age_h = 0  # the sample's stories are years old: alert on them all
timeout_s = 5
retry_base_s = 600
min_interval_s = 0

[[topics]]
id = "lunar_station"
name = "Lunar station"
themes = ["moon_base_ilrs"]

[[subscribers]]
name = "desk"
urls = ["{mail_url}", "{DOWN_HOOK}"]
topics = ["lunar_station"]

[[subscribers]]
name = "weekly"
urls = ["{mail_url}"]
topics = ["lunar_station"]
mode = "digest"
""",
        encoding="utf-8",
    )
    return config


def test_alert_log_shows_each_destination_and_waiting_digests(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    with smtp_server() as smtp:
        config = alert_config(tmp_path, sample_server.base_url, smtp.url())
        summary = pipeline.run_pipeline(config)
        received = len(smtp.messages)
    assert summary.alerts_new > 0

    con = open_snapshot(tmp_path / "wh.duckdb")
    try:
        cursor = con.execute("SELECT * FROM v_alert_log ORDER BY alert_id, destination")
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
        alerts = con.execute("SELECT count(*) FROM alerts").fetchone()[0]
    finally:
        con.close()

    desk = [r for r in rows if r["subscriber"] == "desk"]
    weekly = [r for r in rows if r["subscriber"] == "weekly"]
    # Immediate alerts: one row per destination. The email was accepted by the real SMTP
    # server, the webhook was refused; the alert stays pending for a retry.
    desk_alerts = {r["alert_id"] for r in desk}
    assert len(desk) == 2 * len(desk_alerts) > 0
    # Destinations are labels: subscriber, scheme, host and a short hash of the URL.
    mail = [r for r in desk if re.fullmatch(r"desk/mailto://127\.0\.0\.1:\d+#[0-9a-f]{6}", r["destination"])]
    hook = [r for r in desk if re.fullmatch(r"desk/json://127\.0\.0\.1:9#[0-9a-f]{6}", r["destination"])]
    assert len(mail) == len(hook) == len(desk_alerts)
    assert all(r["delivery_status"] == "sent" and r["delivery_sent_at"] for r in mail)
    assert all(r["delivery_status"] == "failed" and r["delivery_last_error"] for r in hook)
    assert all(r["delivery_attempts"] == 1 for r in desk)
    assert {r["alert_status"] for r in desk} == {"pending"}
    assert all(r["alert_attempts"] == 1 and "json://" in r["alert_last_error"] for r in desk)
    assert all(r["alert_sent_at"] is None and r["next_attempt_at"] for r in desk)
    assert received == len(desk_alerts)  # the real SMTP server got one email per alert
    # Digest alerts have not been tried anywhere: one row each, no destination.
    assert weekly and all(
        r["destination"] is None and r["alert_status"] == "digest" for r in weekly
    )
    assert len(weekly) == len(desk_alerts)
    assert len({r["alert_id"] for r in rows}) == alerts
    # Article and match details come along; the syndicated ILRS story alerts once.
    for r in rows:
        assert r["topic_id"] == "lunar_station" and r["title"] and r["outlet"]
        assert r["url"].startswith(sample_server.base_url) and r["matched_terms"]
        assert r["created_at"] and r["event_at"]
    ilrs = [r for r in mail if r["title"].startswith("Russia and China unveil")]
    assert len(ilrs) == 1
    # Destinations are masked: the webhook's token is never in the view.
    assert SECRET not in json.dumps(rows, default=str)


def test_alert_log_through_the_query_command(tmp_path: Path, sample_server: LoopbackServer) -> None:
    with smtp_server() as smtp:
        config = alert_config(tmp_path, sample_server.base_url, smtp.url())
        pipeline.run_pipeline(config)
    result = subprocess.run(
        [
            SPACEWATCH,
            "query",
            "SELECT subscriber, delivery_status, count(*) AS n FROM v_alert_log GROUP BY ALL ORDER BY ALL",
            "--config",
            str(config),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    statuses = {(r["subscriber"], r["delivery_status"]) for r in rows}
    assert statuses == {("desk", "failed"), ("desk", "sent"), ("weekly", None)}
