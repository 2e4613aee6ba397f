"""Exporting the analysts' views from the snapshot to Parquet or CSV files, with a manifest.

Views with one row per article (or per alert) grow without bound, so they are written as Hive
partitions by month (`v_articles/month=2026-11/data_0.parquet`), which Spark, pandas, Polars and
DuckDB read back as one dataset with a `month` column; the other views are small and go to one
file each. `manifest.json` lists every view with its row count and files, so a consumer can
check it got everything. The export is written to a temporary folder beside the target and
moved into place only when complete: a failed export never leaves half a dataset behind.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

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


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _copy(con: duckdb.DuckDBPyConnection, view: str, target: Path, fmt: str) -> ViewExport:
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    column = PARTITIONED.get(view)
    if column is None:
        file = target / f"{view}.{fmt}"
        rows = con.execute(f"COPY (SELECT * FROM {view}) TO {_quoted(file)} ({options})").fetchone()
        return ViewExport(rows=int(rows[0]), path=file.name, files=[file.name])  # type: ignore[index]
    folder = target / view
    folder.mkdir()  # present even when the view is empty and no partition gets written
    # The month is written as text (2026-11), so folders sort and read back the same everywhere;
    # rows without a date land in month=__HIVE_DEFAULT_PARTITION__, DuckDB's and Hive's default.
    rows = con.execute(
        f"""COPY (SELECT *, strftime({column}, '%Y-%m') AS month FROM {view})
            TO {_quoted(folder)} ({options}, PARTITION_BY (month), OVERWRITE_OR_IGNORE)"""
    ).fetchone()
    files = sorted(str(p.relative_to(target)) for p in folder.rglob(f"*.{fmt}"))
    return ViewExport(
        rows=int(rows[0]),  # type: ignore[index]
        path=view,
        partitioned_by=f"month ({column})",
        partitions=len({Path(f).parent for f in files}),
        files=files,
    )


def _previous_entries(out: Path) -> set[str]:
    """Top-level names a previous export wrote into this folder (from its manifest)."""
    try:
        views = json.loads((out / MANIFEST).read_text("utf-8"))["views"]
        return {MANIFEST, *(v["path"] for v in views.values())}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def export_views(
    con: duckdb.DuckDBPyConnection,
    snapshot: Path,
    out: Path,
    fmt: str,
    views: list[str],
    overwrite: bool = False,
) -> Manifest:
    """Write the views to `out` and its manifest; replaces a previous export with overwrite."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: expected parquet or csv")
    check_target(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        exported = {view: _copy(con, view, staging, fmt) for view in views}
        manifest = Manifest(
            format=fmt,
            snapshot=str(snapshot.resolve()),
            snapshot_modified_at=datetime.fromtimestamp(snapshot.stat().st_mtime, UTC).isoformat(
                timespec="seconds"
            ),
            exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            views=exported,
        )
        (staging / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        out.mkdir(exist_ok=True)
        # Remove what the previous export wrote (also views it had and this one has not) and
        # anything in the way; files of other origin in the folder are left alone.
        for name in _previous_entries(out) | {p.name for p in staging.iterdir()}:
            old = out / name
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            elif old.exists() or old.is_symlink():
                old.unlink()
        # The manifest goes last: when it is there, the export is complete.
        for entry in sorted(staging.iterdir(), key=lambda p: p.name == MANIFEST):
            entry.rename(out / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest
