"""BM25 over postings on a lake bench_lake.py left behind, alone: the bench's query (terms
from a subquery) and the same with the stemmed terms passed as literals, median of 3.

    .venv/bin/python bench/lake/bench_search.py /tmp/spacewatch-bench-lake/1000000
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
import bench_lake

LITERAL = """WITH hits AS (SELECT term, article_id, tf FROM lake.postings WHERE term IN ({terms})),
 df AS (SELECT term, count(*) AS df FROM hits GROUP BY term),
 stats AS (SELECT count(*) AS n, avg(len) AS avgdl FROM lake.doc_len),
 conj AS (SELECT article_id FROM hits GROUP BY article_id HAVING count(*) = {n})
SELECT h.article_id,
       sum(ln((s.n - df.df + 0.5) / (df.df + 0.5) + 1)
           * h.tf * 2.2 / (h.tf + 1.2 * (0.25 + 0.75 * d.len / s.avgdl))) AS score
FROM hits h JOIN conj USING (article_id) JOIN df USING (term)
     JOIN lake.doc_len d USING (article_id), stats s
GROUP BY h.article_id ORDER BY score DESC, h.article_id LIMIT 20"""


def main() -> None:
    con = bench_lake.open_lake(Path(sys.argv[1]), readonly=True)
    bench_lake.stopwords(con)
    out = {}
    for q in bench_lake.QUERIES:
        terms = bench_lake.query_terms(con, q)
        literal = LITERAL.format(terms=", ".join(f"'{t}'" for t in terms), n=len(terms))
        timings = {"subquery": [], "literal": []}
        for _ in range(3):
            for label, run in (
                ("subquery", lambda q=q: con.execute(bench_lake.BM25, {"q": q}).fetchall()),
                ("literal", lambda sql=literal: con.execute(sql).fetchall()),
            ):
                t0 = time.perf_counter()
                run()
                timings[label].append(time.perf_counter() - t0)
        out[q] = {k: round(statistics.median(v), 3) for k, v in timings.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
