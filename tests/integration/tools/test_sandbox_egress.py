"""Outbound network per tool: nothing by default; ``network.allow`` opens named destinations through the egress
proxy, which urllib, requests and Node's fetch use unchanged; non-public addresses only when an admin allows them.

Every destination here is on this machine's loopback: the tests allowlist 127.0.0.1:<port> as an admin would."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from voice_letta.agent.models import Tool, ToolNetwork, ToolOptions
from voice_letta.config import SandboxSettings
from voice_letta.tools_runtime import SandboxExecutor, SandboxSupervisor

CLIENTS = '''
import os
import urllib.error
import urllib.request


def with_urllib(url: str, cafile: str = "") -> dict:
    context = None
    if cafile:
        import ssl

        with open("ca.pem", "w") as f:
            f.write(cafile)
        context = ssl.create_default_context(cafile="ca.pem")
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as r:
            return {"status": r.status, "body": r.read().decode()}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "body": exc.read().decode()}
    except OSError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


def with_requests(url: str, cafile: str = "") -> dict:
    import requests

    verify = True
    if cafile:
        with open("ca.pem", "w") as f:
            f.write(cafile)
        verify = "ca.pem"
    try:
        r = requests.get(url, timeout=10, verify=verify)
        return {"status": r.status_code, "body": r.text}
    except requests.RequestException as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


def proxy_env() -> dict:
    return {k: v for k, v in os.environ.items() if "proxy" in k.lower()}
'''

FETCH = """
/** Fetches a URL with Node's built-in fetch. */
export async function get(url: string): Promise<{ status?: number; body?: string; error?: string }> {
  try {
    const r = await fetch(url);
    return { status: r.status, body: await r.text() };
  } catch (err) {
    const chain: string[] = [];
    for (let e: any = err; e; e = e.cause) chain.push(`${e.message ?? e} (${e.code})`);
    return { error: chain.join(" <- ") };
  }
}
"""


@dataclass
class Upstream:
    http_port: int
    https_port: int
    ca_pem: str


def _self_signed() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[Upstream]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello {request.path} via {request.host} {request.scheme}")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    cert, key = _self_signed()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    plain = web.TCPSite(runner, "127.0.0.1", 0)
    tls = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await plain.start()
    await tls.start()
    ports = [site._server.sockets[0].getsockname()[1] for site in (plain, tls)]  # type: ignore[union-attr]
    try:
        yield Upstream(ports[0], ports[1], cert.decode())
    finally:
        await runner.cleanup()


@pytest.fixture
async def egress(upstream: Upstream) -> AsyncIterator[SandboxExecutor]:
    """A sandbox whose admin lets tools reach the two test servers on loopback (and nothing else private)."""
    settings = SandboxSettings(allow_private=[f"127.0.0.1:{upstream.http_port}", f"127.0.0.1:{upstream.https_port}"])
    supervisor = SandboxSupervisor(settings)
    await supervisor.start()
    executor = SandboxExecutor(supervisor)
    if supervisor.isolation.get("level") != "strict":
        pytest.skip(f"isolation level here: {supervisor.isolation.get('level')} ({supervisor.isolation.get('notes')})")
    try:
        yield executor
    finally:
        await executor.aclose()
        await supervisor.aclose()


def _py(name: str, *allow: str) -> Tool:
    return Tool(id=f"t-{name}", name=name, source_type="python", source_code=CLIENTS,
                options=ToolOptions(network=ToolNetwork(allow=list(allow)), timeout_s=30))


async def _call(executor: SandboxExecutor, tool: Tool, **args: object) -> dict[str, object]:
    run = await executor.run(tool, dict(args))
    assert run.ok, run
    assert isinstance(run.result, dict)
    return run.result


async def test_no_network_by_default(egress: SandboxExecutor, upstream: Upstream) -> None:
    tool = _py("with_urllib")
    seen = await _call(egress, tool, url=f"http://127.0.0.1:{upstream.http_port}/x")
    assert seen["error"] == "URLError"  # no proxy, no interface but the call's own loopback
    assert await _call(egress, _py("proxy_env")) == {}


async def test_urllib_and_requests_reach_an_allowed_destination_over_http_and_https(
    egress: SandboxExecutor, upstream: Upstream
) -> None:
    allow = (f"127.0.0.1:{upstream.http_port}", f"localhost:{upstream.https_port}")
    env = await _call(egress, _py("proxy_env", *allow))
    assert env["HTTPS_PROXY"] == env["HTTP_PROXY"] == env["https_proxy"] == "http://127.0.0.1:3128"

    plain = await _call(egress, _py("with_urllib", *allow), url=f"http://127.0.0.1:{upstream.http_port}/a?b=1")
    assert plain == {"status": 200, "body": f"hello /a via 127.0.0.1:{upstream.http_port} http"}
    tls = await _call(egress, _py("with_urllib", *allow), url=f"https://localhost:{upstream.https_port}/t",
                      cafile=upstream.ca_pem)  # CONNECT; the name resolves (to loopback) in the proxy
    assert tls == {"status": 200, "body": f"hello /t via localhost:{upstream.https_port} https"}
    for url in (f"http://127.0.0.1:{upstream.http_port}/r", f"https://localhost:{upstream.https_port}/r"):
        got = await _call(egress, _py("with_requests", *allow), url=url, cafile=upstream.ca_pem)
        assert got["status"] == 200 and str(got["body"]).startswith("hello /r"), got


async def test_destinations_outside_the_allowlist_are_refused_without_being_contacted(
    egress: SandboxExecutor, upstream: Upstream
) -> None:
    tool = _py("with_urllib", f"127.0.0.1:{upstream.http_port}")
    other_port = await _call(egress, tool, url=f"http://127.0.0.1:{upstream.https_port}/")
    assert other_port["status"] == 403
    assert "is not in this tool's network.allow" in str(other_port["body"])
    named = await _call(egress, tool, url="http://api.example.invalid/")
    assert named["status"] == 403 and "api.example.invalid:80" in str(named["body"])
    tunnel = await _call(egress, _py("with_requests", f"127.0.0.1:{upstream.http_port}"),
                         url="https://api.example.invalid/")
    assert tunnel["error"] == "ProxyError" and "403" in str(tunnel["message"])


async def test_private_and_metadata_addresses_need_the_admin(egress: SandboxExecutor, upstream: Upstream) -> None:
    # the tool lists them, but no admin allowlisted these: refused before any connection is made
    tool = _py("with_urllib", "169.254.169.254:80", "10.1.2.3:80", f"127.0.0.2:{upstream.http_port}",
               "localhost:22")
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/", "http://localhost:22/",
                f"http://127.0.0.2:{upstream.http_port}/"):
        seen = await _call(egress, tool, url=url)
        assert seen["status"] == 403, (url, seen)
        assert "non-public address" in str(seen["body"])


@pytest.mark.skipif(shutil.which("node") is None, reason="TypeScript tools need Node.js")
async def test_node_fetch_goes_through_the_proxy(egress: SandboxExecutor, upstream: Upstream) -> None:
    def fetcher(*allow: str) -> Tool:
        return Tool(id="t-fetch", name="get", source_type="typescript", source_code=FETCH,
                    parameters={"type": "object", "properties": {"url": {"type": "string"}}},
                    options=ToolOptions(network=ToolNetwork(allow=list(allow)), timeout_s=30))

    url = f"http://127.0.0.1:{upstream.http_port}/node"
    assert await _call(egress, fetcher(f"127.0.0.1:{upstream.http_port}"), url=url) == {
        "status": 200, "body": f"hello /node via 127.0.0.1:{upstream.http_port} http"}
    refused = await _call(egress, fetcher("api.example.invalid:443"), url=url)
    assert "Proxy response (403)" in str(refused["error"])  # undici tunnels even http:// through CONNECT
    unproxied = await _call(egress, fetcher(), url=url)
    assert "ECONNREFUSED" in str(unproxied["error"])
