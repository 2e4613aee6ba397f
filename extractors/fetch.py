"""The one network module: polite, bounded, guarded HTTP GETs.

Every fetch of the project (feeds and article pages alike) goes through `Fetcher.fetch`, which
never raises for network trouble: it returns a `FetchResult` whose `outcome` says how it ended.

Over 500 lines on purpose: the address guard runs inside this client's connection pool (its
network backend), so the two are one thing; it is the project's one network module.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import socket
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from spacewatch.extractors.models import FetchResult, Outcome, Redirect

TEMPORARY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 524})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Names of cloud metadata services, refused before any lookup (their addresses are refused too).
BLOCKED_HOSTS = frozenset(
    {"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"}
)
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


# -- the address guard -------------------------------------------------------------------------
#
# Three kinds of address. PUBLIC ones are always fetched. PRIVATE ones (loopback, private-use,
# shared, unique-local, site-local) are where an intranet feed lives: fetched only for a feed
# with `allow_private_addresses`. FORBIDDEN ones are never fetched: cloud metadata services,
# link-local, and every other special-purpose range of the IANA IPv4 and IPv6 registries
# (documentation, benchmarking, multicast, reserved...), even the few that IANA marks globally
# reachable (anycast services, AS112): no news site lives there. Addresses that embed an IPv4
# address (IPv4-mapped, NAT64, 6to4, Teredo) are judged by the address they embed.


class AddressKind(enum.Enum):
    PUBLIC = "public"
    PRIVATE = "private"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True, slots=True)
class AddressVerdict:
    kind: AddressKind
    reason: str  # what the address is, for error messages: "private-use", "cloud metadata"...

    def allowed(self, allow_private: bool) -> bool:
        return self.kind is AddressKind.PUBLIC or (
            allow_private and self.kind is AddressKind.PRIVATE
        )


_P, _F = AddressKind.PRIVATE, AddressKind.FORBIDDEN

# Cloud metadata and platform services. Most sit in link-local space, which is forbidden
# anyway; these are the ones that would otherwise count as private or even public.
CLOUD_METADATA_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.169.254/32",  # AWS, GCP, Azure, OpenStack, Oracle...
        "169.254.170.2/32",  # AWS ECS task metadata
        "100.100.100.200/32",  # Alibaba Cloud (inside the shared 100.64.0.0/10)
        "192.0.0.192/32",  # Oracle Cloud Classic
        "168.63.129.16/32",  # Azure WireServer (a public address)
        "fd00:ec2::/32",  # AWS over IPv6: metadata fd00:ec2::254, DNS, NTP (unique-local)
        "fd20:ce::254/128",  # GCP metadata over IPv6 (unique-local)
    )
)

_IPV4_RANGES: tuple[tuple[ipaddress.IPv4Network, AddressKind, str], ...] = tuple(
    (ipaddress.IPv4Network(net), kind, reason)
    for net, kind, reason in (
        ("0.0.0.0/8", _F, "'this network'"),
        ("10.0.0.0/8", _P, "private-use"),
        ("100.64.0.0/10", _P, "shared address space (CGNAT)"),
        ("127.0.0.0/8", _P, "loopback"),
        ("169.254.0.0/16", _F, "link-local"),
        ("172.16.0.0/12", _P, "private-use"),
        ("192.0.0.0/24", _F, "IETF protocol assignments"),
        ("192.0.2.0/24", _F, "documentation"),
        ("192.31.196.0/24", _F, "AS112"),
        ("192.52.193.0/24", _F, "AMT"),
        ("192.88.99.0/24", _F, "6to4 relay anycast"),
        ("192.168.0.0/16", _P, "private-use"),
        ("192.175.48.0/24", _F, "AS112 direct delegation"),
        ("198.18.0.0/15", _F, "benchmarking"),
        ("198.51.100.0/24", _F, "documentation"),
        ("203.0.113.0/24", _F, "documentation"),
        ("224.0.0.0/4", _F, "multicast"),
        ("240.0.0.0/4", _F, "reserved"),  # 255.255.255.255, limited broadcast, included
    )
)

# IPv6 outside 2000::/3 is not global unicast: only these ranges there are named; every other
# address is forbidden as reserved. IPv4-embedding ranges are handled before this table.
_IPV6_RANGES: tuple[tuple[ipaddress.IPv6Network, AddressKind, str], ...] = tuple(
    (ipaddress.IPv6Network(net), kind, reason)
    for net, kind, reason in (
        ("::/128", _F, "unspecified"),
        ("::1/128", _P, "loopback"),
        ("64:ff9b:1::/48", _F, "local-use IPv4/IPv6 translation"),
        ("100::/64", _F, "discard-only"),
        ("2001::/23", _F, "IETF protocol assignments"),
        ("2001:db8::/32", _F, "documentation"),
        ("2620:4f:8000::/48", _F, "AS112 direct delegation"),
        ("3fff::/20", _F, "documentation"),
        ("5f00::/16", _F, "segment routing (SRv6) SIDs"),
        ("fc00::/7", _P, "unique-local"),
        ("fe80::/10", _F, "link-local"),
        ("fec0::/10", _P, "site-local (deprecated)"),
        ("ff00::/8", _F, "multicast"),
    )
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")


def classify_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> AddressVerdict:
    """Whether an address is public, private (intranet) or never to be contacted, and why."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(ip.packed)  # the zone does not change what the address is
    if any(ip in net for net in CLOUD_METADATA_NETWORKS if net.version == ip.version):
        return AddressVerdict(AddressKind.FORBIDDEN, "cloud metadata")
    if isinstance(ip, ipaddress.IPv4Address):
        for net, kind, reason in _IPV4_RANGES:
            if ip in net:
                return AddressVerdict(kind, reason)
        return AddressVerdict(AddressKind.PUBLIC, "public")
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        label, inner = embedded
        verdicts = [classify_address(v4) for v4 in inner]
        worst = max(verdicts, key=lambda v: _SEVERITY[v.kind])
        if worst.kind is AddressKind.PUBLIC:
            return worst
        return AddressVerdict(worst.kind, f"{label} of {worst.reason}")
    for net6, kind, reason in _IPV6_RANGES:
        if ip in net6:
            return AddressVerdict(kind, reason)
    if ip not in _GLOBAL_UNICAST:
        return AddressVerdict(AddressKind.FORBIDDEN, "reserved (not global unicast)")
    return AddressVerdict(AddressKind.PUBLIC, "public")


