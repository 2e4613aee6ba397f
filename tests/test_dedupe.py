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


# Pinned values: signatures and band keys are stored in the warehouse (article_signatures,
# article_bands), so these must never change by accident. A deliberate change (seed, hash,
# shingle size, band layout) must come with a migration that recomputes the stored ones.
PINNED_TEXT = "NASA delays the Artemis II crewed lunar flyby to April after heat shield tests."
PINNED_SIGNATURE = (
    "23d2ef2f833c0002fbd0f43998bfb81bc4d32b2366679c06f5cf8515628a5c0bcd90a806da46e40c1bec6f0f"
    "883c200bb9624427530797113156143becfcf111a92d1a3d56a3c001604b070173eeae297a66a620e4a94a06"
    "41aa390d48f9fb07ead8d40ba403ac29a6e1bd0a220921287b860c02e70d53041fb65d0ccc78a11481b13d02"
    "4094460afc778c0e1c2a8021c5f73606662a17096fad8b03f88ba6020bf9ad32792cfa0b9fad30260d055733"
    "d9db1c023f91b0003937da07af338a0fe127c207d5fa991b0170ff08f2d9ca2fa6c7310781c19d065e84e31d"
    "d0a79e10d8bad2128d2a381d5734181633379d1679f9130ee609e302268f420bc246df0d"
)
PINNED_BANDS = [
    -1775394971558765872,
    6509692660522260164,
    8777412117796996397,
    3485062729641626611,
    -3564513935471834082,
    -4230530053807355558,
    -4806088433301244856,
    -5242832685581633319,
    6933155872814826273,
    -103517046048013877,
    -1293121315596725769,
    2971569333907320295,
    9087819812961929547,
    6903613513526429902,
    2924960139333654181,
    -7374776774792153639,
]
PINNED_SHORT = (  # fewer words than a shingle: the whole text is the one shingle
    "a5a734f052051a8332f0cbb69c2b9587c403f6ca88ff2c54118e70aa3ca57070ccd19c87f272edd08cbd5236"
    "000b0b2265abbd8433e043d5f9f5f8964ae773dbf7cd3c623192b559cc7301f4d225e232976830b6f2f47c99"
    "df2d19173f9f30583a1351fd1160449cb1b822b18ec4ed1059ecfa686b934538efdab0ebb75a74ef579b3db9"
    "bd6b6cacd4f22a2fcbf4ea60e564bff8620955612b6061440f3ae39859c2ce0890aac24f13a25342cbf5310a"
    "174bcd18df0af4e35732ea73471dd756cac8bedda060c41e6c186b128d2e639ae2d52511d707ce82feecc67e"
    "8055de8458439511df56892aa841e350d9422fa099032ddd0da4e25d63bebc62680f5c03"
)


def test_signature_and_band_keys_are_pinned() -> None:
    assert sig(PINNED_TEXT).hex() == PINNED_SIGNATURE
    assert dedupe.band_hashes(sig(PINNED_TEXT)) == PINNED_BANDS
    assert sig("Artemis two slips").hex() == PINNED_SHORT
    assert dedupe.content_hash(PINNED_TEXT) == "f01705e2910cb24fc76c25c500c3d8bc"
