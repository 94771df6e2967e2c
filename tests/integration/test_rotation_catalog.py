"""The rotation role's catalog agrees with the roles that deploy the secrets.

Static checks on the controller, no host needed:
- the owned secrets that the environment role keeps in the host store are the catalog's, with
  the same files and variables, and the database password files are the environment role's;
- every service that reads a secret in the compose templates is one of its consumers (and so
  is recreated when it is rotated), and every consumer reads it;
- each secret is a key of the env file of every project that has a consumer;
- an external secret's value in force is read from a consumer that gets it under its own name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
CATALOG = yaml.safe_load((ROLES / "rotation/vars/main.yml").read_text())[
    "hephaestus_rotation_catalog"
]
ENV_VARS = yaml.safe_load((ROLES / "environment/vars/main.yml").read_text())
OWNED_TASKS = yaml.safe_load((ROLES / "environment/tasks/owned_secrets.yml").read_text())
PROJECTS = ("core", "app")
SERVICE = re.compile(r"^  ([a-z][a-z0-9-]*):\s*$", re.M)


def services(project: str) -> dict[str, str]:
    """Each service's block of the project's compose template, by service name."""
    text = (ROLES / f"compose/templates/{project}.compose.yaml.j2").read_text()
    body = text.split("\nservices:\n", 1)[1]
    body = re.split(r"^(?:volumes|networks):", body, maxsplit=1, flags=re.M)[0]
    names = SERVICE.findall(body)
    blocks = SERVICE.split(body)[1:]
    return {name: blocks[2 * i + 1] for i, name in enumerate(names)}


def reads(block: str, name: str) -> bool:
    return re.search(r"\$\{" + re.escape(name) + r"[?}]", block) is not None


def test_the_environment_role_keeps_the_catalogs_owned_secrets():
    kept = OWNED_TASKS[0]["vars"]["hephaestus_environment_owned_secrets"]
    owned = [entry for entry in CATALOG if entry["owned"] and entry["variable"]]
    assert {(item["variable"], item["file"]) for item in kept} == {
        (entry["variable"], entry["store"]) for entry in owned
    }


def test_the_database_passwords_are_the_environment_roles_files():
    generated = {f"{name}-password" for name in ENV_VARS["hephaestus_environment_db_secrets"]}
    databases = {entry["store"] for entry in CATALOG if entry["live"] == "database"}
    assert databases == generated


@pytest.mark.parametrize("entry", CATALOG, ids=lambda entry: entry["name"])
def test_every_reader_is_a_consumer(entry):
    for project in PROJECTS:
        readers = {name for name, block in services(project).items() if reads(block, entry["name"])}
        assert readers == set(entry["consumers"].get(project, [])), project


@pytest.mark.parametrize("entry", CATALOG, ids=lambda entry: entry["name"])
def test_every_consumers_project_env_file_holds_it(entry):
    for project in entry["consumers"]:
        assert entry["name"] in ENV_VARS["hephaestus_environment_files"][project], project


@pytest.mark.parametrize(
    "entry", [e for e in CATALOG if not e["owned"]], ids=lambda entry: entry["name"]
)
def test_an_external_secret_is_read_from_a_consumer_under_its_own_name(entry):
    project, service = next(
        (project, service)
        for project, names in entry["consumers"].items()
        for service in names
        if f"{project}-{service}-1" == entry["deployed"]["container"]
    )
    block = services(project)[service]
    variable = entry["deployed"]["env"]
    assert re.search(rf"^\s+{variable}: \$\{{{entry['name']}\?", block, re.M)


def test_names_and_stores_are_unique():
    assert len({entry["name"] for entry in CATALOG}) == len(CATALOG)
    assert len({entry["store"] for entry in CATALOG}) == len(CATALOG)


def test_the_settings_shared_with_the_keycloak_role_have_its_defaults():
    rotation = yaml.safe_load((ROLES / "rotation/defaults/main.yml").read_text())
    keycloak = yaml.safe_load((ROLES / "keycloak/defaults/main.yml").read_text())
    shared = {name for name in rotation if name.startswith("hephaestus_keycloak_")}
    assert shared
    assert {name: rotation[name] for name in shared} == {name: keycloak[name] for name in shared}
