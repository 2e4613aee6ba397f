"""`spacewatch tag` (texts or pages, nothing stored) and `spacewatch retag` (every stored
article)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from spacewatch.cli.app import (
    EXIT_CONFIG,
    ConfigOption,
    Fail,
    app,
    console,
    load_cfg,
    open_writer,
)


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
        paths_cfg = load_cfg(cfg_path).tagging_paths()
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

    cfg = load_cfg(config)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    try:
        with open_writer(cfg, wait) as con, progress as bar:
            job = bar.add_task("Re-tagging articles", total=None)
            count, version = run_retag(
                con, cfg, lambda done, total: bar.update(job, completed=done, total=total)
            )
    except ValueError as exc:  # RegistryError: file and line
        raise Fail(str(exc), EXIT_CONFIG) from None
    console.print(f"Re-tagged {count} articles with tagger version {version}.")
