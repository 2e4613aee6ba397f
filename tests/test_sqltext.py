"""Paths and names reach SQL through one helper: a folder called o'brien works everywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from test_cli import spacewatch

from helpers import write_config
from spacewatch.warehouse.connect import open_for_writing
from spacewatch.warehouse.snapshot import open_snapshot, publish_snapshot, snapshot_path
from spacewatch.warehouse.sqltext import sql_identifier, sql_string


def test_quoting_round_trips_through_duckdb() -> None:
    con = duckdb.connect()
    for text in ["plain", "o'brien", "''", "a\\b", 'say "hi"', "x'); DROP TABLE t; --"]:
        assert con.execute(f"SELECT {sql_string(text)}").fetchone() == (text,)
        con.execute(f"CREATE TABLE {sql_identifier(text)} AS SELECT 1 AS a")
        assert con.execute(f"SELECT a FROM {sql_identifier(text)}").fetchone() == (1,)
    with pytest.raises(ValueError, match="NUL"):
        sql_string("a\x00b")


def test_a_warehouse_in_a_folder_with_quotes_publishes_and_exports(tmp_path: Path) -> None:
    folder = tmp_path / "o'brien \"desk\""
    folder.mkdir()
    config = write_config(folder, [])
    wh = folder / "wh.duckdb"
    con = open_for_writing(wh)
    try:
        publish_snapshot(con, wh)  # ATTACH of the snapshot's temporary file
    finally:
        con.close()
    reader = open_snapshot(wh)  # LOAD of the extension, allowed paths
    reader.close()
    out = folder / "it's exported"
    result = spacewatch("export", "--format", "csv", "--out", str(out), "--config", str(config))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["snapshot"] == str(snapshot_path(wh).resolve())
    assert (out / "v_feed_health.csv").read_text().startswith("feed_id,")


def test_no_path_is_put_into_sql_by_hand() -> None:
    """ATTACH, LOAD and COPY statements take their path from sql_string, nowhere else."""
    root = Path(__file__).resolve().parents[1]
    offenders = []
    folders = ("warehouse", "flows", "alerts", "cli", "spacewatch", "bench")
    for path in [p for folder in folders for p in root.glob(f"{folder}/*.py")]:
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if re.search(r"""f["'].*\b(ATTACH|LOAD|COPY|TO)\s+'\{""", line):
                offenders.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert offenders == []
