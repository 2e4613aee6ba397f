"""The real-text labelled set: labels kept in the repository, texts resolved from the public
evaluation material (never copied into the repository, whose publishers keep the copyright).

Two kinds of item:

- ``origin="real"``: a line of ``tests/data/real/*.jsonl`` naming a feed entry or a benchmark
  page by a stable id, with its labels. The text is read from the evaluation folder:
  ``feeds/<path>#<guid>`` is the entry whose guid (as ``extractors.feeds.parse_feed`` reports it:
  the feed's id, else its link) matches, and its text is what the pipeline would tag when the
  page itself cannot be fetched (``extractors.articles.feed_fallback``: content, else summary),
  with the entry's title beside it. ``html/<benchmark>/<file>`` is a benchmark page, extracted
  with the project's own ``extractors.articles.extract_article`` -- the text the pipeline would
  store -- rather than the benchmark's hand-cut ``articleBody``, so the harness measures the tagger
  on what it really receives (and ``trafilatura_eval_en`` has no full ground-truth body anyway).
- ``origin="handwritten"``: a ``[[doc]]`` of ``tests/data/real/handwritten/*.toml``, in the format
  of ``tests/data/gold`` plus ``split``, for languages the real data barely covers.

The evaluation folder is ``$SPACEWATCH_EVAL_DIR`` when set, otherwise the first ``shared/eval``
folder found beside the repository or beside one of its parent folders (CI copies ``shared/``
next to its fresh clone).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from spacewatch.extractors.articles import extract_article, feed_fallback
from spacewatch.extractors.feeds import parse_feed

REPO = Path(__file__).resolve().parent.parent
LABEL_DIR = REPO / "tests" / "data" / "real"
SPLITS = ("dev", "test")
ORIGINS = ("real", "handwritten")
_REQUIRED = ("id", "relevant", "themes", "actors", "language", "split")


class RealSetError(ValueError):
    """A label file or the evaluation folder cannot be used; the message names the culprit."""


@dataclass(frozen=True, slots=True)
class LabelledItem:
    id: str
    origin: str  # "real" | "handwritten"
    source: str  # feed or benchmark folder ("feeds/realworld_news/bbc_world.xml"), or label file
    language: str
    split: str  # "dev" | "test"
    text: str
    title: str | None
    published: dt.date | None
    relevant: bool
    themes: frozenset[str]
    actors: frozenset[str]
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Label:
    """One labelled line of a JSONL file, before its text is resolved."""

    id: str
    file: str
    line: int
    relevant: bool
    themes: frozenset[str]
    actors: frozenset[str]
    language: str
    split: str
    note: str | None


def find_eval_dir(start: Path = REPO) -> Path | None:
    """$SPACEWATCH_EVAL_DIR, else the nearest ``shared/eval`` beside ``start`` or an ancestor."""
    env = os.environ.get("SPACEWATCH_EVAL_DIR")
    if env:
        return Path(env)
    for folder in start.resolve().parents:
        candidate = folder / "shared" / "eval"
        if candidate.is_dir():
            return candidate
    return None


def require_eval_dir(eval_dir: Path | str | None = None) -> Path:
    """The evaluation folder, or one clear error saying where it was looked for."""
    path = Path(eval_dir) if eval_dir is not None else find_eval_dir()
    if path is None or not (path / "feeds").is_dir():
        where = str(path) if path is not None else f"shared/eval beside {REPO} or its parents"
        raise RealSetError(
            f"evaluation folder not found: {where} (set SPACEWATCH_EVAL_DIR to the folder "
            "holding feeds/ and html/)"
        )
    return path


def parse_labels(text: str, file: str) -> tuple[Label, ...]:
    """Labels of one JSONL file; a bad line raises naming the file and line."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("//"):
            continue
        try:
            d = json.loads(raw)
            missing = [k for k in _REQUIRED if k not in d]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            if d["split"] not in SPLITS:
                raise ValueError(f"split {d['split']!r} is not one of {SPLITS}")
            if not isinstance(d["relevant"], bool):
                raise ValueError("relevant must be true or false")
            out.append(
                Label(
                    id=d["id"],
                    file=file,
                    line=n,
                    relevant=d["relevant"],
                    themes=frozenset(d["themes"]),
                    actors=frozenset(d["actors"]),
                    language=d["language"],
                    split=d["split"],
                    note=d.get("note"),
                )
            )
        except (ValueError, TypeError) as exc:
            raise RealSetError(f"{file}:{n}: {exc}") from None
    return tuple(out)


