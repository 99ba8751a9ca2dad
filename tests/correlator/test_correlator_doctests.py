"""The runnable examples in the correlator and topology docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["correlator.config", "correlator.engine", "correlator.ranking", "correlator.state",
           "correlator.rank_topscore", "correlator.rank_pagerank", "correlator.rank_composite",
           "correlator.rank_chain", "correlator.rank_deepest", "correlator.diagnosis",
           "correlator.edge_evidence",
           "correlator.noise",
           "correlator.baseline", "correlator.pairs", "topology.updates",
           "correlator.alert_kinds", "correlator.flapping", "correlator.held_changes",
           "correlator.timers", "correlator.registry",
           "topology.observed",
           "topology.graph", "topology.mapping"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
