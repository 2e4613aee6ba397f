"""What `spacewatch maintenance` reports about the backup it made.

Found by mutation testing (make mutation): a summary without the backup's size, or with the
size in the wrong unit, passed every other test.
"""

from __future__ import annotations

from pathlib import Path

from test_maintenance import NOW, make_warehouse

from spacewatch.config import load_config
from spacewatch.flows.maintenance import run_maintenance, summary_lines


def test_the_summary_gives_the_backups_own_size_in_megabytes(tmp_path: Path) -> None:
    summary = run_maintenance(load_config(make_warehouse(tmp_path)), NOW)
    size = Path(summary.backup).stat().st_size
    assert summary.backup_bytes == size > 0
    assert summary_lines(summary)[1] == (
        f"backup: {summary.backup} ({size / 1e6:.1f} MB, {summary.backup_articles} articles, "
        "verified)"
    )
