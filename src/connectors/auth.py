"""Request authentication: static bearer/header tokens and OAuth 2.0 refresh-token and client-credentials grants."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import httpx
from pydantic import SecretStr

from leadsync.connectors.errors import AuthError, HttpStatusError, excerpt, parse_body
from leadsync.connectors.redact import register_secret
from leadsync.connectors.retry import Resolution, default_classify

if TYPE_CHECKING:
    from leadsync.connectors.http import HttpClient

__all__ = [
    "Auth",
    "BearerToken",
    "HeaderToken",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "TokenAuth",
]


def _plain(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@runtime_checkable
class Auth(Protocol):
    """How a client authenticates. `apply` signs a request; `refresh` gets fresh credentials."""

    def apply(self, request: httpx.Request) -> None: ...

    def refresh(self, client: HttpClient) -> bool:
        """Obtain new credentials; False when this auth cannot refresh (static tokens)."""
        ...


class _StaticAuth:
    """Credentials that never change: nothing to refresh, a rejection is final."""

    def refresh(self, client: HttpClient) -> bool:
        return False

    def needs_refresh(self) -> bool:
        return False


class BearerToken(_StaticAuth):
    """`Authorization: Bearer <token>` with a token that does not expire (HubSpot private apps)."""

    def __init__(self, token: str | SecretStr) -> None:
        self._token = SecretStr(_plain(token))
        register_secret(self._token)

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"

    def __repr__(self) -> str:
        return "BearerToken(token='***')"


class HeaderToken(_StaticAuth):
    """A token in a vendor header, e.g. kintone's `X-Cybozu-API-Token`."""

    def __init__(self, header_name: str, value: str | SecretStr) -> None:
        self.header_name = header_name
        self._value = SecretStr(_plain(value))
        register_secret(self._value)

    def apply(self, request: httpx.Request) -> None:
        request.headers[self.header_name] = self._value.get_secret_value()

    def __repr__(self) -> str:
        return f"HeaderToken({self.header_name!r}, value='***')"


