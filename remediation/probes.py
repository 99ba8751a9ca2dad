"""Success checks that read a metric: the Prometheus HTTP API as a :class:`MetricProbe`."""

from __future__ import annotations

from collections.abc import Mapping

import httpx


def promql_selector(metric: str, labels: Mapping[str, str]) -> str:
    """An instant-vector selector with exact label matches.

    >>> promql_selector("error_ratio", {"service": 'we"ird'})
    'error_ratio{service="we\\\\"ird"}'
    """
    if not labels:
        return metric
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in sorted(labels.items())
    )
    return f"{metric}{{{inner}}}"


class PrometheusProbe:
    """Reads the current value of a series with ``GET /api/v1/query``.

    ``None`` when the series has no sample or Prometheus cannot be reached: verification then
    keeps waiting (and fails when its window runs out) rather than guessing.
    """

    def __init__(self, client: httpx.Client, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/api/v1/query"

    def value(self, metric: str, labels: Mapping[str, str]) -> float | None:
        try:
            response = self._client.get(self._url,
                                        params={"query": promql_selector(metric, labels)})
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        if response.status_code != 200 or body.get("status") != "success":
            return None
        result = body.get("data", {}).get("result", [])
        if not result:
            return None
        try:
            return max(float(r["value"][1]) for r in result)
        except (KeyError, IndexError, TypeError, ValueError):
            return None
