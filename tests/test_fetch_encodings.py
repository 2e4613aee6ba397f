"""Content-Encodings a feed server really sends, decoded exactly.

Found by mutation testing (make mutation): with the raw-DEFLATE fallback switched off, or
"identity" and "x-gzip" no longer recognised, every other test still passed (the raw-DEFLATE
test accepted a failure as well as the body).
"""

from __future__ import annotations

import gzip
import zlib

import pytest
from test_http import FEED, fetch, policy

from spacewatch.extractors.models import Outcome
from spacewatch.loopback import LoopbackServer, Route


def served(payload: bytes, encoding: str) -> tuple[Outcome, bytes | None, str | None]:
    with LoopbackServer() as server:
        server.set("/feed", Route(payload, headers=(("Content-Encoding", encoding),)))
        result = fetch(server.url("/feed"), policy())
    return result.outcome, result.body, result.error


def raw_deflate(data: bytes) -> bytes:
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return raw.compress(data) + raw.flush()


def test_deflate_without_the_zlib_header_is_decoded() -> None:
    """Many servers send raw DEFLATE under "deflate"; the body must still arrive whole."""
    assert served(raw_deflate(FEED * 20), "deflate") == (Outcome.OK, FEED * 20, None)


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [
        ("identity", FEED),
        ("Identity", FEED),
        ("x-gzip", gzip.compress(FEED)),
        (" GZIP ", gzip.compress(FEED)),
    ],
)
def test_every_advertised_spelling_of_an_encoding_is_decoded(encoding: str, payload: bytes) -> None:
    assert served(payload, encoding) == (Outcome.OK, FEED, None)


def test_deflate_that_is_neither_zlib_nor_raw_is_a_hard_failure() -> None:
    outcome, body, error = served(b"\xff" * 64, "deflate")
    assert (outcome, body) == (Outcome.HARD, b"")
    assert error is not None and error.startswith("corrupt compressed body")
