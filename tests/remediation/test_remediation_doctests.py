"""The runnable examples in the remediation and notifier docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["remediation.runbook", "remediation.guards", "remediation.learning",
           "remediation.dryrun", "remediation.executors.base", "remediation.probes",
           "aiops.notify.http", "aiops.notify.links", "aiops.notify.slack",
           "aiops.notify.pagerduty", "aiops.notify.webhook", "aiops.notify.routing",
           "aiops.notify.ratelimit"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
