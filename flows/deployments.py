"""The deployments `spacewatch serve` runs; deploy/prefect.yaml declares the same ones.

The pipeline allows one run at a time and cancels a newcomer (CANCEL_NEW): the warehouse has
one writer, and a run that starts while the previous one is still busy has nothing to add.

Alerts are sent by their own deployment, triggered by the pipeline's `spacewatch.topic.matched`
events once a run has committed, with a short schedule as a safety net for a lost event. A
delivery run that starts while another sends is cancelled too: the running one goes on until
it finds nothing more to send.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.events.schemas.automations import Posture
from prefect.schedules import Cron, Interval, Schedule
from prefect.types.entrypoint import EntrypointType

from spacewatch.config import ScheduleConfig
from spacewatch.flows.maintenance import maintenance_flow
from spacewatch.flows.pipeline import delivery_flow, digest_flow, pipeline

PIPELINE = "spacewatch-pipeline/pipeline"
DELIVERY = "spacewatch-delivery/delivery"
DIGEST = "spacewatch-digest/digest"
MAINTENANCE = "spacewatch-maintenance/maintenance"
MATCHED_EVENT = "spacewatch.topic.matched"
TRIGGER_QUIET_S = 60
TAGS = ["spacewatch"]
# Seconds a run waits for the writer lock held by another flow (digest, maintenance).
PIPELINE_WAIT_S = 300.0


def delivery_trigger() -> DeploymentEventTrigger:
    """Start a delivery on every match a committed run announces (flows/pipeline.py)."""
    return DeploymentEventTrigger(
        name="on-topic-matched",
        expect={MATCHED_EVENT},
        match={"prefect.resource.id": "spacewatch.topic.*"},
        posture=Posture.Reactive,
        threshold=1,
        # Fires on the first event, then ignores the rest for a minute: a run announces all
        # its matches at once, and one delivery sends them all.
        within=timedelta(seconds=TRIGGER_QUIET_S),
    )


def build_deployments(config_path: Path, schedule: ScheduleConfig) -> list[RunnerDeployment]:
    config = {"config_path": str(config_path)}
    zone = schedule.timezone
    every = Interval(timedelta(minutes=schedule.pipeline_every_min), timezone=zone)
    safety_net = Interval(timedelta(minutes=schedule.delivery_every_min), timezone=zone)
    return [
        _deployment(
            pipeline,
            "pipeline",
            every,
            # The delivery deployment sends; the run lets go of the writer sooner.
            config | {"wait_s": PIPELINE_WAIT_S, "deliver": False},
            "Poll due feeds, extract and tag new articles, store them and announce matches.",
        ),
        _deployment(
            delivery_flow,
            "delivery",
            safety_net,
            config,
            "Send due alerts, on each match a run announces and every few minutes.",
            triggers=[delivery_trigger()],
        ),
        _deployment(
            digest_flow,
            "digest",
            Cron(schedule.digest_cron, timezone=zone),
            config,
            "Send each subscriber's daily digest at its own digest hour (checked hourly).",
        ),
        _deployment(
            maintenance_flow,
            "maintenance",
            Cron(schedule.maintenance_cron, timezone=zone),
            config,
            "Prune raw poll history, checkpoint and back up the warehouse (verified copy).",
        ),
    ]


def _deployment(
    flow: Flow,
    name: str,
    schedule: Schedule,
    parameters: dict,
    description: str,
    triggers: list[DeploymentEventTrigger] | None = None,
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
        triggers=triggers,
    )
