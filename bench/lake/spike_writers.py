"""Spike for issue 15, question 2: do an article, its story and its outbox rows commit
together in a DuckLake, and what happens when two writer processes store the same canonical
URL at the same moment on a PostgreSQL catalog?

    .venv/bin/python bench/lake/spike_writers.py [--rounds 5]

Starts a throw-away PostgreSQL 15 cluster on loopback (as the postgres user), attaches a
DuckLake on it, and runs, each for --rounds keys:

  atomic     one transaction writes articles + article_sources + alerts, then fails (an
             exception, and separately a process killed before COMMIT): nothing may remain.
  naive      two processes BEGIN, check that the URL is absent, INSERT, meet at a barrier,
             COMMIT. Counts how many rows the key ends up with.
  token      as naive, but each transaction also UPDATEs one row of a `writer_token` table
             in the lake: DuckLake's optimistic concurrency must then refuse the second
             commit; the loser re-runs its check in a new transaction.
  contention both writers store the same --rounds URLs (one forwards, one backwards) back to
             back without barriers, each transaction held open 0.2 s, token and retry: how
             many retries, any duplicate, how long in all. contention-backoff: the same with
             a jittered exponential backoff before each retry; contention-lock: the same with
             pg_advisory_xact_lock taken first inside each transaction (token kept).
  advisory   as naive, but the check-insert-commit runs under a PostgreSQL advisory lock
             taken on the catalog database (pg_advisory_lock through postgres_scanner).
Prints one JSON line per scenario.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(__file__))
import contextlib

import lakeutil

STORE_S = 0.2  # contention: seconds a store transaction stays open after its inserts

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS articles (article_id BIGINT, canonical_url VARCHAR,
       story_id BIGINT, title VARCHAR, run_id BIGINT)""",
    """CREATE TABLE IF NOT EXISTS article_sources (feed_id INTEGER, guid VARCHAR,
       article_id BIGINT)""",
    """CREATE TABLE IF NOT EXISTS alerts (topic_id VARCHAR, story_id BIGINT,
       subscriber VARCHAR, article_id BIGINT, status VARCHAR)""",
    "CREATE TABLE IF NOT EXISTS writer_token (n BIGINT)",
]


