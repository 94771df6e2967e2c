"""Behaviour of the component images: postgres, nats, nginx and keycloak under images/.

Each test checks an image at the interface the stack uses, the way the official image it
replaces would be used. Nothing is built here: scripts/build-images writes the archives, and a
test whose archive is missing is skipped with the command that makes it. An image that has an
archive but is not in the engine is loaded from it.

Every container runs on a throwaway network and publishes no port. Clients are either the
image's own tools (`docker exec ... psql`) or a probe container on the same network: an nginx
container whose wget plays HTTP client.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CACHE = Path(os.environ.get("HEPHAESTUS_IMAGE_CACHE", "/var/cache/hephaestus-testbed"))
POSTGRES = "hephaestus-testbed/postgres:17"
NATS = "hephaestus-testbed/nats:2.10"
NGINX = "hephaestus-testbed/nginx:stable"
KEYCLOAK = "hephaestus-testbed/keycloak:26.5.6"
LABEL = "hephaestus-component-test=1"

# How long Keycloak may take from `docker run` to ready. A cold start on two busy cores,
# schema creation included, has taken more than two minutes.
KEYCLOAK_READY_SECONDS = 600


def docker(
    *args: str, check: bool = True, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} failed: {result.stderr.strip()}")
    return result


def archived_tags() -> dict[str, list[str]]:
    """archives/index as {archive file name: [tags]}."""
    index = CACHE / "archives" / "index"
    if not index.is_file():
        return {}
    tags: dict[str, list[str]] = {}
    for line in index.read_text().splitlines():
        archive, *refs = line.split()
        tags[archive] = refs
    return tags


def need(image_dir: str, ref: str) -> str:
    """Skip unless the archive of images/<image_dir> holds ref; load it when the engine lacks it."""
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.skip("no usable Docker engine (docker info fails)")
    archive = CACHE / "archives" / f"{image_dir}.tar"
    if not archive.is_file() or ref not in archived_tags().get(archive.name, []):
        pytest.skip(f"{archive} with {ref} is not built: run scripts/build-images {image_dir}")
    if docker("image", "inspect", ref, check=False).returncode != 0:
        docker("load", "-i", str(archive), timeout=600)
    return ref


def eventually(probe: Callable[[], Any], accept: Callable[[Any], bool], seconds: float) -> Any:
    """Call probe until accept() takes its result or time runs out; return the last result."""
    deadline = time.monotonic() + seconds
    while True:
        result = probe()
        if accept(result) or time.monotonic() > deadline:
            return result
        time.sleep(1)


@dataclass
class Response:
    status: int | None
    body: str


@dataclass
class Bed:
    """A throwaway network with the containers and volumes a test created on it."""

    network: str
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    probe: str = ""

    def run(
        self,
        image: str,
        alias: str,
        *args: str,
        env: dict[str, str] | None = None,
        options: tuple[str, ...] = (),
    ) -> str:
        name = f"{self.network}-{alias}"
        command = ["run", "-d", "--name", name, "--network", self.network]
        command += ["--network-alias", alias, "--label", LABEL]
        for key, value in (env or {}).items():
            command += ["--env", f"{key}={value}"]
        docker(*command, *options, image, *args)
        self.containers.append(name)
        return name

    def volume(self, alias: str) -> str:
        name = f"{self.network}-{alias}"
        docker("volume", "create", "--label", LABEL, name)
        self.volumes.append(name)
        return name

    def http(
        self, url: str, post: str | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        """One request with the probe's wget; status None when no HTTP answer came."""
        if not self.probe:
            self.probe = self.run(need("nginx", NGINX), "probe")
        command = ["exec", self.probe, "wget", "-q", "-S", "-O", "-", "--content-on-error"]
        command += ["--timeout=10", "--tries=1"]
        for key, value in (headers or {}).items():
            command.append(f"--header={key}: {value}")
        if post is not None:
            command.append(f"--post-data={post}")
        result = docker(*command, url, check=False, timeout=60)
        statuses = [
            line.split()[1]
            for line in result.stderr.splitlines()
            if line.strip().startswith("HTTP/")
        ]
        return Response(int(statuses[-1]) if statuses else None, result.stdout)

    def remove(self) -> None:
        if self.containers:
            docker("rm", "-f", "-v", *self.containers, check=False)
        if self.volumes:
            docker("volume", "rm", *self.volumes, check=False)
        docker("network", "rm", self.network, check=False)


