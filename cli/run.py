"""`spacewatch run`, `digest`, `demo` and `serve`: the commands that start Prefect flows.

Prefect is imported inside each command, after `prefect_environment` set its defaults (it
reads its settings on import).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spacewatch.cli.app import (
    EXIT_BUSY,
    EXIT_CONFIG,
    ConfigOption,
    Fail,
    VerboseOption,
    app,
    console,
    load_cfg,
    prefect_environment,
)
from spacewatch.config import Config, ConfigError
from spacewatch.warehouse.connect import WarehouseBusy, WarehouseError, writer_lock
from spacewatch.warehouse.migrate import SchemaError


def check_writable(cfg: Config) -> None:
    """Fail fast, before Prefect starts, when another run holds the warehouse."""
    try:
        with writer_lock(cfg.warehouse_path, 0):
            pass
    except WarehouseBusy as exc:
        raise Fail(str(exc), EXIT_BUSY) from None


def check_rules(cfg: Config) -> None:
    """Registries and topic rules are checked before Prefect starts: a typo fails in a second."""
    from spacewatch.alerts.topics import load_rules
    from spacewatch.seeds.tagging import load_tagger

    try:
        load_rules(cfg, load_tagger(cfg.tagging_paths())[1])
    except ConfigError as exc:
        raise Fail(str(exc), EXIT_CONFIG) from None
    except ValueError as exc:  # RegistryError names the registry file and line
        raise Fail(str(exc), EXIT_CONFIG) from None


def execute(cfg: Config, wait_s: float, verbose: bool) -> object:
    prefect_environment(verbose)
    from spacewatch.flows.pipeline import (
        run_pipeline,  # imported late: Prefect reads its settings on import
    )

    check_rules(cfg)
    if wait_s <= 0:
        check_writable(cfg)
    try:
        with console.status("Running the pipeline (Prefect, polling, extraction)..."):
            return run_pipeline(cfg.source or Path("spacewatch.toml"), wait_s)
    except ConfigError as exc:
        raise Fail(str(exc), EXIT_CONFIG) from None
    except WarehouseBusy as exc:
        raise Fail(str(exc), EXIT_BUSY) from None
    except (WarehouseError, SchemaError) as exc:
        raise Fail(str(exc)) from None


@app.command()
def run(
    config: ConfigOption = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for another run to finish before giving up.")
    ] = 0.0,
    verbose: VerboseOption = False,
) -> None:
    """Run one cycle: poll due feeds, fetch and extract new articles, store them.

    Runs through Prefect (its embedded server starts by itself when PREFECT_API_URL is not
    set). Exits 0 when the run completed, even if some feeds or pages failed; those are
    recorded in the warehouse and summarised here.

    Example:

        spacewatch run --config deploy/spacewatch.example.toml
    """
    cfg = load_cfg(config)
    summary = execute(cfg, wait, verbose)
    for line in summary.lines():  # type: ignore[attr-defined]
        console.print(line)
    failures = summary.failures  # type: ignore[attr-defined]
    if failures:
        console.print(f"[yellow]{len(failures)} feed(s) failed[/]; see `spacewatch feeds`:")
        for failure in failures[:10]:
            console.print(f"  {failure}", markup=False, highlight=False)
    alert_errors = summary.alert_errors  # type: ignore[attr-defined]
    if alert_errors:
        console.print(
            f"[yellow]{len(alert_errors)} alert delivery error(s)[/]; see `spacewatch alerts`:"
        )
        for error in alert_errors[:10]:
            console.print(f"  {error}", markup=False, highlight=False)


@app.command()
def digest(
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option(help="Send now even if today's digest went out.")] = False,
) -> None:
    """Send the digests that are due: waiting alerts grouped by topic, newest first.

    Example:

        spacewatch digest --config spacewatch.toml
    """
    cfg = load_cfg(config)
    if not cfg.warehouse_path.exists():
        raise Fail(f"{cfg.warehouse_path}: warehouse not found (run `spacewatch run` first)")
    prefect_environment(False)
    from spacewatch.alerts.delivery import DeliverySummary
    from spacewatch.flows.pipeline import digest_flow

    try:
        summary = DeliverySummary(**digest_flow(str(cfg.source), force, 60.0))
    except WarehouseBusy as exc:
        raise Fail(str(exc), EXIT_BUSY) from None
    except (WarehouseError, SchemaError) as exc:
        raise Fail(str(exc)) from None
    console.print(f"{summary.digests} digest(s) sent covering {summary.sent} alerts")
    for error in summary.errors:
        console.print(f"  {error}", markup=False, highlight=False)
    if summary.failed:
        raise typer.Exit(1)


@app.command()
def demo(
    workdir: Annotated[
        Path, typer.Option(help="Folder for the throw-away warehouse and configuration.")
    ] = Path(".demo"),
    verbose: VerboseOption = False,
) -> None:
    """Serve the bundled sample over loopback HTTP and run the pipeline on it twice.

    The first run ingests the sample; the second shows everything unchanged (304s, no new
    articles). Works offline.

    Example:

        spacewatch demo --workdir /tmp/spacewatch-demo
    """
    from spacewatch.flows.demo import run_demo

    prefect_environment(verbose)
    try:
        run_demo(workdir, console)
    except (WarehouseBusy, WarehouseError, SchemaError, ConfigError) as exc:
        raise Fail(str(exc)) from None


@app.command()
def serve(
    config: ConfigOption = None,
    port: Annotated[
        int, typer.Option(help="Port of the local Prefect server (when PREFECT_API_URL is unset).")
    ] = 4200,
    verbose: VerboseOption = False,
) -> None:
    """Run Spacewatch on this machine: the pipeline, digests and maintenance on their schedules.

    Uses the Prefect server named by PREFECT_API_URL, or starts one on 127.0.0.1:--port (its
    UI, at the same port, shows the runs, logs and summaries). Schedules come from the
    [schedule] section; serve prints when each flow runs next, in its time zone. Every run
    sends its summary and each failed feed or page to the Prefect API as log lines, whatever
    --verbose says (it only sets what the terminal shows). Ctrl-C or SIGTERM stops it; a run
    in progress is cancelled and the next run records it as interrupted.

    Example:

        spacewatch serve --config /etc/spacewatch/spacewatch.toml
    """
    from spacewatch.flows.prefect_server import ServerError
    from spacewatch.flows.serve import serve_forever

    cfg = load_cfg(config)
    check_rules(cfg)
    prefect_environment(verbose, console="WARNING")
    try:
        serve_forever(cfg, port, console)
    except ServerError as exc:
        raise Fail(str(exc)) from None
