"""The real components run healthy on the bare host, inside the Docker engine the role installed.

Each check goes through the component's own interface from the host: a SQL query, Keycloak's
readiness endpoint and an admin token, NATS's JetStream report.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

# Python run on the host: an HTTP request to a container address on the inner bridge.
HTTP_SNIPPET = """
import json, sys, urllib.parse, urllib.request
url, form = sys.argv[1], sys.argv[2]
data = urllib.parse.urlencode(json.loads(form)).encode() if form != "-" else None
try:
    with urllib.request.urlopen(url, data=data, timeout=10) as response:
        print(json.dumps({"status": response.status, "body": response.read().decode()}))
except urllib.error.HTTPError as error:
    print(json.dumps({"status": error.code, "body": error.read().decode()}))
"""


def container_ip(host: Any, name: str) -> str:
    address = host.check_output(
        "docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' %s", name
    )
    assert address, f"{name} has no address"
    return str(address)


def http(host: Any, url: str, form: dict[str, str] | None = None) -> dict[str, Any]:
    output = host.check_output(
        "python3 -c %s %s %s",
        HTTP_SNIPPET,
        url,
        json.dumps(form) if form is not None else "-",
    )
    return dict(json.loads(output))


def test_docker_engine_came_from_the_role(host: Any) -> None:
    assert host.package("docker.io").is_installed
    assert host.service("docker").is_running
    assert host.service("docker").is_enabled
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["log-driver"] == "json-file"


@pytest.mark.parametrize("service", ["postgres", "keycloak", "nats"])
def test_component_is_healthy(host: Any, service: str) -> None:
    status = host.check_output("docker inspect -f '{{.State.Health.Status}}' testbed-%s-1", service)
    assert status == "healthy"


def test_postgres_accepts_a_query(host: Any) -> None:
    result = host.run(
        "docker exec testbed-postgres-1 psql -U testbed -d keycloak -tAc "
        "'select count(*) from information_schema.tables'"
    )
    assert result.rc == 0, result.stderr
    assert int(result.stdout.strip()) > 0


def test_keycloak_is_ready_and_grants_an_admin_token(host: Any) -> None:
    address = container_ip(host, "testbed-keycloak-1")

    ready = http(host, f"http://{address}:9000/keycloak/health/ready")
    token = http(
        host,
        f"http://{address}:8080/keycloak/realms/master/protocol/openid-connect/token",
        {
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": "testbed-admin",
            "password": "testbed-admin-password",
        },
    )
    refused = http(
        host,
        f"http://{address}:8080/keycloak/realms/master/protocol/openid-connect/token",
        {
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": "testbed-admin",
            "password": "not-the-password",
        },
    )

    assert ready["status"] == 200
    assert json.loads(ready["body"])["status"] == "UP"
    assert token["status"] == 200
    assert json.loads(token["body"])["access_token"]
    assert refused["status"] == 401


def test_nats_reports_jetstream_enabled(host: Any) -> None:
    address = container_ip(host, "testbed-nats-1")

    health = http(host, f"http://{address}:8222/healthz")
    jsz = http(host, f"http://{address}:8222/jsz")

    assert health["status"] == 200
    report = json.loads(jsz["body"])
    assert not report.get("disabled", False)
    assert report["config"]["store_dir"].startswith("/data")
