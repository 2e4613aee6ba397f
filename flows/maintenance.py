"""The `spacewatch-maintenance` flow: nightly prune, checkpoint and verified backup."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from spacewatch.config import Config
from spacewatch.flows.run_config import load_run_config
from spacewatch.warehouse.connect import open_for_writing, writer_lock
from spacewatch.warehouse.maintenance import prune_backups, prune_poll_history, save_backup


@dataclass
class MaintenanceSummary:
    polls_pruned: int = 0
    backup: str = ""
    backup_bytes: int = 0
    backup_articles: int = 0
    backups_removed: list[str] = field(default_factory=list)


def run_maintenance(config: Config, now: datetime, wait_s: float = 0.0) -> MaintenanceSummary:
    """Plain function behind the flow, so the CLI and tests need no Prefect run."""
    summary = MaintenanceSummary()
    path = config.warehouse_path
    backup_dir = config.resolve(config.maintenance.backup_dir)
    with writer_lock(path, wait_s):
        con = open_for_writing(path)
        try:
            cutoff = now - timedelta(days=config.maintenance.poll_history_days)
            summary.polls_pruned = prune_poll_history(con, cutoff)
            backup = save_backup(con, path, backup_dir, now)  # closes con
        except BaseException:
            con.close()
            raise
        summary.backup = str(backup.path)
        summary.backup_bytes = backup.bytes
        summary.backup_articles = backup.articles
        removed = prune_backups(path, backup_dir, config.maintenance.keep_backups)
        summary.backups_removed = [str(p) for p in removed]
    return summary


def summary_lines(summary: MaintenanceSummary) -> list[str]:
    return [
        f"poll history: {summary.polls_pruned} old poll(s) deleted",
        f"backup: {summary.backup} ({summary.backup_bytes / 1e6:.1f} MB, "
        f"{summary.backup_articles} articles, verified)",
        f"old backups removed: {len(summary.backups_removed)}",
    ]


@flow(name="spacewatch-maintenance", log_prints=True)
def maintenance_flow(config_path: str | None = None, wait_s: float = 600.0) -> dict:
    """Nightly: prune raw poll history, checkpoint, back up the warehouse, keep the newest N.

    It waits up to `wait_s` for a pipeline run holding the warehouse to finish.
    """
    config = load_run_config(config_path)
    summary = run_maintenance(config, datetime.now(UTC), wait_s)
    logger = get_run_logger()
    lines = summary_lines(summary)
    for line in lines:
        logger.info(line)
    create_markdown_artifact(
        markdown="# Spacewatch maintenance\n\n" + "\n".join(f"- {line}" for line in lines),
        key="spacewatch-maintenance",
        description="Last backup and pruning",
    )
    return asdict(summary)
