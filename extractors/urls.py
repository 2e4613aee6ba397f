"""Canonical article URLs: one article, one identity, whichever feed or tracker linked it."""

from __future__ import annotations

import posixpath
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url


@lru_cache(maxsize=65536)  # each entry's link is canonicalised when probing and when selecting
def canonical_url(url: str) -> str | None:
    """Normalised URL without tracking parameters, credentials or fragment; None when it is
    not an http(s) URL with a valid host.

    courlan's non-strict mode drops known trackers (utm_*, fbclid, gclid...) and sorts the
    remaining parameters but keeps the rest, so `?p=123` permalinks survive.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not _valid_host(parts.hostname):
            return None
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        # The parsed form, not the string: courlan HTML-unescapes a string, which turns a
        # second parameter named `lt`, `copy`, `para`... into `<`, `©`, `¶` (links arrive
        # already unescaped by the feed and HTML parsers).
        parts = urlsplit(normalize_url(parts))
    except ValueError:  # malformed links (an unclosed IPv6 bracket...) are data, not crashes
        return None
    path = parts.path or "/"
    if "/./" in path or "/../" in path or path.endswith(("/.", "/..")):
        trailing = path.endswith(("/", "/.", "/.."))
        path = posixpath.normpath(path)
        if trailing and not path.endswith("/"):
            path += "/"
    # Credentials are no part of an article's identity (and are not worth storing).
    netloc = parts.netloc.rpartition("@")[2].lower().removesuffix(":")  # "host:" is "host"
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))


# WHATWG's forbidden domain code points, which no host name may contain.
_FORBIDDEN_IN_HOST = frozenset("\t\n\r #/:<>?@[\\]^|%\x7f")


def _valid_host(host: str | None) -> bool:
    """A host a browser would accept: no controls, spaces or delimiters (IPv6 literals aside,
    which urlsplit has already checked)."""
    if not host:
        return False
    if ":" in host:
        return True  # only an [IPv6] literal has one, and urlsplit rejects a malformed one
    return not any(
        c in _FORBIDDEN_IN_HOST or c.isspace() or unicodedata.category(c)[0] == "C" for c in host
    )
