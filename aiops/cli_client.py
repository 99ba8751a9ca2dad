"""The HTTP client behind ``aiops incidents|silence|topology``: a running API, reached with
the URL and credential from flags, the environment or the settings file.

Where the address comes from, strongest first: ``--url``, ``AIOPS_URL``, then the settings
(``api.public_url``, else ``http://api.host:api.port``). The credential: ``--token`` /
``AIOPS_TOKEN``, ``--basic-auth user:password`` / ``AIOPS_BASIC_AUTH``, then the settings'
``api.bearer_token`` or ``api.basic_username``/``api.basic_password``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from aiops.model import AiopsError
from aiops.settings import ApiSettings


class ApiCallError(AiopsError):
    """The API refused a call or could not be reached; ``status`` is 0 when unreachable."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}" if status else reason)
        self.status = status
        self.reason = reason


def base_url(settings: ApiSettings) -> str:
    """The API's address as the settings describe it.

    >>> base_url(ApiSettings(host="0.0.0.0", port=9000))
    'http://127.0.0.1:9000'
    >>> base_url(ApiSettings(public_url="https://aiops.example/"))
    'https://aiops.example'
    """
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def settings_auth(settings: ApiSettings) -> httpx.Auth | dict[str, str] | None:
    if settings.bearer_token:
        return {"Authorization": f"Bearer {settings.bearer_token}"}
    if settings.basic_username:
        return httpx.BasicAuth(settings.basic_username, settings.basic_password)
    return None


@dataclass
class ApiClient:
    url: str
    token: str = ""
    basic_auth: str = ""
    timeout: float = 15.0

    def _client(self) -> httpx.Client:
        headers = {"Accept": "application/json"}
        auth: httpx.Auth | None = None
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.basic_auth:
            user, _, password = self.basic_auth.partition(":")
            auth = httpx.BasicAuth(user, password)
        return httpx.Client(base_url=self.url.rstrip("/"), headers=headers, auth=auth,
                            timeout=self.timeout)

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             json: Any = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            with self._client() as client:
                response = client.request(method, path, params=clean, json=json)
        except httpx.HTTPError as exc:
            raise ApiCallError(0, f"cannot reach the API at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
                reason = body.get("detail", body) if isinstance(body, dict) else body
            except ValueError:
                reason = response.text
            raise ApiCallError(response.status_code, str(reason))
        if not response.content:
            return None
        return response.json()
