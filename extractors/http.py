"""The one network module: polite, bounded, guarded HTTP GETs.

Every fetch of the project (feeds and article pages alike) goes through `Fetcher.fetch`, which
never raises for network trouble: it returns a `FetchResult` whose `outcome` says how it ended.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from .models import FetchResult, Outcome, Redirect

TEMPORARY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 524})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Cloud metadata endpoints that are not covered by the private/link-local ranges.
BLOCKED_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 16
    per_host_concurrency: int = 2
    user_agent: str = "Spacewatch/0.1"
    allow_private_addresses: bool = False


class RefusedAddress(Exception):
    """The host resolves to an address this fetcher must not contact."""


class BodyTooLarge(Exception):
    pass


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
    )


_CGNAT = ipaddress.ip_network("100.64.0.0/10")


async def _resolve(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


async def check_host_allowed(host: str, port: int, allow_private: bool) -> list[str]:
    """Resolve `host` and refuse it if any address is private, loopback, link-local..."""
    if allow_private:
        return await _resolve(host, port)
    if host.lower().rstrip(".") in BLOCKED_HOSTS:
        raise RefusedAddress(f"refused host {host} (cloud metadata service)")
    addresses = await _resolve(host, port)
    for address in addresses:
        if not is_public_address(ipaddress.ip_address(address.split("%")[0])):
            raise RefusedAddress(f"refused address {address} of {host} (private or local)")
    return addresses


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Checks the address at connect time too, so DNS rebinding cannot sneak past the guard."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, allow_private: bool) -> None:
        self._inner = inner
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[object] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await check_host_allowed(host, port, self._allow_private)
        # Connect to the address we checked, not to a fresh lookup of the name.
        return await self._inner.connect_tcp(
            addresses[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,  # type: ignore[arg-type]
        )

    async def connect_unix_socket(
        self, *args: object, **kwargs: object
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _make_transport(policy: FetchPolicy) -> httpx.AsyncHTTPTransport:
    limits = httpx.Limits(max_connections=policy.concurrency * 2, max_keepalive_connections=64)
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, retries=0)
    # httpx has no public hook for the network backend; httpx is pinned <0.29 for this reason.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(httpcore.AnyIOBackend(), policy.allow_private_addresses),
    )
    return transport


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _Decoder:
    """Content-Encoding decoding with a hard output cap, so a gzip bomb stops at the cap."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._z = None
        elif encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
            self._raw_deflate_fallback = True
        else:
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")
        self._max = max_bytes
        self.out = bytearray()

    _raw_deflate_fallback = False

    def feed(self, chunk: bytes) -> None:
        if self._z is None:
            self._append(chunk)
            return
        data = chunk
        while data:
            room = self._max - len(self.out) + 1
            try:
                piece = self._z.decompress(data, room)
            except zlib.error:
                if not (self._raw_deflate_fallback and not self.out):
                    raise
                # Many servers send "deflate" without the zlib header: raw DEFLATE.
                self._raw_deflate_fallback = False
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._raw_deflate_fallback = False
            self._append(piece)
            data = self._z.unconsumed_tail

    def close(self) -> None:
        if self._z is not None:
            self._append(self._z.flush())

    def _append(self, piece: bytes) -> None:
        self.out += piece
        if len(self.out) > self._max:
            raise BodyTooLarge(f"body exceeds {self._max} bytes")


