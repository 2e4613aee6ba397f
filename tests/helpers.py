"""Helpers shared by tests (not fixtures)."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from spacewatch.loopback import SAMPLE_DIR, LoopbackServer, load_sample_routes
from spacewatch.seeds.tagger import ActorMention, TagResult, ThemeTag


def write_config(folder: Path, feeds: list[tuple[str, str | None]], **sections: str) -> Path:
    """A config file for tests: loopback allowed, short timeouts, two workers."""
    lines = ['[warehouse]\npath = "wh.duckdb"\n']
    fetch = sections.pop("fetch", "")
    lines.append(f"[fetch]\nallow_private_addresses = true\ntimeout_s = 5\n{fetch}\n")
    extract = sections.pop("extract", "")
    lines.append(f"[extract]\nworkers = 2\n{extract}\n")
    for name, body in sections.items():
        lines.append(f"[{name}]\n{body}\n")
    for url, name in feeds:
        lines.append(f'[[feeds]]\nurl = "{url}"\n' + (f'name = "{name}"\n' if name else ""))
    path = folder / "spacewatch.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def sample_feeds(base_url: str) -> list[tuple[str, str | None]]:
    import tomllib

    manifest = tomllib.loads((SAMPLE_DIR / "manifest.toml").read_text("utf-8"))
    return [(f"{base_url}/feeds/{f['file']}", f["name"]) for f in manifest["feeds"]]


def query(path: Path, sql: str, params: list | None = None, wait_s: float = 0) -> list[tuple]:
    """Read the warehouse the way an analyst would: a separate read-only connection.

    `wait_s`: keep trying that long while a writer holds the file (a delivery records each
    outcome in a short write of its own, so a test that reads while one runs must wait)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# A page carrying this marker makes `poisoned_work_page` raise, as an extractor bug that only
# one page triggers would. Tests put the function in place of `steps.work_page` (the pipeline
# looks it up when it schedules each page), so it runs in the real worker processes and its
# exception travels back through pebble exactly as a real one does.
POISON = b"<!-- spacewatch-test: poison -->"


def poisoned_work_page(
    html: bytes, url: str | None, title: str | None, published: object
) -> object:
    from spacewatch.seeds.tagging import work_page

    if POISON in html:
        raise RuntimeError("extractor choked on this page")
    return work_page(html, url, title, published)  # type: ignore[arg-type]


def ingest_sample(folder: Path) -> Path:
    """The bundled sample served on loopback and run once through the real pipeline, in
    `folder`; returns its configuration (for module-wide fixtures that only read it)."""
    from spacewatch.flows import pipeline

    with LoopbackServer() as server:
        for path, route in load_sample_routes(server.base_url).items():
            server.set(path, route)
        config = write_config(folder, sample_feeds(server.base_url))
        pipeline.run_pipeline(config)
    return config


def tagged(
    relevance: float = 0.9,
    relevant: bool = True,
    themes: dict[str, tuple[float, tuple[str, ...]]] | None = None,
    actors: dict[str, tuple[str, ...]] | None = None,
) -> TagResult:
    """Tags with chosen relevance, theme scores and evidence, and actors with evidence."""
    return TagResult(
        language="en",
        themes_judged=True,
        relevant=relevant,
        relevance=relevance,
        themes=tuple(ThemeTag(t, s, ev) for t, (s, ev) in (themes or {}).items()),
        actors=tuple(
            ActorMention(a, a.upper(), "agency", len(ev), ev, (), ("alias",))
            for a, ev in (actors or {}).items()
        ),
        seed_similarity=(),
        seed_similarity_max=0.0,
        registry_version="test",
    )
