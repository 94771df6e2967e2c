# Copyright: Hephaestus operators
# MIT License (see galaxy.yml)
"""Rules that decide whether a Hephaestus configuration may be rolled out.

The production setup guide ties several switches together into bundles (GitLab, practice
review) and limits what each rollout tier may enable. This module judges one configuration
against all of those rules at once and returns every violation, so an operator sees the
whole list before anything touches a host.

A configuration (``env``) maps the guide's variable names (``WEBHOOK_SECRET``) to values.
Keys of the Ansible form (``hephaestus_webhook_secret``) are accepted as well. A missing
key, ``None`` and an empty or blank string all mean the variable is unset.

The module is pure Python and runs on the controller only (the filter and the action plugin
of this collection import it); it never needs a module runtime on a managed host.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypedDict
from urllib.parse import urlsplit

Kind = Literal["bool", "int", "str"]

TIERS: Final = ("preview", "staging", "production")
ANSIBLE_PREFIX: Final = "hephaestus_"
ROLLOUT_VALIDATION_VAR: Final = "hephaestus_rollout_validation"
LEGAL_OVERRIDES_VAR: Final = "hephaestus_legal_overrides_dir"
LEGAL_OVERRIDE_FILES: Final = ("imprint.md", "privacy.md")


class Violation(TypedDict):
    """One broken rule: its id, what is wrong and how to fix it, and the variables involved."""

    rule: str
    message: str
    variables: list[str]


@dataclass(frozen=True)
class Variable:
    """One environment variable of the Hephaestus stack."""

    name: str
    kind: Kind
    secret: bool = False

    @property
    def ansible_name(self) -> str:
        return ansible_name(self.name)


def _v(name: str, kind: Kind = "str", secret: bool = False) -> Variable:
    return Variable(name, kind, secret)


# Every variable of the production setup guide and of the stack reference, grouped by the
# service that reads it. SENTRY_DSN, POSTHOG_PROJECT_API_KEY and LANGFUSE_PUBLIC_KEY are
# shipped to browsers or are meant to be public, so they are not secrets.
CATALOG: Final[tuple[Variable, ...]] = (
    # Every compose project.
    _v("APP_HOSTNAME"),
    _v("IMAGE_TAG"),
    _v("TIMEZONE"),
    # Webhooks.
    _v("WEBHOOK_SECRET", secret=True),
    _v("WEBHOOK_EXTERNAL_URL"),
    # Keycloak and its identity providers.
    _v("KC_BOOTSTRAP_ADMIN_USERNAME"),
    _v("KC_BOOTSTRAP_ADMIN_PASSWORD", secret=True),
    _v("KEYCLOAK_GITHUB_CLIENT_ID"),
    _v("KEYCLOAK_GITHUB_CLIENT_SECRET", secret=True),
    _v("KEYCLOAK_GITHUB_ADMIN_USERNAME"),
    _v("KEYCLOAK_GITLAB_ENABLED", "bool"),
    _v("KEYCLOAK_GITLAB_CLIENT_ID"),
    _v("KEYCLOAK_GITLAB_CLIENT_SECRET", secret=True),
    _v("KEYCLOAK_GITLAB_BASE_URL"),
    _v("KEYCLOAK_GITLAB_ADMIN_USERNAME"),
    _v("KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET", secret=True),
    _v("KEYCLOAK_SKIP_LOGIN", "bool"),
    # GitHub access.
    _v("GH_APP_ID", "int"),
    _v("GH_APP_PRIVATE_KEY", secret=True),
    _v("GH_APP_PRIVATE_KEY_LOCATION"),
    _v("GH_APP_INSTALLATION_URL"),
    _v("GH_AUTH_TOKEN", secret=True),
    # GitLab.
    _v("GITLAB_ENABLED", "bool"),
    _v("GITLAB_WORKSPACE_CREATION", "bool"),
    # Slack and the leaderboard.
    _v("SLACK_BOT_TOKEN", secret=True),
    _v("SLACK_SIGNING_SECRET", secret=True),
    _v("LEADERBOARD_NOTIFICATION_ENABLED", "bool"),
    _v("LEADERBOARD_NOTIFICATION_TEAM"),
    _v("LEADERBOARD_NOTIFICATION_CHANNEL_ID"),
    _v("LEADERBOARD_SCHEDULE_DAY", "int"),
    _v("LEADERBOARD_SCHEDULE_TIME"),
    # NATS and data sync.
    _v("NATS_ENABLED", "bool"),
    _v("NATS_DURABLE_CONSUMER_NAME"),
    _v("MONITORING_RUN_ON_STARTUP", "bool"),
    _v("MONITORING_TIMEFRAME", "int"),
    _v("MONITORING_SYNC_CRON"),
    _v("MONITORING_SYNC_COOLDOWN_IN_MINUTES", "int"),
    _v("MONITORING_BACKFILL_ENABLED", "bool"),
    _v("MONITORING_BACKFILL_BATCH_SIZE", "int"),
    _v("MONITORING_BACKFILL_RATE_LIMIT_THRESHOLD", "int"),
    _v("MONITORING_BACKFILL_INTERVAL_SECONDS", "int"),
    # Practice review and the agent sandbox.
    _v("PRACTICE_REVIEW_FOR_ALL", "bool"),
    _v("PRACTICE_REVIEW_SKIP_DRAFTS", "bool"),
    _v("PRACTICE_REVIEW_DELIVER_TO_MERGED", "bool"),
    _v("PRACTICE_REVIEW_COOLDOWN_MINUTES", "int"),
    _v("PRACTICE_REVIEW_APP_BASE_URL"),
    _v("SANDBOX_ENABLED", "bool"),
    _v("SANDBOX_DOCKER_HOST"),
    _v("SANDBOX_MAX_CONCURRENT", "int"),
    _v("SANDBOX_MEMORY_BYTES", "int"),
    # A CPU count such as 2.0 or 0.5: a decimal, so kept as text.
    _v("SANDBOX_CPUS"),
    _v("SANDBOX_CONTAINER_RUNTIME"),
    _v("AGENT_NATS_ENABLED", "bool"),
    _v("GIT_CHECKOUT_ENABLED", "bool"),
    # LLM proxy routes of the application server.
    _v("LLM_PROXY_OPENAI_URL"),
    _v("LLM_PROXY_OPENAI_AUTH_HEADER"),
    _v("LLM_PROXY_OPENAI_USE_BEARER", "bool"),
    _v("LLM_PROXY_AZURE_OPENAI_URL"),
    _v("LLM_PROXY_AZURE_OPENAI_AUTH_HEADER"),
    _v("LLM_PROXY_AZURE_OPENAI_USE_BEARER", "bool"),
    # Intelligence service.
    _v("MODEL_NAME"),
    _v("OPENAI_API_KEY", secret=True),
    _v("AZURE_RESOURCE_NAME"),
    _v("AZURE_API_KEY", secret=True),
    _v("LANGFUSE_PUBLIC_KEY"),
    _v("LANGFUSE_SECRET_KEY", secret=True),
    _v("LANGFUSE_BASE_URL"),
    # Webapp.
    _v("LEGAL_PROFILE"),
    _v("SENTRY_DSN"),
    _v("SENTRY_ENVIRONMENT"),
    _v("POSTHOG_ENABLED", "bool"),
    _v("POSTHOG_PROJECT_API_KEY"),
    _v("POSTHOG_API_HOST"),
    _v("TANSTACK_DEVTOOLS_ENABLED", "bool"),
)

VARIABLES: Final[Mapping[str, Variable]] = {var.name: var for var in CATALOG}
SECRETS: Final[frozenset[str]] = frozenset(var.name for var in CATALOG if var.secret)

PRACTICE_REVIEW_SWITCHES: Final = (
    "SANDBOX_ENABLED",
    "AGENT_NATS_ENABLED",
    "GIT_CHECKOUT_ENABLED",
    "NATS_ENABLED",
)
# NATS_ENABLED alone drives webhook sync; these three only ever serve practice review.
AGENT_SWITCHES: Final = PRACTICE_REVIEW_SWITCHES[:3]
GITLAB_SWITCHES: Final = ("KEYCLOAK_GITLAB_ENABLED", "GITLAB_ENABLED")
PREVIEW_OFF_SWITCHES: Final = (
    "KEYCLOAK_GITLAB_ENABLED",
    "GITLAB_ENABLED",
    "GITLAB_WORKSPACE_CREATION",
    "SANDBOX_ENABLED",
    "GIT_CHECKOUT_ENABLED",
    "AGENT_NATS_ENABLED",
)
REQUIRED: Final = (
    "APP_HOSTNAME",
    "WEBHOOK_SECRET",
    "KEYCLOAK_GITHUB_CLIENT_ID",
    "KEYCLOAK_GITHUB_CLIENT_SECRET",
    "KEYCLOAK_GITHUB_ADMIN_USERNAME",
    "KC_BOOTSTRAP_ADMIN_USERNAME",
    "KC_BOOTSTRAP_ADMIN_PASSWORD",
    "KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET",
)
WEBHOOK_SECRET_MIN_LENGTH: Final = 32

# Format checks of these variables belong to a more specific rule; the generic boolean and
# integer rules leave them alone so that one bad value yields exactly one violation.
_OWNED_FORMATS: Final = frozenset(
    (
        "PRACTICE_REVIEW_SKIP_DRAFTS",
        "PRACTICE_REVIEW_DELIVER_TO_MERGED",
        "PRACTICE_REVIEW_COOLDOWN_MINUTES",
        "MONITORING_RUN_ON_STARTUP",
        "MONITORING_BACKFILL_ENABLED",
        "MONITORING_TIMEFRAME",
        "MONITORING_SYNC_COOLDOWN_IN_MINUTES",
        "MONITORING_BACKFILL_BATCH_SIZE",
        "MONITORING_BACKFILL_RATE_LIMIT_THRESHOLD",
        "MONITORING_BACKFILL_INTERVAL_SECONDS",
        "GH_APP_ID",
    )
)


def ansible_name(name: str) -> str:
    """Return the Ansible variable of a guide name: ``FOO_BAR`` becomes ``hephaestus_foo_bar``."""
    return ANSIBLE_PREFIX + name.lower()


def guide_name(name: str) -> str | None:
    """Return the catalog name of a guide or Ansible variable name, or None if unknown."""
    if name.startswith(ANSIBLE_PREFIX):
        candidate = name[len(ANSIBLE_PREFIX) :].upper()
        return candidate if candidate in VARIABLES and name == ansible_name(candidate) else None
    return name if name in VARIABLES else None


def parse_bool(value: object) -> bool | None:
    """Read a boolean: a real bool or the text true/false in any case; None if it is neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None


