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


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    tokens = words(text)
    if len(tokens) < size:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i : i + size]).encode() for i in range(len(tokens) - size + 1)}


def signature(text: str) -> bytes | None:
    """MinHash signature (NUM_PERM little-endian uint32) of the text, None for empty text."""
    items = shingles(text)
    if not items:
        return None
    # Classic MinHash: h_i(x) = (a_i * crc32(x) + b_i) mod (2^61 - 1), truncated to 32 bits.
    # a, b, crc < 2^32 keep the product below 2^64, so uint64 arithmetic cannot overflow.
    hashes = np.fromiter((zlib.crc32(item) for item in items), dtype=np.uint64, count=len(items))
    values = (np.outer(hashes, _A) + _B) % _PRIME & _MAX32
    return values.min(axis=0).astype("<u4").tobytes()


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
