"""Root-cause ranking strategies (pluggable through :class:`correlator.types.RankingStrategy`),
one per module, and the registry that names them.

Strategies read what alerts, deviation summaries and the graph say: onset times, anomaly
scores, alert classes (from generic Prometheus naming words,
:data:`correlator.config.DEFAULT_KIND_WORDS`), series deviations and dependency edges. None
knows how its input was produced.

* ``top-score`` (:mod:`correlator.rank_topscore`): the highest anomaly score first.
* ``onset`` (:mod:`correlator.rank_onset`): the earliest alert first.
* ``pagerank`` (:mod:`correlator.rank_pagerank`): personalised PageRank on the reversed call
  graph of the alerting nodes (MicroRCA, CloudRanger).
* ``composite`` (:mod:`correlator.rank_composite`): explanation coverage, graph position,
  score and an alert-class prior blended; the best on alerts alone.
* ``chain`` (:mod:`correlator.rank_chain`): propagation chains over the deviations of the
  incident's whole neighbourhood (diagnosis); the default where deviation summaries flow.
* ``deepest`` (:mod:`correlator.rank_deepest`): the rule baseline, deepest deviating node
  first.

The names above are also re-exported here, as they were when this was one module.
"""

from __future__ import annotations

from collections.abc import Callable

from aiops.model import ConfigError
from correlator.rank_common import _basic_evidence, _candidates, _fmt_ts
from correlator.rank_composite import (
    DEFAULT_KIND_PRIOR,
    CompositeRanker,
    _coverage_small,
    coverage,
    explained_by,
    explanations,
    proximity,
)
from correlator.rank_onset import OnsetRanker
from correlator.rank_pagerank import (
    PageRankRanker,
    _np_sum,
    _pagerank,
    _pagerank_small,
    personalized_pagerank,
)
from correlator.rank_topscore import TopScoreRanker
from correlator.types import RankingStrategy

__all__ = [
    "DEFAULT_KIND_PRIOR", "CompositeRanker", "OnsetRanker", "PageRankRanker", "TopScoreRanker",
    "_basic_evidence", "_candidates", "_coverage_small", "_fmt_ts", "_np_sum", "_pagerank",
    "_pagerank_small", "coverage", "explained_by", "explanations", "personalized_pagerank",
    "proximity", "strategy_by_name", "strategy_names",
]


def _chain(limit: int) -> RankingStrategy:
    from correlator.rank_chain import ChainRanker

    return ChainRanker(limit=limit)


def _deepest(limit: int) -> RankingStrategy:
    from correlator.rank_deepest import DeepestRanker

    return DeepestRanker(limit=limit)


#: Every built-in strategy by name: one module each (``correlator.rank_*``).
_REGISTRY: dict[str, Callable[[int], RankingStrategy]] = {
    "chain": _chain,
    "composite": lambda limit: CompositeRanker(limit=limit),
    "deepest": _deepest,
    "onset": lambda limit: OnsetRanker(limit=limit),
    "pagerank": lambda limit: PageRankRanker(limit=limit),
    "top-score": lambda limit: TopScoreRanker(limit=limit),
}


def strategy_names() -> list[str]:
    """The names :func:`strategy_by_name` knows.

    >>> strategy_names()
    ['chain', 'composite', 'deepest', 'onset', 'pagerank', 'top-score']
    """
    return sorted(_REGISTRY)


def strategy_by_name(name: str, limit: int = 5) -> RankingStrategy:
    """Look a built-in strategy up by its ``name`` (for settings and the CLI)."""
    make = _REGISTRY.get(name)
    if make is None:
        raise ConfigError(f"unknown ranking strategy {name!r} "
                          f"(one of {', '.join(strategy_names())})")
    return make(limit)
