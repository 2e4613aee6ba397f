"""Keeping destination credentials out of everything Spacewatch stores or prints.

An Apprise URL can carry a secret in almost every part: user and password, the host (Slack,
Discord and Telegram put tokens there), path segments, query values and the `+header` and
`-field` values of the json/xml/form plugins. Apprise's own `url(privacy=True)` masks only
some of them, so nothing here relies on it:

- `destination_label` names a destination by what is not secret: the subscriber, the entry's
  kind (`env:NAME`, `secret:NAME`, `config:PATH`) or the URL's scheme, its host only where the
  scheme makes it a real host name, and a short hash that tells two URLs apart.
- `secret_parts` lists every fragment of a URL that could be a credential, and `mask_secrets`
  removes them from free text such as Apprise's log lines or an exception message.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"
# Query parameters of Apprise URLs that tune a plugin or name a mailbox, never a credential;
# every other parameter value (tokens, +headers, -fields, passwords) is a secret part.
PUBLIC_PARAMS = frozenset(
    {
        "format", "overflow", "mode", "cto", "rto", "retry", "wait", "optional", "verify",
        "smtp", "method", "to", "from", "cc", "bcc", "name", "reply",
    }
)  # fmt: skip
# Schemes whose host part is a server's name (webhooks, mail, self-hosted services), not a
# token. Every other scheme shows no host at all: `slack://TokenA/...` keeps TokenA there.
HOST_SCHEMES = frozenset(
    {"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos", "ntfys", "gotify",
     "gotifys", "apprise", "apprises", "mmost", "mmosts"}
)  # fmt: skip
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{0,15}$")
_HOST = re.compile(r"^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+|\[[0-9a-f:.]+\])$")
# Shorter fragments are not masked in free text: they would shred ordinary words, and a
# secret that short is not one.
_MIN_PART = 3
_ANY_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{0,15}://\S+")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]


def url_label(url: str) -> str:
    """`json://hooks.example:8080#a1b2c3`: scheme, host where it is one, hash of the whole URL."""
    url = url.strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not _SCHEME.match(scheme):
        return f"invalid-url#{_digest(url)}"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        host, port = "", None
    if scheme in HOST_SCHEMES and _HOST.match(host):
        where = f"{host}:{port}" if port else host
        return f"{scheme}://{where}#{_digest(url)}"
    return f"{scheme}#{_digest(url)}"


def destination_label(subscriber: str, entry: str) -> str:
    """The stable, non-secret name of one `urls` entry of a subscriber, as stored and shown.

    `env:` and `secret:` entries keep their names (a rotated token stays the same
    destination); a plain URL becomes `url_label(url)`.
    """
    entry = entry.strip()
    for prefix in ("env:", "secret:", "config:"):
        if entry.startswith(prefix):
            return f"{subscriber}/{entry}"
    return f"{subscriber}/{url_label(entry)}"


def secret_parts(url: str) -> tuple[str, ...]:
    """Every fragment of an Apprise URL that may be a credential, longest first, in the raw
    and the decoded spelling; the URL itself included."""
    url = url.strip()
    found = {url}
    if "://" in url:
        found.add(url.split("://", 1)[1])
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        found.update(x for x in (parts.username, parts.password, parts.fragment) if x)
        host = parts.hostname or ""
        if scheme not in HOST_SCHEMES or not _HOST.match(host.lower()):
            found.add(host)
            found.add(parts.netloc)
        found.update(parts.path.split("/"))
        for key, value in parse_qsl(parts.query.replace("+", "%2B"), keep_blank_values=True):
            if key.lower() in PUBLIC_PARAMS:
                continue  # `format=html`, `to=desk@...`: masking them would garble every reason
            found.add(value)
            found.update(value.split())
            if key[:1] in ("+", "-", ":"):
                found.add(key[1:])  # rarely secret, but a header name can be an API key
        found.update(
            piece.split("=", 1)[-1]
            for piece in parts.query.split("&")
            if piece.split("=", 1)[0].lower() not in PUBLIC_PARAMS
        )
    except ValueError:
        # A URL urlsplit refuses (a broken IPv6 literal, say): every piece between delimiters
        # may still be a token, and free text may quote one alone.
        rest = url.split("://", 1)[-1]
        found.update(re.split(r"[/?#&=@:;+,\[\]]", rest))
    found |= {unquote(x) for x in found}
    return tuple(sorted((x for x in found if len(x) >= _MIN_PART), key=len, reverse=True))


def mask_secrets(text: str, parts: tuple[str, ...] | list[str]) -> str:
    """`text` with every secret part replaced by ***, and any URL left in it reduced to its
    label (so a URL that `parts` did not know about still leaks nothing)."""
    for part in sorted(parts, key=len, reverse=True):
        if len(part) >= _MIN_PART:
            text = text.replace(part, MASK)
    return _ANY_URL.sub(lambda m: url_label(m.group(0)), text)
