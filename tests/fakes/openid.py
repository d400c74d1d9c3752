"""A fake Microsoft identity platform on loopback: OpenID metadata, signing keys, tokens.

Teams signs every request to a bot with a JWT whose keys the bot finds through OpenID
metadata (``openidconfiguration`` -> ``jwks_uri``); replying needs an access token from a
token endpoint. This fake serves both from 127.0.0.1, port 0, with an RSA key made in the
test process, so the SDK's real validation code checks real signatures::

    with FakeIdentityProvider() as idp:
        cloud = BotFrameworkCloud(openid_metadata_url=idp.openid_metadata_url)
        token = idp.channel_token(app_id=APP_ID, service_url=connector.service_url)
        headers = {"Authorization": f"Bearer {token}"}

It runs in its own thread: botframework-connector fetches metadata (and MSAL fetches
tokens) with blocking ``requests`` calls on the event loop's thread, so a server on that
same loop would never get to answer.

``LoopbackCredentialsFactory`` is the outbound half: a credentials factory, accepted by the
SDK's authentication configuration, that gets client-credential tokens from this fake
instead of login.microsoftonline.com.
"""

from __future__ import annotations

import functools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import jwt
import requests
from botframework.connector.auth import (
    AppCredentials,
    MicrosoftAppCredentials,
    PasswordServiceClientCredentialFactory,
)
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CHANNEL_ISSUER = "https://api.botframework.com"
KEY_ID = "policybot-test-key"


@functools.cache
def signing_key() -> rsa.RSAPrivateKey:
    """The identity provider's RSA key, made once per test process (2048 bits takes time)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def stranger_key() -> rsa.RSAPrivateKey:
    """A key the identity provider does not publish: tokens it signs must be refused."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeIdentityProvider:
    """OpenID metadata, JWKS and a client-credentials token endpoint, in a thread.

    ``endorsements`` are the channels the published key is endorsed for (Bot Framework
    checks the activity's ``channelId`` against them). Every request is counted in
    ``metadata_requests`` or recorded in ``token_requests`` (the form fields).
    """

    def __init__(self, *, endorsements: Sequence[str] = ("msteams", "emulator")) -> None:
        self.endorsements = list(endorsements)
        self.metadata_requests = 0
        self.token_requests: list[dict[str, str]] = []
        self.issued_tokens: list[str] = []
        # A fresh path per instance: the SDK caches metadata by URL for the whole process.
        self._prefix = f"/{uuid.uuid4().hex}"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Bind 127.0.0.1 on a free port and serve from a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeIdentityProvider:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake identity provider is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{self._prefix}"

    @property
    def openid_metadata_url(self) -> str:
        """Give this as ``BotFrameworkCloud.openid_metadata_url``."""
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth2/v2.0/token"

    # -- tokens a channel would send ---------------------------------------------------------

    def channel_token(
        self,
        *,
        app_id: str,
        service_url: str,
        issuer: str = CHANNEL_ISSUER,
        lifetime: float = 3600,
        issued_at: float | None = None,
        key: rsa.RSAPrivateKey | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A token like the one Teams puts on a request to the bot ``app_id``."""
        now = time.time() if issued_at is None else issued_at
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": app_id,
            "serviceurl": service_url,
            "nbf": int(now) - 5,
            "iat": int(now) - 5,
            "exp": int(now + lifetime),
        }
        claims.update(extra or {})
        return self.sign(claims, key=key)

    def sign(self, claims: dict[str, Any], *, key: rsa.RSAPrivateKey | None = None) -> str:
        """``claims`` as an RS256 JWT with this provider's key id."""
        private = signing_key() if key is None else key
        return jwt.encode(claims, private, algorithm="RS256", headers={"kid": KEY_ID})

    # -- what the server answers -------------------------------------------------------------

    def _metadata(self) -> dict[str, Any]:
        self.metadata_requests += 1
        return {
            "issuer": CHANNEL_ISSUER,
            "authorization_endpoint": f"{self.base_url}/authorize",
            "jwks_uri": f"{self.base_url}/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }

    def _keys(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(signing_key().public_key(), as_dict=True)
        jwk.update(kid=KEY_ID, use="sig", endorsements=self.endorsements)
        return {"keys": [jwk]}

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        if form.get("grant_type") != "client_credentials" or not form.get("client_secret"):
            return 400, {"error": "invalid_request"}
        token = secrets.token_urlsafe(24)
        self.issued_tokens.append(token)
        return 200, {"token_type": "Bearer", "expires_in": 3600, "access_token": token}


def _handler(idp: FakeIdentityProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

        def do_GET(self) -> None:
            if self.path == f"{idp._prefix}/v1/.well-known/openidconfiguration":
                self._send(200, idp._metadata())
            elif self.path == f"{idp._prefix}/keys":
                self._send(200, idp._keys())
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode("utf-8")))
            if self.path == f"{idp._prefix}/oauth2/v2.0/token":
                self._send(*idp._token(form))
            else:
                self._send(404, {"error": "not found"})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


class LoopbackCredentialsFactory(PasswordServiceClientCredentialFactory):  # type: ignore[misc]
    """App id and password checked as the SDK does; tokens from the fake's token endpoint."""

    def __init__(self, idp: FakeIdentityProvider, app_id: str, password: str) -> None:
        super().__init__(app_id, password)
        self.idp = idp
        self.created = 0

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        if await self.is_authentication_disabled():
            return MicrosoftAppCredentials.empty()
        if not await self.is_valid_app_id(app_id):
            raise PermissionError("Invalid app_id")
        self.created += 1
        return _LoopbackCredentials(self.idp.token_url, app_id, self.password, oauth_scope)


class _LoopbackCredentials(AppCredentials):  # type: ignore[misc]
    # Client credentials grant, as MSAL does it, with the token cached until it expires.
    def __init__(self, token_url: str, app_id: str, password: str, scope: str) -> None:
        super().__init__(app_id=app_id, oauth_scope=scope)
        self._token_url = token_url
        self._password = password
        self._token: tuple[str, float] | None = None

    def get_access_token(self, force_refresh: bool = False) -> str:
        if self._token is not None and not force_refresh and self._token[1] > time.time():
            return self._token[0]
        response = requests.post(
            self._token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.microsoft_app_id,
                "client_secret": self._password,
                "scope": f"{self.oauth_scope}/.default",
            },
            timeout=5,
        )
        response.raise_for_status()
        body = response.json()
        self._token = (body["access_token"], time.time() + body["expires_in"] - 60)
        return str(body["access_token"])
