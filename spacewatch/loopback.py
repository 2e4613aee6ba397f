"""A real HTTP/1.1 server on 127.0.0.1 for tests, the demo and benchmarks.

Spacewatch talks to feeds and article pages over the network, so its tests exercise a genuine
socket rather than a mocked transport: redirects, conditional GET, compression, keep-alive and
stalled responses then behave exactly as the HTTP client sees them in production.

Usage::

    with LoopbackServer({"/a": Route(b"hello")}) as server:
        httpx.get(server.base_url + "/a")
        assert server.count("/a") == 1

``python -m spacewatch.loopback --sample`` serves the bundled sample until Ctrl-C.

Over 500 lines on purpose: one server (routes, stalls, compression, conditional GET, a child
process mode) with no dependency; docs/architecture.md says why it was not replaced.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip as gzip_module
import hashlib
import multiprocessing
import signal
import socket
import socketserver
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import mktime_tz, parsedate_tz
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

__all__ = [
    "BASE_PLACEHOLDER",
    "FIXED_LAST_MODIFIED",
    "SAMPLE_DIR",
    "LoopbackServer",
    "RecordedRequest",
    "Route",
    "load_sample_routes",
    "main",
    "serve_forever_in_subprocess",
    "static_route",
]

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
BASE_PLACEHOLDER = b"{{BASE}}"
# Fixed rather than taken from file mtimes so validators are identical on every checkout.
FIXED_LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"

_HOST = "127.0.0.1"
_CHUNK_SIZE = 8 * 1024
# Bytes of a hanging body sent before stalling: enough for a client to have started reading.
_HANG_PREFIX = 16
# How long a `gather` round waits to fill: far longer than any client timeout in the tests,
# so a round that fails to fill shows up as the client's timeout, not as a slow pass.
GATHER_WAIT_S = 60.0
_BODYLESS_STATUSES = frozenset({204, 304})


def _http_timestamp(value: str) -> float | None:
    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    try:
        return float(mktime_tz(parsed))
    except (OverflowError, ValueError):
        return None


def _weak(tag: str) -> str:
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2), so W/"x" matches "x".
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


@dataclass(frozen=True)
class Route:
    """What the server answers for one path.

    ``gzip`` compresses regardless of the request's Accept-Encoding: real feeds do that too,
    and it keeps the bytes on the wire the same for every client.
    ``hang`` with an empty body still advertises (and withholds) 1 KiB, because a complete
    zero-length response would not hang anything.
    ``gather`` holds each request until that many requests are in flight at once (counted
    over all routes), then answers: a test proves concurrency by counting, not by timing. A
    round that never fills waits ``GATHER_WAIT_S`` and is counted in ``gathers_abandoned``.
    """

    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    delay_s: float = 0.0
    hang: bool = False
    gzip: bool = False
    raw_gzip: bool = False
    chunked: bool = False
    gather: int = 0
    # Derived once so the request path never compresses or parses dates.
    _payload: bytes = field(init=False, repr=False, compare=False)
    _last_modified_ts: float | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.gzip and self.raw_gzip:
            raise ValueError("gzip and raw_gzip are mutually exclusive")
        if not 100 <= self.status <= 999:
            raise ValueError(f"status must be a three-digit HTTP code, got {self.status}")
        if self.delay_s < 0:
            raise ValueError("delay_s must be >= 0")
        if self.gather < 0:
            raise ValueError("gather must be >= 0")
        if not isinstance(self.body, bytes | bytearray | memoryview):
            raise TypeError("body must be bytes")
        object.__setattr__(self, "body", bytes(self.body))
        # Lists are accepted for convenience, but the route must stay hashable.
        object.__setattr__(self, "headers", tuple((str(k), str(v)) for k, v in self.headers))
        payload = self.body
        if self.gzip:
            # mtime=0 keeps the compressed bytes reproducible from run to run.
            payload = gzip_module.compress(payload, mtime=0)
        object.__setattr__(self, "_payload", payload)
        lm = None if self.last_modified is None else _http_timestamp(self.last_modified)
        object.__setattr__(self, "_last_modified_ts", lm)

    @property
    def payload(self) -> bytes:
        """The bytes sent as the message body (compressed when ``gzip`` is set)."""
        return self._payload


def static_route(body: bytes, content_type: str, *, validators: bool = True) -> Route:
    """Route with ETag (quoted sha1 of body) and a fixed Last-Modified when validators=True."""
    if not validators:
        return Route(body=body, content_type=content_type)
    etag = '"' + hashlib.sha1(body).hexdigest() + '"'
    return Route(body=body, content_type=content_type, etag=etag, last_modified=FIXED_LAST_MODIFIED)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as sent, query string included
    headers: dict[str, str]  # lower-case names
    time: float  # time.time(), comparable with timestamps the pipeline stores
    monotonic: float  # time.monotonic(), for measuring intervals between requests

    @property
    def route_path(self) -> str:
        return self.path.split("?", 1)[0]


_NOT_FOUND = Route(
    body=b"<!doctype html><title>404 Not Found</title><h1>Not Found</h1>\n", status=404
)
_NOT_ALLOWED = Route(
    body=b"<!doctype html><title>405 Method Not Allowed</title><h1>Method Not Allowed</h1>\n",
    status=405,
    headers=(("Allow", "GET, HEAD"),),
)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 turns on keep-alive; every response carries Content-Length or is chunked.
    protocol_version = "HTTP/1.1"
    server_version = "spacewatch-loopback/1"
    sys_version = ""
    # Headers and body go out in one buffered write; without NODELAY a split write can meet
    # the client's delayed ACK and cost ~40 ms per keep-alive request.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def setup(self) -> None:
        super().setup()
        self._owner()._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._owner()._untrack(self.connection)

    def _owner(self) -> LoopbackServer:
        return cast(_HTTPServer, self.server).owner

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        # Thousands of benchmark requests must not turn into thousands of stderr lines.
        return

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _refuse(self) -> None:
        self._drain_request_body()
        self._owner()._record(self.command, self.path, self.headers.items())
        self._respond(_NOT_ALLOWED, head=False)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def _drain_request_body(self) -> None:
        # An unread request body would be parsed as the next request on this connection.
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return
        if length > 0:
            self.rfile.read(length)

    def _serve(self, *, head: bool) -> None:
        owner = self._owner()
        self._drain_request_body()
        owner._record(self.command, self.path, self.headers.items())
        with owner._in_flight():
            self._serve_route(owner, head=head)

    def _serve_route(self, owner: LoopbackServer, *, head: bool) -> None:
        route = owner._routes.get(self.path.split("?", 1)[0], _NOT_FOUND)
        if route.gather and not owner._gather(route.gather):
            self.close_connection = True
            return
        if route.delay_s and owner._stop_event.wait(route.delay_s):
            self.close_connection = True
            return
        if route.status == 200 and self._not_modified(route):
            self.send_response(304)
            self._send_validators(route)
            self.end_headers()
            return
        self._respond(route, head=head)

    def _not_modified(self, route: Route) -> bool:
        # If-None-Match wins over If-Modified-Since when both are present (RFC 9110 13.2.2).
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            if route.etag is None:
                return False
            tags = {_weak(tag) for tag in inm.split(",")}
            return "*" in tags or _weak(route.etag) in tags
        ims = self.headers.get("If-Modified-Since")
        if ims is None or route._last_modified_ts is None:
            return False
        since = _http_timestamp(ims)
        return since is not None and route._last_modified_ts <= since

    def _send_validators(self, route: Route) -> None:
        if route.etag is not None:
            self.send_header("ETag", route.etag)
        if route.last_modified is not None:
            self.send_header("Last-Modified", route.last_modified)

    def _respond(self, route: Route, *, head: bool) -> None:
        payload = route.payload
        if route.hang and not payload:
            payload = b" " * 1024
        self.send_response(route.status)
        if route.content_type:
            self.send_header("Content-Type", route.content_type)
        for name, value in route.headers:
            self.send_header(name, value)
        self._send_validators(route)
        if route.status in _BODYLESS_STATUSES or route.status < 200:
            self.end_headers()
            return
        if route.gzip or route.raw_gzip:
            self.send_header("Content-Encoding", "gzip")
        if route.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if route.hang:
            self._hang(payload, chunked=route.chunked, head=head)
            return
        if head:
            return
        self.wfile.write(_chunk(payload) if route.chunked else payload)

    def _hang(self, payload: bytes, *, chunked: bool, head: bool) -> None:
        if not head:
            # Keep at least one byte back so the response can never look complete.
            prefix = payload[: max(0, min(_HANG_PREFIX, len(payload) - 1))]
            if prefix:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(prefix), prefix) if chunked else prefix)
        self.wfile.flush()
        self._owner()._stop_event.wait()
        self.close_connection = True


def _chunk(payload: bytes) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(piece), piece)
        for piece in (payload[i : i + _CHUNK_SIZE] for i in range(0, len(payload), _CHUNK_SIZE))
    ]
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops SYNs when a benchmark opens many connections at once,
    # and each drop costs the client a one-second retransmit.
    request_queue_size = 1024

    def __init__(self, owner: LoopbackServer, port: int) -> None:
        self.owner = owner
        super().__init__((_HOST, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can stall for
        # seconds on machines without a resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name = _HOST
        self.server_port = self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-response (timeouts, size caps) are expected, not errors.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """Threaded HTTP/1.1 server on 127.0.0.1 with a mutable route table. Context manager.

    ``requests`` is the live log; ``requests.clear()`` resets it between test phases.
    Pass ``record=False`` to skip logging when only throughput matters.
    """

    def __init__(
        self,
        routes: Mapping[str, Route] | None = None,
        *,
        port: int = 0,
        record: bool = True,
    ) -> None:
        self._port = port
        self._record_enabled = record
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_accepted = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        self.requests: list[RecordedRequest] = []
        # Requests being answered now, the most ever at once, and `gather` rounds that never
        # filled; guarded by _flight (a Condition on _lock).
        self._flight = threading.Condition(self._lock)
        self._now_in_flight = 0
        self.max_in_flight = 0
        self.gathers_abandoned = 0
        self._gather_round = 0
        for path, route in (routes or {}).items():
            self.set(path, route)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        if self._httpd is not None:
            return self
        self._stop_event = threading.Event()
        httpd = _HTTPServer(self, self._port)
        port = httpd.server_address[1]
        self._base_url = f"http://{_HOST}:{port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"loopback-{port}",
            daemon=True,
        )
        self._httpd = httpd
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, releasing stalled (``hang``/``delay_s``) and idle keep-alive handlers."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stop_event.set()
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = dict(self._connections)
        for sock in connections:
            # Unblocks handlers sitting in readline() on an idle keep-alive connection.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 1.0
        for thread in connections.values():
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread is not None:
            self._thread.join(1.0)
            self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("LoopbackServer has not been started")
        return self._base_url

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- routes ----------------------------------------------------------------------------

    def set(self, path: str, route: Route) -> None:
        if not isinstance(route, Route):
            raise TypeError(f"expected a Route, got {type(route).__name__}")
        if not path.startswith("/") or "?" in path:
            raise ValueError(f"route path must start with '/' and have no query: {path!r}")
        with self._lock:
            self._routes[path] = route

    def remove(self, path: str) -> None:
        """Stop serving ``path`` (it then answers 404); unknown paths are ignored."""
        with self._lock:
            self._routes.pop(path, None)

    @property
    def routes(self) -> dict[str, Route]:
        with self._lock:
            return dict(self._routes)

    # -- request log -----------------------------------------------------------------------

    def count(self, path: str) -> int:
        """Requests seen for ``path``; a path without a query also counts queried requests."""
        with self._lock:
            seen = list(self.requests)
        if "?" in path:
            return sum(1 for r in seen if r.path == path)
        return sum(1 for r in seen if r.route_path == path)

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far; lets a benchmark prove keep-alive was used."""
        return self._connections_accepted

    def _record(self, method: str, path: str, headers: Sequence[tuple[str, str]]) -> None:
        if not self._record_enabled:
            return
        entry = RecordedRequest(
            method=method,
            path=path,
            headers={name.lower(): value for name, value in headers},
            time=time.time(),
            monotonic=time.monotonic(),
        )
        with self._lock:
            self.requests.append(entry)

    @contextlib.contextmanager
    def _in_flight(self) -> Iterator[None]:
        with self._flight:
            self._now_in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._now_in_flight)
            self._flight.notify_all()
        try:
            yield
        finally:
            with self._flight:
                self._now_in_flight -= 1

    def _gather(self, count: int) -> bool:
        """Hold until `count` requests are in flight at once; False if the server stopped.

        A barrier: the request that makes the count releases every one waiting, even if some
        has finished by the time a waiter wakes up."""
        deadline = time.monotonic() + GATHER_WAIT_S
        with self._flight:
            if self._now_in_flight >= count:
                self._gather_round += 1
                self._flight.notify_all()
                return not self._stop_event.is_set()
            mine = self._gather_round
            while self._gather_round == mine and not self._stop_event.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    self.gathers_abandoned += 1
                    break
                self._flight.wait(min(left, 0.05))
        return not self._stop_event.is_set()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections[sock] = threading.current_thread()
            self._connections_accepted += 1
            # Same lock as stop()'s snapshot: a connection accepted during stop() is either
            # in that snapshot or sees the event here, so none is left blocking.
            stopping = self._stop_event.is_set()
        if stopping:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.pop(sock, None)


