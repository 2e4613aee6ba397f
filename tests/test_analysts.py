"""Analysts read the published snapshot: at any time, read-only, with full-text search."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from helpers import ingest_sample, sample_feeds, write_config
from helpers import query as helpers_query
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer
from spacewatch.warehouse.connect import open_for_writing, writer_lock
from spacewatch.warehouse.snapshot import open_snapshot, publish_snapshot, snapshot_path

pytestmark = pytest.mark.usefixtures("prefect_harness")
SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))


def sw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SPACEWATCH, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture()
def fresh(tmp_path: Path, sample_server: LoopbackServer) -> Path:
    """The sample through the pipeline, for a test that changes the warehouse."""
    config = write_config(tmp_path, sample_feeds(sample_server.base_url))
    pipeline.run_pipeline(config)
    return config


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sample through the pipeline once for the module; tests here only read it."""
    yield ingest_sample(tmp_path_factory.mktemp("analysts"))


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


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM articles",
        "CREATE TABLE x (a INT)",
        "ATTACH '{dir}/other.db'",
        "COPY articles TO '{dir}/x.csv'",
        "SELECT 1; DROP TABLE feeds",
        "EXPLAIN ANALYZE COPY (SELECT * FROM articles) TO '{dir}/x.csv'",
        "EXPLAIN ANALYZE INSTALL httpfs",
        "EXPLAIN (FORMAT json) COPY (SELECT 1) TO '{dir}/x.csv'",
        "SELECT 1; COPY (SELECT 1) TO '{dir}/x.csv'",
        "SET threads = 1",
        "SELECT 1; SET enable_external_access = true; COPY (SELECT 1) TO '{dir}/x.csv'",
        "LOAD httpfs",
        "PRAGMA create_fts_index('articles', 'article_id', 'title', overwrite = 1)",
        "PRAGMA drop_fts_index('articles')",
    ],
)
def test_writes_are_refused_with_a_clear_message(ingested: Path, statement: str) -> None:
    folder = ingested.parent
    before = sorted(p.name for p in folder.iterdir())
    result = sw("query", statement.format(dir=folder), "--config", str(ingested))
    assert result.returncode == 1
    assert result.stderr.startswith("spacewatch: error: spacewatch query is read-only:")
    assert "refused" in result.stderr and result.stderr.count("\n") == 1
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written or attached
    assert sw("query", "SELECT count(*) FROM feeds", "--config", str(ingested), "--format", "csv").stdout.splitlines()[1] == "4"


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM read_csv('{url}/feeds/x.csv')",
        "SELECT * FROM read_text('{url}/page')",
        "SELECT * FROM read_text('{config}')",
        "SELECT * FROM read_csv('{config}')",
        "WITH x AS (SELECT * FROM read_parquet('{url}/p.parquet')) SELECT * FROM x",
    ],
)
def test_queries_cannot_read_files_or_reach_the_network(
    ingested: Path, sample_server: LoopbackServer, statement: str
) -> None:
    sample_server.requests.clear()
    sql = statement.format(url=sample_server.base_url, config=ingested)
    result = sw("query", sql, "--config", str(ingested))
    assert result.returncode == 1
    assert result.stderr.startswith("spacewatch: error: spacewatch query is read-only:")
    assert "disabled by configuration" in result.stderr
    assert result.stderr.count("\n") == 1  # one line, no traceback
    assert sample_server.requests == []  # the server never heard from DuckDB


def test_every_analyst_connection_is_locked_before_it_is_handed_out(ingested: Path, tmp_path: Path) -> None:
    """open_snapshot serves query, search, report, export and status: all locked alike."""
    con = open_snapshot(ingested.parent / "wh.duckdb")
    try:
        settings = dict(con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
            "'lock_configuration', 'autoload_known_extensions', 'autoinstall_known_extensions', "
            "'allow_community_extensions')"
        ).fetchall())
        assert settings == {
            "enable_external_access": "false",
            "lock_configuration": "true",
            "autoload_known_extensions": "false",
            "autoinstall_known_extensions": "false",
            "allow_community_extensions": "false",
        }
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'")
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            con.execute("SET enable_external_access = true")
        assert con.execute("SELECT count(*) FROM search_stories('lunar')").fetchone()[0] > 0
    finally:
        con.close()
    assert list(tmp_path.iterdir()) == []


def test_query_errors_keep_duckdbs_hints(ingested: Path) -> None:
    table = sw("query", "SELECT * FROM v_actor_trend", "--config", str(ingested))
    assert table.returncode == 1
    assert table.stderr.splitlines() == [
        "spacewatch: error: query failed: Catalog Error: Table with name v_actor_trend does not exist!",
        '  Did you mean "v_actor_trends"?',
    ]
    column = sw("query", "SELECT aktor_id FROM v_actor_trends", "--config", str(ingested))
    assert column.returncode == 1
    assert "Candidate bindings:" in column.stderr and '"actor_id"' in column.stderr


