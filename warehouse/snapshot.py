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

from spacewatch.warehouse.fts import fts_extension_path, load_fts
from spacewatch.warehouse.search import create_search_macros
from spacewatch.warehouse.sqltext import sql_identifier, sql_string

# Settings that make a connection unable to touch anything but the snapshot it has open: no
# file or network access (read_csv, COPY ... TO, ATTACH, INSTALL, httpfs), no extension loaded
# or downloaded behind our back, and, last, no SET that could turn any of this back on.
LOCKDOWN = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)


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
    con.execute(f"ATTACH {sql_string(tmp)} AS spacewatch_snapshot")
    try:
        con.execute(f"COPY FROM DATABASE {sql_identifier(source)} TO spacewatch_snapshot")
    finally:
        con.execute("DETACH spacewatch_snapshot")
    snap = duckdb.connect(str(tmp))
    try:
        load_fts(snap)
        snap.execute(
            "PRAGMA create_fts_index('articles', 'article_id', 'title', 'text', "
            "stemmer = 'english', overwrite = 1)"
        )
        create_search_macros(snap)  # they read the index just built
        snap.execute("CHECKPOINT")
    finally:
        snap.close()
    os.replace(tmp, target)
    return target, time.perf_counter() - started


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _real(path: Path) -> Path:
    return path.resolve()


def lock_down(con: duckdb.DuckDBPyConnection, writable: tuple[Path, ...] = ()) -> None:
    """Lock the connection's configuration; only the `writable` files or folders stay reachable.

    Run before any SQL the user wrote. `writable` is for the tool's own output (the folder an
    export stages into, the file `query --out` names); DuckDB's allowed_paths and
    allowed_directories are the only exceptions to `enable_external_access = false`.
    """
    # Both spellings of each path: DuckDB compares text, and a symlinked folder (/tmp on some
    # systems) has an absolute and a resolved one.
    files = sorted({str(f(p)) for p in writable if not p.is_dir() for f in (_absolute, _real)})
    folders = sorted({str(f(p)) + "/" for p in writable if p.is_dir() for f in (_absolute, _real)})
    if files:
        con.execute("SET allowed_paths = ?", [files])
    if folders:
        con.execute("SET allowed_directories = ?", [folders])
    for statement in LOCKDOWN:
        con.execute(statement)


def open_snapshot(warehouse: Path, writable: tuple[Path, ...] = ()) -> duckdb.DuckDBPyConnection:
    """The snapshot, read-only and locked down (see `lock_down`), with full-text search loaded."""
    path = snapshot_path(warehouse)
    if not path.exists():
        raise SnapshotMissing(
            f"{path}: no analysts' snapshot yet; it is published at the end of each "
            "`spacewatch run`"
        )
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        load_fts(con)  # from a package path: before external access is turned off
        lock_down(con, writable)
    except BaseException:
        con.close()
        raise
    return con


def shell_command(warehouse: Path) -> list[str]:
    """The DuckDB shell (package duckdb-cli, same version as duckdb) on the snapshot, read-only,
    in UTC, with the full-text extension loaded from its package so search_stories works."""
    try:
        import duckdb_cli
    except ImportError:
        raise SnapshotMissing(
            f"the DuckDB shell is not installed: pip install duckdb-cli=={duckdb.__version__}"
        ) from None
    binary = Path(duckdb_cli.__file__).parent / "duckdb"
    setup = ["SET TimeZone = 'UTC';"]
    fts = fts_extension_path()
    if fts is not None:
        setup.append(f"LOAD {sql_string(fts)};")
    return [
        str(binary),
        "-readonly",
        "-cmd",
        " ".join(setup),
        str(snapshot_path(warehouse).resolve()),
    ]
