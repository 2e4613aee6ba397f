"""`spacewatch alerts` (list, retry, test) and `spacewatch topics backtest`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from spacewatch.cli.app import (
    EXIT_BUSY,
    EXIT_CONFIG,
    ConfigOption,
    Fail,
    app,
    console,
    load_cfg,
    open_reader,
    parse_since,
)
from spacewatch.config import ConfigError
from spacewatch.warehouse import reads
from spacewatch.warehouse.connect import WarehouseBusy, WarehouseError
from spacewatch.warehouse.migrate import SchemaError

alerts_app = typer.Typer(
    help="Alerts: list recent ones, retry failed ones, test a subscriber's destinations.\n\n"
    "Example:\n\n    spacewatch alerts --limit 50\n\n    spacewatch alerts test policy-desk",
    invoke_without_command=True,
    no_args_is_help=False,
)


topics_app = typer.Typer(
    help="Watched topics: backtest a rule over stored articles before it goes live.\n\n"
    "Example:\n\n    spacewatch topics backtest space_force_deployment --since 90d",
    no_args_is_help=True,
)


app.add_typer(alerts_app, name="alerts")
app.add_typer(topics_app, name="topics")


@alerts_app.callback()
def alerts_list(
    ctx: typer.Context,
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(help="How many recent alerts to show.")] = 30,
) -> None:
    """List recent alerts with their status (pending, sent, failed, digest, stale, muted).

    'stale' alerts matched a story older than max_age_h (alerts section) and were kept, not sent;
    'muted' ones belong to a topic in the subscriber's muted_topics. The note column says why.

    Example:

        spacewatch alerts --config spacewatch.toml --limit 50
    """
    if ctx.invoked_subcommand is not None:
        return
    cfg = load_cfg(config)
    con = open_reader(cfg)
    try:
        rows = reads.recent_alerts(con, limit)
        counts = reads.alert_counts(con)
    finally:
        con.close()
    table = Table(
        title="Recent alerts " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    )
    for column in (
        "id",
        "created",
        "topic",
        "subscriber",
        "status",
        "tries",
        "error/note",
        "title",
    ):
        table.add_column(column, overflow="fold")
    for aid, created, topic, sub, status, tries, error, title in rows:
        style = {"failed": "red", "pending": "yellow", "stale": "dim", "muted": "dim"}.get(status)
        table.add_row(
            str(aid),
            f"{created:%Y-%m-%d %H:%M}",
            topic,
            sub,
            status,
            str(tries),
            error,
            title or "",
            style=style,
        )
    console.print(table)


@alerts_app.command("retry")
def alerts_retry(config: ConfigOption = None) -> None:
    """Retry failed and pending alerts now, whatever their next attempt time.

    Example:

        spacewatch alerts retry --config spacewatch.toml
    """
    from spacewatch.alerts.delivery import deliver_due, delivering

    cfg = load_cfg(config)
    if not cfg.warehouse_path.exists():
        raise Fail(f"{cfg.warehouse_path}: warehouse not found (run `spacewatch run` first)")
    # Sent outside the writer, like every delivery: a run may go on meanwhile.
    try:
        with delivering(cfg, 60.0) as db:
            summary = deliver_due(db, cfg, datetime.now(UTC), retry_failed=True)
    except WarehouseBusy as exc:
        raise Fail(str(exc), EXIT_BUSY) from None
    except (WarehouseError, SchemaError) as exc:
        raise Fail(str(exc)) from None
    console.print(summary.line())
    for error in summary.errors[:20]:
        console.print(f"  {error}", markup=False, highlight=False)
    if summary.failed or summary.retrying:
        raise typer.Exit(1)


@alerts_app.command("test")
def alerts_test(
    subscriber: Annotated[str, typer.Argument(help="The subscriber's name from the config.")],
    config: ConfigOption = None,
) -> None:
    """Send a test message to each destination of a subscriber and report each result.

    Exits 1 when any destination failed.

    Example:

        spacewatch alerts test policy-desk --config spacewatch.toml
    """
    from spacewatch.alerts.delivery import send_test

    cfg = load_cfg(config)
    found = {s.name: s for s in cfg.subscribers}
    if subscriber not in found:
        raise Fail(
            f"{cfg.source}: no subscriber named {subscriber!r} (known: {sorted(found)})",
            EXIT_CONFIG,
        )
    failed = 0
    for label, error in send_test(found[subscriber], cfg.alerts.timeout_s):
        if error:
            failed += 1
            console.print(
                f"failed  {label}: {error}", markup=False, highlight=False, soft_wrap=True
            )
        else:
            console.print(f"ok      {label}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@topics_app.command("backtest")
def topics_backtest(
    topic: Annotated[str, typer.Argument(help="Topic id from the configuration.")],
    config: ConfigOption = None,
    since: Annotated[
        str, typer.Option(help="How far back: 90d, 12w or a date (2024-01-31).")
    ] = "90d",
    samples: Annotated[int, typer.Option(help="Matching stories to show.")] = 10,
) -> None:
    """Show how many alerts a topic's rule would have fired over stored articles; sends nothing.

    Each matching story is judged as the pipeline judged it when it first matched: a story
    older than max_age_h (alerts section) then is counted as kept 'stale', not sent.

    Example:

        spacewatch topics backtest space_force_deployment --since 180d
    """
    from spacewatch.alerts.backtest import backtest
    from spacewatch.alerts.topics import load_rules
    from spacewatch.seeds.tagging import load_tagger

    cfg = load_cfg(config)
    try:
        rules, subscriptions = load_rules(cfg, load_tagger(cfg.tagging_paths())[1])
    except ConfigError as exc:
        raise Fail(str(exc), EXIT_CONFIG) from None
    rule = next((r for r in rules if r.id == topic), None)
    if rule is None:
        raise Fail(
            f"{cfg.source}: no topic {topic!r} (known: {[r.id for r in rules]})", EXIT_CONFIG
        )
    start = parse_since(since)
    tagger = load_tagger(cfg.tagging_paths())[0]
    con = open_reader(cfg)
    try:
        rows = reads.articles_as_first_seen(con, start)
    finally:
        con.close()
    max_age_h = cfg.alerts.max_age_h
    result = backtest(rule, tagger, rows, max_age_h)
    followers = len(subscriptions.get(topic, ()))
    stories = len(result.stories)
    console.print(
        f"Topic {topic} (rule {rule.version}) since {start:%Y-%m-%d}: {result.checked} articles "
        f"checked, {result.matched} match, {stories} distinct stories -> "
        f"{stories * followers} alerts for {followers} subscriber(s): "
        f"{result.fresh * followers} sent, {result.stale * followers} kept as stale "
        f"(older than \\[alerts] max_age_h = {max_age_h:g} h when matched). Nothing was sent.",
        highlight=False,
    )
    table = Table(title="Sample matches (newest first)")
    for column in ("date", "title", "source", "evidence", "alert"):
        table.add_column(column, overflow="fold")
    for match in result.newest(samples):
        table.add_row(
            f"{match.when:%Y-%m-%d}",
            match.title or "",
            match.site or "",
            "; ".join(match.evidence[:4]),
            "stale" if match.stale else "sent",
        )
    console.print(table)
