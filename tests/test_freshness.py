"""No backlog alerts: only stories within [alerts] max_age_h are sent; older matches are kept.

A loopback feed carries old and new stories; a real run delivers to a real webhook receiver.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from receivers import WebhookSink

from helpers import query, write_config
from spacewatch.alerts.rules import stale_reason
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer, static_route
from spacewatch.warehouse.snapshot import open_snapshot

pytestmark = pytest.mark.usefixtures("prefect_harness")
SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# Distinct vocabularies, so no two stories are taken for syndicated copies of one another.
_WORDS = [
    "habitat regolith shielding crater rim prototype contractors robotic excavation trials",
    "budget committee appropriations senators hearing testimony oversight delays audit",
    "treaty negotiators consultations diplomats delegation summit communique drafting",
    "telescope observatory spectrometer calibration mirror segments alignment cryogenic",
    "insurance underwriters premiums liability claims actuaries brokers reinsurance",
]


def _story(i: int) -> str:
    words = _WORDS[i].split()
    sentences = [
        f"The lunar programme update number {i} covers {w} and related {words[(k + 3) % len(words)]}."
        for k, w in enumerate(words)
    ]
    return " ".join(sentences * 2)


def _feed(base: str, stories: list[tuple[str, datetime | None]]) -> bytes:
    items = []
    for i, (slug, published) in enumerate(stories):
        date = f"<pubDate>{format_datetime(published)}</pubDate>" if published else ""
        items.append(
            f"<item><title>Lunar story {slug}</title><link>{base}/pages/{slug}.html</link>"
            f"<guid>{slug}</guid>{date}<description>{_story(i)}</description></item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Lunar Wire</title>'
        f"<link>{base}/</link><description>x</description>{''.join(items)}</channel></rss>"
    ).encode()


def serve_mixed_feed(server: LoopbackServer, now: datetime) -> dict[str, datetime | None]:
    stories = {
        "fresh-2h": now - timedelta(hours=2),
        "fresh-30h": now - timedelta(hours=30),
        "undated": None,  # judged on first sight: new to the world as far as we know
        "old-2022": datetime(2022, 4, 29, 20, 10, tzinfo=UTC),
        "old-10d": now - timedelta(days=10),
    }
    server.set("/feed.xml", static_route(_feed(server.base_url, list(stories.items())), "application/rss+xml"))
    for i, slug in enumerate(stories):
        page = f"<html><head><title>Lunar story {slug}</title></head><body><article><h1>Lunar story {slug}</h1><p>{_story(i)}</p></article></body></html>"
        server.set(f"/pages/{slug}.html", static_route(page.encode(), "text/html"))
    return stories


def test_stale_reason_judges_publication_else_first_seen() -> None:
    seen = NOW - timedelta(minutes=1)
    assert stale_reason(NOW - timedelta(hours=47), seen, NOW, 48) is None
    old = stale_reason(NOW - timedelta(hours=49), seen, NOW, 48)
    assert old is not None and old.startswith("not sent: older than max_age_h") and "published" in old
    # No publication date: first sight decides.
    assert stale_reason(None, NOW - timedelta(hours=1), NOW, 48) is None
    undated = stale_reason(None, NOW - timedelta(hours=50), NOW, 48)
    assert undated is not None and "first seen" in undated
    assert stale_reason(datetime(2001, 1, 1, tzinfo=UTC), seen, NOW, 0) is None  # 0: no window


def test_first_run_sends_only_fresh_stories_and_backtest_agrees(tmp_path: Path) -> None:
    with LoopbackServer() as server, WebhookSink() as hook:
        stories = serve_mixed_feed(server, datetime.now(UTC))
        config = write_config(tmp_path, [(f"{server.base_url}/feed.xml", "Lunar Wire")])
        config.write_text(
            config.read_text()
            + f"""
[alerts]
min_interval_s = 0

[[topics]]
id = "lunar"
name = "Lunar programme"
keywords = "lunar"
relevant_only = false