def test_query_csv_is_written_as_export_writes_it(ingested: Path, tmp_path: Path) -> None:
    """One CSV convention: lists as [a, b], booleans true/false, the same quoting."""
    out = tmp_path / "export"
    exported = sw("export", "--format", "csv", "--views", "v_recurring,v_feed_health", "--out", str(out), "--config", str(ingested))
    assert exported.returncode == 0, exported.stderr
    for view in ("v_recurring", "v_feed_health"):
        queried = sw("query", f"SELECT * FROM {view}", "--format", "csv", "--config", str(ingested))
        assert queried.returncode == 0, queried.stderr
        exported_lines = (out / f"{view}.csv").read_text("utf-8").splitlines()
        lines = queried.stdout.splitlines()  # views have no order: same header, same rows
        assert lines[0] == exported_lines[0] and sorted(lines) == sorted(exported_lines)
        assert len(lines) > 2
        to_file = tmp_path / f"{view}.csv"
        assert sw("query", f"SELECT * FROM {view}", "--format", "csv", "--out", str(to_file), "--config", str(ingested)).returncode == 0
        assert sorted(to_file.read_text("utf-8").splitlines()) == sorted(lines)
    lists = sw("query", "SELECT ['a', 'b'] AS l, true AS t, false AS f", "--format", "csv", "--config", str(ingested))
    assert lists.stdout == 'l,t,f\n"[a, b]",true,false\n'


def test_query_formats(ingested: Path, tmp_path: Path) -> None:
    csv_out = sw("query", "SELECT actor_id, count(*) AS n FROM v_actor_mentions GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 2", "--config", str(ingested), "--format", "csv")
    assert csv_out.returncode == 0 and csv_out.stdout.splitlines()[0] == "actor_id,n"
    parquet = tmp_path / "out.parquet"
    result = sw("query", "SELECT * FROM v_articles", "--config", str(ingested), "--format", "parquet", "--out", str(parquet))
    assert result.returncode == 0, result.stderr
    assert duckdb.sql(f"SELECT count(*) FROM '{parquet}'").fetchone() == (20,)
    assert sw("query", "SELECT 1", "--config", str(ingested), "--format", "parquet").returncode == 2
    # The --out file is the only one DuckDB may write; the query itself still may not.
    other = tmp_path / "other.csv"
    sneaky = sw("query", f"SELECT * FROM v_articles; EXPLAIN ANALYZE COPY (SELECT 1) TO '{other}'", "--config", str(ingested), "--format", "parquet", "--out", str(parquet))
    assert sneaky.returncode == 1 and not other.exists()