def load_labels(label_dir: Path = LABEL_DIR) -> tuple[Label, ...]:
    labels: list[Label] = []
    for path in sorted(label_dir.glob("*.jsonl")):
        labels.extend(parse_labels(path.read_text(encoding="utf-8"), path.name))
    seen: dict[str, Label] = {}
    for label in labels:
        if label.id in seen:
            first = seen[label.id]
            raise RealSetError(
                f"{label.file}:{label.line}: id {label.id!r} already labelled at "
                f"{first.file}:{first.line}"
            )
        seen[label.id] = label
    return tuple(labels)


@cache
def _feed_entries(path: Path) -> dict[str, tuple[str | None, str, dt.date | None]]:
    parsed = parse_feed(path.read_bytes())
    out = {}
    for entry in parsed.entries:
        text, _method = feed_fallback(entry)
        day = entry.published_at.date() if entry.published_at else None
        out[entry.guid] = (entry.title, text or "", day)
    return out


@cache
def _page(path: Path) -> tuple[str | None, str, dt.date | None]:
    extracted = extract_article(gzip.decompress(path.read_bytes()))
    day = extracted.published_at.date() if extracted.published_at else None
    return extracted.title, extracted.text or "", day


def resolve(label: Label, eval_dir: Path) -> LabelledItem:
    """The labelled item with its text read from the evaluation folder."""
    where = f"{label.file}:{label.line}"
    if label.id.startswith("feeds/"):
        rel, sep, guid = label.id.partition("#")
        path = eval_dir / rel
        if not sep or not guid:
            raise RealSetError(f"{where}: feed id {label.id!r} needs '#<guid>'")
        if not path.is_file():
            raise RealSetError(f"{where}: feed file {path} not found")
        entry = _feed_entries(path).get(guid)
        if entry is None:
            raise RealSetError(f"{where}: no entry with guid {guid!r} in {rel}")
        title, text, day = entry
        source = rel
    elif label.id.startswith("html/"):
        path = eval_dir / label.id
        if not path.is_file():
            raise RealSetError(f"{where}: page {path} not found")
        title, text, day = _page(path)
        source = str(Path(label.id).parent.parent)
    else:
        raise RealSetError(f"{where}: id {label.id!r} names neither feeds/ nor html/")
    return LabelledItem(
        id=label.id,
        origin="real",
        source=source,
        language=label.language,
        split=label.split,
        text=text,
        title=title,
        published=day,
        relevant=label.relevant,
        themes=label.themes,
        actors=label.actors,
        note=label.note,
    )


def load_handwritten(label_dir: Path = LABEL_DIR) -> tuple[LabelledItem, ...]:
    items = []
    for path in sorted((label_dir / "handwritten").glob("*.toml")):
        name = f"handwritten/{path.name}"
        try:
            docs = tomllib.loads(path.read_text(encoding="utf-8")).get("doc", [])
        except tomllib.TOMLDecodeError as exc:
            raise RealSetError(f"{name}: {exc}") from None
        for d in docs:
            missing = [k for k in (*_REQUIRED, "text") if k not in d]
            if missing:
                raise RealSetError(f"{name}: doc {d.get('id')!r} lacks {', '.join(missing)}")
            if d["split"] not in SPLITS:
                raise RealSetError(f"{name}: doc {d['id']!r} has split {d['split']!r}")
            items.append(
                LabelledItem(
                    id=f"handwritten:{d['id']}",
                    origin="handwritten",
                    source=name,
                    language=d["language"],
                    split=d["split"],
                    text=d["text"].strip(),
                    title=d.get("title"),
                    published=d.get("published"),
                    relevant=d["relevant"],
                    themes=frozenset(d["themes"]),
                    actors=frozenset(d["actors"]),
                    note=d.get("note"),
                )
            )
    return tuple(items)


def load_realset(
    split: str | Iterable[str] = SPLITS,
    *,
    eval_dir: Path | str | None = None,
    label_dir: Path = LABEL_DIR,
    origins: Iterable[str] = ORIGINS,
) -> tuple[LabelledItem, ...]:
    """Labelled items of the given split(s) ("dev", "test", or both), real and hand-written.

    Real items need the evaluation folder; a missing folder raises one `RealSetError`.
    """
    splits = {split} if isinstance(split, str) else set(split)
    unknown = splits - set(SPLITS)
    if unknown:
        raise RealSetError(f"unknown split {sorted(unknown)}; use {' or '.join(SPLITS)}")
    origins = set(origins)
    items: list[LabelledItem] = []
    if "real" in origins:
        labels = [lb for lb in load_labels(label_dir) if lb.split in splits]
        if labels:
            folder = require_eval_dir(eval_dir)
            items.extend(resolve(lb, folder) for lb in labels)
    if "handwritten" in origins:
        items.extend(i for i in load_handwritten(label_dir) if i.split in splits)
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise RealSetError("duplicate ids across label files")
    return tuple(items)
