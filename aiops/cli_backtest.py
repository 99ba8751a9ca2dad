"""``aiops backtest nab`` and ``aiops backtest score``: the Numenta Anomaly Benchmark.

``nab`` runs a detector over NAB-format data and writes NAB result files; ``score`` applies
NAB's scoring protocol to result files and prints the three normalised profile scores.
The two are separate so result files from any detector (ours, River's, NAB's own result
directories) can be scored the same way.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from aiops.model import ConfigError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Backtest detectors against labelled data (NAB).")


@app.command()
def nab(
    data_dir: Annotated[Path, typer.Argument(help="NAB data: <category>/<name>.csv files.",
                                             exists=True, file_okay=False)],
    out: Annotated[Path, typer.Option("--out", help="Directory for the result files.")],
    detector: Annotated[str, typer.Option(help="A built-in detector name "
                                               "(see --list).")] = "default-onsets",
    list_detectors: Annotated[bool, typer.Option("--list", help="List detector names and "
                                                                "exit.")] = False,
) -> None:
    """Score every row of every file; write timestamp,value,anomaly_score result files."""
    from detectors.nab.runner import run_corpus
    from detectors.registry import builtin_detectors

    factories = builtin_detectors()
    if list_detectors:
        for name in sorted(factories):
            typer.echo(name)
        return
    if detector not in factories:
        raise ConfigError(f"unknown detector {detector!r}; one of {', '.join(sorted(factories))}",
                          source="--detector")
    started = time.perf_counter()
    paths = run_corpus(data_dir, out, factories[detector]())
    elapsed = time.perf_counter() - started
    typer.echo(f"{detector}: {len(paths)} files scored in {elapsed:.1f}s -> {out}")


@app.command()
def score(
    results_dir: Annotated[Path, typer.Argument(help="NAB result files "
                                                     "(timestamp,value,anomaly_score).",
                                                exists=True, file_okay=False)],
    labels: Annotated[Path, typer.Option("--labels", help="combined_windows.json",
                                         exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Sweep the threshold per profile and print NAB's normalised scores."""
    from detectors.nab.runner import score_results

    results = score_results(results_dir, labels)
    if as_json:
        typer.echo(json.dumps({name: {"score": round(r.normalized, 2),
                                      "threshold": r.threshold, "raw": r.raw,
                                      "tp_rows": r.tp, "fp_rows": r.fp,
                                      "missed_windows": r.fn_windows}
                               for name, r in results.items()}, indent=2))
        return
    for name, r in results.items():
        typer.echo(f"{name:20s} {r.normalized:7.2f}  (threshold {r.threshold:.6g}, "
                   f"raw {r.raw:.3f}, missed windows {r.fn_windows})")
