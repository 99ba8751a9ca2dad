"""One settings object, read once in the composition root and passed down.

Sources, strongest first: constructor arguments, ``AIOPS_*`` environment variables (nested
with ``__``, e.g. ``AIOPS_KAFKA__BOOTSTRAP_SERVERS``), the YAML file named by
``AIOPS_CONFIG`` (or ``--config``), then the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from aiops.wire.otlp.attributes import RESOURCE_LABELS as _OTLP_RESOURCE_LABELS


class _Section(BaseModel):
    """A section of the settings: a key it does not know is an error, not silently ignored
    (``api: {prot: 18081}`` would otherwise leave the port at its default)."""

    model_config = ConfigDict(extra="forbid")


class KafkaSettings(_Section):
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


class TopicSettings(_Section):
    metrics: str = "aiops.metrics"
    logs: str = "aiops.logs"
    alerts: str = "aiops.alerts"
    incidents: str = "aiops.incidents"
    actions: str = "aiops.actions"
    dlq: str = "aiops.dlq"
    topology: str = "aiops.topology"
    otlp_metrics: str = Field("otlp_metrics", description="OTLP metrics as the Collector's "
                              "Kafka exporter writes them (otlp_proto or otlp_json).")
    otlp_logs: str = Field("otlp_logs", description="OTLP logs (Collector Kafka exporter).")
    otlp_spans: str = Field("otlp_spans", description="OTLP spans (Collector Kafka exporter).")
    deviations: str = "aiops.deviations"
    data_partitions: int = 3
    alert_partitions: int = 1


class OtlpSettings(_Section):
    """How OTLP metrics, logs and traces become the engine's signals (see README, OTLP)."""

    span_window_s: float = Field(
        10.0, description="Spans are counted into rate/error/latency series per window."
    )
    span_grace_s: float = Field(
        10.0, description="A window closes this long (event time) after its end."
    )
    edge_ttl_s: float = Field(
        900.0, description="A call edge seen in traces is removed after this long unseen."
    )
    latency_quantile: float = Field(
        0.95, description="Quantile of histograms and spans emitted as the latency signal."
    )
    replace_file_edges: bool = Field(
        True, description="Call edges of correlation.topology_file expire like traced ones "
        "once traces show their caller calling (a stale file gives way to traces)."
    )
    resource_labels: dict[str, str] = Field(
        default_factory=lambda: dict(_OTLP_RESOURCE_LABELS),
        description="Resource attribute -> label (service.name -> service, k8s.pod.name -> "
        "pod, host.name -> host, ...).",
    )
    max_record_bytes: int = Field(
        64 * 1024 * 1024, description="Largest OTLP Kafka record; larger ones are dead letters."
    )


class StoreSettings(_Section):
    url: str = Field("sqlite:///aiops.db", description="SQLAlchemy URL (sqlite or postgresql).")


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = Field("", description="Base URL used in links sent to people.")
    max_body_bytes: int = 10 * 1024 * 1024
    bearer_token: str = Field(
        "", description="The write credential: required by receivers and every route that "
        "changes something when set (basic auth below is the alternative)."
    )
    basic_username: str = ""
    basic_password: str = ""
    publish_timeout_s: float = 10.0
    max_decoded_bytes: int = Field(
        64 * 1024 * 1024, description="Largest remote_write body after snappy decompression."
    )
    max_record_bytes: int = Field(
        512 * 1024, gt=0, description="Largest record a request may put on a topic (one "
        "alert, one command, one batch of samples); keep it below the broker's message limit."
    )
    read_token: str = Field(
        "", description="Bearer token required by read routes (and /metrics) when set; the "
        "write credential reads too. Needs a write credential."
    )

    @model_validator(mode="after")
    def _read_needs_write(self) -> ApiSettings:
        if self.read_token and not (self.bearer_token or self.basic_username):
            raise ValueError("read_token is set but no write credential (bearer_token or "
                             "basic_username): every change would be open while reads are not")
        if self.read_token and self.read_token == self.bearer_token:
            raise ValueError("read_token must differ from bearer_token")
        return self


class LogMappingSettings(_Section):
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


class DetectionSettings(_Section):
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
    accept_after_s: float = Field(
        86400.0,
        description="A level shift still firing after this long is accepted as the new "
        "normal (alert resolved, series relearnt); 0: only a person accepts.",
    )
    checkpoint_interval_s: float = Field(
        10.0,
        description="How often a detect worker saves each partition's learnt state to the "
        "store (also on rebalance and clean stop); 0: never.",
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


class CorrelationSettings(_Section):
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
    diagnosis: bool = Field(
        True,
        description="The detect stage publishes per-node deviation summaries (metric series "
        "and error logs) and the correlator ranks every deviating node around an incident, "
        "alerting or not.",
    )
    ranking: str = Field(
        "chain", description="Root-cause ranking: chain, composite, deepest, pagerank, onset, "
        "top-score."
    )
    correlator: str = Field(
        "topology", description="Correlator: topology (the engine), naive (the linear-scan "
        "baseline, to compare against)."
    )


class RemediationSettings(_Section):
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


class SlackDestinationSettings(_Section):
    name: str = "slack"
    webhook_url: str
    rate_per_s: float = Field(1.0, description="Slack allows about 1 message/s per webhook.")
    history_token: str = Field("", description="Bot token to reconcile in-doubt deliveries.")
    history_channel: str = ""
    api_url: str = "https://slack.com/api"


class PagerDutyDestinationSettings(_Section):
    name: str = "pagerduty"
    routing_key: str
    url: str = "https://events.pagerduty.com/v2/enqueue"
    rate_per_s: float = 2.0


class WebhookDestinationSettings(_Section):
    name: str = "webhook"
    url: str
    secret: str = Field("", description="HMAC-SHA256 key for X-Aiops-Signature.")
    rate_per_s: float = 10.0


class RouteSettings(_Section):
    destinations: list[str]
    min_severity: str = "info"
    services: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    statuses: list[str] = Field(default_factory=lambda: ["open", "acknowledged", "resolved"])


class NotifySettings(_Section):
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
    otlp: OtlpSettings = Field(default_factory=OtlpSettings)
    data_dir: str = Field(".aiops", description="Where the embedded mode keeps its files.")
    log_level: str = "INFO"
    worker_metrics_port: int = Field(
        0, ge=0, le=65535, description="aiops worker: serve its own /metrics (stage counters, "
        "events) on this port of api.host; 0: off."
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line (events carry their fields); "
        "text: plain lines for a terminal."
    )

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
        """Read the settings once: environment, then the YAML file, then defaults.

        Any mistake is one :class:`~aiops.model.ConfigError` line naming the setting, where it
        came from and the problem: an unknown key (in any section, from the file or an
        ``AIOPS_*`` variable), a value of the wrong type, a file that is not YAML.
        """
        from aiops.settings_errors import check_environment, explain

        check_environment(cls)
        path: Path | None = None
        try:
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
        except ValidationError as exc:
            raise explain(exc, cls, path) from None
        except yaml.YAMLError as exc:
            from aiops.model import ConfigError

            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ConfigError(f"not valid YAML{where}: {problem}", source=str(path)) from None
