"""The `spacewatch` command. It only wires configuration, the flow and the warehouse together."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from spacewatch.config import Config, ConfigError, load_config
from spacewatch.warehouse.connect import WarehouseBusy, WarehouseError, connect, writer_lock
from spacewatch.warehouse.migrate import SchemaError, check_schema

app = typer.Typer(
    name="spacewatch",
    help="Monitor space-policy news: poll feeds, extract articles, store them in DuckDB.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
# Pipes and CI logs get a wide console so tables stay readable instead of wrapping at 80.
console = Console(width=None if sys.stdout.isatty() else 160)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file (default: ./spacewatch.toml, or $SPACEWATCH_CONFIG).",
        show_default=False,
    ),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")]

EXIT_FAILED, EXIT_CONFIG, EXIT_BUSY = 1, 2, 3


class Fail(Exception):
    """An error the user can act on; printed as one line."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def prefect_environment(verbose: bool = False, console: str = "CRITICAL") -> None:
    """Defaults that make Prefect's embedded server dependable on a fresh, offline machine.

    The terminal and Prefect's API get separate levels: the flow and task run loggers always
    send INFO to the API (the UI shows each run's summary and every failed feed or page),
    while Prefect's console handler shows only `console` and above (INFO with --verbose).
    Variables already set in the environment win.
    """
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else console)
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "INFO" if verbose else console)


def _load(config: Path | None) -> Config:
    try:
        return load_config(config)
    except ConfigError as exc:
        raise Fail(str(exc), EXIT_CONFIG) from None


def _check_writable(cfg: Config) -> None:
    """Fail fast, before Prefect starts, when another run holds the warehouse."""
    try:
        with writer_lock(cfg.warehouse_path, 0):
            pass
    except WarehouseBusy as exc:
        raise Fail(str(exc), EXIT_BUSY) from None


def _check_rules(cfg: Config) -> None:
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

    _check_rules(cfg)
    if wait_s <= 0:
        _check_writable(cfg)
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
    cfg = _load(config)
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


