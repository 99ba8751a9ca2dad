"""``aiops simulate`` and ``aiops eval rca``: make scenarios, and score correlation on them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from aiops.model import ConfigError

app = typer.Typer(no_args_is_help=True, add_completion=False)
eval_app = typer.Typer(no_args_is_help=True, help="Evaluate the engine against known truth.")
app.add_typer(eval_app, name="eval")


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Directory to write the scenario into.")],
    services: Annotated[int, typer.Option(min=2, max=20000, help="Number of services.")] = 10,
    fault: Annotated[str, typer.Option(help="cpu, memory, latency, error, crash, host, "
                                             "deploy or random.")] = "cpu",
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same scenario.")] = 0,
    duration: Annotated[float, typer.Option(help="Seconds of simulated time.")] = 3600.0,
    step: Annotated[float, typer.Option(help="Seconds between samples.")] = 15.0,
    faults: Annotated[int, typer.Option(min=1, help="Concurrent faults.")] = 1,
    metrics: Annotated[bool, typer.Option(help="Write metrics.jsonl.")] = True,
    logs: Annotated[bool, typer.Option(help="Write logs.jsonl.")] = True,
) -> None:
    """Generate a microservice system with an injected fault: topology, metrics, logs,
    Alertmanager-style alerts and the ground truth."""
    from aiops.sim import FAULT_KINDS, generate
    from aiops.sim.files import write_scenario

    if fault != "random" and fault not in FAULT_KINDS:
        raise ConfigError(f"unknown fault {fault!r}; one of {', '.join(FAULT_KINDS)}, random")
    sc = generate(services, fault, seed, duration=duration, step=step, n_faults=faults,
                  logs=logs)
    counts = write_scenario(sc, out, metrics=metrics, logs=logs)
    summary = {"out": str(out), "root": sc.truth.root, "fault": sc.truth.kind,
               "fault_start": sc.truth.start, **counts}
    typer.echo(json.dumps(summary))


@eval_app.command("rca")
def eval_rca(
    scenarios: Annotated[int, typer.Option(min=1, help="Simulated scenarios to run.")] = 210,
    seed: Annotated[int, typer.Option(help="First seed of the suite.")] = 10_000,
    sizes: Annotated[str, typer.Option(help="Comma-separated service counts to cycle.")] =
        "10,30,100,300",
    dataset: Annotated[list[Path] | None, typer.Option(
        help="Recorded dataset directory: alerts (topology.json, alerts.jsonl, truth.json) "
             "or telemetry cases (topology.csv, normal/, <split>/<case>/, as PetShop); "
             "repeatable. When given, no scenarios are simulated.")] = None,
    ranking: Annotated[str, typer.Option(
        help="composite, chain, deepest, pagerank, onset or top-score (telemetry cases: "
             "chain by default).")] = "",
    split: Annotated[list[str] | None, typer.Option(
        help="Telemetry cases: only these splits (e.g. train); repeatable.")] = None,
    warmup_hours: Annotated[float, typer.Option(
        help="Telemetry cases: hours of fault-free data before false incidents count.")] =
        12.0,
    baro_python: Annotated[str, typer.Option(
        help="Telemetry cases: a Python with RCAEval installed, to run BARO in the same "
             "report (benchmarks/baro_recorded.py).")] = "",
    baseline: Annotated[bool, typer.Option(help="Also run the naive baseline.")] = True,
    k_hops: Annotated[int, typer.Option(min=0)] = 1,
    window: Annotated[float, typer.Option(help="Grouping window, seconds.")] = 300.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report here.")] =
        None,
) -> None:
    """Score root-cause ranking (AC@1, AC@3, Avg@5) and grouping (compression, pairwise
    precision/recall, time to first incident) over simulated or recorded scenarios."""
    from aiops.sim.evaluate import EvalReport, evaluate_events, evaluate_suite, standard_suite
    from aiops.sim.files import read_dataset
    from aiops.sim.recorded import is_recorded
    from correlator.baseline import NaiveCorrelator
    from correlator.config import CorrelatorConfig, host_down_inhibition
    from correlator.engine import TopologyCorrelator
    from correlator.ranking import strategy_by_name
    from correlator.types import Correlator
    from topology.graph import ServiceGraph

    if dataset and all(is_recorded(d) for d in dataset):
        _eval_recorded(dataset, ranking or "chain", baseline, split or [], warmup_hours,
                       baro_python, json_out)
        return
    ranking = ranking or "composite"
    config = CorrelatorConfig(window=window, k_hops=k_hops,
                              inhibitions=(host_down_inhibition(),))

    def engine(graph: ServiceGraph) -> TopologyCorrelator:
        return TopologyCorrelator(config, graph=graph, ranking=strategy_by_name(ranking))

    def naive(graph: ServiceGraph) -> NaiveCorrelator:
        return NaiveCorrelator(window=window)

    makers: dict[str, Callable[[ServiceGraph], Correlator]] = {"engine": engine}
    if baseline:
        makers["naive-baseline"] = naive
    started = time.perf_counter()
    if dataset:
        results: dict[str, EvalReport] = {name: EvalReport() for name in makers}
        for directory in dataset:
            graph, events, truth = read_dataset(directory)
            for name, make in makers.items():
                results[name].results.append(
                    evaluate_events(directory.name, events, truth, make(graph), graph))
    else:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
        results = evaluate_suite(standard_suite(scenarios, seed, size_list), makers)
    reports: dict[str, object] = {name: r.summary() for name, r in results.items()}
    reports["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(reports, indent=1)
    if json_out is not None:
        json_out.write_text(text, encoding="utf-8")
    typer.echo(text)


def _eval_recorded(dataset: list[Path], ranking: str, baselines: bool, splits: list[str],
                   warmup_hours: float, baro_python: str, json_out: Path | None) -> None:
    """``eval rca`` over recorded telemetry cases (see :mod:`aiops.sim.recorded_eval`)."""
    import subprocess

    from aiops.sim.recorded import load_recorded
    from aiops.sim.recorded_eval import CaseResult, evaluate_recorded, standard_pipelines

    started = time.perf_counter()
    scenarios = [sc for d in dataset for sc in load_recorded(d)]
    pipes = standard_pipelines(ranking, baselines)

    def progress(name: str, r: CaseResult) -> None:
        typer.echo(f"{name} {r.case.name}: rank {r.rank} top {r.top[:3]}", err=True)

    reports = evaluate_recorded(scenarios, pipes, splits=splits,
                                warmup=warmup_hours * 3600.0, progress=progress)
    out: dict[str, object] = {name: r.summary() for name, r in reports.items()}
    if baro_python:
        script = Path(__file__).resolve().parent.parent / "benchmarks" / "baro_recorded.py"
        args = [baro_python, str(script), *[str(d) for d in dataset]]
        for s in splits:
            args += ["--split", s]
        done = subprocess.run(args, capture_output=True, text=True, check=False,
                              env={"PYTHONPATH": str(script.parent.parent)})
        if done.returncode != 0:
            raise ConfigError(f"BARO run failed: {done.stderr.strip()[-500:]}")
        out["baseline/BARO (RCAEval, told the fault time)"] = json.loads(done.stdout)
    out["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(out, indent=1)
    if json_out is not None:
        json_out.write_text(text, encoding="utf-8")
    typer.echo(text)
