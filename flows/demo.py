"""`spacewatch demo`: the bundled sample, served on loopback, through the real pipeline twice."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spacewatch.loopback import SAMPLE_DIR, LoopbackServer, load_sample_routes
from spacewatch.warehouse import reads
from spacewatch.warehouse.connect import connect


def write_demo_config(workdir: Path, base_url: str, sample_dir: Path = SAMPLE_DIR) -> Path:
    manifest = tomllib.loads((sample_dir / "manifest.toml").read_text("utf-8"))
    feeds = "\n".join(
        f'[[feeds]]\nurl = "{base_url}/feeds/{feed["file"]}"\nname = "{feed["name"]}"\n'
        for feed in manifest["feeds"]
    )
    config = workdir / "spacewatch.toml"
    config.write_text(
        "# Written by `spacewatch demo`: the bundled sample served on loopback.\n"
        '[warehouse]\npath = "demo.duckdb"\n\n'
        "[fetch]\nallow_private_addresses = true  # the sample is served on 127.0.0.1\n"
        "timeout_s = 15\n\n" + feeds,
        encoding="utf-8",
    )
    return config


def run_demo(workdir: Path, console: Console) -> None:
    from spacewatch.flows.pipeline import run_pipeline

    if workdir.exists():
        shutil.rmtree(workdir)  # a throw-away warehouse: every demo starts from nothing
    workdir.mkdir(parents=True)
    with LoopbackServer() as server:
        for path, route in load_sample_routes(server.base_url).items():
            server.set(path, route)
        config = write_demo_config(workdir, server.base_url)
        console.print(f"Sample served at {server.base_url}; configuration {config}")
        for label in ("First run", "Second run (same feeds, same warehouse)"):
            with console.status(f"{label}: running the pipeline through Prefect..."):
                summary = run_pipeline(config)
            console.rule(label)
            for line in summary.lines():
                console.print(line)
            for failure in summary.failures:
                console.print(f"  failed: {failure}", markup=False)
            if label == "First run":
                print_ingested(workdir / "demo.duckdb", console)
    console.print(f"\nWarehouse kept at {workdir / 'demo.duckdb'} for a look with DuckDB.")


def print_ingested(path: Path, console: Console) -> None:
    con = connect(path, read_only=True)
    try:
        rows = reads.ingested_articles(con)
    finally:
        con.close()
    table = Table(title="Articles ingested (story: syndicated copies share one)")
    columns = (
        "id",
        "story",
        "site",
        "title",
        "method",
        "words",
        "lang",
        "sources",
        "policy",
        "top themes",
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
