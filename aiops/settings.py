"""One settings object, read once in the composition root and passed down.

Sources, strongest first: constructor arguments, ``AIOPS_*`` environment variables (nested
with ``__``, e.g. ``AIOPS_KAFKA__BOOTSTRAP_SERVERS``), the YAML file named by
``AIOPS_CONFIG`` (or ``--config``), then the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


class KafkaSettings(BaseModel):
    bootstrap_servers: str = Field(
        "", description="Kafka bootstrap servers; empty starts the embedded local broker."
    )
    client_id: str = "aiops"
    group_prefix: str = Field("aiops", description="Consumer groups are <prefix>.<stage>.")
    session_timeout_ms: int = 6000
    auto_offset_reset: str = "earliest"
    extra: dict[str, str] = Field(
        default_factory=dict,
        description="librdkafka properties passed through (security.protocol, sasl.*, ssl.*).",
    )


class TopicSettings(BaseModel):
    metrics: str = "aiops.metrics"
    logs: str = "aiops.logs"
    alerts: str = "aiops.alerts"
    incidents: str = "aiops.incidents"
    actions: str = "aiops.actions"
    dlq: str = "aiops.dlq"
    data_partitions: int = 3
    alert_partitions: int = 1


class StoreSettings(BaseModel):
    url: str = Field("sqlite:///aiops.db", description="SQLAlchemy URL (sqlite or postgresql).")


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = Field("", description="Base URL used in links sent to people.")
    max_body_bytes: int = 10 * 1024 * 1024
    bearer_token: str = Field("", description="Required on receivers when set.")
    basic_username: str = ""
    basic_password: str = ""
    publish_timeout_s: float = 10.0


class DetectionSettings(BaseModel):
    threshold: float = Field(0.999, description="Anomaly score at which an alert may fire.")


class CorrelationSettings(BaseModel):
    window_s: float = Field(300.0, description="Alerts this close in time may join an incident.")
    quiet_period_s: float = Field(300.0, description="Resolved incidents wait this long.")
    topology_file: str = Field("", description="YAML/JSON service graph.")


class RemediationSettings(BaseModel):
    dry_run: bool = True
    kill_switch: bool = False
    runbooks_file: str = ""


class Settings(BaseSettings):
    """Every setting of the engine."""

    model_config = SettingsConfigDict(
        env_prefix="AIOPS_", env_nested_delimiter="__", extra="forbid", yaml_file=None
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    correlation: CorrelationSettings = Field(default_factory=CorrelationSettings)
    remediation: RemediationSettings = Field(default_factory=RemediationSettings)
    data_dir: str = Field(".aiops", description="Where the embedded mode keeps its files.")
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            YamlConfigSettingsSource(settings_cls),
            file_secret_settings,
        )

    @classmethod
    def load(cls, config_file: Path | str | None = None, **overrides: Any) -> Settings:
        """Read the settings once: environment, then the YAML file, then defaults."""
        if config_file is None:
            return cls(**overrides)
        path = Path(config_file)
        if not path.is_file():
            from aiops.model import ConfigError

            raise ConfigError("configuration file not found", source=str(path))

        class _FromFile(cls):  # type: ignore[valid-type,misc]
            model_config = SettingsConfigDict(**{**cls.model_config, "yaml_file": path})

        loaded = _FromFile(**overrides)
        return cls.model_validate(loaded.model_dump())
