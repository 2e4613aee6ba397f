"""The address guard: which addresses a fetch may reach, and that it connects only to those.

Host names go through an injected resolver, so a test can give any mix of answers (or a
rebinding sequence) for a name. Connections go through `LoopbackOnlyNetwork`: it reaches
127.0.0.1 itself and a few public addresses routed to 127.0.0.1, like a NAT, and records every
address it was asked for. Anything else is unreachable, so no test sends a packet off the
machine even when the guard is broken. The server at the end is a real LoopbackServer.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable, Iterator, Sequence

import httpcore
import pytest

from spacewatch.extractors.fetch import (
    AddressKind,
    Fetcher,
    FetchPolicy,
    RefusedAddress,
    check_host_allowed,
    classify_address,
    is_public_address,
)
from spacewatch.extractors.models import FetchResult, Outcome
from spacewatch.loopback import LoopbackServer, Route

FEED = b"<rss version='2.0'><channel><title>Intranet</title></channel></rss>"
# Public addresses that stand for a news site; the test network routes them to 127.0.0.1.
PUBLIC = "93.184.215.14"
PUBLIC_UNROUTED = "93.184.215.99"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


class LoopbackOnlyNetwork(httpcore.AsyncNetworkBackend):
    """TCP as the tests see it: 127.0.0.1, plus `routes` (address -> 127.0.0.1)."""

    def __init__(self, routes: Iterable[str] = ()) -> None:
        self.routes = set(routes)
        self.connects: list[str] = []
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[object] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append(host)
        if host != "127.0.0.1" and host not in self.routes:
            raise httpcore.ConnectError(f"{host} is unreachable from the tests")
        return await self._inner.connect_tcp("127.0.0.1", port, timeout=timeout)

    async def connect_unix_socket(
        self, *args: object, **kwargs: object
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no unix sockets in the tests")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class ScriptedResolver:
    """Answers each lookup with the next answer of a script (the last one repeats)."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = [list(a) for a in answers]
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.answers[min(len(self.lookups), len(self.answers)) - 1]


def fetch(
    url: str,
    resolver: ScriptedResolver,
    network: LoopbackOnlyNetwork,
    *,
    allow_private: bool | None = None,
    default: bool = False,
) -> FetchResult:
    async def run() -> FetchResult:
        policy = FetchPolicy(allow_private_addresses=default, timeout_s=5.0, connect_timeout_s=2.0)
        async with Fetcher(policy, resolver=resolver, network=network) as fetcher:
            return await fetcher.fetch(url, allow_private=allow_private)

    return asyncio.run(run())


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        srv.set("/feed", Route(FEED, content_type="application/rss+xml"))
        yield srv


# -- each resolved address is checked; the connection goes to a checked one -------------------


def test_refused_answers_are_skipped_and_the_public_one_is_fetched(server: LoopbackServer) -> None:
    resolver = ScriptedResolver(["10.0.0.7", "169.254.169.254", "fd00:ec2::254", PUBLIC])
    network = LoopbackOnlyNetwork([PUBLIC])
    result = fetch(f"http://news.example:{server.port}/feed", resolver, network)
    assert result.outcome is Outcome.OK, result.error
    assert result.body == FEED
    assert network.connects == [PUBLIC]  # never asked for the refused ones
    assert resolver.lookups == ["news.example"]
    assert server.requests[0].headers["host"] == f"news.example:{server.port}"


def test_a_feed_allowed_private_addresses_still_skips_metadata(server: LoopbackServer) -> None:
    resolver = ScriptedResolver(
        ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "127.0.0.1"]
    )
    network = LoopbackOnlyNetwork()
    result = fetch(
        f"http://intranet.corp:{server.port}/feed", resolver, network, allow_private=True
    )
    assert result.outcome is Outcome.OK, result.error
    assert network.connects == ["127.0.0.1"]
    assert server.count("/feed") == 1


def test_every_address_refused_is_one_clear_error_naming_url_and_addresses(
    server: LoopbackServer,
) -> None:
    resolver = ScriptedResolver(["127.0.0.1", "10.1.2.3", "fd12::5"])
    network = LoopbackOnlyNetwork()
    url = f"http://intranet.corp:{server.port}/feed"
    result = fetch(url, resolver, network)
    assert result.outcome is Outcome.HARD
    assert result.error == (
        "refused every address of intranet.corp: 127.0.0.1 (loopback), 10.1.2.3 (private-use), "
        f"fd12::5 (unique-local), for {url}"
    )
    assert network.connects == [] and server.requests == []


def test_unreachable_allowed_address_falls_through_to_the_next(server: LoopbackServer) -> None:
    resolver = ScriptedResolver([PUBLIC_UNROUTED, "192.168.1.1", PUBLIC_V6])
    network = LoopbackOnlyNetwork([PUBLIC_V6])
    result = fetch(f"http://news.example:{server.port}/feed", resolver, network)
    assert result.outcome is Outcome.OK, result.error
    assert network.connects == [PUBLIC_UNROUTED, PUBLIC_V6]
    assert server.count("/feed") == 1