# -- bundled sample -----------------------------------------------------------------------


def _inside(root: Path, candidate: Path) -> bool:
    try:
        return candidate.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def _first_file(root: Path, candidates: Sequence[Path]) -> Path | None:
    for candidate in candidates:
        if _inside(root, candidate) and candidate.is_file():
            return candidate
    return None


def load_sample_routes(base_url: str, sample_dir: Path | None = None) -> dict[str, Route]:
    """The bundled sample: spacewatch/sample/manifest.toml lists [[feeds]] (file, content_type)
    served at /feeds/<file>, and [[pages]] (path, content_type) served at /<path>.

    The literal ``{{BASE}}`` in each file's bytes becomes ``base_url`` (substituted on bytes,
    since files may be latin-1/cp1252). Every route gets ETag and Last-Modified validators.
    Entries whose file does not exist are not served, so they answer 404.

    A feed's file is looked up as ``feeds/<file>`` then ``<file>``; a page's as its own
    ``file`` key if given, else ``pages/<path>`` then ``<path>`` (all relative to the sample
    directory).
    """
    root = Path(sample_dir) if sample_dir is not None else SAMPLE_DIR
    manifest_path = root / "manifest.toml"
    with manifest_path.open("rb") as fh:
        manifest = tomllib.load(fh)
    base = base_url.rstrip("/").encode("utf-8")
    routes: dict[str, Route] = {}

    def add(url_path: str, file: Path | None, content_type: str) -> None:
        if file is None:
            return
        body = file.read_bytes().replace(BASE_PLACEHOLDER, base)
        routes[url_path] = static_route(body, content_type)

    for entry in manifest.get("feeds", []):
        name = _required(entry, "file", manifest_path)
        file = _first_file(root, [root / "feeds" / name, root / name])
        add("/feeds/" + name.lstrip("/"), file, entry.get("content_type", "application/xml"))
    for entry in manifest.get("pages", []):
        path = _required(entry, "path", manifest_path).lstrip("/")
        if "file" in entry:
            candidates = [root / str(entry["file"])]
        else:
            candidates = [root / "pages" / path, root / path]
        file = _first_file(root, candidates)
        add("/" + path, file, entry.get("content_type", "text/html; charset=utf-8"))
    return routes


