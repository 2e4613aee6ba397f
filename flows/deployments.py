"""The deployments `spacewatch serve` runs; deploy/prefect.yaml declares the same ones.

The pipeline allows one run at a time and cancels a newcomer (CANCEL_NEW): the warehouse has
one writer, and a run that starts while the previous one is still busy has nothing to add.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule
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
    config = {"config_path": str(config_path)}
    zone = schedule.timezone
    every = Interval(timedelta(minutes=schedule.pipeline_every_min), timezone=zone)
    return [
        _deployment(
            pipeline,
            "pipeline",
            every,
            config | {"wait_s": PIPELINE_WAIT_S},
            "Poll due feeds, extract and tag new articles, send alerts.",
        ),
        _deployment(
            digest_flow,
            "digest",
            Cron(schedule.digest_cron, timezone=zone),
            config,
            "Send each subscriber's daily digest at its digest hour.",
        ),
        _deployment(
            maintenance_flow,
            "maintenance",
            Cron(schedule.maintenance_cron, timezone=zone),
            config,
            "Prune raw poll history, checkpoint and back up the warehouse.",
        ),
    ]


def _deployment(
    flow: Flow, name: str, schedule: Schedule, parameters: dict, description: str
) -> RunnerDeployment:
    return flow.to_deployment(
        name=name,
        # Module entrypoints: runs import the installed package, whatever their working folder.
        entrypoint_type=EntrypointType.MODULE_PATH,
        # serve pauses the schedules when it stops; starting it again resumes them.
        paused=False,
        schedule=schedule,
        parameters=parameters,
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
        tags=TAGS,
        description=description,
    )
