"""Nightly care of the warehouse: prune raw poll history, checkpoint, back up, restore.

Callers hold `writer_lock` for the whole operation, so no run writes while a backup is copied.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from spacewatch.warehouse.connect import WarehouseError, connect

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


def backup_pattern(warehouse: Path) -> re.Pattern[str]:
    """Exactly the names `backup_name` gives: `w.duckdb` never claims `w-staging-...` backups."""
    stem, suffix = re.escape(warehouse.stem), re.escape(warehouse.suffix or ".duckdb")
    return re.compile(rf"{stem}-\d{{8}}T\d{{6}}Z{suffix}")


def list_backups(warehouse: Path, backup_dir: Path) -> list[Path]:
    """Backups of this warehouse, oldest first (the time stamp sorts as text)."""
    if not backup_dir.is_dir():
        return []
    pattern = backup_pattern(warehouse)
    return sorted(p for p in backup_dir.iterdir() if pattern.fullmatch(p.name) and p.is_file())


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
    the copy goes to a temporary name first, so a half-written backup is never listed. A copy
    that does not open, or holds another number of articles than the warehouse, is removed
    and reported as a WarehouseError; older backups are then left alone.
    """
    (expected,) = con.execute("SELECT count(*) FROM articles").fetchone()  # type: ignore[misc]
    con.execute("CHECKPOINT")
    con.close()
    backup_dir.mkdir(parents=True, exist_ok=True)
    target = backup_dir / backup_name(warehouse, now)
    partial = target.with_name(target.name + ".partial")
    shutil.copy2(warehouse, partial)
    try:
        articles = _count_articles(partial)
        if articles != expected:
            raise WarehouseError(f"{partial}: holds {articles} articles, the warehouse {expected}")
    except WarehouseError as exc:
        partial.unlink(missing_ok=True)
        raise WarehouseError(
            f"{target}: backup failed verification and was removed ({exc})"
        ) from None
    except BaseException:
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


def _kept_name(warehouse: Path, now: datetime) -> str:
    """`w.duckdb.before-restore-<stamp>`, never the name of an earlier kept file."""
    base = f"{warehouse.name}.before-restore-{now.strftime(_STAMP)}"
    name, n = base, 1
    while any(
        warehouse.with_name(name + ext).exists() or warehouse.with_name(name + ext).is_symlink()
        for ext in ("", ".wal")
    ):
        n += 1
        name = f"{base}-{n}"
    return name


def restore_backup(backup: Path, warehouse: Path, now: datetime) -> Path | None:
    """Put a backup in place of the warehouse; what it replaces is kept under a time stamp.

    The current file (and its write-ahead log) become `w.duckdb.before-restore-<stamp>`, so a
    second restore never overwrites what the first one kept.
    """
    if not backup.is_file():
        raise WarehouseError(f"{backup}: backup not found")
    _count_articles(backup)
    kept = None
    name = _kept_name(warehouse, now)
    if warehouse.exists():
        kept = warehouse.with_name(name)
        os.replace(warehouse, kept)
    wal = warehouse.with_name(warehouse.name + ".wal")
    if wal.exists():
        os.replace(wal, warehouse.with_name(name + ".wal"))
    partial = warehouse.with_name(warehouse.name + ".partial")
    shutil.copy2(backup, partial)
    os.replace(partial, warehouse)
    return kept
