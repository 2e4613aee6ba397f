"""spacewatch export: the analysts' views from the snapshot to Parquet or CSV, with a manifest."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from helpers import ingest_sample, write_config
from spacewatch.warehouse.snapshot import snapshot_path

pytestmark = pytest.mark.usefixtures("prefect_harness")
SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))
PARTITIONED = {"v_articles", "v_actor_mentions", "v_theme_mentions", "v_alert_log"}


def sw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SPACEWATCH, *args], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bundled sample through the real pipeline, once for the module."""
    yield ingest_sample(tmp_path_factory.mktemp("export"))


def snapshot_counts(config: Path) -> dict[str, int]:
    con = duckdb.connect(str(snapshot_path(config.parent / "wh.duckdb")), read_only=True)
    try:
        views = [
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' AND view_name LIKE 'v\\_%' ESCAPE '\\'"
            ).fetchall()
        ]
        return {v: con.execute(f"SELECT count(*) FROM {v}").fetchone()[0] for v in views}
    finally:
        con.close()


def months_of(config: Path, view: str, column: str) -> set[str]:
    con = duckdb.connect(str(snapshot_path(config.parent / "wh.duckdb")), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return {
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT strftime({column}, '%Y-%m') FROM {view}"
            ).fetchall()
        }
    finally:
        con.close()


def test_parquet_export_of_every_view_reads_back_with_the_same_rows(
    config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "exp"
    result = sw("export", "--format", "parquet", "--out", str(out), "--config", str(config))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    expected = snapshot_counts(config)
    assert set(manifest["views"]) == set(expected) and "v_alert_log" in expected
    assert manifest["format"] == "parquet" and manifest["snapshot"].endswith("wh.snapshot.duckdb")
    assert expected["v_articles"] == 20
    for view, count in expected.items():
        entry = manifest["views"][view]
        assert entry["rows"] == count, view
        if view in PARTITIONED:
            assert entry["path"] == view and (out / view).is_dir()
            assert entry["partitioned_by"].startswith("month")
            if count == 0:
                # One empty file keeps the columns; there is no month to partition by.
                assert entry["files"] == [f"{view}/data_0.parquet"] and entry["partitions"] == 0
                continue
            back = duckdb.sql(
                f"SELECT count(*) FROM read_parquet('{out / view}/*/*.parquet', hive_partitioning = true)"
            ).fetchone()[0]
        else:
            assert entry["path"] == f"{view}.parquet" and entry["partitions"] == 0
            back = duckdb.sql(f"SELECT count(*) FROM '{out / entry['path']}'").fetchone()[0]
        assert back == count, view
        assert all((out / f).is_file() for f in entry["files"])
    # Hive partitions by month of event_at: one folder per month that has articles.
    folders = {p.name for p in (out / "v_articles").iterdir()}
    assert folders == {f"month={m}" for m in months_of(config, "v_articles", "event_at")}
    assert len(folders) == manifest["views"]["v_articles"]["partitions"] > 5
    assert "month=2021-06" in folders  # the syndicated ILRS story
    june = duckdb.sql(
        f"SELECT count(*), min(month) FROM read_parquet('{out}/v_articles/*/*.parquet', hive_partitioning = true) WHERE month = '2021-06'"
    ).fetchone()
    assert june == (3, "2021-06")
    # Columns survive, lists included.
    cols = duckdb.sql(
        f"SELECT * FROM read_parquet('{out}/v_articles/*/*.parquet', hive_partitioning = true) LIMIT 1"
    ).columns
    assert {"article_id", "title", "themes", "actors", "event_at", "month"} <= set(cols)
    assert "v_articles: 20 rows in" in result.stdout
    assert not list(tmp_path.glob(".exp.partial-*"))  # the staging folder is gone


def test_csv_export_of_chosen_views(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "analyst's csv"  # a quote in the path must not break the SQL
    result = sw(
        "export",
        "--format",
        "csv",
        "--out",
        str(out),
        "--views",
        "v_articles, v_feed_health",
        "--config",
        str(config),
    )
    assert result.returncode == 0, result.stderr
    sql_out = str(out).replace("'", "''")
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["views"]) == ["v_articles", "v_feed_health"]
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "v_articles",
        "v_feed_health.csv",
    ]
    health = (out / "v_feed_health.csv").read_text().splitlines()
    assert health[0].startswith("feed_id,name,url") and len(health) == 1 + 4
    back = duckdb.sql(
        f"SELECT count(*), count(DISTINCT month) FROM read_csv('{sql_out}/v_articles/*/*.csv', hive_partitioning = true)"
    ).fetchone()
    assert back == (20, manifest["views"]["v_articles"]["partitions"])
    assert all(
        f.endswith(".csv") and "/month=" in f for f in manifest["views"]["v_articles"]["files"]
    )


