"""What `spacewatch run` and the time options say: counts of what they count, offsets honoured."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import sample_feeds, write_config
from spacewatch.cli.app import parse_since
from spacewatch.loopback import LoopbackServer

SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))


@pytest.mark.slow
def test_run_counts_failed_feeds_and_alert_errors_apart(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    feeds = [*sample_feeds(sample_server.base_url), ("http://127.0.0.1:9/gone.xml", "gone")]
    config = write_config(tmp_path, feeds, alerts="min_interval_s = 0\ntimeout_s = 5\nmax_age_h = 0")
    config.write_text(
        config.read_text()
        + '\n[[topics]]\nid = "lunar_station"\nname = "Lunar station"\nthemes = ["moon_base_ilrs"]\n'
        + '\n[[subscribers]]\nname = "desk"\nurls = ["json://127.0.0.1:9/down"]\ntopics = ["lunar_station"]\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [SPACEWATCH, "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    alerts = int(re.search(r"alerts: (\d+) new, 0 sent, 0 deferred, (\d+) failed", out).group(2))
    assert alerts > 0
    assert "1 feed(s) failed" in out  # the one feed, not the feed plus the alerts
    assert f"{alerts} alert delivery error(s)" in out
    feed_part = out[out.index("feed(s) failed") : out.index("alert delivery error(s)")]
    assert "gone.xml" in feed_part and "json://" not in feed_part and "alert #" not in feed_part


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T01:00+02:00", datetime(2024, 2, 29, 23, 0, tzinfo=UTC)),
        ("2024-03-01T01:00:00-05:30", datetime(2024, 3, 1, 6, 30, tzinfo=UTC)),
        ("2024-03-01T01:00Z", datetime(2024, 3, 1, 1, 0, tzinfo=UTC)),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),  # no offset: UTC
    ],
)
def test_since_honours_a_time_zone_offset(value: str, expected: datetime) -> None:
    assert parse_since(value) == expected
    assert parse_since(value).utcoffset().total_seconds() == 0
