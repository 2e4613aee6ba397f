"""Apprise URLs checked without sending, and Apprise's own reason when a send fails.

Apprise explains every fault in its log (no SMTP AUTH, no STARTTLS, connection refused...)
and returns only False. We read that log for one call and keep the lines that carry the
reason, with every credential of the URL masked, so `alerts test` and the configuration
error can say what is wrong without printing a password or a token.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlsplit

from spacewatch.alerts.redact import mask_secrets, secret_parts

_MAX_REASON = 400


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def capture_apprise_log() -> Iterator[list[logging.LogRecord]]:
    """Apprise's log records for the duration of the block (only there: Spacewatch keeps
    Apprise quiet otherwise, and its own messages are the masked ones)."""
    logger = logging.getLogger("apprise")
    handler = _Collect()
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def apprise_reason(records: Iterable[logging.LogRecord], secrets: Iterable[str]) -> str:
    """The lines of Apprise's log that say why, masked: its warnings and errors, and the
    exception text it logs at debug level ('Socket Exception: ...', 'Response Details')."""
    lines: list[str] = []
    for record in records:
        message = record.getMessage().strip()
        why = record.levelno >= logging.WARNING or "Exception" in message
        if not why or not message or message.startswith("Could not load"):
            continue
        message = " ".join(message.split())
        if message not in lines:
            lines.append(message)
    reason = mask_secrets("; ".join(lines), secrets)
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 3] + "..."


def _schemes() -> frozenset[str]:
    from apprise.manager_plugins import NotificationManager

    return frozenset(s.lower() for s in NotificationManager().schemas())


def check_apprise_url(url: str) -> str | None:
    """None when Apprise can use the URL, else why not, in words that hold no secret."""
    import apprise

    if "://" not in url:
        return "not an Apprise URL (expected scheme://..., e.g. mailtos://...)"
    scheme = url.split("://", 1)[0].lower()
    schemes = _schemes()
    if scheme not in schemes:
        close = difflib.get_close_matches(scheme, sorted(schemes), n=1)
        hint = f" (did you mean '{close[0]}://'?)" if close else ""
        return f"unknown Apprise scheme '{scheme}://'{hint}"
    with capture_apprise_log() as records:
        plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        reason = apprise_reason(records, secret_parts(url))
        return f"Apprise cannot use this {scheme}:// URL" + (f": {reason}" if reason else "")
    if scheme in ("mailto", "mailtos"):
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return f"bad port in this {scheme}:// URL"
        if not host and "smtp" not in {k.lower() for k, _ in parse_qsl(parts.query)}:
            # Apprise would guess the server from the sender's domain and send the password
            # there: say which server instead.
            return (
                f"this {scheme}:// URL names no SMTP server; write "
                f"{scheme}://user:password@smtp.example.org?from=...&to=... (or add smtp=HOST)"
            )
    return None
