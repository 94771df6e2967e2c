"""Fixtures of the keycloak scenario: the phase's values, Keycloak's admin API, a browser login.

Everything is reached the way the role reaches it: the Keycloak container's address on the
scenario's network, ports 8080 (under /keycloak) and 9000. Browser requests carry the
X-Forwarded-* headers the proxy would add, since Keycloak runs with KC_HOSTNAME=https://
APP_HOSTNAME/keycloak as in production.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
import yaml
from github_stub import GitHubStub

SCENARIO = Path(__file__).resolve().parent.parent
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
REALM = "hephaestus"
TIMEOUT = 30


def load_vars(phase: str | None = None) -> dict[str, Any]:
    """The inventory values of a phase (default: the current one), as converge.yml loads them."""
    if phase is None:
        phase_file = EPHEMERAL / "phase"
        phase = phase_file.read_text().strip() if phase_file.exists() else "initial"
    values = yaml.safe_load((SCENARIO / "vars" / "common.yml").read_text())
    values.update(yaml.safe_load((SCENARIO / "vars" / f"phase-{phase}.yml").read_text()))
    return values


def initial_values() -> dict[str, Any]:
    return load_vars("initial")


def all_phase_secrets() -> set[str]:
    """Every secret any phase hands to Keycloak."""
    keys = ("password", "secret")
    secrets = set()
    for path in (SCENARIO / "vars").glob("*.yml"):
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            if isinstance(value, str) and any(k in key for k in keys):
                secrets.add(value)
    return secrets


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "phases(*names): run only in these phases of the scenario")


@pytest.fixture(scope="session")
def values() -> dict[str, Any]:
    return load_vars()


@pytest.fixture(autouse=True)
def _only_in_phases(request: pytest.FixtureRequest, values: dict[str, Any]) -> None:
    marker = request.node.get_closest_marker("phases")
    phase = values["molecule_keycloak_phase"]
    if marker is not None and phase not in marker.args:
        pytest.skip(f"not checked in phase {phase}")


@pytest.fixture(scope="session")
def phase(values: dict[str, Any]) -> str:
    return values["molecule_keycloak_phase"]


@pytest.fixture(scope="session")
def network(values: dict[str, Any]) -> dict[str, str]:
    """Keycloak's address and the network's gateway (where the tests' stubs listen)."""
    client = docker.from_env()
    name = values["hephaestus_keycloak_network"]
    container = client.containers.get(values["hephaestus_keycloak_container_name"])
    net = client.networks.get(name)
    return {
        "keycloak": container.attrs["NetworkSettings"]["Networks"][name]["IPAddress"],
        "gateway": net.attrs["IPAM"]["Config"][0]["Gateway"],
    }


def decode_jwt(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class Keycloak:
    """Keycloak's HTTP interface at the container's address."""

    base: str
    public_base: str
    admin_user: str
    admin_password: str
    _token: str = field(default="", repr=False)

    def admin_token(self) -> str:
        if not self._token:
            response = requests.post(
                f"{self.base}/realms/master/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": "admin-cli",
                    "username": self.admin_user,
                    "password": self.admin_password,
                },
                timeout=TIMEOUT,
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the admin API of the hephaestus realm; path starts with '/' or is empty."""
        headers = {"Authorization": f"Bearer {self.admin_token()}"}
        response = requests.request(
            method,
            f"{self.base}/admin/realms/{REALM}{path}",
            headers=headers,
            timeout=TIMEOUT,
            **kwargs,
        )
        response.raise_for_status()
        return response

    def get(self, path: str) -> Any:
        return self.admin("GET", path).json()

    def client(self, client_id: str) -> dict[str, Any]:
        matches = self.get(f"/clients?clientId={urllib.parse.quote(client_id)}")
        assert len(matches) == 1, f"client {client_id} not found"
        return matches[0]

    def provider(self, alias: str) -> dict[str, Any] | None:
        response = requests.get(
            f"{self.base}/admin/realms/{REALM}/identity-provider/instances/{alias}",
            headers={"Authorization": f"Bearer {self.admin_token()}"},
            timeout=TIMEOUT,
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def mappers(self, alias: str) -> dict[str, dict[str, Any]]:
        mappers = self.get(f"/identity-provider/instances/{alias}/mappers")
        return {m["name"]: m for m in mappers}

    def client_credentials(self, client_id: str, secret: str) -> requests.Response:
        # In the form body: HTTP Basic would need the secret form-encoded first ("+").
        return requests.post(
            f"{self.base}/realms/{REALM}/protocol/openid-connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
            timeout=TIMEOUT,
        )


@pytest.fixture(scope="session")
def keycloak(values: dict[str, Any], network: dict[str, str]) -> Keycloak:
    return Keycloak(
        base=f"http://{network['keycloak']}:8080/keycloak",
        public_base=f"https://{values['hephaestus_app_hostname']}/keycloak",
        admin_user=values["hephaestus_kc_bootstrap_admin_username"],
        admin_password=values["hephaestus_kc_bootstrap_admin_password"],
    )


class Browser:
    """A browser behind the proxy: forwarded headers, public URLs mapped to the container.

    Keycloak marks its cookies Secure (the forwarded scheme is https) while the requests go
    over plain HTTP to the container, so the browser keeps its own cookie jar.
    """

    def __init__(self, keycloak: Keycloak, hostname: str) -> None:
        self.keycloak = keycloak
        self.hostname = hostname
        self.cookies: dict[str, str] = {}

    def get(self, url: str, **params: str) -> requests.Response:
        if url.startswith(self.keycloak.public_base):
            url = self.keycloak.base + url[len(self.keycloak.public_base) :]
        response = requests.get(
            url,
            params=params or None,
            cookies=self.cookies,
            allow_redirects=False,
            headers={
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": self.hostname,
                "X-Forwarded-Port": "443",
            },
            timeout=TIMEOUT,
        )
        self.cookies.update(response.cookies.get_dict())
        return response


@dataclass
class LoginResult:
    first_response: requests.Response
    github_authorize_url: str
    claims: dict[str, Any] | None
    final_response: requests.Response


@pytest.fixture(scope="session")
def github(
    keycloak: Keycloak, network: dict[str, str], values: dict[str, Any]
) -> Iterator[GitHubStub]:
    """A GitHub stand-in that Keycloak's github provider talks to for this session.

    The provider's baseUrl and apiUrl are pointed at it (the role leaves config keys it does
    not manage alone, so later converges keep them); the client secret stays as Keycloak has it.
    """
    stub = GitHubStub(
        network["gateway"],
        values["hephaestus_keycloak_github_client_id"],
        values["hephaestus_keycloak_github_client_secret"],
    )
    provider = keycloak.provider("github")
    assert provider is not None
    provider["config"].update(baseUrl=stub.url, apiUrl=stub.url)
    keycloak.admin("PUT", "/identity-provider/instances/github", json=provider)
    yield stub
    stub.close()


@pytest.fixture(scope="session")
def login(keycloak: Keycloak, github: GitHubStub, values: dict[str, Any]):
    """Log a GitHub user in to the hephaestus client through the browser flow."""
    hostname = values["hephaestus_app_hostname"]
    redirect_uri = f"https://{hostname}/callback"

    def run(github_login: str, github_id: int) -> LoginResult:
        code = f"code-{github_id}"
        github.add_user(
            code,
            {
                "id": github_id,
                "login": github_login,
                "name": None,
                "email": f"{github_login.lower()}@users.example.test",
            },
        )
        browser = Browser(keycloak, hostname)
        first = response = browser.get(
            f"{keycloak.public_base}/realms/{REALM}/protocol/openid-connect/auth",
            client_id="hephaestus",
            redirect_uri=redirect_uri,
            response_type="code",
            scope="openid",
            state="molecule",
            nonce="molecule",
        )
        # Keycloak's own redirects until the browser is sent to GitHub.
        for _attempt in range(5):
            location = response.headers.get("Location", "")
            if response.status_code not in (302, 303) or location.startswith(github.url):
                break
            response = browser.get(location)
        authorize = response.headers.get("Location", "")
        assert authorize.startswith(github.url + "/login/oauth/authorize"), (
            f"the browser flow did not go straight to GitHub: {first.status_code} "
            f"{first.headers.get('Location')} / {response.status_code} {authorize}"
        )
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize).query))
        # GitHub sends the user back to the broker endpoint with a code.
        response = browser.get(query["redirect_uri"], code=code, state=query["state"])
        for _attempt in range(10):
            location = response.headers.get("Location", "")
            if response.status_code not in (302, 303) or location.startswith(redirect_uri):
                break
            response = browser.get(location)
        location = response.headers.get("Location", "")
        if not location.startswith(redirect_uri):
            return LoginResult(first, authorize, None, response)
        app_code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]
        tokens = requests.post(
            f"{keycloak.base}/realms/{REALM}/protocol/openid-connect/token",
            data={
                "grant_type": "authorization_code",
                "client_id": "hephaestus",
                "code": app_code,
                "redirect_uri": redirect_uri,
            },
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": hostname},
            timeout=TIMEOUT,
        )
        tokens.raise_for_status()
        return LoginResult(first, authorize, decode_jwt(tokens.json()["access_token"]), response)

    return run