def _age(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{seconds / size:.0f}{unit}"
            break
    else:
        text = f"{seconds:.0f}s"
    return f"in {text}" if future else f"{text} ago"


def open_reader(cfg: Config) -> duckdb.DuckDBPyConnection:
    try:
        con = connect(cfg.warehouse_path, read_only=True)
        check_schema(con, str(cfg.warehouse_path))
        return con
    except WarehouseBusy:
        raise Fail(
            f"{cfg.warehouse_path}: a run is writing the warehouse right now; try again in a "
            "moment",
            EXIT_BUSY,
        ) from None
    except (WarehouseError, SchemaError) as exc:
        raise Fail(str(exc)) from None


@app.command()
def feeds(config: ConfigOption = None) -> None:
    """List feeds with their health: last success, consecutive failures, next due time.

    Example:

        spacewatch feeds --config spacewatch.toml
    """
    cfg = _load(config)
    con = open_reader(cfg)
    try:
        rows = con.execute(
            """SELECT f.feed_id, coalesce(f.name, f.title, ''), f.url, f.active,
                      f.last_success_at, f.consecutive_failures, f.next_due_at,
                      f.last_outcome, f.last_error,
                      (SELECT count(*) FROM article_sources s WHERE s.feed_id = f.feed_id)
               FROM feeds f ORDER BY f.active DESC, f.consecutive_failures DESC, f.feed_id"""
        ).fetchall()
    finally:
        con.close()
    now = datetime.now(UTC)
    table = Table(title=f"Feeds in {cfg.warehouse_path}")
    for column in (
        "id",
        "name",
        "url",
        "last success",
        "failures",
        "next due",
        "last outcome",
        "articles",
    ):
        table.add_column(column, overflow="fold")
    for fid, name, url, active, ok_at, fails, due, outcome, error, count in rows:
        status = outcome or "not polled"
        if error:
            status += f": {error}"
        if not active:
            status = "inactive (removed from config)"
        style = "red" if fails else None
        table.add_row(
            str(fid),
            name,
            url,
            _age(ok_at, now),
            str(fails),
            _age(due, now),
            status,
            str(count),
            style=style,
        )
    console.print(table)


def _tag_source(path: str) -> tuple[str, str, str | None]:
    """(source label, text, title) from a file or standard input; HTML is extracted first."""
    from spacewatch.extractors.articles import extract_article

    if path == "-":
        raw, label = sys.stdin.buffer.read(), "<stdin>"
    else:
        try:
            raw, label = Path(path).read_bytes(), path
        except OSError as exc:
            raise Fail(f"{path}: cannot read: {exc.strerror or exc}") from None
    head = raw[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<body" in raw[:65536].lower():
        extracted = extract_article(raw)
        if extracted.text:
            return label, extracted.text, extracted.title
    return label, raw.decode("utf-8", errors="replace"), None


@app.command()
def tag(
    paths: Annotated[list[str], typer.Argument(help="Files to tag (HTML or text); - for stdin.")],
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per input.")] = False,
    config: ConfigOption = None,
) -> None:
    """Tag texts or HTML pages: relevance, themes and actors, with their evidence.

    Uses the registries named in the configuration's [tagging] section when a configuration
    is given or found, the bundled ones otherwise. Nothing is stored.

    Example:

        spacewatch tag --json article.html notes.txt
        curl -s https://example.org/story | spacewatch tag -
    """
    import json

    from spacewatch.seeds.tagging import load_tagger

    cfg_path = config if config is not None else None
    paths_cfg: tuple[str | None, ...] = (None, None, None, None)
    if (
        cfg_path is not None
        or Path(os.environ.get("SPACEWATCH_CONFIG", "spacewatch.toml")).exists()
    ):
        paths_cfg = _load(cfg_path).tagging_paths()
    try:
        tagger = load_tagger(paths_cfg)[0]
    except ValueError as exc:  # RegistryError names the file and line
        raise Fail(str(exc), EXIT_CONFIG) from None
    for path in paths:
        label, text, title = _tag_source(path)
        result = tagger.tag(text, title=title)
        record = {
            "source": label,
            "language": result.language,
            "relevant": result.relevant,
            "relevance": round(result.relevance, 3),
            "themes_judged": result.themes_judged,
            "themes": [
                {"id": t.id, "score": round(t.score, 3), "evidence": list(t.evidence)}
                for t in result.themes
            ],
            "actors": [
                {"id": a.id, "mentions": a.mentions, "evidence": list(a.evidence)}
                for a in result.actors
            ],
            "seed_similarity": round(result.seed_similarity_max, 3),
            "model_version": result.model_version,
        }
        if json_output:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
            continue
        verdict = "relevant" if result.relevant else "not space policy"
        console.print(
            f"[bold]{label}[/]: {verdict} ({result.relevance:.2f}), language {result.language}",
            highlight=False,
        )
        table = Table(show_header=True)
        for column in ("kind", "id", "score / mentions", "evidence"):
            table.add_column(column, overflow="fold")
        for t in result.themes:
            table.add_row("theme", t.id, f"{t.score:.2f}", "; ".join(t.evidence[:3]))
        for a in result.actors:
            table.add_row("actor", a.id, str(a.mentions), "; ".join(a.evidence[:3]))
        if not result.themes_judged:
            console.print("  themes not judged for this language", highlight=False)
        console.print(table)


@app.command()
def retag(
    config: ConfigOption = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for a running pipeline to finish.")
    ] = 0.0,
) -> None:
    """Recompute the tags of every stored article after a registry or model change; fetches nothing.

    Example:

        spacewatch retag --config spacewatch.toml
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from spacewatch.flows.retag import retag as run_retag

    cfg = _load(config)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    try:
        with _writer(cfg, wait) as con, progress as bar:
            job = bar.add_task("Re-tagging articles", total=None)
            count, version = run_retag(
                con, cfg, lambda done, total: bar.update(job, completed=done, total=total)
            )
    except ValueError as exc:  # RegistryError: file and line
        raise Fail(str(exc), EXIT_CONFIG) from None
    console.print(f"Re-tagged {count} articles with tagger version {version}.")


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
    cfg = _load(config)
    con = open_reader(cfg)
    try:
        rows = con.execute(
            """SELECT al.alert_id, al.created_at, al.topic_id, al.subscriber, al.status,
                      al.attempts, coalesce(al.last_error, al.note, ''), left(a.title, 60)
               FROM alerts al JOIN articles a USING (article_id)
               ORDER BY al.alert_id DESC LIMIT ?""",
            [limit],
        ).fetchall()
        counts = dict(con.execute("SELECT status, count(*) FROM alerts GROUP BY 1").fetchall())
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


@contextmanager
def _writer(cfg: Config, wait: float = 0.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse opened for writing under the run lock, with one-line errors."""
    from spacewatch.warehouse.connect import open_for_writing

    if not cfg.warehouse_path.exists():
        raise Fail(f"{cfg.warehouse_path}: warehouse not found (run `spacewatch run` first)")
    try:
        with writer_lock(cfg.warehouse_path, wait):
            con = open_for_writing(cfg.warehouse_path)
            try:
                yield con
            finally:
                con.close()
    except WarehouseBusy as exc:
        raise Fail(str(exc), EXIT_BUSY) from None
    except (WarehouseError, SchemaError) as exc:
        raise Fail(str(exc)) from None


@alerts_app.command("retry")
def alerts_retry(config: ConfigOption = None) -> None:
    """Retry failed and pending alerts now, whatever their next attempt time.

    Example:

        spacewatch alerts retry --config spacewatch.toml
    """
    from spacewatch.alerts.delivery import deliver_due, delivering

    cfg = _load(config)
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

    cfg = _load(config)
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
    from spacewatch.alerts.rules import match_topic, stale_reason
    from spacewatch.alerts.topics import load_rules
    from spacewatch.seeds.tagging import load_tagger

    cfg = _load(config)
    try:
        rules, subscriptions = load_rules(cfg, load_tagger(cfg.tagging_paths())[1])
    except ConfigError as exc:
        raise Fail(str(exc), EXIT_CONFIG) from None
    rule = next((r for r in rules if r.id == topic), None)
    if rule is None:
        raise Fail(
            f"{cfg.source}: no topic {topic!r} (known: {[r.id for r in rules]})", EXIT_CONFIG
        )
    start = _since(since)
    tagger = load_tagger(cfg.tagging_paths())[0]
    con = open_reader(cfg)
    try:
        # The story's earliest publication and first sight among the copies stored by the
        # time each article arrived: what the pipeline knew when it matched that article.
        rows = con.execute(
            """WITH known AS (
                   SELECT *,
                       min(published_at) OVER w AS story_published,
                       min(first_seen_at) OVER w AS story_seen
                   FROM articles
                   WINDOW w AS (PARTITION BY story_id ORDER BY first_seen_at
                                RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
               SELECT article_id, story_id, title, text, coalesce(published_at, first_seen_at),
                      site_name, canonical_url, story_published, story_seen, first_seen_at
               FROM known WHERE coalesce(published_at, first_seen_at) >= ?
               ORDER BY first_seen_at, article_id""",
            [start],
        ).fetchall()
    finally:
        con.close()
    stories: dict[int, tuple] = {}
    matched_articles = 0
    max_age_h = cfg.alerts.max_age_h
    for _aid, story, title, text, when, site, url, published, seen, first_seen in rows:
        evidence = match_topic(
            rule, tagger.tag(text or "", title=title, published=when), text, title
        )
        if evidence is None:
            continue
        matched_articles += 1
        # The first matching copy makes the alert, as in the pipeline (one per story).
        stale = stale_reason(published, seen, first_seen, max_age_h)
        stories.setdefault(story, (when, title, site, url, evidence, stale))
    followers = len(subscriptions.get(topic, ()))
    stale_count = sum(1 for s in stories.values() if s[5] is not None)
    fresh_count = len(stories) - stale_count
    console.print(
        f"Topic {topic} (rule {rule.version}) since {start:%Y-%m-%d}: {len(rows)} articles "
        f"checked, {matched_articles} match, {len(stories)} distinct stories -> "
        f"{len(stories) * followers} alerts for {followers} subscriber(s): "
        f"{fresh_count * followers} sent, {stale_count * followers} kept as stale "
        f"(older than \\[alerts] max_age_h = {max_age_h:g} h when matched). Nothing was sent.",
        highlight=False,
    )
    table = Table(title="Sample matches (newest first)")
    for column in ("date", "title", "source", "evidence", "alert"):
        table.add_column(column, overflow="fold")
    newest = sorted(stories.values(), key=lambda s: s[0], reverse=True)
    for when, title, site, _url, evidence, stale in newest[:samples]:
        table.add_row(
            f"{when:%Y-%m-%d}",
            title or "",
            site or "",
            "; ".join(evidence[:4]),
            "stale" if stale else "sent",
        )
    console.print(table)


def _since(value: str, flag: str = "--since") -> datetime:
    import re
    from datetime import timedelta

    match = re.fullmatch(r"(\d+)([dw])", value.strip())
    if match:
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        return datetime.now(UTC) - timedelta(days=days)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise Fail(f"{flag} {value!r}: expected 90d, 12w or a date like 2024-01-31") from None
    # An offset is honoured (2024-01-31T08:00+02:00 is 06:00 UTC); without one, UTC.
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


@app.command()
def digest(
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option(help="Send now even if today's digest went out.")] = False,
) -> None:
    """Send the digests that are due: waiting alerts grouped by topic, newest first.

    Example:

        spacewatch digest --config spacewatch.toml
    """
    cfg = _load(config)
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


