"""The Fetcher over real sockets: a LoopbackServer on 127.0.0.1, no mocked transport.

Every test drives `Fetcher.fetch` with `asyncio.run` and checks both what the client reports
(`FetchResult`) and what the server saw (`LoopbackServer.requests`).
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import resource
import socket
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import time_machine

from spacewatch.extractors.fetch import (
    READ_CHUNK,
    Fetcher,
    FetchPolicy,
    RefusedAddress,
    check_host_allowed,
    is_public_address,
    parse_retry_after,
)
from spacewatch.extractors.models import FetchResult, Outcome
from spacewatch.loopback import FIXED_LAST_MODIFIED, LoopbackServer, Route, static_route

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Loopback</title>
<item><title>Artemis II</title><link>http://example.org/a2</link></item>
</channel></rss>
"""
RSS_TYPE = "application/rss+xml; charset=utf-8"


# -- helpers -----------------------------------------------------------------------------------


def policy(**overrides: object) -> FetchPolicy:
    """A loopback-friendly policy with short timeouts so failures are quick."""
    values: dict[str, object] = {
        "allow_private_addresses": True,
        "timeout_s": 5.0,
        "connect_timeout_s": 2.0,
    }
    values.update(overrides)
    return FetchPolicy(**values)  # type: ignore[arg-type]