def parse_int(value: object) -> int | None:
    """Read an integer: a real int (not a bool) or its decimal text; None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value):
        return int(value)
    return None


def is_unset(value: object) -> bool:
    """Tell whether a value means 'not configured': None, or an empty or blank string."""
    return value is None or (isinstance(value, str) and not value.strip())


def normalize_env(env: Mapping[str, object]) -> dict[str, object]:
    """Key a configuration by guide names, dropping unset values and unknown keys.

    A guide-name key wins over the Ansible-name key of the same variable.
    """
    result: dict[str, object] = {}
    for key, value in env.items():
        name = guide_name(str(key))
        if name is None or is_unset(value):
            continue
        if key == name or name not in result:
            result[name] = value
    return result


class _Env:
    """Read-only view of a normalized configuration with typed accessors."""

    def __init__(self, values: Mapping[str, object]) -> None:
        self.values = values

    def is_set(self, name: str) -> bool:
        return name in self.values

    def text(self, name: str) -> str | None:
        """The value as text, None when unset or not a scalar."""
        value = self.values.get(name)
        if value is None or isinstance(value, (list, dict, set, tuple)):
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def flag(self, name: str) -> bool | None:
        """The switch's state: False when unset, None when the value is not a boolean."""
        if name not in self.values:
            return False
        return parse_bool(self.values[name])

    def flags_on(self, names: Iterable[str]) -> list[str]:
        """The names among ``names`` whose switch is on; malformed ones count as off."""
        return [name for name in names if self.flag(name) is True]