def test_no_allowed_address_reachable_is_a_temporary_failure(server: LoopbackServer) -> None:
    resolver = ScriptedResolver([PUBLIC_UNROUTED, "10.0.0.1"])
    network = LoopbackOnlyNetwork()
    result = fetch(f"http://news.example:{server.port}/feed", resolver, network)
    assert result.outcome is Outcome.TEMPORARY
    assert result.error is not None and PUBLIC_UNROUTED in result.error
    assert network.connects == [PUBLIC_UNROUTED]


def test_dns_rebinding_cannot_swap_the_checked_address(server: LoopbackServer) -> None:
    # First answer public, every later one loopback: a guard that looked the name up again to
    # connect, or connected by name, would reach 127.0.0.1 directly.
    resolver = ScriptedResolver([PUBLIC], ["127.0.0.1"])
    network = LoopbackOnlyNetwork([PUBLIC])
    result = fetch(f"http://rebind.example:{server.port}/feed", resolver, network)
    assert result.outcome is Outcome.OK, result.error
    assert resolver.lookups == ["rebind.example"]
    assert network.connects == [PUBLIC]
    assert server.count("/feed") == 1

    # A new connection looks the name up again and is judged on the new answer.
    again = fetch(f"http://rebind.example:{server.port}/feed", resolver, network)
    assert again.outcome is Outcome.HARD
    assert again.error is not None and "127.0.0.1 (loopback)" in again.error
    assert network.connects == [PUBLIC] and server.count("/feed") == 1


def test_redirect_from_an_intranet_feed_to_metadata_is_refused(server: LoopbackServer) -> None:
    server.set(
        "/go",
        Route(
            b"",
            status=302,
            headers=(("Location", f"http://169.254.169.254:{server.port}/latest/meta-data/"),),
        ),
    )
    network = LoopbackOnlyNetwork()
    result = fetch(server.url("/go"), ScriptedResolver([]), network, allow_private=True)
    assert result.outcome is Outcome.HARD
    assert result.error is not None and "169.254.169.254 (cloud metadata)" in result.error
    assert f"for http://169.254.169.254:{server.port}/latest/meta-data/" in result.error
    assert network.connects == ["127.0.0.1"]
    assert [r.route_path for r in server.requests] == ["/go"]


def test_metadata_names_are_refused_before_any_lookup(server: LoopbackServer) -> None:
    resolver = ScriptedResolver(["127.0.0.1"])
    network = LoopbackOnlyNetwork()
    result = fetch(
        f"http://metadata.google.internal:{server.port}/", resolver, network, allow_private=True
    )
    assert result.outcome is Outcome.HARD and "cloud metadata service" in (result.error or "")
    assert resolver.lookups == [] and network.connects == []


def test_the_setting_is_per_fetch_and_pooled_connections_do_not_leak_it(
    server: LoopbackServer,
) -> None:
    network = LoopbackOnlyNetwork()

    async def run() -> list[FetchResult]:
        policy = FetchPolicy(allow_private_addresses=False, timeout_s=5.0)
        async with Fetcher(policy, resolver=ScriptedResolver([]), network=network) as fetcher:
            url = server.url("/feed")
            return [
                await fetcher.fetch(url, allow_private=True),  # an intranet feed
                await fetcher.fetch(url),  # the default: refused, despite the open connection
                await fetcher.fetch(url, allow_private=True),  # its pool is still there
            ]

    allowed, refused, reused = asyncio.run(run())
    assert allowed.outcome is Outcome.OK and reused.outcome is Outcome.OK
    assert refused.outcome is Outcome.HARD and "127.0.0.1 (loopback)" in (refused.error or "")
    assert server.count("/feed") == 2
    assert set(network.connects) == {"127.0.0.1"}  # one or two: keep-alive may expire