def fetch(url: str, pol: FetchPolicy | None = None, **kwargs: object) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(pol or policy()) as fetcher:
            return await fetcher.fetch(url, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(run())


def fetch_many(urls: Sequence[str], pol: FetchPolicy) -> list[FetchResult]:
    async def run() -> list[FetchResult]:
        async with Fetcher(pol) as fetcher:
            return list(await asyncio.gather(*(fetcher.fetch(u) for u in urls)))

    return asyncio.run(run())


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def localhost_is_ipv4_first() -> bool:
    try:
        infos = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and infos[0][4][0] == "127.0.0.1"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


# -- 200, headers, conditional GET ---------------------------------------------------------------


def test_200_body_headers_and_metadata(server: LoopbackServer) -> None:
    server.set(
        "/feed",
        Route(
            FEED,
            content_type=RSS_TYPE,
            headers=(("X-Feed-Id", "42"), ("Cache-Control", "max-age=60")),
        ),
    )
    url = server.url("/feed")
    result = fetch(url)
    assert result.outcome is Outcome.OK
    assert result.status == 200
    assert result.body == FEED
    assert result.bytes_read == len(FEED)
    assert result.url == result.final_url == url
    assert result.redirects == ()
    assert result.permanent_redirect_target is None
    assert result.error is None
    assert result.retry_after_s is None
    # Header names are lower-cased and looked up case-insensitively.
    assert all(name == name.lower() for name, _ in result.headers)
    assert result.header("Content-Type") == RSS_TYPE
    assert result.header("x-feed-id") == "42"
    assert result.header("cache-control") == "max-age=60"
    assert result.header("etag") is None
    assert server.count("/feed") == 1
    assert server.requests[0].method == "GET"


def test_duration_is_measured_on_the_fetchers_clock(server: LoopbackServer) -> None:
    """From the moment a slot is free to the result, in whole milliseconds."""
    server.set("/feed", Route(FEED, content_type=RSS_TYPE))
    readings = iter([100.0, 100.2504])

    async def run() -> FetchResult:
        async with Fetcher(policy(), clock=lambda: next(readings)) as fetcher:
            return await fetcher.fetch(server.url("/feed"))

    result = asyncio.run(run())
    assert result.outcome is Outcome.OK
    assert result.duration_ms == 250
    assert next(readings, None) is None  # read exactly twice: start and end


def test_request_headers_user_agent_accept_and_encoding(server: LoopbackServer) -> None:
    server.set("/feed", Route(FEED, content_type=RSS_TYPE))
    agent = "SpacewatchTest/9.9 (+https://example.org/bot)"
    accept = "application/rss+xml, application/atom+xml;q=0.9"
    result = fetch(server.url("/feed"), policy(user_agent=agent), accept=accept)
    assert result.outcome is Outcome.OK
    sent = server.requests[0].headers
    assert sent["user-agent"] == agent
    assert sent["accept"] == accept
    assert "gzip" in sent["accept-encoding"]
    # No validators unless the caller has some.
    assert "if-none-match" not in sent
    assert "if-modified-since" not in sent


def test_validators_round_trip_and_304(server: LoopbackServer) -> None:
    route = static_route(FEED, RSS_TYPE)
    server.set("/feed", route)
    url = server.url("/feed")

    first = fetch(url)
    assert first.outcome is Outcome.OK
    etag, last_modified = first.header("etag"), first.header("last-modified")
    assert etag == route.etag
    assert last_modified == FIXED_LAST_MODIFIED

    second = fetch(url, etag=etag, last_modified=last_modified)
    assert second.outcome is Outcome.NOT_MODIFIED
    assert second.status == 304
    assert second.body == b""
    assert second.error is None
    assert second.header("etag") == etag
    sent = server.requests[-1].headers
    assert sent["if-none-match"] == etag
    assert sent["if-modified-since"] == last_modified


def test_if_modified_since_alone_gives_304(server: LoopbackServer) -> None:
    server.set("/feed", static_route(FEED, RSS_TYPE))
    result = fetch(server.url("/feed"), last_modified=FIXED_LAST_MODIFIED)
    assert result.outcome is Outcome.NOT_MODIFIED
    assert server.requests[-1].headers["if-modified-since"] == FIXED_LAST_MODIFIED
    assert "if-none-match" not in server.requests[-1].headers


def test_stale_etag_gets_the_full_body(server: LoopbackServer) -> None:
    server.set("/feed", static_route(FEED, RSS_TYPE))
    result = fetch(server.url("/feed"), etag='"an-old-version"')
    assert result.outcome is Outcome.OK
    assert result.body == FEED
    assert server.requests[-1].headers["if-none-match"] == '"an-old-version"'


# -- error statuses and Retry-After -----------------------------------------------------------


def test_429_with_retry_after_seconds(server: LoopbackServer) -> None:
    server.set("/limited", Route(b"slow down", status=429, headers=(("Retry-After", "120"),)))
    result = fetch(server.url("/limited"))
    assert result.outcome is Outcome.TEMPORARY
    assert result.status == 429
    assert result.retry_after_s == 120.0
    assert result.error is not None and "429" in result.error
    assert result.body == b""


def test_429_with_retry_after_http_date(server: LoopbackServer) -> None:
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    when = now + timedelta(hours=1)
    server.set(
        "/limited",
        Route(b"", status=429, headers=(("Retry-After", format_datetime(when, usegmt=True)),)),
    )
    # The date is read against the wall clock inside the fetch; time-machine fixes that clock
    # (asyncio's monotonic clock, which the time limits use, keeps running).
    with time_machine.travel(now, tick=False):
        result = fetch(server.url("/limited"))
    assert result.outcome is Outcome.TEMPORARY
    assert result.retry_after_s == 3600.0


def test_503_with_retry_after_is_temporary(server: LoopbackServer) -> None:
    server.set("/down", Route(b"maintenance", status=503, headers=(("Retry-After", "30"),)))
    result = fetch(server.url("/down"))
    assert result.outcome is Outcome.TEMPORARY
    assert result.retry_after_s == 30.0


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 599])
def test_server_errors_are_temporary(server: LoopbackServer, status: int) -> None:
    server.set("/x", Route(b"oops", status=status))
    result = fetch(server.url("/x"))
    assert result.outcome is Outcome.TEMPORARY
    assert result.status == status
    assert result.error is not None and f"HTTP {status}" in result.error
    assert result.retry_after_s is None


@pytest.mark.parametrize("status", [404, 410, 400, 401, 403, 451])
def test_client_errors_are_hard(server: LoopbackServer, status: int) -> None:
    server.set("/x", Route(b"gone", status=status))
    result = fetch(server.url("/x"))
    assert result.outcome is Outcome.HARD
    assert result.status == status
    assert result.error is not None and f"HTTP {status}" in result.error
    assert result.body == b""


