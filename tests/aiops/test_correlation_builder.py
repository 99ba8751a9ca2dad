"""The correlate stage's correlator is chosen by name from a registry the caller may extend."""

from __future__ import annotations

import pytest

from aiops.correlation import build_correlator
from aiops.model import Alert, ConfigError
from aiops.settings import CorrelationSettings
from correlator.baseline import NaiveCorrelator
from correlator.engine import TopologyCorrelator
from correlator.registry import CorrelatorSpec, builtin_correlators


def test_the_engine_by_default_and_the_baseline_by_name() -> None:
    engine = build_correlator(CorrelationSettings(confirm_after_s=0, ranking="composite"))
    assert isinstance(engine, TopologyCorrelator)
    assert engine.deviations is not None and engine.ranking.name == "composite"
    assert engine.config.confirm_after == 0
    naive = build_correlator(CorrelationSettings(correlator="naive", window_s=42))
    assert isinstance(naive, NaiveCorrelator) and naive.window == 42


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="naive, topology"):
        build_correlator(CorrelationSettings(correlator="magic"))


def test_a_registry_passed_in_is_used() -> None:
    made: list[CorrelatorSpec] = []

    def mine(spec: CorrelatorSpec) -> NaiveCorrelator:
        made.append(spec)
        return NaiveCorrelator(window=1.0)

    correlators = {**builtin_correlators(), "mine": mine}
    c = build_correlator(CorrelationSettings(correlator="mine", diagnosis=False), correlators)
    assert made and made[0].diagnosis is False and made[0].graph is None
    first = c.process(Alert({"alertname": "A", "service": "x"}, {}, starts_at=0))
    assert c.process(Alert({"alertname": "B", "service": "y"}, {}, starts_at=5))[0].id \
        != first[0].id  # its own one-second window

