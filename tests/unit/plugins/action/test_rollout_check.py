"""Tests of the tumaet.hephaestus.rollout_check action plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, NonCallableMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.tumaet.hephaestus.plugins.action.rollout_check import ActionModule
from ansible_collections.tumaet.hephaestus.plugins.module_utils import rollout_rules as rr

RULE_COUNT = len(rr.RULES) + 1


def play_vars(env: Mapping[str, object], **extra: object) -> dict[str, Any]:
    """Task variables as a play would hold them: hephaestus_* names plus the gate's own."""
    task_vars: dict[str, Any] = {rr.ansible_name(name): value for name, value in env.items()}
    task_vars.update(hephaestus_tier="production", inventory_hostname="web1")
    task_vars.update(extra)
    return task_vars


def run_action(
    task_vars: dict[str, Any],
    args: dict[str, Any] | None = None,
    basedir: Path | None = None,
    async_val: int = 0,
) -> dict[str, Any]:
    """Run the action the way the task executor does, with a connection nobody may touch."""
    task = MagicMock()
    task.args = dict(args or {})
    task.async_val = async_val
    task.action = "tumaet.hephaestus.rollout_check"
    loader = DataLoader()
    if basedir is not None:
        loader.set_basedir(str(basedir))
    # spec=[]: reading any attribute of this connection raises AttributeError.
    connection = NonCallableMock(spec=[])
    action = ActionModule(
        task=task,
        connection=connection,
        play_context=MagicMock(),
        loader=loader,
        templar=Templar(loader=loader, variables=task_vars),
        shared_loader_obj=None,
    )
    result = action.run(task_vars=task_vars)
    assert connection.mock_calls == []
    return result


def test_action_declares_it_needs_no_connection() -> None:
    assert ActionModule._requires_connection is False
    assert ActionModule.TRANSFERS_FILES is False


def test_valid_configuration_passes(valid_env: Mapping[str, object]) -> None:
    result = run_action(play_vars(valid_env))

    assert result == {
        "changed": False,
        "violations": [],
        "msg": f"all {RULE_COUNT} rollout rules passed for tier production",
    }


def test_all_violations_are_listed_at_once(valid_env: Mapping[str, object]) -> None:
    task_vars = play_vars(
        valid_env,
        hephaestus_webhook_secret="too-short",
        hephaestus_sandbox_enabled=True,
        hephaestus_gitlab_workspace_creation="true",
        hephaestus_keycloak_skip_login=True,
        hephaestus_legal_profile="",
        hephaestus_posthog_enabled="yes please",
    )

    result = run_action(task_vars)

    rules = [violation["rule"] for violation in result["violations"]]
    assert result["failed"] is True
    assert result["changed"] is False
    assert rules == [
        "boolean-values",
        "webhook-secret-length",
        "practice-review-bundle",
        "gitlab-workspace-needs-provider",
        "production-legal-pages",
        "production-login",
    ]
    lines = result["msg"].splitlines()
    assert lines[0] == f"6 of {RULE_COUNT} rollout rules failed for tier production:"
    assert lines[1:] == [rr.format_violation(violation) for violation in result["violations"]]
    assert lines[1].startswith("[boolean-values] hephaestus_posthog_enabled is 'yes please'")
    assert lines[1].endswith("(variables: POSTHOG_ENABLED)")


def test_result_holds_no_secret_value(valid_env: Mapping[str, object]) -> None:
    secrets = {name: f"s3cr3t-{name.lower()}-value" for name in rr.SECRETS}
    task_vars = play_vars(
        {**valid_env, **secrets},
        hephaestus_gh_app_id=4,
        hephaestus_legal_profile="",
    )

    failed = run_action(task_vars)
    passed = run_action(play_vars({**valid_env, **secrets, "WEBHOOK_SECRET": "w" * 40}))

    assert failed["failed"] is True
    assert passed.get("failed") is None
    for result in (failed, passed):
        dumped = json.dumps(result)
        assert all(value not in dumped for value in secrets.values())


