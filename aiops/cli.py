"""The ``aiops`` command line (typer)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aiops.model import AiopsError

if TYPE_CHECKING:
    from aiops.app import Engine

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", envvar="AIOPS_CONFIG", help="YAML settings file."),
]


def _count_events(registry: Any) -> None:
    """Count logged events on the registry that /metrics serves (aiops.logsetup)."""
    from aiops.logsetup import count_events as attach

    attach(registry)


def _settings(config: Path | None):  # type: ignore[no-untyped-def]
    from aiops.logsetup import configure_logging
    from aiops.settings import Settings

    settings = Settings.load(config)
    configure_logging(settings.log_level, settings.log_format)
    return settings


class _Stop:
    """SIGTERM and SIGINT ask for a clean stop instead of killing the process.

    Installed before anything is started, so a signal during start-up is not lost either;
    a uvicorn server given to :meth:`serve` is asked to exit. uvicorn restores the handlers
    it found and raises the captured signal again once it has shut down: with Python's
    default SIGTERM action that killed the process before ``finally`` blocks ran, leaving the
    embedded broker behind; with this handler it only sets the flag again.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._server: Any = None
        self._then: list[Callable[[], None]] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("aiops.cli").info("signal %s: stopping", signal.Signals(signum).name)
        self.requested.set()
        if self._server is not None:
            self._server.should_exit = True
        for stop in self._then:
            stop()

    def then(self, stop: Callable[[], None]) -> None:
        """Also call ``stop`` on a signal (a stage runner's ``stop``)."""
        self._then.append(stop)

    def serve(self, server: Any) -> None:
        self._server = server
        if not self.requested.is_set():
            server.run()


def run(config: ConfigOpt = None) -> None:
    """Run the API and every stage in one process (with a local broker if none is set)."""
    import uvicorn

    from aiops.app import STAGES, Engine, Workers, kafka_endpoint

    settings = _settings(config)
    stop = _Stop()
    with kafka_endpoint(settings) as bootstrap:
        engine = Engine.build(settings, bootstrap)
        _count_events(engine.registry)
        engine.ensure_topics()
        workers = Workers([engine.runner(name) for name in STAGES])
        workers.start()
        typer.echo(f"aiops: kafka {bootstrap}; API on http://{settings.api.host}:{settings.api.port}")
        server = uvicorn.Server(
            uvicorn.Config(engine.api(workers=workers), host=settings.api.host,
                           port=settings.api.port,
                           log_level="warning", log_config=None)  # our handlers (JSON)
        )
        try:
            stop.serve(server)
        finally:
            workers.stop()
    typer.echo("aiops: stopped (stages, API and broker)")


def worker(
    stage: Annotated[str, typer.Argument(help="detect, correlate or act")],
    config: ConfigOpt = None,
    runtime: Annotated[
        str, typer.Option(help="'kafka': the batch runner; 'faust': a faust-streaming agent.")
    ] = "kafka",
    health_port: Annotated[
        int, typer.Option(help="Serve /healthz and /readyz (503 while owning no partition) "
                               "on this port; 0: off.")
    ] = 0,
) -> None:
    """Run one stage as a member of its consumer group (scale-out form)."""
    from aiops.app import Engine

    settings = _settings(config)
    if not settings.kafka.bootstrap_servers:
        raise typer.BadParameter(
            "set AIOPS_KAFKA__BOOTSTRAP_SERVERS (e.g. to the address `aiops broker` prints)"
        )
    stop = _Stop()
    engine = Engine.build(settings, settings.kafka.bootstrap_servers)
    _count_events(engine.registry)
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, addr=settings.api.host,
                          registry=engine.registry)
    engine.ensure_topics()
    if runtime == "faust":
        _run_faust(engine, stage)
        return
    if runtime != "kafka":
        raise typer.BadParameter("runtime must be 'kafka' or 'faust'")
    runner = engine.runner(stage)
    stop.then(runner.stop)
    if health_port:
        from streams.health import HealthServer

        HealthServer(lambda: [runner.status()], port=health_port).start()
    if not stop.requested.is_set():
        runner.run()


