"""Property-based tests (Hypothesis) of URL canonicalisation and the address guard.

The special-purpose ranges are typed here again from the IANA registries rather than imported
from `extractors/fetch.py`, so the guard is checked against the registry, not against itself.
No deadline: a loaded machine must not fail a property.
"""

from __future__ import annotations

import ipaddress
import string
import unicodedata
from urllib.parse import parse_qsl, urlsplit

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spacewatch.extractors.fetch import AddressKind, classify_address, is_public_address
from spacewatch.extractors.urls import canonical_url

settings.register_profile("spacewatch", deadline=None, max_examples=400)
settings.load_profile("spacewatch")

# -- URL canonicalisation ----------------------------------------------------------------------

TRACKERS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "fbclid", "gclid")
hosts = st.from_regex(
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?(\.[A-Za-z]{2,6}){1,2}", fullmatch=True
)
segments = st.text(
    alphabet=string.ascii_letters + string.digits + "-._~%!$'()*+,;=:@ é中", max_size=8
)
keys = st.text(
    alphabet=string.ascii_lowercase + string.digits + "_", min_size=1, max_size=6
).filter(lambda k: not k.startswith("utm_") and k not in TRACKERS)
values = st.text(
    alphabet=string.ascii_letters + string.digits + "-._~%+/:é", min_size=1, max_size=6
)


@st.composite
def urls(draw: st.DrawFn, params: list[tuple[str, str]] | None = None) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(hosts)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":"]))
    user = draw(st.sampled_from(["", "reader@", "reader:pw@"]))
    path = "/".join(draw(st.lists(st.one_of(segments, st.sampled_from([".", ".."])), max_size=4)))
    if params is None:
        params = draw(st.lists(st.tuples(keys, values), max_size=4))
    query = "&".join(f"{k}={v}" for k, v in params)
    fragment = draw(st.sampled_from(["", "#", "#top", "#a?b=c"]))
    return f"{scheme}://{user}{host}{port}/{path}" + (f"?{query}" if query else "") + fragment


any_text = st.one_of(
    st.text(),
    st.text().map(lambda s: "http://" + s),
    st.text().map(lambda s: "https://news.example/" + s),
    urls(),
)


@given(any_text)
def test_canonical_url_never_raises_and_is_a_fixed_point(text: str) -> None:
    once = canonical_url(text)
    assert once is None or canonical_url(once) == once


@given(any_text)
def test_canonical_form_invariants(text: str) -> None:
    url = canonical_url(text)
    if url is None:
        return
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https")
    assert parts.hostname and parts.netloc == parts.netloc.lower()
    assert "@" not in parts.netloc and not parts.netloc.endswith(":")
    assert parts.fragment == "" and "#" not in url
    assert parts.path.startswith("/")
    assert "/./" not in parts.path and "/../" not in parts.path
    assert not parts.path.endswith(("/.", "/.."))
    assert not any(c.isspace() or unicodedata.category(c)[0] == "C" for c in url), url
    assert not any(k.startswith("utm_") or k in TRACKERS for k, _ in parse_qsl(parts.query))


@given(st.data(), st.lists(st.tuples(keys, values), max_size=4, unique_by=lambda kv: kv[0]))
def test_trackers_and_parameter_order_do_not_change_identity(
    data: st.DataObject, params: list[tuple[str, str]]
) -> None:
    base = data.draw(urls(params=params))
    shuffled = data.draw(st.permutations(params))
    tracker = (data.draw(st.sampled_from(TRACKERS)), data.draw(values))
    at = data.draw(st.integers(0, len(shuffled)))
    tracked = [*shuffled[:at], tracker, *shuffled[at:]]
    head = base.split("#")[0].split("?")[0]
    # Spaces at the very end of a link are stripped (as browsers do), but before a query they are
    # part of the path ("/ ?q" is "/%20?q"): a path ending in a space is a different URL there.
    assume(head == head.rstrip())
    variant = head + "?" + "&".join(f"{k}={v}" for k, v in tracked)
    assert canonical_url(variant) == canonical_url(base.split("#")[0]) is not None


@given(urls())
def test_scheme_and_host_case_do_not_change_identity(url: str) -> None:
    scheme, rest = url.split("://", 1)
    netloc, slash, tail = rest.partition("/")
    assert canonical_url(f"{scheme.upper()}://{netloc.upper()}{slash}{tail}") == canonical_url(url)


# -- the address guard ----------------------------------------------------------------------