@dataclass(frozen=True)
class _Context:
    env: _Env
    tier: str
    rollout_validation: bool
    legal_overrides: bool


Rule = Callable[[_Context], list[Violation]]


def _violation(rule: str, message: str, variables: Sequence[str]) -> Violation:
    return {"rule": rule, "message": message, "variables": list(variables)}


def _vars(names: Iterable[str]) -> str:
    """Join Ansible variable names for a message: a, b and c."""
    items = [ansible_name(name) for name in names]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _show(env: _Env, name: str) -> str:
    """Quote a value for a message; a secret is never shown."""
    if name in SECRETS:
        return "(hidden)"
    value = env.values.get(name)
    text = env.text(name)
    if text is None:
        return f"a {type(value).__name__}"
    return repr(text)


def _is_https_url(text: str | None) -> bool:
    if text is None or any(char.isspace() for char in text):
        return False
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and port != 0


_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE | re.ASCII)


def _is_host_name(text: str) -> bool:
    labels = text.split(".")
    if len(text) > 253 or labels[-1].isdigit():
        return False  # an all-numeric last label makes an IP address, not a DNS name
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


_LEGAL_PROFILE = re.compile(r"[a-z0-9_-]{1,32}")


def _valid_legal_profile(env: _Env) -> bool:
    text = env.text("LEGAL_PROFILE")
    return text is not None and bool(_LEGAL_PROFILE.fullmatch(text))


# Practice review ---------------------------------------------------------------------------


def rule_practice_review_bundle(ctx: _Context) -> list[Violation]:
    """The four practice-review switches are on together, all off, or only NATS_ENABLED is on."""
    env = ctx.env
    states = [env.flag(name) for name in PRACTICE_REVIEW_SWITCHES]
    if None in states:
        return []  # a malformed switch is reported by boolean-values
    on = [name for name, state in zip(PRACTICE_REVIEW_SWITCHES, states, strict=True) if state]
    if len(on) in (0, len(PRACTICE_REVIEW_SWITCHES)) or on == ["NATS_ENABLED"]:
        return []
    off = [name for name in PRACTICE_REVIEW_SWITCHES if name not in on]
    message = (
        f"practice review is half-configured: {_vars(on)} on but {_vars(off)} off. "
        f"Set all of {_vars(PRACTICE_REVIEW_SWITCHES)} to true to run practice review, "
        f"or set {_vars([name for name in on if name != 'NATS_ENABLED'])} to false "
        "(hephaestus_nats_enabled alone is fine for webhook-driven sync)"
    )
    return [_violation("practice-review-bundle", message, PRACTICE_REVIEW_SWITCHES)]


def rule_practice_review_for_all(ctx: _Context) -> list[Violation]:
    """PRACTICE_REVIEW_FOR_ALL needs the whole practice-review bundle."""
    env = ctx.env
    if env.flag("PRACTICE_REVIEW_FOR_ALL") is not True:
        return []
    off = [name for name in PRACTICE_REVIEW_SWITCHES if env.flag(name) is not True]
    if not off:
        return []
    message = (
        "hephaestus_practice_review_for_all is true but the practice-review bundle is not on: "
        f"set {_vars(off)} to true, or set hephaestus_practice_review_for_all to false"
    )
    return [_violation("practice-review-for-all", message, ["PRACTICE_REVIEW_FOR_ALL", *off])]


