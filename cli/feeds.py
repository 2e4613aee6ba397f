"""`spacewatch feeds`: each feed's health."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.table import Table

from spacewatch.cli.app import ConfigOption, age, app, console, load_cfg, open_reader
from spacewatch.warehouse import reads


@app.command()
def feeds(config: ConfigOption = None) -> None:
    """List feeds with their health: last success, consecutive failures, next due time.

    Example:

        spacewatch feeds --config spacewatch.toml
    """
    cfg = load_cfg(config)
    con = open_reader(cfg)
    try:
        rows = reads.feed_health(con)
    finally:
        con.close()
    now = datetime.now(UTC)
    table = Table(title=f"Feeds in {cfg.warehouse_path}")
    for column in (
        "id",
        "name",
        "url",
        "last success",
        "failures",
        "next due",
        "last outcome",
        "articles",
    ):
        table.add_column(column, overflow="fold")
    for fid, name, url, active, ok_at, fails, due, outcome, error, count in rows:
        status = outcome or "not polled"
        if error:
            status += f": {error}"
        if not active:
            status = "inactive (removed from config)"
        style = "red" if fails else None
        table.add_row(
            str(fid),
            name,
            url,
            age(ok_at, now),
            str(fails),
            age(due, now),
            status,
            str(count),
            style=style,
        )
    console.print(table)
