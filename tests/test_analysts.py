"""Analysts read the published snapshot: at any time, read-only, with full-text search."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from helpers import sample_feeds, write_config
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer
from spacewatch.warehouse.connect import open_for_writing, writer_lock
from spacewatch.warehouse.snapshot import open_snapshot, publish_snapshot, snapshot_path

pytestmark = pytest.mark.usefixtures("prefect_harness")
SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))


def sw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SPACEWATCH, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture()
def ingested(tmp_path: Path, sample_server: LoopbackServer) -> Path:
    config = write_config(tmp_path, sample_feeds(sample_server.base_url))
    pipeline.run_pipeline(config)
    return config


def test_query_works_while_the_pipeline_holds_the_warehouse(ingested: Path) -> None:
    wh = ingested.parent / "wh.duckdb"
    assert snapshot_path(wh).exists()
    # A writer holds both the run lock and DuckDB's own lock, as during a run.
    with writer_lock(wh):
        con = open_for_writing(wh)
        try:
            # What an analyst opening the warehouse itself would hit:
            direct = subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect({str(wh)!r}, read_only=True)"], capture_output=True, text=True, timeout=60)
            assert direct.returncode != 0 and "lock" in direct.stderr.lower()
            result = sw("query", "SELECT count(*) AS n FROM v_articles", "--config", str(ingested), "--format", "json")
        finally:
            con.close()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"n": 20}


@pytest.mark.parametrize("statement", ["DELETE FROM articles", "CREATE TABLE x (a INT)", "ATTACH 'other.db'", "COPY articles TO 'x.csv'", "SELECT 1; DROP TABLE feeds"])
def test_writes_are_refused_with_a_clear_message(ingested: Path, statement: str) -> None:
    result = sw("query", statement, "--config", str(ingested))
    assert result.returncode == 1
    assert "spacewatch query is read-only" in result.stderr and "refused" in result.stderr
    assert sw("query", "SELECT count(*) FROM feeds", "--config", str(ingested), "--format", "csv").stdout.splitlines()[1] == "4"


def test_query_formats(ingested: Path, tmp_path: Path) -> None:
    csv_out = sw("query", "SELECT actor_id, count(*) AS n FROM v_actor_mentions GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 2", "--config", str(ingested), "--format", "csv")
    assert csv_out.returncode == 0 and csv_out.stdout.splitlines()[0] == "actor_id,n"
    parquet = tmp_path / "out.parquet"
    result = sw("query", "SELECT * FROM v_articles", "--config", str(ingested), "--format", "parquet", "--out", str(parquet))
    assert result.returncode == 0, result.stderr
    assert duckdb.sql(f"SELECT count(*) FROM '{parquet}'").fetchone() == (20,)
    assert sw("query", "SELECT 1", "--config", str(ingested), "--format", "parquet").returncode == 2


def test_search_ranks_and_filters(ingested: Path) -> None:
    result = sw("search", "lunar station", "--actor", "roscosmos", "--since", "2021-01-01", "--config", str(ingested), "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and all(r["score"] > 0 for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert any("Rogozin" in r["title"] for r in rows)
    unfiltered = [json.loads(line) for line in sw("search", "lunar station", "--config", str(ingested), "--format", "json").stdout.splitlines()]
    assert len(unfiltered) > len(rows)
    bruno = [json.loads(line) for line in sw("search", "stadium tour", "--relevant", "--config", str(ingested), "--format", "json").stdout.splitlines()]
    assert bruno == []


def test_search_theme_source_and_until_filters(ingested: Path) -> None:
    def search(*args: str) -> list[dict]:
        result = sw("search", "lunar station", *args, "--config", str(ingested), "--format", "json")
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    everything = search()
    themed = search("--theme", "moon_base_ilrs")
    assert themed and len(themed) < len(everything)
    assert all("moon_base_ilrs" in r["themes"] for r in themed)
    source = everything[0]["source"]
    from_source = search("--source", source[:6].lower())
    assert from_source and {r["source"] for r in from_source} <= {r["source"] for r in everything}
    assert any(r["source"] == source for r in from_source)
    until = sorted(r["date"] for r in everything)[len(everything) // 2]
    early = search("--until", until)
    assert early and all(r["date"] <= until for r in early)
    assert len(early) < len(everything)


def test_a_reader_keeps_its_snapshot_while_a_new_one_is_published(ingested: Path) -> None:
    wh = ingested.parent / "wh.duckdb"
    reader = open_snapshot(wh)
    try:
        before = reader.execute("SELECT count(*) FROM articles").fetchone()
        con = open_for_writing(wh)
        try:
            con.execute("DELETE FROM article_sources")  # a change the next snapshot shows
            publish_snapshot(con, wh)
        finally:
            con.close()
        assert reader.execute("SELECT count(*) FROM articles").fetchone() == before
        assert reader.execute("SELECT count(*) > 0 FROM article_sources").fetchone() == (True,)
    finally:
        reader.close()
    fresh = open_snapshot(wh)
    try:
        assert fresh.execute("SELECT count(*) FROM article_sources").fetchone() == (0,)
    finally:
        fresh.close()
    printed = sw("sql", "--config", str(ingested))
    assert printed.stdout.strip() == f"duckdb -readonly {snapshot_path(wh).resolve()}"
