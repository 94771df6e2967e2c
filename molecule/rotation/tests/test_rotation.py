"""The host after side_effect.yml's rotation runs, checked through the services' own interfaces.

side_effect.yml leaves, per run, its output and exit code in <ephemeral dir>/runs/<run>.log and
.rc on the controller, and on the host, per phase, the containers' start times and a copy of
the host store under /root/rotation-test/<phase>. "old" below is a secret's <name>.previous and
"new" its stored value: after every run, the new one must work everywhere and the old one
nowhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from pathlib import Path

import pytest
import testinfra.utils.ansible_runner
import yaml

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("hephaestus")

STORE = "/opt/hephaestus/secrets"
RECORDS = "/root/rotation-test"
RUNS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "runs"
PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
SCENARIO = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
INVENTORY = yaml.safe_load(
    (PROJECT / "molecule/shared/group_vars/hephaestus/stack.yml").read_text()
)
EXTERNALS = yaml.safe_load((SCENARIO / "vars/externals.yml").read_text())

OWNED = {
    "POSTGRES_PASSWORD": "postgres-password",
    "KEYCLOAK_POSTGRES_PASSWORD": "keycloak-postgres-password",
    "KC_BOOTSTRAP_ADMIN_PASSWORD": "kc-bootstrap-admin-password",
    "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET": (
        "keycloak-hephaestus-confidential-client-secret"
    ),
    "WEBHOOK_SECRET": "webhook-secret",
}
CONTAINERS = {
    "proxy-reverse-proxy-1",
    "proxy-maintenance-1",
    "core-webhook-ingest-1",
    "core-nats-server-1",
    "core-keycloak-1",
    "core-keycloak-postgres-1",
    "app-application-server-1",
    "app-intelligence-service-1",
    "app-webapp-1",
    "app-postgres-1",
    "app-logrotate-1",
}
PHASES = ("converged", "check", "all", "webhook", "failed", "undo", "converge")
DATABASES = {
    "POSTGRES_PASSWORD": ("app-postgres-1", "hephaestus", "hephaestus"),
    "KEYCLOAK_POSTGRES_PASSWORD": ("core-keycloak-postgres-1", "keycloak", "keycloak"),
}
# Consumers of each run's secrets (the container of service S in project P is P-S-1).
RECREATED = {
    ("converged", "check"): set(),
    ("check", "all"): {
        "core-keycloak-1",
        "core-keycloak-postgres-1",
        "core-webhook-ingest-1",
        "app-postgres-1",
        "app-application-server-1",
        "app-intelligence-service-1",
    },
    ("all", "webhook"): {"core-webhook-ingest-1", "app-application-server-1"},
    ("webhook", "failed"): set(),
    ("failed", "undo"): {"core-webhook-ingest-1", "app-application-server-1"},
    ("undo", "converge"): set(),
}


def phrase(text: str) -> str:
    """A regular expression for text that the output may wrap at any space."""
    return r"\s+".join(re.escape(word) for word in text.split())


def says(log: str, text: str) -> bool:
    return re.search(phrase(text), log) is not None


def run_log(name: str) -> str:
    return (RUNS / f"{name}.log").read_text(errors="replace")


def run_rc(name: str) -> int:
    return int((RUNS / f"{name}.rc").read_text().strip())


def read(host, path: str) -> str:
    return host.file(path).content_string.strip()


def stored(host, name: str) -> str:
    return read(host, f"{STORE}/{OWNED[name]}")


def previous(host, name: str) -> str:
    return read(host, f"{STORE}/{OWNED[name]}.previous")


def store_files(host, phase: str) -> dict[str, str]:
    directory = f"{RECORDS}/{phase}/secrets"
    names = host.check_output(f"ls -A {directory}").split()
    return {name: host.file(f"{directory}/{name}").content_string for name in names}


def containers(host, phase: str) -> dict[str, tuple[str, str]]:
    """Container -> (start time, health) as recorded after the phase's run."""
    lines = host.file(f"{RECORDS}/{phase}/started").content_string.splitlines()
    fields = [line.lstrip("/").split(" ") for line in lines if line.strip()]
    return {name: (started, health) for name, started, health in fields}


def started(host, phase: str) -> dict[str, str]:
    return {name: state[0] for name, state in containers(host, phase).items()}


def address(host, container: str) -> str:
    template = '{{(index .NetworkSettings.Networks "shared-network").IPAddress}}'
    return host.check_output(f"docker inspect --format '{template}' {container}")


