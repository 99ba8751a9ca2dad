"""An HTTP call as a remediation action (a feature flag, a cache flush, a runbook service)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from remediation.executors.base import ActionRequest, ExecutionResult, ExecutorError
from remediation.urls import check_origin


class HttpExecutor:
    """``params``: ``url``, ``method`` (POST), ``json``, ``headers``, ``expect`` (2xx),
    ``allowed_hosts`` (origins such as ``https://cache.internal:8443``; default: the URL's
    own origin).

    In a dry run nothing is sent: an arbitrary endpoint has no dry-run mode to rely on.
    ``{target}`` in the URL is replaced by the action's target, percent-encoded, and the
    rendered URL must reach an allowed host (:mod:`remediation.urls`); otherwise
    :class:`~remediation.urls.UnsafeUrl` is raised, in a dry run too.
    """

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def replicas(self, target: str, params: Mapping[str, Any]) -> int | None:
        return None

    def execute(self, request: ActionRequest, *, dry_run: bool) -> ExecutionResult:
        p = request.params
        url = check_origin(str(p["url"]), {"target": request.target},
                           [str(h) for h in p.get("allowed_hosts", ())])
        method = str(p.get("method", "POST")).upper()
        if dry_run:
            return ExecutionResult(f"would {method} {url}", {"url": url})
        try:
            response = self._client.request(method, url, json=p.get("json"),
                                            headers=dict(p.get("headers", {})),
                                            follow_redirects=False)
        except httpx.HTTPError as exc:
            raise ExecutorError("http", request.target, f"{type(exc).__name__}: {exc}") from exc
        expected = p.get("expect")
        ok = response.status_code in expected if expected else response.is_success
        if not ok:
            raise ExecutorError("http", request.target,
                                f"{method} {url} answered {response.status_code}")
        return ExecutionResult(f"{method} {url} -> {response.status_code}",
                               {"status": response.status_code})