def new_bed() -> Bed:
    network = f"hbt-{uuid.uuid4().hex[:10]}"
    docker("network", "create", "--label", LABEL, network)
    return Bed(network)


@pytest.fixture
def bed() -> Iterator[Bed]:
    test_bed = new_bed()
    try:
        yield test_bed
    finally:
        test_bed.remove()


# --- postgres ----------------------------------------------------------------------------------

PG_ENV = {"POSTGRES_USER": "hephaestus", "POSTGRES_PASSWORD": "pg-first-9d1c", "POSTGRES_DB": "app"}


def psql_over_network(
    bed: Bed, host: str, password: str, sql: str, user: str = "hephaestus", db: str = "app"
) -> subprocess.CompletedProcess[str]:
    """psql from a second postgres container, so the login goes over TCP like an app's."""
    return docker(
        "run", "--rm", "--network", bed.network, "--env", f"PGPASSWORD={password}",
        "--entrypoint", "psql", POSTGRES,
        "-h", host, "-U", user, "-d", db, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql,
        check=False,
    )  # fmt: skip


def wait_for_postgres(name: str) -> None:
    # pg_isready over TCP: during initialisation the entrypoint's temporary server listens
    # on the socket only, so a socket check could pass before the real server is up.
    ready = eventually(
        lambda: docker("exec", name, "pg_isready", "-h", "127.0.0.1", check=False),
        lambda result: result.returncode == 0,
        60,
    )
    assert ready.returncode == 0, docker("logs", name, check=False).stderr[-2000:]


def start_postgres(bed: Bed, volume: str, env: dict[str, str]) -> str:
    name = bed.run(
        need("postgres", POSTGRES),
        "db",
        env=env,
        options=("--volume", f"{volume}:/var/lib/postgresql/data"),
    )
    wait_for_postgres(name)
    return name


def test_postgres_initialises_from_the_environment(bed: Bed) -> None:
    name = start_postgres(bed, bed.volume("pgdata"), PG_ENV)

    who = "SELECT current_user, current_database(), rolsuper FROM pg_roles"
    result = psql_over_network(
        bed, "db", PG_ENV["POSTGRES_PASSWORD"], f"{who} WHERE rolname = current_user"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hephaestus|app|t"

    refused = psql_over_network(bed, "db", "not-the-password", "SELECT 1")
    assert refused.returncode != 0
    assert 'password authentication failed for user "hephaestus"' in refused.stderr

    method = docker("exec", name, "psql", "-U", "hephaestus", "-d", "app", "-At", "-c",
                    "SHOW password_encryption").stdout.strip()  # fmt: skip
    assert method == "scram-sha-256"

    owners = docker("exec", name, "find", "/var/lib/postgresql/data", "-not", "-user", "999",
                    "-o", "-not", "-group", "999").stdout  # fmt: skip
    assert owners == ""
    processes = docker("exec", name, "sh", "-c", "stat -c %u:%g /proc/1 && cat /proc/1/comm")
    assert processes.stdout.split() == ["999:999", "postgres"]


def test_postgres_keeps_the_first_password_on_an_existing_cluster(bed: Bed) -> None:
    volume = bed.volume("pgdata")
    first = start_postgres(bed, volume, PG_ENV)
    docker("stop", first)
    assert "database system is shut down" in docker("logs", first).stderr
    assert docker("inspect", "-f", "{{.State.ExitCode}}", first).stdout.strip() == "0"
    docker("rm", first)
    bed.containers.remove(first)

    second_env = {**PG_ENV, "POSTGRES_PASSWORD": "pg-second-77aa", "POSTGRES_DB": "other"}
    second = start_postgres(bed, volume, second_env)
    assert "database cluster ready" not in docker("logs", second).stderr

    assert psql_over_network(bed, "db", "pg-first-9d1c", "SELECT 1").returncode == 0
    changed = psql_over_network(bed, "db", "pg-second-77aa", "SELECT 1")
    assert "password authentication failed" in changed.stderr
    missing = psql_over_network(bed, "db", "pg-first-9d1c", "SELECT 1", db="other")
    assert 'database "other" does not exist' in missing.stderr


def test_postgres_refuses_to_initialise_without_a_password(bed: Bed) -> None:
    name = bed.run(need("postgres", POSTGRES), "db", env={"POSTGRES_USER": "x"})
    state = eventually(
        lambda: docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name),
        lambda result: result.stdout.startswith("exited"),
        30,
    )
    assert state.stdout.split() == ["exited", "1"]
    assert "POSTGRES_PASSWORD is empty" in docker("logs", name).stderr


