"""Behaviour of the test-bed stand-ins: images/standin and images/reverse-proxy.

The tests build nothing: scripts/build-images makes the images, and a test whose image is
absent is skipped with the reason. Every container runs on a throwaway Docker network and is
reached from a probe container on that network (`docker exec`), so no port is published.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

STANDIN = {
    role: f"hephaestus-testbed/{role}:standin"
    for role in (
        "application-server",
        "intelligence-service",
        "webhook-ingest",
        "webapp",
        "logrotate",
    )
}
PROXY = "hephaestus-testbed/traefik:v3.2-standin"
# The probe, the fake Keycloak and the fake maintenance page run python3 from this image.
TOOLBOX = STANDIN["logrotate"]

WEBHOOK_SECRET = "test-webhook-secret-0123456789abcdefghij"
DB_PASSWORD = "test-db-password-8c1f0e"
CLIENT_SECRET = "test-client-secret-5d2a9b"

# Sends one HTTP(S) request described as JSON on stdin; prints status, headers and body.
# Certificates are not verified: the proxy stand-in serves a self-signed one.
HTTP_CLIENT = r"""
import http.client, json, ssl, sys, urllib.parse
spec = json.load(sys.stdin)
url = urllib.parse.urlsplit(spec["url"])
if url.scheme == "https":
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=15, context=context)
else:
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=15)
target = (url.path or "/") + ("?" + url.query if url.query else "")
body = spec.get("body")
conn.request(spec.get("method", "GET"), target, body=None if body is None else body.encode(),
             headers=spec.get("headers", {}))
response = conn.getresponse()
print(json.dumps({
    "status": response.status,
    "headers": {k.lower(): v for k, v in response.getheaders()},
    "body": response.read().decode("utf-8", "replace"),
}))
"""

# Subscribes to a subject on nats:4222 over the raw protocol, prints READY once the server
# has confirmed the subscription, then one JSON line per message. It stops `linger` seconds
# after the `want`-th message, or after 20 s.
NATS_SUBSCRIBER = r"""
import json, socket, sys, time
subject, want, linger = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sock = socket.create_connection(("nats", 4222), timeout=20)
reader = sock.makefile("rb")
if not reader.readline().startswith(b"INFO "):
    sys.exit("no INFO from nats")
sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\n'
             b"SUB " + subject.encode() + b" 1\r\nPING\r\n")
while True:
    line = reader.readline().rstrip(b"\r\n")
    if line == b"PONG":
        break
    if not line or line.startswith(b"-ERR"):
        sys.exit("subscription refused: " + line.decode())
print("READY", flush=True)
count = 0
deadline = time.monotonic() + 20
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    sock.settimeout(left)
    try:
        line = reader.readline()
    except OSError:
        break
    if not line:
        break
    line = line.rstrip(b"\r\n")
    if line == b"PING":
        sock.sendall(b"PONG\r\n")
    elif line.startswith(b"MSG "):
        parts = line.split()
        size = int(parts[-1])
        payload = reader.read(size + 2)[:size]
        print(json.dumps({"subject": parts[1].decode(), "payload": payload.decode()}), flush=True)
        count += 1
        if count == want:
            deadline = min(deadline, time.monotonic() + linger)
