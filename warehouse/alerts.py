"""SQL for the alert outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

import duckdb
import pyarrow as pa

from spacewatch.alerts.rules import PlannedAlert
from spacewatch.warehouse.batch import registered

_PLANNED = pa.schema(
    [
        ("topic_id", pa.string()),
        ("rule_version", pa.string()),
        ("story_id", pa.int64()),
        ("article_id", pa.int64()),
        ("subscriber", pa.string()),
        ("mode", pa.string()),
        ("severity", pa.string()),
        ("evidence", pa.list_(pa.string())),
        ("stale", pa.string()),
    ]
)


def insert_alerts(
    con: duckdb.DuckDBPyConnection, planned: Sequence[PlannedAlert], now: datetime
) -> int:
    """Write planned alerts into the outbox (inside the caller's transaction); returns how
    many are new. An existing (topic, story, subscriber) row wins: never alert twice. A stale
    alert (older than the freshness window) is stored with status 'stale' and its reason, and
    is never sent."""
    if not planned:
        return 0
    rows = [{**asdict(p), "evidence": list(p.evidence)} for p in planned]
    before = con.execute("SELECT count(*) FROM alerts").fetchone()[0]  # type: ignore[index]
    with registered(con, planned_alerts=pa.Table.from_pylist(rows, _PLANNED)):
        con.execute(
            """INSERT INTO alerts (topic_id, rule_version, story_id, article_id, subscriber, mode,
                   severity, evidence, status, next_attempt_at, created_at, note)
               SELECT topic_id, rule_version, story_id, article_id, subscriber, mode, severity,
                      evidence,
                      CASE WHEN stale IS NOT NULL THEN 'stale'
                           WHEN mode = 'digest' THEN 'digest' ELSE 'pending' END,
                      CASE WHEN stale IS NOT NULL OR mode = 'digest' THEN NULL ELSE $now END,
                      $now, stale
               FROM planned_alerts
               ON CONFLICT DO NOTHING""",
            {"now": now},
        )
    after = con.execute("SELECT count(*) FROM alerts").fetchone()[0]  # type: ignore[index]
    return int(after - before)