_SEVERITY = {AddressKind.PUBLIC: 0, AddressKind.PRIVATE: 1, AddressKind.FORBIDDEN: 2}


def _embedded_ipv4(
    ip: ipaddress.IPv6Address,
) -> tuple[str, tuple[ipaddress.IPv4Address, ...]] | None:
    """The IPv4 address(es) an IPv6 address carries, where the network would deliver to them."""
    if ip in _MAPPED:
        return "IPv4-mapped", (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip in _NAT64:
        return "NAT64", (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip in _SIXTOFOUR:
        return "6to4", (ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF),)
    if ip in _TEREDO:
        server = ipaddress.IPv4Address((int(ip) >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address(~int(ip) & 0xFFFFFFFF)  # stored inverted (RFC 4380)
        return "Teredo", (server, client)
    return None


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return classify_address(ip).kind is AddressKind.PUBLIC


def _parse_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(address.strip("[]"))


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver, in the order it gives them."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_host(host: str, port: int, resolver: Resolver = system_resolver) -> list[str]:
    """A literal address as itself; a name through `resolver` (one lookup)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    return list(dict.fromkeys(await resolver(host, port)))


def refusal(address: str, allow_private: bool) -> str | None:
    """Why this address must not be contacted, or None when it may be."""
    verdict = classify_address(_parse_address(address))
    return None if verdict.allowed(allow_private) else verdict.reason


async def check_host_allowed(
    host: str, port: int, allow_private: bool, resolver: Resolver = system_resolver
) -> list[str]:
    """The addresses of `host` this fetcher may contact, in resolver order; RefusedAddress
    when there is none (or the name is a cloud metadata service)."""
    if host.lower().rstrip(".") in BLOCKED_HOSTS:
        raise RefusedAddress(f"refused host {host} (cloud metadata service)")
    addresses = await resolve_host(host, port, resolver)
    allowed, refused = [], []
    for address in addresses:
        reason = refusal(address, allow_private)
        if reason is None:
            allowed.append(address)
        else:
            refused.append(f"{address} ({reason})")
    if not allowed:
        if not refused:
            raise RefusedAddress(f"refused host {host}: it resolved to no address")
        if _literal(host) is not None:
            raise RefusedAddress(f"refused address {refused[0]}")
        raise RefusedAddress(f"refused every address of {host}: {', '.join(refused)}")
    return allowed


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves once, checks every address and connects only to an address it checked, trying
    each allowed one in turn: DNS rebinding cannot slip a second answer in between."""

    def __init__(
        self, inner: httpcore.AsyncNetworkBackend, allow_private: bool, resolver: Resolver
    ) -> None:
        self._inner = inner
        self._allow_private = allow_private
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[object] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await check_host_allowed(host, port, self._allow_private, self._resolver)
        for index, address in enumerate(addresses):
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,  # type: ignore[arg-type]
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError):
                if index == len(addresses) - 1:
                    raise
        raise AssertionError("unreachable")  # check_host_allowed never returns an empty list


def _make_transport(
    policy: FetchPolicy,
    allow_private: bool,
    resolver: Resolver,
    network: httpcore.AsyncNetworkBackend | None,
) -> httpx.AsyncHTTPTransport:
    limits = httpx.Limits(max_connections=policy.concurrency * 2, max_keepalive_connections=64)
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, retries=0)
    # httpx has no public hook for the network backend; httpx is pinned <0.29 for this reason.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(
            network or httpcore.AnyIOBackend(), allow_private, resolver
        ),
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
    """An async HTTP client with global and per-host concurrency limits. Use `async with`.

    `resolver` looks host names up (the system's by default); `network` makes the TCP
    connections (httpcore's AnyIO backend by default); `clock` times each fetch's
    `duration_ms` (seconds, `time.perf_counter` by default). Both are seams for tests and for
    unusual networks; the address guard sits between them and cannot be bypassed by either.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: Resolver = system_resolver,
        network: httpcore.AsyncNetworkBackend | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._resolver = resolver
        self._network = network
        self._global = asyncio.Semaphore(policy.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        # One client per private-address setting: a pooled keep-alive connection to an
        # intranet host, opened for a feed that may reach it, must never serve a fetch that
        # may not.
        self._clients: dict[bool, httpx.AsyncClient] = {}

    def _client(self, allow_private: bool) -> httpx.AsyncClient:
        client = self._clients.get(allow_private)
        if client is None:
            policy = self.policy
            client = self._clients[allow_private] = httpx.AsyncClient(
                transport=_make_transport(policy, allow_private, self._resolver, self._network),
                timeout=httpx.Timeout(policy.timeout_s, connect=policy.connect_timeout_s),
                follow_redirects=False,  # each hop is checked and counted here
                headers={
                    "User-Agent": policy.user_agent,
                    "Accept-Encoding": "gzip, deflate",
                },
            )
        return client

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in self._clients.values():
            await client.aclose()

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
        allow_private: bool | None = None,
    ) -> FetchResult:
        """GET `url` following at most `max_redirects` hops; never raises for network errors.

        `allow_private`: whether this fetch may reach private addresses; None takes the
        policy's `allow_private_addresses`. Cloud metadata, link-local and other
        special-purpose addresses are refused either way.
        """
        if allow_private is None:
            allow_private = self.policy.allow_private_addresses
        client = self._client(allow_private)
        state: dict[str, object] = {"final_url": url, "redirects": [], "status": None, "read": 0}
        try:
            # The time limit starts once a slot is free: waiting in the queue is not the
            # server's fault (see _fetch_chain).
            async with self._global, asyncio.timeout(None) as deadline:
                state["deadline"] = deadline
                result = await self._fetch_chain(client, url, etag, last_modified, accept, state)
        except TimeoutError:
            result = self._failure(
                url, state, Outcome.TEMPORARY, f"timed out after {self.policy.timeout_s:g} s"
            )
        except RefusedAddress as exc:
            # The hop that was refused: after a redirect it is not the URL asked for.
            result = self._failure(url, state, Outcome.HARD, f"{exc}, for {state['final_url']}")
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
        duration = int((self._clock() - started) * 1000) if started else 0  # type: ignore[operator]
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
        client: httpx.AsyncClient,
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
                    state["started"] = self._clock()
                    loop = asyncio.get_running_loop()
                    state["deadline"].reschedule(loop.time() + self.policy.timeout_s)  # type: ignore[attr-defined]
                request = client.build_request("GET", current, headers=headers)
                response = await client.send(request, stream=True)
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
        return f"could not connect ({str(exc) or 'connection refused'})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error: {exc}"[:500]
    name = type(exc).__name__
    text = str(exc) or repr(exc)
    return f"{name}: {text}"[:500]


def _with_duration(result: FetchResult, duration_ms: int) -> FetchResult:
    return replace(result, duration_ms=duration_ms)
