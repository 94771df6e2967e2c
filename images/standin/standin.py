#!/usr/bin/env python3
"""Test-bed stand-in for Hephaestus's own services. It is not Hephaestus.

One program plays one of five roles, chosen by HEPHAESTUS_STANDIN_ROLE:
application-server, intelligence-service, webhook-ingest, webapp or logrotate.
Each role answers only at the interfaces a deployment touches (ports, health
endpoints, webhook deliveries, legal pages), and its health reflects real
connections to PostgreSQL, Keycloak and NATS. README.md lists the contract.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import hmac
import html
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

ROLES = ("application-server", "intelligence-service", "webhook-ingest", "webapp", "logrotate")
PORTS = {
    "application-server": 8080,
    "intelligence-service": 8000,
    "webhook-ingest": 4200,
    "webapp": 80,
}

CHECK_TIMEOUT = 2.0
CACHE_SECONDS = 2.0
MAX_WEBHOOK_BODY = 25 * 1024 * 1024  # GitHub caps deliveries at 25 MB.
MAX_DETAIL = 300

LEGAL_OVERRIDES = Path("/usr/share/nginx/html/legal-overrides")
LEGAL_PAGES = ("imprint", "privacy")
LEGAL_PROFILE_PATTERN = re.compile(r"^[a-z0-9_-]{1,32}$")
BUNDLED_PROFILES: dict[str, dict[str, str]] = {
    "tumaet": {
        "imprint": (
            "# Imprint\n\nBundled legal profile `tumaet` (stand-in text). The real webapp ships\n"
            "the full imprint of the TUM Applied Education Technologies group here.\n"
        ),
        "privacy": (
            "# Privacy\n\nBundled legal profile `tumaet` (stand-in text). The real webapp ships\n"
            "the full privacy statement of the TUM Applied Education Technologies group here.\n"
        ),
    },
}

ROLE = os.environ.get("HEPHAESTUS_STANDIN_ROLE", "")


def log(message: str) -> None:
    """Write one line to stdout, where `docker logs` finds it."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    print(f"{stamp} hephaestus-standin[{ROLE}] {message}", flush=True)


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def one_line(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Collapse an error message to one short line with every secret blanked out."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


class ConfigError(Exception):
    """A setting the role needs is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class CheckResult:
    up: bool
    detail: str

    def component(self) -> dict[str, Any]:
        key = "info" if self.up else "error"
        return {"status": "UP" if self.up else "DOWN", "details": {key: self.detail}}


# --- PostgreSQL -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresTarget:
    host: str
    port: int
    dbname: str
    user: str
    password: str = field(repr=False)
    sslmode: str | None = None

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"


def _port(text: str | None, default: int, variable: str) -> int:
    if not text:
        return default
    try:
        return int(text)
    except ValueError as exc:
        raise ConfigError(f"{variable} holds a port that is not a number") from exc


def postgres_from_jdbc(url: str, user: str, password: str) -> PostgresTarget:
    """Read SPRING_DATASOURCE_URL, e.g. jdbc:postgresql://postgres:5432/hephaestus."""
    if not url.startswith("jdbc:postgresql://"):
        raise ConfigError("SPRING_DATASOURCE_URL must start with jdbc:postgresql://")
    parts = urllib.parse.urlsplit(url[len("jdbc:") :])
    # The JDBC driver accepts a comma-separated host list; the first host is tried first.
    first = parts.netloc.split(",")[0]
    host, _, port = first.rpartition(":") if first.count(":") == 1 else (first, "", "")
    dbname = parts.path.lstrip("/")
    if not host or not dbname:
        raise ConfigError("SPRING_DATASOURCE_URL needs a host and a database name")
    if not user:
        raise ConfigError("SPRING_DATASOURCE_USERNAME is not set")
    query = urllib.parse.parse_qs(parts.query)
    return PostgresTarget(
        host=host,
        port=_port(port, 5432, "SPRING_DATASOURCE_URL"),
        dbname=dbname,
        user=user,
        password=password,
        sslmode=query.get("sslmode", [None])[0],
    )


def postgres_from_url(url: str) -> PostgresTarget:
    """Read DATABASE_URL, e.g. postgresql://user:password@postgres:5432/hephaestus."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ConfigError("DATABASE_URL must start with postgresql://")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError("DATABASE_URL holds a port that is not a number") from exc
    dbname = urllib.parse.unquote(parts.path.lstrip("/"))
    if not parts.hostname or not dbname or not parts.username:
        raise ConfigError("DATABASE_URL needs a user, a host and a database name")
    query = urllib.parse.parse_qs(parts.query)
    return PostgresTarget(
        host=parts.hostname,
        port=port or 5432,
        dbname=dbname,
        user=urllib.parse.unquote(parts.username),
        password=urllib.parse.unquote(parts.password or ""),
        sslmode=query.get("sslmode", [None])[0],
    )


def check_postgres(target: PostgresTarget) -> CheckResult:
    """Log in for real and run one query."""
    import psycopg2  # Imported here so that roles without a database start without libpq.

    options: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "dbname": target.dbname,
        "user": target.user,
        "password": target.password,
        "connect_timeout": max(2, int(CHECK_TIMEOUT)),
        "application_name": f"hephaestus-standin-{ROLE}",
    }
    if target.sslmode:
        options["sslmode"] = target.sslmode
    try:
        connection = psycopg2.connect(**options)
    except psycopg2.Error as exc:
        return CheckResult(False, one_line(f"cannot log in: {exc}", (target.password,)))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except psycopg2.Error as exc:
        return CheckResult(False, one_line(f"query failed: {exc}", (target.password,)))
    finally:
        connection.close()
    return CheckResult(True, f"logged in as {target.describe()}")


# --- Keycloak ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeycloakClient:
    base_url: str
    realm: str
    client_id: str
    client_secret: str = field(repr=False)

    @property
    def token_url(self) -> str:
        realm = urllib.parse.quote(self.realm, safe="")
        return f"{self.base_url.rstrip('/')}/realms/{realm}/protocol/openid-connect/token"


# Health checks talk to services on the compose network only: never through an HTTP proxy
# that the environment might name.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def check_keycloak(client: KeycloakClient) -> CheckResult:
    """Obtain a client-credentials token, as the application-server does at startup."""
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        }
    ).encode()
    request = urllib.request.Request(
        client.token_url,
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )
    secrets = (client.client_secret,)
    try:
        with _NO_PROXY_OPENER.open(request, timeout=CHECK_TIMEOUT) as response:
            body = json.loads(response.read(1024 * 1024))
    except urllib.error.HTTPError as exc:
        reason = ""
        try:
            answer = json.loads(exc.read(64 * 1024))
            if isinstance(answer, dict) and isinstance(answer.get("error"), str):
                reason = f" ({answer['error']})"
        except (ValueError, OSError):
            pass
        detail = f"token endpoint {client.token_url} answered HTTP {exc.code}{reason}"
        return CheckResult(False, one_line(detail, secrets))
    except (urllib.error.URLError, OSError) as exc:
        why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return CheckResult(False, one_line(f"cannot reach {client.token_url}: {why}", secrets))
    except ValueError:
        return CheckResult(False, f"token endpoint {client.token_url} answered with no JSON")
    if not isinstance(body, dict) or not body.get("access_token"):
        return CheckResult(False, f"token endpoint {client.token_url} returned no access_token")
    return CheckResult(True, f"client {client.client_id} obtained a token in realm {client.realm}")


# --- NATS -------------------------------------------------------------------------------------


class NatsError(Exception):
    """The NATS server was unreachable, refused us, or spoke something unexpected."""


class PayloadTooLargeError(NatsError):
    """The message exceeds the max_payload the server announced."""


@dataclass(frozen=True)
class NatsServer:
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        return f"nats://{self.host}:{self.port}"


def parse_nats_url(url: str, variable: str) -> NatsServer:
    """Read nats://host:4222 (a comma-separated list uses its first entry)."""
    first = url.split(",")[0].strip()
    if "://" not in first:
        first = "nats://" + first
    parts = urllib.parse.urlsplit(first)
    if parts.scheme != "nats":
        raise ConfigError(f"{variable} must be a nats:// URL; the stand-in speaks no TLS")
    try:
        port = parts.port or 4222
    except ValueError as exc:
        raise ConfigError(f"{variable} holds a port that is not a number") from exc
    if not parts.hostname:
        raise ConfigError(f"{variable} names no host")
    user = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password else None
    return NatsServer(parts.hostname, port, user, password)


class NatsConnection:
    """Just enough of the NATS client protocol: INFO, CONNECT, PING/PONG and PUB."""

    MAX_LINE = 64 * 1024

    def __init__(self, server: NatsServer, timeout: float) -> None:
        self.server = server
        try:
            self._sock = socket.create_connection((server.host, server.port), timeout=timeout)
        except OSError as exc:
            raise NatsError(f"cannot connect to {server.describe()}: {exc}") from exc
        self._reader = self._sock.makefile("rb")
        try:
            self.info = self._handshake()
        except (OSError, NatsError):
            self.close()
            raise

    def _handshake(self) -> dict[str, Any]:
        line = self._readline()
        if not line.startswith(b"INFO "):
            raise NatsError(f"{self.server.describe()} did not start with INFO")
        try:
            info = json.loads(line[5:])
        except ValueError as exc:
            raise NatsError(f"{self.server.describe()} sent an unreadable INFO") from exc
        if not isinstance(info, dict):
            raise NatsError(f"{self.server.describe()} sent an unreadable INFO")
        if info.get("tls_required"):
            raise NatsError(f"{self.server.describe()} requires TLS, which the stand-in lacks")
        options: dict[str, Any] = {
            "verbose": False,
            "pedantic": False,
            "lang": "python",
            "version": "standin",
            "protocol": 1,
            "name": f"hephaestus-standin-{ROLE}",
        }
        if self.server.user is not None:
            options["user"] = self.server.user
            options["pass"] = self.server.password or ""
        self._send(b"CONNECT " + json.dumps(options).encode() + b"\r\nPING\r\n")
        self._await_pong()
        return info

    def _send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise NatsError(f"lost {self.server.describe()}: {exc}") from exc

    def _readline(self) -> bytes:
        try:
            line = self._reader.readline(self.MAX_LINE)
        except OSError as exc:
            raise NatsError(f"no answer from {self.server.describe()}: {exc}") from exc
        if not line:
            raise NatsError(f"{self.server.describe()} closed the connection")
        return line.rstrip(b"\r\n")

    def _await_pong(self) -> None:
        while True:
            line = self._readline()
            if line == b"PONG":
                return
            if line == b"PING":
                self._send(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                reason = line[4:].decode(errors="replace").strip()
                raise NatsError(f"{self.server.describe()} refused: {reason}")
            elif line != b"+OK" and not line.startswith(b"INFO "):
                raise NatsError(f"{self.server.describe()} sent an unexpected line")

    @property
    def server_version(self) -> str:
        return str(self.info.get("version", "unknown"))

    def publish(self, subject: str, payload: bytes) -> None:
        """Publish and wait for the server's PONG, so a refusal surfaces here."""
        limit = int(self.info.get("max_payload", 1024 * 1024))
        if len(payload) > limit:
            raise PayloadTooLargeError(
                f"{len(payload)} bytes exceed the server's max_payload {limit}"
            )
        header = f"PUB {subject} {len(payload)}\r\n".encode()
        self._send(header + payload + b"\r\nPING\r\n")
        self._await_pong()

    def close(self) -> None:
        for closer in (self._reader.close, self._sock.close):
            with contextlib.suppress(OSError):
                closer()

    def __enter__(self) -> NatsConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def check_nats(server: NatsServer) -> CheckResult:
    try:
        with NatsConnection(server, CHECK_TIMEOUT) as connection:
            version = connection.server_version
    except NatsError as exc:
        return CheckResult(False, one_line(str(exc), (server.password or "",)))
    return CheckResult(True, f"connected to {server.describe()} (nats-server {version})")


# --- Health -----------------------------------------------------------------------------------


Check = Callable[[], CheckResult]


def failing(message: str) -> Check:
    """A check that always fails, for a setting that could not be read."""
    return lambda: CheckResult(False, message)


class Health:
    """Runs a role's checks in parallel, each bounded in time, and caches the verdict briefly."""

    def __init__(self, checks: Mapping[str, Check]) -> None:
        self._checks = dict(checks)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, 2 * len(checks)))
        self._lock = threading.Lock()
        self._stamp = 0.0
        self._verdict: tuple[bool, dict[str, Any]] = (False, {})
        self._last_up: bool | None = None

    def verdict(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            if time.monotonic() - self._stamp >= CACHE_SECONDS:
                self._verdict = self._evaluate()
                self._stamp = time.monotonic()
            return self._verdict

    def _evaluate(self) -> tuple[bool, dict[str, Any]]:
        futures = {name: self._pool.submit(check) for name, check in self._checks.items()}
        deadline = time.monotonic() + CHECK_TIMEOUT + 1.0
        results: dict[str, CheckResult] = {}
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                results[name] = CheckResult(False, f"no answer within {CHECK_TIMEOUT + 1.0:.0f} s")
            except Exception as exc:  # A broken check must read as DOWN, never crash the server.
                results[name] = CheckResult(False, one_line(f"check failed: {exc!r}"))
        up = all(result.up for result in results.values())
        body: dict[str, Any] = {
            "status": "UP" if up else "DOWN",
            "components": {name: result.component() for name, result in results.items()},
        }
        if up != self._last_up:
            failed = "; ".join(f"{n}: {r.detail}" for n, r in results.items() if not r.up)
            log("health is UP" if up else f"health is DOWN ({failed})")
            self._last_up = up
        return up, body


# --- HTTP -------------------------------------------------------------------------------------


class StandinHandler(BaseHTTPRequestHandler):
    """Shared plumbing: replies with a length, HEAD support, logging to stdout."""

    server_version = "hephaestus-standin"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30
    log_every_request: ClassVar[bool] = False

    def version_string(self) -> str:
        return self.server_version

    def handle_one_request(self) -> None:
        # One connection carries many requests; only a HEAD request suppresses its body.
        self._head_only = False
        super().handle_one_request()

    def reply(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not self._head_only:
            self.wfile.write(body)

    def reply_json(self, status: int, document: Mapping[str, Any]) -> None:
        body = json.dumps(document, indent=None).encode() + b"\n"
        self.reply(status, body, "application/json")

    def not_found(self) -> None:
        # The path as received shows behind a proxy whether a prefix was stripped.
        self.reply_json(HTTPStatus.NOT_FOUND, {"error": "not found", "path": self.path})

    def do_HEAD(self) -> None:
        self._head_only = True
        self.do_GET()

    def do_GET(self) -> None:
        self.not_found()

    def do_POST(self) -> None:
        self.not_found()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.log_every_request:
            status = code.value if isinstance(code, HTTPStatus) else code
            log(f'{self.client_address[0]} "{self.command} {self.path}" {status}')

    def log_message(self, format: str, *args: Any) -> None:
        log(f"{self.client_address[0]} {format % args}")


def route(path: str) -> str:
    return urllib.parse.urlsplit(path).path


class HealthHandler(StandinHandler):
    """Answers one health path from a role's checks: 200 while every check passes, else 503."""

    health: ClassVar[Health]
    health_path: ClassVar[str]

    def do_GET(self) -> None:
        if route(self.path) != self.health_path:
            self.not_found()
            return
        up, body = self.health.verdict()
        self.reply_json(HTTPStatus.OK if up else HTTPStatus.SERVICE_UNAVAILABLE, body)


# --- Roles ------------------------------------------------------------------------------------


def application_server(env: Mapping[str, str]) -> type[StandinHandler]:
    checks: dict[str, Check] = {}

    try:
        target = postgres_from_jdbc(
            env.get("SPRING_DATASOURCE_URL", ""),
            env.get("SPRING_DATASOURCE_USERNAME", ""),
            env.get("SPRING_DATASOURCE_PASSWORD", ""),
        )
        checks["db"] = partial(check_postgres, target)
        log(f"database: {target.describe()}")
    except ConfigError as exc:
        checks["db"] = failing(str(exc))
        log(f"database: {exc}")

    base_url = env.get("KEYCLOAK_URL", "")
    secret = env.get("KEYCLOAK_CLIENT_SECRET", "")
    if not base_url:
        checks["keycloak"] = failing("KEYCLOAK_URL is not set")
    elif not secret:
        checks["keycloak"] = failing("KEYCLOAK_CLIENT_SECRET is not set")
    else:
        client = KeycloakClient(
            base_url=base_url,
            realm=env.get("KEYCLOAK_REALM") or "hephaestus",
            client_id=env.get("KEYCLOAK_CLIENT_ID") or "hephaestus-confidential",
            client_secret=secret,
        )
        checks["keycloak"] = partial(check_keycloak, client)
        log(f"keycloak: client {client.client_id} at {client.token_url}")

    if truthy(env.get("NATS_ENABLED")):
        try:
            server = parse_nats_url(env.get("NATS_SERVER", ""), "NATS_SERVER")
            checks["nats"] = partial(check_nats, server)
            log(f"nats: {server.describe()}")
        except ConfigError as exc:
            checks["nats"] = failing(str(exc))
            log(f"nats: {exc}")
    else:
        log("nats: NATS_ENABLED is not true, not checked")

    class ApplicationServerHandler(HealthHandler):
        health = Health(checks)
        health_path = "/actuator/health"

    return ApplicationServerHandler


def intelligence_service(env: Mapping[str, str]) -> type[StandinHandler]:
    try:
        target = postgres_from_url(env.get("DATABASE_URL", ""))
        check: Check = partial(check_postgres, target)
        log(f"database: {target.describe()}")
    except ConfigError as exc:
        check = failing(str(exc))
        log(f"database: {exc}")

    class IntelligenceServiceHandler(HealthHandler):
        health = Health({"db": check})
        health_path = "/health"

    return IntelligenceServiceHandler


def subject_token(event: str | None) -> str:
    """Turn an event header ("pull_request", "Push Hook") into one NATS subject token."""
    token = re.sub(r"[^a-z0-9_-]+", "_", (event or "").strip().lower()).strip("_")
    return token or "unknown"


def webhook_ingest(env: Mapping[str, str]) -> type[StandinHandler]:
    secret = env.get("WEBHOOK_SECRET", "")
    if not secret:
        log("WEBHOOK_SECRET is not set: every delivery will be refused with 503")
    server: NatsServer | None = None
    problem = ""
    try:
        server = parse_nats_url(env.get("NATS_URL", ""), "NATS_URL")
        log(f"nats: {server.describe()}")
    except ConfigError as exc:
        problem = str(exc)
        log(f"nats: {problem}")
    check = failing(problem) if server is None else partial(check_nats, server)

    class WebhookHandler(HealthHandler):
        health = Health({"nats": check})
        health_path = "/health"

        def do_POST(self) -> None:
            path = route(self.path)
            if path == "/github":
                self.deliver("github", self.github_signature_ok, self.headers.get("X-GitHub-Event"))
            elif path == "/gitlab":
                self.deliver("gitlab", self.gitlab_token_ok, self.headers.get("X-Gitlab-Event"))
            else:
                self.not_found()

        def github_signature_ok(self, body: bytes) -> bool:
            given = self.headers.get("X-Hub-Signature-256", "")
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(given.encode(), f"sha256={digest}".encode())

        def gitlab_token_ok(self, _body: bytes) -> bool:
            given = self.headers.get("X-Gitlab-Token", "")
            return hmac.compare_digest(given.encode(), secret.encode())

        def read_body(self) -> bytes | None:
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self.reply_json(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
                return None
            if int(length) > MAX_WEBHOOK_BODY:
                self.close_connection = True
                self.reply_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
                return None
            return self.rfile.read(int(length))

        def deliver(
            self, source: str, authentic: Callable[[bytes], bool], event: str | None
        ) -> None:
            body = self.read_body()
            if body is None:
                return
            subject = f"{source}.{subject_token(event)}"
            headers = self.headers
            delivery = headers.get("X-GitHub-Delivery") or headers.get("X-Gitlab-Event-UUID")
            label = f"{source} delivery {delivery or '(no id)'} for {subject}"
            if not secret:
                log(f"{label}: refused, WEBHOOK_SECRET is not set")
                self.reply_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "webhook secret not set"})
                return
            if not authentic(body):
                log(f"{label}: refused, signature or token missing or wrong")
                self.reply_json(HTTPStatus.UNAUTHORIZED, {"error": "invalid signature"})
                return
            if server is None:
                log(f"{label}: not published, {problem}")
                self.reply_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "NATS is not configured"})
                return
            try:
                with NatsConnection(server, CHECK_TIMEOUT) as connection:
                    connection.publish(subject, body)
            except PayloadTooLargeError as exc:
                log(f"{label}: not published, {exc}")
                self.reply_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": str(exc)})
                return
            except NatsError as exc:
                log(f"{label}: not published, {one_line(str(exc), (server.password or '',))}")
                self.reply_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "NATS unavailable"})
                return
            log(f"{label}: published {len(body)} bytes")
            self.reply_json(HTTPStatus.OK, {"status": "accepted", "subject": subject})

    return WebhookHandler


PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title></head>
<body>
<p><em>Hephaestus webapp stand-in (test bed): not the real webapp.</em></p>
{content}
</body>
</html>
"""

DISCLAIMER = (
    '<p class="legal-disclaimer" style="color:#b91c1c;font-weight:bold">'
    "The {page} of this deployment is not configured. The operator must set a legal profile "
    "(LEGAL_PROFILE) or mount imprint.md and privacy.md as legal overrides.</p>"
)


def read_text(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return handle.read(1024 * 1024).decode("utf-8", errors="replace")
    except OSError:
        return None


def webapp(env: Mapping[str, str]) -> type[StandinHandler]:
    profile = env.get("LEGAL_PROFILE", "").strip()
    if profile and not LEGAL_PROFILE_PATTERN.match(profile):
        log("LEGAL_PROFILE is malformed (lowercase letters, digits, - and _, at most 32): ignored")
        profile = ""
    elif profile and profile not in BUNDLED_PROFILES:
        log(f"LEGAL_PROFILE {profile!r} is not bundled with the stand-in: ignored")
        profile = ""
    log(f"legal profile: {profile or 'none'}; overrides read from {LEGAL_OVERRIDES}")

    def legal_text(page: str) -> tuple[str, str] | None:
        override = read_text(LEGAL_OVERRIDES / f"{page}.md")
        if override is not None:
            return "override", override
        if profile:
            return f"profile {profile}", BUNDLED_PROFILES[profile][page]
        return None

    class WebappHandler(StandinHandler):
        log_every_request = True

        def page(self, title: str, content: str) -> None:
            body = PAGE.format(title=html.escape(title), content=content).encode()
            self.reply(HTTPStatus.OK, body, "text/html; charset=utf-8")

        def do_GET(self) -> None:
            path = route(self.path).rstrip("/") or "/"
            name = path.lstrip("/")
            if name in LEGAL_PAGES:
                found = legal_text(name)
                if found is None:
                    self.page(name.title(), DISCLAIMER.format(page=name))
                else:
                    source, text = found
                    content = (
                        f'<article class="legal" data-source="{html.escape(source)}">'
                        f"<pre>{html.escape(text)}</pre></article>"
                    )
                    self.page(name.title(), content)
            elif path.startswith("/legal-overrides/"):
                # nginx serves the mounted directory as static files; so does the stand-in.
                file_name = path.rsplit("/", 1)[-1]
                raw = read_text(LEGAL_OVERRIDES / file_name) if file_name.endswith(".md") else None
                if raw is None:
                    self.not_found()
                else:
                    self.reply(HTTPStatus.OK, raw.encode(), "text/markdown; charset=utf-8")
            elif "." in path.rsplit("/", 1)[-1] and path != "/index.html":
                self.not_found()
            else:
                # Single-page app: every route without a file extension gets the index.
                self.page("Hephaestus", '<h1>Hephaestus</h1><div id="root"></div>')

    return WebappHandler


HANDLERS: dict[str, Callable[[Mapping[str, str]], type[StandinHandler]]] = {
    "application-server": application_server,
    "intelligence-service": intelligence_service,
    "webhook-ingest": webhook_ingest,
    "webapp": webapp,
}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> int:
    if ROLE not in ROLES:
        print(
            f"HEPHAESTUS_STANDIN_ROLE must be one of {', '.join(ROLES)}, not {ROLE!r}",
            file=sys.stderr,
        )
        return 2

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log(f"received {signal.Signals(signum).name}, stopping")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log(f"starting: a stand-in for Hephaestus {ROLE}, not the real service")
    server: Server | None = None
    if ROLE in HANDLERS:
        handler = HANDLERS[ROLE](os.environ)
        server = Server(("0.0.0.0", PORTS[ROLE]), handler)
        serve = partial(server.serve_forever, poll_interval=0.2)
        threading.Thread(target=serve, daemon=True).start()
        log(f"listening on port {PORTS[ROLE]}")
    else:
        log("no port and no network: waiting for SIGTERM")

    while not stop.wait(0.5):
        pass
    if server is not None:
        server.shutdown()
        server.server_close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
