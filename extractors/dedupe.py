"""Near-duplicate detection for syndicated copies: MinHash over word shingles, banded for LSH.

Two texts whose estimated Jaccard similarity of 5-word shingles reaches the threshold are the
same story. Bands let the warehouse find candidates with an indexed equality join instead of
comparing every pair.
"""

from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np

NUM_PERM = 64
BANDS = 16  # 16 bands x 4 rows: candidates from about 0.5 similarity upwards
ROWS = NUM_PERM // BANDS
SHINGLE_WORDS = 5
_WORD = re.compile(r"\w+", re.UNICODE)
_PRIME = np.uint64((1 << 61) - 1)
_MAX32 = np.uint64(0xFFFFFFFF)
# Fixed seed: signatures stored today must stay comparable with those computed next year.
_RNG = np.random.RandomState(1)
_A = _RNG.randint(1, 1 << 32, size=NUM_PERM, dtype=np.uint64)
_B = _RNG.randint(0, 1 << 32, size=NUM_PERM, dtype=np.uint64)
_MIX = np.uint64(1_000_003)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    tokens = words(text)
    if len(tokens) < size:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i : i + size]).encode() for i in range(len(tokens) - size + 1)}


def signature(text: str) -> bytes | None:
    """MinHash signature (NUM_PERM little-endian uint32) of the text, None for empty text."""
    hashes = shingle_hashes(text)
    if hashes.size == 0:
        return None
    # Classic MinHash: h_i(x) = (a_i * x + b_i) mod (2^61 - 1), truncated to 32 bits.
    # a, b, x < 2^32 keep the product below 2^64, so uint64 arithmetic cannot overflow.
    values = (np.outer(hashes, _A) + _B) % _PRIME & _MAX32
    return values.min(axis=0).astype("<u4").tobytes()


def shingle_hashes(text: str, size: int = SHINGLE_WORDS) -> np.ndarray:
    """Distinct 32-bit hashes of the text's word shingles, computed on word hashes with numpy.

    Hashing each word once and mixing neighbours arithmetically is several times faster than
    joining and hashing every shingle string, and this runs once per stored article.
    """
    tokens = words(text)
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    word_hashes = np.fromiter(
        (zlib.crc32(t.encode()) for t in tokens), dtype=np.uint64, count=len(tokens)
    )
    if len(tokens) < size:
        size = len(tokens)
    count = len(tokens) - size + 1
    mixed = np.zeros(count, dtype=np.uint64)
    for offset in range(size):
        # Polynomial mix modulo 2^32 keeps word order significant; both terms stay below
        # 2^52, so uint64 arithmetic never wraps.
        mixed = (mixed * _MIX + word_hashes[offset : offset + count]) & _MAX32
    return np.unique(mixed)


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the texts behind two signatures."""
    va = np.frombuffer(a, dtype="<u4")
    vb = np.frombuffer(b, dtype="<u4")
    if va.shape != vb.shape:
        return 0.0
    return float(np.count_nonzero(va == vb)) / len(va)


def band_hashes(sig: bytes) -> list[int]:
    """One signed 64-bit key per band (DuckDB BIGINT); equal keys mark candidate copies."""
    step = ROWS * 4
    keys = []
    for band in range(BANDS):
        digest = hashlib.blake2b(
            sig[band * step : (band + 1) * step], digest_size=8, person=bytes([band]) * 8
        ).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def content_hash(text: str) -> str:
    """Hash of the whitespace-normalised text, for exact copies."""
    normalised = " ".join(text.split()).lower()
    return hashlib.sha256(normalised.encode()).hexdigest()[:32]
