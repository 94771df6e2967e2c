"""State of a host after the default scenario: files, containers, ports, data and routes.

The expectations come from molecule/shared/group_vars/hephaestus/stack.yml (the inventory),
read through Ansible, and from the env files on the host. A value is followed from the
inventory into the project's .env, and from .env into the container that reads it.
"""

from __future__ import annotations

import json
import os
import re
import shlex

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("hephaestus")

BASE = "/opt/hephaestus"
PROJECTS = ("proxy", "core", "app")
HOSTNAME = "hephaestus.test"

# Container -> {variable in the container: name in its project's .env, or "=" and a fixed value
# in which {NAME} stands for that .env value}.
READS: dict[str, dict[str, str]] = {
    "proxy-reverse-proxy-1": {"APP_HOSTNAME": "APP_HOSTNAME", "TZ": "TIMEZONE"},
    "proxy-maintenance-1": {"TZ": "TIMEZONE"},
    "core-webhook-ingest-1": {
        "NATS_URL": "=nats://nats-server:4222",
        "WEBHOOK_SECRET": "WEBHOOK_SECRET",
        "TZ": "TIMEZONE",
    },
    "core-nats-server-1": {"TZ": "TIMEZONE"},
    "core-keycloak-1": {
        "APP_HOSTNAME": "APP_HOSTNAME",
        "KEYCLOAK_GITHUB_CLIENT_ID": "KEYCLOAK_GITHUB_CLIENT_ID",
        "KEYCLOAK_GITHUB_CLIENT_SECRET": "KEYCLOAK_GITHUB_CLIENT_SECRET",
        "KEYCLOAK_GITHUB_ADMIN_USERNAME": "KEYCLOAK_GITHUB_ADMIN_USERNAME",
        "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET": (
            "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET"
        ),
        "KEYCLOAK_GITLAB_ENABLED": "KEYCLOAK_GITLAB_ENABLED",
        "KEYCLOAK_GITLAB_CLIENT_ID": "KEYCLOAK_GITLAB_CLIENT_ID",
        "KEYCLOAK_GITLAB_CLIENT_SECRET": "KEYCLOAK_GITLAB_CLIENT_SECRET",
        "KEYCLOAK_GITLAB_BASE_URL": "KEYCLOAK_GITLAB_BASE_URL",
        "KEYCLOAK_GITLAB_ADMIN_USERNAME": "KEYCLOAK_GITLAB_ADMIN_USERNAME",
        "KC_BOOTSTRAP_ADMIN_USERNAME": "KC_BOOTSTRAP_ADMIN_USERNAME",
        "KC_BOOTSTRAP_ADMIN_PASSWORD": "KC_BOOTSTRAP_ADMIN_PASSWORD",
        "KC_DB": "=postgres",
        "KC_DB_URL": "=jdbc:postgresql://keycloak-postgres:5432/keycloak",
        "KC_DB_USERNAME": "KEYCLOAK_POSTGRES_USER",
        "KC_DB_PASSWORD": "KEYCLOAK_POSTGRES_PASSWORD",
        "KC_HTTP_ENABLED": "=true",
        "KC_HTTP_RELATIVE_PATH": "=/keycloak",
        "KC_HEALTH_ENABLED": "=true",
        "KC_PROXY_HEADERS": "=xforwarded",
        "KC_HOSTNAME": f"=https://{HOSTNAME}/keycloak",
        "KC_HOSTNAME_BACKCHANNEL_DYNAMIC": "=true",
        "TZ": "TIMEZONE",
    },
    "core-keycloak-postgres-1": {
        "POSTGRES_DB": "=keycloak",
        "POSTGRES_USER": "KEYCLOAK_POSTGRES_USER",
        "POSTGRES_PASSWORD": "KEYCLOAK_POSTGRES_PASSWORD",
        "TZ": "TIMEZONE",
    },
    "app-application-server-1": {
        "SPRING_PROFILES_ACTIVE": "=prod",
        "APP_VERSION": "IMAGE_TAG",
        "APPLICATION_HOST_URL": f"=https://{HOSTNAME}",
        "TZ": "TIMEZONE",
        "TIMEZONE": "TIMEZONE",
        "SPRING_DATASOURCE_URL": "=jdbc:postgresql://postgres:5432/hephaestus",
        "SPRING_DATASOURCE_USERNAME": "POSTGRES_USER",
        "SPRING_DATASOURCE_PASSWORD": "POSTGRES_PASSWORD",
        "KEYCLOAK_URL": "=http://keycloak:8080/keycloak",
        "KEYCLOAK_REALM": "=hephaestus",
        "KEYCLOAK_CLIENT_ID": "=hephaestus-confidential",
        "KEYCLOAK_CLIENT_SECRET": "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET",
        "KEYCLOAK_GITLAB_BASE_URL": "KEYCLOAK_GITLAB_BASE_URL",
        "INTELLIGENCE_SERVICE_URL": "=http://intelligence-service:8000",
        "WEBHOOK_SECRET": "WEBHOOK_SECRET",
        "WEBHOOK_EXTERNAL_URL": "WEBHOOK_EXTERNAL_URL",
        "GH_APP_ID": "GH_APP_ID",
        "GH_APP_PRIVATE_KEY": "GH_APP_PRIVATE_KEY",
        "GH_APP_PRIVATE_KEY_LOCATION": "GH_APP_PRIVATE_KEY_LOCATION",
        "GH_APP_INSTALLATION_URL": "GH_APP_INSTALLATION_URL",
        "GH_AUTH_TOKEN": "GH_AUTH_TOKEN",
        "SLACK_BOT_TOKEN": "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET": "SLACK_SIGNING_SECRET",
        "LEADERBOARD_NOTIFICATION_ENABLED": "LEADERBOARD_NOTIFICATION_ENABLED",
        "LEADERBOARD_NOTIFICATION_TEAM": "LEADERBOARD_NOTIFICATION_TEAM",
        "LEADERBOARD_NOTIFICATION_CHANNEL_ID": "LEADERBOARD_NOTIFICATION_CHANNEL_ID",
        "LEADERBOARD_SCHEDULE_DAY": "LEADERBOARD_SCHEDULE_DAY",
        "LEADERBOARD_SCHEDULE_TIME": "LEADERBOARD_SCHEDULE_TIME",
        "NATS_ENABLED": "NATS_ENABLED",
        "NATS_SERVER": "=nats://nats-server:4222",
        "NATS_DURABLE_CONSUMER_NAME": "NATS_DURABLE_CONSUMER_NAME",
        "MONITORING_RUN_ON_STARTUP": "MONITORING_RUN_ON_STARTUP",
        "MONITORING_TIMEFRAME": "MONITORING_TIMEFRAME",
        "MONITORING_SYNC_CRON": "MONITORING_SYNC_CRON",
        "MONITORING_SYNC_COOLDOWN_IN_MINUTES": "MONITORING_SYNC_COOLDOWN_IN_MINUTES",
        "MONITORING_BACKFILL_ENABLED": "MONITORING_BACKFILL_ENABLED",
        "MONITORING_BACKFILL_BATCH_SIZE": "MONITORING_BACKFILL_BATCH_SIZE",
        "MONITORING_BACKFILL_RATE_LIMIT_THRESHOLD": "MONITORING_BACKFILL_RATE_LIMIT_THRESHOLD",
        "MONITORING_BACKFILL_INTERVAL_SECONDS": "MONITORING_BACKFILL_INTERVAL_SECONDS",
        "GITLAB_ENABLED": "GITLAB_ENABLED",
        "HEPHAESTUS_FEATURES_FLAGS_GITLAB_WORKSPACE_CREATION": "GITLAB_WORKSPACE_CREATION",
        "SANDBOX_ENABLED": "SANDBOX_ENABLED",
        "AGENT_NATS_ENABLED": "AGENT_NATS_ENABLED",
        "GIT_CHECKOUT_ENABLED": "GIT_CHECKOUT_ENABLED",
        "GIT_STORAGE_PATH": "=/data/git-repos",
        "SANDBOX_DOCKER_HOST": "SANDBOX_DOCKER_HOST",
        "SANDBOX_MAX_CONCURRENT": "SANDBOX_MAX_CONCURRENT",
        "SANDBOX_MEMORY_BYTES": "SANDBOX_MEMORY_BYTES",
        "SANDBOX_CPUS": "SANDBOX_CPUS",
        "SANDBOX_CONTAINER_RUNTIME": "SANDBOX_CONTAINER_RUNTIME",
        "PRACTICE_REVIEW_RUN_FOR_ALL": "PRACTICE_REVIEW_FOR_ALL",
        "HEPHAESTUS_FEATURES_FLAGS_PRACTICE_REVIEW_FOR_ALL": "PRACTICE_REVIEW_FOR_ALL",
        "PRACTICE_REVIEW_SKIP_DRAFTS": "PRACTICE_REVIEW_SKIP_DRAFTS",
        "PRACTICE_REVIEW_DELIVER_TO_MERGED": "PRACTICE_REVIEW_DELIVER_TO_MERGED",
        "PRACTICE_REVIEW_COOLDOWN_MINUTES": "PRACTICE_REVIEW_COOLDOWN_MINUTES",
        "PRACTICE_REVIEW_APP_BASE_URL": "PRACTICE_REVIEW_APP_BASE_URL",
        "LLM_PROXY_OPENAI_URL": "LLM_PROXY_OPENAI_URL",
        "LLM_PROXY_OPENAI_AUTH_HEADER": "LLM_PROXY_OPENAI_AUTH_HEADER",
        "LLM_PROXY_OPENAI_USE_BEARER": "LLM_PROXY_OPENAI_USE_BEARER",
        "LLM_PROXY_AZURE_OPENAI_URL": "LLM_PROXY_AZURE_OPENAI_URL",
        "LLM_PROXY_AZURE_OPENAI_AUTH_HEADER": "LLM_PROXY_AZURE_OPENAI_AUTH_HEADER",
        "LLM_PROXY_AZURE_OPENAI_USE_BEARER": "LLM_PROXY_AZURE_OPENAI_USE_BEARER",
        "SENTRY_DSN": "SENTRY_DSN",
        "POSTHOG_ENABLED": "POSTHOG_ENABLED",
        "POSTHOG_PROJECT_API_KEY": "POSTHOG_PROJECT_API_KEY",
        "POSTHOG_API_HOST": "POSTHOG_API_HOST",
    },
    "app-intelligence-service-1": {
        "DATABASE_URL": "=postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@postgres:5432/hephaestus",
        "MODEL_NAME": "MODEL_NAME",
        "OPENAI_API_KEY": "OPENAI_API_KEY",
        "AZURE_RESOURCE_NAME": "AZURE_RESOURCE_NAME",
        "AZURE_API_KEY": "AZURE_API_KEY",
        "LANGFUSE_PUBLIC_KEY": "LANGFUSE_PUBLIC_KEY",
        "LANGFUSE_SECRET_KEY": "LANGFUSE_SECRET_KEY",
        "LANGFUSE_BASE_URL": "LANGFUSE_BASE_URL",
        "TZ": "TIMEZONE",
    },
    "app-webapp-1": {
        "APPLICATION_VERSION": "IMAGE_TAG",
        "APPLICATION_CLIENT_URL": f"=https://{HOSTNAME}",
        "APPLICATION_SERVER_URL": f"=https://{HOSTNAME}/api",
        "KEYCLOAK_URL": f"=https://{HOSTNAME}/keycloak",
        "KEYCLOAK_REALM": "=hephaestus",
        "KEYCLOAK_CLIENT_ID": "=hephaestus",
        "KEYCLOAK_SKIP_LOGIN": "KEYCLOAK_SKIP_LOGIN",
        "LEGAL_PROFILE": "LEGAL_PROFILE",
        "SENTRY_DSN": "SENTRY_DSN",
        "SENTRY_ENVIRONMENT": "SENTRY_ENVIRONMENT",
        "POSTHOG_ENABLED": "POSTHOG_ENABLED",
        "POSTHOG_PROJECT_API_KEY": "POSTHOG_PROJECT_API_KEY",
        "POSTHOG_API_HOST": "POSTHOG_API_HOST",
        "TANSTACK_DEVTOOLS_ENABLED": "TANSTACK_DEVTOOLS_ENABLED",
        "TZ": "TIMEZONE",
    },
    "app-postgres-1": {
        "POSTGRES_DB": "=hephaestus",
        "POSTGRES_USER": "POSTGRES_USER",
        "POSTGRES_PASSWORD": "POSTGRES_PASSWORD",
        "TZ": "TIMEZONE",
    },
    "app-logrotate-1": {"TZ": "TIMEZONE", "TIMEZONE": "TIMEZONE"},
}