[[subscribers]]
name = "desk"
urls = ["{hook.url()}"]
topics = ["lunar"]
""",
            encoding="utf-8",
        )
        summary = pipeline.run_pipeline(config)
        wh = tmp_path / "wh.duckdb"
        rows = query(wh, "SELECT a.title, al.status, al.note FROM alerts al JOIN articles a USING (article_id) ORDER BY 1")
        assert len(rows) == len(stories) == summary.alerts_new
        status = {title.removeprefix("Lunar story "): (s, note) for title, s, note in rows}
        assert {k for k, (s, _) in status.items() if s == "sent"} == {"fresh-2h", "fresh-30h", "undated"}
        assert {k for k, (s, _) in status.items() if s == "stale"} == {"old-2022", "old-10d"}
        assert "published 2022-04-29 20:10 UTC" in status["old-2022"][1]
        # The receiver got exactly the fresh ones.
        received = sorted(re.search(r"Lunar story ([\w-]+)", p["title"]).group(1) for p in hook.posts)
        assert received == ["fresh-2h", "fresh-30h", "undated"]

        # A second run sends nothing more: stale stays stale.
        pipeline.run_pipeline(config)
        assert len(hook.posts) == 3

        con = open_snapshot(wh)  # what analysts see
        try:
            logged = con.execute("SELECT alert_status, alert_note FROM v_alert_log WHERE alert_status = 'stale'").fetchall()
        finally:
            con.close()
        assert len(logged) == 2 and all(n.startswith("not sent: older than max_age_h") for _, n in logged)

        listing = subprocess.run([SPACEWATCH, "alerts", "--config", str(config)], capture_output=True, text=True, timeout=120)
        assert listing.returncode == 0, listing.stderr
        assert "stale: 2" in listing.stdout and "older than max_age_h" in listing.stdout

        backtest = subprocess.run([SPACEWATCH, "topics", "backtest", "lunar", "--since", "3650d", "--config", str(config)], capture_output=True, text=True, timeout=120)
        assert backtest.returncode == 0, backtest.stderr
        out = " ".join(backtest.stdout.split())
        assert "5 distinct stories -> 5 alerts for 1 subscriber(s): 3 sent, 2 kept as stale" in out, out
        assert len(hook.posts) == 3  # the backtest sends nothing


def test_a_crash_right_after_migrating_leaves_a_warehouse_analysts_can_open(tmp_path: Path) -> None:
    """DuckDB cannot replay an ALTER of the alerts table (whose id defaults to nextval) from the
    write-ahead log in a read-only connection; migrate() checkpoints so a crash leaves none."""
    wh = tmp_path / "wh.duckdb"
    code = (
        "import os, sys; from pathlib import Path; "
        "from spacewatch.warehouse.connect import open_for_writing; "
        "con = open_for_writing(Path(sys.argv[1])); "
        "con.execute(\"INSERT INTO runs (run_id, started_at, status) VALUES (1, now(), 'running')\"); "
        "os._exit(0)"  # killed: no close, no checkpoint
    )
    subprocess.run([sys.executable, "-c", code, str(wh)], check=True, timeout=120)
    assert query(wh, "SELECT count(*) FROM alerts WHERE note IS NULL") == [(0,)]
    assert query(wh, "SELECT status FROM runs") == [("running",)]


def test_a_new_copy_of_an_old_story_is_stale_and_raises_no_event(tmp_path: Path) -> None:
    """The story's age counts, not the copy's: a syndicated copy dated today of a story first
    published ten days ago is backlog. Stale matches are stored but emit no match event."""
    from test_warehouse import make_article

    from spacewatch.alerts.rules import Subscription, build_rule
    from spacewatch.seeds.tagger import TagResult
    from spacewatch.warehouse import store
    from spacewatch.warehouse.connect import open_for_writing

    tags = TagResult("en", True, True, 0.9, (), (), (), 0.0, "test")
    rule = build_rule({"id": "habitat", "name": "Habitat", "keywords": "lunar AND habitat", "relevant_only": False})
    alerting = ((rule,), {"habitat": (Subscription("desk", "immediate"),)})
    base = " ".join(f"The lunar programme review number {i} discussed schedules and budgets." for i in range(12))
    then = NOW - timedelta(days=10)
    con = open_for_writing(tmp_path / "wh.duckdb")
    try:
        first = store.save_articles(con, None, then, [make_article("https://a.example/1", base, published_at=then, tags=tags)], [], alerting=alerting, max_age_h=48)
        assert first.alerts_new == 0  # no 'habitat' yet
        copy = make_article("https://b.example/1", base + " A habitat module was added.", published_at=NOW - timedelta(hours=1), tags=tags)
        new = make_article("https://c.example/1", "A lunar habitat prototype passed its pressure tests today. " * 6, published_at=NOW - timedelta(hours=1), tags=tags)
        later = store.save_articles(con, None, NOW, [copy, new], [], alerting=alerting, max_age_h=48)
        rows = con.execute("SELECT a.canonical_url, al.status, al.story_id FROM alerts al JOIN articles a USING (article_id) ORDER BY 1").fetchall()
        story_of_first = con.execute("SELECT story_id FROM articles WHERE canonical_url = 'https://a.example/1'").fetchone()[0]
    finally:
        con.close()
    assert [(u, s) for u, s, _ in rows] == [("https://b.example/1", "stale"), ("https://c.example/1", "pending")]
    assert rows[0][2] == story_of_first  # the copy joined the old story
    assert later.alerts_new == 2
    ((topic, story, _article),) = later.matches  # the fresh one only
    assert topic == "habitat" and story == rows[1][2]
