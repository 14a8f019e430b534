"""Salesforce OAuth: the three grants, each remembering the instance_url its token response names."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from leadsync.connectors import (
    HttpClient,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    TokenAuth,
    register_secret,
)

from leadsync_salesforce.settings import SalesforceSettings

__all__ = ["JwtBearer", "build_auth"]

# Salesforce access tokens carry no expires_in: they live as long as the session timeout, and an
# expired one answers 401 INVALID_SESSION_ID, upon which the client re-authenticates once.


class _InstanceUrl:
    instance_url: str | None = None

    def _absorb(self, payload: Mapping[str, Any]) -> None:
        super()._absorb(payload)  # type: ignore[misc]
        if payload.get("instance_url"):
            self.instance_url = str(payload["instance_url"]).rstrip("/")


class RefreshTokenAuth(_InstanceUrl, OAuth2RefreshToken):
    """grant_type=refresh_token."""


class ClientCredentialsAuth(_InstanceUrl, OAuth2ClientCredentials):
    """grant_type=client_credentials (the connected app's run-as user)."""


class JwtBearer(_InstanceUrl, TokenAuth):
    """grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer with an RS256-signed assertion."""

    def __init__(self, token_url: str, client_id: str, username: str, private_key: str, audience: str) -> None:
        super().__init__(token_url)
        self.client_id, self.username, self.audience = client_id, username, audience
        self._key = private_key
        register_secret(private_key)

    def assertion(self) -> str:
        import jwt  # PyJWT with cryptography: a dependency of this plugin only

        claims = {"iss": self.client_id, "sub": self.username, "aud": self.audience,
                  "exp": int(time.time()) + 180, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self._key, algorithm="RS256")

    def _token_request(self, client: HttpClient) -> httpx.Response:
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": self.assertion()}
        return self._token_call(client, "POST", params=None, data=form)

    def __repr__(self) -> str:
        return f"JwtBearer(token_url={self.token_url!r}, client_id={self.client_id!r}, key='***')"


def build_auth(settings: SalesforceSettings) -> TokenAuth:
    secret = settings.client_secret
    if settings.flow == "refresh_token":
        return RefreshTokenAuth(settings.token_url, settings.client_id, secret, settings.refresh_token or "")
    if settings.flow == "client_credentials":
        return ClientCredentialsAuth(settings.token_url, settings.client_id, secret or "")
    key = settings.private_key.get_secret_value() if settings.private_key else ""
    return JwtBearer(settings.token_url, settings.client_id, settings.username or "", key, settings.jwt_audience)