class TokenAuth:
    """Base of the OAuth grants: caches a bearer access token and renews it before it expires."""

    # Renew this many seconds before the vendor's expiry, so a token never dies mid-request.
    refresh_margin_s = 60.0

    def __init__(self, token_url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url = token_url
        self._clock = clock
        self._lock = threading.RLock()
        self._access_token: SecretStr | None = None
        self._expires_at: float | None = None
        self.refresh_count = 0

    # -- the grant -----------------------------------------------------------------------------
    def _token_request(self, client: HttpClient) -> httpx.Response:
        raise NotImplementedError

    def _absorb(self, payload: Mapping[str, Any]) -> None:
        """Read what a token endpoint returned; subclasses also take a rotated refresh token."""

    # -- Auth ----------------------------------------------------------------------------------
    def needs_refresh(self) -> bool:
        with self._lock:
            if self._access_token is None:
                return True
            return self._expires_at is not None and self._clock() >= self._expires_at

    def apply(self, request: httpx.Request) -> None:
        with self._lock:
            token = self._access_token
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"

    def refresh(self, client: HttpClient) -> bool:
        with self._lock:
            try:
                response = self._token_request(client)
            except HttpStatusError as exc:
                raise AuthError(
                    f"token request to {self.token_url} was rejected", status=exc.status, body=exc.body
                ) from None
            payload = parse_body(response)
            token = payload.get("access_token") if isinstance(payload, dict) else None
            if not token:
                raise AuthError(
                    f"token response from {self.token_url} has no access_token",
                    status=response.status_code,
                    body=excerpt(payload) if payload else None,
                )
            register_secret(token)
            self._access_token = SecretStr(token)
            expires_in = payload.get("expires_in")
            try:
                lifetime = float(expires_in) if expires_in is not None else None
            except (TypeError, ValueError):
                lifetime = None
            self._expires_at = (
                self._clock() + max(lifetime - self.refresh_margin_s, lifetime / 2)
                if lifetime is not None
                else None
            )
            self._absorb(payload)
            self.refresh_count += 1
            return True

    def _token_call(
        self, client: HttpClient, method: str, *, params: dict[str, str] | None, data: dict[str, str] | None
    ) -> httpx.Response:
        # Token endpoints answer 400/401 for bad credentials: every non-2xx is final here.
        return client.request(
            method,
            self.token_url,
            endpoint="auth",
            params=params,
            data=data,
            headers={"Accept": "application/json"},
            idempotent=True,
            authenticate=False,
            classify=_token_classify,
        )


def _token_classify(response: httpx.Response) -> Resolution:
    resolution = default_classify(response)
    return Resolution.FAIL if resolution is Resolution.REFRESH_AUTH_THEN_RETRY else resolution


class OAuth2RefreshToken(TokenAuth):
    """OAuth 2.0 `grant_type=refresh_token` (HubSpot, Salesforce, kintone OAuth).

    POSTs a form to `token_url`, reads `access_token` and `expires_in`, renews before expiry and
    when the vendor rejects the session, and keeps a rotated `refresh_token` when one comes back
    (`on_rotate` lets the caller persist it).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | SecretStr | None,
        refresh_token: str | SecretStr,
        extra: Mapping[str, str] | None = None,
        *,
        on_rotate: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(token_url, clock=clock)
        self.client_id = client_id
        self._client_secret = SecretStr(_plain(client_secret)) if client_secret is not None else None
        self._refresh_token = SecretStr(_plain(refresh_token))
        self.extra = dict(extra or {})
        self.on_rotate = on_rotate
        register_secret(self._client_secret)
        register_secret(self._refresh_token)

    @property
    def refresh_token(self) -> SecretStr:
        """The current refresh token (it changes when the vendor rotates it)."""
        return self._refresh_token

    def _token_request(self, client: HttpClient) -> httpx.Response:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token.get_secret_value(),
            "client_id": self.client_id,
            **self.extra,
        }
        if self._client_secret is not None:
            form["client_secret"] = self._client_secret.get_secret_value()
        return self._token_call(client, "POST", params=None, data=form)

    def _absorb(self, payload: Mapping[str, Any]) -> None:
        rotated = payload.get("refresh_token")
        if rotated and rotated != self._refresh_token.get_secret_value():
            register_secret(rotated)
            self._refresh_token = SecretStr(rotated)
            if self.on_rotate is not None:
                self.on_rotate(rotated)

    def __repr__(self) -> str:
        return f"OAuth2RefreshToken(token_url={self.token_url!r}, client_id={self.client_id!r}, secrets='***')"


class OAuth2ClientCredentials(TokenAuth):
    """OAuth 2.0 `grant_type=client_credentials` (Marketo identity: GET with query parameters).

    There is no refresh token: a new access token is requested before expiry or when the vendor
    reports it expired or invalid.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | SecretStr,
        method: Literal["POST", "GET"] = "POST",
        params_in: Literal["body", "query"] = "body",
        *,
        extra: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(token_url, clock=clock)
        if method not in ("POST", "GET"):
            raise ValueError(f"method must be POST or GET, got {method!r}")
        if params_in not in ("body", "query"):
            raise ValueError(f"params_in must be 'body' or 'query', got {params_in!r}")
        if method == "GET" and params_in == "body":
            params_in = "query"  # a GET has no body
        self.client_id = client_id
        self._client_secret = SecretStr(_plain(client_secret))
        self.method = method
        self.params_in = params_in
        self.extra = dict(extra or {})
        register_secret(self._client_secret)

    def _token_request(self, client: HttpClient) -> httpx.Response:
        fields = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
            **self.extra,
        }
        if self.params_in == "query":
            return self._token_call(client, self.method, params=fields, data=None)
        return self._token_call(client, self.method, params=None, data=fields)

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentials(token_url={self.token_url!r}, client_id={self.client_id!r}, "
            "client_secret='***')"
        )
