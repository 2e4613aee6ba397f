"""Spike for issue 15: can one DuckDB transaction write both the lake and a plain table in the
catalog's own PostgreSQL database (a claim table with a primary key)?

    .venv/bin/python bench/lake/spike_crossdb.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import lakeutil


def main() -> None:
    data = tempfile.mkdtemp(prefix="lake-cross-") + "/"
    with lakeutil.postgres_cluster() as pg:
        con = lakeutil.connect()
        lakeutil.attach(con, f"postgres:{pg}", data)
        con.execute("CREATE TABLE articles (canonical_url VARCHAR)")
        con.execute(f"ATTACH '{pg}' AS pgc (TYPE postgres)")
        con.execute("CALL postgres_execute('pgc', 'CREATE TABLE claims (url text PRIMARY KEY)')")
        con.execute("BEGIN")
        con.execute("INSERT INTO lake.articles VALUES ('https://example.org/1')")
        try:
            con.execute("INSERT INTO pgc.claims VALUES ('https://example.org/1')")
            con.execute("COMMIT")
            result = "committed both"
        except Exception as exc:
            result = "refused: " + " ".join(str(exc).split())[:240]
            con.execute("ROLLBACK")
        print(json.dumps({"lake_and_postgres_in_one_transaction": result}))


if __name__ == "__main__":
    main()