def _required(entry: Mapping[str, Any], key: str, manifest_path: Path) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{manifest_path}: entry {dict(entry)!r} needs a string {key!r}")
    return value


# -- separate process ---------------------------------------------------------------------


def _with_base(route: Route, base: bytes) -> Route:
    if BASE_PLACEHOLDER not in route.body:
        return route
    # replace() re-runs __post_init__, so a gzip route is recompressed with the new body.
    return dataclasses.replace(route, body=route.body.replace(BASE_PLACEHOLDER, base))


def _subprocess_main(
    routes: Mapping[str, Route], conn: Connection, substitute_base: bool, port: int
) -> None:
    # Ctrl-C reaches the whole process group; the parent decides when this server ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server = LoopbackServer(port=port, record=False).start()
        base = server.base_url.encode("utf-8")
        for path, route in routes.items():
            server.set(path, _with_base(route, base) if substitute_base else route)
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ok", server.base_url))
    try:
        # Waiting on the pipe rather than an Event means a parent that dies without calling
        # stop() closes the pipe, and this process exits instead of lingering.
        conn.recv()
    except (EOFError, OSError):
        pass
    finally:
        server.stop()


def serve_forever_in_subprocess(
    routes: Mapping[str, Route],
    *,
    port: int = 0,
    substitute_base: bool = False,
    start_method: str = "spawn",
    startup_timeout_s: float = 30.0,
) -> tuple[str, Callable[[], None]]:
    """Start the server in a separate process so a benchmark's client does not share the GIL
    with the server; return (base_url, stop). No request log in this mode.

    With ``substitute_base=True`` the child replaces ``{{BASE}}`` in route bodies with its own
    base URL, which the caller cannot know in advance; e.g. pass
    ``load_sample_routes("{{BASE}}")``. ``spawn`` is the default because forking a process
    that already runs threads can deadlock the child.
    """
    ctx = multiprocessing.get_context(start_method)
    parent_conn, child_conn = ctx.Pipe()
    proc = ctx.Process(
        target=_subprocess_main,
        args=(dict(routes), child_conn, substitute_base, port),
        name="spacewatch-loopback",
        daemon=True,
    )
    proc.start()
    child_conn.close()
    try:
        if not parent_conn.poll(startup_timeout_s):
            raise RuntimeError(f"loopback subprocess did not start in {startup_timeout_s} s")
        status, value = parent_conn.recv()
    except (EOFError, RuntimeError) as exc:
        proc.kill()
        proc.join(2)
        parent_conn.close()
        raise RuntimeError(f"loopback subprocess failed to start: {exc}") from exc
    if status != "ok":
        proc.join(2)
        parent_conn.close()
        raise RuntimeError(f"loopback subprocess failed to start: {value}")

    lock = threading.Lock()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        with lock:
            if stopped:
                return
            stopped = True
        with contextlib.suppress(OSError):
            parent_conn.send("stop")
        proc.join(5)
        if proc.is_alive():
            proc.terminate()
            proc.join(2)
        if proc.is_alive():
            proc.kill()
            proc.join(2)
        parent_conn.close()

    return str(value), stop


# -- command line -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spacewatch.loopback",
        description="Serve the bundled Spacewatch sample feeds and pages on 127.0.0.1.",
    )
    parser.add_argument("--sample", action="store_true", help="serve the bundled sample")
    parser.add_argument(
        "--sample-dir", type=Path, help="serve this sample directory (implies --sample)"
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free)")
    args = parser.parse_args(argv)
    if not (args.sample or args.sample_dir):
        parser.error("nothing to serve: pass --sample")

    server = LoopbackServer(port=args.port).start()
    try:
        try:
            routes = load_sample_routes(server.base_url, args.sample_dir)
        except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
            print(f"cannot load sample: {exc}", file=sys.stderr)
            return 2
        for path, route in routes.items():
            server.set(path, route)
        print(f"serving {len(routes)} routes on {server.base_url}")
        for path in sorted(p for p in routes if p.startswith("/feeds/")):
            print(f"  feed: {server.url(path)}")
        print("Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
