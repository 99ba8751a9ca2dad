"""A small multi-service shop instrumented with the real OpenTelemetry Python SDK.

``frontend`` serves requests and calls ``cart`` and ``catalog``; ``cart`` calls ``db``. Each
service has its own SDK providers and resource (``service.name``, ``k8s.pod.name``,
``host.name``), and calls carry W3C ``traceparent`` headers through the SDK's propagator, so
the spans are what instrumented HTTP services would export. Time is simulated: each request
is stamped at a given event time, so half an hour of traffic takes seconds, and a fault
(extra latency or errors in one service) can be injected from a given time on.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

SERVICES = ("frontend", "cart", "catalog", "db")
CALLS = {"frontend": ("cart", "catalog"), "cart": ("db",), "catalog": (), "db": ()}
OWN_MS = {"frontend": 4.0, "cart": 6.0, "catalog": 8.0, "db": 15.0}


def resource(service: str) -> Resource:
    return Resource.create({"service.name": service, "service.namespace": "shop",
                            "k8s.pod.name": f"{service}-7d9f", "k8s.namespace.name": "shop",
                            "host.name": "node-1"})


@dataclass
class Fault:
    """``extra_ms`` in the service's own handling (its server spans show it); ``queue_ms``
    lost in front of its handler (a full accept queue, a sidecar): only its callers' client
    spans show that."""

    service: str
    extra_ms: float = 0.0
    error_share: float = 0.0
    queue_ms: float = 0.0


@dataclass
class ShopApp:
    """The shop; ``exporter(service)`` gives each service's span exporter."""

    exporter: Callable[[str], SpanExporter]
    seed: int = 7
    peer_attribute: bool = False  # set peer.service on client spans (some do, some don't)
    providers: dict[str, TracerProvider] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        for service in SERVICES:
            provider = TracerProvider(resource=resource(service))
            provider.add_span_processor(BatchSpanProcessor(
                self.exporter(service), max_queue_size=100_000, max_export_batch_size=512,
                schedule_delay_millis=200))
            self.providers[service] = provider
        self.tracers = {s: p.get_tracer("shop") for s, p in self.providers.items()}

    def request(self, start_s: float, fault: Fault | None = None) -> float:
        """One frontend request starting at ``start_s``; returns its duration in seconds."""
        return self._serve("frontend", int(start_s * 1e9), {}, fault)[0]

    def _serve(self, service: str, start: int, carrier: dict[str, str],
               fault: Fault | None) -> tuple[float, bool]:
        tracer = self.tracers[service]
        ctx = propagate.extract(carrier)
        span = tracer.start_span(f"GET /{service}", context=ctx, kind=SpanKind.SERVER,
                                 start_time=start)
        own = OWN_MS[service] * (0.8 + 0.4 * self.rng.random())
        failed = False
        if fault is not None and fault.service == service:
            own += fault.extra_ms
            failed = self.rng.random() < fault.error_share
        elapsed = own / 2 * 1e6
        for callee in CALLS[service]:
            call_start = start + int(elapsed)
            client = tracer.start_span(f"call {callee}", context=trace.set_span_in_context(span),
                                       kind=SpanKind.CLIENT, start_time=call_start)
            if self.peer_attribute:
                client.set_attribute("peer.service", callee)
            headers: dict[str, str] = {}
            propagate.inject(headers, context=trace.set_span_in_context(client))
            queue = fault.queue_ms / 1e3 if fault is not None and fault.service == callee \
                else 0.0
            took, callee_failed = self._serve(callee, call_start + 200_000 + int(queue * 1e9),
                                              headers, fault)
            took += 0.0004 + queue
            if callee_failed:  # the caller's HTTP client sees the 500
                client.set_status(Status(StatusCode.ERROR, "HTTP 500"))
            client.end(end_time=call_start + int(took * 1e9))
            elapsed += took * 1e9
        elapsed += own / 2 * 1e6
        if failed:
            span.set_status(Status(StatusCode.ERROR, "injected"))
        span.end(end_time=start + int(elapsed))
        return elapsed / 1e9, failed

    def traffic(self, start_s: float, seconds: float, per_second: float,
                fault: Fault | None = None) -> None:
        t = start_s
        while t < start_s + seconds:
            self.request(t, fault)
            t += self.rng.expovariate(per_second)

    def flush(self) -> None:
        for provider in self.providers.values():
            provider.force_flush(30_000)

    def shutdown(self) -> None:
        for provider in self.providers.values():
            provider.shutdown()
