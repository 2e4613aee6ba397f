"""The monitor's health as the pipeline's last steps: judge the warehouse under the writer,
then, once the run has let go of it, tell the operator. Neither ever fails the run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import duckdb
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from spacewatch.alerts.health import HealthReport
from spacewatch.alerts.monitor import NoticeSummary, notify_health
from spacewatch.alerts.status import check_health
from spacewatch.config import Config
from spacewatch.warehouse.writes import ShortWrites


@task(name="health-check", cache_policy=NO_CACHE)
def health_check_task(con: duckdb.DuckDBPyConnection, config: Config) -> HealthReport:
    """Judge the warehouse at the end of a run (the operator is told after the run let go of
    the writer: `health_notify_task`)."""
    now = datetime.now(UTC)
    report = check_health(con.cursor(), config, now)
    logger = get_run_logger()
    for problem in report.problems:
        logger.warning(f"health: {problem.summary}")
    return report


@task(name="health-notify", cache_policy=NO_CACHE)
def health_notify_task(config: Config, wait_s: float) -> NoticeSummary:
    """Tell the operator of new problems, outside the writer: each notice is recorded in its
    own short write."""
    db = ShortWrites(config.warehouse_path, wait_s)
    now = datetime.now(UTC)
    with db.writing() as con:
        report = check_health(con, config, now)
    notified = notify_health(db, config, report, now)
    logger = get_run_logger()
    if notified.sent:
        logger.info(f"health: {notified.sent} notice(s) sent covering {notified.problems}")
    for error in notified.errors:
        logger.warning(error)
    return notified


def run_health_notices(config: Config, wait_s: float) -> None:
    """After the run: notify the operator. A broken notice is logged and never fails the run."""
    if not config.health.notify:
        return
    try:
        health_notify_task(config, wait_s)
    except Exception as exc:
        try:
            logger: Any = get_run_logger()
        except Exception:  # outside a flow run
            logger = logging.getLogger(__name__)
        logger.error(f"health notice failed (the run itself is fine): {type(exc).__name__}: {exc}")


def run_health_check(con: duckdb.DuckDBPyConnection, config: Config) -> HealthReport | None:
    """The pipeline's last step. A broken health check is logged and never fails the run."""
    try:
        return health_check_task(con, config)
    except Exception as exc:
        try:
            logger: Any = get_run_logger()
        except Exception:  # outside a flow run
            logger = logging.getLogger(__name__)
        logger.error(f"health check failed (the run itself is fine): {type(exc).__name__}: {exc}")
        return None
