"""The hephaestus realm as the application relies on it, checked through Keycloak's own API.

Runs after every phase of the scenario (vars/phase-*.yml); tests that only make sense in some
phases say so with `only_in`.
"""

from __future__ import annotations

import json
import stat
from typing import Any

import pytest
from conftest import EPHEMERAL, Keycloak, all_phase_secrets, initial_values

SERVICE_ACCOUNT_ROLES = {"view-users", "query-users", "manage-users", "view-identity-providers"}
PASSWORD_FORMS = {
    "auth-username-password-form",
    "auth-username-form",
    "auth-password-form",
    "auth-otp-form",
    "auth-conditional-otp-form",
}
REALM_FILE = EPHEMERAL / "base" / "core" / "keycloak" / "import" / "hephaestus-realm.json"


def only_in(*phases: str) -> pytest.MarkDecorator:
    """Run the test only in the given phases of the scenario."""
    return pytest.mark.phases(*phases)


# --- the realm file on disk --------------------------------------------------------------


def test_realm_file_is_readable_by_keycloak_and_holds_no_secret() -> None:
    text = REALM_FILE.read_text()
    assert stat.S_IMODE(REALM_FILE.stat().st_mode) == 0o644
    assert stat.S_IMODE(REALM_FILE.parent.stat().st_mode) == 0o755
    leaked = [s for s in all_phase_secrets() if s in text]
    assert not leaked, "secrets in the realm file"
    for placeholder in (
        "${KEYCLOAK_GITHUB_CLIENT_SECRET}",
        "${KEYCLOAK_HEPHAESTUS_CONFIDENTIAL_CLIENT_SECRET}",
        "${APP_HOSTNAME}",
    ):
        assert placeholder in text


def test_realm_file_carries_gitlab_only_when_enabled(values: dict[str, Any]) -> None:
    realm = json.loads(REALM_FILE.read_text())
    aliases = [p["alias"] for p in realm["identityProviders"]]
    gitlab = ["gitlab-lrz"] if values["hephaestus_keycloak_gitlab_enabled"] else []
    assert aliases == ["github", *gitlab]


# --- realm, roles, login flows -------------------------------------------------------------


def test_realm_settings(keycloak: Keycloak) -> None:
    realm = keycloak.get("")
    assert realm["enabled"] is True
    assert realm["ssoSessionIdleTimeout"] == 14 * 24 * 3600
    assert realm["ssoSessionMaxLifespan"] == 30 * 24 * 3600
    assert realm["registrationAllowed"] is False


def test_admin_role_is_composite_of_the_application_roles(keycloak: Keycloak) -> None:
    names = {r["name"] for r in keycloak.get("/roles")}
    assert {"admin", "mentor_access", "notification_access", "run_practice_review"} <= names
    composites = keycloak.get("/roles/admin/composites")
    realm_roles = {r["name"] for r in composites if not r["clientRole"]}
    client_roles = {r["name"] for r in composites if r["clientRole"]}
    assert realm_roles == {"mentor_access", "notification_access", "run_practice_review"}
    assert client_roles == {"realm-admin"}


def _flow_executions(keycloak: Keycloak, alias: str) -> list[dict[str, Any]]:
    return keycloak.get(f"/authentication/flows/{alias.replace(' ', '%20')}/executions")


def test_browser_flow_is_sso_only(keycloak: Keycloak) -> None:
    realm = keycloak.get("")
    executions = _flow_executions(keycloak, realm["browserFlow"])
    providers = [e.get("providerId") for e in executions]
    assert providers == ["auth-cookie", "identity-provider-redirector"]
    assert not PASSWORD_FORMS & set(providers)
    redirector = executions[1]
    config = keycloak.get(f"/authentication/config/{redirector['authenticationConfig']}")
    assert config["config"]["defaultProvider"] == "github"
    assert all(e["requirement"] == "ALTERNATIVE" for e in executions)


def test_first_broker_login_skips_review_and_links_automatically(keycloak: Keycloak) -> None:
    flow = keycloak.provider("github")["firstBrokerLoginFlowAlias"]
    executions = _flow_executions(keycloak, flow)
    by_provider = {e.get("providerId"): e for e in executions}
    review = by_provider["idp-review-profile"]
    config = keycloak.get(f"/authentication/config/{review['authenticationConfig']}")
    assert config["config"]["update.profile.on.first.login"] == "off"
    assert by_provider["idp-create-user-if-unique"]["requirement"] == "ALTERNATIVE"
    assert by_provider["idp-auto-link"]["requirement"] == "ALTERNATIVE"
    create, link = by_provider["idp-create-user-if-unique"], by_provider["idp-auto-link"]
    assert create["level"] == link["level"] == 1
    assert "idp-confirm-link" not in by_provider