def test_unknown_path_is_hard_404(server: LoopbackServer) -> None:
    result = fetch(server.url("/nothing-here"))
    assert result.outcome is Outcome.HARD
    assert result.status == 404


def test_parse_retry_after_values() -> None:
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    earlier = format_datetime(now - timedelta(hours=1), usegmt=True)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("  7 ") == 7.0
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(90.0)
    assert parse_retry_after(earlier, now=now.timestamp()) == 0.0  # never negative
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
    assert parse_retry_after("1.5") is None


def test_retry_after_with_non_ascii_digit_stays_temporary(server: LoopbackServer) -> None:
    server.set("/limited", Route(b"", status=429, headers=(("Retry-After", "\xb2"),)))
    result = fetch(server.url("/limited"))
    assert result.outcome is Outcome.TEMPORARY
    assert result.retry_after_s is None


# -- timeouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
def test_hanging_body_times_out_promptly(server: LoopbackServer, chunked: bool) -> None:
    server.set("/hang", Route(b"", hang=True, chunked=chunked))
    # The server withholds the body until it stops, after the test: a result at all means
    # the stall was detected (a missing timeout would hang until pytest's own).
    result = fetch(server.url("/hang"), policy(timeout_s=0.5))
    assert result.outcome is Outcome.TEMPORARY
    assert result.error == "timed out after 0.5 s"
    assert result.status == 200  # headers arrived, the body never finished
    assert result.body == b""
    assert server.count("/hang") == 1


def test_server_that_never_answers_times_out(server: LoopbackServer) -> None:
    # The answer would come after 30 s: TEMPORARY without a status means the fetch gave up
    # first (without the time limit it would be OK with the late body).
    server.set("/silent", Route(b"late", delay_s=30))
    result = fetch(server.url("/silent"), policy(timeout_s=0.5))
    assert result.outcome is Outcome.TEMPORARY
    assert result.error == "timed out after 0.5 s"
    assert result.status is None
    assert result.body == b""


def test_timeout_releases_the_host_slot(server: LoopbackServer) -> None:
    """A timed-out fetch must give back its per-host slot, or the host is blocked for good."""
    server.set("/hang", Route(b"", hang=True))
    server.set("/feed", Route(FEED, content_type=RSS_TYPE))

    async def run() -> tuple[FetchResult, FetchResult]:
        async with Fetcher(policy(timeout_s=0.5, per_host_concurrency=1, concurrency=1)) as f:
            first = await f.fetch(server.url("/hang"))
            second = await f.fetch(server.url("/feed"))
            return first, second

    first, second = asyncio.run(run())
    assert first.outcome is Outcome.TEMPORARY
    assert second.outcome is Outcome.OK
    assert second.body == FEED


# -- redirects -----------------------------------------------------------------------------------


def redirect(location: str, status: int = 301) -> Route:
    return Route(b"", status=status, headers=(("Location", location),))


def test_redirect_chain_of_three_is_followed(server: LoopbackServer) -> None:
    server.set("/r1", redirect("/r2", 301))
    server.set("/r2", redirect("r3", 302))  # relative to /r2's directory
    server.set("/r3", redirect(server.url("/final"), 307))  # absolute
    server.set("/final", Route(FEED, content_type=RSS_TYPE))
    result = fetch(server.url("/r1"))
    assert result.outcome is Outcome.OK
    assert result.body == FEED
    assert result.url == server.url("/r1")
    assert result.final_url == server.url("/final")
    assert [(r.status, r.from_url, r.to_url) for r in result.redirects] == [
        (301, server.url("/r1"), server.url("/r2")),
        (302, server.url("/r2"), server.url("/r3")),
        (307, server.url("/r3"), server.url("/final")),
    ]
    assert result.permanent_redirect_target is None  # 302 and 307 are temporary
    assert [r.route_path for r in server.requests] == ["/r1", "/r2", "/r3", "/final"]


