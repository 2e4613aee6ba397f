"""Alert delivery through Apprise to real receivers on loopback: SMTP (aiosmtpd) and a webhook."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from receivers import WebhookSink, smtp_server

from helpers import query, sample_feeds, write_config
from spacewatch.alerts.delivery import deliver_due, send_digests
from spacewatch.config import load_config
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer
from spacewatch.warehouse.connect import open_for_writing

pytestmark = pytest.mark.usefixtures("prefect_harness")
SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))
SECRET = "s3cr3t-t0ken"


def alerting_config(tmp_path: Path, base_url: str, mail_url: str, hook_url: str, extra: str = "") -> Path:
    config = write_config(tmp_path, sample_feeds(base_url))
    config.write_text(
        config.read_text()
        + f"""
[alerts]
max_age_h = 0  # the sample's stories are years old: alert on them all
timeout_s = 10
retry_base_s = 60
min_interval_s = 0

[[topics]]
id = "lunar_station"
name = "Lunar station"
themes = ["moon_base_ilrs"]

[[topics]]
id = "space_force_deployment"
name = "Space Force deployments"
themes = ["space_force_deployment"]
severity = "warning"

[[subscribers]]
name = "desk"
urls = ["{mail_url}", "{hook_url}"]
topics = ["lunar_station", "space_force_deployment"]
{extra}
""",
        encoding="utf-8",
    )
    return config


def test_run_delivers_each_alert_once_by_email_and_webhook(tmp_path: Path, sample_server: LoopbackServer) -> None:
    with smtp_server() as smtp, WebhookSink() as hook:
        hook_url = hook.url(f"/hook?token={SECRET}").replace("json://", f"json://user:{SECRET}@")
        config = alerting_config(tmp_path, sample_server.base_url, smtp.url(), hook_url)
        summary = pipeline.run_pipeline(config)
        second = pipeline.run_pipeline(config)

    wh = tmp_path / "wh.duckdb"
    alerts = query(wh, "SELECT alert_id, status FROM alerts ORDER BY alert_id")
    assert summary.alerts_new == len(alerts) > 0
    assert summary.alerts_sent == len(alerts) and second.alerts_sent == 0
    assert {s for _, s in alerts} == {"sent"}
    # Exactly one email and one webhook post per alert, each naming its alert id.
    assert len(smtp.messages) == len(hook.posts) == len(alerts)
    for alert_id, _ in alerts:
        assert sum(f"Spacewatch alert #{alert_id}<" in body for body in smtp.html_bodies()) == 1
        assert sum(f"Spacewatch alert #{alert_id}" in post.get("message", "") for post in hook.posts) == 1
    # Email is HTML with the evidence highlighted; chat gets Markdown.
    assert all("<mark>" in body for body in smtp.html_bodies())
    assert all("**" in post["message"] and post["title"] for post in hook.posts)
    # The syndicated wire story (three outlets) produced one lunar-station alert.
    ilrs = query(wh, "SELECT count(*) FROM alerts al JOIN articles a USING (article_id) WHERE al.topic_id = 'lunar_station' AND a.story_id IN (SELECT story_id FROM articles WHERE title LIKE 'Russia and China unveil%')")
    assert ilrs == [(1,)]
    # Secrets appear nowhere in the warehouse.
    dump = str(query(wh, "SELECT * FROM alerts")) + str(query(wh, "SELECT * FROM alert_deliveries"))
    assert SECRET not in dump


def test_smtp_down_then_up_every_alert_arrives_exactly_once(tmp_path: Path, sample_server: LoopbackServer) -> None:
    with smtp_server() as smtp, WebhookSink() as hook:
        config = alerting_config(tmp_path, sample_server.base_url, smtp.url(), hook.url())
        smtp.stop()  # the mail server is down during the run
        summary = pipeline.run_pipeline(config)
        assert summary.alerts_sent == 0 and summary.alerts_failed == summary.alerts_new > 0
        wh = tmp_path / "wh.duckdb"
        rows = query(wh, "SELECT status, attempts, last_error FROM alerts")
        assert {r[0] for r in rows} == {"pending"} and {r[1] for r in rows} == {1}
        assert all("mailto://" in r[2] and "json://" not in r[2] for r in rows)  # only the mail failed
        posts_after_first = len(hook.posts)
        assert posts_after_first == len(rows)  # the webhook got them at once

        smtp.start()
        cfg = load_config(config)
        con = open_for_writing(wh)
        try:
            # The retry time the failure set, read back: no reliance on how long the run took.
            first, last = con.execute("SELECT min(next_attempt_at), max(next_attempt_at) FROM alerts").fetchone()
            early = deliver_due(con, cfg, first - timedelta(seconds=1))  # retry not due yet
            assert early.sent == 0
            later = deliver_due(con, cfg, last)
        finally:
            con.close()
        assert later.sent == len(rows)
        assert len(smtp.messages) == len(rows)
        assert len(hook.posts) == posts_after_first  # not sent again to the webhook
        assert {r[0] for r in query(wh, "SELECT status FROM alerts")} == {"sent"}


def test_hourly_cap_rolls_the_excess_into_the_digest(tmp_path: Path, sample_server: LoopbackServer) -> None:
    with smtp_server() as smtp, WebhookSink() as hook:
        config = alerting_config(tmp_path, sample_server.base_url, smtp.url(), hook.url(), extra="max_per_hour = 1")
        summary = pipeline.run_pipeline(config)
        assert summary.alerts_new >= 3
        assert summary.alerts_sent == 1 and summary.alerts_deferred == summary.alerts_new - 1
        wh = tmp_path / "wh.duckdb"
        con = open_for_writing(wh)
        try:
            digest = send_digests(con, load_config(config), datetime.now(UTC), force=True)
        finally:
            con.close()
        assert digest.digests == 1 and digest.sent == summary.alerts_new - 1
        assert len(hook.posts) == 2  # one alert, one digest
        assert "digest" in hook.posts[1]["title"].lower()
        assert {r[0] for r in query(wh, "SELECT status FROM alerts")} == {"sent"}


def test_alerts_test_command_reports_each_destination(tmp_path: Path) -> None:
    with smtp_server() as smtp, WebhookSink() as hook:
        config = write_config(tmp_path, [("https://example.org/feed", None)])
        config.write_text(
            config.read_text()
            + f'\n[[topics]]\nid = "t"\nname = "T"\nthemes = ["moon_base_ilrs"]\n'
            f'[[subscribers]]\nname = "desk"\nurls = ["{smtp.url()}", "{hook.url()}", "json://127.0.0.1:9/down", "env:SPACEWATCH_MISSING_URL"]\ntopics = ["t"]\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k != "SPACEWATCH_MISSING_URL"}
        result = subprocess.run([SPACEWATCH, "alerts", "test", "desk", "--config", str(config)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(smtp.messages) == 1 and len(hook.posts) == 1
    out = result.stdout
    assert out.count("ok") >= 2 and "failed" in out
    assert "environment variable SPACEWATCH_MISSING_URL is not set" in out


def test_sigkill_during_delivery_loses_nothing_and_resends_nothing_marked_sent(tmp_path: Path, sample_server: LoopbackServer) -> None:
    import signal

    with WebhookSink(hold_from=2) as hook:
        config = write_config(tmp_path, sample_feeds(sample_server.base_url))
        config.write_text(
            config.read_text()
            + '\n[alerts]\nmin_interval_s = 0\nmax_age_h = 0\n'
            + f'\n[[topics]]\nid = "any"\nname = "Any policy"\nthemes = ["moon_base_ilrs", "space_militarization", "artemis_gateway", "space_force_deployment"]\n'
            f'[[subscribers]]\nname = "desk"\nurls = ["{hook.url()}"]\ntopics = ["any"]\n',
            encoding="utf-8",
        )
        proc = subprocess.Popen([SPACEWATCH, "run", "--config", str(config)], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Two alerts are answered; the third is held, so the kill lands mid-delivery.
        assert hook.holding.wait(240), "delivery never reached a third alert"
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its Prefect server, mid-delivery
        proc.wait(timeout=30)
        hook.release.set()

        wh = tmp_path / "wh.duckdb"
        total = query(wh, "SELECT count(*) FROM alerts")[0][0]
        sent_before = {r[0] for r in query(wh, "SELECT alert_id FROM alerts WHERE status = 'sent'")}
        # Interrupted midway, and each outcome was recorded before the next send.
        assert len(sent_before) == 2 < total

        result = subprocess.run([SPACEWATCH, "alerts", "retry", "--config", str(config)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr

    received = [int(m.group(1)) for post in hook.posts if (m := re.search(r"Spacewatch alert #(\d+)", post["message"]))]
    assert set(received) == {r[0] for r in query(wh, "SELECT alert_id FROM alerts")}  # none missing
    for alert_id in sent_before:
        assert received.count(alert_id) == 1, alert_id  # none marked sent was sent again
    assert {r[0] for r in query(wh, "SELECT status FROM alerts")} == {"sent"}
    # Delivery began only after the run had committed and let go of the writer.
    assert query(wh, "SELECT status FROM runs") == [("completed",)]
    # A run killed before it committed is marked interrupted by the next run.
    con = open_for_writing(wh)
    try:
        con.execute("UPDATE runs SET status = 'running', finished_at = NULL")
    finally:
        con.close()
    pipeline.run_pipeline(config)
    assert query(wh, "SELECT status FROM runs ORDER BY run_id") == [("interrupted",), ("completed",)]


def test_backtest_counts_stories_and_sends_nothing(tmp_path: Path, sample_server: LoopbackServer) -> None:
    with WebhookSink() as hook:
        config = alerting_config(tmp_path, sample_server.base_url, "json://127.0.0.1:9/unused", hook.url())
        text = config.read_text().replace("[[subscribers]]", "[[topics]]\nid = \"asat\"\nname = \"ASAT\"\nthemes = [\"space_militarization\"]\nkeywords = 'asat OR \"anti-satellite\"'\n\n[[subscribers]]", 1)
        config.write_text(text.replace('urls = [', 'urls = [').replace("[[subscribers]]\nname = \"desk\"", "[[subscribers]]\nname = \"desk\"", 1), encoding="utf-8")
        # Store the sample without any subscriber following the new topic.
        pipeline.run_pipeline(config)
        posts = len(hook.posts)
        result = subprocess.run([SPACEWATCH, "topics", "backtest", "asat", "--since", "3650d", "--config", str(config)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert len(hook.posts) == posts  # nothing sent
    assert "Topic asat" in result.stdout and "Nothing was sent" in result.stdout
    match = re.search(r"(\d+) match, (\d+) distinct stories -> (\d+) alerts for 0 subscriber", result.stdout)
    assert match and int(match.group(2)) >= 1
    assert "anti-satellite" in result.stdout.lower()

    result = subprocess.run([SPACEWATCH, "alerts", "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Recent alerts" in result.stdout and "desk" in result.stdout


def test_quiet_hours_defer_and_apprise_config_files_work(tmp_path: Path, sample_server: LoopbackServer) -> None:
    with WebhookSink() as hook:
        apprise_file = tmp_path / "apprise.txt"
        apprise_file.write_text(hook.url("/from-config") + "\n", encoding="utf-8")
        config = write_config(tmp_path, sample_feeds(sample_server.base_url))
        config.write_text(
            config.read_text()
            + '\n[alerts]\nmin_interval_s = 0\nmax_age_h = 0\n'
            + '\n[[topics]]\nid = "sfd"\nname = "Space Force deployments"\nthemes = ["space_force_deployment"]\n'
            + f'[[subscribers]]\nname = "night-desk"\nurls = ["config:{apprise_file}"]\ntopics = ["sfd"]\n'
            + 'quiet_hours_utc = "22-07"\nmode = "immediate"\n',
            encoding="utf-8",
        )
        cfg = load_config(config)
        summary = pipeline.run_pipeline(config)
        wh = tmp_path / "wh.duckdb"
        count = query(wh, "SELECT count(*) FROM alerts")[0][0]
        assert count == summary.alerts_new > 0
        con = open_for_writing(wh)
        try:
            # Undo the run's delivery, as if the alerts had been created at night.
            con.execute("UPDATE alerts SET status = 'pending', sent_at = NULL, next_attempt_at = now() - INTERVAL 1 MINUTE")
            con.execute("DELETE FROM alert_deliveries")
            posts_before = len(hook.posts)
            day = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
            night = day.replace(hour=23, minute=30)
            quiet = deliver_due(con, cfg, night)
            assert quiet.deferred == count and quiet.sent == 0 and len(hook.posts) == posts_before
            wait = con.execute("SELECT DISTINCT next_attempt_at FROM alerts").fetchall()
            end = (day + timedelta(days=1)).replace(hour=7)
            assert wait == [(end,)]
            morning = deliver_due(con, cfg, end + timedelta(minutes=5))
        finally:
            con.close()
        assert morning.sent == count
        assert len(hook.posts) == posts_before + count  # through the Apprise config file


class HoldingHook:
    """A webhook that reads each request whole, then holds its answer until released; it notes,
    as each request arrives, whether an earlier attempt's connection is still open."""

    def __init__(self) -> None:
        import socket
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.release = threading.Event()
        self.connections: list[socket.socket] = []
        self.open_at_arrival: list[int] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                hook.open_at_arrival.append(sum(_still_open(c) for c in hook.connections))
                hook.connections.append(self.connection)
                hook.release.wait(60)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HoldingHook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hold"