# The .env of each project holds exactly the values that its services read.
ENV_KEYS: dict[str, set[str]] = {
    "proxy": {"APP_HOSTNAME", "TIMEZONE", "ACME_EMAIL", "ACME_CA_SERVER"},
    "core": {
        "APP_HOSTNAME",
        "TIMEZONE",
        "WEBHOOK_SECRET",
        "KEYCLOAK_POSTGRES_USER",
        "KEYCLOAK_POSTGRES_PASSWORD",
        *(
            name
            for name in READS["core-keycloak-1"].values()
            if not name.startswith("=") and name != "KEYCLOAK_POSTGRES_PASSWORD"
        ),
    },
    "app": {
        "APP_HOSTNAME",
        *(
            name
            for container, reads in READS.items()
            if container.startswith("app-")
            for name in reads.values()
            if not name.startswith("=")
        ),
    },
}

# Inventory variable -> (project, .env name): values the inventory sets and the file must hold.
FROM_INVENTORY = {
    "hephaestus_app_hostname": ("app", "APP_HOSTNAME"),
    "hephaestus_timezone": ("core", "TIMEZONE"),
    "hephaestus_acme_email": ("proxy", "ACME_EMAIL"),
    "hephaestus_webhook_secret": ("core", "WEBHOOK_SECRET"),
    "hephaestus_kc_bootstrap_admin_password": ("core", "KC_BOOTSTRAP_ADMIN_PASSWORD"),
    "hephaestus_keycloak_gitlab_client_secret": ("core", "KEYCLOAK_GITLAB_CLIENT_SECRET"),
    "hephaestus_keycloak_hephaestus_confidential_client_secret": (
        "app",
        "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET",
    ),
    "hephaestus_nats_durable_consumer_name": ("app", "NATS_DURABLE_CONSUMER_NAME"),
    "hephaestus_gh_app_private_key": ("app", "GH_APP_PRIVATE_KEY"),
    "hephaestus_gh_auth_token": ("app", "GH_AUTH_TOKEN"),
    "hephaestus_openai_api_key": ("app", "OPENAI_API_KEY"),
    "hephaestus_model_name": ("app", "MODEL_NAME"),
    "hephaestus_image_tag": ("app", "IMAGE_TAG"),
}

