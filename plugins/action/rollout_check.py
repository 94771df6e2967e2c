# Copyright: Hephaestus operators
# MIT License (see galaxy.yml)
"""Controller-side gate: refuse a Hephaestus rollout whose configuration breaks a rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.tumaet.hephaestus.plugins.module_utils.rollout_rules import (
    CATALOG,
    LEGAL_OVERRIDES_VAR,
    ROLLOUT_VALIDATION_VAR,
    RULES,
    VARIABLES,
    Violation,
    check_tier,
    format_violation,
    guide_name,
    is_unset,
    legal_overrides_violations,
    parse_bool,
    rollout_violations,
)

TIER_VAR = "hephaestus_tier"

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "tier": {"type": "str", "choices": ["preview", "staging", "production"]},
    "rollout_validation": {"type": "bool"},
    "legal_overrides_dir": {"type": "path"},
    "env": {"type": "dict", "default": {}},
}


class ActionModule(ActionBase):
    """Judge the play's hephaestus_* variables; fail listing every broken rule."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(
        self, tmp: str | None = None, task_vars: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        # ActionBase.run() is not called: it inspects the connection's shell, and this action
        # must work without any connection.
        del tmp
        if self._task.async_val:
            raise AnsibleActionFail(f"{self._task.action} does not support async")
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)

        tier = args["tier"] or self._var(task_vars, TIER_VAR)
        try:
            tier = check_tier(tier)
        except ValueError as error:
            raise AnsibleActionFail(
                f"{error}; set {TIER_VAR} or the tier option of {self._task.action}"
            ) from error

        rollout_validation = args["rollout_validation"]
        if rollout_validation is None:
            rollout_validation = self._flag(task_vars, ROLLOUT_VALIDATION_VAR)

        overrides_dir = args["legal_overrides_dir"]
        if overrides_dir is None:
            overrides_dir = self._var(task_vars, LEGAL_OVERRIDES_VAR)
        violations: list[Violation] = []
        if not is_unset(overrides_dir):
            path = self._loader.path_dwim(str(overrides_dir))
            violations.extend(legal_overrides_violations(path))

        env: dict[str, object] = {}
        for var in CATALOG:
            value = self._var(task_vars, var.ansible_name)
            if not is_unset(value):
                env[var.name] = value
        # Ansible-form keys first, so the guide name of a variable wins when both are given.
        explicit = sorted(args["env"].items(), key=lambda item: str(item[0]) in VARIABLES)
        for key, value in explicit:
            name = guide_name(str(key))
            if name is None:
                continue
            if is_unset(value):
                env.pop(name, None)  # an explicit empty value unsets the variable
            else:
                env[name] = value

        violations[:0] = rollout_violations(
            env,
            tier,
            rollout_validation=rollout_validation,
            legal_overrides=not is_unset(overrides_dir),
        )
        rule_count = len(RULES) + 1  # the rollout rules plus the overrides directory check
        result: dict[str, Any] = {"changed": False, "violations": violations}
        if violations:
            broken = len({violation["rule"] for violation in violations})
            lines = [f"{broken} of {rule_count} rollout rules failed for tier {tier}:"]
            lines.extend(format_violation(violation) for violation in violations)
            result.update(failed=True, msg="\n".join(lines))
        else:
            result["msg"] = f"all {rule_count} rollout rules passed for tier {tier}"
        return result

    def _var(self, task_vars: Mapping[str, Any], name: str) -> object:
        """The templated value of a variable, or None when it is not defined."""
        if name not in task_vars:
            return None
        value: object = self._templar.template(task_vars[name])
        return value

    def _flag(self, task_vars: Mapping[str, Any], name: str) -> bool:
        value = self._var(task_vars, name)
        if is_unset(value):
            return False
        parsed = parse_bool(value)
        if parsed is None:
            raise AnsibleActionFail(f"{name} must be true or false")
        return parsed
