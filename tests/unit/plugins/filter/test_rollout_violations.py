"""Tests of the tumaet.hephaestus.rollout_violations filter."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.tumaet.hephaestus.plugins.filter.rollout_violations import FilterModule
from ansible_collections.tumaet.hephaestus.plugins.module_utils import rollout_rules as rr

rollout_violations = FilterModule().filters()["rollout_violations"]


def test_filter_is_registered_under_its_documented_name() -> None:
    assert set(FilterModule().filters()) == {"rollout_violations"}


@pytest.mark.parametrize(
    ("changes", "args", "expected"),
    [
        pytest.param({}, ("production",), [], id="valid-production"),
        pytest.param(
            {"SANDBOX_ENABLED": True, "AGENT_NATS_ENABLED": True, "GIT_CHECKOUT_ENABLED": True},
            ("preview",),
            ["preview-tier-limits"],
            id="preview-sandbox-without-validation",
        ),
        pytest.param(
            {"SANDBOX_ENABLED": True, "AGENT_NATS_ENABLED": True, "GIT_CHECKOUT_ENABLED": True},
            ("preview", "true"),
            [],
            id="preview-sandbox-with-validation-as-text",
        ),
        pytest.param(
            {"LEGAL_PROFILE": None},
            ("production",),
            ["production-legal-pages"],
            id="production-without-legal-pages",
        ),
        pytest.param(
            {"LEGAL_PROFILE": None},
            ("production", False, True),
            [],
            id="production-with-legal-overrides",
        ),
    ],
)
def test_filter_judges_the_configuration(
    valid_env: Mapping[str, object],
    changes: Mapping[str, object],
    args: tuple[object, ...],
    expected: list[str],
) -> None:
    violations = rollout_violations({**valid_env, **changes}, *args)

    assert [violation["rule"] for violation in violations] == expected


def test_filter_takes_keyword_arguments(valid_env: Mapping[str, object]) -> None:
    env = {**valid_env, "LEGAL_PROFILE": ""}

    assert rollout_violations(env, "production", legal_overrides=True) == []


@pytest.mark.parametrize(
    "tier",
    [
        pytest.param("prod", id="abbreviation"),
        pytest.param("Production", id="capitalised"),
        pytest.param(None, id="none"),
    ],
)
def test_unknown_tier_is_a_filter_error(valid_env: Mapping[str, object], tier: object) -> None:
    with pytest.raises(AnsibleFilterError, match="preview, staging, production"):
        rollout_violations(valid_env, tier)


@pytest.mark.parametrize(
    ("value", "args", "match"),
    [
        pytest.param(["WEBHOOK_SECRET"], ("production",), "must be a mapping", id="list-input"),
        pytest.param({}, ("staging", "yes please"), "rollout_validation", id="bad-validation"),
        pytest.param({}, ("staging", False, 3), "legal_overrides", id="bad-legal-overrides"),
    ],
)
def test_bad_arguments_are_filter_errors(
    value: object, args: tuple[object, ...], match: str
) -> None:
    with pytest.raises(AnsibleFilterError, match=match):
        rollout_violations(value, *args)


def test_documentation_describes_every_rule() -> None:
    from ansible_collections.tumaet.hephaestus.plugins.filter import rollout_violations as plugin

    for rule in rr.RULES:
        assert f"C({rule}) - " in plugin.DOCUMENTATION
