"""Issue 15 on a PostgreSQL catalog: the lakes bench_lake.py left behind (SQLite catalog) are
copied into lakes with a PostgreSQL 15 catalog (throw-away cluster, loopback), then timed:
copy, run commits interleaved between an empty lake and the large one, BM25 search, catalog
size, and a pg_dump / pg_restore of the catalog with row counts compared.

    .venv/bin/python bench/lake/bench_pg.py [--size 1000000] [--repeat 10] [--inlining 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
import bench_lake
import lakeutil


def dsn(base: str, name: str) -> str:
    return base.replace("dbname=lake_big", f"dbname={name}")


def pg_lake(base: str, name: str, data: Path, inlining: int):
    con = lakeutil.connect()
    lakeutil.attach(
        con,
        f"postgres:{dsn(base, name)}",
        f"{data}/",
        options=f"DATA_INLINING_ROW_LIMIT {inlining}",
    )
    bench_lake.stopwords(con)
    return con


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1000000")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--inlining", type=int, default=1000)
    parser.add_argument("--root", type=Path, default=Path("/tmp/spacewatch-bench-lake"))
    args = parser.parse_args()
    src_dir = args.root / args.size
    work = Path(tempfile.mkdtemp(prefix="lake-pg-bench-"))
    result: dict = {"size": args.size}
    with lakeutil.postgres_cluster(("lake_big", "lake_empty", "lake_restored")) as base:
        big = pg_lake(base, "lake_big", work / "big", args.inlining)
        big.execute(f"ATTACH 'ducklake:sqlite:{src_dir}/lake/catalog.sqlite' AS src (READ_ONLY)")
        t0 = time.perf_counter()
        big.execute("BEGIN")
        for name, cols in bench_lake.TABLES.items():
            big.execute(f"CREATE TABLE lake.{name} ({cols})")
            order = " ORDER BY term, article_id" if name == "postings" else ""
            big.execute(f"INSERT INTO lake.{name} SELECT * FROM src.{name}{order}")
        big.execute("COMMIT")
        result["copy_into_pg_catalog_s"] = round(time.perf_counter() - t0, 1)
        result["rows"] = {
            n: big.execute(f"SELECT count(*) FROM lake.{n}").fetchone()[0]
            for n in ("articles", "postings", "feeds")
        }
        big.execute("DETACH src")
        empty = pg_lake(base, "lake_empty", work / "empty", args.inlining)
        for name, cols in bench_lake.TABLES.items():
            empty.execute(f"CREATE TABLE lake.{name} ({cols})")
        empty.execute(
            "INSERT INTO lake.feeds SELECT i, 'https://feed.example/' || i, "
            "'https://feed.example/' || i, 'feed ' || i, now(), 'ok', 0, now() FROM range(80) t(i)"
        )
        empty.execute("INSERT INTO lake.writer_token VALUES (0)")
        empty.execute("INSERT INTO lake.runs VALUES (1, now(), now(), 'finished', 0, NULL)")
        times = {"0": {"empty": [], "new20": []}, args.size: {"empty": [], "new20": []}}
        for kind, new in (("empty", 0), ("new20", 20)):
            for _ in range(args.repeat):
                for label, con in (("0", empty), (args.size, big)):
                    run_id = con.execute("SELECT max(run_id) FROM lake.runs").fetchone()[0] + 1
                    times[label][kind].append(bench_lake.one_commit(con, run_id, new))
        result["commits"] = {
            label: {
                "empty_run_s_median": round(statistics.median(t["empty"]), 3),
                "empty_run_s_max": round(max(t["empty"]), 3),
                "run_20_new_s_median": round(statistics.median(t["new20"]), 3),
                "run_20_new_s_max": round(max(t["new20"]), 3),
            }
            for label, t in times.items()
        }
        search = {}
        for q in bench_lake.QUERIES:
            samples = []
            for _ in range(5):
                t0 = time.perf_counter()
                big.execute(bench_lake.BM25, {"q": q}).fetchall()
                samples.append(time.perf_counter() - t0)
            search[q] = round(statistics.median(samples), 3)
        result["bm25_query_s"] = search
        probes = {
            "postings_files": "SELECT count(*) FROM ducklake_list_files('lake', 'postings')",
            "count_term_lunar": "SELECT count(*) FROM lake.postings WHERE term = 'lunar'",
            "count_doc_len": "SELECT count(*), avg(len) FROM lake.doc_len",
        }
        for label, sql in probes.items():
            t0 = time.perf_counter()
            value = big.execute(sql).fetchone()[0]
            result[label] = {"value": value, "s": round(time.perf_counter() - t0, 3)}
        big.execute(f"ATTACH '{dsn(base, 'lake_big')}' AS pgc (TYPE postgres, READ_ONLY)")
        result["catalog_db_mb"] = round(
            big.execute(
                "SELECT * FROM postgres_query('pgc', 'SELECT pg_database_size(''lake_big'')')"
            ).fetchone()[0]
            / 1e6,
            1,
        )
        counts = {
            n: big.execute(f"SELECT count(*) FROM lake.{n}").fetchone()[0]
            for n in bench_lake.TABLES
        }
        big.close()
        port = base.split("port=")[1].split()[0]
        dump = work / "catalog.dump"
        os.chmod(work, 0o777)
        as_pg = ["runuser", "-u", "postgres", "--"]
        t0 = time.perf_counter()
        subprocess.run(
            [
                *as_pg,
                str(lakeutil.PG_BIN / "pg_dump"),
                "-h",
                "127.0.0.1",
                "-p",
                port,
                "-Fc",
                "-f",
                str(dump),
                "lake_big",
            ],
            check=True,
        )
        result["pg_dump_s"] = round(time.perf_counter() - t0, 2)
        result["pg_dump_mb"] = round(dump.stat().st_size / 1e6, 1)
        t0 = time.perf_counter()
        subprocess.run(
            [
                *as_pg,
                str(lakeutil.PG_BIN / "pg_restore"),
                "-h",
                "127.0.0.1",
                "-p",
                port,
                "-d",
                "lake_restored",
                str(dump),
            ],
            check=True,
        )
        result["pg_restore_s"] = round(time.perf_counter() - t0, 2)
        restored = lakeutil.connect()
        lakeutil.attach(
            restored, f"postgres:{dsn(base, 'lake_restored')}", None, options="READ_ONLY"
        )
        again = {n: restored.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in counts}
        result["restored_counts_equal"] = again == counts
    print(json.dumps(result))


if __name__ == "__main__":
    main()
