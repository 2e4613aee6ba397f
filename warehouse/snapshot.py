"""The analysts' view: a read-only copy of the warehouse published atomically after each run.

DuckDB allows one writing process, and even a read-only open fails while a writer holds the
file. So the pipeline, still holding the writer lock at the end of a run, copies the warehouse
to a temporary file, builds the full-text index there, and renames it over the previous
snapshot. Readers open the snapshot read-only: they never block the pipeline, never see half a
run, and a reader that opened the previous snapshot keeps reading it (rename does not touch an
open file). The view is as fresh as the last completed run.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from .fts import load_fts


class SnapshotMissing(Exception):
    pass


def snapshot_path(warehouse: Path) -> Path:
    return warehouse.with_name(f"{warehouse.stem}.snapshot.duckdb")


def snapshot_due(published_at: datetime | None, now: datetime, every_min: float) -> bool:
    """Whether a run should publish: always without a snapshot or with no interval set."""
    if published_at is None or every_min <= 0:
        return True
    return now - published_at >= timedelta(minutes=every_min)


def snapshot_published_at(warehouse: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(snapshot_path(warehouse).stat().st_mtime, UTC)
    except FileNotFoundError:
        return None


def publish_snapshot(con: duckdb.DuckDBPyConnection, warehouse: Path) -> tuple[Path, float]:
    """Copy the open warehouse to its snapshot with a full-text index; returns (path, seconds)."""
    started = time.perf_counter()
    target = snapshot_path(warehouse)
    tmp = target.with_name(target.name + ".tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    source = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    con.execute(f"ATTACH '{tmp}' AS spacewatch_snapshot")
    try:
        con.execute(f'COPY FROM DATABASE "{source}" TO spacewatch_snapshot')
    finally:
        con.execute("DETACH spacewatch_snapshot")
    snap = duckdb.connect(str(tmp))
    try:
        load_fts(snap)
        snap.execute(
            "PRAGMA create_fts_index('articles', 'article_id', 'title', 'text', "
            "stemmer = 'english', overwrite = 1)"
        )
        snap.execute("CHECKPOINT")
    finally:
        snap.close()
    os.replace(tmp, target)
    return target, time.perf_counter() - started


def open_snapshot(warehouse: Path) -> duckdb.DuckDBPyConnection:
    path = snapshot_path(warehouse)
    if not path.exists():
        raise SnapshotMissing(
            f"{path}: no analysts' snapshot yet; it is published at the end of each "
            "`spacewatch run`"
        )
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    load_fts(con)
    return con
