"""The egress proxy of one sandboxed call: HTTP CONNECT and plain (absolute-form) HTTP, to the tool's allowlist only.

The call's network namespace has nothing but its own loopback. The worker makes a listening socket on
127.0.0.1:3128 there and hands the descriptor out; the monitor forks this proxy for the call (outside the
namespace, on the host network, as its own unprivileged uid), and the tool gets HTTP_PROXY/HTTPS_PROXY pointing at
that socket, so urllib, requests and (through the runner's undici dispatcher) Node's fetch work unchanged.

For every request the proxy checks, in order:
  1. ``host:port`` matches an entry of the tool's ``network.allow`` (names exact or ``*.suffix``, IP literals);
  2. the name resolves (here, with the host's resolver) to at least one address that is public, or that the admin
     allowlisted (``--sandbox-allow-private``): loopback, private, link-local (cloud metadata at 169.254.169.254),
     shared/CGNAT, unique-local, multicast, reserved and unspecified addresses are refused otherwise, also when they
     hide inside IPv4-mapped or NAT64 IPv6 addresses;
  3. it connects to the address it checked (never re-resolving: no DNS rebinding between check and connect).
A refusal is ``403`` with a one-line reason; an unreachable upstream is ``502``. Plain HTTP is forwarded as one
request per connection (``Connection: close``); CONNECT tunnels bytes both ways until either side closes.
Request heads are parsed with h11.
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread  # noqa: F401 - getaddrinfo's executor; see below
import contextlib
import encodings.idna  # noqa: F401 - host names are encoded with it
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

# The proxy runs as an unprivileged uid that may not read the interpreter's standard library (a pyenv under
# /root): everything it will ever import is imported here, in the tool server, before it forks.

MAX_HEAD_BYTES = 16 * 1024
HEAD_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 32
HOP_BY_HOP = {b"connection", b"proxy-connection", b"proxy-authorization", b"keep-alive", b"te", b"trailer",
              b"upgrade", b"proxy-authenticate"}
NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class PolicyError(ValueError):
    pass


def _split_host_port(entry: str) -> tuple[str, str]:
    entry = entry.strip()
    if entry.startswith("["):
        host, sep, rest = entry[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise PolicyError(f"{entry!r}: expected [v6-address]:port")
        return host, rest[1:]
    host, sep, port = entry.rpartition(":")
    if not sep or not host:
        raise PolicyError(f"{entry!r}: expected host:port")
    return host, port


def _port(text: str, entry: str, *, wildcard: bool) -> int | None:
    if wildcard and text == "*":
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise PolicyError(f"{entry!r}: the port must be 1-65535{' or *' if wildcard else ''}")
    return int(text)


@dataclass(frozen=True)
class AllowEntry:
    """One ``network.allow`` entry of a tool: ``api.example.com:443``, ``*.example.com:443``, ``[::1]:8080``."""

    host: str  # lower case; a leading "*." matches any subdomain (not the bare domain)
    port: int

    @classmethod
    def parse(cls, entry: str) -> AllowEntry:
        host, port = _split_host_port(entry)
        host = host.lower().rstrip(".")
        label = host[2:] if host.startswith("*.") else host
        if not label or any(c in label for c in "/*@ ") or len(host) > 253:
            raise PolicyError(f"{entry!r}: not a host name or IP address")
        port_n = _port(port, entry, wildcard=False)
        assert port_n is not None
        return cls(host, port_n)

    def matches(self, host: str, port: int) -> bool:
        if port != self.port:
            return False
        host = host.lower().rstrip(".")
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


@dataclass(frozen=True)
class PrivateEntry:
    """An admin exception for a non-public destination: ``127.0.0.1:8080``, ``10.0.0.0/8:443``, ``[::1]:*``."""

    network: IPNetwork
    port: int | None  # None: any port

    @classmethod
    def parse(cls, entry: str) -> PrivateEntry:
        host, port = _split_host_port(entry)
        try:
            network = ipaddress.ip_network(host, strict=False)
        except ValueError as exc:
            raise PolicyError(f"{entry!r}: expected an IP address or CIDR block") from exc
        return cls(network, _port(port, entry, wildcard=True))

    def matches(self, ip: IPAddress, port: int) -> bool:
        return ip in self.network and (self.port is None or self.port == port)


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public(ip.ipv4_mapped)
        if ip in NAT64:
            return is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None and not is_public(ip.sixtofour):
            return False
    return bool(ip.is_global) and not ip.is_multicast


@dataclass(frozen=True)
class Policy:
    allow: tuple[AllowEntry, ...]
    private: tuple[PrivateEntry, ...] = ()

    @classmethod
    def parse(cls, allow: Sequence[str], private: Sequence[str] = ()) -> Policy:
        return cls(tuple(AllowEntry.parse(a) for a in allow), tuple(PrivateEntry.parse(p) for p in private))

    def allows_name(self, host: str, port: int) -> bool:
        return any(entry.matches(host, port) for entry in self.allow)

    def allows_address(self, ip: IPAddress, port: int) -> bool:
        return is_public(ip) or any(entry.matches(ip, port) for entry in self.private)


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def resolve(host: str, port: int, policy: Policy) -> list[IPAddress]:
    """The addresses of ``host`` that the policy lets the tool reach (``Refused`` if none)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise Refused(502, f"cannot resolve {host}: {exc.strerror}") from exc
        found = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    allowed = [ip for ip in found if policy.allows_address(ip, port)]
    if not allowed:
        shown = ", ".join(str(ip) for ip in found[:4])
        raise Refused(403, f"{host}:{port} resolves to a non-public address ({shown}); "
                           "an admin must allowlist it (--sandbox-allow-private)")
    return allowed


