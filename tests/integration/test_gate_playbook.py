"""site.yml's first play refuses a half-set bundle without contacting any host.

The staging inventory's host is pointed at a closed loopback port: a run that got past the gate
would report the host unreachable, a run the gate refused never tries to connect.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = shutil.which("ansible-playbook")

pytestmark = pytest.mark.skipif(PLAYBOOK is None, reason="ansible-playbook is not on PATH")

# Values for every REPLACE_ME in the staging inventory and vault example: test data only.
VALID = {
    "hephaestus_image_tag": "1.2.3",
    "hephaestus_acme_email": "ops@example.org",
    "hephaestus_keycloak_github_client_id": "gh-client-id",
    "hephaestus_keycloak_github_admin_username": "octo-admin",
    "hephaestus_keycloak_gitlab_client_id": "gitlab-application-id",
    "hephaestus_webhook_secret": "w" * 40,
    "hephaestus_kc_bootstrap_admin_password": "kc-admin-password-for-tests",
    "hephaestus_keycloak_hephaestus_confidential_client_secret": "c" * 40,
    "hephaestus_keycloak_github_client_secret": "gh-client-secret-for-tests",
    "hephaestus_keycloak_gitlab_client_secret": "gitlab-secret-for-tests",
    "hephaestus_openai_api_key": "sk-test-key",
}

CLOSED_PORT = {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh"}


def run_site(tmp_path: Path, extra: dict[str, object]) -> subprocess.CompletedProcess[str]:
    extra_file = tmp_path / "extra.json"
    extra_file.write_text(json.dumps({**CLOSED_PORT, **extra}))
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="true")
    return subprocess.run(
        [
            PLAYBOOK or "ansible-playbook",
            "site.yml",
            "-i",
            "inventories/staging",
            "-e",
            f"@{extra_file}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_half_set_bundle_is_refused_before_any_host_is_contacted(tmp_path: Path) -> None:
    half_set = {**VALID, "hephaestus_sandbox_enabled": True, "hephaestus_agent_nats_enabled": True}

    result = run_site(tmp_path, half_set)

    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "Judge the configuration against the rollout rules" in out
    assert "practice-review" in out
    assert "SANDBOX_ENABLED" in out and "GIT_CHECKOUT_ENABLED" in out
    assert "UNREACHABLE" not in out
    assert "Gathering Facts" not in out
    # Staging also needs hephaestus_rollout_validation for that bundle: every violation at once.
    assert "hephaestus_rollout_validation" in out


def test_placeholders_and_missing_secrets_are_all_named(tmp_path: Path) -> None:
    result = run_site(tmp_path, {})

    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "UNREACHABLE" not in out
    for name in (
        "WEBHOOK_SECRET",
        "KC_BOOTSTRAP_ADMIN_PASSWORD",
        "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET",
    ):
        assert name in out


def test_valid_configuration_gets_past_the_gate_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_site(tmp_path, VALID)
    elapsed = time.monotonic() - started

    out = result.stdout + result.stderr
    # Past the gate, the next play tries the closed port.
    assert "UNREACHABLE" in out, out
    assert "violation" not in out.lower()
    assert elapsed < 60


def test_valid_configuration_passes_no_secret_to_the_output(tmp_path: Path) -> None:
    result = run_site(tmp_path, {**VALID, "hephaestus_sandbox_enabled": True})

    out = result.stdout + result.stderr
    for name, value in VALID.items():
        if "secret" in name or "password" in name or "key" in name:
            assert value not in out, name