def test_user_profile_relaxes_names(keycloak: Keycloak) -> None:
    profile = keycloak.get("/users/profile")
    attributes = {a["name"]: a for a in profile["attributes"]}
    for name in ("firstName", "lastName"):
        assert "required" not in attributes[name]
        assert "person-name-prohibited-characters" not in attributes[name].get("validations", {})
    assert profile["unmanagedAttributePolicy"] == "ADMIN_VIEW"


# --- clients -----------------------------------------------------------------------------------


def test_public_client(keycloak: Keycloak, values: dict[str, Any]) -> None:
    client = keycloak.client("hephaestus")
    host = values["hephaestus_app_hostname"]
    assert client["publicClient"] is True
    assert client["standardFlowEnabled"] is True
    assert client["directAccessGrantsEnabled"] is True
    assert client["implicitFlowEnabled"] is False
    assert client["rootUrl"] == f"https://{host}"
    assert client["redirectUris"] == [f"https://{host}/*"]
    assert client["webOrigins"] == ["+"]


@pytest.mark.parametrize(
    ("name", "mapper", "config"),
    [
        (
            "github_id",
            "oidc-usermodel-attribute-mapper",
            {"user.attribute": "github_id", "claim.name": "github_id", "jsonType.label": "long"},
        ),
        (
            "gitlab_id",
            "oidc-usermodel-attribute-mapper",
            {"user.attribute": "gitlab_id", "claim.name": "gitlab_id", "jsonType.label": "long"},
        ),
        (
            "identity_provider",
            "oidc-usersessionmodel-note-mapper",
            {"user.session.note": "identity_provider", "claim.name": "identity_provider"},
        ),
    ],
)
def test_public_client_token_claims(
    keycloak: Keycloak, name: str, mapper: str, config: dict[str, str]
) -> None:
    mappers = {m["name"]: m for m in keycloak.client("hephaestus")["protocolMappers"]}
    assert mappers[name]["protocolMapper"] == mapper
    assert config.items() <= mappers[name]["config"].items()
    for token in ("id.token.claim", "access.token.claim"):
        assert mappers[name]["config"][token] == "true"


def test_confidential_client(keycloak: Keycloak) -> None:
    client = keycloak.client("hephaestus-confidential")
    assert client["publicClient"] is False
    assert client["serviceAccountsEnabled"] is True
    assert client["clientAuthenticatorType"] == "client-secret"


def test_confidential_secret_works_and_others_fail(
    keycloak: Keycloak, values: dict[str, Any]
) -> None:
    secret = values["hephaestus_keycloak_hephaestus_confidential_client_secret"]
    granted = keycloak.client_credentials("hephaestus-confidential", secret)
    assert granted.status_code == 200, granted.text
    assert keycloak.client_credentials("hephaestus-confidential", secret + "x").status_code == 401


@only_in("rotated", "gitlab_off")
def test_old_confidential_secret_fails_after_rotation(keycloak: Keycloak) -> None:
    old = initial_values()["hephaestus_keycloak_hephaestus_confidential_client_secret"]
    assert keycloak.client_credentials("hephaestus-confidential", old).status_code == 401


def test_service_account_roles(keycloak: Keycloak) -> None:
    client = keycloak.client("hephaestus-confidential")
    user = keycloak.get(f"/clients/{client['id']}/service-account-user")
    management = keycloak.client("realm-management")
    roles = keycloak.get(f"/users/{user['id']}/role-mappings/clients/{management['id']}")
    assert {r["name"] for r in roles} == SERVICE_ACCOUNT_ROLES


# --- identity providers ---------------------------------------------------------------------


def test_github_provider(keycloak: Keycloak, values: dict[str, Any]) -> None:
    provider = keycloak.provider("github")
    assert provider["providerId"] == "github"
    assert provider["enabled"] is True
    assert provider["trustEmail"] is True
    assert provider["config"]["syncMode"] == "FORCE"
    assert provider["config"]["clientId"] == values["hephaestus_keycloak_github_client_id"]
    assert "user:email" in provider["config"]["defaultScope"].split()


