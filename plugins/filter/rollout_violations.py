# Copyright: Hephaestus operators
# MIT License (see galaxy.yml)
"""The rollout_violations filter: judge a Hephaestus configuration against the rollout rules."""

from __future__ import annotations

DOCUMENTATION = r"""
name: rollout_violations
short_description: List the rollout rules a Hephaestus configuration breaks
version_added: 0.1.0
author:
  - Hephaestus operators (@ls1intum)
description:
  - Judges one Hephaestus configuration against every rule of the production setup guide
    and returns all violations at once, in a stable order.
  - The rules tie the GitLab and practice-review switches into bundles, limit what the
    V(preview) and V(staging) tiers may enable, keep the legal disclaimer and the login
    bypass out of V(production), and check that required values are set and well-formed.
  - The filter only reads its input. It is the building block of the
    M(tumaet.hephaestus.rollout_check) action, which collects the configuration from the
    C(hephaestus_*) variables and fails the play on any violation.
  - No violation message ever contains the value of a secret.
positional: tier, rollout_validation, legal_overrides
options:
  _input:
    description:
      - The configuration, keyed by the guide's variable names such as C(WEBHOOK_SECRET)
        or C(SANDBOX_ENABLED).
      - Keys of the Ansible form such as C(hephaestus_webhook_secret) are accepted too; when
        both forms of one variable are present, the guide name wins.
      - A missing key, V(null) and an empty string all mean the variable is unset. Keys that
        name no variable of the stack are ignored.
      - Switches take a boolean or the strings V(true) and V(false) in any case.
    type: dict
    required: true
  tier:
    description:
      - The rollout tier the configuration is meant for.
      - Any other value fails the filter with an error naming the three tiers.
    type: str
    required: true
    choices: [preview, staging, production]
  rollout_validation:
    description:
      - Whether this deployment deliberately validates a rollout.
      - With V(true), O(tier=preview) may enable GitLab, the sandbox, git checkout and agent
        jobs, and O(tier=staging) may run the practice-review bundle.
    type: bool
    default: false
  legal_overrides:
    description:
      - Whether imprint and privacy overrides are mounted into the webapp.
      - With V(true), O(tier=production) needs no C(LEGAL_PROFILE).
    type: bool
    default: false
notes:
  - "The rules, in the order their violations are reported:"
  - C(required-values) - the values every deployment needs are set, and
    C(NATS_DURABLE_CONSUMER_NAME) when C(NATS_ENABLED) is on.
  - C(placeholder-values) - no value still holds the C(REPLACE_ME) placeholder of the
    example inventories.
  - C(image-tag-pinned) - C(IMAGE_TAG) is set, and never V(latest) on staging or production.
  - C(scalar-values) - text variables hold one value, not a list or mapping.
  - C(boolean-values) - every switch is V(true) or V(false).
  - C(integer-values) - sandbox and leaderboard counts are whole numbers, 0 or more.
  - C(app-hostname) - C(APP_HOSTNAME) is a bare DNS host name without scheme, port or path.
  - C(webhook-secret-length) - C(WEBHOOK_SECRET) has at least 32 characters.
  - C(practice-review-bundle) - C(SANDBOX_ENABLED), C(AGENT_NATS_ENABLED),
    C(GIT_CHECKOUT_ENABLED) and C(NATS_ENABLED) are on together or practice review is off;
    C(NATS_ENABLED) alone (webhook-driven sync) is fine.
  - C(practice-review-for-all) - C(PRACTICE_REVIEW_FOR_ALL) needs the whole bundle.
  - C(practice-review-settings) - the cooldown is a whole number, 0 or more, the app base
    URL is an https URL, and the draft and merge switches are booleans.
  - C(gitlab-workspace-needs-provider) - C(GITLAB_WORKSPACE_CREATION) needs
    C(GITLAB_ENABLED) and C(KEYCLOAK_GITLAB_ENABLED).
  - C(gitlab-provider-settings) - the GitLab identity provider has a client id, a client
    secret and an https base URL.
  - C(gitlab-webhook-settings) - the GitLab bundle has a C(WEBHOOK_SECRET) and an https
    C(WEBHOOK_EXTERNAL_URL).
  - C(preview-tier-limits) - V(preview) keeps GitLab, the sandbox, git checkout and agent
    jobs off unless O(rollout_validation=true).
  - C(staging-practice-review-validation) - V(staging) runs the practice-review bundle only
    with O(rollout_validation=true).
  - C(production-legal-pages) - V(production) has a valid C(LEGAL_PROFILE) or legal
    overrides, never the built-in disclaimer.
  - C(production-login) - V(production) never sets C(KEYCLOAK_SKIP_LOGIN).
  - C(model-name) - C(MODEL_NAME) is C(provider:model), and the openai and azure providers
    have their credentials.
  - C(github-app) - C(GH_APP_ID) is 0 or unset for personal access tokens, or a positive id
    with a PEM C(GH_APP_PRIVATE_KEY) or a C(GH_APP_PRIVATE_KEY_LOCATION).
  - C(legal-profile) - C(LEGAL_PROFILE) is 1 to 32 lowercase letters, digits, C(-) or C(_).
  - C(monitoring-sync-cron) - C(MONITORING_SYNC_CRON) is a six-field Spring cron expression.
  - C(monitoring-settings) - the C(MONITORING_*) counts are positive whole numbers (the rate
    limit threshold may be 0) and its switches are booleans.
seealso:
  - module: tumaet.hephaestus.rollout_check
"""

