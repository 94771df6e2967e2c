"""Shared fixtures of the collection's unit tests."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import settings

# ansible-test puts the collection on the import path itself. A plain `pytest tests/unit`
# from the checkout finds it through the collections/ link back to the checkout root.
_CHECKOUT_COLLECTIONS = Path(__file__).resolve().parents[2] / "collections"
if (_CHECKOUT_COLLECTIONS / "ansible_collections").is_dir() and str(
    _CHECKOUT_COLLECTIONS
) not in sys.path:
    sys.path.insert(0, str(_CHECKOUT_COLLECTIONS))

# Judging one configuration takes well under a millisecond, but ansible-test runs every test in a
# forked process on a shared machine: a per-example deadline would only measure that machine.
settings.register_profile("rollout-gate", deadline=None)
settings.load_profile("rollout-gate")

# A configuration that passes every rule on every tier. Secrets are recognisable so that the
# tests can look for them in messages.
VALID_ENV: dict[str, object] = {
    "APP_HOSTNAME": "hephaestus.example.org",
    "IMAGE_TAG": "0.9.0",
    "TIMEZONE": "Europe/Berlin",
    "WEBHOOK_SECRET": "webhook-secret-0123456789abcdef0123456789abcdef",
    "KEYCLOAK_GITHUB_CLIENT_ID": "Iv1.0123456789abcdef",
    "KEYCLOAK_GITHUB_CLIENT_SECRET": "github-client-secret-0123456789",
    "KEYCLOAK_GITHUB_ADMIN_USERNAME": "octocat",
    "KC_BOOTSTRAP_ADMIN_USERNAME": "bootstrap-admin",
    "KC_BOOTSTRAP_ADMIN_PASSWORD": "bootstrap-password-0123456789",
    "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET": "confidential-secret-0123456789",
    "LEGAL_PROFILE": "tumaet",
    "NATS_ENABLED": True,
    "NATS_DURABLE_CONSUMER_NAME": "hephaestus",
    "MONITORING_RUN_ON_STARTUP": True,
    "MONITORING_TIMEFRAME": 7,
    "MONITORING_SYNC_CRON": "0 0 * * * *",
    "MONITORING_SYNC_COOLDOWN_IN_MINUTES": 60,
    "MONITORING_BACKFILL_ENABLED": True,
    "MONITORING_BACKFILL_BATCH_SIZE": 50,
    "MONITORING_BACKFILL_RATE_LIMIT_THRESHOLD": 500,
    "MONITORING_BACKFILL_INTERVAL_SECONDS": 60,
    "PRACTICE_REVIEW_SKIP_DRAFTS": True,
    "PRACTICE_REVIEW_DELIVER_TO_MERGED": False,
    "PRACTICE_REVIEW_COOLDOWN_MINUTES": 15,
    "PRACTICE_REVIEW_APP_BASE_URL": "https://hephaestus.example.org",
    "KEYCLOAK_GITLAB_CLIENT_ID": "gitlab-client-id",
    "KEYCLOAK_GITLAB_CLIENT_SECRET": "gitlab-client-secret-0123456789",
    "KEYCLOAK_GITLAB_BASE_URL": "https://gitlab.example.org",
    "WEBHOOK_EXTERNAL_URL": "https://hephaestus.example.org/webhooks",
    "MODEL_NAME": "azure:gpt-5.4-mini",
    "AZURE_RESOURCE_NAME": "hephaestus-openai",
    "AZURE_API_KEY": "azure-api-key-0123456789",
    "LLM_PROXY_AZURE_OPENAI_AUTH_HEADER": "api-key",
    "LLM_PROXY_AZURE_OPENAI_USE_BEARER": False,
    "SANDBOX_MAX_CONCURRENT": 5,
    "SANDBOX_MEMORY_BYTES": 4294967296,
    "SANDBOX_CPUS": "2.0",
    "LEADERBOARD_SCHEDULE_DAY": 2,
    "POSTHOG_ENABLED": "false",
    "KEYCLOAK_SKIP_LOGIN": "False",
}


@pytest.fixture(scope="session")
def valid_env() -> Mapping[str, object]:
    """A read-only configuration that passes every rule; tests copy it before changing it."""
    return MappingProxyType(VALID_ENV)