class Fetcher:
    """An async HTTP client with global and per-host concurrency limits. Use `async with`."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._global = asyncio.Semaphore(policy.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._client = httpx.AsyncClient(
            transport=_make_transport(policy),
            timeout=httpx.Timeout(policy.timeout_s, connect=policy.connect_timeout_s),
            follow_redirects=False,  # each hop is checked and counted here
            headers={
                "User-Agent": policy.user_agent,
                "Accept-Encoding": "gzip, deflate",
            },
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def _host_limit(self, url: str) -> asyncio.Semaphore:
        host = (urlsplit(url).hostname or "").lower()
        if host not in self._hosts:
            self._hosts[host] = asyncio.Semaphore(self.policy.per_host_concurrency)
        return self._hosts[host]

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
    ) -> FetchResult:
        """GET `url` following at most `max_redirects` hops; never raises for network errors."""
        state: dict[str, object] = {"final_url": url, "redirects": [], "status": None, "read": 0}
        try:
            # The time limit starts once a slot is free: waiting in the queue is not the
            # server's fault (see _fetch_chain).
            async with self._global, asyncio.timeout(None) as deadline:
                state["deadline"] = deadline
                result = await self._fetch_chain(url, etag, last_modified, accept, state)
        except TimeoutError:
            result = self._failure(
                url, state, Outcome.TEMPORARY, f"timed out after {self.policy.timeout_s:g} s"
            )
        except RefusedAddress as exc:
            result = self._failure(url, state, Outcome.HARD, str(exc))
        except BodyTooLarge as exc:
            result = self._failure(url, state, Outcome.HARD, str(exc))
        except httpx.InvalidURL as exc:
            result = self._failure(url, state, Outcome.HARD, f"invalid URL: {exc}")
        except (httpx.TransportError, OSError) as exc:
            result = self._failure(url, state, Outcome.TEMPORARY, _describe(exc))
        except zlib.error as exc:
            result = self._failure(url, state, Outcome.HARD, f"corrupt compressed body: {exc}")
        except ValueError as exc:
            result = self._failure(url, state, Outcome.HARD, str(exc))
        started = state.get("started")
        duration = int((time.perf_counter() - started) * 1000) if started else 0  # type: ignore[operator]
        return _with_duration(result, duration)

    def _failure(
        self, url: str, state: dict[str, object], outcome: Outcome, error: str
    ) -> FetchResult:
        return FetchResult(
            url=url,
            final_url=str(state["final_url"]),
            outcome=outcome,
            status=state["status"],  # type: ignore[arg-type]
            redirects=tuple(state["redirects"]),  # type: ignore[arg-type]
            error=error,
            bytes_read=int(state["read"]),  # type: ignore[arg-type]
        )

    async def _fetch_chain(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        accept: str,
        state: dict[str, object],
    ) -> FetchResult:
        redirects: list[Redirect] = state["redirects"]  # type: ignore[assignment]
        seen = {url}
        current = url
        while True:
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return self._failure(url, state, Outcome.HARD, f"not an http(s) URL: {current}")
            parts.port  # noqa: B018 - raises ValueError (a hard failure) for a port out of range
            headers = {"Accept": accept}
            # Validators belong to the URL they came from; after a redirect they still apply,
            # since they describe the resource the operator configured.
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            async with self._host_limit(current):
                if "started" not in state:
                    state["started"] = time.perf_counter()
                    loop = asyncio.get_running_loop()
                    state["deadline"].reschedule(loop.time() + self.policy.timeout_s)  # type: ignore[attr-defined]
                request = self._client.build_request("GET", current, headers=headers)
                response = await self._client.send(request, stream=True)
                try:
                    state["status"] = response.status_code
                    if response.status_code in REDIRECT_STATUSES:
                        location = response.headers.get("location")
                        if not location:
                            return self._failure(
                                url, state, Outcome.HARD, "redirect without Location"
                            )
                        target = urljoin(current, location.strip())
                        redirects.append(Redirect(response.status_code, current, target))
                        if target in seen:
                            return self._failure(
                                url, state, Outcome.HARD, f"redirect loop at {target}"
                            )
                        if len(redirects) > self.policy.max_redirects:
                            return self._failure(
                                url,
                                state,
                                Outcome.HARD,
                                f"more than {self.policy.max_redirects} redirects",
                            )
                        seen.add(target)
                        state["final_url"] = current = target
                        continue
                    return await self._read(url, current, response, state)
                finally:
                    await response.aclose()

    async def _read(
        self, url: str, current: str, response: httpx.Response, state: dict[str, object]
    ) -> FetchResult:
        status = response.status_code
        headers = tuple((k.lower(), v) for k, v in response.headers.items())
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        common = {
            "url": url,
            "final_url": current,
            "status": status,
            "headers": headers,
            "redirects": tuple(state["redirects"]),  # type: ignore[arg-type]
            "retry_after_s": retry_after,
        }
        if status == 304:
            return FetchResult(outcome=Outcome.NOT_MODIFIED, **common)  # type: ignore[arg-type]
        if status != 200:
            outcome = (
                Outcome.TEMPORARY if status in TEMPORARY_STATUSES or status >= 500 else Outcome.HARD
            )
            reason = response.reason_phrase or ""
            return FetchResult(outcome=outcome, error=f"HTTP {status} {reason}".strip(), **common)  # type: ignore[arg-type]
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.policy.max_bytes:
            raise BodyTooLarge(
                f"body of {declared} bytes exceeds the cap of {self.policy.max_bytes}"
            )
        decoder = _Decoder(response.headers.get("content-encoding", ""), self.policy.max_bytes)
        async for chunk in response.aiter_raw(READ_CHUNK):
            state["read"] = int(state["read"]) + len(chunk)  # type: ignore[arg-type]
            decoder.feed(chunk)
        decoder.close()
        return FetchResult(
            outcome=Outcome.OK,
            body=bytes(decoder.out),
            bytes_read=int(state["read"]),  # type: ignore[arg-type]
            **common,  # type: ignore[arg-type]
        )


def _describe(exc: BaseException) -> str:
    """A short, operator-readable reason for a transport failure."""
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed ({exc.strerror or exc})"
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout):
        return "timed out waiting for the server"
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
        return f"could not connect ({exc or 'connection refused'})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error: {exc}"[:500]
    name = type(exc).__name__
    text = str(exc) or repr(exc)
    return f"{name}: {text}"[:500]


def _with_duration(result: FetchResult, duration_ms: int) -> FetchResult:
    return replace(result, duration_ms=duration_ms)