def open_analyst_view(cfg: Config, writable: tuple[Path, ...] = ()) -> duckdb.DuckDBPyConnection:
    """The snapshot, read-only and locked: no file, network, ATTACH, INSTALL, LOAD or SET.

    `writable` lists what the tool itself writes through DuckDB (never what user SQL names).
    """
    from spacewatch.warehouse.fts import FtsUnavailable
    from spacewatch.warehouse.snapshot import SnapshotMissing, open_snapshot

    try:
        return open_snapshot(cfg.warehouse_path, writable)
    except (SnapshotMissing, FtsUnavailable) as exc:
        raise Fail(str(exc)) from None


READ_ONLY = "spacewatch query is read-only"
_EXPLAIN = re.compile(r"\s*EXPLAIN\s*(?:\([^)]*\)\s*)?(?:ANALYZE\b)?", re.IGNORECASE)


def duckdb_message(exc: duckdb.Error) -> str:
    """DuckDB's message with its hints ("Did you mean", candidate bindings), without the
    echo of the query and its caret, as a few indented lines."""
    lines: list[str] = []
    for line in str(exc).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return "\n  ".join(lines) or type(exc).__name__


def check_read_only(sql: str, con: duckdb.DuckDBPyConnection) -> list[str]:
    """The statements to run, once each (and each EXPLAINed one) is known to be a query.

    This gives the clear message; the real guard is the locked connection, which refuses
    files, network, ATTACH, INSTALL, LOAD and SET whatever the statement looks like.
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise Fail(f"cannot parse the query: {duckdb_message(exc)}") from None
    if not statements:
        raise Fail("empty query")
    for statement in statements:
        kind, text = statement.type.name, statement.query
        if kind == "EXPLAIN":
            match = _EXPLAIN.match(text)
            inner = con.extract_statements(text[match.end() :]) if match else []
            kinds = [s.type.name for s in inner]
            kind = "EXPLAIN " + (kinds[0] if len(kinds) == 1 else "(unrecognised)")
            if kinds == ["SELECT"]:
                continue
        if kind != "SELECT":
            raise Fail(
                f"{READ_ONLY}: {kind} statements are refused "
                "(the warehouse is only changed by the pipeline)"
            )
    return [s.query for s in statements]


def refused_or_failed(exc: duckdb.Error) -> Fail:
    """A locked connection's refusal says read-only; anything else is the query's own error."""
    if isinstance(exc, duckdb.PermissionException) or "configuration has been locked" in str(exc):
        return Fail(
            f"{READ_ONLY}: {duckdb_message(exc)} (SQL here may not read or write files, "
            "attach databases, install or load extensions, change settings or reach the "
            "network)"
        )
    return Fail(f"query failed: {duckdb_message(exc)}")


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One or more read-only SQL statements.")],
    config: ConfigOption = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table, csv, json or parquet.")
    ] = "table",
    out: Annotated[Path | None, typer.Option(help="Write to this file instead.")] = None,
) -> None:
    """Run read-only SQL on the analysts' snapshot (never blocks or changes the warehouse).

    The snapshot is published at the end of every run: it is as fresh as the last completed
    run. Views: v_articles, v_actor_mentions, v_theme_mentions, v_actor_trends,
    v_theme_trends (and their _relevant variants), v_recurring, v_emerging_actors,
    v_feed_health, v_alert_log, and the search_stories macro (docs/warehouse.md). The
    connection is locked: no file, network, ATTACH, INSTALL, LOAD or SET; only SELECT.

    Example:

        spacewatch query "SELECT title, themes FROM v_articles WHERE relevant" --format csv
    """
    if output_format not in ("table", "csv", "json", "parquet"):
        raise Fail(f"--format {output_format!r}: expected table, csv, json or parquet", EXIT_CONFIG)
    if output_format == "parquet" and out is None:
        raise Fail("--format parquet needs --out FILE", EXIT_CONFIG)
    cfg = _load(config)
    # Only a Parquet --out is written by DuckDB itself; the other formats are written here.
    con = open_analyst_view(cfg, (out,) if output_format == "parquet" and out else ())
    try:
        statements = check_read_only(sql, con)
        try:
            for statement in statements[:-1]:
                con.execute(statement)
            relation = con.sql(statements[-1])
            _emit(relation, output_format, out)
        except duckdb.Error as exc:
            raise refused_or_failed(exc) from None
    finally:
        con.close()


def _emit(relation: duckdb.DuckDBPyRelation | None, output_format: str, out: Path | None) -> None:
    import json

    if relation is None:
        return
    if output_format == "parquet":
        relation.write_parquet(str(out))
        console.print(f"wrote {out}")
        return
    if output_format == "csv":
        from spacewatch.warehouse.export import write_csv

        if out is not None:
            with out.open("w", encoding="utf-8", newline="") as stream:
                write_csv(relation, stream)
            console.print(f"wrote {out}")
        else:
            write_csv(relation, sys.stdout)
        return
    columns = relation.columns
    if output_format == "json":
        rows = relation.fetchall()
        text = "\n".join(
            json.dumps(dict(zip(columns, row, strict=True)), default=str, ensure_ascii=False)
            for row in rows
        )
        if out is not None:
            out.write_text(text + "\n", encoding="utf-8")
            console.print(f"wrote {out}")
        else:
            sys.stdout.write(text + ("\n" if text else ""))
        return
    from rich.text import Text

    from spacewatch.warehouse.export import text_of

    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    rows = text_of(relation).fetchall()  # lists as [a, b], booleans as true, as in CSV
    for row in rows:
        table.add_row(*(Text("NULL" if v is None else v) for v in row))
    console.print(table)
    console.print(f"{len(rows)} row(s)")


@app.command()
def sql(
    config: ConfigOption = None,
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the shell command instead of running it.")
    ] = False,
) -> None:
    """Open the analysts' snapshot in the DuckDB shell: read-only, UTC, full-text search loaded.

    The shell comes with Spacewatch (the duckdb-cli package, same version as DuckDB). It opens
    <warehouse>.snapshot.duckdb, the file docs/warehouse.md and docs/sql-cookbook.md use, with
    the views and the search_stories macro.

    Example:

        spacewatch sql
        echo "SELECT count(*) FROM v_articles;" | spacewatch sql
        spacewatch sql --print
    """
    import shlex

    from spacewatch.warehouse.snapshot import SnapshotMissing, shell_command, snapshot_path

    cfg = _load(config)
    path = snapshot_path(cfg.warehouse_path)
    if not path.exists():
        raise Fail(f"{path}: no analysts' snapshot yet (run `spacewatch run` first)")
    try:
        command = shell_command(cfg.warehouse_path)
    except SnapshotMissing as exc:
        raise Fail(str(exc)) from None
    if print_only:
        print(shlex.join(command))
        return
    sys.stdout.flush()
    os.execv(command[0], command)


@app.command()
def search(
    text: Annotated[
        str,
        typer.Argument(
            help='Words (all must appear), "a phrase", a OR b, -excluded; empty: filters alone.'
        ),
    ] = "",
    config: ConfigOption = None,
    actor: Annotated[
        list[str] | None, typer.Option(help="Only articles naming this actor id (repeatable).")
    ] = None,
    theme: Annotated[
        list[str] | None, typer.Option(help="Only articles with this theme id (repeatable).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Site or feed name contains this.")] = None,
    since: Annotated[str | None, typer.Option(help="From this date (2021-01-01) or 90d.")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this date, inclusive.")] = None,
    relevant: Annotated[
        bool,
        typer.Option(
            "--relevant/--all",
            help="Space-policy articles only (as `spacewatch report`), or every article.",
        ),
    ] = True,
    limit: Annotated[int, typer.Option(help="How many stories.")] = 20,
    output_format: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Search stories like a search box: ranked by BM25, one row per story with its outlets.

    All words must appear (stemmed: stations finds station); "quoted words" must appear as a
    phrase; OR joins alternatives; -word or -"a phrase" leaves articles out. Without words,
    the filters alone list stories newest first. The same search is the SQL macro
    search_stories in the snapshot (docs/warehouse.md).

    Example:

        spacewatch search '"lunar station" Russia OR China -Gateway' --since 2021-01-01
        spacewatch search --actor roscosmos --since 90d
    """
    from spacewatch.warehouse.search import SearchFilters, build_search, unknown_ids

    if output_format not in ("table", "csv", "json"):
        raise Fail(f"--format {output_format!r}: expected table, csv or json", EXIT_CONFIG)
    cfg = _load(config)
    filters = SearchFilters(
        actors=tuple(actor or ()),
        themes=tuple(theme or ()),
        source=source,
        since=_since(since) if since else None,
        until=_since(until, "--until") if until else None,
        relevant=relevant,
    )
    sql, params = build_search(text, filters, limit)
    con = open_analyst_view(cfg)
    try:
        for kind, wanted in (("actor", filters.actors), ("theme", filters.themes)):
            unknown, valid = unknown_ids(con, kind, wanted)
            if unknown:
                raise Fail(
                    f"--{kind}: unknown id(s) {', '.join(unknown)}; valid: {', '.join(valid)}",
                    EXIT_CONFIG,
                )
        try:
            _emit(con.sql(sql, params=params), output_format, None)
        except duckdb.CatalogException as exc:
            if "search_stories" not in str(exc):
                raise
            raise Fail(
                "the analysts' snapshot predates search_stories; the next `spacewatch run` "
                "publishes one that has it"
            ) from None
    except duckdb.Error as exc:
        raise refused_or_failed(exc) from None
    finally:
        con.close()


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

    cfg = _load(config)
    _check_rules(cfg)
    prefect_environment(verbose, console="WARNING")
    try:
        serve_forever(cfg, port, console)
    except ServerError as exc:
        raise Fail(str(exc)) from None


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

    cfg = _load(config)
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

    cfg = _load(config)
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