def http(host, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST from the host (the containers publish no port) and return the status."""
    request = base64.b64encode(
        json.dumps({"url": url, "body": body.decode(), "headers": headers}).encode()
    ).decode()
    script = (
        "import base64, json, sys, urllib.error, urllib.request\n"
        "r = json.loads(base64.b64decode(sys.argv[1]))\n"
        "q = urllib.request.Request(r['url'], data=r['body'].encode(), headers=r['headers'])\n"
        "try:\n"
        "    print(urllib.request.urlopen(q, timeout=10).status)\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code)\n"
    )
    return int(host.check_output("python3 -c %s %s", script, request))


def token_status(host, realm: str, form: dict[str, str]) -> int:
    base = f"http://{address(host, 'core-keycloak-1')}:8080/keycloak"
    url = f"{base}/realms/{realm}/protocol/openid-connect/token"
    body = "&".join(f"{key}={value}" for key, value in form.items()).encode()
    return http(host, url, body, {"Content-Type": "application/x-www-form-urlencoded"})


def db_login(host, name: str, password: str):
    container, user, database = DATABASES[name]
    # Over TCP, where the server asks for the password (its socket trusts local users).
    return host.run(
        "PGPASSWORD=%s docker exec -e PGPASSWORD %s psql -h 127.0.0.1 -U %s -d %s -tAc 'SELECT 1'",
        password,
        container,
        user,
        database,
    )


# --- every run ------------------------------------------------------------------------------


# Every run the scenario logs to RUNS, in order: the rollout (converge.yml), then side_effect.yml's.
# Two are meant to be refused and have tests of their own; all are searched for secrets.
RUN_NAMES = ("rollout", "list", "check", "all", "webhook", "failed", "extravar", "undo", "converge")
REFUSED_RUNS = ("failed", "extravar")


@pytest.mark.parametrize("run", [run for run in RUN_NAMES if run not in REFUSED_RUNS])
def test_run_succeeded(run):
    assert run_rc(run) == 0, run_log(run)[-3000:]


def test_failed_run_failed_and_said_it_rolled_back():
    log = run_log("failed")
    assert run_rc("failed") != 0
    assert re.search(
        phrase("failed at") + r"\W{0,3}" + phrase("Reach Keycloak's master realm"), log
    )
    assert says(log, "and was rolled back: the old values are in force again"), log[-3000:]


def test_an_owned_secret_as_extra_var_is_refused():
    log = run_log("extravar")
    assert run_rc("extravar") != 0
    assert says(log, "hephaestus_webhook_secret is given with a precedence above facts")


def test_services_are_healthy(host):
    states = json.loads(host.check_output("docker inspect $(docker ps -aq)"))
    health = {c["Name"].lstrip("/"): c["State"].get("Health", {}).get("Status") for c in states}
    assert set(health) == CONTAINERS
    assert {name for name, status in health.items() if status != "healthy"} == set()


@pytest.mark.parametrize("phase", PHASES)
def test_every_service_ran_healthy_after_each_run(host, phase):
    assert {
        name for name, state in containers(host, phase).items() if state[1] != "healthy"
    } == set()


@pytest.mark.parametrize("phases", list(RECREATED), ids=lambda p: f"{p[0]}-to-{p[1]}")
def test_only_the_consumers_were_recreated(host, phases):
    before, after = (started(host, phase) for phase in phases)
    assert set(after) == CONTAINERS
    assert {name for name in after if after[name] != before.get(name)} == RECREATED[phases]


@pytest.mark.parametrize("name", ["app-postgres-1", "core-keycloak-postgres-1"])
def test_rows_written_before_the_rotations_are_still_there(host, name):
    container, user, database = {v[0]: v for v in DATABASES.values()}[name]
    rows = host.check_output(
        "docker exec %s psql -U %s -d %s -tAc 'SELECT note FROM rotation_probe'",
        container,
        user,
        database,
    )
    assert rows == "written before the rotations"


# --- each owned secret: the new value works everywhere, the old one nowhere -----------------


@pytest.mark.parametrize("name", list(DATABASES))
def test_database_accepts_the_new_password_and_refuses_the_old(host, name):
    assert stored(host, name) != previous(host, name)
    assert db_login(host, name, stored(host, name)).rc == 0
    refused = db_login(host, name, previous(host, name))
    assert refused.rc != 0 and "password authentication failed" in refused.stderr


# Token requests that log in with a Keycloak-held secret: realm, form without the secret,
# and the form field that carries it.
KEYCLOAK_LOGINS = {
    "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET": (
        "hephaestus",
        {"grant_type": "client_credentials", "client_id": "hephaestus-confidential"},
        "client_secret",
    ),
    "KC_BOOTSTRAP_ADMIN_PASSWORD": (
        "master",
        {
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": INVENTORY["hephaestus_kc_bootstrap_admin_username"],
        },
        "password",
    ),
}


@pytest.mark.parametrize("name", list(KEYCLOAK_LOGINS))
def test_keycloak_accepts_the_new_secret_and_refuses_the_old(host, name):
    realm, form, field = KEYCLOAK_LOGINS[name]
    assert token_status(host, realm, {**form, field: stored(host, name)}) == 200
    assert token_status(host, realm, {**form, field: previous(host, name)}) == 401


def test_webhook_secret(host):
    body = b'{"zen": "rotation test"}'
    url = f"http://{address(host, 'core-webhook-ingest-1')}:4200/github"

    def deliver(secret):
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "ping",
            "X-Hub-Signature-256": f"sha256={signature}",
        }
        return http(host, url, body, headers)

    assert deliver(stored(host, "WEBHOOK_SECRET")) == 200
    assert deliver(previous(host, "WEBHOOK_SECRET")) == 401


@pytest.mark.parametrize("name", list(OWNED))
def test_env_files_and_consumers_carry_the_stored_value(host, name):
    value = stored(host, name)
    env = {
        "WEBHOOK_SECRET": {
            "core-webhook-ingest-1": "WEBHOOK_SECRET",
            "app-application-server-1": "WEBHOOK_SECRET",
        },
        "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET": {
            "core-keycloak-1": "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET",
            "app-application-server-1": "KEYCLOAK_CLIENT_SECRET",
        },
        "KC_BOOTSTRAP_ADMIN_PASSWORD": {"core-keycloak-1": "KC_BOOTSTRAP_ADMIN_PASSWORD"},
        "POSTGRES_PASSWORD": {"app-application-server-1": "SPRING_DATASOURCE_PASSWORD"},
        "KEYCLOAK_POSTGRES_PASSWORD": {"core-keycloak-1": "KC_DB_PASSWORD"},
    }[name]
    for container, variable in env.items():
        inspected = json.loads(host.check_output(f"docker inspect {container}"))[0]
        assert f"{variable}={value}" in inspected["Config"]["Env"], f"{container} {variable}"
    projects = (
        {"core"}
        if name in ("KC_BOOTSTRAP_ADMIN_PASSWORD", "KEYCLOAK_POSTGRES_PASSWORD")
        else {"app"}
    )
    if name in ("WEBHOOK_SECRET", "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET"):
        projects = {"core", "app"}
    for project in projects:
        assert f"{name}='{value}'" in host.file(f"/opt/hephaestus/{project}/.env").content_string


def test_store_is_root_only(host):
    directory = host.file(STORE)
    assert (directory.user, directory.group, directory.mode) == ("root", "root", 0o700)
    for name in host.check_output(f"ls -A {STORE}").split():
        assert not name.endswith(".next"), name
        entry = host.file(f"{STORE}/{name}")
        assert (entry.user, entry.group, entry.mode) == ("root", "root", 0o600), name


# --- the runs, one by one -------------------------------------------------------------------


def test_list_names_every_secret_with_its_age():
    log = run_log("list")
    for name in [
        *OWNED,
        "KEYCLOAK_GITHUB_CLIENT_SECRET",
        "GH_APP_PRIVATE_KEY",
        "LANGFUSE_SECRET_KEY",
    ]:
        assert name in log
    assert says(
        log, "WEBHOOK_SECRET: generated by the deployment; stored on the host, set 0 days ago"
    )
    assert says(log, "GH_AUTH_TOKEN: issued by GitHub (the personal access token); never rotated")


def test_check_mode_predicts_and_changes_nothing(host):
    log = run_log("check")
    rotated = [*OWNED, "KEYCLOAK_GITHUB_CLIENT_SECRET", "GH_AUTH_TOKEN"]
    assert re.search(phrase("Would rotate on") + r"\s+\S+:\s+" + phrase(", ".join(rotated)), log), (
        log[-3000:]
    )
    assert says(
        log,
        "Would recreate: core: keycloak, keycloak-postgres, webhook-ingest;"
        " app: application-server, intelligence-service, postgres.",
    )
    assert says(log, "Check mode: nothing is changed.")
    assert store_files(host, "check") == store_files(host, "converged")


def test_rotating_everything_kept_the_old_values_as_previous(host):
    before, after = store_files(host, "converged"), store_files(host, "all")
    for name, file in OWNED.items():
        assert after[file] != before[file], name
        assert after[f"{file}.previous"].strip() == before[file].strip(), name
    assert after["gh-auth-token.previous"] == INVENTORY["hephaestus_gh_auth_token"]
    assert (
        after["keycloak-github-client-secret.previous"]
        == INVENTORY["hephaestus_keycloak_github_client_secret"]
    )


def test_generated_values_have_the_guide_formats(host):
    for name, pattern in {
        "WEBHOOK_SECRET": r"[0-9a-f]{64}",
        "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET": r"[0-9a-f]{64}",
        "KC_BOOTSTRAP_ADMIN_PASSWORD": r"[A-Za-z0-9_-]{43}",
        "POSTGRES_PASSWORD": r"[A-Za-z0-9_-]{43}",
        "KEYCLOAK_POSTGRES_PASSWORD": r"[A-Za-z0-9_-]{43}",
    }.items():
        assert re.fullmatch(pattern, stored(host, name)), name


def test_rotation_reports_what_still_needs_the_new_value():
    log = run_log("all")
    assert says(log, "ACTION NEEDED: the new WEBHOOK_SECRET must now reach the GitHub webhooks")
    assert says(log, "and the GitLab webhooks")
    assert says(
        log, "KEYCLOAK_GITHUB_CLIENT_SECRET: revoke the previous value at the GitHub OAuth app"
    )
    assert says(log, "hephaestus_webhook_secret: the inventory (vault) keeps its older value")


def test_external_secrets_reached_their_consumers(host):
    def env(container):
        return json.loads(host.check_output(f"docker inspect {container}"))[0]["Config"]["Env"]

    assert f"GH_AUTH_TOKEN={EXTERNALS['hephaestus_gh_auth_token']}" in env(
        "app-application-server-1"
    )
    github = EXTERNALS["hephaestus_keycloak_github_client_secret"]
    assert f"KEYCLOAK_GITHUB_CLIENT_SECRET={github}" in env("core-keycloak-1")


def test_keycloak_holds_the_new_github_client_secret(host):
    """The keycloak role keeps a fingerprint of the provider secret it last wrote."""
    base = f"http://{address(host, 'core-keycloak-1')}:8080/keycloak"
    form = {
        "grant_type": "password",
        "client_id": "admin-cli",
        "username": INVENTORY["hephaestus_kc_bootstrap_admin_username"],
        "password": stored(host, "KC_BOOTSTRAP_ADMIN_PASSWORD"),
    }
    script = (
        "import json, sys, urllib.parse, urllib.request\n"
        "base, form = sys.argv[1], json.loads(sys.argv[2])\n"
        "data = urllib.parse.urlencode(form).encode()\n"
        "login = base + '/realms/master/protocol/openid-connect/token'\n"
        "token = json.load(urllib.request.urlopen(login, data))['access_token']\n"
        "github = base + '/admin/realms/hephaestus/identity-provider/instances/github'\n"
        "q = urllib.request.Request(github, headers={'Authorization': 'Bearer ' + token})\n"
        "config = json.load(urllib.request.urlopen(q))['config']\n"
        "print(config.get('hephaestus.clientSecretSha256', ''))\n"
    )
    fingerprint = host.check_output("python3 -c %s %s %s", script, base, json.dumps(form))
    secret = EXTERNALS["hephaestus_keycloak_github_client_secret"]
    assert fingerprint == hashlib.sha256(f"hephaestus/github:{secret}".encode()).hexdigest()


def test_second_rotation_of_the_webhook_secret(host):
    before, after = store_files(host, "all"), store_files(host, "webhook")
    assert after["webhook-secret.previous"] == before["webhook-secret"]
    assert after["webhook-secret"] != before["webhook-secret"]
    assert {k: v for k, v in after.items() if not k.startswith("webhook-secret")} == {
        k: v for k, v in before.items() if not k.startswith("webhook-secret")
    }


def test_failed_rotation_left_the_store_as_it_was(host):
    assert store_files(host, "failed") == store_files(host, "webhook")


def test_rollback_by_hand_swapped_the_webhook_secret(host):
    before, after = store_files(host, "failed"), store_files(host, "undo")
    assert after["webhook-secret"].strip() == before["webhook-secret.previous"].strip()
    assert after["webhook-secret.previous"].strip() == before["webhook-secret"].strip()


def test_converge_after_the_rotations_changes_nothing(host):
    log = run_log("converge")
    assert re.search(r"changed=0\s", log), log[-2000:]
    assert store_files(host, "converge") == store_files(host, "undo")
    assert says(
        log, "hephaestus_webhook_secret: the inventory (vault) value differs from the value stored"
    )


def test_no_secret_value_in_any_output(host):
    values = set()
    for phase in PHASES:
        values |= {value.strip() for value in store_files(host, phase).values()}
    for name, value in {**INVENTORY, **EXTERNALS}.items():
        if re.search(r"(secret|password|token|_key)$", name) and isinstance(value, str) and value:
            values.add(value)
    values.add('it\'s "quoted" and costs $5')
    values = {value for value in values if len(value) >= 8}
    assert len(values) > 20
    for run in RUN_NAMES:
        log = run_log(run)
        leaked = [value[:4] for value in values if value in log or json.dumps(value)[1:-1] in log]
        assert not leaked, f"{run}.log shows {len(leaked)} secret value(s), starting {leaked}"
