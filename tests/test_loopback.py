"""The loopback server, exercised over real sockets with the standard library's clients."""

from __future__ import annotations

import concurrent.futures
import gzip
import http.client
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from spacewatch.loopback import (
    FIXED_LAST_MODIFIED,
    LoopbackServer,
    Route,
    load_sample_routes,
    main,
    serve_forever_in_subprocess,
    static_route,
)

PAGE = b"<html><body><p>Artemis update</p></body></html>"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer({"/page": static_route(PAGE, "text/html; charset=utf-8")}) as srv:
        yield srv


def get(
    srv: LoopbackServer,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    timeout: float = 5,
) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()
    finally:
        conn.close()


def test_200_with_body_and_validators(server: LoopbackServer) -> None:
    resp, body = get(server, "/page")
    assert resp.status == 200
    assert body == PAGE
    assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
    assert resp.getheader("Content-Length") == str(len(PAGE))
    assert resp.getheader("ETag", "").startswith('"')
    assert resp.getheader("Last-Modified") == FIXED_LAST_MODIFIED


def test_head_sends_headers_without_body(server: LoopbackServer) -> None:
    resp, body = get(server, "/page", method="HEAD")
    assert resp.status == 200
    assert body == b""
    assert resp.getheader("Content-Length") == str(len(PAGE))
    assert server.requests[-1].method == "HEAD"


def test_unknown_path_is_404_html(server: LoopbackServer) -> None:
    resp, body = get(server, "/nope")
    assert resp.status == 404
    assert b"Not Found" in body
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.url("/nope"), timeout=5)
    assert info.value.code == 404


def test_other_methods_are_refused(server: LoopbackServer) -> None:
    resp, _ = get(server, "/page", method="POST")
    assert resp.status == 405
    assert resp.getheader("Allow") == "GET, HEAD"


def test_304_via_if_none_match(server: LoopbackServer) -> None:
    first, _ = get(server, "/page")
    etag = first.getheader("ETag")
    assert etag
    resp, body = get(server, "/page", {"If-None-Match": etag})
    assert resp.status == 304
    assert body == b""
    assert resp.getheader("ETag") == etag
    assert resp.getheader("Last-Modified") == FIXED_LAST_MODIFIED
    # Weak comparison and lists of tags are honoured; a stale tag gets the full body.
    assert get(server, "/page", {"If-None-Match": f'"x", W/{etag}'})[0].status == 304
    stale, body = get(server, "/page", {"If-None-Match": '"stale"'})
    assert (stale.status, body) == (200, PAGE)


def test_304_via_if_modified_since(server: LoopbackServer) -> None:
    resp, body = get(server, "/page", {"If-Modified-Since": FIXED_LAST_MODIFIED})
    assert (resp.status, body) == (304, b"")
    assert resp.getheader("Last-Modified") == FIXED_LAST_MODIFIED
    older = "Sun, 31 Dec 2023 00:00:00 GMT"
    resp, body = get(server, "/page", {"If-Modified-Since": older})
    assert (resp.status, body) == (200, PAGE)


def test_gzip_route_decodes_to_body(server: LoopbackServer) -> None:
    server.set("/gz", Route(body=PAGE * 50, gzip=True))
    resp, wire = get(server, "/gz")
    assert resp.getheader("Content-Encoding") == "gzip"
    assert int(resp.getheader("Content-Length", "0")) == len(wire) < len(PAGE * 50)
    assert gzip.decompress(wire) == PAGE * 50


def test_raw_gzip_is_sent_untouched(server: LoopbackServer) -> None:
    bomb = gzip.compress(b"\0" * 1_000_000)
    server.set("/bomb", Route(body=bomb, raw_gzip=True, content_type="application/rss+xml"))
    resp, wire = get(server, "/bomb")
    assert resp.getheader("Content-Encoding") == "gzip"
    assert wire == bomb


def test_chunked_route_has_no_content_length(server: LoopbackServer) -> None:
    big = PAGE * 1000  # several chunks
    server.set("/chunked", Route(body=big, chunked=True))
    resp, body = get(server, "/chunked")
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("Content-Length") is None
    assert body == big


def test_redirect_and_extra_headers(server: LoopbackServer) -> None:
    server.set("/old", Route(status=301, headers=(("Location", "/page"),)))
    server.set("/busy", Route(status=429, headers=(("Retry-After", "120"),)))
    resp, _ = get(server, "/old")
    assert (resp.status, resp.getheader("Location")) == (301, "/page")
    with urllib.request.urlopen(server.url("/old"), timeout=5) as followed:
        assert followed.read() == PAGE
    resp, _ = get(server, "/busy")
    assert (resp.status, resp.getheader("Retry-After")) == (429, "120")


def test_query_string_ignored_for_routing_but_recorded(server: LoopbackServer) -> None:
    resp, body = get(server, "/page?utm_source=x", {"User-Agent": "spacewatch-test"})
    assert (resp.status, body) == (200, PAGE)
    get(server, "/page")
    recorded = server.requests[0]
    assert recorded.path == "/page?utm_source=x"
    assert recorded.route_path == "/page"
    assert recorded.headers["user-agent"] == "spacewatch-test"
    assert server.count("/page") == 2
    assert server.count("/page?utm_source=x") == 1


