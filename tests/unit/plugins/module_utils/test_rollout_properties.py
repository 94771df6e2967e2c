"""Property tests of the rollout bundles: every assignment of their switches, not a sample."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.tumaet.hephaestus.plugins.module_utils import rollout_rules as rr

MISSING = "<missing>"  # a switch left out of the configuration altogether

# Every way an operator can write a switch: real booleans, text in any case, or nothing.
switch_values = st.sampled_from(
    [True, False, "true", "false", "TRUE", "False", None, "", MISSING],
)


def switches(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(dict.fromkeys(names, switch_values))


def apply(base: Mapping[str, object], changes: Mapping[str, object]) -> dict[str, object]:
    env = {key: value for key, value in base.items() if key not in changes}
    env.update({key: value for key, value in changes.items() if value != MISSING})
    return env


def is_on(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def rules_of(violations: list[rr.Violation]) -> set[str]:
    return {violation["rule"] for violation in violations}


@pytest.fixture(scope="module")
def base(valid_env: Mapping[str, object]) -> dict[str, object]:
    """The valid configuration without any bundle switch."""
    bundle = (*rr.PRACTICE_REVIEW_SWITCHES, *rr.PREVIEW_OFF_SWITCHES, "PRACTICE_REVIEW_FOR_ALL")
    return {key: value for key, value in valid_env.items() if key not in bundle}


@given(
    assignment=switches(rr.PRACTICE_REVIEW_SWITCHES),
    where=st.sampled_from([("production", False), ("staging", True), ("preview", True)]),
)
def test_practice_review_bundle_all_or_nothing(
    base: dict[str, object], assignment: dict[str, object], where: tuple[str, bool]
) -> None:
    tier, validation = where
    on = {name for name, value in assignment.items() if is_on(value)}
    consistent = on in (set(), set(rr.PRACTICE_REVIEW_SWITCHES), {"NATS_ENABLED"})

    violations = rr.rollout_violations(apply(base, assignment), tier, validation)

    assert (violations == []) is consistent


@given(assignment=switches(rr.PRACTICE_REVIEW_SWITCHES))
def test_staging_without_validation_allows_only_sync(
    base: dict[str, object], assignment: dict[str, object]
) -> None:
    on = {name for name, value in assignment.items() if is_on(value)}

    violations = rr.rollout_violations(apply(base, assignment), "staging")

    assert (violations == []) is (on <= {"NATS_ENABLED"})
    assert ("staging-practice-review-validation" in rules_of(violations)) is bool(
        on - {"NATS_ENABLED"}
    )


@given(assignment=switches(rr.PRACTICE_REVIEW_SWITCHES))
def test_practice_review_for_all_needs_the_whole_bundle(
    base: dict[str, object], assignment: dict[str, object]
) -> None:
    env = apply(base, {**assignment, "PRACTICE_REVIEW_FOR_ALL": True})
    all_on = all(is_on(value) for value in assignment.values())

    violations = rr.rollout_violations(env, "production")

    assert ("practice-review-for-all" not in rules_of(violations)) is all_on
    assert (violations == []) is all_on


@given(
    assignment=switches(rr.GITLAB_SWITCHES),
    tier=st.sampled_from(["staging", "production"]),
)
def test_gitlab_workspace_creation_needs_both_switches(
    base: dict[str, object], assignment: dict[str, object], tier: str
) -> None:
    env = apply(base, {**assignment, "GITLAB_WORKSPACE_CREATION": "true"})
    both_on = all(is_on(value) for value in assignment.values())

    violations = rr.rollout_violations(env, tier)

    assert (violations == []) is both_on
    assert ("gitlab-workspace-needs-provider" in rules_of(violations)) is not both_on


@given(assignment=switches(rr.PREVIEW_OFF_SWITCHES))
def test_preview_refuses_its_off_switches_unless_validating(
    base: dict[str, object], assignment: dict[str, object]
) -> None:
    env = apply(base, assignment)
    on = [name for name in rr.PREVIEW_OFF_SWITCHES if is_on(assignment[name])]

    refused = rr.rollout_violations(env, "preview")
    validating = rr.rollout_violations(env, "preview", rollout_validation=True)

    limits = [violation for violation in refused if violation["rule"] == "preview-tier-limits"]
    assert [violation["variables"] for violation in limits] == ([on] if on else [])
    assert "preview-tier-limits" not in rules_of(validating)


# Secrets are marked so that no other generated value can contain them by chance.
secret_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x17F, exclude_characters="¤"),
    max_size=40,
).map(lambda text: f"¤{text}¤")
secret_values = st.one_of(secret_text, st.lists(secret_text, min_size=1, max_size=2))
other_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
    st.sampled_from(["true", "FALSE", "openai:gpt-4o", "azure:", "https://h.example.org"]),
)


@st.composite
def configurations(draw: st.DrawFn) -> dict[str, object]:
    env: dict[str, object] = {}
    for var in rr.CATALOG:
        if draw(st.booleans()):
            env[var.name] = draw(secret_values if var.secret else other_values)
    return env


def secret_strings(env: Mapping[str, object]) -> list[str]:
    found: list[str] = []
    for name in rr.SECRETS:
        value = env.get(name)
        found.extend(value if isinstance(value, list) else [value] if value else [])
    return [str(value) for value in found]


@given(
    env=configurations(),
    tier=st.sampled_from(rr.TIERS),
    validation=st.booleans(),
    legal=st.booleans(),
)
def test_messages_never_contain_a_secret(
    env: dict[str, object], tier: str, validation: bool, legal: bool
) -> None:
    violations = rr.rollout_violations(env, tier, validation, legal)

    report = "\n".join(rr.format_violation(violation) for violation in violations)
    assert "¤" not in report
    for secret in secret_strings(env):
        assert secret not in report


@given(env=configurations(), tier=st.sampled_from(rr.TIERS))
def test_judging_is_total_and_stable(env: dict[str, object], tier: str) -> None:
    first = rr.rollout_violations(env, tier)

    assert first == rr.rollout_violations(dict(reversed(list(env.items()))), tier)
    for violation in first:
        assert violation["rule"] in rr.RULES
        assert violation["message"]
        assert all(name in rr.VARIABLES for name in violation["variables"])
