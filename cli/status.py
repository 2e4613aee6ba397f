"""`spacewatch status`: is the monitor healthy? Exit 4 when it found a problem."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from spacewatch.cli.app import EXIT_CONFIG, ConfigOption, Fail, app, console, load_cfg


@app.command()
def status(
    config: ConfigOption = None,
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Is the monitor healthy? Last runs, failing feeds, undelivered alerts, ingest vs its norm.

    Reads the warehouse itself, so a fix (alerts retry, a repaired feed) shows at once. While
    a run holds the warehouse it reads the analysts' snapshot of the last completed run
    instead, and says so. A feed that has never succeeded, or a subscriber that has never
    received an alert, is a problem from its first failure. Exit codes: 0 healthy, 4
    problems found (a failing or dead feed, an ingest drop, alerts failing, a failed or stale
    run), 1 cannot check (no warehouse yet), 2 bad configuration. Thresholds: the [health]
    section.

    Example:

        spacewatch status --config spacewatch.toml || echo "Spacewatch needs attention"
        spacewatch status --format json
    """
    import json

    from spacewatch.alerts.status import (
        EXIT_UNHEALTHY,
        StatusUnavailable,
        build_status_record,
        render_status,
        take_status,
    )

    if output_format not in ("table", "json"):
        raise Fail(f"--format {output_format!r}: expected table or json", EXIT_CONFIG)
    cfg = load_cfg(config)
    try:
        report, source, notices = take_status(cfg, datetime.now(UTC))
    except StatusUnavailable as exc:
        raise Fail(str(exc)) from None
    if output_format == "json":
        record = build_status_record(report, source, notices)
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        for part in render_status(report, source, notices):
            console.print(part, highlight=False)
    if not report.healthy:
        raise typer.Exit(EXIT_UNHEALTHY)
