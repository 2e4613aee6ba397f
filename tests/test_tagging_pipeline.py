"""Tags in the warehouse: written by the pipeline, redone by `spacewatch retag`, read by views."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers import query, sample_feeds, write_config
from spacewatch.extractors.urls import canonical_url
from spacewatch.flows import pipeline
from spacewatch.loopback import SAMPLE_DIR, LoopbackServer

pytestmark = pytest.mark.usefixtures("prefect_harness")

MANIFEST = tomllib.loads((SAMPLE_DIR / "manifest.toml").read_text("utf-8"))
SEEDS = Path(pipeline.__file__).resolve().parents[1] / "seeds"
SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))


def article_id(wh: Path, base: str, page_path: str) -> int:
    return query(
        wh,
        "SELECT article_id FROM articles WHERE canonical_url = ?",
        [canonical_url(f"{base}/{page_path}")],
    )[0][0]


def test_pipeline_tags_sample_articles_with_evidence(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    config = write_config(tmp_path, sample_feeds(sample_server.base_url))
    wh = tmp_path / "wh.duckdb"
    pipeline.run_pipeline(config)

    # Every stored article has exactly one tag row, all from one tagger version.
    assert query(
        wh,
        "SELECT count(*) = (SELECT count(*) FROM articles), count(DISTINCT tagger_version) FROM article_tags",
    ) == [(True, 1)]

    base = sample_server.base_url
    deployment = article_id(wh, base, "pages/capital-space/space-force-al-udeid.html")
    themes = dict(
        query(
            wh, "SELECT theme_id, evidence FROM article_themes WHERE article_id = ?", [deployment]
        )
    )
    assert themes.get("space_force_deployment")
    actors = {
        r[0]
        for r in query(wh, "SELECT actor_id FROM article_actors WHERE article_id = ?", [deployment])
    }
    assert "us_space_force" in actors
    assert query(wh, "SELECT relevant FROM article_tags WHERE article_id = ?", [deployment]) == [
        (True,)
    ]

    # Near-misses are stored but not relevant.
    for page in MANIFEST["pages"]:
        if page.get("near_miss") and (SAMPLE_DIR / page["path"]).exists():
            aid = article_id(wh, base, page["path"])
            assert query(wh, "SELECT relevant FROM article_tags WHERE article_id = ?", [aid]) == [
                (False,)
            ], page["path"]

    # Views answer the analysts' questions.
    assert query(
        wh,
        "SELECT count(*) > 0 FROM v_actor_trends WHERE actor_id = 'roscosmos' AND grain = 'week'",
    ) == [(True,)]
    recurring = {r[0] for r in query(wh, "SELECT tag_id FROM v_recurring WHERE kind = 'actor'")}
    assert {"roscosmos", "russia", "china"} <= recurring
    # Three syndicated copies count as one story in the trends.
    ilrs = query(
        wh,
        "SELECT count(DISTINCT article_id), count(DISTINCT story_id) FROM v_theme_mentions WHERE theme_id = 'moon_base_ilrs' AND title LIKE 'Russia and China unveil%'",
    )
    assert ilrs == [(3, 1)]
    weekly = query(
        wh,
        "SELECT sum(articles) - sum(stories) FROM v_theme_trends WHERE grain = 'week' AND theme_id = 'moon_base_ilrs'",
    )
    assert weekly[0][0] >= 2  # the copies add articles, not stories
    assert query(wh, "SELECT count(*) > 0 FROM v_emerging_actors") == [(True,)]


def test_retag_applies_a_registry_change_without_fetching(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    config = write_config(tmp_path, sample_feeds(sample_server.base_url))
    wh = tmp_path / "wh.duckdb"
    pipeline.run_pipeline(config)
    old_version = query(wh, "SELECT DISTINCT tagger_version FROM article_tags")[0][0]
    assert query(wh, "SELECT count(*) FROM v_emerging_actors WHERE name = 'Frontier Wire'") == [
        (1,)
    ]

    actors = tmp_path / "actors.toml"
    actors.write_text(
        (SEEDS / "actors.toml").read_text("utf-8")
        + '\n[[actor]]\nid = "frontier_wire"\nname = "Frontier Wire"\nkind = "company"\naliases = ["Frontier Wire"]\n',
        encoding="utf-8",
    )
    with config.open("a", encoding="utf-8") as f:
        f.write(f'\n[tagging]\nactors = "{actors}"\n')
    requests_before = len(sample_server.requests)

    result = subprocess.run(
        [SPACEWATCH, "retag", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    assert "Re-tagged 20 articles" in result.stdout

    versions = query(wh, "SELECT DISTINCT tagger_version FROM article_tags")
    assert len(versions) == 1 and versions[0][0] != old_version
    assert query(
        wh, "SELECT count(*) > 0 FROM article_actors WHERE actor_id = 'frontier_wire'"
    ) == [(True,)]
    assert query(wh, "SELECT count(*) FROM registry_actors WHERE actor_id = 'frontier_wire'") == [
        (1,)
    ]
    assert query(wh, "SELECT count(*) FROM v_emerging_actors WHERE name = 'Frontier Wire'") == [
        (0,)
    ]
    assert len(sample_server.requests) == requests_before  # nothing fetched


def test_retag_applies_a_new_model_and_stamps_its_version(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    from spacewatch.seeds.model import load_model, save_model

    config = write_config(tmp_path, sample_feeds(sample_server.base_url))
    wh = tmp_path / "wh.duckdb"
    pipeline.run_pipeline(config)
    shipped = load_model()
    assert query(wh, "SELECT DISTINCT tagger_version FROM article_tags")[0][0].endswith(
        f"-m{shipped.version[:8]}"
    )

    # A model that finds nothing relevant: retag must apply it to every stored article.
    strict = tmp_path / "strict.npz"
    version = save_model(
        strict,
        outputs=shipped.outputs,
        signal_names=shipped.signal_names,
        signal_weights=shipped.signal_weights,
        buckets=shipped.buckets,
        bucket_weights=shipped.bucket_weights,
        bias=shipped.bias - 50,
        thresholds=shipped.thresholds,
        meta=shipped.meta,
    )
    with config.open("a", encoding="utf-8") as f:
        f.write('\n[tagging]\nmodel = "strict.npz"\n')  # relative to the configuration file
    result = subprocess.run(
        [SPACEWATCH, "retag", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    rows = query(wh, "SELECT DISTINCT tagger_version FROM article_tags")
    assert len(rows) == 1 and rows[0][0].endswith(f"-m{version[:8]}")
    assert query(wh, "SELECT count(*) FILTER (WHERE relevant), count(*) FROM article_tags") == [
        (0, 20)
    ]
    # Themes the model learned are gone with it; no theme row keeps the old version.
    learned = [t for t in shipped.themes]
    assert query(
        wh, "SELECT count(*) FROM article_themes WHERE list_contains(?, theme_id)", [learned]
    ) == [(0,)]
    assert query(
        wh,
        "SELECT count(DISTINCT tagger_version) FROM article_themes WHERE tagger_version <> ?",
        [rows[0][0]],
    ) == [(0,)]


def test_a_broken_model_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.npz").write_bytes(b"junk")
    config = write_config(
        tmp_path, [("https://example.org/feed", None)], tagging='model = "broken.npz"'
    )
    result = subprocess.run(
        [SPACEWATCH, "tag", "--config", str(config), "-"],
        input="text",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert f"{tmp_path / 'broken.npz'}: not a Spacewatch model file" in result.stderr


def test_registry_error_names_file_and_line(tmp_path: Path) -> None:
    actors = tmp_path / "actors.toml"
    actors.write_text(
        '[[actor]]\nid = "x"\nname = "X"\nkind = "planet"\naliases = ["X"]\n', encoding="utf-8"
    )
    config = write_config(
        tmp_path, [("https://example.org/feed", None)], tagging=f'actors = "{actors}"'
    )
    result = subprocess.run(
        [SPACEWATCH, "tag", "--config", str(config), "-"],
        input="text",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert f"{actors}:4: actor 'x': kind 'planet'" in result.stderr


def test_tag_command_prints_json_lines(tmp_path: Path) -> None:
    page = SAMPLE_DIR / "pages" / "capital-space" / "space-force-al-udeid.html"
    text = tmp_path / "note.txt"
    text.write_text("Bruno Mars announced new stadium dates for his world tour.", encoding="utf-8")
    result = subprocess.run(
        [SPACEWATCH, "tag", "--json", str(page), str(text)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["source"] == str(page) and first["relevant"] is True
    assert "space_force_deployment" in [t["id"] for t in first["themes"]]
    assert all(t["evidence"] for t in first["themes"])
    assert second["relevant"] is False and second["themes"] == []