# IANA IPv4 Special-Purpose Address Registry, plus multicast and one public cloud service.
SPECIAL_V4 = [
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
        "192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
        "224.0.0.0/4",  # multicast (IPv4 address space registry)
        "168.63.129.16/32",  # Azure's platform endpoint: public, but a metadata service
    )
]  # fmt: skip
# IANA IPv6 Special-Purpose Address Registry, without the ranges that embed an IPv4 address,
# plus multicast and the deprecated site-local range.
SPECIAL_V6 = [
    ipaddress.IPv6Network(n)
    for n in (
        "::1/128", "::/128", "64:ff9b:1::/48", "100::/64", "2001:1::1/128", "2001:1::2/128",
        "2001:1::3/128", "2001:2::/48", "2001:3::/32", "2001:4:112::/48", "2001:10::/28",
        "2001:20::/28", "2001:30::/28", "2001:db8::/32", "2620:4f:8000::/48", "3fff::/20",
        "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
]  # fmt: skip
LINK_LOCAL = [ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10")]

special_v4 = st.sampled_from(SPECIAL_V4).flatmap(lambda net: st.ip_addresses(network=net))
special_v6 = st.sampled_from(SPECIAL_V6).flatmap(lambda net: st.ip_addresses(network=net))
public_v4 = st.ip_addresses(v=4).filter(lambda ip: not any(ip in n for n in SPECIAL_V4))


def mapped(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((0xFFFF << 32) | int(v4))


def nat64(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((0x64FF9B << 96) | int(v4))


def sixtofour(v4: ipaddress.IPv4Address, tail: int) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80) | (tail & (2**80 - 1)))


def teredo(
    server: ipaddress.IPv4Address, client: ipaddress.IPv4Address, flags: int
) -> ipaddress.IPv6Address:
    value = (0x20010000 << 96) | (int(server) << 64) | ((flags & 0xFFFFFFFF) << 32)
    return ipaddress.IPv6Address(value | (~int(client) & 0xFFFFFFFF))


@given(special_v4)
def test_no_special_purpose_ipv4_address_is_public(ip: ipaddress.IPv4Address) -> None:
    assert not is_public_address(ip)


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_is_public_exactly_when_no_registry_range_holds_it(
    ip: ipaddress.IPv4Address,
) -> None:
    assert is_public_address(ip) is not any(ip in net for net in SPECIAL_V4)
    if is_public_address(ip):
        assert ip.is_global  # Python's own reading of the registry agrees


@given(special_v6)
def test_no_special_purpose_ipv6_address_is_public(ip: ipaddress.IPv6Address) -> None:
    assert not is_public_address(ip)


@given(st.ip_addresses(v=6))
def test_public_ipv6_is_global_unicast_or_carries_a_public_ipv4(ip: ipaddress.IPv6Address) -> None:
    if is_public_address(ip):
        v4 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        in_global = ip in ipaddress.ip_network("2000::/3")
        carries = ip.ipv4_mapped is not None or ip in ipaddress.ip_network("64:ff9b::/96")
        assert in_global or (carries and is_public_address(v4))
        assert not any(ip in net for net in SPECIAL_V6)


@given(special_v4, st.integers(0, 2**80 - 1))
def test_an_embedded_special_ipv4_address_is_judged_as_itself(
    v4: ipaddress.IPv4Address, tail: int
) -> None:
    kind = classify_address(v4).kind
    assert kind is not AddressKind.PUBLIC
    for v6 in (mapped(v4), nat64(v4), sixtofour(v4, tail)):
        assert classify_address(v6).kind is kind, v6


@given(special_v4, public_v4, st.integers(0, 2**32 - 1), st.booleans())
def test_teredo_is_not_public_when_either_embedded_address_is_special(
    special: ipaddress.IPv4Address, public: ipaddress.IPv4Address, flags: int, client_side: bool
) -> None:
    ip = teredo(public, special, flags) if client_side else teredo(special, public, flags)
    assert classify_address(ip).kind is classify_address(special).kind


@given(public_v4, st.integers(0, 2**80 - 1))
def test_an_embedded_public_ipv4_address_stays_public(v4: ipaddress.IPv4Address, tail: int) -> None:
    for v6 in (mapped(v4), nat64(v4), sixtofour(v4, tail)):
        assert is_public_address(v6), v6


@given(st.ip_addresses())
def test_link_local_and_metadata_are_refused_even_when_private_is_allowed(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    verdict = classify_address(ip)  # never raises, whatever the address
    if any(ip in net for net in LINK_LOCAL if net.version == ip.version):
        assert not verdict.allowed(True)
    if verdict.kind is AddressKind.FORBIDDEN:
        assert not verdict.allowed(True) and not verdict.allowed(False)
    if verdict.kind is AddressKind.PRIVATE:
        assert verdict.allowed(True) and not verdict.allowed(False)


@given(
    st.sampled_from(["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16"]).map(
        ipaddress.ip_address
    )
)
def test_metadata_addresses_are_never_allowed(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    for form in [ip] + ([mapped(ip), nat64(ip)] if ip.version == 4 else []):
        assert not classify_address(form).allowed(True)
