"""What an operator reads when a fetch fails, and which hop it failed at.

Found by mutation testing (make mutation): a failure record without the hop it failed at,
operator messages replaced by other text, and a system resolver that looked up some other host
all passed every other test.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from test_address_guard import PUBLIC, LoopbackOnlyNetwork, ScriptedResolver
from test_http import fetch, policy, redirect

from spacewatch.extractors.fetch import Fetcher, FetchPolicy, _describe, system_resolver
from spacewatch.extractors.models import Outcome
from spacewatch.loopback import LoopbackServer, Route


def test_a_refused_redirect_hop_is_the_failures_final_url() -> None:
    target = "http://169.254.169.254/latest/meta-data/"
    with LoopbackServer() as server:
        server.set("/feed", redirect(target))
        result = fetch(server.url("/feed"), policy())
    assert result.outcome is Outcome.HARD
    assert result.url == server.url("/feed")
    assert result.final_url == target
    assert [r.to_url for r in result.redirects] == [target]


@pytest.mark.parametrize("address", ["192.0.2.7", "2001:db8::7"])
def test_the_system_resolver_looks_up_the_host_it_is_given(address: str) -> None:
    # A literal needs no DNS server; a lookup of anything else would give other addresses.
    assert asyncio.run(system_resolver(address, 443)) == [address]


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (
            socket.gaierror(-2, "Name or service not known"),
            "DNS lookup failed (Name or service not known)",
        ),
        (socket.gaierror("no strerror"), "DNS lookup failed (no strerror)"),
        (httpx.ConnectTimeout("slow"), "connection timed out"),
        (httpx.ReadTimeout("slow"), "timed out waiting for the server"),
        (httpx.PoolTimeout("slow"), "timed out waiting for the server"),
        (httpx.ConnectError(""), "could not connect (connection refused)"),
        (
            ConnectionRefusedError(111, "Connection refused"),
            "could not connect ([Errno 111] Connection refused)",
        ),
        (httpx.RemoteProtocolError("peer closed"), "protocol error: peer closed"),
        (
            ConnectionResetError(104, "reset by peer"),
            "ConnectionResetError: [Errno 104] reset by peer",
        ),
        (OSError(), "OSError: OSError()"),
    ],
)
def test_transport_failures_read_as_what_happened(exc: BaseException, message: str) -> None:
    assert _describe(exc) == message


def test_a_long_transport_error_is_cut_to_500_characters() -> None:
    assert len(_describe(httpx.RemoteProtocolError("x" * 900))) == 500
    assert _describe(OSError("y" * 900)) == ("OSError: " + "y" * 900)[:500]


@pytest.mark.parametrize(
    ("status", "outcome", "error"),
    [
        (500, Outcome.TEMPORARY, "HTTP 500 Internal Server Error"),
        (501, Outcome.TEMPORARY, "HTTP 501 Not Implemented"),
        (404, Outcome.HARD, "HTTP 404 Not Found"),
        (599, Outcome.TEMPORARY, "HTTP 599"),  # no reason phrase: none invented
    ],
)
def test_an_error_status_reads_as_the_server_said_it(
    status: int, outcome: Outcome, error: str
) -> None:
    with LoopbackServer() as server:
        server.set("/feed", Route(b"oops", status=status))
        result = fetch(server.url("/feed"), policy())
    assert (result.outcome, result.status, result.error) == (outcome, status, error)


def test_a_body_of_exactly_the_cap_is_accepted() -> None:
    with LoopbackServer() as server:
        server.set("/feed", Route(b"x" * 1000))
        result = fetch(server.url("/feed"), policy(max_bytes=1000))
    assert (result.outcome, result.body) == (Outcome.OK, b"x" * 1000)


class TimedNetwork(LoopbackOnlyNetwork):
    """The test network, noting the connect timeout each connection was given."""

    def __init__(self, routes: tuple[str, ...]) -> None:
        super().__init__(routes)
        self.timeouts: list[float | None] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, **kwargs):  # type: ignore[no-untyped-def, override]
        self.timeouts.append(timeout)
        return await super().connect_tcp(host, port, timeout=timeout, **kwargs)


def test_every_guarded_connection_keeps_the_connect_timeout() -> None:
    """A host that never answers is given up after connect_timeout_s, not the whole budget."""
    network = TimedNetwork((PUBLIC,))
    with LoopbackServer() as server:
        server.set("/feed", Route(b"ok"))
        url = f"http://news.example:{server.port}/feed"

        async def run() -> Outcome:
            pol = FetchPolicy(timeout_s=9.0, connect_timeout_s=1.5)
            async with Fetcher(pol, resolver=ScriptedResolver([PUBLIC]), network=network) as f:
                return (await f.fetch(url)).outcome

        assert asyncio.run(run()) is Outcome.OK
    assert network.timeouts == [1.5]
