"""Spike for issue 15, question 5: a run id recorded on the commit that finishes the run, found
again for `query --as-of RUN_ID`; a macro and a view created in the lake, used by a plain
read-only attach (no DATA_PATH: the catalog knows it).

    .venv/bin/python bench/lake/spike_asof.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import lakeutil


def main() -> None:
    d = tempfile.mkdtemp(prefix="lake-asof-")
    catalog = f"sqlite:{d}/c.sqlite"
    con = lakeutil.connect()
    lakeutil.attach(con, catalog, f"{d}/data/")
    con.execute("CREATE TABLE runs (run_id BIGINT, status VARCHAR)")
    con.execute("CREATE MACRO lake.plus1(x) AS x + 1")
    con.execute("CREATE VIEW lake.v_runs AS SELECT run_id FROM lake.runs WHERE status = 'finished'")
    for run_id in (41, 42, 43):
        con.execute("BEGIN")
        con.execute("INSERT INTO runs VALUES (?, 'finished')", [run_id])
        con.execute(
            "CALL ducklake_set_commit_message('lake', 'spacewatch', ?, extra_info => ?)",
            [f"run {run_id}", json.dumps({"run_id": run_id})],
        )
        con.execute("COMMIT")
    snapshot = con.execute(
        "SELECT max(snapshot_id) FROM ducklake_snapshots('lake') "
        "WHERE json_extract(commit_extra_info, '$.run_id')::BIGINT = 42"
    ).fetchone()[0]
    con.close()
    reader = lakeutil.connect()
    lakeutil.attach(
        reader, catalog, None, alias="spacewatch", options=f"READ_ONLY, SNAPSHOT_VERSION {snapshot}"
    )
    print(
        json.dumps(
            {
                "snapshot_of_run_42": snapshot,
                "runs_as_of_42": reader.execute("SELECT max(run_id) FROM v_runs").fetchone()[0],
                "macro_from_plain_reader": reader.execute("SELECT plus1(1)").fetchone()[0],
                "commit_messages": reader.execute(
                    "SELECT snapshot_id, author, commit_message FROM "
                    "ducklake_snapshots('spacewatch') WHERE author IS NOT NULL ORDER BY 1"
                ).fetchall(),
            }
        )
    )


if __name__ == "__main__":
    main()