_DOUBLE_QUOTED_ESCAPES = {"n": "\n", "r": "\r", "\\": "\\", '"': '"'}


def parse_env(text: str) -> dict[str, str]:
    """Read a .env as the environment role writes it: NAME='literal' or NAME="escaped"."""
    values: dict[str, str] = {}
    pos = 0
    pattern = re.compile(r"""([A-Z][A-Z0-9_]*)=(?:'([^']*)'|"((?:[^"\\]|\\.)*)")\n""", re.S)
    for line_start in re.finditer(r"^(?!#)(?=\S)", text, re.M):
        if line_start.start() < pos:
            continue
        match = pattern.match(text, line_start.start())
        assert match, f"unparsable .env line: {text[line_start.start() :].splitlines()[0]!r}"
        name, single, double = match.groups()
        if single is not None:
            values[name] = single
        else:
            unescaped = re.sub(r"\\(.)", lambda m: _DOUBLE_QUOTED_ESCAPES.get(m[1], m[0]), double)
            values[name] = unescaped.replace("$$", "$")
        pos = match.end()
    return values


@pytest.fixture(scope="module")
def inventory(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def env_files(host) -> dict[str, dict[str, str]]:
    return {
        project: parse_env(host.file(f"{BASE}/{project}/.env").content_string)
        for project in PROJECTS
    }


@pytest.fixture(scope="module")
def containers(host) -> dict[str, dict]:
    ids = host.check_output("docker ps --all --quiet --no-trunc").split()
    inspected = json.loads(host.check_output("docker inspect " + " ".join(ids)))
    return {item["Name"].lstrip("/"): item for item in inspected}


@pytest.fixture(scope="module")
def image_env(host, containers) -> dict[str, set[str]]:
    """Names of the variables each container's image sets by itself."""
    images = {c["Config"]["Image"] for c in containers.values()}
    inspected = json.loads(host.check_output("docker image inspect " + " ".join(images)))
    by_tag = {}
    for image in inspected:
        names = {entry.split("=", 1)[0] for entry in image["Config"].get("Env") or []}
        for tag in image["RepoTags"]:
            by_tag[tag] = names
    return {name: by_tag[c["Config"]["Image"]] for name, c in containers.items()}


def container_env(container: dict) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in container["Config"]["Env"])