def test_values_are_templated(valid_env: Mapping[str, object]) -> None:
    task_vars = play_vars(
        valid_env,
        vault_webhook_secret="short",
        hephaestus_webhook_secret=trust_as_template("{{ vault_webhook_secret }}"),
        hephaestus_sandbox_enabled=trust_as_template("{{ 1 == 1 }}"),
    )

    result = run_action(task_vars)

    rules = [violation["rule"] for violation in result["violations"]]
    assert rules == ["webhook-secret-length", "practice-review-bundle"]


def test_only_stack_variables_are_read(valid_env: Mapping[str, object]) -> None:
    # An undefined variable inside an unrelated hephaestus_* value must not break the check.
    task_vars = play_vars(
        valid_env, hephaestus_install_dir=trust_as_template("{{ undefined_thing }}")
    )

    assert run_action(task_vars)["violations"] == []


@pytest.mark.parametrize(
    ("task_vars_extra", "args", "expected"),
    [
        pytest.param(
            {"hephaestus_tier": "preview", "hephaestus_sandbox_enabled": True},
            {},
            ["practice-review-bundle", "preview-tier-limits"],
            id="tier-from-vars",
        ),
        pytest.param(
            {"hephaestus_tier": "preview", "hephaestus_keycloak_gitlab_enabled": True},
            {"tier": "staging"},
            [],
            id="tier-option-wins",
        ),
        pytest.param(
            {"hephaestus_tier": "preview", "hephaestus_keycloak_gitlab_enabled": True},
            {},
            ["preview-tier-limits"],
            id="preview-gitlab-without-validation",
        ),
        pytest.param(
            {
                "hephaestus_tier": "preview",
                "hephaestus_keycloak_gitlab_enabled": True,
                "hephaestus_rollout_validation": "True",
            },
            {},
            [],
            id="preview-gitlab-validation-from-vars",
        ),
        pytest.param(
            {"hephaestus_tier": "preview", "hephaestus_rollout_validation": True},
            {"rollout_validation": False, "env": {"GITLAB_ENABLED": True}},
            ["preview-tier-limits"],
            id="validation-option-wins",
        ),
        pytest.param(
            {"hephaestus_keycloak_skip_login": True},
            {"env": {"KEYCLOAK_SKIP_LOGIN": ""}},
            [],
            id="env-option-unsets",
        ),
        pytest.param(
            {},
            {"env": {"hephaestus_model_name": "gpt-4o", "SOMETHING_ELSE": 1}},
            ["model-name"],
            id="env-option-ansible-names",
        ),
        pytest.param(
            {},
            {"env": {"MODEL_NAME": "openai:gpt-4o", "hephaestus_model_name": "azure:gpt"}},
            ["model-name"],
            id="env-option-guide-name-wins",
        ),
    ],
)
def test_options_and_gate_variables(
    valid_env: Mapping[str, object],
    task_vars_extra: dict[str, Any],
    args: dict[str, Any],
    expected: list[str],
) -> None:
    result = run_action(play_vars(valid_env, **task_vars_extra), args)

    assert [violation["rule"] for violation in result["violations"]] == expected


def make_legal(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_text(f"# {name}\n")
    return directory


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(("imprint.md", "privacy.md"), [], id="complete"),
        pytest.param(("imprint.md",), ["legal-overrides-files"], id="privacy-missing"),
        pytest.param((), ["legal-overrides-files"] * 2, id="both-missing"),
    ],
)
def test_legal_overrides_dir_from_vars(
    tmp_path: Path,
    valid_env: Mapping[str, object],
    files: tuple[str, ...],
    expected: list[str],
) -> None:
    legal = make_legal(tmp_path / "legal", *files)
    task_vars = play_vars(
        valid_env, hephaestus_legal_profile=None, hephaestus_legal_overrides_dir=str(legal)
    )

    result = run_action(task_vars)

    assert [violation["rule"] for violation in result["violations"]] == expected


