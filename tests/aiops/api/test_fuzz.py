"""Schemathesis over the whole OpenAPI spec, against the real application on the real broker
and both stores, with and without credentials: no response may be a 500.

A small example count keeps CI fast; ``benchmarks/api_fuzz.py`` runs the same check against
an ``aiops api`` process for minutes (results in BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

WRITE, READ = "fuzz-write", "fuzz-read"
EXAMPLES = 6


@pytest.mark.parametrize("mode", ["open", "credentials", "missing-credentials"])
def test_no_server_errors(real_api: Callable[..., FastAPI], mode: str) -> None:
    from benchmarks.api_fuzz_hooks import register

    register()  # remote write bodies: raw bytes
    creds = {} if mode == "open" else {"bearer_token": WRITE, "read_token": READ}
    schema = schemathesis.openapi.from_asgi("/openapi.json",
                                            real_api(publish_timeout_s=2.0, **creds))
    headers = {"authorization": f"Bearer {WRITE}"} if mode == "credentials" else {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        check()