EXAMPLES = r"""
- name: Show what keeps a staging configuration from rolling out
  ansible.builtin.debug:
    msg: "{{ item.rule }}: {{ item.message }}"
  loop: "{{ staging_env | tumaet.hephaestus.rollout_violations('staging') }}"
  loop_control:
    label: "{{ item.rule }}"
  vars:
    staging_env:
      APP_HOSTNAME: staging.hephaestus.example.org
      SANDBOX_ENABLED: true
      NATS_ENABLED: true

- name: Assert that a preview validating the GitLab rollout is consistent
  ansible.builtin.assert:
    that:
      - preview_env | tumaet.hephaestus.rollout_violations('preview', rollout_validation=true)
        | length == 0
    quiet: true
"""

RETURN = r"""
_value:
  description:
    - One entry per violation, ordered by rule and, within a rule, by variable. Empty when
      the configuration may be rolled out.
  type: list
  elements: dict
  contains:
    rule:
      description: The id of the broken rule.
      type: str
      sample: practice-review-bundle
    message:
      description:
        - What is wrong and how to fix it, naming the C(hephaestus_*) variables to set.
        - Never contains the value of a secret.
      type: str
      sample: >-
        practice review is half-configured: hephaestus_sandbox_enabled and
        hephaestus_nats_enabled on but hephaestus_agent_nats_enabled and
        hephaestus_git_checkout_enabled off. ...
    variables:
      description: The guide names of the variables involved.
      type: list
      elements: str
      sample: [SANDBOX_ENABLED, AGENT_NATS_ENABLED, GIT_CHECKOUT_ENABLED, NATS_ENABLED]
  sample:
    - rule: required-values
      message: >-
        hephaestus_kc_bootstrap_admin_password is unset: every Hephaestus deployment needs it
      variables: [KC_BOOTSTRAP_ADMIN_PASSWORD]
"""

from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.tumaet.hephaestus.plugins.module_utils.rollout_rules import (
    Violation,
    parse_bool,
    rollout_violations,
)


def _switch(name: str, value: object) -> bool:
    parsed = parse_bool(value)
    if parsed is None:
        raise AnsibleFilterError(f"rollout_violations: {name} must be true or false")
    return parsed


def rollout_violations_filter(
    env: Mapping[str, object],
    tier: str,
    rollout_validation: object = False,
    legal_overrides: object = False,
) -> list[Violation]:
    """Return every rollout rule ``env`` breaks on ``tier``."""
    if not isinstance(env, Mapping):
        raise AnsibleFilterError(
            f"rollout_violations: the input must be a mapping, got a {type(env).__name__}"
        )
    try:
        return rollout_violations(
            env,
            tier,
            rollout_validation=_switch("rollout_validation", rollout_validation),
            legal_overrides=_switch("legal_overrides", legal_overrides),
        )
    except ValueError as error:
        raise AnsibleFilterError(f"rollout_violations: {error}") from error


class FilterModule:
    """Rollout gate filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"rollout_violations": rollout_violations_filter}
