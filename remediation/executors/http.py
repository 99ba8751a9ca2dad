"""An HTTP call as a remediation action (a feature flag, a cache flush, a runbook service)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from remediation.executors.base import ActionRequest, ExecutionResult, ExecutorError


class HttpExecutor:
    """``params``: ``url``, ``method`` (POST), ``json``, ``headers``, ``expect`` (2xx).

    In a dry run nothing is sent: an arbitrary endpoint has no dry-run mode to rely on.
    ``{target}`` in the URL is replaced by the action's target.
    """

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def replicas(self, target: str, params: Mapping[str, Any]) -> int | None:
        return None

    def execute(self, request: ActionRequest, *, dry_run: bool) -> ExecutionResult:
        p = request.params
        url = str(p["url"]).replace("{target}", request.target)
        method = str(p.get("method", "POST")).upper()
        if dry_run:
            return ExecutionResult(f"would {method} {url}", {"url": url})
        try:
            response = self._client.request(method, url, json=p.get("json"),
                                            headers=dict(p.get("headers", {})))
        except httpx.HTTPError as exc:
            raise ExecutorError("http", request.target, f"{type(exc).__name__}: {exc}") from exc
        expected = p.get("expect")
        ok = response.status_code in expected if expected else response.is_success
        if not ok:
            raise ExecutorError("http", request.target,
                                f"{method} {url} answered {response.status_code}")
        return ExecutionResult(f"{method} {url} -> {response.status_code}",
                               {"status": response.status_code})
