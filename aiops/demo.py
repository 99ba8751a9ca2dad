"""``aiops demo``: the whole engine on a simulated microservice system, in under two minutes.

It starts the local broker, the three stages and the API in this process, simulates about
ten services with call dependencies, injects a fault into one of them, streams the metrics
and logs through Kafka in event time, and prints the incident that results with its ranked
root causes next to the fault that was injected.

The engine's detectors find the metric anomalies themselves. Reachability is not a metric
anomaly: in a real setup Prometheus's ``up == 0`` rules page for dead pods and hosts through
Alertmanager, so the demo sends those alerts (``PodNotReady``, ``ServiceDown``, ``HostDown``)
as Alertmanager would, at the time they would fire.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import httpx
import typer

from aiops.model import Alert, Incident, LogRecord, MetricSample
from aiops.settings import Settings
from aiops.wire.shapes import (
    alert_key,
    dumps,
    encode_alert,
    incident_from_dict,
    log_to_dict,
    metric_to_dict,
)
from streams.producer import Record
from streams.topics import Topics

#: the simulator's reachability rules, which Prometheus evaluates rather than the engine
UP_RULES = frozenset(("PodNotReady", "ServiceDown", "HostDown"))


def _batches(
    topics: Topics, metrics: list[MetricSample], logs: list[LogRecord], step: float,
    alerts: Sequence[tuple[float, Alert]] = (),
) -> list[list[Record]]:
    """Group the scenario per time step into one batch message per service and kind, with
    the Alertmanager notifications sent in that step."""
    steps: dict[int, list[Record]] = defaultdict(list)
    by_key: dict[tuple[int, str], list[MetricSample]] = defaultdict(list)
    for sample in metrics:
        by_key[(int(sample.ts // step), sample.service)].append(sample)
    for (slot, service), samples in by_key.items():
        body = dumps({"samples": [metric_to_dict(s) for s in samples]})
        steps[slot].append(Record(topics.metrics, service.encode(), body))
    for record in logs:
        steps[int(record.ts // step)].append(
            Record(topics.logs, record.service.encode(), dumps(log_to_dict(record)))
        )
    for sent, alert in alerts:
        steps[int(sent // step)].append(
            Record(topics.alerts, alert_key(alert), encode_alert(alert)))
    return [steps[k] for k in sorted(steps)]


def _print_incident(incident: Incident, truth_service: str, truth_kind: str,
                    pods: dict[str, str] | None = None) -> None:
    typer.echo(f"\nincident {incident.id}  [{incident.status.value}, {incident.severity}]")
    typer.echo(f"  {incident.title}")
    typer.echo(f"  alerts: {len(incident.alerts)}   services: {', '.join(incident.services)}")
    typer.echo("  ranked root causes:")
    for rank, cause in enumerate(incident.root_causes, 1):
        typer.echo(f"   {rank}. {cause.service:<16} score {cause.score:.2f}")
        for line in cause.evidence[:2]:
            typer.echo(f"        - {line}")
    top = incident.root_causes[0].service if incident.root_causes else "?"
    if top == truth_service:
        verdict = "correct"
    elif (pods or {}).get(top) == truth_service:  # a pod of the faulty service
        verdict = f"correct: a pod of {truth_service}"
    else:
        verdict = "WRONG"
    typer.echo(f"\n  injected fault: {truth_kind} in {truth_service}  ->  top root cause "
               f"{top} ({verdict})")


def demo(
    fault: Annotated[str, typer.Option(help="Fault kind to inject.")] = "cpu",
    services: Annotated[int, typer.Option(help="Number of simulated services.")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed of the simulation.")] = 7,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the incident.")] = 60.0,
    remediate: Annotated[
        bool,
        typer.Option(help="Run the closed loop instead: a local service is broken, the "
                     "engine notifies, restarts it, verifies recovery and resolves."),
    ] = False,
) -> None:
    """Simulate services, inject a fault, and print the incident the engine finds."""
    if remediate:
        from aiops.demo_loop import demo_remediate

        demo_remediate(max(timeout, 120.0))
        return
    import uvicorn

    from aiops.app import STAGES, Engine, Workers, kafka_endpoint
    from aiops.sim import generate
    from streams.broker import free_port
    from streams.producer import EventProducer

    started = time.monotonic()
    scenario = generate(n_services=services, fault=fault, seed=seed)
    truth = scenario.truth
    typer.echo(f"simulated {services} services, {len(scenario.metrics)} samples, "
               f"{len(scenario.logs)} log lines; fault: {truth.kind} in {truth.root}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(None)
        settings.kafka.bootstrap_servers = ""
        settings.data_dir = tmp
        settings.store.url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        settings.api.port = free_port()
        topo_file = Path(tmp) / "topology.json"
        topo_file.write_bytes(dumps(scenario.topology))
        settings.correlation.topology_file = str(topo_file)
        with kafka_endpoint(settings) as bootstrap:
            typer.echo(f"local broker on {bootstrap}")
            engine = Engine.build(settings, bootstrap)
            engine.ensure_topics()
            workers = Workers([engine.runner(name) for name in STAGES])
            workers.start()
            server = uvicorn.Server(uvicorn.Config(engine.api(), host="127.0.0.1",
                                                   port=settings.api.port, log_level="warning"))
            api_thread = threading.Thread(target=server.run, daemon=True)
            api_thread.start()
            producer = EventProducer(engine.kafka)
            try:
                workers.wait_ready(60)
                up_alerts = [(ts, a) for ts, a in scenario.alert_events if a.name in UP_RULES]
                for batch in _batches(engine.topics, scenario.metrics, scenario.logs,
                                      scenario.step, up_alerts):
                    for record in batch:
                        producer.send(record)
                    producer.poll(0)
                producer.flush()
                typer.echo(f"streamed the scenario through Kafka "
                           f"({time.monotonic() - started:.1f}s since start)")
                incident = _wait_for_incident(settings.api.port, timeout)
            finally:
                producer.close()
                server.should_exit = True
                workers.stop()
                api_thread.join(10)
    if incident is None:
        typer.echo("no incident was opened", err=True)
        raise typer.Exit(1)
    pods = {pod: svc for svc, names in scenario.sim.pods.items() for pod in names}
    _print_incident(incident, truth.root, truth.kind, pods)
    typer.echo(f"\ndemo finished in {time.monotonic() - started:.1f}s")


def _wait_for_incident(port: int, timeout: float) -> Incident | None:
    """Poll the API until an incident exists and has stopped changing for a few seconds."""
    deadline = time.monotonic() + timeout
    last: tuple[str, int] | None = None
    stable_since = time.monotonic()
    best: Incident | None = None
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                body = client.get("/api/v1/incidents", params={"limit": 50}).json()
            except httpx.HTTPError:
                continue
            incidents = [incident_from_dict(i) for i in body["incidents"]]
            if not incidents:
                continue
            best = max(incidents, key=lambda i: (len(i.alerts), -i.opened_at))
            state = (best.id, best.version)
            if state != last:
                last, stable_since = state, time.monotonic()
            elif time.monotonic() - stable_since > 3.0:
                return best
    return best