@app.command()
def report(
    config: ConfigOption = None,
    since: Annotated[
        str, typer.Option(help="How far back: 90d, 12w or a date (2024-01-31).")
    ] = "90d",
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("report.html"),
    png_dir: Annotated[
        Path | None, typer.Option(help="Also write the charts as PNG files into this folder.")
    ] = None,
    all_articles: Annotated[
        bool, typer.Option(help="Chart every article, not only space-policy ones.")
    ] = False,
) -> None:
    """Write a self-contained HTML report from the analysts' snapshot; it opens offline.

    Actors and themes over time (weekly or monthly), top stories per theme with their
    evidence, recurring and emerging actors, alert counts, and the snapshot's freshness.

    Example:

        spacewatch report --since 90d --out report.html --png-dir charts/
    """
    import time

    from spacewatch.report import save_report
    from spacewatch.warehouse.report_data import load_report_data
    from spacewatch.warehouse.snapshot import snapshot_path

    started = time.perf_counter()
    cfg = _load(config)
    start = _since(since)
    con = open_analyst_view(cfg)
    try:
        data = load_report_data(
            con, start, relevant_only=not all_articles, snapshot=snapshot_path(cfg.warehouse_path)
        )
    except duckdb.Error as exc:
        raise Fail(f"cannot read the snapshot: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    try:
        size, pngs = save_report(data, out, png_dir)
    except OSError as exc:
        raise Fail(f"{exc.filename or out}: cannot write: {exc.strerror or exc}") from None
    what = "no articles in this period" if data.empty else f"{data.articles_in_period} articles"
    console.print(
        f"wrote {out} ({size / 1024:.0f} KB, {what} since {start:%Y-%m-%d}) "
        f"in {time.perf_counter() - started:.1f} s",
        highlight=False,
    )
    for path in pngs:
        console.print(f"wrote {path}", highlight=False)


@app.command()
def export(
    config: ConfigOption = None,
    output_format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    out: Annotated[Path, typer.Option(help="Folder to write into.")] = Path("spacewatch-export"),
    views: Annotated[
        str | None,
        typer.Option(help="Comma-separated views to export (default: every v_* view)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a previous export in a non-empty --out folder.")
    ] = False,
) -> None:
    """Export the analysts' views from the snapshot to Parquet or CSV files, with a manifest.

    Views with a row per article or alert are partitioned by month (Hive style:
    v_articles/month=2026-11/data_0.parquet); the others are one file each. manifest.json
    lists each view's row count and files. A non-empty --out is refused unless --overwrite.

    Example:

        spacewatch export --format parquet --out exports/ --views v_articles,v_actor_trends
    """
    from spacewatch.warehouse.export import (
        FORMATS,
        ExportError,
        begin_export,
        export_views,
        list_views,
        parse_view_names,
    )
    from spacewatch.warehouse.snapshot import snapshot_path

    if output_format not in FORMATS:
        raise Fail(f"--format {output_format!r}: expected parquet or csv", EXIT_CONFIG)
    cfg = _load(config)
    con = open_analyst_view(cfg)
    try:
        names = parse_view_names(views, list_views(con))
    except ExportError as exc:
        raise Fail(str(exc), EXIT_CONFIG) from None
    finally:
        con.close()
    try:
        staging = begin_export(out, overwrite)
        try:
            # Locked like every analyst's connection; only the staging folder is writable.
            con = open_analyst_view(cfg, (staging.folder,))
            try:
                manifest = export_views(
                    con, snapshot_path(cfg.warehouse_path), staging, output_format, names
                )
            finally:
                con.close()
        finally:
            shutil.rmtree(staging.folder, ignore_errors=True)
    except ExportError as exc:
        raise Fail(str(exc)) from None
    except OSError as exc:
        raise Fail(f"{exc.filename or out}: cannot write: {exc.strerror or exc}") from None
    except duckdb.Error as exc:
        raise Fail(f"export failed: {duckdb_message(exc)}") from None
    for name, view in manifest.views.items():
        parts = f" in {view.partitions} monthly partitions" if view.partitioned_by else ""
        console.print(f"{name}: {view.rows} rows{parts}", highlight=False)
    console.print(f"wrote {out}/ (manifest: {out / 'manifest.json'})", highlight=False)


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
        check_health,
        load_recent_notices,
        open_status_source,
        render_status,
    )

    if output_format not in ("table", "json"):
        raise Fail(f"--format {output_format!r}: expected table or json", EXIT_CONFIG)
    cfg = _load(config)
    try:
        con, source = open_status_source(cfg)
    except StatusUnavailable as exc:
        raise Fail(str(exc)) from None
    try:
        report = check_health(con, cfg, datetime.now(UTC))
        notices = load_recent_notices(con)
    except duckdb.Error as exc:
        where = source.snapshot if source.kind == "snapshot" else source.warehouse
        raise Fail(f"{where}: cannot read: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    if output_format == "json":
        record = build_status_record(report, source, notices)
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        for part in render_status(report, source, notices):
            console.print(part, highlight=False)
    if not report.healthy:
        raise typer.Exit(EXIT_UNHEALTHY)


def plain_help(text: str) -> str:
    """Help text shown as written: Rich would read `[health]` as a style tag and drop it.

    Prose lines of a paragraph are joined (the terminal wraps them); indented blocks, the
    examples, keep their lines.
    """
    from rich.markup import escape

    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines = paragraph.splitlines()
        if lines and not any(line.startswith(" ") for line in lines):
            paragraph = " ".join(line.strip() for line in lines)
        paragraphs.append(escape(paragraph))
    return "\n\n".join(paragraphs)


def _keep_help_as_written(group: typer.Typer, seen: set[int]) -> None:
    """Apply `plain_help` to every command, group and option help of the app, once each."""
    import typing

    from typer.models import ParameterInfo

    if group.info.help and id(group.info) not in seen:
        seen.add(id(group.info))
        group.info.help = plain_help(group.info.help)
    infos = [*group.registered_commands]
    if group.registered_callback is not None:
        infos.append(group.registered_callback)  # type: ignore[arg-type]
    for info in infos:
        if id(info) in seen or info.callback is None:
            continue
        seen.add(id(info))
        doc = info.help or inspect.getdoc(info.callback)
        if doc:
            info.help = plain_help(doc)
        hints = typing.get_type_hints(info.callback, include_extras=True)
        for hint in hints.values():
            for meta in getattr(hint, "__metadata__", ()):
                if isinstance(meta, ParameterInfo) and meta.help and id(meta) not in seen:
                    seen.add(id(meta))
                    meta.help = plain_help(meta.help)
    for sub in group.registered_groups:
        if sub.help and id(sub) not in seen:
            seen.add(id(sub))
            sub.help = plain_help(sub.help)
        if sub.typer_instance is not None:
            _keep_help_as_written(sub.typer_instance, seen)


_keep_help_as_written(app, set())


def command_flags(argv: list[str]) -> set[str]:
    """Every option the command named in `argv` accepts (sub-commands resolved): error lines
    may promise only these."""
    command = typer.main.get_command(app)
    flags = {opt for param in command.params for opt in param.opts}
    args = [a for a in argv if not a.startswith("-")]
    while args and hasattr(command, "commands"):
        sub = command.commands.get(args.pop(0))  # type: ignore[attr-defined]
        if sub is None:
            continue  # an option's value, e.g. the file after -c
        command = sub
        flags = {opt for param in command.params for opt in param.opts}
    return flags


def error_line(exc: BaseException, flags: set[str]) -> str:
    """The one line every error is printed as; it names only flags the command has."""
    if isinstance(exc, Fail):
        line = f"spacewatch: error: {exc}"
        if exc.code == EXIT_BUSY and "--wait" in flags:
            line += " (or pass --wait SECONDS to wait for it)"
        return line
    hint = "run again with SPACEWATCH_DEBUG=1 for the traceback"
    if "--verbose" in flags:
        hint = "run with --verbose for Prefect's logs, or SPACEWATCH_DEBUG=1 for the traceback"
    return f"spacewatch: error: {type(exc).__name__}: {exc} ({hint})"


def main() -> None:
    flags = command_flags(sys.argv[1:])
    try:
        code = app(standalone_mode=False)  # returns typer.Exit's code instead of exiting
        if isinstance(code, int) and code:
            sys.exit(code)
    except Fail as exc:
        print(error_line(exc, flags), file=sys.stderr)
        sys.exit(exc.code)
    except typer.Abort:
        print("spacewatch: aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("spacewatch: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # the last resort: one line, not a traceback
        # Usage errors come from the click that typer bundles; recognise them by shape.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Exit" and hasattr(exc, "exit_code"):
            sys.exit(exc.exit_code)
        if os.environ.get("SPACEWATCH_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        print(error_line(exc, flags), file=sys.stderr)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
