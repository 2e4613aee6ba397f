"""Nightly maintenance: poll history pruned, verified backups rotated, restore keeps the old file."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_cli import spacewatch

from helpers import query
from spacewatch.config import load_config
from spacewatch.flows.maintenance import run_maintenance
from spacewatch.warehouse.connect import WarehouseError, open_for_writing, writer_lock
from spacewatch.warehouse.maintenance import backup_name, list_backups, restore_backup

# Polls are dated from the real clock, since `spacewatch maintenance` prunes against it.
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)


def make_warehouse(folder: Path, keep: int = 2) -> Path:
    config = folder / "spacewatch.toml"
    config.write_text(
        f'[warehouse]\npath = "wh.duckdb"\n[maintenance]\nbackup_dir = "bk"\nkeep_backups = {keep}\n'
        "poll_history_days = 30\n",
        encoding="utf-8",
    )
    con = open_for_writing(folder / "wh.duckdb")
    for feed in (1, 2):
        con.execute(
            "INSERT INTO feeds (feed_id, configured_url, url, created_at) VALUES (?, ?, ?, ?)",
            [feed, f"http://f{feed}/", f"http://f{feed}/", NOW - timedelta(days=400)],
        )
    # Feed 1 polled daily for 100 days; feed 2 last polled 200 days ago (a dead feed).
    for day in range(100):
        con.execute(
            "INSERT INTO feed_polls (feed_id, polled_at, url, outcome) VALUES (1, ?, 'http://f1/', 'ok')",
            [NOW - timedelta(days=day)],
        )
    con.execute(
        "INSERT INTO feed_polls (feed_id, polled_at, url, outcome) VALUES (2, ?, 'http://f2/', 'error')",
        [NOW - timedelta(days=200)],
    )
    con.close()
    return config


def test_prunes_old_polls_but_keeps_each_feeds_latest(tmp_path: Path) -> None:
    cfg = load_config(make_warehouse(tmp_path))
    summary = run_maintenance(cfg, NOW)
    wh = tmp_path / "wh.duckdb"
    polls = query(wh, "SELECT feed_id, count(*), min(polled_at) FROM feed_polls GROUP BY 1 ORDER BY 1")
    # Days 0..29 are inside the 30-day window (day 30 is exactly at the cut-off and kept).
    assert [(f, n) for f, n, _ in polls] == [(1, 31), (2, 1)]
    assert summary.polls_pruned == 100 - 31
    # New polls still get fresh ids: the sequence survived.
    con = open_for_writing(wh)
    (poll_id,) = con.execute(
        "INSERT INTO feed_polls (feed_id, polled_at, url, outcome) VALUES (1, now(), 'x', 'ok') RETURNING poll_id"
    ).fetchone()
    con.close()
    assert poll_id == 102


def test_backups_are_verified_copies_and_only_the_newest_are_kept(tmp_path: Path) -> None:
    cfg = load_config(make_warehouse(tmp_path, keep=2))
    for hours in range(3):
        summary = run_maintenance(cfg, NOW + timedelta(hours=hours))
    backups = list_backups(tmp_path / "wh.duckdb", tmp_path / "bk")
    wh = tmp_path / "wh.duckdb"
    names = [backup_name(wh, NOW + timedelta(hours=h)) for h in range(3)]
    assert [p.name for p in backups] == names[1:]
    assert names[0].startswith("wh-") and names[0].endswith("Z.duckdb")
    assert summary.backups_removed == [str(tmp_path / "bk" / names[0])]
    # Two hours later, the poll from exactly 30 days before NOW has left the window.
    assert query(backups[-1], "SELECT count(*) FROM feed_polls") == [(31,)]
    assert not list((tmp_path / "bk").glob("*.partial"))


def test_restore_puts_the_backup_back_and_keeps_the_current_file(tmp_path: Path) -> None:
    config = make_warehouse(tmp_path)
    result = spacewatch("maintenance", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "backup:" in result.stdout and "verified" in result.stdout
    (backup,) = list_backups(tmp_path / "wh.duckdb", tmp_path / "bk")
    con = open_for_writing(tmp_path / "wh.duckdb")
    con.execute("DELETE FROM feed_polls")
    con.close()

    result = spacewatch("restore", str(backup), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert query(tmp_path / "wh.duckdb", "SELECT count(*) FROM feed_polls") == [(31,)]
    (kept,) = tmp_path.glob("wh.duckdb.before-restore-*")
    assert f"The previous warehouse is kept as {kept}" in result.stdout
    assert query(kept, "SELECT count(*) FROM feed_polls") == [(0,)]

    # A second restore keeps what it replaced too, and leaves the first kept file alone.
    con = open_for_writing(tmp_path / "wh.duckdb")
    con.execute("DELETE FROM feed_polls WHERE poll_id % 2 = 0")
    (left,) = con.execute("SELECT count(*) FROM feed_polls").fetchone()
    con.close()
    result = spacewatch("restore", str(backup), "--config", str(config))
    assert result.returncode == 0, result.stderr
    kept_files = sorted(tmp_path.glob("wh.duckdb.before-restore-*"))
    assert len(kept_files) == 2 and kept in kept_files
    assert query(kept, "SELECT count(*) FROM feed_polls") == [(0,)]
    (second,) = [k for k in kept_files if k != kept]
    assert query(second, "SELECT count(*) FROM feed_polls") == [(left,)]


def test_restores_within_one_second_keep_distinct_files(tmp_path: Path) -> None:
    make_warehouse(tmp_path)
    wh = tmp_path / "wh.duckdb"
    cfg = load_config(tmp_path / "spacewatch.toml")
    backup = Path(run_maintenance(cfg, NOW).backup)
    kept = [restore_backup(backup, wh, NOW) for _ in range(3)]
    assert len({k for k in kept if k}) == 3 and all(k and k.exists() for k in kept)


def test_backups_of_a_neighbouring_warehouse_are_never_pruned(tmp_path: Path) -> None:
    """`wh.duckdb` and `wh-staging.duckdb` share a backup folder; each prunes only its own."""
    cfg = load_config(make_warehouse(tmp_path, keep=1))
    bk = tmp_path / "bk"
    bk.mkdir()
    neighbour = [bk / backup_name(tmp_path / "wh-staging.duckdb", NOW - timedelta(days=d)) for d in (1, 2)]
    lookalikes = [bk / "wh-20261126T033000Z.duckdb.partial", bk / "wh-latest.duckdb", bk / "wh-2026.duckdb"]
    for path in neighbour + lookalikes:
        path.write_bytes(b"not mine")
    summary = run_maintenance(cfg, NOW)
    summary = run_maintenance(cfg, NOW + timedelta(hours=1))
    assert [Path(p).name for p in summary.backups_removed] == [backup_name(tmp_path / "wh.duckdb", NOW)]
    assert all(p.exists() for p in neighbour + lookalikes)
    assert [p.name for p in list_backups(tmp_path / "wh.duckdb", bk)] == [backup_name(tmp_path / "wh.duckdb", NOW + timedelta(hours=1))]


def test_a_backup_that_fails_verification_is_removed_and_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(make_warehouse(tmp_path, keep=1))
    wh, bk = tmp_path / "wh.duckdb", tmp_path / "bk"
    good = run_maintenance(cfg, NOW)
    assert good.backup_articles == 0 and Path(good.backup).exists()

    def copy_of_another_warehouse(src: str, dst: str) -> None:
        # A copy that opens but is not the warehouse (as a truncated or stale copy would be).
        other = open_for_writing(tmp_path / "other.duckdb")
        other.execute("INSERT INTO articles (article_id, canonical_url, url, story_id, first_seen_at, extraction_method) VALUES (99, 'u', 'u', 99, now(), 'feed')")
        other.close()
        shutil.copyfile(tmp_path / "other.duckdb", dst)

    monkeypatch.setattr("spacewatch.warehouse.maintenance.shutil.copy2", copy_of_another_warehouse)
    with pytest.raises(WarehouseError, match="failed verification and was removed"):
        run_maintenance(cfg, NOW + timedelta(hours=1))
    assert sorted(p.name for p in bk.iterdir()) == [Path(good.backup).name]  # the good one stays
    monkeypatch.setattr("spacewatch.warehouse.maintenance.shutil.copy2", lambda src, dst: Path(dst).write_bytes(b"junk" * 1000))
    with pytest.raises(WarehouseError, match="failed verification and was removed"):
        run_maintenance(cfg, NOW + timedelta(hours=2))
    assert sorted(p.name for p in bk.iterdir()) == [Path(good.backup).name]
    assert wh.exists()


def test_errors_name_the_culprit_and_touch_nothing(tmp_path: Path) -> None:
    config = make_warehouse(tmp_path)
    result = spacewatch("restore", str(tmp_path / "nope.duckdb"), "--config", str(config))
    assert result.returncode == 1
    assert result.stderr.strip() == f"spacewatch: error: {tmp_path / 'nope.duckdb'}: backup not found"

    not_a_warehouse = tmp_path / "junk.duckdb"
    not_a_warehouse.write_bytes(b"junk" * 100)
    result = spacewatch("restore", str(not_a_warehouse), "--config", str(config))
    assert result.returncode == 1 and str(not_a_warehouse) in result.stderr
    assert query(tmp_path / "wh.duckdb", "SELECT count(*) FROM feed_polls") == [(101,)]

    with writer_lock(tmp_path / "wh.duckdb"):
        result = spacewatch("maintenance", "--config", str(config))
    assert result.returncode == 3
    assert "another Spacewatch run is writing" in result.stderr
    assert not (tmp_path / "bk").exists()
