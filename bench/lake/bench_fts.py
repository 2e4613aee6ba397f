"""Today's design on the same data, for comparison: PRAGMA create_fts_index on the plain DuckDB
warehouse that bench_lake.py generated, then match_bm25 queries; prints seconds and peak RSS.

    .venv/bin/python bench/lake/bench_fts.py /tmp/spacewatch-bench-lake/1000000/warehouse.duckdb
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
import bench_lake


def main() -> None:
    bench_lake.fts_index(Path(sys.argv[1]))
    hwm = [ln for ln in Path("/proc/self/status").read_text().splitlines() if "VmHWM" in ln]
    print(json.dumps({"peak_rss_mb": int(hwm[0].split()[1]) // 1024}))


if __name__ == "__main__":
    main()