def project_of(container_name: str) -> str:
    return container_name.split("-", 1)[0]


@pytest.mark.parametrize("project", PROJECTS)
def test_env_file_is_private_to_root(host, project):
    env = host.file(f"{BASE}/{project}/.env")
    assert env.is_file
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)


@pytest.mark.parametrize("project", PROJECTS)
def test_env_file_holds_exactly_what_its_services_read(env_files, project):
    assert set(env_files[project]) == ENV_KEYS[project]


@pytest.mark.parametrize("variable", sorted(FROM_INVENTORY))
def test_env_file_carries_the_inventory_value(inventory, env_files, variable):
    project, name = FROM_INVENTORY[variable]
    assert env_files[project][name] == str(inventory[variable])


def test_booleans_are_rendered_lowercase(env_files):
    # The inventory gives hephaestus_gitlab_workspace_creation as the string "true".
    assert env_files["app"]["GITLAB_WORKSPACE_CREATION"] == "true"
    assert env_files["core"]["KEYCLOAK_GITLAB_ENABLED"] == "true"
    assert env_files["app"]["SANDBOX_ENABLED"] == "false"


def test_database_passwords_are_generated_stored_and_used(host, env_files):
    secrets = host.file(f"{BASE}/secrets")
    assert (secrets.user, secrets.mode) == ("root", 0o700)
    for database, project, name in (
        ("postgres", "app", "POSTGRES_PASSWORD"),
        ("keycloak-postgres", "core", "KEYCLOAK_POSTGRES_PASSWORD"),
    ):
        stored = host.file(f"{BASE}/secrets/{database}-password")
        assert (stored.user, stored.group, stored.mode) == ("root", "root", 0o600)
        password = stored.content_string.strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", password)
        assert env_files[project][name] == password
    assert env_files["app"]["POSTGRES_USER"] not in ("", "root")
    assert env_files["core"]["KEYCLOAK_POSTGRES_USER"] not in ("", "root")


