"""Spike for issue 15, question 1: can today's migrations (warehouse/schema/*.sql) be applied
to a DuckLake, each in its own transaction, and recorded in a schema_migrations table there?

    .venv/bin/python bench/lake/spike_schema.py

DuckLake has no sequences, primary keys or unique constraints, so each migration is first
rewritten by a small, explicit set of rules (`lake_dialect`); the script prints, per migration,
the rules that fired, whether it applied, and the columns of each lake table afterwards;
then applies warehouse/views.sql unchanged and reads each view once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
import lakeutil

SCHEMA = Path(__file__).resolve().parents[2] / "warehouse" / "schema"

RULES = [
    ("drop CREATE SEQUENCE", re.compile(r"^\s*CREATE SEQUENCE[^;]*;\s*$", re.M | re.I), ""),
    ("drop DEFAULT nextval", re.compile(r"\s+DEFAULT nextval\('[a-z_]+'\)", re.I), ""),
    (
        "drop column PRIMARY KEY",
        re.compile(r"(\w)\s+PRIMARY KEY(?=\s*(,|\n|DEFAULT))", re.I),
        r"\1",
    ),
    ("drop column UNIQUE", re.compile(r"\s+UNIQUE(?=\s*,)", re.I), ""),
    (
        "drop table PRIMARY KEY/UNIQUE",
        re.compile(r",([ \t]*--[^\n]*)?\s*\n\s*(PRIMARY KEY|UNIQUE)\s*\([^)]*\)", re.I),
        r"\1",
    ),
]


def lake_dialect(sql: str) -> tuple[str, list[str]]:
    fired = []
    for label, pattern, repl in RULES:
        sql, n = pattern.subn(repl, sql)
        if n:
            fired.append(f"{label} x{n}")
    return sql, fired


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="lake-schema-"))
    con = lakeutil.connect()
    lakeutil.attach(con, f"sqlite:{work}/catalog.sqlite", f"{work}/data/")
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER NOT NULL, name VARCHAR NOT NULL, "
        "checksum VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL, lake_snapshot BIGINT)"
    )
    for path in sorted(SCHEMA.glob("*.sql")):
        version, name = int(path.name[:4]), path.stem[5:]
        original = path.read_text("utf-8")
        sql, fired = lake_dialect(original)
        con.execute("BEGIN")
        try:
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?, ?, NULL)",
                [
                    version,
                    name,
                    hashlib.sha256(original.encode()).hexdigest()[:16],
                    datetime.now(UTC),
                ],
            )
            con.execute("COMMIT")
            status = "applied"
        except Exception as exc:
            con.execute("ROLLBACK")
            status = "failed: " + " ".join(str(exc).split())[:300]
        snap = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('lake')").fetchone()[0]
        print(
            json.dumps(
                {"migration": path.name, "rules": fired, "status": status, "snapshot_after": snap}
            )
        )
        if status != "applied":
            break  # as warehouse/migrate.py: later migrations build on this one
    tables = con.execute(
        "SELECT table_name, count(*) FROM information_schema.columns "
        "WHERE table_catalog = 'lake' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    print(json.dumps({"lake_tables_columns": dict(tables)}))
    # the documented analysts' views, unchanged, over the lake tables: created, then each read
    try:
        con.execute("BEGIN")
        con.execute((SCHEMA.parent / "views.sql").read_text("utf-8"))
        con.execute("COMMIT")
        views = {}
        for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE database_name = 'lake' ORDER BY 1"
        ).fetchall():
            try:
                con.execute(f"SELECT * FROM {name} LIMIT 1").fetchall()
                views[name] = "reads"
            except Exception as exc:
                views[name] = "fails: " + " ".join(str(exc).split())[:160]
        print(json.dumps({"views_sql": "applied", "views": views}))
    except Exception as exc:
        con.execute("ROLLBACK")
        print(json.dumps({"views_sql": "failed: " + " ".join(str(exc).split())[:300]}))
    print(
        json.dumps(
            {
                "schema_migrations": con.execute(
                    "SELECT version, name FROM schema_migrations ORDER BY 1"
                ).fetchall()
            }
        )
    )


if __name__ == "__main__":
    main()
