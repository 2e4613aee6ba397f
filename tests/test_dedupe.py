"""MinHash signatures and LSH bands for syndicated-copy detection."""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys

import pytest

from spacewatch.extractors import dedupe


def sentences(seed: int, count: int = 50, size: int = 10) -> list[str]:
    rng = random.Random(seed)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(3000)]
    return [" ".join(rng.choices(vocab, k=size)).capitalize() + "." for _ in range(count)]


BASE = sentences(1)
TEXT = " ".join(BASE)  # 500 words
CHANGED = " ".join([*BASE[:24], sentences(2, count=1)[0], *BASE[25:]])
UNRELATED = " ".join(sentences(3))


def sig(text: str) -> bytes:
    value = dedupe.signature(text)
    assert value is not None
    return value


def test_signature_shape() -> None:
    assert len(dedupe.words(TEXT)) == 500
    value = sig(TEXT)
    assert len(value) == dedupe.NUM_PERM * 4
    assert dedupe.BANDS * dedupe.ROWS == dedupe.NUM_PERM
    assert sig(TEXT) == value  # deterministic within a process


@pytest.mark.parametrize("text", ["", "   \n\t", "!!! --- ...", "—"])
def test_signature_is_none_without_words(text: str) -> None:
    assert dedupe.signature(text) is None
    assert dedupe.shingles(text) == set()


def test_short_text_still_has_a_signature() -> None:
    assert dedupe.shingles("Artemis two slips") == {b"artemis two slips"}
    assert dedupe.signature("Artemis two slips") is not None


def test_similarity_of_identical_texts() -> None:
    assert dedupe.similarity(sig(TEXT), sig(TEXT)) == 1.0
    # case, punctuation and whitespace do not matter: shingles are of lower-cased words
    reformatted = "\n".join(s.upper().rstrip(".") + " ;" for s in BASE)
    assert dedupe.similarity(sig(TEXT), sig(reformatted)) == 1.0


def test_similarity_of_unrelated_texts() -> None:
    assert dedupe.similarity(sig(TEXT), sig(UNRELATED)) <= 0.05


def test_similarity_with_one_sentence_changed() -> None:
    estimate = dedupe.similarity(sig(TEXT), sig(CHANGED))
    assert estimate >= 0.5
    a, b = dedupe.shingles(TEXT), dedupe.shingles(CHANGED)
    exact = len(a & b) / len(a | b)
    assert exact > 0.9
    assert abs(estimate - exact) < 0.2  # 64 permutations: a rough but unbiased estimate


def test_similarity_of_mismatched_signatures_is_zero() -> None:
    assert dedupe.similarity(sig(TEXT), sig(TEXT)[:128]) == 0.0


def test_band_hashes() -> None:
    keys = dedupe.band_hashes(sig(TEXT))
    assert len(keys) == dedupe.BANDS == 16
    assert all(-(2**63) <= k < 2**63 for k in keys)  # fits DuckDB BIGINT
    assert len(set(keys)) == 16
    assert dedupe.band_hashes(sig(TEXT)) == keys
    # A near copy shares at least one band (an LSH candidate); an unrelated text shares none.
    changed = dedupe.band_hashes(sig(CHANGED))
    assert any(x == y for x, y in zip(keys, changed, strict=True))
    unrelated = dedupe.band_hashes(sig(UNRELATED))
    assert not any(x == y for x, y in zip(keys, unrelated, strict=True))


def test_equal_band_slices_in_different_bands_hash_differently() -> None:
    flat = bytes(dedupe.NUM_PERM * 4)  # every band holds the same bytes
    keys = dedupe.band_hashes(flat)
    assert len(set(keys)) == dedupe.BANDS


_CHILD = """
import json, sys
from spacewatch.extractors import dedupe
out = []
for text in json.load(sys.stdin):
    s = dedupe.signature(text)
    out.append([s.hex(), dedupe.band_hashes(s)])
print(json.dumps(out))
"""


@pytest.mark.parametrize("hash_seed", ["0", "12345"])
def test_signatures_and_bands_are_stable_across_processes(hash_seed: str) -> None:
    texts = [TEXT, CHANGED, UNRELATED, "Artemis two slips"]
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    expected = [[sig(t).hex(), dedupe.band_hashes(sig(t))] for t in texts]
    assert json.loads(child.stdout) == expected


def test_content_hash_normalises_whitespace_and_case() -> None:
    assert dedupe.content_hash("Hello   World\n") == dedupe.content_hash("hello world")
    assert dedupe.content_hash("hello world") != dedupe.content_hash("hello, world")
    assert len(dedupe.content_hash("x")) == 32