async def open_upstream(host: str, port: int, policy: Policy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if not policy.allows_name(host, port):
        raise Refused(403, f"{host}:{port} is not in this tool's network.allow")
    last: OSError | None = None
    for ip in await resolve(host, port, policy):
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                return await asyncio.open_connection(str(ip), port)
        except (OSError, TimeoutError) as exc:
            last = exc if isinstance(exc, OSError) else OSError(str(exc) or "timed out")
    raise Refused(502, f"cannot connect to {host}:{port}: {last}")


def _response(status: int, reason: str) -> bytes:
    phrase = {400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed", 502: "Bad Gateway"}.get(status, "Error")
    body = f"voice-letta sandbox: {reason}\n".encode()
    return (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}"
            "\r\nConnection: close\r\nX-Voice-Letta-Egress: refused\r\n\r\n").encode() + body


def parse_head(head: bytes) -> h11.Request:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(head)
    event = conn.next_event()
    if not isinstance(event, h11.Request):
        raise Refused(400, "malformed request")
    return event


def target_of(request: h11.Request) -> tuple[str, int, bytes]:
    """(host, port, origin-form path) of a proxy request; the path is empty for CONNECT."""
    target = request.target.decode("ascii", "replace")
    if request.method == b"CONNECT":
        host, port = _split_host_port(target)
        if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
            raise Refused(400, f"bad CONNECT target {target!r}")
        return host, int(port), b""
    try:
        url = urlsplit(target)
        port = url.port or 80
    except ValueError as exc:
        raise Refused(400, f"bad URL {target!r}: {exc}") from exc
    if url.scheme != "http" or not url.hostname:
        raise Refused(400, "only absolute http:// URLs and CONNECT are proxied")
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    return url.hostname, port, path.encode()


def forwarded_head(request: h11.Request, host: str, port: int, path: bytes) -> bytes:
    lines = [request.method + b" " + path + b" HTTP/1.1"]
    has_host = False
    for name, value in request.headers:
        if name in HOP_BY_HOP:
            continue
        has_host = has_host or name == b"host"
        lines.append(name + b": " + value)
    if not has_host:
        lines.append(b"host: " + (host if port == 80 else f"{host}:{port}").encode())
    lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, policy: Policy) -> None:
    upstream: asyncio.StreamWriter | None = None
    try:
        try:
            async with asyncio.timeout(HEAD_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            writer.write(_response(400, "request head too large"))
            return
        except (asyncio.IncompleteReadError, TimeoutError):
            return
        try:
            request = parse_head(head)
            host, port, path = target_of(request)
            up_reader, upstream = await open_upstream(host, port, policy)
        except Refused as exc:
            writer.write(_response(exc.status, exc.reason))
            return
        except (h11.RemoteProtocolError, PolicyError) as exc:
            writer.write(_response(400, f"malformed request: {exc}"))
            return
        if request.method == b"CONNECT":
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        else:
            upstream.write(forwarded_head(request, host, port, path))
        await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
    finally:
        for w in (upstream, writer):
            if w is not None:
                w.close()
                with contextlib.suppress(OSError, ConnectionError):
                    await w.wait_closed()


async def serve(listener: socket.socket, policy: Policy) -> None:
    """Serve the call's listener until the process is killed (it dies with the call)."""
    slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if slots.locked():
            writer.close()
            return
        async with slots:
            await handle(reader, writer, policy)

    server = await asyncio.start_server(client, sock=listener, limit=MAX_HEAD_BYTES)
    async with server:
        await server.serve_forever()
