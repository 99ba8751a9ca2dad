"""The ``aiops`` command line (typer)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from aiops.model import AiopsError

if TYPE_CHECKING:
    from aiops.app import Engine

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", envvar="AIOPS_CONFIG", help="YAML settings file."),
]


def _settings(config: Path | None):  # type: ignore[no-untyped-def]
    from aiops.settings import Settings

    settings = Settings.load(config)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return settings


def run(config: ConfigOpt = None) -> None:
    """Run the API and every stage in one process (with a local broker if none is set)."""
    import uvicorn

    from aiops.app import STAGES, Engine, Workers, kafka_endpoint

    settings = _settings(config)
    with kafka_endpoint(settings) as bootstrap:
        engine = Engine.build(settings, bootstrap)
        engine.ensure_topics()
        workers = Workers([engine.runner(name) for name in STAGES])
        workers.start()
        typer.echo(f"aiops: kafka {bootstrap}; API on http://{settings.api.host}:{settings.api.port}")
        server = uvicorn.Server(
            uvicorn.Config(engine.api(workers=workers), host=settings.api.host,
                           port=settings.api.port,
                           log_level="warning")
        )
        try:
            server.run()
        finally:
            workers.stop()


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
    engine = Engine.build(settings, settings.kafka.bootstrap_servers)
    engine.ensure_topics()
    if runtime == "faust":
        _run_faust(engine, stage)
        return
    if runtime != "kafka":
        raise typer.BadParameter("runtime must be 'kafka' or 'faust'")
    runner = engine.runner(stage)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        runner.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if health_port:
        from streams.health import HealthServer

        HealthServer(lambda: [runner.status()], port=health_port).start()
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
    engine = Engine.build(settings, settings.kafka.bootstrap_servers)
    engine.ensure_topics()
    uvicorn.run(engine.api(), host=settings.api.host, port=settings.api.port, log_level="info")


def broker(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 9092,
) -> None:
    """Run the local Kafka-protocol broker (Tansu, topics in memory) in the foreground."""
    from streams.broker import LocalBroker

    local = LocalBroker(port=port)
    address = local.start()
    typer.echo(f"local broker listening on {address} (topics are kept in memory only)")

    def _stop(signum: int, _frame: FrameType | None) -> None:
        local.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    local.wait()


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


def build_cli() -> typer.Typer:
    app = typer.Typer(help="Streaming anomaly detection, alert correlation and remediation.",
                      no_args_is_help=True, pretty_exceptions_enable=False)
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
