"""Nightly care of the warehouse: prune raw poll history, checkpoint, back up, restore.

Callers hold `writer_lock` for the whole operation, so no run writes while a backup is copied.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from .connect import WarehouseError, connect

_STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Backup:
    path: Path
    bytes: int
    articles: int


def prune_poll_history(con: duckdb.DuckDBPyConnection, older_than: datetime) -> int:
    """Delete polls before the cut-off, keeping each feed's latest (feed health reads it)."""
    (deleted,) = con.execute(
        """DELETE FROM feed_polls
           WHERE polled_at < ?
             AND poll_id NOT IN (
                 SELECT arg_max(poll_id, polled_at) FROM feed_polls GROUP BY feed_id)""",
        [older_than],
    ).fetchone()
    return int(deleted)


def backup_name(warehouse: Path, now: datetime) -> str:
    return f"{warehouse.stem}-{now.strftime(_STAMP)}{warehouse.suffix or '.duckdb'}"


def list_backups(warehouse: Path, backup_dir: Path) -> list[Path]:
    """Backups of this warehouse, oldest first (the time stamp sorts as text)."""
    pattern = f"{warehouse.stem}-*T*Z{warehouse.suffix or '.duckdb'}"
    return sorted(backup_dir.glob(pattern))


def _count_articles(path: Path) -> int:
    con = connect(path, read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM articles").fetchone()[0])
    except duckdb.Error as exc:
        raise WarehouseError(f"{path}: not a Spacewatch warehouse: {exc}") from None
    finally:
        con.close()


def save_backup(
    con: duckdb.DuckDBPyConnection, warehouse: Path, backup_dir: Path, now: datetime
) -> Backup:
    """Checkpoint, close `con`, copy the file, and check the copy opens and holds the articles.

    After CHECKPOINT the write-ahead log is empty, so the single file is the whole warehouse;
    the copy goes to a temporary name first, so a half-written backup is never listed.
    """
    con.execute("CHECKPOINT")
    con.close()
    backup_dir.mkdir(parents=True, exist_ok=True)
    target = backup_dir / backup_name(warehouse, now)
    partial = target.with_name(target.name + ".partial")
    shutil.copy2(warehouse, partial)
    try:
        articles = _count_articles(partial)
    except Exception:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return Backup(target, target.stat().st_size, articles)


def prune_backups(warehouse: Path, backup_dir: Path, keep: int) -> list[Path]:
    backups = list_backups(warehouse, backup_dir)
    removed = backups[:-keep] if keep > 0 else backups
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def restore_backup(backup: Path, warehouse: Path) -> Path | None:
    """Put a backup in place of the warehouse; the current file is kept beside it, not lost."""
    if not backup.is_file():
        raise WarehouseError(f"{backup}: backup not found")
    _count_articles(backup)
    kept = None
    if warehouse.exists():
        kept = warehouse.with_name(warehouse.name + ".before-restore")
        os.replace(warehouse, kept)
    wal = warehouse.with_name(warehouse.name + ".wal")
    if wal.exists():
        os.replace(wal, wal.with_name(wal.name + ".before-restore"))
    partial = warehouse.with_name(warehouse.name + ".partial")
    shutil.copy2(backup, partial)
    os.replace(partial, warehouse)
    return kept
