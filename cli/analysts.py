"""The analysts' commands, all on the read-only snapshot: `query`, `search`, `sql`, `report`
and `export`."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.table import Table

from spacewatch.cli.app import (
    EXIT_CONFIG,
    READ_ONLY,
    ConfigOption,
    Fail,
    app,
    console,
    duckdb_message,
    load_cfg,
    open_analyst_view,
    parse_since,
    refused_or_failed,
)

_EXPLAIN = re.compile(r"\s*EXPLAIN\s*(?:\([^)]*\)\s*)?(?:ANALYZE\b)?", re.IGNORECASE)


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
    cfg = load_cfg(config)
    # Only a Parquet --out is written by DuckDB itself; the other formats are written here.
    con = open_analyst_view(cfg, (out,) if output_format == "parquet" and out else ())
    try:
        statements = check_read_only(sql, con)
        try:
            for statement in statements[:-1]:
                con.execute(statement)
            relation = con.sql(statements[-1])
            emit(relation, output_format, out)
        except duckdb.Error as exc:
            raise refused_or_failed(exc) from None
    finally:
        con.close()


def emit(relation: duckdb.DuckDBPyRelation | None, output_format: str, out: Path | None) -> None:
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

    cfg = load_cfg(config)
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
    cfg = load_cfg(config)
    filters = SearchFilters(
        actors=tuple(actor or ()),
        themes=tuple(theme or ()),
        source=source,
        since=parse_since(since) if since else None,
        until=parse_since(until, "--until") if until else None,
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
            emit(con.sql(sql, params=params), output_format, None)
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
    cfg = load_cfg(config)
    start = parse_since(since)
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
    cfg = load_cfg(config)
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
