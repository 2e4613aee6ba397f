"""The deployments `spacewatch serve` runs; deploy/prefect.yaml declares the same ones.

The pipeline allows one run at a time and cancels a newcomer (CANCEL_NEW): the warehouse has
one writer, and a run that starts while the previous one is still busy has nothing to add.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval
from prefect.types.entrypoint import EntrypointType

from .config import ScheduleConfig
from .maintenance import maintenance_flow
from .pipeline import digest_flow, pipeline

PIPELINE = "spacewatch-pipeline/pipeline"
DIGEST = "spacewatch-digest/digest"
MAINTENANCE = "spacewatch-maintenance/maintenance"
TAGS = ["spacewatch"]
# Seconds a run waits for the writer lock held by another flow (digest, maintenance).
PIPELINE_WAIT_S = 300.0


def build_deployments(config_path: Path, schedule: ScheduleConfig) -> list[RunnerDeployment]:
    # Module entrypoints: runs import the installed package, whatever their working directory.
    # paused=False: serve pauses the schedules when it stops and resumes them when it starts.
    config = str(config_path)
    one_at_a_time = ConcurrencyLimitConfig(
        limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
    )
    return [
        pipeline.to_deployment(
            name="pipeline",
            entrypoint_type=EntrypointType.MODULE_PATH,
            paused=False,
            schedule=Interval(
                timedelta(minutes=schedule.pipeline_every_min), timezone=schedule.timezone
            ),
            parameters={"config_path": config, "wait_s": PIPELINE_WAIT_S},
            concurrency_limit=one_at_a_time,
            tags=TAGS,
            description="Poll due feeds, extract and tag new articles, send alerts.",
        ),
        digest_flow.to_deployment(
            name="digest",
            entrypoint_type=EntrypointType.MODULE_PATH,
            paused=False,
            schedule=Cron(schedule.digest_cron, timezone=schedule.timezone),
            parameters={"config_path": config},
            concurrency_limit=one_at_a_time,
            tags=TAGS,
            description="Send each subscriber's daily digest at its digest hour.",
        ),
        maintenance_flow.to_deployment(
            name="maintenance",
            entrypoint_type=EntrypointType.MODULE_PATH,
            paused=False,
            schedule=Cron(schedule.maintenance_cron, timezone=schedule.timezone),
            parameters={"config_path": config},
            concurrency_limit=one_at_a_time,
            tags=TAGS,
            description="Prune raw poll history, checkpoint and back up the warehouse.",
        ),
    ]
