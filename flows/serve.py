"""`spacewatch serve`: one machine, one command - a Prefect server and the scheduled flows."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console

from spacewatch.config import Config
from spacewatch.flows.prefect_server import ServerError, local_prefect_server, wait_for_api


@contextmanager
def prefect_api(config: Config, port: int, console: Console) -> Iterator[str]:
    """The server named by PREFECT_API_URL, or a local one started (and stopped) here."""
    given = os.environ.get("PREFECT_API_URL")
    if given:
        try:
            wait_for_api(given.rstrip("/"), 30.0)
        except ServerError as exc:
            raise ServerError(f"PREFECT_API_URL={given}: {exc}") from None
        console.print(f"Using the Prefect server at {given}")
        yield given
        return
    log_path = config.warehouse_path.with_name("prefect-server.log")
    with ExitStack() as stack:
        with console.status(f"Starting a Prefect server on 127.0.0.1:{port} (15-30 s)..."):
            api_url = stack.enter_context(local_prefect_server(port=port, log_path=log_path))
        console.print(f"Prefect server and UI: {api_url.removesuffix('/api')} (log: {log_path})")
        yield api_url


def next_runs(deployments: Sequence[Any], now: datetime) -> list[tuple[str, datetime]]:
    """(deployment name, next run) for each schedule, computed by the Prefect server's own
    schedule classes, so it is the time its scheduler will pick."""
    from prefect.server.schemas import schedules as server

    kinds = {"IntervalSchedule": server.IntervalSchedule, "CronSchedule": server.CronSchedule}
    found = []
    for deployment in deployments:
        for item in deployment.schedules or ():
            schedule = item.schedule
            kind = kinds.get(type(schedule).__name__)
            if kind is None:
                continue
            parsed = kind.model_validate(schedule.model_dump())
            dates = asyncio.run(parsed.get_dates(n=1, start=now))
            if dates:
                found.append((deployment.name, datetime.fromtimestamp(dates[0].timestamp(), UTC)))
    return found


def format_next_runs(runs: Sequence[tuple[str, datetime]], zone: str) -> list[str]:
    tz = ZoneInfo(zone)
    width = max((len(name) for name, _ in runs), default=0)
    return [
        f"  {name:<{width}}  next run {when.astimezone(tz):%Y-%m-%d %H:%M %Z} ({zone})"
        for name, when in sorted(runs, key=lambda run: run[1])
    ]


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_forever(config: Config, port: int, console: Console) -> None:
    """Serve the deployments until Ctrl-C or SIGTERM; the local server is stopped after."""
    config_path = (config.source or Path("spacewatch.toml")).resolve()
    # systemd stops services with SIGTERM: unwind like Ctrl-C so the server is stopped too.
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    with prefect_api(config, port, console) as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        from prefect import serve
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: api_url}):
            from spacewatch.flows.deployments import build_deployments

            deployments = build_deployments(config_path, config.schedule)
            s = config.schedule
            console.print(
                f"Serving {len(deployments)} deployments with {config_path}: pipeline every "
                f"{s.pipeline_every_min:g} min, alerts on each match and every "
                f"{s.delivery_every_min:g} min, digest '{s.digest_cron}', maintenance "
                f"'{s.maintenance_cron}' ({s.timezone}). Ctrl-C stops."
            )
            upcoming = next_runs(deployments, datetime.now(UTC))
            for line in format_next_runs(upcoming, s.timezone):
                console.print(line, markup=False, highlight=False)
            with suppress(KeyboardInterrupt):
                serve(*deployments, print_starting_message=False)
    console.print("Stopped.")
