"""The rollout roles agree with each other, with their argument specs and with the gate.

Static checks on the controller, no host needed:
- every hephaestus_* variable a role uses is documented in its argument spec or in common's;
- common's defaults and its argument spec list the same variables, with the same defaults;
- every guide variable the gate knows has a common default;
- every ${NAME} a compose template reads is a key of that project's .env, and every .env key is
  read by some service of its project.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
OWN_ROLES = ("common", "postgres_volumes", "environment", "compose")
PROJECTS = ("proxy", "core", "app")
VARIABLE = re.compile(r"\bhephaestus_[a-z0-9_]+\b")


def load(path: Path) -> object:
    return yaml.safe_load(path.read_text())


def spec_options(role: str) -> dict[str, dict]:
    specs = load(ROLES / role / "meta" / "argument_specs.yml")
    return specs["argument_specs"]["main"]["options"]


def defined_in_role(role: str) -> set[str]:
    """Variables a role defines itself: vars/, registered results, facts and loop variables."""
    names: set[str] = set()
    for path in (ROLES / role).rglob("*.yml"):
        if "meta" in path.parts:
            continue
        text = path.read_text()
        if path.parent.name == "vars":
            names |= set((load(path) or {}).keys())
        names |= set(re.findall(r"(?:register|loop_var):\s*(hephaestus_[a-z0-9_]+)", text))
        names |= set(re.findall(r"^\s+(hephaestus_[a-z0-9_]+):", text, re.M))
    return names


def used_in_role(role: str) -> set[str]:
    names: set[str] = set()
    for path in (ROLES / role).rglob("*"):
        if path.is_file() and path.suffix in (".yml", ".j2") and "meta" not in path.parts:
            names |= set(VARIABLE.findall(path.read_text()))
    return names


@pytest.mark.parametrize("role", OWN_ROLES)
def test_every_variable_a_role_uses_is_documented(role):
    documented = set(spec_options(role)) | set(spec_options("common"))
    own = defined_in_role(role) - set(spec_options(role))
    missing = used_in_role(role) - documented - own
    assert not missing, f"{role} uses undocumented variables: {sorted(missing)}"


def test_common_defaults_and_spec_list_the_same_variables():
    defaults = load(ROLES / "common" / "defaults" / "main.yml")
    options = spec_options("common")
    assert set(defaults) == set(options)


@pytest.mark.parametrize("role", OWN_ROLES)
def test_spec_defaults_match_the_defaults(role):
    defaults = {}
    for source in (
        ROLES / "common" / "defaults" / "main.yml",
        ROLES / role / "defaults" / "main.yml",
    ):
        if source.exists():
            defaults.update(load(source) or {})
    for name, option in spec_options(role).items():
        value = defaults[name]
        if isinstance(value, str) and "{{" in value and "if" in value:
            continue  # a computed default; its spec says in words what it resolves to
        assert option.get("default") == value, name


@pytest.mark.parametrize("role", OWN_ROLES)
def test_every_option_has_type_and_description(role):
    for name, option in spec_options(role).items():
        assert option.get("type"), name
        assert option.get("description"), name


def test_every_gate_variable_has_a_common_default():
    rules = (ROOT / "plugins" / "module_utils" / "rollout_rules.py").read_text()
    catalog = re.findall(r'_v\("([A-Z0-9_]+)"', rules)
    assert catalog, "no catalog found in rollout_rules.py"
    defaults = load(ROLES / "common" / "defaults" / "main.yml")
    missing = [name for name in catalog if "hephaestus_" + name.lower() not in defaults]
    assert not missing


def test_secrets_are_never_logged_by_the_argument_spec():
    rules = (ROOT / "plugins" / "module_utils" / "rollout_rules.py").read_text()
    secrets = re.findall(r'_v\("([A-Z0-9_]+)"(?:, "\w+")?, secret=True\)', rules)
    assert secrets
    options = spec_options("common")
    logged = [name for name in secrets if not options["hephaestus_" + name.lower()].get("no_log")]
    assert not logged


@pytest.mark.parametrize("project", PROJECTS)
def test_compose_reads_exactly_the_env_file(project):
    env_files = load(ROLES / "environment" / "vars" / "main.yml")["hephaestus_environment_files"]
    env_keys = set(env_files[project])
    template = (ROLES / "compose" / "templates" / f"{project}.compose.yaml.j2").read_text()
    read = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", template))
    assert read - env_keys == set(), "compose reads names .env does not hold"
    assert env_keys - read == set(), ".env holds names no service reads"


def test_compose_templates_publish_only_the_proxy_ports():
    for project in PROJECTS:
        template = (ROLES / "compose" / "templates" / f"{project}.compose.yaml.j2").read_text()
        published = re.findall(r'^\s+- "([0-9.:]+)"$', template, re.M)
        expected = {"proxy": ["80:80", "443:443"], "core": ["127.0.0.1:4222:4222"], "app": []}
        assert published == expected[project], project
