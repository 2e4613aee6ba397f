"""The tagger as the pipeline uses it: built once per process from the configured registries."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from functools import lru_cache

from spacewatch.extractors import articles as extract
from spacewatch.seeds.model import load_model
from spacewatch.seeds.registry import Registry, load_corpus, load_registry
from spacewatch.seeds.tagger import Tagger, build_tagger

# actors, themes, corpus, model: None for the bundled ones; model "none" for no model.
TaggingPaths = tuple[str | None, str | None, str | None, str | None]
BUNDLED: TaggingPaths = (None, None, None, None)


@lru_cache(maxsize=4)
def load_tagger(paths: TaggingPaths = BUNDLED) -> tuple[Tagger, Registry, str]:
    """(tagger, registry, version), built once per process and paths.

    The version covers both registries, the seed corpus and the model file ("-m<hash>"), so a
    new model, like a registry edit, shows in every tag's tagger_version and `retag` applies it.
    """
    actors, themes, corpus_dir, model_path = paths
    registry = load_registry(actors, themes)
    corpus = load_corpus(corpus_dir)
    model = None if model_path == "none" else load_model(model_path)
    digest = hashlib.sha256()
    for doc in corpus:
        digest.update(doc.name.encode() + b"\0" + doc.text.encode() + b"\0")
    version = f"{registry.version}-{digest.hexdigest()[:8]}"
    if model is not None:
        version += f"-m{model.version[:8]}"
    return build_tagger(registry, corpus, model), registry, version


def title_unless_repeated(title: str | None, text: str) -> str | None:
    """The title for the tagger, unless the text already starts with it (many page layouts
    repeat the headline in the article body, which would count its mentions twice)."""
    if title and text.lstrip()[: len(title) + 20].lower().startswith(title.strip().lower()):
        return None
    return title


# --- worker-process entry points (pebble pool) -----------------------------------------------

_PATHS: TaggingPaths = BUNDLED


def init_worker(paths: TaggingPaths) -> None:
    """Load the tagger and warm the extractor once per worker process."""
    global _PATHS
    _PATHS = paths
    load_tagger(paths)
    extract.warm_up()


def work_page(
    html: bytes, url: str | None, title: str | None, published: datetime | None
) -> extract.PageResult:
    """Extract, fingerprint and tag one page: all the CPU-bound work, in a worker."""
    started = time.perf_counter()
    page = extract.process_page(html, url)
    tags = None
    if page.extracted.text:
        tagger = load_tagger(_PATHS)[0]
        tags = tagger.tag(
            page.extracted.text,
            title=title_unless_repeated(title or page.extracted.title, page.extracted.text),
            published=published or page.extracted.published_at,
        )
    return extract.PageResult(
        page.extracted,
        page.word_count,
        page.content_hash,
        page.signature,
        time.perf_counter() - started,
        tags,
    )
