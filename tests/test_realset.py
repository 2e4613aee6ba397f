"""The real-text set's loader and label files, on fixtures the project owns (no shared/eval)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from spacewatch.seeds.realscore import WATCHED, Prediction, count, report
from spacewatch.seeds.realset import (
    LABEL_DIR,
    LabelledItem,
    RealSetError,
    find_eval_dir,
    load_handwritten,
    load_labels,
    load_realset,
)
from spacewatch.seeds.registry import load_registry

DATA = Path(__file__).resolve().parent / "data"
FEED = "feeds/test/rss20_basic.xml"
PAGE = "html/test/html/page.html.gz"
PAGE_HTML = b"""<html lang="en"><head><title>Guardians open a new command</title></head><body>
<article><h1>Guardians open a new command</h1>
<p>The Space Force opened a component command in Qatar on Monday, its officials said, to support
missile warning for forces in the region. The unit starts with a few dozen Guardians.</p>
<p>Officers said the command would grow over the next two years as more satellites come online.</p>
</article></body></html>"""


def _label(id: str, split: str = "dev", **kw: object) -> str:
    d = {"id": id, "language": "en", "split": split, "relevant": False, "themes": [], "actors": []}
    d.update(kw)
    return json.dumps(d)


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """An evaluation folder with one project feed and one page, and a label folder for them."""
    eval_dir = tmp_path / "eval"
    (eval_dir / "feeds" / "test").mkdir(parents=True)
    shutil.copy(DATA / "feeds" / "rss20_basic.xml", eval_dir / FEED)
    (eval_dir / PAGE).parent.mkdir(parents=True)
    (eval_dir / PAGE).write_bytes(gzip.compress(PAGE_HTML))
    labels = tmp_path / "labels"
    (labels / "handwritten").mkdir(parents=True)
    (labels / "a.jsonl").write_text(
        "\n".join(
            [
                _label(f"{FEED}#urn:spacewatch:test:1", relevant=True, themes=["artemis_gateway"],
                       actors=["nasa", "artemis"], note="fixture"),
                _label(f"{FEED}#urn:spacewatch:test:2", split="test", actors=["esa"]),
                _label(PAGE, split="test", relevant=True, themes=["space_force_deployment"],
                       actors=["us_space_force"]),
            ]
        )
        + "\n",
        encoding="utf-8",
    )  # fmt: skip
    (labels / "handwritten" / "xx.toml").write_text(
        '[[doc]]\nid = "xx-01"\npublished = 2025-01-02\ntitle = "T"\nlanguage = "de"\n'
        'split = "test"\nrelevant = false\nthemes = []\nactors = []\ntext = """\nEin Text.\n"""\n',
        encoding="utf-8",
    )
    return eval_dir, labels


def test_feed_items_carry_the_pipelines_fallback_text_and_title(folders) -> None:
    eval_dir, labels = folders
    items = {i.id: i for i in load_realset(eval_dir=eval_dir, label_dir=labels)}
    first = items[f"{FEED}#urn:spacewatch:test:1"]
    assert first.origin == "real" and first.source == FEED
    # content:encoded wins over the description, markup and script stripped
    assert first.text == "The agency named a target window."
    assert first.title == "NASA sets a date for Artemis III"
    assert str(first.published) == "2024-03-05"
    assert first.themes == frozenset({"artemis_gateway"}) and first.note == "fixture"
    assert items[f"{FEED}#urn:spacewatch:test:2"].text == "Ministers discuss launcher policy."


def test_pages_are_extracted_by_the_projects_extractor(folders) -> None:
    eval_dir, labels = folders
    page = next(i for i in load_realset(eval_dir=eval_dir, label_dir=labels) if i.id == PAGE)
    assert "component command in Qatar" in page.text
    assert "<p>" not in page.text
    assert page.source == "html/test"


def test_split_filter_and_handwritten_items(folders) -> None:
    eval_dir, labels = folders
    dev = load_realset("dev", eval_dir=eval_dir, label_dir=labels)
    assert [i.id for i in dev] == [f"{FEED}#urn:spacewatch:test:1"]
    test = load_realset("test", eval_dir=eval_dir, label_dir=labels)
    assert {i.split for i in test} == {"test"}
    hand = [i for i in test if i.origin == "handwritten"]
    assert [(i.id, i.language, i.text) for i in hand] == [("handwritten:xx-01", "de", "Ein Text.")]
    with pytest.raises(RealSetError, match="unknown split"):
        load_realset("train", eval_dir=eval_dir, label_dir=labels)


def test_hand_written_items_need_no_evaluation_folder(folders, tmp_path: Path) -> None:
    _eval_dir, labels = folders
    items = load_realset(eval_dir=tmp_path / "absent", label_dir=labels, origins=["handwritten"])
    assert [i.id for i in items] == ["handwritten:xx-01"]


def test_missing_evaluation_folder_is_one_clear_error(folders, tmp_path: Path) -> None:
    _eval_dir, labels = folders
    with pytest.raises(
        RealSetError, match=r"evaluation folder not found: .*absent.*SPACEWATCH_EVAL_DIR"
    ):
        load_realset(eval_dir=tmp_path / "absent", label_dir=labels)


def test_eval_folder_is_found_beside_the_repository(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SPACEWATCH_EVAL_DIR", raising=False)
    (tmp_path / "shared" / "eval").mkdir(parents=True)
    (tmp_path / "clone" / "seeds").mkdir(parents=True)
    assert find_eval_dir(tmp_path / "clone" / "seeds") == tmp_path / "shared" / "eval"
    monkeypatch.setenv("SPACEWATCH_EVAL_DIR", str(tmp_path / "elsewhere"))
    assert find_eval_dir(tmp_path / "clone" / "seeds") == tmp_path / "elsewhere"


def test_bad_labels_name_the_file_line_and_culprit(folders) -> None:
    eval_dir, labels = folders
    (labels / "b.jsonl").write_text(_label(f"{FEED}#urn:nope") + "\n", encoding="utf-8")
    with pytest.raises(RealSetError, match=r"b\.jsonl:1: no entry with guid 'urn:nope'"):
        load_realset(eval_dir=eval_dir, label_dir=labels)
    (labels / "b.jsonl").write_text(
        _label(f"{FEED}#urn:spacewatch:test:2") + "\n", encoding="utf-8"
    )
    with pytest.raises(RealSetError, match=r"b\.jsonl:1: id .* already labelled at a\.jsonl:2"):
        load_realset(eval_dir=eval_dir, label_dir=labels)
    (labels / "b.jsonl").write_text('{"id": "feeds/x#y", "split": "dev"}\n', encoding="utf-8")
    with pytest.raises(
        RealSetError, match=r"b\.jsonl:1: missing relevant, themes, actors, language"
    ):
        load_realset(eval_dir=eval_dir, label_dir=labels)


def test_report_counts_alerts_only_when_relevant() -> None:
    item = LabelledItem(
        id="x", origin="real", source="s", language="en", split="test", text="t", title=None,
        published=None, relevant=True, themes=frozenset({"mars_crewed_landing"}),
        actors=frozenset({"nasa"}),
    )  # fmt: skip
    said = Prediction(False, frozenset({"mars_crewed_landing"}), frozenset(), True, "en")
    rep = report([(item, said)], ["mars_crewed_landing", "space_resources"])
    theme = {s.label: s for s in rep.themes}["mars_crewed_landing"]
    alert = {s.label: s for s in rep.alerts}["mars_crewed_landing"]
    assert (theme.tp, theme.fn) == (1, 0)
    assert (alert.tp, alert.fn) == (0, 1)  # not relevant: an alert rule would not fire
    assert rep.overall.actors_micro.fn == 1 and rep.overall.relevance.fn == 1
    assert count("r", [(True, True), (False, True), (True, False)]).f1 == pytest.approx(0.5)


# --- the committed label files ---------------------------------------------------------------


def test_committed_labels_are_well_formed_and_cover_the_watched_themes() -> None:
    registry = load_registry()
    actor_ids = {a.id for a in registry.actors}
    theme_ids = {t.id for t in registry.themes}
    labels = load_labels(LABEL_DIR)
    hand = load_handwritten(LABEL_DIR)
    assert len(labels) >= 600
    for lb in labels:
        assert lb.id.startswith(("feeds/", "html/")), lb.id
        assert lb.actors <= actor_ids and lb.themes <= theme_ids, lb.id
        assert lb.relevant or not lb.themes, f"{lb.id}: themes on a text that is not relevant"
    for h in hand:
        assert h.actors <= actor_ids and h.themes <= theme_ids, h.id
        assert h.published is not None and h.text, h.id
    for lang in ("de", "es", "pt", "ja", "ko", "zh", "zh-Hant", "ar", "hi", "ru"):
        docs = [h for h in hand if h.language == lang]
        assert len(docs) >= 8 and {h.split for h in docs} == {"dev", "test"}, lang
    splits = [(lb.split, lb.themes) for lb in labels] + [(h.split, h.themes) for h in hand]
    for theme in WATCHED:
        for split in ("dev", "test"):
            assert any(theme in t for s, t in splits if s == split), (theme, split)


def test_handwritten_files_are_toml_doc_lists() -> None:
    for path in (LABEL_DIR / "handwritten").glob("*.toml"):
        docs = tomllib.loads(path.read_text(encoding="utf-8"))["doc"]
        assert len({d["id"] for d in docs}) == len(docs), path.name


# --- bench/tagger_real.py ----------------------------------------------------------------------

BENCH = Path(__file__).resolve().parent.parent / "bench" / "tagger_real.py"


def _bench(*args: str, eval_dir: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPACEWATCH_EVAL_DIR": eval_dir}
    return subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_bench_refuses_to_list_test_items() -> None:
    done = _bench("--split", "test", "--errors", eval_dir="/nonexistent")
    assert done.returncode == 2
    assert "only runs on --split dev" in done.stderr and done.stdout == ""


def test_bench_reports_hand_written_items_per_language_without_the_eval_folder(
    tmp_path: Path,
) -> None:
    done = _bench("--origin", "handwritten", "--split", "all", "--json", eval_dir=str(tmp_path))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["overall"]["n"] == len(load_handwritten(LABEL_DIR))
    assert set(doc["by_language"]) >= {"de", "ja", "zh-Hant", "ar", "hi", "ru"}
    assert list(doc["themes"])[:5] == list(WATCHED)
    assert set(doc["by_origin"]) == {"handwritten"}


def test_bench_says_which_folder_is_missing() -> None:
    done = _bench("--split", "dev", eval_dir="/nonexistent/eval")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: evaluation folder not found: /nonexistent/eval "
        "(set SPACEWATCH_EVAL_DIR to the folder holding feeds/ and html/)"
    )