# --- nats --------------------------------------------------------------------------------------


def monitor(name: str, path: str) -> dict[str, Any]:
    url = f"http://localhost:8222{path}"
    result = eventually(
        lambda: docker("exec", name, "wget", "-q", "-O", "-", url, check=False),
        lambda r: r.returncode == 0,
        20,
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--js", "--sd", "/data", "-m", "8222"),
        ("nats-server", "-js", "-sd", "/data", "-m", "8222"),
    ],
    ids=["default-command", "official-style-flags", "explicit-binary"],
)
def test_nats_serves_jetstream_and_monitoring(bed: Bed, args: tuple[str, ...]) -> None:
    name = bed.run(need("nats", NATS), "nats", *args)

    assert monitor(name, "/healthz") == {"status": "ok"}
    jsz = monitor(name, "/jsz")
    assert not jsz.get("disabled", False)
    assert jsz["config"]["store_dir"] == "/data/jetstream"

    # The monitor answers on the network too, as the compose health check and NATS clients see.
    response = bed.http("http://nats:8222/healthz")
    assert response.status == 200


def test_nats_without_jetstream_reports_it_disabled(bed: Bed) -> None:
    # The control for the check above: /jsz does tell the two apart.
    name = bed.run(need("nats", NATS), "nats", "-m", "8222")
    assert monitor(name, "/jsz")["disabled"] is True


# --- nginx -------------------------------------------------------------------------------------