def rule_practice_review_settings(ctx: _Context) -> list[Violation]:
    """PRACTICE_REVIEW_* values are well-formed."""
    env = ctx.env
    found: list[Violation] = []
    rule = "practice-review-settings"
    for name in ("PRACTICE_REVIEW_SKIP_DRAFTS", "PRACTICE_REVIEW_DELIVER_TO_MERGED"):
        if env.flag(name) is None:
            found.append(_violation(rule, _bool_message(env, name), [name]))
    name = "PRACTICE_REVIEW_COOLDOWN_MINUTES"
    if env.is_set(name):
        minutes = parse_int(env.values[name])
        if minutes is None or minutes < 0:
            message = (
                f"{ansible_name(name)} is {_show(env, name)}: set it to a whole number of "
                "minutes, 0 or more"
            )
            found.append(_violation(rule, message, [name]))
    name = "PRACTICE_REVIEW_APP_BASE_URL"
    text = env.text(name)
    if text is not None and not _is_https_url(text):
        message = (
            f"{ansible_name(name)} is {_show(env, name)}: set it to the https URL that review "
            "comments link to, e.g. 'https://hephaestus.example.org'"
        )
        found.append(_violation(rule, message, [name]))
    return found


# GitLab ------------------------------------------------------------------------------------


def rule_gitlab_workspace_needs_provider(ctx: _Context) -> list[Violation]:
    """GITLAB_WORKSPACE_CREATION needs GITLAB_ENABLED and KEYCLOAK_GITLAB_ENABLED."""
    env = ctx.env
    if env.flag("GITLAB_WORKSPACE_CREATION") is not True:
        return []
    off = [name for name in GITLAB_SWITCHES if env.flag(name) is not True]
    if not off:
        return []
    message = (
        "hephaestus_gitlab_workspace_creation is true but GitLab is not fully enabled: set "
        f"{_vars(off)} to true, or set hephaestus_gitlab_workspace_creation to false"
    )
    variables = ["GITLAB_WORKSPACE_CREATION", *off]
    return [_violation("gitlab-workspace-needs-provider", message, variables)]


def rule_gitlab_provider_settings(ctx: _Context) -> list[Violation]:
    """An enabled GitLab identity provider has a client id, a client secret and an https URL."""
    env = ctx.env
    if env.flag("KEYCLOAK_GITLAB_ENABLED") is not True:
        return []
    found: list[Violation] = []
    rule = "gitlab-provider-settings"
    missing = [
        name
        for name in ("KEYCLOAK_GITLAB_CLIENT_ID", "KEYCLOAK_GITLAB_CLIENT_SECRET")
        if not env.is_set(name)
    ]
    if missing:
        message = (
            "hephaestus_keycloak_gitlab_enabled is true but the GitLab OAuth application is "
            f"incomplete: set {_vars(missing)} from the GitLab application (confidential, scopes "
            "openid, profile, email)"
        )
        found.append(_violation(rule, message, missing))
    name = "KEYCLOAK_GITLAB_BASE_URL"
    text = env.text(name)
    if not env.is_set(name):
        message = (
            f"hephaestus_keycloak_gitlab_enabled is true but {ansible_name(name)} is unset: set "
            "it to the https base URL of the GitLab instance, e.g. 'https://gitlab.example.org'"
        )
        found.append(_violation(rule, message, [name]))
    elif text is not None and not _is_https_url(text):
        message = (
            f"{ansible_name(name)} is {_show(env, name)}: set it to the https base URL of the "
            "GitLab instance, e.g. 'https://gitlab.example.org'"
        )
        found.append(_violation(rule, message, [name]))
    return found


def rule_gitlab_webhook_settings(ctx: _Context) -> list[Violation]:
    """The GitLab bundle verifies and registers webhooks: it needs WEBHOOK_SECRET and a public
    https WEBHOOK_EXTERNAL_URL.

    The secret's length is checked by webhook-secret-length for every deployment.
    """
    env = ctx.env
    on = env.flags_on(GITLAB_SWITCHES)
    if not on:
        return []
    found: list[Violation] = []
    rule = "gitlab-webhook-settings"
    enabled = f"{_vars(on)} {'is' if len(on) == 1 else 'are'} true"
    if not env.is_set("WEBHOOK_SECRET"):
        message = (
            f"{enabled} but hephaestus_webhook_secret is unset: GitLab webhook verification and "
            "auto-registration need it; generate one with 'openssl rand -hex 32'"
        )
        found.append(_violation(rule, message, ["WEBHOOK_SECRET", *on]))
    name = "WEBHOOK_EXTERNAL_URL"
    text = env.text(name)
    if not env.is_set(name):
        problem = f"{ansible_name(name)} is unset"
    elif text is not None and not _is_https_url(text):
        problem = f"{ansible_name(name)} is {_show(env, name)}"
    else:
        return found
    message = (
        f"{enabled} but {problem}: set it to the public https webhook base URL that GitLab "
        "posts to, e.g. 'https://hephaestus.example.org/webhooks'"
    )
    found.append(_violation(rule, message, [name, *on]))
    return found


# Tiers -------------------------------------------------------------------------------------


