"""A large warehouse may publish the analysts' snapshot less often than it runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers import query, sample_feeds, write_config
from spacewatch.flows.pipeline import run_pipeline
from spacewatch.loopback import LoopbackServer
from spacewatch.warehouse.snapshot import snapshot_due, snapshot_path

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_snapshot_due() -> None:
    assert snapshot_due(None, NOW, 60)
    assert snapshot_due(NOW - timedelta(seconds=1), NOW, 0)
    assert not snapshot_due(NOW - timedelta(minutes=59), NOW, 60)
    assert snapshot_due(NOW - timedelta(minutes=60), NOW, 60)


def test_runs_inside_the_interval_keep_the_published_snapshot(
    tmp_path: Path, sample_server: LoopbackServer, prefect_harness: None
) -> None:
    config = write_config(tmp_path, sample_feeds(sample_server.base_url))
    text = config.read_text().replace('[warehouse]\npath = "wh.duckdb"\n', '[warehouse]\npath = "wh.duckdb"\nsnapshot_every_min = 60\n')
    config.write_text(text)
    snapshot = snapshot_path(tmp_path / "wh.duckdb")

    first = run_pipeline(config)
    assert first.snapshot_s > 0 and snapshot.exists()
    published = snapshot.stat().st_mtime_ns
    second = run_pipeline(config)
    assert second.snapshot_s == 0
    assert snapshot.stat().st_mtime_ns == published
    # The warehouse has both runs; the analysts' view still shows the first only.
    assert query(tmp_path / "wh.duckdb", "SELECT count(*) FROM runs") == [(2,)]
    assert query(snapshot, "SELECT count(*) FROM runs") == [(1,)]