def test_github_mappers(keycloak: Keycloak, values: dict[str, Any]) -> None:
    mappers = keycloak.mappers("github")
    assert set(mappers) == {"github id", "admin role"}
    github_id = mappers["github id"]
    assert github_id["identityProviderMapper"] == "github-user-attribute-mapper"
    assert github_id["config"]["jsonField"] == "id"
    assert github_id["config"]["userAttribute"] == "github_id"
    admin = mappers["admin role"]
    assert admin["identityProviderMapper"] == "oidc-advanced-role-idp-mapper"
    assert admin["config"]["role"] == "admin"
    assert admin["config"]["are.claim.values.regex"] == "true"
    login = values["hephaestus_keycloak_github_admin_username"]
    assert json.loads(admin["config"]["claims"]) == [
        {"key": "login", "value": "(?i)\\Q" + login + "\\E"}
    ]


@only_in("initial")
def test_gitlab_provider_absent_until_enabled(keycloak: Keycloak) -> None:
    assert keycloak.provider("gitlab-lrz") is None


@only_in("rotated")
def test_gitlab_provider_added_to_the_imported_realm(
    keycloak: Keycloak, values: dict[str, Any]
) -> None:
    provider = keycloak.provider("gitlab-lrz")
    base = values["hephaestus_keycloak_gitlab_base_url"]
    assert provider is not None
    assert provider["providerId"] == "oidc"
    assert provider["enabled"] is True
    config = provider["config"]
    assert config["issuer"] == base
    assert config["authorizationUrl"] == f"{base}/oauth/authorize"
    assert config["tokenUrl"] == f"{base}/oauth/token"
    assert config["userInfoUrl"] == f"{base}/oauth/userinfo"
    assert config["jwksUrl"] == f"{base}/oauth/discovery/keys"
    assert config["clientAuthMethod"] == "client_secret_post"
    assert config["defaultScope"].split() == ["openid", "profile", "email"]
    assert config["allowedClockSkew"] == "300"
    assert config["syncMode"] == "IMPORT"
    assert config["clientId"] == values["hephaestus_keycloak_gitlab_client_id"]
    github = keycloak.provider("github")
    assert provider["firstBrokerLoginFlowAlias"] == github["firstBrokerLoginFlowAlias"]
    mappers = keycloak.mappers("gitlab-lrz")
    assert mappers["gitlab id"]["config"]["claim"] == "sub"
    assert mappers["gitlab id"]["config"]["user.attribute"] == "gitlab_id"
    admin = mappers["admin role"]["config"]
    assert admin["role"] == "admin"
    assert json.loads(admin["claims"]) == [
        {
            "key": "preferred_username",
            "value": "(?i)\\Q" + values["hephaestus_keycloak_gitlab_admin_username"] + "\\E",
        }
    ]


@only_in("gitlab_off")
def test_gitlab_provider_disabled_when_switched_off(keycloak: Keycloak) -> None:
    provider = keycloak.provider("gitlab-lrz")
    assert provider is not None
    assert provider["enabled"] is False


# --- logging in through the GitHub provider ------------------------------------------------


# GitHub logins are unique regardless of case, so each case below is a different account. The
# inventory names the admin "OctoCat-Admin".
@only_in("initial")
@pytest.mark.parametrize(
    ("github_login", "github_id", "admin"),
    [
        ("octocat-ADMIN", 1001, True),
        ("octocat-admin-x", 1002, False),
        ("xoctocat-admin", 1003, False),
        ("octocat", 1004, False),
        ("someone-else", 1005, False),
    ],
    ids=["other-case", "suffix", "prefix", "part", "other"],
)
def test_github_login_grants_admin_only_to_the_configured_login(
    login, github_login: str, github_id: int, admin: bool
) -> None:
    result = login(github_login, github_id)
    assert result.claims is not None, result.final_response.text[:500]
    assert result.claims["preferred_username"] == github_login.lower()
    assert result.claims["github_id"] == github_id
    assert result.claims["identity_provider"] == "github"
    assert ("admin" in result.claims["realm_access"]["roles"]) is admin
    management = result.claims.get("resource_access", {}).get("realm-management", {})
    assert ("realm-admin" in management.get("roles", [])) is admin


def test_browser_flow_redirects_straight_to_github(login) -> None:
    result = login("flow-check", 2001)
    assert result.first_response.status_code in (302, 303)
    assert "<form" not in result.first_response.text


@only_in("rotated", "gitlab_off")
def test_github_secret_rotation_reached_keycloak(login, github) -> None:
    # The stub accepts only the client secret it is given: a login that succeeds proves
    # Keycloak sends that secret, one that fails proves the stub does check it.
    result = login("rotation-check", 3001)
    assert result.claims is not None, result.final_response.text[:500]
    current = github.client_secret
    github.client_secret = initial_values()["hephaestus_keycloak_github_client_secret"]
    try:
        assert login("rotation-check", 3001).claims is None
    finally:
        github.client_secret = current
    assert github.rejected_secrets
