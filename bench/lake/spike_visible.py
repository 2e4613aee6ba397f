"""Spike for issue 15, question 3b: time from a writer's COMMIT to a concurrently attached
reader process seeing it, on a SQLite catalog and on a PostgreSQL catalog.

    .venv/bin/python bench/lake/spike_visible.py [--commits 10] [--poll-ms 5]

The reader polls `SELECT max(n)` every --poll-ms and stamps the first time it sees each value;
it also stamps how long each of its polls took (a slow poll is the reader waiting on the
catalog, not the writer being late).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import lakeutil


def reader(catalog: str, data: str, last: int, poll: float, out) -> None:
    con = lakeutil.connect()
    lakeutil.attach(con, catalog, data, options="READ_ONLY")
    seen, polls = {}, []
    deadline = time.time() + 120
    while len(seen) < last and time.time() < deadline:
        t0 = time.perf_counter()
        top = con.execute("SELECT coalesce(max(n), 0) FROM ticks").fetchone()[0]
        polls.append(time.perf_counter() - t0)
        now = time.time()
        for n in range(1, top + 1):
            seen.setdefault(n, now)
        time.sleep(poll)
    out.put((seen, statistics.median(polls), max(polls)))


def measure(catalog: str, data: str, commits: int, poll: float) -> dict:
    con = lakeutil.connect()
    lakeutil.attach(con, catalog, data)
    con.execute("CREATE TABLE ticks (n BIGINT, stamped DOUBLE)")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=reader, args=(catalog, data, commits, poll, out))
    proc.start()
    time.sleep(3)
    committed, commit_s = {}, []
    for n in range(1, commits + 1):
        t0 = time.perf_counter()
        con.execute("INSERT INTO ticks VALUES (?, ?)", [n, time.time()])
        commit_s.append(time.perf_counter() - t0)
        committed[n] = time.time()
        time.sleep(0.3)
    seen, poll_med, poll_max = out.get(timeout=200)
    proc.join()
    lat = [seen[n] - committed[n] for n in committed if n in seen]
    return {
        "seen": f"{len(lat)}/{commits}",
        "latency_s_median": round(statistics.median(lat), 3),
        "latency_s_max": round(max(lat), 3),
        "writer_commit_s_median": round(statistics.median(commit_s), 3),
        "reader_poll_s_median": round(poll_med, 4),
        "reader_poll_s_max": round(poll_max, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=10)
    parser.add_argument("--poll-ms", type=float, default=5)
    args = parser.parse_args()
    poll = args.poll_ms / 1000
    data = tempfile.mkdtemp(prefix="lake-vis-")
    result = {"sqlite": measure(f"sqlite:{data}/c.sqlite", f"{data}/s/", args.commits, poll)}
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(lakeutil.postgres_cluster())
        result["postgres"] = measure(f"postgres:{pg}", f"{data}/p/", args.commits, poll)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
