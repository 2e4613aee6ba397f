"""Sending through Apprise in a worker process that can be stopped.

A send that outlives its timeout cannot be abandoned in a thread: the thread keeps running,
may deliver later, and the message would be recorded failed and sent again. The worker here is
a child process; when a send times out it is killed and waited for, so by the time the
outcome is recorded nothing of that attempt is still running. Its outcome is then honestly
"unknown" (the destination may have received it before the kill).

The child reads one JSON request per line on stdin (URLs never appear in its arguments, so
`ps` does not show them) and answers one JSON line on stdout; its stderr is discarded. It keeps
one Apprise object per destination, so Apprise's pacing (`request_rate_per_sec`) holds across
the messages of one delivery pass.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import IO, Literal

from spacewatch.alerts.messages import Message

Status = Literal["sent", "failed", "unknown"]
STARTUP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str | None  # raw text: the caller masks it with the destination's secret parts


class Sender:
    """One worker process, started on first use and replaced after a timeout."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None

    def _worker(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "spacewatch.alerts.sending"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            # Starting Python and importing Apprise is not part of any send's timeout.
            if _read_line(self._proc.stdout, STARTUP_TIMEOUT_S) is None:  # type: ignore[arg-type]
                self.stop()
                raise RuntimeError("the sending process did not start")
        return self._proc

    def send(
        self, target: str, interval_s: float | None, message: Message, timeout_s: float
    ) -> Outcome:
        """Send every rendering of `message`; the worker gives each Apprise plugin the one
        written for its format (Message.body_for)."""
        try:
            proc = self._worker()
        except (OSError, RuntimeError):
            return Outcome("failed", "the sending process could not be started (nothing was sent)")
        request = {"target": target, "interval": interval_s, "message": asdict(message)}
        try:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
        except OSError:
            self.stop()
            return Outcome("failed", "the sending process died before the message was handed over")
        line = _read_line(proc.stdout, timeout_s)  # type: ignore[arg-type]
        if line is None:
            self.stop()  # killed and reaped: this attempt can no longer deliver
            return Outcome(
                "unknown",
                f"no answer within {timeout_s:g} s; the send was stopped "
                "(the destination may have received it)",
            )
        try:
            answer = json.loads(line)
        except ValueError:
            self.stop()
            return Outcome("failed", "the sending process gave an unreadable answer")
        if answer.get("ok"):
            return Outcome("sent", None)
        return Outcome("failed", answer.get("reason") or "the destination refused the message")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_line(stream: IO[bytes], timeout_s: float) -> bytes | None:
    """One line from the worker, or None when none came within timeout_s (or it died)."""
    deadline = time.monotonic() + timeout_s
    fd = stream.fileno()
    buffer = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return None  # the worker died
        buffer += chunk
        if buffer.endswith(b"\n"):
            return buffer


# --- the worker process ---------------------------------------------------------------------


def _apprise_for(target: str, interval: float | None, cache: dict) -> object:
    import apprise

    key = (target, interval)
    if key not in cache:
        obj = apprise.Apprise()
        if target.startswith("config:"):
            cfg = apprise.AppriseConfig()
            cfg.add(target[7:])
            obj.add(cfg)
        else:
            obj.add(target)
        if interval is not None:
            for plugin in obj:
                plugin.request_rate_per_sec = interval
        cache[key] = obj
    return cache[key]


def plugin_formats(plugin: object) -> list[str]:
    """The formats an Apprise plugin takes, preferred first (a ?format= override alone if
    given). Each plugin is sent the rendering written for it, instead of Apprise converting
    one body: a conversion would undo our escaping (Slack turns `<!channel>` back live)."""
    declared = getattr(plugin, "_formats", None)
    formats = [str(getattr(f, "value", f)) for f in declared()] if callable(declared) else []
    override = getattr(plugin, "_format_override", None)
    if override is not None and str(getattr(override, "value", override)) in formats:
        return [str(getattr(override, "value", override))]
    return formats or [str(getattr(plugin, "notify_format", "text"))]


def _serve() -> None:
    import apprise

    from spacewatch.alerts.apprise_check import apprise_reason, capture_apprise_log

    cache: dict = {}
    out = os.fdopen(sys.stdout.fileno(), "wb", buffering=0)
    out.write(b'{"ready": true}\n')
    for raw in sys.stdin.buffer:
        request = json.loads(raw)
        reason = None
        try:
            target = _apprise_for(request["target"], request["interval"], cache)
            message = Message(**request["message"])
            with capture_apprise_log() as records:
                ok = True
                for plugin in target:  # type: ignore[attr-defined]
                    body, body_format = message.body_for(
                        plugin_formats(plugin), str(getattr(plugin, "service_name", ""))
                    )
                    single = apprise.Apprise()
                    single.add(plugin)
                    sent = single.notify(title=message.title, body=body, body_format=body_format)
                    ok = bool(sent) and ok
            if not ok:
                # Apprise's own words (no SMTP AUTH, no STARTTLS, refused...): the parent masks.
                why = apprise_reason(records, ())
                reason = "the destination refused the message" + (f": {why}" if why else "")
        except Exception as exc:  # a plugin that raises; the parent masks the text
            ok, reason = False, f"the notification library failed ({type(exc).__name__}: {exc})"
        out.write(json.dumps({"ok": ok, "reason": reason}).encode() + b"\n")


if __name__ == "__main__":
    _serve()