def test_non_empty_folder_needs_overwrite(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    assert (
        sw(
            "export",
            "--out",
            str(out),
            "--views",
            "v_articles,v_recurring",
            "--config",
            str(config),
        ).returncode
        == 0
    )
    (out / "notes.txt").write_text("mine")
    refused = sw("export", "--out", str(out), "--views", "v_feed_health", "--config", str(config))
    assert refused.returncode == 1
    assert refused.stderr.strip().count("\n") == 0  # one line, no traceback
    assert (
        "not empty" in refused.stderr
        and "--overwrite" in refused.stderr
        and str(out) in refused.stderr
    )
    assert json.loads((out / "manifest.json").read_text())["views"].keys() == {
        "v_articles",
        "v_recurring",
    }

    replaced = sw(
        "export",
        "--out",
        str(out),
        "--views",
        "v_feed_health",
        "--overwrite",
        "--config",
        str(config),
    )
    assert replaced.returncode == 0, replaced.stderr
    # The previous export's files are gone, the new one is complete, foreign files are kept.
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "notes.txt",
        "v_feed_health.parquet",
    ]
    assert list(json.loads((out / "manifest.json").read_text())["views"]) == ["v_feed_health"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--views", "v_articles,v_nope"],
            2,
            "--views: unknown view(s) v_nope; valid: v_actor_mentions, v_actor_trends",
        ),
        (["--format", "xlsx"], 2, "--format 'xlsx': expected parquet or csv"),
    ],
)
def test_bad_options_fail_with_one_line(
    config: Path, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    out = tmp_path / "bad"
    result = sw("export", "--out", str(out), *args, "--config", str(config))
    assert result.returncode == code
    assert message in result.stderr and result.stderr.strip().count("\n") == 0
    assert not out.exists()


def test_no_snapshot_yet(tmp_path: Path) -> None:
    config = write_config(tmp_path, [("https://example.org/feed", None)])
    result = sw("export", "--out", str(tmp_path / "x"), "--config", str(config))
    assert result.returncode == 1 and "no analysts' snapshot yet" in result.stderr


@pytest.mark.parametrize("entry", ["../victim", "/tmp/victim-abs", "v_articles/../../victim", "notes.txt", ".."])
def test_overwrite_refuses_manifest_entries_that_are_not_its_own(
    config: Path, tmp_path: Path, entry: str
) -> None:
    out = tmp_path / "exports" / "here"
    assert sw("export", "--out", str(out), "--views", "v_feed_health", "--config", str(config)).returncode == 0
    victim = tmp_path / "exports" / "victim"
    victim.write_text("keep me")
    (out / "notes.txt").write_text("mine")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["views"]["v_feed_health"]["path"] = entry if not entry.startswith("/") else str(victim)
    (out / "manifest.json").write_text(json.dumps(manifest))
    before = sorted(p.name for p in out.iterdir())
    result = sw("export", "--out", str(out), "--views", "v_recurring", "--overwrite", "--config", str(config))
    assert result.returncode == 1
    assert "manifest.json: entry" in result.stderr and "nothing was deleted" in result.stderr
    assert result.stderr.count("\n") == 1
    assert victim.read_text() == "keep me" and (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == before
    assert not [p for p in out.parent.iterdir() if ".partial-" in p.name]


def test_a_copy_failing_partway_leaves_the_previous_export_untouched(
    config: Path, tmp_path: Path
) -> None:
    """A view that fails after others were written: nothing of the new export is kept."""
    folder = tmp_path / "wh"
    folder.mkdir()
    cfg = write_config(folder, [])
    shutil.copy(snapshot_path(config.parent / "wh.duckdb"), snapshot_path(folder / "wh.duckdb"))
    out = tmp_path / "out"
    assert sw("export", "--out", str(out), "--views", "v_feed_health,v_articles", "--config", str(cfg)).returncode == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    con = duckdb.connect(str(snapshot_path(folder / "wh.duckdb")))
    con.execute("CREATE VIEW v_zz_broken AS SELECT error('disk on fire') AS x")  # exported last
    con.close()
    result = sw("export", "--out", str(out), "--overwrite", "--config", str(cfg))
    assert result.returncode == 1
    assert "disk on fire" in result.stderr and result.stderr.count("\n") == 1
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "wh"]  # no staging left


def test_empty_views_keep_their_columns_and_counts_stay_integers(
    config: Path, tmp_path: Path
) -> None:
    from spacewatch.warehouse.connect import open_for_writing
    from spacewatch.warehouse.snapshot import publish_snapshot

    folder = tmp_path / "empty"
    folder.mkdir()
    cfg = write_config(folder, [])
    con = open_for_writing(folder / "wh.duckdb")
    publish_snapshot(con, folder / "wh.duckdb")
    con.close()
    for fmt in ("parquet", "csv"):
        out = tmp_path / f"out-{fmt}"
        result = sw("export", "--format", fmt, "--out", str(out), "--config", str(cfg))
        assert result.returncode == 0, result.stderr
        for view in PARTITIONED:
            columns = [
                r[0]
                for r in duckdb.sql(
                    f"DESCRIBE SELECT * FROM read_{fmt}('{out / view}/**/*.{fmt}', hive_partitioning = true)"
                ).fetchall()
            ]
            assert "article_id" in columns or "alert_id" in columns, (fmt, view, columns)
            assert columns[-1] == "month"
    # Counts are integers in every view, so Parquet keeps them integers (a HUGEINT sum would
    # be written as a double).
    out = tmp_path / "typed"
    assert sw("export", "--out", str(out), "--views", "v_actor_trends,v_actor_trends_relevant,v_theme_trends,v_recurring", "--config", str(config)).returncode == 0
    types = dict(duckdb.sql(f"SELECT name, type FROM parquet_schema('{out}/v_actor_trends.parquet')").fetchall())
    assert types["mentions"] == types["articles"] == types["stories"] == "INT64"
    con = duckdb.connect(str(snapshot_path(config.parent / "wh.duckdb")), read_only=True)
    try:
        wide = con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE table_name LIKE 'v\\_%' ESCAPE '\\' AND (data_type LIKE 'HUGEINT%' OR data_type LIKE 'DECIMAL%')"
        ).fetchall()
    finally:
        con.close()
    assert wide == []