def test_all_permanent_hops_give_a_permanent_target(server: LoopbackServer) -> None:
    server.set("/old", redirect("/older", 301))
    server.set("/older", redirect("/new", 308))
    server.set("/new", Route(FEED, content_type=RSS_TYPE))
    result = fetch(server.url("/old"))
    assert result.outcome is Outcome.OK
    assert [r.status for r in result.redirects] == [301, 308]
    assert all(r.permanent for r in result.redirects)
    assert result.permanent_redirect_target == server.url("/new")


@pytest.mark.parametrize("statuses", [(301, 302), (302, 301), (303,), (307, 308)])
def test_any_temporary_hop_means_no_permanent_target(
    server: LoopbackServer, statuses: tuple[int, ...]
) -> None:
    for i, status in enumerate(statuses):
        server.set(f"/h{i}", redirect(f"/h{i + 1}", status))
    server.set(f"/h{len(statuses)}", Route(FEED))
    result = fetch(server.url("/h0"))
    assert result.outcome is Outcome.OK
    assert len(result.redirects) == len(statuses)
    assert result.permanent_redirect_target is None


def chain(server: LoopbackServer, hops: int) -> None:
    for i in range(hops):
        server.set(f"/c{i}", redirect(f"/c{i + 1}", 302 if i % 2 else 301))
    server.set(f"/c{hops}", Route(FEED))


def test_five_redirects_are_allowed(server: LoopbackServer) -> None:
    chain(server, 5)
    result = fetch(server.url("/c0"))
    assert result.outcome is Outcome.OK
    assert len(result.redirects) == 5
    assert result.final_url == server.url("/c5")


def test_six_redirects_are_too_many(server: LoopbackServer) -> None:
    chain(server, 6)
    result = fetch(server.url("/c0"))
    assert result.outcome is Outcome.HARD
    assert result.error is not None and "more than 5 redirects" in result.error
    assert len(result.redirects) == 6
    assert server.count("/c6") == 0  # the sixth hop was never followed


def test_max_redirects_is_the_policys(server: LoopbackServer) -> None:
    chain(server, 2)
    result = fetch(server.url("/c0"), policy(max_redirects=1))
    assert result.outcome is Outcome.HARD
    assert result.error is not None and "more than 1 redirects" in result.error


def test_redirect_loop_is_hard(server: LoopbackServer) -> None:
    server.set("/a", redirect("/b", 302))
    server.set("/b", redirect("/a", 302))
    result = fetch(server.url("/a"))
    assert result.outcome is Outcome.HARD
    assert result.error is not None and "redirect loop" in result.error
    assert len(result.redirects) == 2
    assert server.count("/a") == 1 and server.count("/b") == 1


def test_redirect_to_itself_is_a_loop(server: LoopbackServer) -> None:
    server.set("/self", redirect("/self", 301))
    result = fetch(server.url("/self"))
    assert result.outcome is Outcome.HARD
    assert result.error is not None and "redirect loop" in result.error
    assert server.count("/self") == 1


def test_redirect_without_location_is_hard(server: LoopbackServer) -> None:
    server.set("/nowhere", Route(b"", status=302))
    result = fetch(server.url("/nowhere"))
    assert result.outcome is Outcome.HARD
    assert result.status == 302
    assert result.error is not None and "Location" in result.error


def test_redirect_to_another_scheme_is_hard(server: LoopbackServer) -> None:
    server.set("/ftp", redirect("ftp://example.org/feed.xml", 301))
    result = fetch(server.url("/ftp"))
    assert result.outcome is Outcome.HARD
    assert result.error is not None and "ftp://example.org/feed.xml" in result.error


def test_validators_follow_redirects_and_304_keeps_the_chain(server: LoopbackServer) -> None:
    target = static_route(FEED, RSS_TYPE)
    server.set("/moved", redirect("/here", 301))
    server.set("/here", target)
    result = fetch(server.url("/moved"), etag=target.etag)
    assert result.outcome is Outcome.NOT_MODIFIED
    assert result.permanent_redirect_target == server.url("/here")
    assert server.requests[-1].route_path == "/here"
    assert server.requests[-1].headers["if-none-match"] == target.etag


