"""A stand-in for github.com and api.github.com: just the OAuth exchange Keycloak's broker makes.

Keycloak's GitHub provider takes its endpoints from the provider's baseUrl and apiUrl, so the
tests point those at this server and log users in without GitHub. The server answers:

- POST /login/oauth/access_token: a token, only for the expected client id and secret and a
  code that a test registered with a profile;
- GET /user and /user/emails: that profile, for that token.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class GitHubStub:
    """Serve GitHub's OAuth endpoints on host:<free port> in a background thread."""

    def __init__(self, host: str, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.profiles: dict[str, dict[str, Any]] = {}
        self.rejected_secrets: list[str] = []
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self.url = f"http://{host}:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def add_user(self, code: str, profile: dict[str, Any]) -> None:
        """Make `code` an authorization code that logs in the GitHub user `profile`."""
        self.profiles[code] = profile

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if not self.path.startswith("/login/oauth/access_token"):
                    self._send(404, {})
                    return
                if form.get("client_secret") != stub.client_secret:
                    stub.rejected_secrets.append(form.get("client_secret", ""))
                    self._send(401, {"error": "incorrect_client_credentials"})
                    return
                if form.get("client_id") != stub.client_id or form.get("code") not in stub.profiles:
                    self._send(401, {"error": "bad_verification_code"})
                    return
                self._send(
                    200,
                    {
                        "access_token": "token-" + form["code"],
                        "token_type": "bearer",
                        "scope": "user:email",
                    },
                )

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                code = auth.partition("token-")[2]
                profile = stub.profiles.get(code)
                if profile is None:
                    self._send(401, {"message": "Bad credentials"})
                elif self.path.startswith("/user/emails"):
                    emails = [{"email": profile["email"], "primary": True, "verified": True}]
                    self._send(200, emails)
                elif self.path.startswith("/user"):
                    self._send(200, profile)
                else:
                    self._send(404, {})

        return Handler