def rule_preview_tier_limits(ctx: _Context) -> list[Violation]:
    """Preview keeps GitLab, the sandbox, git checkout and agent jobs off unless it validates."""
    if ctx.tier != "preview" or ctx.rollout_validation:
        return []
    on = ctx.env.flags_on(PREVIEW_OFF_SWITCHES)
    if not on:
        return []
    message = (
        f"preview keeps {_vars(on)} off: set {'it' if len(on) == 1 else 'them'} to false, or set "
        f"{ROLLOUT_VALIDATION_VAR}: true when this preview deliberately validates the rollout"
    )
    return [_violation("preview-tier-limits", message, on)]


def rule_staging_practice_review_validation(ctx: _Context) -> list[Violation]:
    """Staging runs the practice-review bundle only while it validates the rollout."""
    if ctx.tier != "staging" or ctx.rollout_validation:
        return []
    on = ctx.env.flags_on(AGENT_SWITCHES)
    if not on:
        return []
    message = (
        f"staging enables practice review ({_vars(on)}) without rollout validation: set "
        f"{ROLLOUT_VALIDATION_VAR}: true while staging validates practice review, or set "
        f"{_vars(on)} to false"
    )
    return [_violation("staging-practice-review-validation", message, on)]


def rule_production_legal_pages(ctx: _Context) -> list[Violation]:
    """Production serves real imprint and privacy pages, never the built-in disclaimer."""
    if ctx.tier != "production" or ctx.legal_overrides or _valid_legal_profile(ctx.env):
        return []
    message = (
        "production would serve the built-in 'not configured' legal disclaimer (a § 5 DDG / "
        "Art. 13 GDPR violation): set hephaestus_legal_profile to a bundled profile, or set "
        f"{LEGAL_OVERRIDES_VAR} to a controller directory holding imprint.md and privacy.md"
    )
    return [_violation("production-legal-pages", message, ["LEGAL_PROFILE"])]


def rule_production_login(ctx: _Context) -> list[Violation]:
    """Production never skips the Keycloak login."""
    if ctx.tier != "production" or ctx.env.flag("KEYCLOAK_SKIP_LOGIN") is not True:
        return []
    message = (
        "hephaestus_keycloak_skip_login is true, a testing switch that must never reach "
        "production: set it to false or leave it unset"
    )
    return [_violation("production-login", message, ["KEYCLOAK_SKIP_LOGIN"])]


# AI model ----------------------------------------------------------------------------------

_PROVIDER = re.compile(r"[A-Za-z0-9._-]+")


def rule_model_name(ctx: _Context) -> list[Violation]:
    """MODEL_NAME is provider-qualified and its provider has credentials."""
    env = ctx.env
    name = "MODEL_NAME"
    text = env.text(name)
    if text is None:
        return []
    rule = "model-name"
    provider, sep, model = text.partition(":")
    if not sep or not _PROVIDER.fullmatch(provider) or not model.strip():
        message = (
            f"{ansible_name(name)} is {_show(env, name)}: write it provider-qualified as "
            "'provider:model', e.g. 'openai:gpt-4o' or 'azure:gpt-5.4-mini'"
        )
        return [_violation(rule, message, [name])]
    needs = {
        "openai": ("OPENAI_API_KEY",),
        "azure": ("AZURE_RESOURCE_NAME", "AZURE_API_KEY"),
    }.get(provider.lower(), ())
    missing = [var for var in needs if not env.is_set(var)]
    if not missing:
        return []
    message = (
        f"{ansible_name(name)} {_show(env, name)} uses the {provider.lower()} provider: set "
        f"{_vars(missing)}"
    )
    return [_violation(rule, message, [name, *missing])]


# GitHub ------------------------------------------------------------------------------------

_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----")
# Base64 lines, plus the Proc-Type/DEK-Info headers of legacy encrypted keys.
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=:,\-\s]*")


def _is_pem_private_key(text: str) -> bool:
    # Keys pasted into .env files often carry literal \n escapes instead of line breaks.
    text = text.replace("\\n", "\n").strip()
    begin = _PEM_BEGIN.match(text)
    if begin is None:
        return False
    end = f"-----END {begin.group(1)}PRIVATE KEY-----"
    if not text.endswith(end) or len(text) < begin.end() + len(end):
        return False
    body = text[begin.end() : len(text) - len(end)]
    return bool(_PEM_BODY.fullmatch(body)) and any(char.isalnum() for char in body)