# -- the classification ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind", "reason"),
    [
        # IPv4 special-purpose registry
        ("0.0.0.0", "forbidden", "'this network'"),
        ("0.1.2.3", "forbidden", "'this network'"),
        ("10.255.0.1", "private", "private-use"),
        ("100.64.0.1", "private", "shared address space (CGNAT)"),
        ("127.0.0.2", "private", "loopback"),
        ("169.254.0.1", "forbidden", "link-local"),
        ("172.31.0.1", "private", "private-use"),
        ("192.0.0.9", "forbidden", "IETF protocol assignments"),
        ("192.0.0.170", "forbidden", "IETF protocol assignments"),
        ("192.0.2.1", "forbidden", "documentation"),
        ("192.31.196.1", "forbidden", "AS112"),
        ("192.52.193.1", "forbidden", "AMT"),
        ("192.88.99.1", "forbidden", "6to4 relay anycast"),
        ("192.168.0.1", "private", "private-use"),
        ("192.175.48.1", "forbidden", "AS112 direct delegation"),
        ("198.18.0.1", "forbidden", "benchmarking"),
        ("198.19.255.255", "forbidden", "benchmarking"),
        ("198.51.100.1", "forbidden", "documentation"),
        ("203.0.113.1", "forbidden", "documentation"),
        ("224.0.0.1", "forbidden", "multicast"),
        ("240.0.0.1", "forbidden", "reserved"),
        ("255.255.255.255", "forbidden", "reserved"),
        # cloud metadata, wherever it sits
        ("169.254.169.254", "forbidden", "cloud metadata"),
        ("100.100.100.200", "forbidden", "cloud metadata"),
        ("168.63.129.16", "forbidden", "cloud metadata"),
        ("fd00:ec2::254", "forbidden", "cloud metadata"),
        ("::ffff:169.254.169.254", "forbidden", "IPv4-mapped of cloud metadata"),
        # IPv6 special-purpose registry
        ("::", "forbidden", "unspecified"),
        ("::1", "private", "loopback"),
        ("64:ff9b:1::1", "forbidden", "local-use IPv4/IPv6 translation"),
        ("100::1", "forbidden", "discard-only"),
        ("2001:2::1", "forbidden", "IETF protocol assignments"),
        ("2001:db8::1", "forbidden", "documentation"),
        ("2620:4f:8000::1", "forbidden", "AS112 direct delegation"),
        ("3fff::1", "forbidden", "documentation"),
        ("5f00::1", "forbidden", "segment routing (SRv6) SIDs"),
        ("fc00::1", "private", "unique-local"),
        ("fd12:3456::1", "private", "unique-local"),
        ("fe80::1", "forbidden", "link-local"),
        ("fe80::1%eth0", "forbidden", "link-local"),
        ("fec0::1", "private", "site-local (deprecated)"),
        ("ff02::1", "forbidden", "multicast"),
        ("::10.0.0.1", "forbidden", "reserved (not global unicast)"),  # IPv4-compatible
        ("4000::1", "forbidden", "reserved (not global unicast)"),
        # addresses that embed an IPv4 address are judged by it
        ("::ffff:10.0.0.1", "private", "IPv4-mapped of private-use"),
        ("64:ff9b::7f00:1", "private", "NAT64 of loopback"),
        ("64:ff9b::a9fe:a9fe", "forbidden", "NAT64 of cloud metadata"),
        ("2002:0a00:0001::1", "private", "6to4 of private-use"),
        ("2002:c000:0201::1", "forbidden", "6to4 of documentation"),
        ("2002:a9fe:a9fe::1", "forbidden", "6to4 of cloud metadata"),
        # Teredo: server 65.54.227.120; client 10.0.0.1 stored inverted
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private", "Teredo of private-use"),
        # public
        ("8.8.8.8", "public", "public"),
        ("100.63.255.255", "public", "public"),
        ("198.17.255.255", "public", "public"),
        ("198.20.0.0", "public", "public"),
        ("::ffff:8.8.8.8", "public", "public"),
        ("64:ff9b::808:808", "public", "public"),
        ("2002:0808:0808::1", "public", "public"),
        ("2606:4700:4700::1111", "public", "public"),
    ],
)
def test_classify_address(address: str, kind: str, reason: str) -> None:
    verdict = classify_address(ipaddress.ip_address(address))
    assert (verdict.kind.value, verdict.reason) == (kind, reason)
    assert is_public_address(ipaddress.ip_address(address)) is (kind == "public")


def test_only_private_kinds_open_up_with_the_setting() -> None:
    for address in ("127.0.0.1", "10.0.0.1", "fd12::1", "fec0::1", "100.64.0.1"):
        verdict = classify_address(ipaddress.ip_address(address))
        assert verdict.kind is AddressKind.PRIVATE
        assert verdict.allowed(True) and not verdict.allowed(False)
    for address in (
        "169.254.169.254",
        "fe80::1",
        "fd00:ec2::254",
        "100.100.100.200",
        "0.0.0.0",
        "224.0.0.1",
    ):
        verdict = classify_address(ipaddress.ip_address(address))
        assert not verdict.allowed(True) and not verdict.allowed(False), address


def test_check_host_allowed_keeps_resolver_order_and_drops_refused() -> None:
    resolver = ScriptedResolver(["2002:0a00:0001::1", PUBLIC_V6, "192.0.0.9", PUBLIC])
    allowed = asyncio.run(check_host_allowed("news.example", 443, False, resolver))
    assert allowed == [PUBLIC_V6, PUBLIC]
    with pytest.raises(
        RefusedAddress, match=r"refused host empty\.example: it resolved to no address"
    ):
        asyncio.run(check_host_allowed("empty.example", 443, True, ScriptedResolver([])))
