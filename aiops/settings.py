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
    topology: str = "aiops.topology"
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
    max_decoded_bytes: int = Field(
        64 * 1024 * 1024, description="Largest remote_write body after snappy decompression."
    )


class LogMappingSettings(BaseModel):
    """Where the fields of a log record are, for shippers that do not remap (Vector, Fluent
    Bit). Each entry is a list of dotted paths tried in order; quote a key that contains dots:
    ``kubernetes.pod_labels."app.kubernetes.io/name"``. Empty lists keep the defaults."""

    timestamp: list[str] = Field(default_factory=list)
    message: list[str] = Field(default_factory=list)
    level: list[str] = Field(default_factory=list)
    service: list[str] = Field(default_factory=list)
    labels: list[str] = Field(
        default_factory=list, description="Objects whose string fields become labels."
    )
    extra_labels: dict[str, list[str]] = Field(
        default_factory=dict, description="label name -> paths, e.g. namespace, pod, host."
    )
    default_service: str = "unknown"
    default_level: str = "info"


class DetectionSettings(BaseModel):
    threshold: float | None = Field(
        None, description="Anomaly score at which an alert may fire (empty: the detector's)."
    )
    entity_metrics: list[str] = Field(
        default_factory=list,
        description="Metrics judged together per service, each by its own history, the "
        "worst corrected for their number (e.g. cpu, memory, latency_ms, error_rate); "
        "empty: off.",
    )
    entity_interval_s: float = Field(60.0, description="Interval of one entity vector.")
    series_idle_s: float = Field(
        900.0, description="A series silent this long is forgotten and its alert resolved."
    )
    warmup_points: int = Field(
        20, ge=2, description="Points a new series needs before it scores (confidence is "
        "widened while it is young)."
    )
    scorers: list[str] = Field(
        default_factory=lambda: ["seasonal"],
        description="Scorers of the metric detector's ensemble: seasonal, level, rate, spread "
        "(see docs/design.md).",
    )


class CorrelationSettings(BaseModel):
    window_s: float = Field(300.0, description="Alerts this close in time may join an incident.")
    quiet_period_s: float = Field(300.0, description="Resolved incidents wait this long.")
    reopen_window_s: float = Field(
        900.0, description="An alert on the same node this soon after resolution reopens."
    )
    confirm_after_s: float = Field(
        150.0,
        description="A lone saturation/symptom alert stays pending (never notified) this "
        "long; dropped as transient if it clears. 0 raises at once.",
    )
    topology_file: str = Field("", description="YAML/JSON service graph.")


class RemediationSettings(BaseModel):
    dry_run: bool = True
    kill_switch: bool = False
    runbooks_file: str = ""
    max_actions_per_window: int = Field(20, description="Applied actions, all runbooks.")
    window_s: float = 3600.0
    kubernetes: bool = Field(False, description="Enable the Kubernetes executor.")
    kube_context: str = Field("", description="kubeconfig context; empty: in-cluster first.")
    namespace: str = "default"
    processes: dict[str, list[str]] = Field(
        default_factory=dict, description="Local services the process executor supervises."
    )
    prometheus_url: str = Field("", description="For metric_within success checks.")


class SlackDestinationSettings(BaseModel):
    name: str = "slack"
    webhook_url: str
    rate_per_s: float = Field(1.0, description="Slack allows about 1 message/s per webhook.")
    history_token: str = Field("", description="Bot token to reconcile in-doubt deliveries.")
    history_channel: str = ""
    api_url: str = "https://slack.com/api"


class PagerDutyDestinationSettings(BaseModel):
    name: str = "pagerduty"
    routing_key: str
    url: str = "https://events.pagerduty.com/v2/enqueue"
    rate_per_s: float = 2.0


class WebhookDestinationSettings(BaseModel):
    name: str = "webhook"
    url: str
    secret: str = Field("", description="HMAC-SHA256 key for X-Aiops-Signature.")
    rate_per_s: float = 10.0


class RouteSettings(BaseModel):
    destinations: list[str]
    min_severity: str = "info"
    services: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    statuses: list[str] = Field(default_factory=lambda: ["open", "acknowledged", "resolved"])


class NotifySettings(BaseModel):
    slack: list[SlackDestinationSettings] = Field(default_factory=list)
    pagerduty: list[PagerDutyDestinationSettings] = Field(default_factory=list)
    webhooks: list[WebhookDestinationSettings] = Field(default_factory=list)
    routes: list[RouteSettings] = Field(
        default_factory=list, description="Empty: every incident goes to every destination."
    )
    runbook_url_template: str = Field("", description="e.g. https://wiki/runbooks/{service}")
    dashboard_url_template: str = Field("", description="e.g. https://grafana/d/x?var-s={service}")
    timeout_s: float = 5.0
    retry_base_s: float = 1.0
    retry_max_s: float = 300.0
    max_attempts: int = 12
    lease_s: float = Field(30.0, description="How long a claimed message stays hidden.")
    outbox_retention_s: float = Field(
        14 * 86400.0,
        description="Sent notification and feed rows are deleted after this long; keep it "
        "above the input topics' retention.",
    )


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
    notify: NotifySettings = Field(default_factory=NotifySettings)
    log_mapping: LogMappingSettings = Field(default_factory=LogMappingSettings)
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