def rule_github_app(ctx: _Context) -> list[Violation]:
    """GH_APP_ID 0 or unset means personal access tokens; another id needs the app's key."""
    env = ctx.env
    rule = "github-app"
    found: list[Violation] = []
    name, key, location = "GH_APP_ID", "GH_APP_PRIVATE_KEY", "GH_APP_PRIVATE_KEY_LOCATION"
    app_id = parse_int(env.values[name]) if env.is_set(name) else 0
    if app_id is None or app_id < 0:
        message = (
            f"{ansible_name(name)} is {_show(env, name)}: set it to the numeric GitHub App id, "
            "or to 0 (or leave it unset) to use personal access tokens"
        )
        found.append(_violation(rule, message, [name]))
    elif app_id > 0 and not env.is_set(key) and not env.is_set(location):
        message = (
            f"{ansible_name(name)} is {app_id} but the app has no private key: set "
            f"{ansible_name(key)} to its PEM key or {ansible_name(location)} to the key file's "
            f"path, or set {ansible_name(name)} to 0 to use personal access tokens"
        )
        found.append(_violation(rule, message, [name, key, location]))
    elif app_id > 0 and (pem := env.text(key)) is not None and not _is_pem_private_key(pem):
        message = (
            f"{ansible_name(key)} is not a PEM private key: paste the whole key GitHub issued, "
            "from '-----BEGIN ... PRIVATE KEY-----' to '-----END ... PRIVATE KEY-----'"
        )
        found.append(_violation(rule, message, [key]))
    url = "GH_APP_INSTALLATION_URL"
    link = env.text(url)
    if link is not None and not _is_https_url(link):
        message = (
            f"{ansible_name(url)} is {_show(env, url)}: set it to the app's https install URL, "
            "e.g. 'https://github.com/apps/<app>/installations/new'"
        )
        found.append(_violation(rule, message, [url]))
    return found


# Required values ---------------------------------------------------------------------------


def rule_required_values(ctx: _Context) -> list[Violation]:
    """The values every deployment needs are set, and NATS_ENABLED has its consumer name."""
    env = ctx.env
    found: list[Violation] = []
    missing = [name for name in REQUIRED if not env.is_set(name)]
    if missing:
        noun = "is" if len(missing) == 1 else "are"
        message = f"{_vars(missing)} {noun} unset: every Hephaestus deployment needs {_it(missing)}"
        found.append(_violation("required-values", message, missing))
    if env.flag("NATS_ENABLED") is True and not env.is_set("NATS_DURABLE_CONSUMER_NAME"):
        message = (
            "hephaestus_nats_enabled is true but hephaestus_nats_durable_consumer_name is unset: "
            "set it to the durable consumer name for sync processing, e.g. 'hephaestus'"
        )
        variables = ["NATS_DURABLE_CONSUMER_NAME", "NATS_ENABLED"]
        found.append(_violation("required-values", message, variables))
    return found


def _it(names: Sequence[str]) -> str:
    return "it" if len(names) == 1 else "them"


def rule_app_hostname(ctx: _Context) -> list[Violation]:
    """APP_HOSTNAME is a bare DNS host name: no scheme, port or path."""
    env = ctx.env
    name = "APP_HOSTNAME"
    text = env.text(name)
    if text is None or _is_host_name(text):
        return []  # unset: required-values; not a scalar: scalar-values
    message = (
        f"{ansible_name(name)} is {_show(env, name)}: set it to the bare host name the stack is "
        "served on, without scheme, port or path, e.g. 'hephaestus.example.org'"
    )
    return [_violation("app-hostname", message, [name])]


def rule_webhook_secret_length(ctx: _Context) -> list[Violation]:
    """WEBHOOK_SECRET has at least 32 characters."""
    text = ctx.env.text("WEBHOOK_SECRET")
    if text is None or len(text) >= WEBHOOK_SECRET_MIN_LENGTH:
        return []
    message = (
        f"hephaestus_webhook_secret is shorter than {WEBHOOK_SECRET_MIN_LENGTH} characters: "
        "generate a new one, e.g. with 'openssl rand -hex 32', and configure it on the GitHub "
        "and GitLab webhooks as well"
    )
    return [_violation("webhook-secret-length", message, ["WEBHOOK_SECRET"])]


PLACEHOLDER_MARK: Final = "REPLACE_ME"


def rule_placeholder_values(ctx: _Context) -> list[Violation]:
    """No value still holds the REPLACE_ME placeholder of the example inventories."""
    env = ctx.env
    left = [var.name for var in CATALOG if PLACEHOLDER_MARK in (env.text(var.name) or "")]
    if not left:
        return []
    message = (
        f"{_vars(left)} still {'holds' if len(left) == 1 else 'hold'} the {PLACEHOLDER_MARK} "
        "placeholder of the example inventory: put the real value in the tier's group_vars "
        "or, for a secret, in its ansible-vault file"
    )
    return [_violation("placeholder-values", message, left)]


def rule_image_tag_pinned(ctx: _Context) -> list[Violation]:
    """IMAGE_TAG names a release; staging and production never float on 'latest'."""
    env = ctx.env
    text = env.text("IMAGE_TAG")
    if text is None and env.is_set("IMAGE_TAG"):
        return []  # not a scalar: scalar-values
    if text is None:
        message = (
            "hephaestus_image_tag is unset: pin the Hephaestus release this inventory runs, "
            "e.g. '1.4.0'"
        )
        return [_violation("image-tag-pinned", message, ["IMAGE_TAG"])]
    if ctx.tier != "preview" and text.strip().lower() == "latest":
        message = (
            f"hephaestus_image_tag is 'latest' on {ctx.tier}: pin a release tag so that a "
            "redeploy runs exactly what was validated"
        )
        return [_violation("image-tag-pinned", message, ["IMAGE_TAG"])]
    return []


# Well-formed values ------------------------------------------------------------------------