def _run_faust(engine: Engine, stage: str) -> None:
    import faust

    from streams.faust_app import build_faust_app

    app = build_faust_app(
        [engine.stage(stage)],
        app_id=f"{engine.settings.kafka.group_prefix}.{stage}.faust",
        bootstrap_servers=engine.kafka.bootstrap_servers,
        dlq_topic=engine.topics.dlq,
        session_timeout=engine.kafka.session_timeout_ms / 1000,
    )
    worker = faust.Worker(app, loglevel=engine.settings.log_level, override_logging=False)
    worker.execute_from_commandline()


def api(config: ConfigOpt = None) -> None:
    """Run the HTTP API alone (receivers, incidents, metrics)."""
    import uvicorn

    from aiops.app import Engine

    settings = _settings(config)
    if not settings.kafka.bootstrap_servers:
        raise typer.BadParameter("set AIOPS_KAFKA__BOOTSTRAP_SERVERS")
    stop = _Stop()
    engine = Engine.build(settings, settings.kafka.bootstrap_servers)
    _count_events(engine.registry)
    engine.ensure_topics()
    stop.serve(uvicorn.Server(uvicorn.Config(engine.api(), host=settings.api.host,
                                             port=settings.api.port, log_level="info",
                                             log_config=None)))  # our handlers (JSON)


def broker(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 9092,
) -> None:
    """Run the local Kafka-protocol broker (Tansu, topics in memory) in the foreground."""
    from streams.broker import LocalBroker

    stop = _Stop()
    local = LocalBroker(port=port)
    address = local.start()
    typer.echo(f"local broker listening on {address} (topics are kept in memory only)")
    try:
        # The handler only sets a flag: stopping the child from inside a signal handler while
        # the main thread waits on it raced with that wait and left the command hanging.
        while not stop.requested.wait(0.2) and local.running:
            pass
    finally:
        local.stop()
    typer.echo("local broker stopped")


db = typer.Typer(help="Database schema management.", no_args_is_help=True)


@db.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument()] = "head", config: ConfigOpt = None
) -> None:
    """Apply the Alembic migrations to the configured store."""
    from aiops.storage.migrate import current, upgrade

    settings = _settings(config)
    upgrade(settings.store.url, revision)
    typer.echo(f"database at revision {current(settings.store.url)}")


def _version(value: bool) -> None:
    if value:
        from aiops import __version__

        typer.echo(f"aiops-engine {__version__}")
        raise typer.Exit()


def build_cli() -> typer.Typer:
    app = typer.Typer(help="Streaming anomaly detection, alert correlation and remediation.",
                      no_args_is_help=True, pretty_exceptions_enable=False)

    @app.callback()
    def main_options(
        version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                              help="Print the version and exit.")] = False,
    ) -> None:
        """Streaming anomaly detection, alert correlation and remediation."""

    from aiops.cli_ops import mount as mount_client_commands

    mount_client_commands(app)
    app.command()(run)
    app.command()(worker)
    app.command()(api)
    app.command()(broker)
    app.add_typer(db, name="db")
    from aiops.demo import demo
    from aiops.replay import replay

    app.command()(replay)
    app.command()(demo)
    _mount_optional(app)
    return app


def _mount_optional(app: typer.Typer) -> None:
    import importlib

    try:
        backtest = importlib.import_module("aiops.cli_backtest")
        app.add_typer(backtest.app, name="backtest", help="Backtests against labelled data.")
    except ModuleNotFoundError:
        pass
    try:
        sim = importlib.import_module("aiops.cli_sim")
        app.registered_commands.extend(sim.app.registered_commands)
        app.registered_groups.extend(sim.app.registered_groups)
    except ModuleNotFoundError:
        pass


def main() -> None:
    try:
        build_cli()(standalone_mode=True)
    except AiopsError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
