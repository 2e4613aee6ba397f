"""Exporting the analysts' views from the snapshot to Parquet or CSV files, with a manifest.

Views with one row per article (or per alert) grow without bound, so they are written as Hive
partitions by month (`v_articles/month=2026-11/data_0.parquet`), which Spark, pandas, Polars and
DuckDB read back as one dataset with a `month` column; the other views are small and go to one
file each. `manifest.json` lists every view with its row count and files, so a consumer can
check it got everything. The export is written to a temporary folder beside the target and
moved into place only when complete: a failed export never leaves half a dataset behind, and
the previous export stays as it was.

The export's DuckDB connection is locked like every analyst's (open_snapshot): it may write
only into that temporary folder, with COPY statements built here from checked view names.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import duckdb

from spacewatch.warehouse.sqltext import sql_identifier, sql_string

FORMATS = ("parquet", "csv")
MANIFEST = "manifest.json"

# Views that grow with the articles, and the time column their month partition comes from.
PARTITIONED = {
    "v_articles": "event_at",
    "v_actor_mentions": "event_at",
    "v_theme_mentions": "event_at",
    "v_alert_log": "created_at",
}


class ExportError(Exception):
    """A problem the user can fix (a view name, a non-empty folder); one line."""


@dataclass
class ViewExport:
    rows: int
    path: str  # relative to the export folder: a file, or a folder of month=... partitions
    partitioned_by: str | None = None
    partitions: int = 0
    files: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    format: str
    snapshot: str
    snapshot_modified_at: str
    exported_at: str
    views: dict[str, ViewExport]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def list_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The analysts' views present in the snapshot (v_*), in name order."""
    rows = con.execute(
        """SELECT view_name FROM duckdb_views()
           WHERE NOT internal AND schema_name = 'main' AND view_name LIKE 'v\\_%' ESCAPE '\\'
           ORDER BY view_name"""
    ).fetchall()
    return [r[0] for r in rows]


def parse_view_names(requested: str | None, available: list[str]) -> list[str]:
    """The views to export: all of them, or the comma-separated list, checked."""
    if not requested:
        return available
    names = [n.strip() for n in requested.split(",") if n.strip()]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ExportError(
            f"--views: unknown view(s) {', '.join(unknown)}; valid: {', '.join(available)}"
        )
    return list(dict.fromkeys(names))  # keep the order given, drop repeats


def check_target(out: Path, overwrite: bool) -> None:
    """Refuse a non-empty folder unless --overwrite; refuse a file in its place."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ExportError(
            f"{out}: folder is not empty; pass --overwrite to replace a previous export there, "
            "or choose another --out"
        )


def csv_field(value: str | None) -> str:
    """One CSV field as DuckDB's COPY writes it: NULL empty, "" for an empty string, quoted
    (quotes doubled) when it holds a comma, a quote, a `#` or a line break."""
    if value is None:
        return ""
    if value == "" or any(c in value for c in ',"#\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def text_of(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """The relation with every column as DuckDB's own text for its values."""
    return relation.project(
        ", ".join(
            f"CAST({sql_identifier(c)} AS VARCHAR) AS {sql_identifier(c)}" for c in relation.columns
        )
    )


def write_csv(relation: duckdb.DuckDBPyRelation, stream: TextIO) -> int:
    """Write a relation as CSV in the one convention shared with `export` (DuckDB's COPY):
    every value is DuckDB's own text for it, so lists read `[a, b]`, booleans `true`, times
    `2026-11-02 10:00:00+00`. Returns the number of rows."""
    columns = relation.columns
    as_text = text_of(relation)
    stream.write(",".join(csv_field(c) for c in columns) + "\n")
    count = 0
    while batch := as_text.fetchmany(10_000):
        for row in batch:
            stream.write(",".join(csv_field(v) for v in row) + "\n")
        count += len(batch)
    return count