def _still_open(connection: object) -> bool:
    import socket

    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""  # type: ignore[attr-defined]
    except BlockingIOError:
        return True  # nothing to read, not closed: the sender still waits for its answer
    except OSError:
        return False


def test_a_timed_out_send_is_stopped_before_the_message_is_sent_again(tmp_path: Path, sample_server: LoopbackServer) -> None:
    with HoldingHook() as hook:
        config = write_config(tmp_path, sample_feeds(sample_server.base_url))
        config.write_text(
            config.read_text()
            + "\n[alerts]\nmin_interval_s = 0\ntimeout_s = 1\nretry_base_s = 60\nmax_age_h = 0\n"
            + '\n[[topics]]\nid = "sfd"\nname = "Space Force deployments"\nthemes = ["space_force_deployment"]\n'
            + f'[[subscribers]]\nname = "desk"\nurls = ["{hook.url()}"]\ntopics = ["sfd"]\n',
            encoding="utf-8",
        )
        cfg = load_config(config)
        summary = pipeline.run_pipeline(config)  # every send times out: the hook never answers
        alerts = summary.alerts_new
        assert alerts > 0 and summary.alerts_sent == 0 and len(hook.connections) == alerts
        wh = tmp_path / "wh.duckdb"
        errors = query(wh, "SELECT DISTINCT status, last_error FROM alert_deliveries")
        assert errors == [("failed", "no answer within 1 s; the send was stopped (the destination may have received it)")]
        con = open_for_writing(wh)
        try:
            retry = deliver_due(con, cfg, datetime.now(UTC) + timedelta(minutes=5))
        finally:
            con.close()
        assert retry.sent == 0 and len(hook.connections) == 2 * alerts
    # When each message was sent again, no earlier attempt was still under way.
    assert hook.open_at_arrival == [0] * (2 * alerts)
