"""The egress proxy's policy (sandbox/egress.py): allowlist entries, what counts as public, and request heads."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "sandbox"))
import egress


@pytest.mark.parametrize(
    ("entry", "host", "port", "allowed"),
    [
        ("api.example.com:443", "api.example.com", 443, True),
        ("api.example.com:443", "API.Example.com.", 443, True),
        ("api.example.com:443", "api.example.com", 80, False),
        ("api.example.com:443", "evil-api.example.com", 443, False),
        ("*.example.com:443", "a.b.example.com", 443, True),
        ("*.example.com:443", "example.com", 443, False),
        ("*.example.com:443", "badexample.com", 443, False),
        ("203.0.113.7:8080", "203.0.113.7", 8080, True),
        ("[2001:db8::1]:443", "2001:db8::1", 443, True),
    ],
)
def test_allow_entries_match_exact_names_ports_and_subdomains(entry: str, host: str, port: int, allowed: bool) -> None:
    assert egress.AllowEntry.parse(entry).matches(host, port) is allowed


@pytest.mark.parametrize("bad", ["api.example.com", ":443", "host:0", "host:70000", "host:http", "a/b:1", "*:443",
                                 "[::1:443", "user@host:443", "host:\u00b2"])
def test_bad_allow_entries_are_refused(bad: str) -> None:
    with pytest.raises(egress.PolicyError):
        egress.AllowEntry.parse(bad)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space (CGNAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),  # unique-local (AWS's IPv6 metadata)
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
    ],
)
def test_only_public_addresses_are_public(address: str, public: bool) -> None:
    assert egress.is_public(ipaddress.ip_address(address)) is public


def test_admin_entries_open_exact_private_destinations() -> None:
    policy = egress.Policy.parse(["db.internal:5432"], ["10.0.0.0/8:5432", "127.0.0.1:*"])
    assert policy.allows_address(ipaddress.ip_address("10.9.9.9"), 5432)
    assert not policy.allows_address(ipaddress.ip_address("10.9.9.9"), 22)
    assert policy.allows_address(ipaddress.ip_address("127.0.0.1"), 22)
    assert not policy.allows_address(ipaddress.ip_address("169.254.169.254"), 80)
    with pytest.raises(egress.PolicyError):
        egress.PrivateEntry.parse("db.internal:5432")  # admins name addresses, not names


async def test_a_literal_address_is_checked_without_any_lookup() -> None:
    policy = egress.Policy.parse(["169.254.169.254:80", "1.1.1.1:443"])
    with pytest.raises(egress.Refused) as refused:
        await egress.resolve("169.254.169.254", 80, policy)
    assert refused.value.status == 403 and "non-public" in refused.value.reason
    assert await egress.resolve("1.1.1.1", 443, policy) == [ipaddress.ip_address("1.1.1.1")]


def test_proxy_requests_are_parsed_to_a_target_and_forwarded_in_origin_form() -> None:
    connect = egress.parse_head(b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n")
    assert egress.target_of(connect) == ("api.example.com", 443, b"")
    get = egress.parse_head(b"GET http://api.example.com:8080/v1/x?q=1 HTTP/1.1\r\nHost: api.example.com\r\n"
                            b"Proxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n")
    host, port, path = egress.target_of(get)
    assert (host, port, path) == ("api.example.com", 8080, b"/v1/x?q=1")
    head = egress.forwarded_head(get, host, port, path)
    assert head.startswith(b"GET /v1/x?q=1 HTTP/1.1\r\n")
    assert b"proxy-" not in head.lower() and head.endswith(b"connection: close\r\n\r\n")
    for bad in (b"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n", b"GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
                b"CONNECT nohost HTTP/1.1\r\nHost: x\r\n\r\n", b"GET http://x:99999/ HTTP/1.1\r\nHost: x\r\n\r\n",
                b"CONNECT [::1:80 HTTP/1.1\r\nHost: x\r\n\r\n"):
        with pytest.raises((egress.Refused, egress.PolicyError)):
            egress.target_of(egress.parse_head(bad))


TARGETS = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda h, p, rest: f"http://{h}:{p}{rest}".encode(), st.text(max_size=30),
              st.integers(-5, 10**6), st.text(max_size=30)),
    st.builds(lambda h, p: f"{h}:{p}".encode(), st.text(max_size=40), st.text(max_size=8)),
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([b"GET", b"CONNECT", b"POST", b"X"]), TARGETS, st.binary(max_size=200))
def test_any_request_head_is_parsed_or_refused_never_crashes(method: bytes, target: bytes, rest: bytes) -> None:
    head = method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n" + rest + b"\r\n\r\n"
    try:
        request = egress.parse_head(head)
        host, port, path = egress.target_of(request)
    except (egress.Refused, egress.PolicyError, h11.RemoteProtocolError):
        return
    assert host and 0 <= port < 65536
    egress.forwarded_head(request, host, port, path or b"/")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_allow_entry_is_parsed_or_refused(entry: str) -> None:
    try:
        parsed = egress.AllowEntry.parse(entry)
    except egress.PolicyError:
        return
    assert 0 < parsed.port < 65536 and parsed.host