def test_nginx_serves_a_mounted_page(bed: Bed, tmp_path: Path) -> None:
    page = tmp_path / "html"
    page.mkdir()
    (page / "index.html").write_text("<h1>Maintenance 5821</h1>\n")
    for path in (tmp_path, page, page / "index.html"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    mount = f"{page}:/usr/share/nginx/html:ro"
    name = bed.run(need("nginx", NGINX), "maintenance", options=("--volume", mount))

    response = eventually(lambda: bed.http("http://maintenance/"), lambda r: r.status == 200, 20)
    assert (response.status, response.body) == (200, "<h1>Maintenance 5821</h1>\n")
    assert bed.http("http://maintenance/no-such-page").status == 404
    # The access log goes to the container's stdout, as in the official image.
    assert '"GET /no-such-page HTTP/1.1" 404' in docker("logs", name).stdout


def test_nginx_honours_conf_d(bed: Bed, tmp_path: Path) -> None:
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "default.conf").write_text(
        "server {\n  listen 80;\n  location / { return 418 'conf.d was read'; }\n}\n"
    )
    for path in (tmp_path, conf, conf / "default.conf"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    bed.run(need("nginx", NGINX), "web", options=("--volume", f"{conf}:/etc/nginx/conf.d:ro"))

    response = eventually(lambda: bed.http("http://web/"), lambda r: r.status is not None, 20)
    assert (response.status, response.body) == (418, "conf.d was read")


# --- keycloak ----------------------------------------------------------------------------------

KC_ADMIN = ("bootstrap-admin", "kc-admin-4f2e9a")
KC_REALM = "testbed-probe"


@dataclass
class KeycloakBed:
    bed: Bed
    name: str
    seconds_to_ready: float


def keycloak_ready(name: str) -> bool:
    # The stack's health check: bash's /dev/tcp, since the image, like upstream's, has no curl.
    script = (
        "exec 3<>/dev/tcp/localhost/9000 && "
        "printf 'GET /keycloak/health/ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && "
        "cat <&3"
    )
    result = docker("exec", name, "bash", "-c", script, check=False)
    return result.returncode == 0 and '"status": "UP"' in result.stdout.replace('":"', '": "')


@pytest.fixture(scope="module")
def keycloak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeycloakBed]:
    image = need("keycloak", KEYCLOAK)
    need("postgres", POSTGRES)
    # Keycloak imports <realm>-realm.json files only; another name fails the start.
    imports = tmp_path_factory.mktemp("import")
    (imports / f"{KC_REALM}-realm.json").write_text(
        json.dumps({"realm": KC_REALM, "enabled": True, "displayName": "Test bed probe"})
    )
    imports.chmod(0o755)
    (imports / f"{KC_REALM}-realm.json").chmod(0o644)

    test_bed = new_bed()
    try:
        db_env = {"POSTGRES_USER": "keycloak", "POSTGRES_PASSWORD": "kc-db-31b7",
                  "POSTGRES_DB": "keycloak"}  # fmt: skip
        wait_for_postgres(test_bed.run(POSTGRES, "keycloak-postgres", env=db_env))
        env = {
            "KC_DB": "postgres",
            "KC_DB_URL": "jdbc:postgresql://keycloak-postgres:5432/keycloak",
            "KC_DB_USERNAME": "keycloak",
            "KC_DB_PASSWORD": "kc-db-31b7",
            "KC_BOOTSTRAP_ADMIN_USERNAME": KC_ADMIN[0],
            "KC_BOOTSTRAP_ADMIN_PASSWORD": KC_ADMIN[1],
            "KC_HTTP_ENABLED": "true",
            "KC_HOSTNAME_STRICT": "false",
            "KC_HEALTH_ENABLED": "true",
            "KC_HTTP_RELATIVE_PATH": "/keycloak",
        }
        started = time.monotonic()
        name = test_bed.run(
            image, "keycloak", "start", "--import-realm", env=env,
            options=("--volume", f"{imports}:/opt/keycloak/data/import:ro"),
        )  # fmt: skip
        ready = eventually(lambda: keycloak_ready(name), bool, KEYCLOAK_READY_SECONDS)
        logs = docker("logs", name, check=False)
        assert ready, (logs.stdout + logs.stderr)[-3000:]
        yield KeycloakBed(test_bed, name, time.monotonic() - started)
    finally:
        test_bed.remove()


def admin_token(kc: KeycloakBed, password: str) -> Response:
    form = f"grant_type=password&client_id=admin-cli&username={KC_ADMIN[0]}&password={password}"
    url = "http://keycloak:8080/keycloak/realms/master/protocol/openid-connect/token"
    return kc.bed.http(url, post=form)


def test_keycloak_gets_ready_with_the_prebuilt_options(
    keycloak: KeycloakBed, record_property: Callable[[str, object], None]
) -> None:
    record_property("keycloak_seconds_to_ready", round(keycloak.seconds_to_ready))
    print(f"keycloak ready after {keycloak.seconds_to_ready:.0f} s")
    logs = docker("logs", keycloak.name)
    # The image's `kc.sh build` matched the stack's options, so start did not rebuild.
    assert "Updating the server image" not in logs.stdout + logs.stderr
    assert docker("exec", keycloak.name, "id", "-u").stdout.strip() == "1000"
    assert docker("exec", keycloak.name, "id", "-g").stdout.strip() == "0"


def test_keycloak_grants_the_bootstrap_admin_a_token(keycloak: KeycloakBed) -> None:
    granted = admin_token(keycloak, KC_ADMIN[1])
    assert granted.status == 200, granted
    assert json.loads(granted.body)["token_type"].lower() == "bearer"

    refused = admin_token(keycloak, "not-the-admin-password")
    assert refused.status == 401, refused


def test_keycloak_imported_the_realm(keycloak: KeycloakBed) -> None:
    token = json.loads(admin_token(keycloak, KC_ADMIN[1]).body)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    base = "http://keycloak:8080/keycloak/admin/realms"

    realm = keycloak.bed.http(f"{base}/{KC_REALM}", headers=headers)
    assert realm.status == 200, realm
    assert json.loads(realm.body)["displayName"] == "Test bed probe"
    # The control: a realm nobody imported is not found through the same call.
    assert keycloak.bed.http(f"{base}/never-imported", headers=headers).status == 404
