"""The runnable examples in the docstrings of the edge, access, logging, replay and runbook
URL modules stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["aiops.api.auth", "aiops.api.edge", "aiops.logsetup", "aiops.replay_sources",
           "remediation.urls"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
