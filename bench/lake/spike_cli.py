"""Spike for issue 15, question 5: the command `spacewatch sql --print` should print, run in
the DuckDB shell of the same version (the duckdb-cli package) against a lake with an embedded
SQLite catalog: LOAD the packaged extensions, ATTACH read-only, USE, read a view.

    .venv/bin/python bench/lake/spike_cli.py     # needs duckdb-cli==1.5.5 in the venv
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
import lakeutil


def main() -> None:
    d = tempfile.mkdtemp(prefix="lake-cli-")
    con = lakeutil.connect()
    lakeutil.attach(con, f"sqlite:{d}/warehouse.lake.sqlite", f"{d}/warehouse.lake/")
    con.execute(
        "CREATE TABLE articles AS SELECT range AS article_id, 'lunar stations ' || range AS title "
        "FROM range(50)"
    )
    con.execute("CREATE VIEW lake.v_articles AS SELECT * FROM lake.articles")
    con.close()
    ext = {
        name: lakeutil.extension_path(f"duckdb_extension_{package}", name)
        for package, name in (
            ("ducklake", "ducklake"),
            ("sqlite_scanner", "sqlite_scanner"),
            ("fts", "fts"),
        )
    }
    script = "\n".join(
        [
            *(f"LOAD '{path}';" for path in ext.values()),
            f"ATTACH 'ducklake:sqlite:{d}/warehouse.lake.sqlite' AS spacewatch (READ_ONLY);",
            "USE spacewatch;",
            "SELECT count(*) AS n, max(stem(title, 'english')) AS stemmed FROM v_articles;",
        ]
    )
    print(script)
    shell = Path(sys.executable).parent / "duckdb"
    out = subprocess.run([str(shell), "-c", script], capture_output=True, text=True, check=False)
    print(out.stdout or out.stderr)


if __name__ == "__main__":
    main()