def test_legal_overrides_dir_option_is_relative_to_the_playbook(
    tmp_path: Path, valid_env: Mapping[str, object]
) -> None:
    make_legal(tmp_path / "files" / "legal", "imprint.md", "privacy.md")

    result = run_action(
        play_vars(valid_env, hephaestus_legal_profile=""),
        {"legal_overrides_dir": "files/legal"},
        basedir=tmp_path,
    )

    assert result["violations"] == []


def test_missing_legal_overrides_dir_is_a_violation(
    tmp_path: Path, valid_env: Mapping[str, object]
) -> None:
    task_vars = play_vars(valid_env, hephaestus_legal_overrides_dir=str(tmp_path / "nope"))

    result = run_action(task_vars)

    assert [violation["rule"] for violation in result["violations"]] == ["legal-overrides-files"]
    assert "not a directory" in result["msg"]


@pytest.mark.parametrize(
    ("task_vars_extra", "args", "match"),
    [
        pytest.param({"hephaestus_tier": None}, {}, "preview, staging, production", id="no-tier"),
        pytest.param({"hephaestus_tier": "qa"}, {}, "preview, staging, production", id="bad-tier"),
        pytest.param({}, {"tier": "qa"}, "preview, staging, production", id="bad-tier-option"),
        pytest.param(
            {"hephaestus_rollout_validation": "yes please"},
            {},
            "hephaestus_rollout_validation must be true or false",
            id="bad-validation-var",
        ),
        pytest.param({}, {"bogus": 1}, "bogus", id="unknown-option"),
    ],
)
def test_bad_gate_settings_fail_the_task(
    valid_env: Mapping[str, object],
    task_vars_extra: dict[str, Any],
    args: dict[str, Any],
    match: str,
) -> None:
    with pytest.raises(AnsibleActionFail, match=match):
        run_action(play_vars(valid_env, **task_vars_extra), args)


def test_async_is_refused(valid_env: Mapping[str, object]) -> None:
    with pytest.raises(AnsibleActionFail, match="async"):
        run_action(play_vars(valid_env), async_val=10)


PLAYBOOK = """\
- name: Gate a host that cannot be reached
  hosts: unreachable
  gather_facts: false
  tasks:
    - name: Judge the configuration
      tumaet.hephaestus.rollout_check:
      register: gate
      ignore_errors: true

    - name: Show the verdict
      ansible.builtin.debug:
        msg: "{{ gate.msg }}"

    - name: List the violations through the filter as well
      ansible.builtin.debug:
        msg: "{{ env | tumaet.hephaestus.rollout_violations(hephaestus_tier) | length }}"
      vars:
        env:
          SANDBOX_ENABLED: "{{ hephaestus_sandbox_enabled }}"
"""


@pytest.mark.parametrize(
    ("sandbox", "verdict"),
    [
        pytest.param(False, "rollout rules passed", id="valid-config"),
        pytest.param(True, "[practice-review-bundle]", id="half-set-bundle"),
    ],
)
def test_real_play_never_contacts_the_host(
    tmp_path: Path, valid_env: Mapping[str, object], sandbox: bool, verdict: str
) -> None:
    """A real ansible-playbook run against a host whose SSH port is closed."""
    collections = Path(rr.__file__).parents[5]
    host_vars = play_vars(valid_env, hephaestus_sandbox_enabled=sandbox)
    host_vars.pop("inventory_hostname")
    host_vars.update(ansible_host="127.0.0.1", ansible_port=1, ansible_connection="ssh")
    inventory = {"all": {"hosts": {"unreachable": host_vars}}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    (tmp_path / "play.yml").write_text(textwrap.dedent(PLAYBOOK))
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
    }

    process = subprocess.run(
        [sys.executable, "-m", "ansible.cli.playbook", "-i", "inventory.json", "play.yml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    output = process.stdout + process.stderr
    assert process.returncode == 0, output
    assert "UNREACHABLE" not in output
    assert verdict in output
    assert "unreachable=0" in output
