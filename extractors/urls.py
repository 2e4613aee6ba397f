"""Canonical article URLs: one article, one identity, whichever feed or tracker linked it."""

from __future__ import annotations

import posixpath
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url


@lru_cache(maxsize=65536)  # each entry's link is canonicalised when probing and when selecting
def canonical_url(url: str) -> str | None:
    """Normalised URL without tracking parameters or fragment; None when it is not http(s).

    courlan's non-strict mode drops known trackers (utm_*, fbclid, gclid...) and sorts the
    remaining parameters but keeps the rest, so `?p=123` permalinks survive.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        parts = urlsplit(normalize_url(url))
    except ValueError:  # malformed links (an unclosed IPv6 bracket...) are data, not crashes
        return None
    path = parts.path or "/"
    if "/./" in path or "/../" in path or path.endswith(("/.", "/..")):
        trailing = path.endswith(("/", "/.", "/.."))
        path = posixpath.normpath(path)
        if trailing and not path.endswith("/"):
            path += "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))