# -- size caps and compression ---------------------------------------------------------------


def test_declared_oversized_body_is_refused_unread(server: LoopbackServer) -> None:
    cap = 64 * 1024
    server.set("/big", Route(b"x" * (cap + 1)))
    result = fetch(server.url("/big"), policy(max_bytes=cap))
    assert result.outcome is Outcome.HARD
    assert result.error is not None and "exceeds" in result.error
    assert result.body == b""
    assert result.bytes_read == 0  # Content-Length alone was enough to refuse


def test_body_of_exactly_the_cap_is_accepted(server: LoopbackServer) -> None:
    cap = 64 * 1024
    body = bytes(range(256)) * (cap // 256)
    server.set("/edge", Route(body, chunked=True))
    result = fetch(server.url("/edge"), policy(max_bytes=cap))
    assert result.outcome is Outcome.OK
    assert result.body == body


def test_chunked_oversized_body_stops_near_the_cap(server: LoopbackServer) -> None:
    cap = 256 * 1024
    total = 16 * 1024 * 1024
    server.set("/stream", Route(b"y" * total, chunked=True))
    result = fetch(server.url("/stream"), policy(max_bytes=cap))
    assert result.outcome is Outcome.HARD
    assert result.error is not None and "exceeds" in result.error
    assert result.header("content-length") is None
    assert result.body == b""
    assert cap < result.bytes_read <= cap + 2 * READ_CHUNK
    assert result.bytes_read < total // 10


def gzip_of_zeros(megabytes: int) -> bytes:
    """Gzip of `megabytes` MiB of zeros, compressed one MiB at a time (about 1 KiB per MiB)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(megabytes)]
    parts.append(compressor.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return gzip_of_zeros(200)


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


@pytest.mark.parametrize("chunked", [False, True])
def test_gzip_bomb_stops_at_the_cap(
    server: LoopbackServer, gzip_bomb: bytes, chunked: bool
) -> None:
    cap = 1 << 20
    assert len(gzip_bomb) < cap  # the compressed size alone would pass the cap
    server.set("/bomb", Route(gzip_bomb, raw_gzip=True, chunked=chunked))
    before = max_rss_bytes()
    result = fetch(server.url("/bomb"), policy(max_bytes=cap))
    grown = max_rss_bytes() - before
    assert result.outcome is Outcome.HARD
    assert result.error is not None and "exceeds" in result.error
    assert result.body == b""
    assert result.bytes_read <= len(gzip_bomb)
    assert grown < 100 * 1024 * 1024, f"peak memory grew by {grown / 2**20:.0f} MiB"


@pytest.mark.parametrize("chunked", [False, True])
def test_gzip_route_is_decoded(server: LoopbackServer, chunked: bool) -> None:
    body = FEED * 200
    route = Route(body, content_type=RSS_TYPE, gzip=True, chunked=chunked)
    server.set("/gz", route)
    result = fetch(server.url("/gz"))
    assert result.outcome is Outcome.OK
    assert result.body == body
    assert result.header("content-encoding") == "gzip"
    assert result.bytes_read == len(route.payload) < len(body)


def test_zlib_deflate_is_decoded(server: LoopbackServer) -> None:
    body = FEED * 50
    server.set("/deflate", Route(zlib.compress(body), headers=(("Content-Encoding", "deflate"),)))
    result = fetch(server.url("/deflate"))
    assert result.outcome is Outcome.OK
    assert result.body == body


def test_decompressed_size_under_cap_is_fine(server: LoopbackServer) -> None:
    body = gzip.decompress(gzip_of_zeros(2))
    server.set("/zeros", Route(gzip_of_zeros(2), raw_gzip=True))
    result = fetch(server.url("/zeros"), policy(max_bytes=4 << 20))
    assert result.outcome is Outcome.OK
    assert result.body == body


def test_unsupported_content_encoding_is_hard(server: LoopbackServer) -> None:
    server.set("/br", Route(b"\x1b\x00\x00", headers=(("Content-Encoding", "br"),)))
    result = fetch(server.url("/br"))
    assert result.outcome is Outcome.HARD
    assert result.error is not None and "Content-Encoding" in result.error


def test_corrupt_gzip_body_does_not_raise(server: LoopbackServer) -> None:
    server.set("/badgz", Route(b"this is not gzip at all", raw_gzip=True))
    result = fetch(server.url("/badgz"))
    assert result.outcome is Outcome.HARD
    assert result.body == b""


def test_raw_deflate_body_does_not_raise(server: LoopbackServer) -> None:
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    payload = raw.compress(FEED) + raw.flush()
    server.set("/rawdeflate", Route(payload, headers=(("Content-Encoding", "deflate"),)))
    result = fetch(server.url("/rawdeflate"))
    # "deflate" without the zlib header, as many servers send it: decoded, not refused.
    assert result.outcome is Outcome.OK, result.error
    assert result.body == FEED


# -- private addresses -----------------------------------------------------------------------


def test_loopback_is_refused_without_contacting_it(server: LoopbackServer) -> None:
    server.set("/feed", Route(FEED))
    result = fetch(server.url("/feed"), policy(allow_private_addresses=False))
    assert result.outcome is Outcome.HARD
    assert result.error is not None and "refused" in result.error
    assert result.status is None
    assert server.requests == []


def test_same_url_works_when_private_addresses_are_allowed(server: LoopbackServer) -> None:
    server.set("/feed", Route(FEED))
    result = fetch(server.url("/feed"), policy(allow_private_addresses=True))
    assert result.outcome is Outcome.OK
    assert result.body == FEED


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.8.9.10",
        "localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "169.254.169.254",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "[fe80::1]",
        "[fd00::1]",
        "metadata.google.internal",
        "instance-data",
    ],
)
def test_private_hosts_are_refused(server: LoopbackServer, host: str) -> None:
    url = f"http://{host}:{server.port}/feed"
    result = fetch(url, policy(allow_private_addresses=False))
    # HARD, not TEMPORARY: refused before any connection attempt (an attempt to an unrouted
    # private address would end as a connect failure or timeout, both TEMPORARY).
    assert result.outcome is Outcome.HARD, result.error
    assert result.error is not None and "refused" in result.error
    assert server.requests == []


@pytest.mark.skipif(
    not localhost_is_ipv4_first(), reason="localhost does not resolve to 127.0.0.1 first"
)
def test_localhost_works_when_allowed(server: LoopbackServer) -> None:
    server.set("/feed", Route(FEED))
    result = fetch(f"http://localhost:{server.port}/feed")
    assert result.outcome is Outcome.OK
    assert server.requests[0].headers["host"] == f"localhost:{server.port}"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("100.63.255.255", True),  # just below CGNAT
        ("100.128.0.0", True),  # just above CGNAT
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("127.255.255.254", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # CGNAT
        ("100.127.255.255", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fd12:3456::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:100.64.0.1", False),  # IPv4-mapped CGNAT
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "[::1]",
        "::ffff:127.0.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "10.0.0.8",
        "localhost",
        "metadata.google.internal",
        "Metadata.Google.Internal.",
        "metadata",
    ],
)
def test_check_host_allowed_refuses(host: str) -> None:
    with pytest.raises(RefusedAddress):
        asyncio.run(check_host_allowed(host, 80, allow_private=False))


def test_check_host_allowed_accepts_public_literals() -> None:
    assert asyncio.run(check_host_allowed("8.8.8.8", 80, allow_private=False)) == ["8.8.8.8"]
    assert asyncio.run(check_host_allowed("[2001:4860:4860::8888]", 443, allow_private=False)) == [
        "2001:4860:4860::8888"
    ]


def test_check_host_allowed_lets_private_through_when_allowed() -> None:
    assert asyncio.run(check_host_allowed("127.0.0.1", 80, allow_private=True)) == ["127.0.0.1"]
    assert asyncio.run(check_host_allowed("[::1]", 80, allow_private=True)) == ["::1"]


# -- bad URLs and dead hosts ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/feed.xml",
        "file:///etc/passwd",
        "http:///feed.xml",
        "http://",
        "",
        "feed.xml",
        "javascript:alert(1)",
        "http://[::1/feed",
    ],
)
def test_bad_urls_are_hard(url: str) -> None:
    result = fetch(url)
    assert result.outcome is Outcome.HARD
    assert result.error
    assert result.url == url


def test_out_of_range_port_is_hard() -> None:
    result = fetch("http://127.0.0.1:99999/feed")
    assert result.outcome is Outcome.HARD


@pytest.mark.parametrize("port", [1, None])
def test_connection_refused_is_temporary(port: int | None) -> None:
    url = f"http://127.0.0.1:{port or closed_port()}/feed"
    result = fetch(url)
    assert result.outcome is Outcome.TEMPORARY
    # Refused at once, not waited out until the connect timeout.
    assert result.error is not None and result.error.startswith("could not connect")
    assert result.status is None


# -- concurrency -----------------------------------------------------------------------------


DELAY = 0.3


def run_six(server: LoopbackServer, pol: FetchPolicy, gather: int) -> list[FetchResult]:
    """Six fetches of a route that holds each request until `gather` are in flight at once,
    then answers after DELAY (a window in which any request over the limit would show)."""
    server.set("/slow", Route(FEED, delay_s=DELAY, gather=gather))
    return fetch_many([server.url(f"/slow?i={i}") for i in range(6)], pol)


def assert_rounds_of(server: LoopbackServer, results: list[FetchResult], size: int) -> None:
    # Counted by the server, not timed: every round filled to `size`, none went beyond it.
    assert [r.outcome for r in results] == [Outcome.OK] * 6
    assert len(server.requests) == 6
    assert server.gathers_abandoned == 0
    assert server.max_in_flight == size


def test_per_host_concurrency_limit(server: LoopbackServer) -> None:
    results = run_six(server, policy(per_host_concurrency=2, concurrency=16), gather=2)
    assert_rounds_of(server, results, 2)


def test_global_concurrency_limit(server: LoopbackServer) -> None:
    results = run_six(server, policy(per_host_concurrency=10, concurrency=2), gather=2)
    assert_rounds_of(server, results, 2)


def test_unlimited_enough_runs_in_one_round(server: LoopbackServer) -> None:
    # A limit below six would leave the round unfilled and the fetches timing out.
    results = run_six(server, policy(per_host_concurrency=6, concurrency=16), gather=6)
    assert_rounds_of(server, results, 6)


@pytest.mark.skipif(
    not localhost_is_ipv4_first(), reason="localhost does not resolve to 127.0.0.1 first"
)
def test_host_limits_are_per_host_name(server: LoopbackServer) -> None:
    # One request per host name at a time, two names: rounds of exactly two.
    server.set("/slow", Route(FEED, delay_s=DELAY, gather=2))
    urls = [
        f"http://{host}:{server.port}/slow?i={i}"
        for i in range(2)
        for host in ("127.0.0.1", "localhost")
    ]
    results = fetch_many(urls, policy(per_host_concurrency=1, concurrency=16))
    assert [r.outcome for r in results] == [Outcome.OK] * 4
    assert server.gathers_abandoned == 0
    assert server.max_in_flight == 2


def test_time_waiting_for_a_slot_does_not_count_against_the_timeout(
    server: LoopbackServer,
) -> None:
    # One slot: the stalled first fetch holds it for its whole time limit, so the second waits
    # that long in the queue. Counting the wait would time the second out with the first.
    server.set("/hang", Route(b"", hang=True))
    server.set("/feed", Route(FEED, content_type=RSS_TYPE))
    urls = [server.url("/hang"), server.url("/feed")]
    results = fetch_many(urls, policy(concurrency=1, timeout_s=1.0))
    assert [r.outcome for r in results] == [Outcome.TEMPORARY, Outcome.OK]
    assert results[1].body == FEED