def search(config: Path, *args: str) -> list[dict]:
    result = sw("search", *args, "--config", str(config), "--format", "json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def article_texts(config: Path) -> dict[str, str]:
    """Title and text of every article, lower-cased, by URL."""
    rows = helpers_query(config.parent / "wh.duckdb", "SELECT url, lower(coalesce(title, '') || ' ' || coalesce(text, '')) FROM v_articles")
    return dict(rows)


def test_search_ranks_and_filters(ingested: Path) -> None:
    rows = search(ingested, "lunar station", "--actor", "roscosmos", "--since", "2021-01-01")
    assert rows and all(r["score"] > 0 for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert any("Rogozin" in r["title"] for r in rows)
    unfiltered = search(ingested, "lunar station")
    assert len(unfiltered) > len(rows)
    # --relevant is the default, as in `spacewatch report`; --all widens it.
    assert search(ingested, "stadium tour") == []
    assert [r["title"] for r in search(ingested, "stadium tour", "--all")] == ["Bruno Mars adds stadium dates as world tour demand soars"]


def test_search_words_are_anded_phrases_ored_and_excluded(ingested: Path) -> None:
    texts = article_texts(ingested)
    anded = search(ingested, "Russia China lunar station", "--all")
    assert anded
    for row in anded:
        assert all(word in texts[row["url"]] for word in ("russia", "china", "lunar", "station"))
    # Every article holding all four words is found (one row per story).
    holding = {u for u, t in texts.items() if all(w in t for w in ("russia", "china", "lunar", "station"))}
    assert {r["url"] for r in anded} <= holding and len(anded) < len(holding) + 1
    loose = search(ingested, "lunar station", "--all")
    phrase = search(ingested, '"lunar station"', "--all")
    assert phrase and len(phrase) < len(loose)
    assert all(re.search(r"lunar\W+station", texts[r["url"]]) for r in phrase)
    assert search(ingested, '"station lunar"', "--all") == []
    either = search(ingested, "stadium OR gateway", "--all")
    titles = " ".join(r["title"] for r in either)
    assert "Bruno Mars" in titles and "Gateway" in titles
    assert search(ingested, "stadium gateway", "--all") == []
    without = search(ingested, "lunar -china", "--all")
    assert without and all("china" not in texts[r["url"]] for r in without)
    assert len(without) < len(search(ingested, "lunar", "--all"))
    assert all('gateway' not in texts[r["url"]] for r in search(ingested, 'lunar -"lunar gateway" -gateway', "--all"))


def test_search_gives_one_row_per_story_with_its_outlets(ingested: Path) -> None:
    rows = search(ingested, "International Lunar Research Station roadmap", "--all")
    story = next(r for r in rows if r["title"].startswith("Russia and China unveil roadmap"))
    assert story["articles"] == 3
    assert story["outlets"] == ["Frontier Wire", "Orbital Policy Desk", "The Lunar Ledger"]
    assert len({r["story_id"] for r in rows}) == len(rows)


def test_search_by_filters_alone(ingested: Path) -> None:
    rows = search(ingested, "--actor", "roscosmos", "--all")
    expected = helpers_query(ingested.parent / "wh.duckdb", "SELECT count(DISTINCT story_id) FROM v_actor_mentions WHERE actor_id = 'roscosmos'")
    assert len(rows) == expected[0][0] > 0
    assert all(r["score"] is None for r in rows)
    assert [r["date"] for r in rows] == sorted((r["date"] for r in rows), reverse=True)
    everything = search(ingested, "--all", "--limit", "100")
    stories = helpers_query(ingested.parent / "wh.duckdb", "SELECT count(DISTINCT story_id) FROM articles")
    assert len(everything) == stories[0][0]


@pytest.mark.parametrize(("option", "value", "valid"), [("--actor", "roskosmos", "roscosmos"), ("--theme", "moon_base", "moon_base_ilrs")])
def test_search_unknown_ids_fail_and_list_the_valid_ones(ingested: Path, option: str, value: str, valid: str) -> None:
    result = sw("search", "lunar", option, value, "--config", str(ingested))
    assert result.returncode == 2
    assert result.stderr.startswith(f"spacewatch: error: {option}: unknown id(s) {value}; valid: ")
    assert valid in result.stderr.split("valid: ")[1].split(", ")


def test_search_theme_source_and_until_filters(ingested: Path) -> None:
    everything = search(ingested, "lunar", "--all")
    themed = search(ingested, "lunar", "--all", "--theme", "moon_base_ilrs")
    assert themed and len(themed) < len(everything)
    assert all("moon_base_ilrs" in r["themes"] for r in themed)
    # The source filter keeps exactly the stories one outlet carried.
    ledger = search(ingested, "lunar", "--all", "--source", "lunar ledger")
    anywhere = search(ingested, "lunar", "--all")
    assert ledger and all("The Lunar Ledger" in r["outlets"] for r in ledger)
    assert {r["story_id"] for r in ledger} == {r["story_id"] for r in anywhere if "The Lunar Ledger" in r["outlets"]}
    assert len(ledger) < len(anywhere)
    until = sorted(r["date"] for r in everything)[len(everything) // 2]
    early = search(ingested, "lunar", "--all", "--until", until)
    assert early and all(r["date"] <= until for r in early)
    assert len(early) < len(everything)


def test_search_command_and_sql_macro_agree(ingested: Path) -> None:
    """search_stories in the snapshot is what `spacewatch search` runs, arguments included."""
    wh = ingested.parent / "wh.duckdb"
    con = open_snapshot(wh)
    try:
        for query, args, named in [
            ('"lunar station" OR gateway -orion', [], ""),
            ("lunar", ["--actor", "roscosmos"], ", actors := ['roscosmos']"),
            ("", ["--since", "2024-01-01"], ", since := DATE '2024-01-01'"),
            ("space", ["--all", "--source", "wire"], ", relevant_only := false, source := 'wire'"),
        ]:
            rows = con.execute(f"SELECT story_id, title FROM search_stories(?{named}) LIMIT 20", [query]).fetchall()
            assert rows, query
            assert [(r["story_id"], r["title"]) for r in search(ingested, query, *args)] == rows
    finally:
        con.close()


def test_a_reader_keeps_its_snapshot_while_a_new_one_is_published(fresh: Path) -> None:
    wh = fresh.parent / "wh.duckdb"
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


def test_sql_opens_the_snapshot_in_the_bundled_duckdb_shell(ingested: Path) -> None:
    wh = ingested.parent / "wh.duckdb"
    shell = subprocess.run(
        [SPACEWATCH, "sql", "--config", str(ingested)],
        input="SELECT count(*) AS n FROM v_articles;\n"
        "SELECT count(*) AS lunar FROM search_stories('lunar', relevant_only := false);\n"
        "CREATE TABLE t (a INT);\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "│    20 │" in shell.stdout, shell.stdout + shell.stderr
    assert "lunar" in shell.stdout  # the macro works: full-text search is loaded
    assert "read-only" in shell.stderr.lower()  # and the file is opened read-only
    printed = sw("sql", "--print", "--config", str(ingested))
    assert printed.returncode == 0
    assert printed.stdout.rstrip().endswith(str(snapshot_path(wh).resolve()))
    assert "-readonly" in printed.stdout.split()
