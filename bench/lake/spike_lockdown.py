"""Spike for issue 15: does the readers' lockdown (warehouse/snapshot.py's LOCKDOWN: external
access off, configuration locked) still let a connection read an attached DuckLake, while
refusing other files?

    .venv/bin/python bench/lake/spike_lockdown.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import lakeutil

LOCKDOWN = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)


def attempt(con, sql: str) -> str:
    try:
        return str(con.execute(sql).fetchall())
    except Exception as exc:
        return "refused: " + " ".join(str(exc).split())[:140]


def main() -> None:
    d = tempfile.mkdtemp(prefix="lake-lock-")
    con = lakeutil.connect()
    lakeutil.attach(con, f"sqlite:{d}/c.sqlite", f"{d}/data/")
    con.execute("CREATE TABLE t AS SELECT range AS a FROM range(100000)")  # a Parquet file
    con.execute("INSERT INTO t VALUES (1)")  # an inlined row
    con.close()
    reader = lakeutil.connect()
    lakeutil.attach(reader, f"sqlite:{d}/c.sqlite", None, options="READ_ONLY")
    for sql in LOCKDOWN:
        reader.execute(sql)
    print(
        json.dumps(
            {
                "lake_count_after_lockdown": attempt(reader, "SELECT count(*) FROM t"),
                "read_csv_etc_passwd": attempt(reader, "SELECT * FROM read_csv('/etc/passwd')"),
                "insert_into_lake": attempt(reader, "INSERT INTO t VALUES (2)"),
                "attach_other": attempt(reader, f"ATTACH '{d}/x.duckdb' AS x"),
                "set_external_access_on": attempt(reader, "SET enable_external_access = true"),
            }
        )
    )


if __name__ == "__main__":
    main()
