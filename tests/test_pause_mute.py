"""A subscriber's own pause and mute (config keys): a paused subscriber receives nothing and
loses nothing; a muted topic is kept as 'muted' and never sent. Real webhook receiver."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from receivers import WebhookSink
from test_freshness import serve_mixed_feed

from helpers import query, write_config
from spacewatch.alerts.delivery import deliver_due, send_digests
from spacewatch.config import ConfigError, load_config, parse_config
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer
from spacewatch.warehouse.connect import open_for_writing

pytestmark = pytest.mark.usefixtures("prefect_harness")

SUBSCRIBER = """
[alerts]
min_interval_s = 0

[[topics]]
id = "lunar"
name = "Lunar programme"
keywords = "lunar"
relevant_only = false

[[topics]]
id = "budget"
name = "Budget"
keywords = "appropriations"
relevant_only = false

[[subscribers]]
name = "desk"
urls = ["{url}"]
topics = ["lunar", "budget"]
muted_topics = ["budget"]
"""


def test_paused_subscriber_gets_nothing_then_one_digest_and_muted_topic_never(tmp_path: Path) -> None:
    with LoopbackServer() as server, WebhookSink() as hook:
        serve_mixed_feed(server, datetime.now(UTC))
        config = write_config(tmp_path, [(f"{server.base_url}/feed.xml", "Lunar Wire")])
        base = config.read_text() + SUBSCRIBER.format(url=hook.url())
        config.write_text(base + "paused_until = 2099-01-01T00:00:00Z\n", encoding="utf-8")
        pipeline.run_pipeline(config)
        assert hook.posts == []  # paused: nothing at all
        wh = tmp_path / "wh.duckdb"
        rows = query(wh, "SELECT topic_id, status, note FROM alerts WHERE status <> 'stale' ORDER BY alert_id")
        assert sorted((t, s) for t, s, _ in rows) == [("budget", "muted")] + [("lunar", "digest")] * 3
        assert all("paused until 2099-01-01 00:00 UTC" in n for t, s, n in rows if s == "digest")
        assert all("muted" in n for t, s, n in rows if s == "muted")

        con = open_for_writing(wh)
        try:
            paused = send_digests(con, load_config(config), datetime.now(UTC), force=True)
            assert paused.digests == 0 and hook.posts == []  # still paused: the digest waits
            # The operator lifts the pause: the held alerts go out as one digest, not a burst.
            config.write_text(base, encoding="utf-8")
            cfg = load_config(config)
            assert deliver_due(con, cfg, datetime.now(UTC)).sent == 0
            resumed = send_digests(con, cfg, datetime.now(UTC), force=True)
            # Unmuting later does not send what was muted meanwhile.
            config.write_text(base.replace('muted_topics = ["budget"]\n', ""), encoding="utf-8")
            unmuted = load_config(config)
            assert unmuted.subscribers[0].muted_topics == ()
            assert deliver_due(con, unmuted, datetime.now(UTC), retry_failed=True).sent == 0
            assert send_digests(con, unmuted, datetime.now(UTC), force=True).digests == 0
        finally:
            con.close()
        assert resumed.digests == 1 and resumed.sent == 3
        assert len(hook.posts) == 1
        digest = hook.posts[0]["message"]
        assert digest.count("Lunar story fresh") == 2 and "Lunar story undated" in digest
        assert "Budget" not in digest and "old-2022" not in digest
        assert query(wh, "SELECT topic_id, status FROM alerts WHERE status NOT IN ('stale') ORDER BY 1, 2") == [("budget", "muted")] + [("lunar", "sent")] * 3


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ('muted_topics = ["other"]', "[[subscribers]] #1: subscriber 'desk': muted_topics names topic(s) ['other'] it does not follow"),
        ("paused_until = 2026-12-24T00:00:00", "paused_until 2026-12-24T00:00:00 needs a UTC offset"),
    ],
)
def test_pause_and_mute_keys_are_checked(tmp_path: Path, extra: str, error: str) -> None:
    text = '[[topics]]\nid = "lunar"\nname = "L"\nkeywords = "lunar"\n\n[[topics]]\nid = "other"\nname = "O"\nkeywords = "x"\n\n' \
        f'[[subscribers]]\nname = "desk"\nurls = ["json://127.0.0.1:9/x"]\ntopics = ["lunar"]\n{extra}\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "spacewatch.toml")
    assert error in str(caught.value)


def test_a_date_pauses_from_midnight_utc(tmp_path: Path) -> None:
    text = '[[topics]]\nid = "lunar"\nname = "L"\nkeywords = "lunar"\n' \
        '[[subscribers]]\nname = "desk"\nurls = ["json://127.0.0.1:9/x"]\ntopics = ["lunar"]\npaused_until = 2026-12-24\n'
    cfg = parse_config(text, tmp_path / "spacewatch.toml")
    assert cfg.subscribers[0].paused_until == datetime(2026, 12, 24, tzinfo=UTC)