"""

# Keycloak's token endpoint for the client-credentials grant, and nothing else.
FAKE_KEYCLOAK = r"""
import http.server, json, sys, urllib.parse
secret = sys.argv[1]
token_path = "/keycloak/realms/hephaestus/protocol/openid-connect/token"
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        ok = (self.path == token_path
              and form.get("grant_type") == ["client_credentials"]
              and form.get("client_id") == ["hephaestus-confidential"]
              and form.get("client_secret") == [secret])
        status, doc = (200, {"access_token": "t0k3n", "token_type": "Bearer"}) if ok else (
            401, {"error": "unauthorized_client"})
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("", 8080), Handler).serve_forever()
"""

# A plain upstream (the maintenance page, or Keycloak and the application-server for routing
# tests): it answers any GET with its name, the path it received and the request headers.
ECHO_SERVER = r"""
import http.server, sys
name, port = sys.argv[1], int(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{name} {self.path}\n{self.headers}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("", port), Handler).serve_forever()
"""


def docker(*args: str, stdin: str | None = None, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(
        ["docker", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return result.stdout


def docker_usable() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def image_present(ref: str) -> bool:
    return docker("image", "inspect", ref, check=False) != ""


def find_image(repository: str) -> str | None:
    """The first tag of a repository the image builder made, e.g. hephaestus-testbed/nats."""
    out = docker("images", repository, "--format", "{{.Repository}}:{{.Tag}}")
    tags = [line for line in out.splitlines() if not line.endswith(":<none>")]
    return tags[0] if tags else None


def require(*refs: str) -> None:
    missing = [ref for ref in refs if not image_present(ref)]
    if missing:
        pytest.skip(f"image absent: {', '.join(missing)} (scripts/build-images makes it)")


def require_repository(repository: str) -> str:
    ref = find_image(repository)
    if ref is None:
        pytest.skip(f"no {repository}:* image (scripts/build-images makes it)")
    return ref


def signature(body: str, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def eventually(probe: Callable[[], Any], accept: Callable[[Any], bool], seconds: float) -> Any:
    """Call probe until accept() takes its result; return the last result either way."""
    deadline = time.monotonic() + seconds
    while True:
        result = probe()
        if accept(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@dataclass
class Bed:
    """A throwaway network, the containers on it, and a probe container to reach them."""

    network: str
    containers: list[str] = field(default_factory=list)
    probe: str = ""

    def run(
        self,
        image: str,
        alias: str,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        options: tuple[str, ...] = (),
    ) -> str:
        name = f"{self.network}-{alias}"
        command = ["run", "-d", "--name", name, "--network", self.network]
        command += ["--network-alias", alias, "--label", "hephaestus-standin-test=1"]
        for key, value in (env or {}).items():
            command += ["--env", f"{key}={value}"]
        container = docker(*command, *options, image, *args).strip()
        self.containers.append(container)
        return name

    def python(self, script: str, alias: str, *args: str, image: str = TOOLBOX) -> str:
        """A small Python server from the toolbox image, under a network alias."""
        return self.run(
            image, alias, args=("-c", script, *args), options=("--entrypoint", "python3")
        )

    def start_probe(self) -> None:
        self.probe = self.run(TOOLBOX, "probe")

    def http(
        self,
        url: str,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        spec = {"url": url, "method": method, "headers": headers or {}, "body": body}
        result = subprocess.run(
            ["docker", "exec", "-i", self.probe, "python3", "-c", HTTP_CLIENT],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            error = result.stderr.strip().splitlines()
            return {"status": None, "headers": {}, "body": "", "error": error[-1] if error else ""}
        response: dict[str, Any] = json.loads(result.stdout)
        return response

    def wait_http(self, url: str, status: int, seconds: float = 30) -> dict[str, Any]:
        response: dict[str, Any] = eventually(
            lambda: self.http(url), lambda r: r["status"] == status, seconds
        )
        assert response["status"] == status, f"{url}: {response}"
        return response

    def subscribe(self, subject: str, want: int, linger: float = 1.5) -> subprocess.Popen[str]:
        command = ["docker", "exec", self.probe, "python3", "-c", NATS_SUBSCRIBER]
        process = subprocess.Popen(
            [*command, subject, str(want), str(linger)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None and process.stderr is not None
        ready = process.stdout.readline().strip()
        assert ready == "READY", f"NATS subscriber failed: {ready} {process.stderr.read()}"
        return process

    def logs(self, name: str) -> str:
        result = subprocess.run(
            ["docker", "logs", name], capture_output=True, text=True, check=False
        )
        return result.stdout + result.stderr

    def remove(self) -> None:
        if self.containers:
            docker("rm", "-f", "-v", *self.containers, check=False)
        docker("network", "rm", self.network, check=False)


def received(process: subprocess.Popen[str]) -> list[dict[str, str]]:
    stdout, _stderr = process.communicate(timeout=60)
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def bed() -> Iterator[Bed]:
    if not docker_usable():
        pytest.skip("no usable Docker engine (docker info fails)")
    require(TOOLBOX)
    network = f"standin-test-{uuid.uuid4().hex[:10]}"
    docker("network", "create", "--label", "hephaestus-standin-test=1", network)
    test_bed = Bed(network)
    try:
        test_bed.start_probe()
        yield test_bed
    finally:
        test_bed.remove()


def start_nats(bed: Bed) -> None:
    image = require_repository("hephaestus-testbed/nats")
    bed.run(image, "nats")


def start_webhook_ingest(bed: Bed) -> str:
    require(STANDIN["webhook-ingest"])
    return bed.run(
        STANDIN["webhook-ingest"],
        "webhook-ingest",
        env={"WEBHOOK_SECRET": WEBHOOK_SECRET, "NATS_URL": "nats://nats:4222"},
    )


# --- webhook-ingest ----------------------------------------------------------------------------


def test_webhook_ingest_publishes_only_signed_github_deliveries(bed: Bed) -> None:
    start_nats(bed)
    name = start_webhook_ingest(bed)
    health = bed.wait_http("http://webhook-ingest:4200/health", 200)
    assert json.loads(health["body"])["components"]["nats"]["status"] == "UP"

    url = "http://webhook-ingest:4200/github"
    subscriber = bed.subscribe("github.>", want=1)

    unsigned = '{"case": "unsigned"}'
    response = bed.http(url, "POST", {"X-GitHub-Event": "push"}, unsigned)
    assert response["status"] == 401, response

    forged = '{"case": "wrongly signed"}'
    wrong = signature(forged, secret="not-the-webhook-secret-0123456789abcdef")
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": wrong}
    response = bed.http(url, "POST", headers, forged)
    assert response["status"] == 401, response

    # Signed for another body: the signature must cover the bytes delivered.
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature("{}")}
    response = bed.http(url, "POST", headers, forged)
    assert response["status"] == 401, response

    genuine = '{"case": "signed", "ref": "refs/heads/main"}'
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "3f9c1a2e",
        "X-Hub-Signature-256": signature(genuine),
    }
    response = bed.http(url, "POST", headers, genuine)
    assert response["status"] == 200, response

    # The refused deliveries came first; had any been published, it would show here.
    assert received(subscriber) == [{"subject": "github.push", "payload": genuine}]
    assert WEBHOOK_SECRET not in bed.logs(name)


def test_webhook_ingest_checks_the_gitlab_token(bed: Bed) -> None:
    start_nats(bed)
    start_webhook_ingest(bed)
    bed.wait_http("http://webhook-ingest:4200/health", 200)

    url = "http://webhook-ingest:4200/gitlab"
    subscriber = bed.subscribe("gitlab.>", want=1)

    response = bed.http(url, "POST", {"X-Gitlab-Event": "Push Hook"}, '{"case": "no token"}')
    assert response["status"] == 401, response
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": WEBHOOK_SECRET + "x"}
    response = bed.http(url, "POST", headers, '{"case": "wrong token"}')
    assert response["status"] == 401, response

    genuine = '{"object_kind": "push"}'
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": WEBHOOK_SECRET}
    response = bed.http(url, "POST", headers, genuine)
    assert response["status"] == 200, response

    assert received(subscriber) == [{"subject": "gitlab.push_hook", "payload": genuine}]


def test_webhook_ingest_is_unhealthy_and_refuses_without_nats(bed: Bed) -> None:
    start_webhook_ingest(bed)
    response = bed.wait_http("http://webhook-ingest:4200/health", 503)
    nats = json.loads(response["body"])["components"]["nats"]
    assert nats["status"] == "DOWN"
    assert "nats://nats:4222" in nats["details"]["error"]

    body = '{"zen": "Keep it logically awesome."}'
    headers = {"X-GitHub-Event": "ping", "X-Hub-Signature-256": signature(body)}
    response = bed.http("http://webhook-ingest:4200/github", "POST", headers, body)
    assert response["status"] == 503, response


# --- application-server and intelligence-service ----------------------------------------------


def app_server_env(nats: bool) -> dict[str, str]:
    return {
        "SPRING_DATASOURCE_URL": "jdbc:postgresql://postgres:5432/hephaestus",
        "SPRING_DATASOURCE_USERNAME": "hephaestus",
        "SPRING_DATASOURCE_PASSWORD": DB_PASSWORD,
        "KEYCLOAK_URL": "http://keycloak:8080/keycloak",
        "KEYCLOAK_REALM": "hephaestus",
        "KEYCLOAK_CLIENT_SECRET": CLIENT_SECRET,
        "NATS_ENABLED": "true" if nats else "false",
        "NATS_SERVER": "nats://nats:4222",
    }


def test_application_server_names_the_missing_database(bed: Bed) -> None:
    require(STANDIN["application-server"])
    bed.python(FAKE_KEYCLOAK, "keycloak", CLIENT_SECRET)
    name = bed.run(STANDIN["application-server"], "application-server", env=app_server_env(False))

    response = bed.wait_http("http://application-server:8080/actuator/health", 503)
    health = json.loads(response["body"])
    assert health["status"] == "DOWN"
    assert health["components"]["db"]["status"] == "DOWN"
    assert '"postgres"' in health["components"]["db"]["details"]["error"]
    assert health["components"]["keycloak"]["status"] == "UP", health
    assert "nats" not in health["components"]

    for text in (response["body"], bed.logs(name)):
        assert DB_PASSWORD not in text
        assert CLIENT_SECRET not in text


def test_application_server_reports_a_refused_client_secret(bed: Bed) -> None:
    require(STANDIN["application-server"])
    bed.python(FAKE_KEYCLOAK, "keycloak", "the-secret-keycloak-really-holds")
    bed.run(STANDIN["application-server"], "application-server", env=app_server_env(False))

    response = bed.wait_http("http://application-server:8080/actuator/health", 503)
    keycloak = json.loads(response["body"])["components"]["keycloak"]
    assert keycloak["status"] == "DOWN"
    assert "HTTP 401 (unauthorized_client)" in keycloak["details"]["error"]
    assert CLIENT_SECRET not in response["body"]


def start_postgres(bed: Bed, password: str = DB_PASSWORD) -> None:
    image = require_repository("hephaestus-testbed/postgres")
    env = {
        "POSTGRES_USER": "hephaestus",
        "POSTGRES_PASSWORD": password,
        "POSTGRES_DB": "hephaestus",
    }
    bed.run(image, "postgres", env=env)


def test_application_server_is_up_with_every_backend(bed: Bed) -> None:
    require(STANDIN["application-server"])
    start_postgres(bed)
    start_nats(bed)
    bed.python(FAKE_KEYCLOAK, "keycloak", CLIENT_SECRET)
    bed.run(STANDIN["application-server"], "application-server", env=app_server_env(True))

    response = bed.wait_http("http://application-server:8080/actuator/health", 200, seconds=60)
    health = json.loads(response["body"])
    assert health["status"] == "UP"
    assert {n: c["status"] for n, c in health["components"].items()} == {
        "db": "UP",
        "keycloak": "UP",
        "nats": "UP",
    }


def test_intelligence_service_logs_in_to_postgres(bed: Bed) -> None:
    require(STANDIN["intelligence-service"])
    start_postgres(bed)
    password = DB_PASSWORD.replace("-", "%2D")  # URL-encoded parts must be decoded.
    url = f"postgresql://hephaestus:{password}@postgres:5432/hephaestus"
    bed.run(STANDIN["intelligence-service"], "intelligence", env={"DATABASE_URL": url})
    bed.run(
        STANDIN["intelligence-service"],
        "intelligence-wrong",
        env={"DATABASE_URL": "postgresql://hephaestus:wrong@postgres:5432/hephaestus"},
    )

    response = bed.wait_http("http://intelligence:8000/health", 200, seconds=60)
    assert json.loads(response["body"])["components"]["db"]["status"] == "UP"

    response = bed.wait_http("http://intelligence-wrong:8000/health", 503)
    error = json.loads(response["body"])["components"]["db"]["details"]["error"]
    assert "password authentication failed" in error


# --- webapp ------------------------------------------------------------------------------------


def test_webapp_shows_the_disclaimer_without_legal_texts(bed: Bed) -> None:
    require(STANDIN["webapp"])
    name = bed.run(STANDIN["webapp"], "webapp")

    index = bed.wait_http("http://webapp/", 200)
    assert "<html" in index["body"]
    for page in ("imprint", "privacy"):
        response = bed.http(f"http://webapp/{page}")
        assert response["status"] == 200
        assert "not configured" in response["body"]

    assert 'GET /imprint" 200' in bed.logs(name)


def test_webapp_serves_mounted_overrides(bed: Bed, tmp_path: Path) -> None:
    require(STANDIN["webapp"])
    overrides = tmp_path / "legal"
    overrides.mkdir()
    (overrides / "imprint.md").write_text("# Imprint\n\nOperated by Test Operator 7421.\n")
    (overrides / "privacy.md").write_text("# Privacy\n\nTest privacy statement 9313.\n")
    overrides.chmod(0o755)
    tmp_path.chmod(0o755)
    mount = f"{overrides}:/usr/share/nginx/html/legal-overrides:ro"
    bed.run(STANDIN["webapp"], "webapp", options=("--volume", mount))

    imprint = bed.wait_http("http://webapp/imprint", 200)
    assert "Test Operator 7421" in imprint["body"]
    assert "not configured" not in imprint["body"]
    privacy = bed.http("http://webapp/privacy")
    assert "Test privacy statement 9313" in privacy["body"]
    raw = bed.http("http://webapp/legal-overrides/imprint.md")
    assert raw["body"] == "# Imprint\n\nOperated by Test Operator 7421.\n"


def test_webapp_serves_the_bundled_profile(bed: Bed) -> None:
    require(STANDIN["webapp"])
    bed.run(STANDIN["webapp"], "webapp", env={"LEGAL_PROFILE": "tumaet"})
    imprint = bed.wait_http("http://webapp/imprint", 200)
    assert "tumaet" in imprint["body"]
    assert "not configured" not in imprint["body"]


# --- every role --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["webhook-ingest", "logrotate", "webapp"])
def test_standin_stops_promptly_on_sigterm(bed: Bed, role: str) -> None:
    require(STANDIN[role])
    name = bed.run(STANDIN[role], role, env={"WEBHOOK_SECRET": WEBHOOK_SECRET})
    time.sleep(1)
    started = time.monotonic()
    docker("stop", "--time", "10", name)
    assert time.monotonic() - started < 3
    logs = bed.logs(name)
    assert f"stand-in for Hephaestus {role}" in logs
    assert "stopped" in logs
    state = docker("inspect", "--format", "{{.State.ExitCode}}", name).strip()
    assert state == "0"


# --- reverse proxy -----------------------------------------------------------------------------


@pytest.fixture
def proxied(bed: Bed) -> Bed:
    require(PROXY, STANDIN["webhook-ingest"])
    start_webhook_ingest(bed)
    bed.python(ECHO_SERVER, "maintenance", "maintenance-page", "80")
    flags = ("--providers.docker=true", "--entrypoints.web.address=:80", "--ping=true")
    bed.run(PROXY, "reverse-proxy", args=flags)
    bed.wait_http("http://reverse-proxy/", 301)
    return bed


def test_proxy_healthcheck_answers_like_traefik(proxied: Bed) -> None:
    result = subprocess.run(
        ["docker", "exec", f"{proxied.network}-reverse-proxy", "traefik", "healthcheck", "--ping"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_proxy_redirects_http_to_https(proxied: Bed) -> None:
    response = proxied.http("http://reverse-proxy/some/page?tab=2")
    assert response["status"] == 301
    assert response["headers"]["location"] == "https://reverse-proxy/some/page?tab=2"


def test_proxy_strips_the_webhooks_prefix(proxied: Bed) -> None:
    # webhook-ingest echoes an unknown path: it sees the path without /webhooks.
    response = proxied.http("https://reverse-proxy/webhooks/no-such-endpoint")
    assert response["status"] == 404, response
    assert json.loads(response["body"])["path"] == "/no-such-endpoint"

    # Its own refusals pass through unchanged.
    body = '{"case": "unsigned through the proxy"}'
    response = proxied.http("https://reverse-proxy/webhooks/github", "POST", {}, body)
    assert response["status"] == 401, response


def test_proxy_routes_keycloak_and_api(proxied: Bed) -> None:
    proxied.python(ECHO_SERVER, "keycloak", "keycloak", "8080")
    proxied.python(ECHO_SERVER, "application-server", "application-server", "8080")

    response = proxied.wait_http("https://reverse-proxy/keycloak/realms/hephaestus", 200)
    assert response["body"].startswith("keycloak /keycloak/realms/hephaestus\n"), response

    response = proxied.wait_http("https://reverse-proxy/api/actuator/health?probe=1", 200)
    assert response["body"].startswith("application-server /actuator/health?probe=1\n")
    assert "x-forwarded-prefix: /api" in response["body"].lower()


def test_proxy_healthcheck_fails_without_nginx() -> None:
    if not docker_usable():
        pytest.skip("no usable Docker engine (docker info fails)")
    require(PROXY)
    result = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", PROXY, "traefik", "healthcheck", "--ping"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result


def test_proxy_routes_webhooks_health_to_webhook_ingest(proxied: Bed) -> None:
    start_nats(proxied)
    response = proxied.wait_http("https://reverse-proxy/webhooks/health", 200)
    assert "x-standin-fallback" not in response["headers"]
    assert json.loads(response["body"])["components"]["nats"]["status"] == "UP"


def test_proxy_falls_back_to_maintenance_without_webapp(proxied: Bed) -> None:
    response = proxied.http("https://reverse-proxy/courses/42")
    assert response["status"] == 200, response
    assert response["headers"].get("x-standin-fallback") == "maintenance"
    assert response["body"].startswith("maintenance-page /courses/42\n")
    forwarded = response["body"].lower()
    assert "x-forwarded-proto: https" in forwarded
    assert "x-forwarded-host: reverse-proxy" in forwarded
    assert "x-forwarded-for: " in forwarded

    require(STANDIN["webapp"])
    proxied.run(STANDIN["webapp"], "webapp")
    response = eventually(
        lambda: proxied.http("https://reverse-proxy/courses/42"),
        lambda r: "webapp stand-in" in r["body"],
        20,
    )
    assert response["status"] == 200
    assert "webapp stand-in" in response["body"], response
