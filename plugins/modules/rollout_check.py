# Copyright: Hephaestus operators
# MIT License (see galaxy.yml)
# The work is done by the action plugin of the same name; this file only documents it.

from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_check
short_description: Refuse a Hephaestus rollout whose configuration breaks a rollout rule
version_added: 0.1.0
author:
  - Hephaestus operators (@ls1intum)
description:
  - Collects the Hephaestus configuration from the play's C(hephaestus_*) variables, judges
    it against every rule of the production setup guide, and fails listing all violations
    at once, one line each - the rule id in brackets, what is wrong and how to fix it, and
    the guide names of the variables involved.
  - The guide variable C(FOO_BAR) is read from the Ansible variable C(hephaestus_foo_bar);
    each value is templated first. Only variables of the Hephaestus stack are read.
  - Reads the tier from C(hephaestus_tier), the rollout validation switch from
    C(hephaestus_rollout_validation) (default V(false)) and the legal overrides directory
    from C(hephaestus_legal_overrides_dir). The options below override them.
  - When a legal overrides directory is set, it must exist on the controller and hold
    C(imprint.md) and C(privacy.md); each missing file is a violation of the
    C(legal-overrides-files) rule.
  - Runs on the controller only. It opens no connection to the managed host, needs none, and
    changes nothing anywhere.
  - The result never contains the value of a secret, so the task needs no C(no_log).
  - The rules themselves are described with the P(tumaet.hephaestus.rollout_violations#filter)
    filter, which this action uses.
options:
  tier:
    description:
      - The rollout tier to judge the configuration for.
      - Defaults to the value of C(hephaestus_tier); the task fails when neither is set.
    type: str
    choices: [preview, staging, production]
  rollout_validation:
    description:
      - Whether this deployment deliberately validates a rollout, which lets V(preview)
        enable GitLab, the sandbox, git checkout and agent jobs, and V(staging) run practice
        review.
      - Defaults to the value of C(hephaestus_rollout_validation), or V(false).
    type: bool
  legal_overrides_dir:
    description:
      - Controller directory with the C(imprint.md) and C(privacy.md) pages mounted into the
        webapp. When set, V(production) needs no C(hephaestus_legal_profile).
      - A relative path is resolved against the playbook directory.
      - Defaults to the value of C(hephaestus_legal_overrides_dir).
    type: path
  env:
    description:
      - Values merged over the configuration built from the C(hephaestus_*) variables.
      - Keys are guide names such as C(SANDBOX_ENABLED) or Ansible names such as
        C(hephaestus_sandbox_enabled); an empty value unsets the variable.
    type: dict
    default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
    details: Everything runs in the action plugin on the controller.
  async:
    support: none
  become:
    support: none
    details: Nothing runs on the managed host.
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: The check changes nothing, so check mode runs it as usual.
  connection:
    support: none
    details: No connection to the managed host is opened or needed.
  delegation:
    support: none
    details: The check runs on the controller wherever the task is delegated.
  diff_mode:
    support: none
  platform:
    platforms: all
seealso:
  - plugin: tumaet.hephaestus.rollout_violations
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Refuse a half-configured rollout before any host is touched
  tumaet.hephaestus.rollout_check:

- name: Validate the GitLab practice-review bundle on a preview deployment
  tumaet.hephaestus.rollout_check:
    tier: preview
    rollout_validation: true

- name: Judge production with legal overrides and one value replaced
  tumaet.hephaestus.rollout_check:
    tier: production
    legal_overrides_dir: files/legal
    env:
      KEYCLOAK_SKIP_LOGIN: false
"""

RETURN = r"""
msg:
  description:
    - On success, how many rules passed.
    - On failure, a summary line and one line per violation.
  returned: always
  type: str
  sample: all 22 rollout rules passed for tier production
violations:
  description: Every violation, in rule order; empty on success.
  returned: always
  type: list
  elements: dict
  contains:
    rule:
      description: The id of the broken rule.
      type: str
      sample: gitlab-workspace-needs-provider
    message:
      description: What is wrong and how to fix it, naming the C(hephaestus_*) variables to set.
      type: str
      sample: >-
        hephaestus_gitlab_workspace_creation is true but GitLab is not fully enabled: set
        hephaestus_keycloak_gitlab_enabled to true, or set
        hephaestus_gitlab_workspace_creation to false
    variables:
      description: The guide names of the variables involved.
      type: list
      elements: str
      sample: [GITLAB_WORKSPACE_CREATION, KEYCLOAK_GITLAB_ENABLED]
  sample: []
"""