@pytest.mark.parametrize("container_name", sorted(READS))
def test_every_variable_reaches_the_container_that_reads_it(containers, env_files, container_name):
    env = container_env(containers[container_name])
    source = env_files[project_of(container_name)]
    expected = {
        variable: name[1:].format(**source) if name.startswith("=") else source[name]
        for variable, name in READS[container_name].items()
    }
    assert {variable: env.get(variable) for variable in expected} == expected


@pytest.mark.parametrize("container_name", sorted(READS))
def test_a_container_gets_no_variable_it_does_not_read(containers, image_env, container_name):
    names = set(container_env(containers[container_name]))
    extra = names - set(READS[container_name]) - image_env[container_name]
    assert not extra


def test_every_service_runs_healthy_with_limits_and_restart_policy(containers):
    assert set(containers) == set(READS)
    for name, container in containers.items():
        assert container["State"]["Health"]["Status"] == "healthy", name
        assert container["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped", name
        log = container["HostConfig"]["LogConfig"]
        assert log == {"Type": "json-file", "Config": {"max-file": "5", "max-size": "50m"}}, name


def test_only_the_proxy_publishes_ports_and_only_80_and_443(containers):
    published = {
        name: sorted((container["HostConfig"]["PortBindings"] or {}).keys())
        for name, container in containers.items()
        if container["HostConfig"]["PortBindings"]
    }
    assert published == {"proxy-reverse-proxy-1": ["443/tcp", "80/tcp"]}


def test_nothing_but_80_and_443_listens_beyond_loopback(host):
    listeners = host.check_output("ss --listening --tcp --numeric --no-header").splitlines()
    exposed = set()
    for line in listeners:
        address, _colon, port = line.split()[3].rpartition(":")
        if not re.fullmatch(r"127\.\d+\.\d+\.\d+|\[::1\]", address):
            exposed.add(port)
    assert exposed == {"80", "443"}


def test_every_project_joins_shared_network(containers):
    for name, container in containers.items():
        networks = set(container["NetworkSettings"]["Networks"])
        assert networks == ({"none"} if name == "app-logrotate-1" else {"shared-network"}), name


def test_data_directories_belong_to_the_database_images(host):
    for path, owner in (
        (f"{BASE}/data/postgres", 999),
        (f"{BASE}/data/keycloak-postgres", 999),
    ):
        directory = host.file(path)
        assert (directory.uid, directory.mode) == (owner, 0o700), path
        assert host.file(f"{path}/PG_VERSION").exists, path


def test_acme_store_is_private(host):
    acme = host.file(f"{BASE}/proxy/letsencrypt/acme.json")
    assert (acme.user, acme.mode) == ("root", 0o600)


def test_rows_written_before_the_reruns_survive(host):
    query = "SELECT note FROM molecule_probe"
    for container, user in (
        ("app-postgres-1", "hephaestus"),
        ("core-keycloak-postgres-1", "keycloak"),
    ):
        rows = host.check_output(f"docker exec {container} psql -U {user} -d {user} -tAc '{query}'")
        assert rows.splitlines() == ["written before the re-runs"], container


def test_routes_carry_the_upstream_labels(containers):
    def labels(name):
        return containers[name]["Config"]["Labels"]

    host_rule = f"Host(`{HOSTNAME}`)"
    api = labels("app-application-server-1")
    assert api["traefik.http.routers.hephaestus-api.rule"] == f"{host_rule} && PathPrefix(`/api`)"
    assert api["traefik.http.middlewares.hephaestus-api-strip.stripprefix.prefixes"] == "/api"
    assert api["traefik.http.services.hephaestus-api.loadbalancer.server.port"] == "8080"
    hooks = labels("core-webhook-ingest-1")
    assert hooks["traefik.http.routers.hephaestus-webhooks.middlewares"] == (
        "hephaestus-webhooks-strip"
    )
    assert hooks["traefik.http.services.hephaestus-webhooks.loadbalancer.server.port"] == "4200"
    keycloak = labels("core-keycloak-1")
    assert keycloak["traefik.http.routers.hephaestus-keycloak.rule"] == (
        f"{host_rule} && PathPrefix(`/keycloak`)"
    )
    assert "traefik.http.routers.hephaestus-keycloak.middlewares" not in keycloak
    assert labels("app-webapp-1")["traefik.http.routers.hephaestus-webapp.rule"] == host_rule
    maintenance = labels("proxy-maintenance-1")
    assert maintenance["traefik.http.routers.hephaestus-maintenance.priority"] == "1"
    for name in ("proxy-reverse-proxy-1", "core-keycloak-postgres-1", "app-postgres-1"):
        assert labels(name).get("traefik.enable") != "true", name


def test_proxy_reads_the_docker_socket_read_only(containers):
    mounts = {m["Destination"]: m for m in containers["proxy-reverse-proxy-1"]["Mounts"]}
    assert mounts["/var/run/docker.sock"]["RW"] is False
    assert "/var/run/docker.sock" not in {
        m["Destination"] for m in containers["app-application-server-1"]["Mounts"]
    }


def test_legal_overrides_are_mounted_read_only(containers):
    mounts = {m["Destination"]: m for m in containers["app-webapp-1"]["Mounts"]}
    override = mounts["/usr/share/nginx/html/legal-overrides"]
    assert (override["Source"], override["RW"]) == (f"{BASE}/app/legal-overrides", False)


def https(host, path: str, data: str | None = None) -> tuple[int, str]:
    """Ask the proxy on the host for https://hephaestus.test<path>, POSTing data if given."""
    body = "None" if data is None else repr(data.encode())
    script = "\n".join(
        [
            "import ssl, urllib.error, urllib.request",
            "ctx = ssl._create_unverified_context()",
            f"req = urllib.request.Request('https://127.0.0.1{path}', data={body},",
            f"                             headers={{'Host': '{HOSTNAME}'}})",
            "try:",
            "    reply = urllib.request.urlopen(req, context=ctx, timeout=10)",
            "except urllib.error.HTTPError as error:",
            "    reply = error",
            "print(reply.status)",
            "print(reply.read().decode())",
        ]
    )
    out = host.check_output("python3 -c " + shlex.quote(script))
    status, _newline, text = out.partition("\n")
    return int(status), text


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("/api/actuator/health", '"status": "UP"'),
        ("/webhooks/health", '"status": "UP"'),
        ("/keycloak/realms/hephaestus/.well-known/openid-configuration", '"issuer"'),
        ("/imprint", "imprint override"),
        ("/privacy", "privacy override"),
        ("/", "Hephaestus"),
    ],
)
def test_the_proxy_reaches_each_service(host, path, needle):
    status, body = https(host, path)
    assert status == 200, body
    assert needle in body


def test_keycloak_issues_the_confidential_client_a_token_behind_the_proxy(host, env_files):
    secret = env_files["app"]["KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET"]
    form = f"grant_type=client_credentials&client_id=hephaestus-confidential&client_secret={secret}"
    status, body = https(host, "/keycloak/realms/hephaestus/protocol/openid-connect/token", form)
    assert status == 200, body
    assert "access_token" in json.loads(body)
