"""Table-driven tests of every rollout rule, each with passing and failing cases."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.tumaet.hephaestus.plugins.module_utils import rollout_rules as rr

UNSET = object()  # marks a variable to remove from the valid configuration

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
    "-----END RSA PRIVATE KEY-----\n"
)


def case(
    rule: str,
    case_id: str,
    changes: Mapping[str, object],
    expected: list[str],
    tier: str = "production",
    validation: bool = False,
    legal_overrides: bool = False,
) -> Any:
    """One row of the rule table: the rule it exercises, and the rules expected to fail."""
    return pytest.param(
        rule, changes, tier, validation, legal_overrides, expected, id=f"{rule}/{case_id}"
    )


def judge(
    base: Mapping[str, object],
    changes: Mapping[str, object],
    tier: str = "production",
    validation: bool = False,
    legal_overrides: bool = False,
) -> list[rr.Violation]:
    env = {**base, **changes}
    env = {key: value for key, value in env.items() if value is not UNSET}
    return rr.rollout_violations(env, tier, validation, legal_overrides)


ALL_ON = dict.fromkeys(rr.PRACTICE_REVIEW_SWITCHES, True)
GITLAB_ON = {"KEYCLOAK_GITLAB_ENABLED": True, "GITLAB_ENABLED": True}

RULE_CASES = [
    # required-values
    case("required-values", "required-all-set", {}, []),
    case(
        "required-values",
        "required-missing-webhook-secret",
        {"WEBHOOK_SECRET": UNSET},
        ["required-values"],
    ),
    case(
        "required-values",
        "required-empty-string-is-unset",
        {"KC_BOOTSTRAP_ADMIN_PASSWORD": ""},
        ["required-values"],
    ),
    case(
        "required-values",
        "required-blank-string-is-unset",
        {"KEYCLOAK_GITHUB_ADMIN_USERNAME": "  "},
        ["required-values"],
    ),
    case(
        "required-values",
        "required-none-is-unset",
        {"KEYCLOAK_GITHUB_CLIENT_ID": None},
        ["required-values"],
    ),
    case(
        "required-values", "required-missing-hostname", {"APP_HOSTNAME": UNSET}, ["required-values"]
    ),
    case(
        "required-values",
        "nats-off-without-consumer",
        {"NATS_ENABLED": False, "NATS_DURABLE_CONSUMER_NAME": UNSET},
        [],
    ),
    case(
        "required-values",
        "nats-on-without-consumer",
        {"NATS_DURABLE_CONSUMER_NAME": ""},
        ["required-values"],
    ),
    case(
        "required-values",
        "nats-and-secret-missing",
        {"NATS_DURABLE_CONSUMER_NAME": None, "WEBHOOK_SECRET": None},
        ["required-values", "required-values"],
    ),
    # placeholder-values
    case("placeholder-values", "placeholder-none-left", {"IMAGE_TAG": "1.2.3"}, []),
    case(
        "placeholder-values",
        "placeholder-left-in-a-secret",
        {"KEYCLOAK_GITHUB_CLIENT_SECRET": "REPLACE_ME-github-oauth-client-secret"},
        ["placeholder-values"],
    ),
    case(
        "placeholder-values",
        "placeholder-left-in-a-plain-value",
        {"IMAGE_TAG": "REPLACE_ME-release-tag"},
        ["placeholder-values"],
    ),
    # image-tag-pinned
    case("image-tag-pinned", "image-tag-release", {"IMAGE_TAG": "1.2.3"}, []),
    case(
        "image-tag-pinned",
        "image-tag-latest-allowed-on-preview",
        {"IMAGE_TAG": "latest"},
        [],
        tier="preview",
    ),
    case("image-tag-pinned", "image-tag-unset", {"IMAGE_TAG": UNSET}, ["image-tag-pinned"]),
    case(
        "image-tag-pinned",
        "image-tag-latest-on-production",
        {"IMAGE_TAG": "latest"},
        ["image-tag-pinned"],
    ),
    case(
        "image-tag-pinned",
        "image-tag-latest-on-staging",
        {"IMAGE_TAG": "Latest"},
        ["image-tag-pinned"],
        tier="staging",
    ),
    # scalar-values
    case("scalar-values", "scalar-number-for-text", {"IMAGE_TAG": 1}, []),
    case("scalar-values", "scalar-list-for-text", {"IMAGE_TAG": ["0.9.0"]}, ["scalar-values"]),
    case(
        "scalar-values", "scalar-mapping-for-secret", {"GH_AUTH_TOKEN": {"a": 1}}, ["scalar-values"]
    ),
    # boolean-values
    case(
        "boolean-values",
        "boolean-mixed-case",
        {"POSTHOG_ENABLED": "TRUE", "TANSTACK_DEVTOOLS_ENABLED": "False"},
        [],
    ),
    case("boolean-values", "boolean-prose", {"POSTHOG_ENABLED": "yes please"}, ["boolean-values"]),
    case("boolean-values", "boolean-number", {"TANSTACK_DEVTOOLS_ENABLED": 1}, ["boolean-values"]),
    case(
        "boolean-values",
        "boolean-yes",
        {"LEADERBOARD_NOTIFICATION_ENABLED": "yes"},
        ["boolean-values"],
    ),
    case(
        "boolean-values",
        "boolean-bad-bundle-switch",
        {"SANDBOX_ENABLED": "yes please"},
        ["boolean-values"],
    ),
    # integer-values
    case(
        "integer-values",
        "integer-text",
        {"SANDBOX_MAX_CONCURRENT": "5", "LEADERBOARD_SCHEDULE_DAY": "2"},
        [],
    ),
    case("integer-values", "integer-word", {"SANDBOX_MAX_CONCURRENT": "five"}, ["integer-values"]),
    case("integer-values", "integer-negative", {"SANDBOX_MEMORY_BYTES": -1}, ["integer-values"]),
    case("integer-values", "integer-bool", {"SANDBOX_MAX_CONCURRENT": True}, ["integer-values"]),
    case("integer-values", "integer-float", {"LEADERBOARD_SCHEDULE_DAY": 2.5}, ["integer-values"]),
    # app-hostname
    case("app-hostname", "hostname-single-label", {"APP_HOSTNAME": "localhost"}, []),
    case("app-hostname", "hostname-mixed-case", {"APP_HOSTNAME": "Hephaestus.Example.ORG"}, []),
    case(
        "app-hostname",
        "hostname-scheme",
        {"APP_HOSTNAME": "https://hephaestus.example.org"},
        ["app-hostname"],
    ),
    case(
        "app-hostname",
        "hostname-port",
        {"APP_HOSTNAME": "hephaestus.example.org:8443"},
        ["app-hostname"],
    ),
    case(
        "app-hostname",
        "hostname-path",
        {"APP_HOSTNAME": "hephaestus.example.org/app"},
        ["app-hostname"],
    ),
    case("app-hostname", "hostname-ip-address", {"APP_HOSTNAME": "10.0.0.1"}, ["app-hostname"]),
    case(
        "app-hostname",
        "hostname-leading-dash",
        {"APP_HOSTNAME": "-x.example.org"},
        ["app-hostname"],
    ),
    case(
        "app-hostname",
        "hostname-trailing-dot",
        {"APP_HOSTNAME": "hephaestus.example.org."},
        ["app-hostname"],
    ),
    # webhook-secret-length
    case("webhook-secret-length", "webhook-secret-32-chars", {"WEBHOOK_SECRET": "s" * 32}, []),
    case(
        "webhook-secret-length",
        "webhook-secret-31-chars",
        {"WEBHOOK_SECRET": "s" * 31},
        ["webhook-secret-length"],
    ),
    # practice-review-bundle
    case("practice-review-bundle", "bundle-all-on", ALL_ON, []),
    case("practice-review-bundle", "bundle-all-on-as-text", dict.fromkeys(ALL_ON, "True"), []),
    case("practice-review-bundle", "bundle-all-off", {"NATS_ENABLED": False}, []),
    case("practice-review-bundle", "bundle-nats-only", {"NATS_ENABLED": "true"}, []),
    case(
        "practice-review-bundle",
        "bundle-sandbox-only",
        {"SANDBOX_ENABLED": True, "NATS_ENABLED": False},
        ["practice-review-bundle"],
    ),
    case(
        "practice-review-bundle",
        "bundle-three-of-four",
        {**ALL_ON, "GIT_CHECKOUT_ENABLED": "false"},
        ["practice-review-bundle"],
    ),
    case(
        "practice-review-bundle",
        "bundle-agent-without-nats",
        {**ALL_ON, "NATS_ENABLED": UNSET},
        ["practice-review-bundle"],
    ),
    # practice-review-for-all
    case(
        "practice-review-for-all",
        "for-all-with-bundle",
        {**ALL_ON, "PRACTICE_REVIEW_FOR_ALL": True},
        [],
    ),
    case("practice-review-for-all", "for-all-off", {"PRACTICE_REVIEW_FOR_ALL": "false"}, []),
    case(
        "practice-review-for-all",
        "for-all-without-bundle",
        {"PRACTICE_REVIEW_FOR_ALL": True},
        ["practice-review-for-all"],
    ),
    # practice-review-settings
    case(
        "practice-review-settings",
        "review-settings-zero-cooldown",
        {"PRACTICE_REVIEW_COOLDOWN_MINUTES": "0"},
        [],
    ),
    case(
        "practice-review-settings",
        "review-settings-negative-cooldown",
        {"PRACTICE_REVIEW_COOLDOWN_MINUTES": -5},
        ["practice-review-settings"],
    ),
    case(
        "practice-review-settings",
        "review-settings-cooldown-words",
        {"PRACTICE_REVIEW_COOLDOWN_MINUTES": "15m"},
        ["practice-review-settings"],
    ),
    case(
        "practice-review-settings",
        "review-settings-http-url",
        {"PRACTICE_REVIEW_APP_BASE_URL": "http://h.example.org"},
        ["practice-review-settings"],
    ),
    case(
        "practice-review-settings",
        "review-settings-no-host",
        {"PRACTICE_REVIEW_APP_BASE_URL": "https://"},
        ["practice-review-settings"],
    ),
    case(
        "practice-review-settings",
        "review-settings-bad-skip-drafts",
        {"PRACTICE_REVIEW_SKIP_DRAFTS": "maybe"},
        ["practice-review-settings"],
    ),
    case(
        "practice-review-settings",
        "review-settings-bad-merged",
        {"PRACTICE_REVIEW_DELIVER_TO_MERGED": 0},
        ["practice-review-settings"],
    ),
    # gitlab-workspace-needs-provider
    case(
        "gitlab-workspace-needs-provider",
        "workspace-with-gitlab",
        {**GITLAB_ON, "GITLAB_WORKSPACE_CREATION": True},
        [],
    ),
    case(
        "gitlab-workspace-needs-provider",
        "workspace-without-login",
        {"GITLAB_ENABLED": True, "GITLAB_WORKSPACE_CREATION": "true"},
        ["gitlab-workspace-needs-provider"],
    ),
    case(
        "gitlab-workspace-needs-provider",
        "workspace-alone",
        {"GITLAB_WORKSPACE_CREATION": True},
        ["gitlab-workspace-needs-provider"],
    ),
    # gitlab-provider-settings
    case("gitlab-provider-settings", "provider-complete", {"KEYCLOAK_GITLAB_ENABLED": True}, []),
    case(
        "gitlab-provider-settings",
        "provider-off-incomplete",
        {"KEYCLOAK_GITLAB_CLIENT_SECRET": UNSET, "KEYCLOAK_GITLAB_BASE_URL": UNSET},
        [],
    ),
    case(
        "gitlab-provider-settings",
        "provider-no-secret",
        {"KEYCLOAK_GITLAB_ENABLED": True, "KEYCLOAK_GITLAB_CLIENT_SECRET": UNSET},
        ["gitlab-provider-settings"],
    ),
    case(
        "gitlab-provider-settings",
        "provider-no-base-url",
        {"KEYCLOAK_GITLAB_ENABLED": True, "KEYCLOAK_GITLAB_BASE_URL": ""},
        ["gitlab-provider-settings"],
    ),
    case(
        "gitlab-provider-settings",
        "provider-http-base-url",
        {"KEYCLOAK_GITLAB_ENABLED": True, "KEYCLOAK_GITLAB_BASE_URL": "http://gitlab.example.org"},
        ["gitlab-provider-settings"],
    ),
    # gitlab-webhook-settings
    case("gitlab-webhook-settings", "webhook-url-gitlab-off", {"WEBHOOK_EXTERNAL_URL": UNSET}, []),
    case("gitlab-webhook-settings", "webhook-url-set", GITLAB_ON, []),
    case(
        "gitlab-webhook-settings",
        "webhook-url-missing",
        {"GITLAB_ENABLED": True, "WEBHOOK_EXTERNAL_URL": UNSET},
        ["gitlab-webhook-settings"],
    ),
    case(
        "gitlab-webhook-settings",
        "webhook-url-http",
        {"KEYCLOAK_GITLAB_ENABLED": True, "WEBHOOK_EXTERNAL_URL": "http://h.example.org/webhooks"},
        ["gitlab-webhook-settings"],
    ),
    case(
        "gitlab-webhook-settings",
        "webhook-secret-missing",
        {"GITLAB_ENABLED": True, "WEBHOOK_SECRET": UNSET},
        ["required-values", "gitlab-webhook-settings"],
    ),
    case(
        "gitlab-webhook-settings",
        "webhook-secret-and-url-missing",
        {**GITLAB_ON, "WEBHOOK_SECRET": "", "WEBHOOK_EXTERNAL_URL": None},
        ["required-values", "gitlab-webhook-settings", "gitlab-webhook-settings"],
    ),
    case(
        "gitlab-webhook-settings",
        "webhook-url-bad-port",
        {"GITLAB_ENABLED": True, "WEBHOOK_EXTERNAL_URL": "https://h.example.org:99999/"},
        ["gitlab-webhook-settings"],
    ),
    # preview-tier-limits
    case("preview-tier-limits", "preview-defaults", {}, [], tier="preview"),
    case(
        "preview-tier-limits",
        "preview-gitlab-login",
        {"KEYCLOAK_GITLAB_ENABLED": True},
        ["preview-tier-limits"],
        tier="preview",
    ),
    case(
        "preview-tier-limits",
        "preview-gitlab-server",
        {"GITLAB_ENABLED": "true"},
        ["preview-tier-limits"],
        tier="preview",
    ),
    case(
        "preview-tier-limits",
        "preview-sandbox-without-validation",
        ALL_ON,
        ["preview-tier-limits"],
        tier="preview",
    ),
    case(
        "preview-tier-limits",
        "preview-sandbox-with-validation",
        ALL_ON,
        [],
        tier="preview",
        validation=True,
    ),
    case(
        "preview-tier-limits",
        "preview-gitlab-with-validation",
        {**GITLAB_ON, "GITLAB_WORKSPACE_CREATION": True},
        [],
        tier="preview",
        validation=True,
    ),
    # staging-practice-review-validation
    case("staging-practice-review-validation", "staging-defaults", {}, [], tier="staging"),
    case(
        "staging-practice-review-validation",
        "staging-gitlab-first",
        {**GITLAB_ON, "GITLAB_WORKSPACE_CREATION": True},
        [],
        tier="staging",
    ),
    case(
        "staging-practice-review-validation",
        "staging-review-without-validation",
        ALL_ON,
        ["staging-practice-review-validation"],
        tier="staging",
    ),
    case(
        "staging-practice-review-validation",
        "staging-review-with-validation",
        ALL_ON,
        [],
        tier="staging",
        validation=True,
    ),
    # production-legal-pages
    case("production-legal-pages", "production-legal-profile", {}, []),
    case(
        "production-legal-pages",
        "production-legal-overrides",
        {"LEGAL_PROFILE": UNSET},
        [],
        legal_overrides=True,
    ),
    case(
        "production-legal-pages",
        "production-disclaimer",
        {"LEGAL_PROFILE": UNSET},
        ["production-legal-pages"],
    ),
    case(
        "production-legal-pages",
        "production-invalid-profile",
        {"LEGAL_PROFILE": "TUM AET"},
        ["production-legal-pages", "legal-profile"],
    ),
    case("production-legal-pages", "staging-disclaimer", {"LEGAL_PROFILE": ""}, [], tier="staging"),
    # production-login
    case("production-login", "production-login-kept", {"KEYCLOAK_SKIP_LOGIN": False}, []),
    case(
        "production-login",
        "production-skip-login",
        {"KEYCLOAK_SKIP_LOGIN": "true"},
        ["production-login"],
    ),
    case(
        "production-login", "preview-skip-login", {"KEYCLOAK_SKIP_LOGIN": True}, [], tier="preview"
    ),
    # model-name
    case("model-name", "model-unset", {"MODEL_NAME": UNSET}, []),
    case("model-name", "model-azure", {}, []),
    case(
        "model-name",
        "model-openai",
        {"MODEL_NAME": "openai:gpt-4o", "OPENAI_API_KEY": "sk-0123456789"},
        [],
    ),
    case("model-name", "model-other-provider", {"MODEL_NAME": "anthropic:claude-sonnet"}, []),
    case(
        "model-name",
        "model-fine-tuned-colons",
        {"MODEL_NAME": "openai:ft:gpt-4o:org", "OPENAI_API_KEY": "k"},
        [],
    ),
    case("model-name", "model-unqualified", {"MODEL_NAME": "gpt-4o"}, ["model-name"]),
    case("model-name", "model-empty-model", {"MODEL_NAME": "openai:"}, ["model-name"]),
    case("model-name", "model-empty-provider", {"MODEL_NAME": ":gpt-4o"}, ["model-name"]),
    case("model-name", "model-openai-without-key", {"MODEL_NAME": "openai:gpt-4o"}, ["model-name"]),
    case("model-name", "model-azure-without-key", {"AZURE_API_KEY": UNSET}, ["model-name"]),
    case(
        "model-name", "model-azure-without-resource", {"AZURE_RESOURCE_NAME": None}, ["model-name"]
    ),
    # github-app
    case("github-app", "github-pat-unset", {"GH_APP_ID": UNSET}, []),
    case("github-app", "github-pat-zero", {"GH_APP_ID": 0}, []),
    case("github-app", "github-pat-zero-text", {"GH_APP_ID": "0"}, []),
    case("github-app", "github-app-key", {"GH_APP_ID": 123456, "GH_APP_PRIVATE_KEY": PEM}, []),
    case(
        "github-app",
        "github-app-key-escaped",
        {"GH_APP_ID": "1", "GH_APP_PRIVATE_KEY": PEM.replace("\n", "\\n")},
        [],
    ),
    case(
        "github-app",
        "github-app-key-file",
        {"GH_APP_ID": "42", "GH_APP_PRIVATE_KEY_LOCATION": "/run/gh.pem"},
        [],
    ),
    case(
        "github-app",
        "github-app-install-url",
        {"GH_APP_ID": 0, "GH_APP_INSTALLATION_URL": "https://github.com/apps/x/installations/new"},
        [],
    ),
    case("github-app", "github-app-no-key", {"GH_APP_ID": 123456}, ["github-app"]),
    case(
        "github-app",
        "github-app-bad-key",
        {"GH_APP_ID": 1, "GH_APP_PRIVATE_KEY": "not a key"},
        ["github-app"],
    ),
    case(
        "github-app",
        "github-app-public-key",
        {"GH_APP_ID": 1, "GH_APP_PRIVATE_KEY": PEM.replace("PRIVATE", "PUBLIC")},
        ["github-app"],
    ),
    case(
        "github-app",
        "github-app-mismatched-key",
        {"GH_APP_ID": 1, "GH_APP_PRIVATE_KEY": PEM.replace("END RSA", "END EC")},
        ["github-app"],
    ),
    case(
        "github-app",
        "github-app-empty-key-body",
        {
            "GH_APP_ID": 1,
            "GH_APP_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----",
        },
        ["github-app"],
    ),
    case("github-app", "github-app-id-word", {"GH_APP_ID": "my-app"}, ["github-app"]),
    case("github-app", "github-app-id-negative", {"GH_APP_ID": -3}, ["github-app"]),
    case(
        "github-app",
        "github-app-install-url-http",
        {"GH_APP_ID": 0, "GH_APP_INSTALLATION_URL": "http://github.com/apps/x"},
        ["github-app"],
    ),
    # legal-profile
    case("legal-profile", "legal-profile-chars", {"LEGAL_PROFILE": "my-org_2"}, []),
    case("legal-profile", "legal-profile-32-chars", {"LEGAL_PROFILE": "a" * 32}, []),
    # On staging: on production an invalid profile also serves the disclaimer.
    case(
        "legal-profile",
        "legal-profile-uppercase",
        {"LEGAL_PROFILE": "TUMAET"},
        ["legal-profile"],
        tier="staging",
    ),
    case(
        "legal-profile",
        "legal-profile-33-chars",
        {"LEGAL_PROFILE": "a" * 33},
        ["legal-profile"],
        tier="staging",
    ),
    case(
        "legal-profile",
        "legal-profile-path",
        {"LEGAL_PROFILE": "../etc"},
        ["legal-profile"],
        tier="preview",
    ),
    # monitoring-sync-cron
    case("monitoring-sync-cron", "cron-hourly", {"MONITORING_SYNC_CRON": "0 0 * * * *"}, []),
    case(
        "monitoring-sync-cron",
        "cron-five-fields",
        {"MONITORING_SYNC_CRON": "0 * * * *"},
        ["monitoring-sync-cron"],
    ),
    # monitoring-settings
    case(
        "monitoring-settings",
        "monitoring-text-numbers",
        {"MONITORING_TIMEFRAME": "14", "MONITORING_BACKFILL_RATE_LIMIT_THRESHOLD": 0},
        [],
    ),
    case(
        "monitoring-settings",
        "monitoring-zero-timeframe",
        {"MONITORING_TIMEFRAME": 0},
        ["monitoring-settings"],
    ),
    case(
        "monitoring-settings",
        "monitoring-negative-threshold",
        {"MONITORING_BACKFILL_RATE_LIMIT_THRESHOLD": "-1"},
        ["monitoring-settings"],
    ),
    case(
        "monitoring-settings",
        "monitoring-batch-word",
        {"MONITORING_BACKFILL_BATCH_SIZE": "fifty"},
        ["monitoring-settings"],
    ),
    case(
        "monitoring-settings",
        "monitoring-interval-zero",
        {"MONITORING_BACKFILL_INTERVAL_SECONDS": "0"},
        ["monitoring-settings"],
    ),
    case(
        "monitoring-settings",
        "monitoring-cooldown-float",
        {"MONITORING_SYNC_COOLDOWN_IN_MINUTES": 1.5},
        ["monitoring-settings"],
    ),
    case(
        "monitoring-settings",
        "monitoring-startup-maybe",
        {"MONITORING_RUN_ON_STARTUP": "maybe"},
        ["monitoring-settings"],
    ),
    case(
        "monitoring-settings",
        "monitoring-backfill-on",
        {"MONITORING_BACKFILL_ENABLED": "off"},
        ["monitoring-settings"],
    ),
]


@pytest.mark.parametrize(("rule", "changes", "tier", "validation", "legal", "expected"), RULE_CASES)
def test_rule(
    valid_env: Mapping[str, object],
    rule: str,
    changes: Mapping[str, object],
    tier: str,
    validation: bool,
    legal: bool,
    expected: list[str],
) -> None:
    violations = judge(valid_env, changes, tier, validation, legal)

    assert [violation["rule"] for violation in violations] == expected
    assert not expected or rule in expected
    for violation in violations:
        assert violation["rule"] in rr.RULES
        for name in violation["variables"]:
            assert rr.ansible_name(name) in violation["message"]


def test_every_rule_is_tested_both_ways() -> None:
    failing = {param.values[0] for param in RULE_CASES if param.values[-1]}
    passing = {param.values[0] for param in RULE_CASES if not param.values[-1]}

    assert failing == set(rr.RULES)
    assert passing == set(rr.RULES)


CRON_CASES = [
    pytest.param("0 0 * * * *", None, id="hourly"),
    pytest.param("*/30 */15 8-18 * * MON-FRI", None, id="steps-and-day-names"),
    pytest.param("0 0 9 ? * mon#1", None, id="nth-weekday-lowercase"),
    pytest.param("0 0 0 L * ?", None, id="last-day-of-month"),
    pytest.param("0 0 0 L-3 * ?", None, id="third-last-day"),
    pytest.param("0 0 12 15W * ?", None, id="nearest-weekday"),
    pytest.param("0 0 12 LW * ?", None, id="last-weekday"),
    pytest.param("0 0 12 ? * 5L", None, id="last-friday"),
    pytest.param("0 0 0 1,15 JAN-MAR,DEC 0", None, id="lists-and-month-names"),
    pytest.param("0 0 0 * * 7", None, id="sunday-as-seven"),
    pytest.param("0 5/10 * * * *", None, id="start-and-step"),
    pytest.param("  0   0 *  * * *  ", None, id="extra-whitespace"),
    pytest.param("@hourly", None, id="macro"),
    pytest.param("-", None, id="disabled"),
    pytest.param("0 0 * * *", "5 fields", id="unix-five-fields"),
    pytest.param("0 0 0 * * * 2030", "7 fields", id="quartz-year-field"),
    pytest.param("60 0 * * * *", "second", id="second-out-of-range"),
    pytest.param("0 0 24 * * *", "hour", id="hour-out-of-range"),
    pytest.param("0 0 * 0 * *", "day of month", id="day-zero"),
    pytest.param("0 0 * * 13 *", "month", id="month-thirteen"),
    pytest.param("0 0 * * * FUNDAY", "day of week", id="unknown-day-name"),
    pytest.param("0 */0 * * * *", "minute", id="zero-step"),
    pytest.param("0 5-1 * * * *", "minute", id="reversed-range"),
    pytest.param("? 0 * * * *", "second", id="question-mark-in-seconds"),
    pytest.param("0 0 * * * MON#6", "day of week", id="sixth-weekday"),
    pytest.param("0 0 0 1,,2 * *", "day of month", id="empty-list-item"),
    pytest.param("@every", "1 fields", id="unknown-macro"),
]


@pytest.mark.parametrize(("expression", "problem"), CRON_CASES)
def test_cron_problem(expression: str, problem: str | None) -> None:
    found = rr.cron_problem(expression)

    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_unknown_tier_names_the_tiers(valid_env: Mapping[str, object]) -> None:
    with pytest.raises(ValueError, match="preview, staging, production"):
        rr.rollout_violations(valid_env, "prod")


def test_all_violations_at_once_in_rule_order(valid_env: Mapping[str, object]) -> None:
    changes = {
        "WEBHOOK_SECRET": "short",
        "LEGAL_PROFILE": UNSET,
        "KEYCLOAK_SKIP_LOGIN": True,
        "GITLAB_WORKSPACE_CREATION": True,
        "SANDBOX_ENABLED": True,
        "POSTHOG_ENABLED": "yes please",
        "MODEL_NAME": "gpt-4o",
        "MONITORING_SYNC_CRON": "hourly",
    }

    first = judge(valid_env, changes)
    second = judge(valid_env, dict(reversed(list(changes.items()))))

    assert [violation["rule"] for violation in first] == [
        "boolean-values",
        "webhook-secret-length",
        "practice-review-bundle",
        "gitlab-workspace-needs-provider",
        "production-legal-pages",
        "production-login",
        "model-name",
        "monitoring-sync-cron",
    ]
    assert first == second


def test_bad_boolean_is_a_violation_naming_the_variable(valid_env: Mapping[str, object]) -> None:
    violations = judge(valid_env, {"GIT_CHECKOUT_ENABLED": "yes please"})

    assert violations == [
        {
            "rule": "boolean-values",
            "message": "hephaestus_git_checkout_enabled is 'yes please': set it to true or false",
            "variables": ["GIT_CHECKOUT_ENABLED"],
        }
    ]


def test_messages_name_the_fix_variables(valid_env: Mapping[str, object]) -> None:
    preview = judge(valid_env, {"SANDBOX_ENABLED": True}, tier="preview")
    legal = judge(valid_env, {"LEGAL_PROFILE": UNSET})

    assert "hephaestus_rollout_validation" in preview[-1]["message"]
    assert "hephaestus_legal_overrides_dir" in legal[0]["message"]
    assert "hephaestus_legal_profile" in legal[0]["message"]


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("WEBHOOK_SECRET", id="short-webhook-secret"),
        pytest.param("GH_APP_PRIVATE_KEY", id="malformed-app-key"),
        pytest.param("OPENAI_API_KEY", id="list-api-key"),
    ],
)
def test_secret_values_stay_out_of_messages(valid_env: Mapping[str, object], secret: str) -> None:
    value = "hunter2-do-not-print"
    changes: dict[str, object] = {"GH_APP_ID": 7, secret: value}
    if secret == "OPENAI_API_KEY":
        changes[secret] = [value]

    violations = judge(valid_env, changes)

    assert violations
    assert all(value not in violation["message"] for violation in violations)


def test_ansible_names_are_accepted(valid_env: Mapping[str, object]) -> None:
    env = {rr.ansible_name(name): value for name, value in valid_env.items()}

    assert rr.rollout_violations(env, "production") == []


def test_guide_name_wins_over_ansible_name(valid_env: Mapping[str, object]) -> None:
    env = {**valid_env, "hephaestus_keycloak_skip_login": True}
    reversed_env = {"hephaestus_keycloak_skip_login": True, **valid_env}

    assert rr.rollout_violations(env, "production") == []
    assert rr.rollout_violations(reversed_env, "production") == []


def test_unknown_keys_are_ignored(valid_env: Mapping[str, object]) -> None:
    env = {**valid_env, "SOMETHING_ELSE": "yes please", "hephaestus_tier": "nonsense"}

    assert rr.rollout_violations(env, "production") == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("WEBHOOK_SECRET", "hephaestus_webhook_secret", id="secret"),
        pytest.param(
            "KC_BOOTSTRAP_ADMIN_USERNAME", "hephaestus_kc_bootstrap_admin_username", id="kc"
        ),
        pytest.param("GH_APP_ID", "hephaestus_gh_app_id", id="github-app"),
    ],
)
def test_ansible_name(name: str, expected: str) -> None:
    assert rr.ansible_name(name) == expected
    assert rr.VARIABLES[name].ansible_name == expected
    assert rr.guide_name(expected) == name
    assert rr.guide_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("hephaestus_tier", id="gate-variable"),
        pytest.param("hephaestus_WEBHOOK_SECRET", id="wrong-case"),
        pytest.param("WEBHOOK_SECRETS", id="typo"),
    ],
)
def test_guide_name_of_unknown_names(name: str) -> None:
    assert rr.guide_name(name) is None


GUIDE_VARIABLES = [
    "WEBHOOK_SECRET",
    "KEYCLOAK_GITHUB_CLIENT_ID",
    "KEYCLOAK_GITHUB_CLIENT_SECRET",
    "KEYCLOAK_GITHUB_ADMIN_USERNAME",
    "KC_BOOTSTRAP_ADMIN_USERNAME",
    "KC_BOOTSTRAP_ADMIN_PASSWORD",
    "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "LEGAL_PROFILE",
    "GH_APP_ID",
    "GH_APP_PRIVATE_KEY",
    "GH_APP_PRIVATE_KEY_LOCATION",
    "GH_APP_INSTALLATION_URL",
    "KEYCLOAK_GITLAB_ENABLED",
    "KEYCLOAK_GITLAB_CLIENT_ID",
    "KEYCLOAK_GITLAB_CLIENT_SECRET",
    "KEYCLOAK_GITLAB_BASE_URL",
    "KEYCLOAK_GITLAB_ADMIN_USERNAME",
    "GITLAB_ENABLED",
    "GITLAB_WORKSPACE_CREATION",
    "WEBHOOK_EXTERNAL_URL",
    "PRACTICE_REVIEW_FOR_ALL",
    "PRACTICE_REVIEW_SKIP_DRAFTS",
    "PRACTICE_REVIEW_DELIVER_TO_MERGED",
    "PRACTICE_REVIEW_COOLDOWN_MINUTES",
    "PRACTICE_REVIEW_APP_BASE_URL",
    "SANDBOX_ENABLED",
    "AGENT_NATS_ENABLED",
    "GIT_CHECKOUT_ENABLED",
    "NATS_ENABLED",
    "NATS_DURABLE_CONSUMER_NAME",
    "MODEL_NAME",
    "OPENAI_API_KEY",
    "AZURE_RESOURCE_NAME",
    "AZURE_API_KEY",
    "LLM_PROXY_AZURE_OPENAI_URL",
    "LLM_PROXY_AZURE_OPENAI_AUTH_HEADER",
    "LLM_PROXY_AZURE_OPENAI_USE_BEARER",
    "MONITORING_RUN_ON_STARTUP",
    "MONITORING_TIMEFRAME",
    "MONITORING_SYNC_CRON",
    "MONITORING_SYNC_COOLDOWN_IN_MINUTES",
    "MONITORING_BACKFILL_ENABLED",
    "MONITORING_BACKFILL_BATCH_SIZE",
    "MONITORING_BACKFILL_RATE_LIMIT_THRESHOLD",
    "MONITORING_BACKFILL_INTERVAL_SECONDS",
    "APP_HOSTNAME",
    "IMAGE_TAG",
    "TIMEZONE",
    "KEYCLOAK_SKIP_LOGIN",
    "GH_AUTH_TOKEN",
    "LEADERBOARD_NOTIFICATION_ENABLED",
    "LEADERBOARD_NOTIFICATION_TEAM",
    "LEADERBOARD_NOTIFICATION_CHANNEL_ID",
    "LEADERBOARD_SCHEDULE_DAY",
    "LEADERBOARD_SCHEDULE_TIME",
    "SANDBOX_DOCKER_HOST",
    "SANDBOX_MAX_CONCURRENT",
    "SANDBOX_MEMORY_BYTES",
    "SANDBOX_CPUS",
    "SANDBOX_CONTAINER_RUNTIME",
    "LLM_PROXY_OPENAI_URL",
    "LLM_PROXY_OPENAI_AUTH_HEADER",
    "LLM_PROXY_OPENAI_USE_BEARER",
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "LANGFUSE_BASE_URL",
    "SENTRY_DSN",
    "SENTRY_ENVIRONMENT",
    "POSTHOG_ENABLED",
    "POSTHOG_PROJECT_API_KEY",
    "POSTHOG_API_HOST",
    "TANSTACK_DEVTOOLS_ENABLED",
]


def test_catalog_holds_every_variable_once() -> None:
    names = [var.name for var in rr.CATALOG]

    assert len(names) == len(set(names))
    assert set(GUIDE_VARIABLES) <= set(names)


@pytest.mark.parametrize(
    ("name", "kind", "secret"),
    [
        pytest.param("WEBHOOK_SECRET", "str", True, id="webhook-secret"),
        pytest.param("KC_BOOTSTRAP_ADMIN_PASSWORD", "str", True, id="keycloak-password"),
        pytest.param("GH_APP_PRIVATE_KEY", "str", True, id="app-key"),
        pytest.param("LANGFUSE_SECRET_KEY", "str", True, id="langfuse-secret"),
        pytest.param("SANDBOX_ENABLED", "bool", False, id="switch"),
        pytest.param("MONITORING_TIMEFRAME", "int", False, id="count"),
        pytest.param("APP_HOSTNAME", "str", False, id="hostname"),
    ],
)
def test_catalog_entry(name: str, kind: str, secret: bool) -> None:
    var = rr.VARIABLES[name]

    assert (var.kind, var.secret) == (kind, secret)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(True, True, id="true"),
        pytest.param(False, False, id="false"),
        pytest.param("TrUe", True, id="text-true"),
        pytest.param("false", False, id="text-false"),
        pytest.param("yes", None, id="yes"),
        pytest.param(1, None, id="one"),
        pytest.param(" true", None, id="padded"),
    ],
)
def test_parse_bool(value: object, expected: bool | None) -> None:
    assert rr.parse_bool(value) is expected


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(["imprint.md", "privacy.md"], 0, id="complete"),
        pytest.param(["imprint.md"], 1, id="no-privacy"),
        pytest.param([], 2, id="empty"),
    ],
)
def test_legal_overrides_files(tmp_path: Path, files: list[str], expected: int) -> None:
    for name in files:
        (tmp_path / name).write_text("# page\n")

    violations = rr.legal_overrides_violations(str(tmp_path))

    assert len(violations) == expected
    assert all(violation["rule"] == "legal-overrides-files" for violation in violations)


def test_legal_overrides_directory_missing(tmp_path: Path) -> None:
    violations = rr.legal_overrides_violations(str(tmp_path / "nowhere"))

    assert [violation["rule"] for violation in violations] == ["legal-overrides-files"]
    assert "not a directory" in violations[0]["message"]


def test_format_violation() -> None:
    violation: rr.Violation = {"rule": "r", "message": "m", "variables": ["A", "B"]}

    assert rr.format_violation(violation) == "[r] m (variables: A, B)"
    assert rr.format_violation({**violation, "variables": []}) == "[r] m"


def test_judging_a_full_configuration_takes_milliseconds(
    valid_env: Mapping[str, object],
) -> None:
    env = {**valid_env, **ALL_ON, **GITLAB_ON, "GITLAB_WORKSPACE_CREATION": True}
    runs = 100

    start = time.perf_counter()
    for _run in range(runs):
        assert rr.rollout_violations(env, "preview", rollout_validation=True) == []
    average = (time.perf_counter() - start) / runs

    assert average < 0.050