def test_keep_alive_reuses_one_connection(server: LoopbackServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for _ in range(20):
            conn.request("GET", "/page")
            assert conn.getresponse().read() == PAGE
    finally:
        conn.close()
    assert server.connections_accepted == 1


def test_routes_can_change_while_running(server: LoopbackServer) -> None:
    server.set("/late", Route(b"v1"))
    assert get(server, "/late")[1] == b"v1"
    server.set("/late", Route(b"v2"))
    assert get(server, "/late")[1] == b"v2"
    server.remove("/late")
    assert get(server, "/late")[0].status == 404
    with pytest.raises(ValueError):
        server.set("/q?x=1", Route())


def test_delay_postpones_the_response(server: LoopbackServer) -> None:
    # A 30 s delay against a 0.5 s client timeout: the answer is postponed, not merely slow.
    server.set("/slow", Route(b"ok", delay_s=30))
    with pytest.raises(TimeoutError):
        get(server, "/slow", timeout=0.5)
    server.set("/slow", Route(b"ok"))
    assert get(server, "/slow")[1] == b"ok"


def test_gather_answers_only_once_enough_requests_are_in_flight(server: LoopbackServer) -> None:
    route = Route(b"ok", gather=2)
    # Alone, the request is held (until the server stops): it needs a second one to join it.
    with LoopbackServer({"/pair": route}) as alone, pytest.raises(TimeoutError):
        get(alone, "/pair", timeout=0.5)
    server.set("/pair", route)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: get(server, "/pair", timeout=30)[1], range(2)))
    assert answers == [b"ok", b"ok"]
    assert server.max_in_flight == 2


def test_hang_times_out_client_and_stop_is_prompt() -> None:
    srv = LoopbackServer({"/hang": Route(body=b"x" * 10_000, hang=True)}).start()
    try:
        resp = urllib.request.urlopen(srv.url("/hang"), timeout=0.5)
        assert resp.headers["Content-Length"] == "10000"
        with pytest.raises(TimeoutError):
            resp.read()
        resp.close()
    finally:
        srv.stop()
        assert not srv.running
        with pytest.raises(OSError):  # the port no longer accepts connections
            socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()


def test_stop_releases_idle_keep_alive_connections() -> None:
    srv = LoopbackServer({"/a": Route(b"a")}).start()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/a")
    assert conn.getresponse().read() == b"a"
    srv.stop()  # returns although a keep-alive connection is still open
    conn.close()
    assert not srv.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()


def write_sample(root: Path) -> None:
    (root / "feeds").mkdir()
    (root / "pages" / "news").mkdir(parents=True)
    (root / "manifest.toml").write_text(
        "[[feeds]]\n"
        'file = "agency.xml"\n'
        'content_type = "application/rss+xml; charset=iso-8859-1"\n'
        "[[feeds]]\n"
        'file = "missing.xml"\n'
        'content_type = "application/rss+xml"\n'
        "[[pages]]\n"
        'path = "news/launch.html"\n'
        'content_type = "text/html; charset=utf-8"\n',
        encoding="utf-8",
    )
    feed = (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n'
        "<rss><channel><title>Agence spatiale – Générale</title>"
        "<item><link>{{BASE}}/news/launch.html</link></item></channel></rss>\n"
    )
    (root / "feeds" / "agency.xml").write_bytes(feed.replace("–", "-").encode("latin-1"))
    (root / "pages" / "news" / "launch.html").write_bytes(b"<a href='{{BASE}}/x'>x</a>")


def test_load_sample_routes_substitutes_base_in_latin1_bytes(tmp_path: Path) -> None:
    write_sample(tmp_path)
    with LoopbackServer() as srv:
        routes = load_sample_routes(srv.base_url, tmp_path)
        assert set(routes) == {"/feeds/agency.xml", "/news/launch.html"}
        feed = routes["/feeds/agency.xml"]
        assert f"{srv.base_url}/news/launch.html".encode() in feed.body
        assert "Générale".encode("latin-1") in feed.body
        assert b"{{BASE}}" not in feed.body
        assert feed.etag and feed.last_modified
        for path, route in routes.items():
            srv.set(path, route)
        resp, body = get(srv, "/feeds/agency.xml")
        assert resp.getheader("Content-Type") == "application/rss+xml; charset=iso-8859-1"
        assert body == feed.body
        assert get(srv, "/news/launch.html")[1] == f"<a href='{srv.base_url}/x'>x</a>".encode()
        assert get(srv, "/feeds/missing.xml")[0].status == 404


def test_subprocess_server_serves_and_stops() -> None:
    routes = {
        "/a": Route(b"from another process"),
        "/b": Route(b"link: {{BASE}}/a", gzip=True),
    }
    base_url, stop = serve_forever_in_subprocess(routes, substitute_base=True)
    try:
        with urllib.request.urlopen(base_url + "/a", timeout=5) as resp:
            assert resp.read() == b"from another process"
        with urllib.request.urlopen(base_url + "/b", timeout=5) as resp:
            assert gzip.decompress(resp.read()) == f"link: {base_url}/a".encode()
    finally:
        stop()
    stop()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base_url + "/a", timeout=1)


def test_main_requires_something_to_serve(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert main(["--sample-dir", str(tmp_path / "absent")]) == 2