def article_id(url: str) -> int:
    """Deterministic id: the first 63 bits of sha256(canonical URL)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(url.encode()).digest()[:8], "big") >> 1


def open_lake(catalog: str, data: str):
    con = lakeutil.connect()
    lakeutil.attach(con, catalog, data, options=os.environ.get("LAKE_ATTACH_OPTIONS", ""))
    return con


def store(con, url: str, writer: int, mode: str, pg: str | None) -> str:
    """One store transaction for `url`; returns 'inserted', 'skipped' or raises."""
    aid = article_id(url)
    con.execute("BEGIN")
    if mode == "contention-lock":  # held until this DuckDB transaction ends (spike_advisory.py)
        con.execute("CALL postgres_execute('pgc', 'SELECT pg_advisory_xact_lock(15)')")
    present = con.execute(
        "SELECT count(*) FROM articles WHERE canonical_url = ?", [url]
    ).fetchone()[0]
    if present:
        con.execute("ROLLBACK")
        return "skipped"
    con.execute("INSERT INTO articles VALUES (?, ?, ?, 'title', ?)", [aid, url, aid, writer])
    con.execute("INSERT INTO article_sources VALUES (?, ?, ?)", [writer, url, aid])
    con.execute("INSERT INTO alerts VALUES ('t', ?, 'desk', ?, 'pending')", [aid, aid])
    if mode == "token" or mode.startswith("contention"):
        con.execute("UPDATE writer_token SET n = n + 1")
    if mode.startswith("contention"):
        time.sleep(STORE_S)  # the rest of a store step: tags, fingerprints, postings
    return "open"


def worker(writer: int, catalog: str, data: str, pg: str, mode: str, urls, barrier, out):
    try:
        con = open_lake(catalog, data)
        if mode in ("advisory", "contention-lock"):
            con.execute(f"ATTACH '{pg}' AS pgc (TYPE postgres)")
        results = []
        paced = not mode.startswith("contention")  # contention: no barriers, as fast as each can go
        if not paced and writer == 2:
            urls = list(reversed(urls))
        for url in urls:
            if paced:
                barrier.wait()
            attempts = 0
            while True:
                attempts += 1
                if mode == "advisory":
                    con.execute("CALL postgres_execute('pgc', 'SELECT pg_advisory_lock(15)')")
                try:
                    state = store(con, url, writer, mode, pg)
                    if state == "open":
                        if mode != "advisory" and paced:
                            barrier.wait()  # both have checked and inserted: now commit
                        con.execute("COMMIT")
                        state = "inserted"
                    results.append((url, state, attempts, None))
                    break
                except Exception as exc:  # a refused commit: retry from the check
                    with contextlib.suppress(Exception):
                        con.execute("ROLLBACK")
                    msg = " ".join(str(exc).split())[:400]
                    if mode == "naive" or attempts >= 10:
                        results.append((url, "error", attempts, msg))
                        break
                    results.append((url, "retry", attempts, msg))
                    if mode == "contention-backoff":  # jittered, exponential, capped at 2 s
                        time.sleep(random.uniform(0, min(2.0, 0.1 * 2**attempts)))
                finally:
                    if mode == "advisory":
                        con.execute("CALL postgres_execute('pgc', 'SELECT pg_advisory_unlock(15)')")
            # skipped at once: the other writer waits at the commit barrier for us
            if paced and mode != "advisory" and results[-1][1] == "skipped" and results[-1][2] == 1:
                barrier.wait()
        out.put((writer, results))
    except Exception:
        out.put((writer, traceback.format_exc()))


def scenario(catalog: str, data: str, pg: str, mode: str, rounds: int) -> dict:
    urls = [f"https://example.org/{mode}/{i}" for i in range(rounds)]
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2, timeout=120)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(w, catalog, data, pg, mode, urls, barrier, out))
        for w in (1, 2)
    ]
    start = time.perf_counter()
    for p in procs:
        p.start()
    got = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    con = open_lake(catalog, data)
    counts = con.execute(
        "SELECT canonical_url, count(*) FROM articles WHERE canonical_url LIKE ? "
        "GROUP BY ALL ORDER BY 1",
        [f"https://example.org/{mode}/%"],
    ).fetchall()
    alerts = con.execute(
        "SELECT count(*) FROM alerts WHERE article_id IN (SELECT article_id FROM articles "
        "WHERE canonical_url LIKE ?)",
        [f"https://example.org/{mode}/%"],
    ).fetchone()[0]
    return {
        "scenario": mode,
        "keys": rounds,
        "rows_per_key": [c for _, c in counts],
        "alert_rows": alerts,
        "elapsed_s": round(elapsed, 2),
        "writers": {w: r for w, r in sorted(got, key=lambda x: x[0])},
    }


def killed_writer(catalog: str, data: str) -> None:
    con = open_lake(catalog, data)
    con.execute("BEGIN")
    con.execute("INSERT INTO articles VALUES (7, 'https://example.org/killed', 7, 't', 0)")
    con.execute("INSERT INTO alerts VALUES ('t', 7, 'desk', 7, 'pending')")
    os._exit(9)  # dies before COMMIT


def atomic(catalog: str, data: str) -> dict:
    con = open_lake(catalog, data)
    before = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('lake')").fetchone()[0]
    con.execute("BEGIN")
    con.execute("INSERT INTO articles VALUES (1, 'https://example.org/failed', 1, 't', 0)")
    con.execute("INSERT INTO article_sources VALUES (1, 'g', 1)")
    con.execute("INSERT INTO alerts VALUES ('t', 1, 'desk', 1, 'pending')")
    con.execute("ROLLBACK")  # what store() does when tagging or alert planning raises
    p = mp.get_context("spawn").Process(target=killed_writer, args=(catalog, data))
    p.start()
    p.join()
    after = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('lake')").fetchone()[0]
    left = {
        t: con.execute(f"SELECT count(*) FROM {t} WHERE article_id IN (1, 7)").fetchone()[0]
        for t in ("articles", "article_sources", "alerts")
    }
    # and a transaction over three tables that commits is ONE snapshot
    con.execute("BEGIN")
    con.execute("INSERT INTO articles VALUES (2, 'https://example.org/ok', 2, 't', 0)")
    con.execute("INSERT INTO article_sources VALUES (1, 'g2', 2)")
    con.execute("INSERT INTO alerts VALUES ('t', 2, 'desk', 2, 'pending')")
    con.execute("COMMIT")
    last = con.execute(
        "SELECT snapshot_id, changes FROM ducklake_snapshots('lake') ORDER BY 1 DESC LIMIT 1"
    ).fetchone()
    return {
        "scenario": "atomic",
        "killed_exit_code": p.exitcode,
        "snapshots_added_by_failures": after - before,
        "rows_left_by_failures": left,
        "committed_snapshot": {"id": last[0], "changes": str(last[1])},
        "one_snapshot_for_three_tables": last[0] == after + 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="*")
    parser.add_argument(
        "--catalog",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="sqlite: the embedded default, two writers on one machine (no advisory scenario)",
    )
    parser.add_argument(
        "--inlining", type=int, help="DATA_INLINING_ROW_LIMIT (default: the extension's)"
    )
    args = parser.parse_args()
    if args.inlining is not None:  # inherited by the spawned writers
        os.environ["LAKE_ATTACH_OPTIONS"] = f"DATA_INLINING_ROW_LIMIT {args.inlining}"
    data = tempfile.mkdtemp(prefix="lake-data-") + "/"
    with contextlib.ExitStack() as stack:
        if args.catalog == "postgres":
            pg = stack.enter_context(lakeutil.postgres_cluster())
            catalog = f"postgres:{pg}"
        else:
            pg, catalog = "", f"sqlite:{data}catalog.sqlite"
        con = open_lake(catalog, data)
        for sql in SCHEMA:
            con.execute(sql)
        con.execute("INSERT INTO writer_token VALUES (0)")
        con.close()
        print(
            json.dumps(
                {
                    "catalog": args.catalog,
                    "attach_options": os.environ.get("LAKE_ATTACH_OPTIONS", ""),
                }
            ),
            flush=True,
        )
        print(json.dumps(atomic(catalog, data)), flush=True)
        default = ("naive", "token", "advisory") if pg else ("naive", "token")
        for mode in args.only or default:
            print(json.dumps(scenario(catalog, data, pg, mode, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
