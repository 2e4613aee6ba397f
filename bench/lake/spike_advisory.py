"""Spike for issue 15: why did a PostgreSQL advisory lock taken through postgres_scanner's
`postgres_execute` not serialise two writers (spike_writers.py, scenario "advisory")? Takes the
lock on one connection and asks pg_locks from another whether it is held.

    .venv/bin/python bench/lake/spike_advisory.py
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lakeutil


def held(observer) -> int:
    return observer.execute(
        "SELECT * FROM postgres_query('pg', 'SELECT count(*) FROM pg_locks "
        "WHERE locktype = ''advisory'' AND granted')"
    ).fetchone()[0]


def main() -> None:
    with lakeutil.postgres_cluster() as pg:
        locker, observer = lakeutil.connect(), lakeutil.connect()
        locker.execute(f"ATTACH '{pg}' AS pg (TYPE postgres)")
        observer.execute(f"ATTACH '{pg}' AS pg (TYPE postgres)")
        result = {"before": held(observer)}
        locker.execute("CALL postgres_execute('pg', 'SELECT pg_advisory_lock(15)')")
        result["after_autocommit_call"] = held(observer)
        locker.execute("BEGIN")
        locker.execute("CALL postgres_execute('pg', 'SELECT pg_advisory_lock(16)')")
        result["inside_open_duckdb_transaction"] = held(observer)
        locker.execute("COMMIT")
        result["after_that_commit"] = held(observer)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