def rule_legal_profile(ctx: _Context) -> list[Violation]:
    """LEGAL_PROFILE, when set, is 1 to 32 lowercase letters, digits, '-' or '_'."""
    env = ctx.env
    name = "LEGAL_PROFILE"
    text = env.text(name)
    if text is None or _LEGAL_PROFILE.fullmatch(text):
        return []
    message = (
        f"{ansible_name(name)} is {_show(env, name)}: use 1 to 32 lowercase letters, digits, "
        f"'-' or '_' naming a bundled profile, or leave it unset and set {LEGAL_OVERRIDES_VAR}"
    )
    return [_violation("legal-profile", message, [name])]


@dataclass(frozen=True)
class _CronField:
    name: str
    low: int
    high: int
    names: Mapping[str, int]
    question: bool = False


_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
_DAYS: Final = {
    name: number
    for number, name in enumerate(("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"), start=1)
}
_CRON_FIELDS: Final = (
    _CronField("second", 0, 59, {}),
    _CronField("minute", 0, 59, {}),
    _CronField("hour", 0, 23, {}),
    _CronField("day of month", 1, 31, {}, question=True),
    _CronField("month", 1, 12, _MONTHS),
    # Spring accepts 0 and 7 for Sunday.
    _CronField("day of week", 0, 7, _DAYS, question=True),
)
_CRON_MACROS: Final = frozenset(
    ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
)


def _cron_value(text: str, spec: _CronField) -> int | None:
    if text.isdigit():
        number = int(text)
    elif text.upper() in spec.names:
        number = spec.names[text.upper()]
    else:
        return None
    return number if spec.low <= number <= spec.high else None


def _cron_item_ok(item: str, spec: _CronField) -> bool:
    """One comma-separated item of a Spring cron field."""
    base, slash, step = item.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        return False
    if base == "*" or (base == "?" and spec.question and not slash):
        return True
    if spec.name == "day of month" and not slash:
        # L (last day), L-3 (third-last), 15W (nearest weekday), LW (last weekday).
        if re.fullmatch(r"L(-(?:[0-9]|[12][0-9]|30))?|LW", base, re.IGNORECASE):
            return True
        if base[-1:].upper() == "W" and _cron_value(base[:-1], spec) is not None:
            return True
    if spec.name == "day of week" and not slash:
        # 5L (last Friday of the month), FRI#2 (second Friday).
        if base[-1:].upper() == "L" and _cron_value(base[:-1], spec) is not None:
            return True
        day, hash_, nth = base.partition("#")
        if hash_:
            return _cron_value(day, spec) is not None and nth in ("1", "2", "3", "4", "5")
    low_text, dash, high_text = base.partition("-")
    low = _cron_value(low_text, spec)
    if low is None:
        return False
    if not dash:
        return True
    high = _cron_value(high_text, spec)
    return high is not None and low <= high


def cron_problem(expression: str) -> str | None:
    """Explain what is wrong with a six-field Spring cron expression, or None if it is fine."""
    stripped = expression.strip()
    if stripped == "-" or stripped.lower() in _CRON_MACROS:
        return None  # '-' disables the schedule in Spring; macros are Spring shorthands
    fields = stripped.split()
    if len(fields) != len(_CRON_FIELDS):
        return (
            f"has {len(fields)} fields where Spring needs 6 (second minute hour day-of-month "
            "month day-of-week)"
        )
    for text, spec in zip(fields, _CRON_FIELDS, strict=True):
        if not all(item and _cron_item_ok(item, spec) for item in text.split(",")):
            return f"has an invalid {spec.name} field {text!r} (allowed {spec.low}-{spec.high})"
    return None


def rule_monitoring_sync_cron(ctx: _Context) -> list[Violation]:
    """MONITORING_SYNC_CRON is a six-field Spring cron expression."""
    env = ctx.env
    name = "MONITORING_SYNC_CRON"
    text = env.text(name)
    problem = None if text is None else cron_problem(text)
    if problem is None:
        return []
    message = (
        f"{ansible_name(name)} {_show(env, name)} {problem}: write a Spring cron expression "
        "such as '0 0 * * * *' (hourly)"
    )
    return [_violation("monitoring-sync-cron", message, [name])]


_MONITORING_INTS: Final = (
    ("MONITORING_TIMEFRAME", 1, "days of activity to sync"),
    ("MONITORING_SYNC_COOLDOWN_IN_MINUTES", 1, "minutes between syncs of a repository"),
    ("MONITORING_BACKFILL_BATCH_SIZE", 1, "issues and pull requests per backfill batch"),
    ("MONITORING_BACKFILL_RATE_LIMIT_THRESHOLD", 0, "remaining rate limit below which to pause"),
    ("MONITORING_BACKFILL_INTERVAL_SECONDS", 1, "seconds between backfill batches"),
)


def rule_monitoring_settings(ctx: _Context) -> list[Violation]:
    """MONITORING_* counts are whole numbers and its switches are booleans."""
    env = ctx.env
    found: list[Violation] = []
    rule = "monitoring-settings"
    for name, minimum, meaning in _MONITORING_INTS:
        if not env.is_set(name):
            continue
        number = parse_int(env.values[name])
        if number is None or number < minimum:
            floor = "0 or more" if minimum == 0 else "1 or more"
            message = (
                f"{ansible_name(name)} is {_show(env, name)}: set it to a whole number, {floor} "
                f"({meaning})"
            )
            found.append(_violation(rule, message, [name]))
    for name in ("MONITORING_RUN_ON_STARTUP", "MONITORING_BACKFILL_ENABLED"):
        if env.flag(name) is None:
            found.append(_violation(rule, _bool_message(env, name), [name]))
    return found


