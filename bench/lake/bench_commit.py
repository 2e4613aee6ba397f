"""Issue 15, question 3a: does the cost of a run's commit grow with the warehouse? Interleaves
commits on an empty lake and on the lakes bench_lake.py left behind (100k and 1M articles), so
that the load of a shared machine falls on all sizes alike.

    .venv/bin/python bench/lake/bench_commit.py [--repeat 10] [--inlining 1000]

Per lake: median and max seconds of a run with no new articles (runs row, 80 feed updates, 80
feed_polls, writer token: one commit) and of a run with 20 new articles (plus sources,
postings, doc lengths, alerts and the canonical-URL dedupe check), then the Parquet file count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
import bench_lake


def empty_lake(work: Path) -> None:
    (work / "lake").mkdir(parents=True, exist_ok=True)
    con = bench_lake.open_lake(work)
    for name, cols in bench_lake.TABLES.items():
        con.execute(f"CREATE TABLE lake.{name} ({cols})")
    con.execute(
        "INSERT INTO lake.feeds SELECT i, 'https://feed.example/' || i, "
        "'https://feed.example/' || i, 'feed ' || i, now(), 'ok', 0, now() FROM range(80) t(i)"
    )
    con.execute("INSERT INTO lake.writer_token VALUES (0)")
    con.execute("INSERT INTO lake.runs VALUES (1, now(), now(), 'finished', 0, NULL)")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--inlining", type=int, default=1000)
    parser.add_argument("--root", type=Path, default=Path("/tmp/spacewatch-bench-lake"))
    args = parser.parse_args()
    os.environ["LAKE_ATTACH_OPTIONS"] = f"DATA_INLINING_ROW_LIMIT {args.inlining}"
    zero = args.root / "0"
    if not (zero / "lake").exists():
        empty_lake(zero)
    lakes = {"0": zero}
    for size in ("100000", "1000000"):
        if (args.root / size / "lake").exists():
            lakes[size] = args.root / size
    cons = {}
    for size, work in lakes.items():
        cons[size] = bench_lake.open_lake(work)
        bench_lake.stopwords(cons[size])
    times = {size: {"empty": [], "new20": []} for size in lakes}
    for kind, new in (("empty", 0), ("new20", 20)):
        for _ in range(args.repeat):
            for size, con in cons.items():
                run_id = con.execute("SELECT max(run_id) FROM lake.runs").fetchone()[0] + 1
                times[size][kind].append(bench_lake.one_commit(con, run_id, new))
    result = {}
    for size, t in times.items():
        result[size] = {
            "articles": cons[size].execute("SELECT count(*) FROM lake.articles").fetchone()[0],
            "empty_run_s_median": round(statistics.median(t["empty"]), 3),
            "empty_run_s_max": round(max(t["empty"]), 3),
            "run_20_new_s_median": round(statistics.median(t["new20"]), 3),
            "run_20_new_s_max": round(max(t["new20"]), 3),
            "parquet_files": bench_lake.file_count(lakes[size] / "lake" / "data"),
        }
    print(json.dumps({"inlining": args.inlining, "repeat": args.repeat, "lakes": result}))


if __name__ == "__main__":
    main()
