"""`spacewatch maintenance` (prune, checkpoint, back up) and `spacewatch restore`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from spacewatch.cli.app import EXIT_BUSY, ConfigOption, Fail, app, console, load_cfg
from spacewatch.warehouse.connect import WarehouseBusy, WarehouseError, writer_lock
from spacewatch.warehouse.migrate import SchemaError


@app.command()
def maintenance(
    config: ConfigOption = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for a run holding the warehouse.")
    ] = 0.0,
) -> None:
    """Prune old poll history, checkpoint and back up the warehouse (what the nightly flow does).

    Backups go to [maintenance] backup_dir and are verified by opening them and counting their
    articles; a copy that fails is removed and reported (exit 1), and older backups stay. Only
    the newest keep_backups are kept.

    Example:

        spacewatch maintenance --config spacewatch.toml
    """
    from spacewatch.flows.maintenance import run_maintenance, summary_lines

    cfg = load_cfg(config)
    try:
        summary = run_maintenance(cfg, datetime.now(UTC), wait)
    except WarehouseBusy as exc:
        raise Fail(str(exc), EXIT_BUSY) from None
    except (WarehouseError, SchemaError, OSError) as exc:
        raise Fail(str(exc)) from None
    for line in summary_lines(summary):
        console.print(line, markup=False, highlight=False)


@app.command()
def restore(
    backup: Annotated[Path, typer.Argument(help="A backup file written by maintenance.")],
    config: ConfigOption = None,
) -> None:
    """Replace the warehouse with a backup; the current file is kept as *.before-restore-<time>.

    Stop `spacewatch serve` (or pause the deployments) first. The backup is checked before
    anything is moved, and a newer backup schema is refused at the next open.

    Example:

        spacewatch restore backups/spacewatch-20261126T033000Z.duckdb --config spacewatch.toml
    """
    from spacewatch.warehouse.maintenance import restore_backup

    cfg = load_cfg(config)
    path = cfg.warehouse_path
    try:
        with writer_lock(path, 0):
            kept = restore_backup(backup, path, datetime.now(UTC))
    except WarehouseBusy as exc:
        raise Fail(str(exc), EXIT_BUSY) from None
    except (WarehouseError, OSError) as exc:
        raise Fail(str(exc)) from None
    console.print(f"Restored {path} from {backup}", markup=False, highlight=False)
    if kept:
        console.print(f"The previous warehouse is kept as {kept}", markup=False, highlight=False)
