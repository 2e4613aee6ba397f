"""Search variants at 1M, for the design's open question (can BM25 over postings stay under
0.5 s?): on a lake from bench_lake.py (pass a copy: this adds tables to it), builds
`postings_len(term, article_id, tf, len)` sorted by term (the document length stored with
each posting) and a one-row `search_stats(n, avgdl)`, then times, alternating, median of 3:
  base     bench_lake.BM25 (terms from a subquery; joins conj and 1M doc lengths)
  single   postings_len + search_stats, literal terms, one GROUP BY ... HAVING (no joins but
           the per-term document frequency)

    .venv/bin/python bench/lake/bench_search_variants.py /tmp/t15-copy
(set LAKE_ATTACH_OPTIONS="OVERRIDE_DATA_PATH TRUE" for a copied lake)
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

SINGLE = """WITH hits AS (SELECT term, article_id, tf, len FROM lake.postings_len
                   WHERE term IN ({terms})),
 df AS (SELECT term, count(*) AS df FROM hits GROUP BY term)
SELECT h.article_id,
       sum(ln((s.n - df.df + 0.5) / (df.df + 0.5) + 1)
           * h.tf * 2.2 / (h.tf + 1.2 * (0.25 + 0.75 * h.len / s.avgdl))) AS score
FROM hits h JOIN df USING (term), lake.search_stats s
GROUP BY h.article_id HAVING count(*) = {n}
ORDER BY score DESC, h.article_id LIMIT 20"""


def main() -> None:
    work = Path(sys.argv[1])
    con = bench_lake.open_lake(work)
    bench_lake.stopwords(con)
    figures = {}
    if "postings_len" not in {r[0] for r in con.execute("SHOW TABLES").fetchall()}:
        t0 = time.perf_counter()
        con.execute("BEGIN")
        con.execute(
            "CREATE TABLE lake.postings_len "
            "(term VARCHAR, article_id BIGINT, tf INTEGER, len INTEGER)"
        )
        con.execute("ALTER TABLE lake.postings_len SET SORTED BY (term)")
        con.execute(
            "INSERT INTO lake.postings_len SELECT p.term, p.article_id, p.tf, d.len "
            "FROM lake.postings p JOIN lake.doc_len d USING (article_id) "
            "ORDER BY p.term, p.article_id"
        )
        con.execute(
            "CREATE TABLE lake.search_stats AS "
            "SELECT count(*) AS n, avg(len) AS avgdl FROM lake.doc_len"
        )
        con.execute("COMMIT")
        figures["build_s"] = round(time.perf_counter() - t0, 1)
    for q in bench_lake.QUERIES:
        terms = bench_lake.query_terms(con, q)
        single = SINGLE.format(terms=", ".join(f"'{t}'" for t in terms), n=len(terms))
        timings = {"base": [], "single": []}
        tops = {}
        for _ in range(3):
            for label, run in (
                ("base", lambda q=q: con.execute(bench_lake.BM25, {"q": q}).fetchall()),
                ("single", lambda sql=single: con.execute(sql).fetchall()),
            ):
                t0 = time.perf_counter()
                tops[label] = run()
                timings[label].append(time.perf_counter() - t0)
        figures[q] = {k: round(statistics.median(v), 3) for k, v in timings.items()}
        figures[q]["same_top20"] = [r[0] for r in tops["base"]] == [r[0] for r in tops["single"]]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