def _copy(con: duckdb.DuckDBPyConnection, view: str, target: Path, fmt: str) -> ViewExport:
    """COPY one view into the staging folder; the statement is built here, never from user SQL
    (the view name was checked against the snapshot's views)."""
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    column = PARTITIONED.get(view)
    name = sql_identifier(view)
    if column is None:
        file = target / f"{view}.{fmt}"
        (rows,) = con.execute(  # type: ignore[misc]
            f"COPY (SELECT * FROM {name}) TO {sql_string(file)} ({options})"
        ).fetchone()
        return ViewExport(rows=int(rows), path=file.name, files=[file.name])
    folder = target / view
    folder.mkdir()
    # The month is written as text (2026-11), so folders sort and read back the same everywhere;
    # rows without a date land in month=__HIVE_DEFAULT_PARTITION__, DuckDB's and Hive's default.
    select = f"SELECT *, strftime({sql_identifier(column)}, '%Y-%m') AS month FROM {name}"
    (rows,) = con.execute(  # type: ignore[misc]
        f"""COPY ({select})
            TO {sql_string(folder)} ({options}, PARTITION_BY (month), OVERWRITE_OR_IGNORE)"""
    ).fetchone()
    if rows == 0:
        # No partition was written: one empty file keeps the columns (and their types), and
        # reads back with the partitions of later exports as the same dataset.
        con.execute(
            f"COPY ({select} LIMIT 0) TO {sql_string(folder / f'data_0.{fmt}')} ({options})"
        )
    files = sorted(str(p.relative_to(target)) for p in folder.rglob(f"*.{fmt}"))
    return ViewExport(
        rows=int(rows),
        path=view,
        partitioned_by=f"month ({column})",
        partitions=len({Path(f).parent for f in files if Path(f).parent.name.startswith("month=")}),
        files=files,
    )


# The only top-level names an export writes: the manifest, a view's file or its folder.
_OWN_ENTRY = re.compile(r"v_[A-Za-z0-9_]+(\.(parquet|csv))?")


def _previous_entries(out: Path) -> set[str]:
    """Top-level names a previous export wrote into this folder (from its manifest).

    The manifest is only trusted for names an export writes itself: an entry such as `../x`,
    an absolute path, a nested path or a foreign name is refused, and nothing is deleted.
    """
    manifest = out / MANIFEST
    try:
        views = json.loads(manifest.read_text("utf-8"))["views"]
        paths = [v["path"] for v in views.values()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()
    for path in paths:
        if not isinstance(path, str) or not _OWN_ENTRY.fullmatch(path):
            raise ExportError(
                f"{manifest}: entry {path!r} is not a file this export writes; nothing was "
                "deleted (remove that manifest, or choose another --out)"
            )
    return {MANIFEST, *paths}


@dataclass(frozen=True)
class Staging:
    """Where an export is written before it replaces the previous one in `out`."""

    out: Path
    folder: Path
    previous: frozenset[str]


def begin_export(out: Path, overwrite: bool) -> Staging:
    """Check `out` (and any previous manifest), then make an empty staging folder beside it.

    Its path is what the export's DuckDB connection may write to (open_snapshot's writable).
    """
    check_target(out, overwrite)
    previous = frozenset(_previous_entries(out)) if out.is_dir() else frozenset()
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = out.absolute().with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return Staging(out, folder, previous)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _swap_in(staging: Staging) -> None:
    """Replace the previous export's entries with the new ones, or leave `out` as it was.

    Old entries are first moved aside (a rename within the same folder tree), then the new ones
    moved in, the manifest last: when it is there, the export is complete. If any step fails,
    what was moved in is removed and what was moved aside is put back.
    """
    out = staging.out
    aside = staging.folder.with_name(staging.folder.name + ".replaced")
    _remove(aside)
    aside.mkdir()
    new = sorted(staging.folder.iterdir(), key=lambda p: p.name == MANIFEST)
    moved: list[str] = []
    placed: list[str] = []
    try:
        out.mkdir(exist_ok=True)
        # What the previous export wrote (also views this one has not) and anything in the
        # way; files of other origin in the folder are left alone.
        for name in sorted(staging.previous | {p.name for p in new}):
            old = out / name
            if old.exists() or old.is_symlink():
                old.rename(aside / name)
                moved.append(name)
        for entry in new:
            entry.rename(out / entry.name)
            placed.append(entry.name)
    except BaseException:
        for name in placed:
            _remove(out / name)
        for name in moved:
            (aside / name).rename(out / name)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def export_views(
    con: duckdb.DuckDBPyConnection,
    snapshot: Path,
    staging: Staging,
    fmt: str,
    views: list[str],
) -> Manifest:
    """Write the views and their manifest to the staging folder, then swap them into `out`.

    A failure at any point leaves `out` as it was and removes the staging folder.
    """
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: expected parquet or csv")
    try:
        exported = {view: _copy(con, view, staging.folder, fmt) for view in views}
        manifest = Manifest(
            format=fmt,
            snapshot=str(snapshot.resolve()),
            snapshot_modified_at=datetime.fromtimestamp(snapshot.stat().st_mtime, UTC).isoformat(
                timespec="seconds"
            ),
            exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            views=exported,
        )
        (staging.folder / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        _swap_in(staging)
    finally:
        shutil.rmtree(staging.folder, ignore_errors=True)
    return manifest