def _bool_message(env: _Env, name: str) -> str:
    return f"{ansible_name(name)} is {_show(env, name)}: set it to true or false"


def rule_boolean_values(ctx: _Context) -> list[Violation]:
    """Every switch of the catalog is true or false."""
    env = ctx.env
    return [
        _violation("boolean-values", _bool_message(env, var.name), [var.name])
        for var in CATALOG
        if var.kind == "bool" and var.name not in _OWNED_FORMATS and env.flag(var.name) is None
    ]


def rule_integer_values(ctx: _Context) -> list[Violation]:
    """Every other count of the catalog is a whole number, 0 or more."""
    env = ctx.env
    found: list[Violation] = []
    for var in CATALOG:
        if var.kind != "int" or var.name in _OWNED_FORMATS or not env.is_set(var.name):
            continue
        number = parse_int(env.values[var.name])
        if number is None or number < 0:
            message = (
                f"{var.ansible_name} is {_show(env, var.name)}: set it to a whole number, 0 or more"
            )
            found.append(_violation("integer-values", message, [var.name]))
    return found


def rule_scalar_values(ctx: _Context) -> list[Violation]:
    """Every text value is a single string or number: an environment file holds no lists.

    A list or mapping given for a switch or a count is reported by the rule checking that
    switch or count.
    """
    env = ctx.env
    return [
        _violation(
            "scalar-values",
            f"{var.ansible_name} is {_show(env, var.name)}: set it to a single string",
            [var.name],
        )
        for var in CATALOG
        if var.kind == "str" and env.is_set(var.name) and env.text(var.name) is None
    ]


# The order here is the order violations are reported in.
RULES: Final[Mapping[str, Rule]] = {
    "required-values": rule_required_values,
    "placeholder-values": rule_placeholder_values,
    "image-tag-pinned": rule_image_tag_pinned,
    "scalar-values": rule_scalar_values,
    "boolean-values": rule_boolean_values,
    "integer-values": rule_integer_values,
    "app-hostname": rule_app_hostname,
    "webhook-secret-length": rule_webhook_secret_length,
    "practice-review-bundle": rule_practice_review_bundle,
    "practice-review-for-all": rule_practice_review_for_all,
    "practice-review-settings": rule_practice_review_settings,
    "gitlab-workspace-needs-provider": rule_gitlab_workspace_needs_provider,
    "gitlab-provider-settings": rule_gitlab_provider_settings,
    "gitlab-webhook-settings": rule_gitlab_webhook_settings,
    "preview-tier-limits": rule_preview_tier_limits,
    "staging-practice-review-validation": rule_staging_practice_review_validation,
    "production-legal-pages": rule_production_legal_pages,
    "production-login": rule_production_login,
    "model-name": rule_model_name,
    "github-app": rule_github_app,
    "legal-profile": rule_legal_profile,
    "monitoring-sync-cron": rule_monitoring_sync_cron,
    "monitoring-settings": rule_monitoring_settings,
}


def check_tier(tier: object) -> str:
    """Return the tier if it is known; raise ValueError naming the known tiers otherwise."""
    if isinstance(tier, str) and tier in TIERS:
        return tier
    raise ValueError(f"unknown rollout tier {tier!r}: use one of {', '.join(TIERS)}")


def rollout_violations(
    env: Mapping[str, object],
    tier: str,
    rollout_validation: bool = False,
    legal_overrides: bool = False,
) -> list[Violation]:
    """Judge a configuration for a tier; return every violation, in rule order.

    Raises ValueError for an unknown tier. Bad values are violations, not exceptions.
    """
    ctx = _Context(_Env(normalize_env(env)), check_tier(tier), rollout_validation, legal_overrides)
    found: list[Violation] = []
    for rule in RULES.values():
        found.extend(rule(ctx))
    return found


def legal_overrides_violations(path: str) -> list[Violation]:
    """Check that a legal overrides directory exists and holds imprint.md and privacy.md."""
    rule = "legal-overrides-files"
    if not os.path.isdir(path):
        message = (
            f"{LEGAL_OVERRIDES_VAR} is {path!r}, which is not a directory on the controller: "
            "create it with imprint.md and privacy.md, or point the variable at one that has them"
        )
        return [_violation(rule, message, [])]
    return [
        _violation(
            rule,
            f"{LEGAL_OVERRIDES_VAR} {path!r} has no {filename}: add the {filename[:-3]} page "
            "there as Markdown",
            [],
        )
        for filename in LEGAL_OVERRIDE_FILES
        if not os.path.isfile(os.path.join(path, filename))
    ]


def format_violation(violation: Violation) -> str:
    """One line for a report: ``[rule] message (variables: A, B)``."""
    line = f"[{violation['rule']}] {violation['message']}"
    if violation["variables"]:
        line += f" (variables: {', '.join(violation['variables'])})"
    return line
