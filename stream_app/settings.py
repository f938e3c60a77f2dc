"""Runtime configuration, read only from environment variables.

Every variable is documented in the README's configuration table; a test keeps that table and
this class in step. Settings are immutable once loaded. ``load_settings()`` validates the
combination (production rules) and raises :class:`ConfigurationError` listing every problem.
"""

from __future__ import annotations

import enum
import os
import posixpath
import re
import typing
from functools import cached_property
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from stream_app.partitioning import Partitioner

__all__ = [
    "RETIRED_VARIABLES",
    "ConfigurationError",
    "Environment",
    "EventLoop",
    "KafkaSecurityProtocol",
    "LogFormat",
    "OutputFormat",
    "ProcessingGuarantee",
    "SaslMechanism",
    "Settings",
    "is_plain_api_prefix",
    "load_settings",
]

_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
# minute, hour, day of month, month, day of week (0 and 7 are Sunday)
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _cron_in_range(field: str, low: int, high: int) -> bool:
    """Numbers within the field's range, ranges not reversed, steps at least 1."""
    for part in field.split(","):
        span, _, step = part.partition("/")
        if step and int(step) < 1:
            return False
        if span == "*":
            continue
        start, _, end = span.partition("-")
        first, last = int(start), int(end or start)
        if not low <= first <= last <= high:
            return False
    return True


class ConfigurationError(ValueError):
    """The environment does not describe a configuration we are willing to run."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


class KafkaSecurityProtocol(enum.StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(enum.StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class ProcessingGuarantee(enum.StrEnum):
    AT_LEAST_ONCE = "at_least_once"
    EXACTLY_ONCE = "exactly_once"


class EventLoop(enum.StrEnum):
    ASYNCIO = "asyncio"
    UVLOOP = "uvloop"


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class OutputFormat(enum.StrEnum):
    AVRO = "avro"
    JSON = "json"


# "/" or "/"-separated segments of unreserved URL characters: no route pattern ({x}), no
# percent escapes, no dot segments, so that the sidecar middleware's prefix test sees exactly
# the paths the router serves under the prefix
_API_PREFIX = re.compile(r"/|(/[A-Za-z0-9._~-]+)+")


def is_plain_api_prefix(prefix: str) -> bool:
    """True for an API_PREFIX the sidecar can guard: see ``_API_PREFIX``."""
    return bool(_API_PREFIX.fullmatch(prefix)) and not any(
        set(segment) == {"."} for segment in prefix.split("/") if segment)


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


# variables that were renamed: old name -> (new name, when); a process refuses to start
# while an old one is set
RETIRED_VARIABLES: dict[str, tuple[str, str]] = {
    "RATE_LIMIT_MAX": ("RATE_LIMIT_MAX_REQUESTS", "2026-12-07, issue 22"),
}


class Settings(BaseSettings):
    """All configuration of a predelinq process (worker, sink, CLI)."""

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=False,
        extra="ignore",
        env_ignore_empty=True,
    )

    # --- application (names from the deployment guide) ---------------------------------------
    app_name: str = Field("predelinq", description="Faust app id and consumer group id.")
    environment: Environment = Environment.DEVELOPMENT
    debug: bool = False
    database_url: SecretStr | None = Field(
        None, description="PostgreSQL DSN for the audit trail (postgresql://...)."
    )
    api_key: SecretStr | None = Field(None, description="Key required in X-API-Key.")
    api_prefix: str = "/api/v1"
    model_path: str = Field(
        "var/model_registry/champion",
        description="Model version directory (or registry alias link) the worker loads; "
                    "unset: MODEL_REGISTRY_DIR's champion alias (_derive_model_path), so this "
                    "default is only the default registry's.",
    )
    model_registry_dir: str = Field(
        "var/model_registry", description="Registry directory that `train` writes versions to."
    )
    challenger_model_path: str | None = Field(
        None, description="Optional challenger (e.g. var/model_registry/challenger), scored "
                          "in shadow: metrics and an optional field, never interventions.")
    model_watch_interval_seconds: float = Field(
        10.0, ge=0, description="How often the worker checks MODEL_PATH and "
                                "CHALLENGER_MODEL_PATH for a new version (0: never).")
    model_version: str | None = Field(
        None, description="When set, refuse to start unless the loaded model has this version."
    )
    policy_path: str | None = Field(
        None, description="Intervention policy file (JSON); unset: the built-in default policy.")
    enable_interventions: bool = False
    auto_trigger_threshold: int = Field(80, ge=0, le=100)
    batch_size: int = Field(100, ge=1, le=10_000)
    batch_window_ms: int = Field(10, ge=1, le=60_000)
    cache_ttl: int = Field(3600, ge=0, description="Seconds a /predict answer is cached.")
    retrain_schedule: str = Field("0 3 * * 0", description="Cron expression (5 fields).")
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    rate_limit_max_requests: int = Field(120, ge=1)
    rate_limit_window: int = Field(60, ge=1, description="Seconds.")
    log_level: str = "INFO"
    event_loop: EventLoop = Field(
        EventLoop.ASYNCIO, description="asyncio (the standard library's loop) or uvloop (libuv; "
                                       "less CPU per Kafka request).")
    allocation_report_seconds: float = Field(
        0.0, ge=0.0, description="With PYTHONTRACEMALLOC set, log the Python allocation sites "
                                 "that grew most every this many seconds (0: never).")
    log_format: LogFormat = Field(
        LogFormat.TEXT, description="text (one line per record) or json (one JSON object per "
                                    "line); personal data is redacted at INFO and above.")

    # --- Kafka ---------------------------------------------------------------------------------
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    processing_guarantee: ProcessingGuarantee = Field(
        ProcessingGuarantee.AT_LEAST_ONCE,
        description="at_least_once (deterministic output ids, idempotent state) or "
                    "exactly_once (Kafka transactions; consumers read_committed).")
    exactly_once_commit_interval_seconds: float = Field(
        2.8, ge=0.1, le=60.0,
        description="exactly_once: how long each input partition's transaction stays open "
                    "(the outputs' latency for read_committed consumers, against one commit "
                    "per partition per interval).")
    kafka_partitioner: Partitioner = Field(
        Partitioner.MURMUR2,
        description="The hash every upstream producer puts a customer's key on a partition "
                    "with: murmur2 (the Java client's default; librdkafka's murmur2_random) or "
                    "crc32 (librdkafka's default consistent_random: confluent-kafka, Go, .NET, "
                    "C). A record on another partition is dead-lettered (wrong_partition); the "
                    "worker's own producer uses it too.")
    kafka_security_protocol: KafkaSecurityProtocol = KafkaSecurityProtocol.PLAINTEXT
    kafka_sasl_mechanism: SaslMechanism = SaslMechanism.PLAIN
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    kafka_session_timeout_seconds: float = Field(30.0, gt=0)
    kafka_heartbeat_interval_seconds: float = Field(3.0, gt=0)
    kafka_rebalance_timeout_seconds: float = Field(30.0, gt=0)
    kafka_fetch_max_wait_ms: int = Field(
        100, ge=1, le=5000,
        description="Longest a broker holds the worker's fetch when no record is there; the "
                    "worker's offset lookups wait behind it (faust's own is 1500).")

    # --- schema registry (optional) -------------------------------------------------------------
    schema_registry_url: str | None = Field(
        None, description="Confluent-compatible schema registry (e.g. https://registry:8081). "
                          "Set: input schema ids are looked up in it and outputs registered "
                          "under <topic>-value (BACKWARD); unset: schemas/registry.json's ids.")
    schema_registry_username: str | None = Field(None, description="Basic-auth user.")
    schema_registry_password: SecretStr | None = Field(None, description="Basic-auth password.")
    schema_registry_ca_file: str | None = Field(
        None, description="CA bundle (PEM) that signed the registry's TLS certificate.")

    # --- topics ----------------------------------------------------------------------------------
    topic_transactions: str = "bank.transactions.v1"
    topic_payments: str = "bank.payments.v1"
    topic_customer_flags: str = "customer.flags.v1"
    topic_risk_scores: str = "risk.scores.v1"
    topic_interventions: str = "risk.interventions.v1"
    topic_deadletter: str = "risk.deadletter.v1"
    topic_outcomes: str = Field(
        "intervention.outcomes.v1",
        description="Input topic of intervention outcomes reported by the CRM (audit sink).")
    topic_partitions: int = Field(8, ge=1, le=10_000)
    topic_replication_factor: int = Field(1, ge=1, le=10)
    output_format: OutputFormat = OutputFormat.AVRO

    sink_batch_size: int = Field(500, ge=1, le=100_000,
                                 description="Rows per audit-trail database transaction.")

    # --- state and sidecar -------------------------------------------------------------------
    state_store_url: str = Field(
        "rocksdb://", description="Faust table store: rocksdb:// (production) or memory://."
    )
    state_dir: str = Field("var/state", description="Directory for RocksDB and Faust data.")
    # RocksDB opens one database per table partition (two tables). Every database of the
    # worker shares one block cache (data, index and filter blocks) and one memtable budget,
    # so RocksDB's memory is about their sum whatever the partitions or the state's size
    # (stream_app/worker/_rocksdb_memory.py); faust's defaults leave it unbounded
    rocksdb_block_cache_bytes: int = Field(64 * 1024**2, ge=1024**2, le=16 * 1024**3)
    rocksdb_memtable_limit_bytes: int = Field(32 * 1024**2, ge=4 * 1024**2, le=16 * 1024**3)
    rocksdb_write_buffer_bytes: int = Field(8 * 1024**2, ge=1024**2, le=1024**3)
    rocksdb_max_write_buffers: int = Field(2, ge=2, le=16)
    sidecar_host: str = "127.0.0.1"
    sidecar_port: int = Field(8080, ge=0, le=65535)
    # --- hardening (issue 20) ------------------------------------------------------------------
    # event time: what an upstream record may claim (stream_app/processing)
    max_event_skew_seconds: float = Field(
        300.0, ge=0.0, le=7 * 86_400,
        description="Furthest an input's event time may be ahead of the worker's wall clock; "
                    "later records are dead-lettered (event_time_in_future) and never move a "
                    "partition's event-time clock.")
    max_deadlines_per_batch: int = Field(
        10_000, ge=1, le=1_000_000,
        description="Absence deadlines (no salary, no payment...) fired at most per batch; "
                    "the rest fire in the next batches.")
    output_id_key: SecretStr | None = Field(
        None, description="Secret key of the output ids (keyed hash, so a producer cannot "
                          "predict an intervention's id); required in production.")
    # API keys and worker-to-worker forwarding (stream_app/sidecar, stream_app/worker/_predict)
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Several API keys for rotation and per-client rate limits: "
                        "name:sha256-hex-of-key entries, comma separated (with or beside "
                        "API_KEY).")
    forward_secret: SecretStr | None = Field(
        None, description="Shared secret workers sign forwarded /predict calls with (never the "
                          "caller's API key); unset: calls are forwarded only over https.")
    forward_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Hosts a /predict call may be forwarded to, from the consumer "
                        "group's metadata: exact names or .suffix entries, comma separated; "
                        "empty: loopback hosts only.")
    # sidecar HTTP server limits (aiohttp)
    sidecar_max_connections: int = Field(256, ge=1, le=100_000)
    sidecar_keepalive_seconds: float = Field(15.0, gt=0, le=3600)
    sidecar_read_timeout_seconds: float = Field(10.0, gt=0, le=600)
    metrics_public_info: bool = Field(
        False, description="Serve /metrics without an API key (true for a Prometheus that "
                           "cannot send one; the NetworkPolicy then limits who reaches it).")
    # production escape hatches, each refused unless explicitly set
    allow_plaintext_kafka: bool = Field(
        False, description="Allow KAFKA_SECURITY_PROTOCOL=PLAINTEXT/SASL_PLAINTEXT in "
                           "production.")
    allow_insecure_database: bool = Field(
        False, description="Allow a DATABASE_URL without TLS (sslmode=disable/allow/prefer "
                           "or none) in production.")
    sidecar_advertised_url: str | None = Field(
        None, description="URL other workers use to reach this worker's sidecar (forwarded "
                          "/predict calls); default http://<host>:<SIDECAR_PORT>.")

    @model_validator(mode="before")
    @classmethod
    def _refuse_retired_names(cls, data: Any) -> Any:
        """A variable that was renamed is refused, never silently ignored (unknown variables
        are ignored: ``extra="ignore"``), so that a deployment does not fall back to a
        default it did not choose."""
        present = {name.upper() for name in os.environ}
        problems = [f"{old} is no longer read: it was renamed {new} ({when}); set {new} "
                    f"and remove {old}" for old, (new, when) in RETIRED_VARIABLES.items()
                    if old in present]
        if problems:
            raise ValueError("; ".join(problems))
        return data

    @model_validator(mode="before")
    @classmethod
    def _derive_model_path(cls, data: Any) -> Any:
        """MODEL_PATH unset: the champion alias of MODEL_REGISTRY_DIR (``/x`` -> ``/x/champion``),
        so one variable moves both. Read before field validation, where the raw values are
        keyed by field name (environment, overrides); empty variables are already dropped."""
        if not isinstance(data, dict) or data.get("model_path"):
            return data
        registry = data.get("model_registry_dir") or cls.model_fields[
            "model_registry_dir"].default
        return {**data, "model_path": posixpath.join(str(registry), "champion")}

    @field_validator("cors_origins", "api_keys", "forward_allowed_hosts", mode="before")
    @classmethod
    def _parse_comma_lists(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("kafka_partitioner", mode="before")
    @classmethod
    def _parse_partitioner(cls, value: Any) -> Any:
        return Partitioner.parse(value) if isinstance(value, str) else value

    @field_validator("api_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        # "/" or "/"-separated segments of [A-Za-z0-9._~-]: a route-pattern character ({x})
        # or an escape would make the router serve paths the API middleware does not guard
        if not is_plain_api_prefix(value):
            raise ValueError("must be '/' or '/'-separated segments of [A-Za-z0-9._~-] (no "
                             "'{', '}', '%', dot segments or trailing '/'), e.g. /api/v1")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_cors_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # an origin is scheme://host[:port]: no path, no wildcard but the literal "*"
        origin = re.compile(
            r"[A-Za-z][A-Za-z0-9+.-]*://"
            r"([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
            r"|\[[0-9A-Fa-f:.]+\])"
            r"(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]"
            r"|6553[0-5]))?")
        for position, entry in enumerate(value, start=1):
            if entry != "*" and not origin.fullmatch(entry):
                raise ValueError(f"entry {position} is not an origin: scheme://host[:port] "
                                 "without a path (only '*' alone allows any origin)")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return upper

    @field_validator("retrain_schedule")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(
            _CRON_FIELD.match(f) and _cron_in_range(f, low, high)
            for f, (low, high) in zip(fields, _CRON_RANGES, strict=True)
        ):
            raise ValueError("must be a 5-field cron expression such as '0 3 * * 0'")
        return value

    @field_validator("state_store_url")
    @classmethod
    def _check_store(cls, value: str) -> str:
        if not (value.startswith("rocksdb://") or value.startswith("memory://")):
            raise ValueError("must be rocksdb:// or memory://")
        return value

    @cached_property
    def input_topics(self) -> tuple[str, ...]:
        return (self.topic_transactions, self.topic_payments, self.topic_customer_flags)

    @cached_property
    def output_topics(self) -> tuple[str, ...]:
        return (self.topic_risk_scores, self.topic_interventions, self.topic_deadletter)

    def _schema_registry_problems(self) -> list[str]:
        problems = []
        if (self.schema_registry_username is None) != (self.schema_registry_password is None):
            problems.append("SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD must be set "
                            "together")
        if self.schema_registry_url and not self.schema_registry_url.startswith(
                ("http://", "https://")):
            problems.append("SCHEMA_REGISTRY_URL must be an http:// or https:// URL")
        elif (self.environment is Environment.PRODUCTION and self.schema_registry_url
              and not self.schema_registry_url.startswith("https://")):
            problems.append("SCHEMA_REGISTRY_URL must be an https:// URL when "
                            "ENVIRONMENT=production (its basic-auth credentials and the "
                            "schemas that decode every record travel over it)")
        return problems

    def problems(self) -> list[str]:
        """Cross-field rules; an empty list means the combination is acceptable."""
        problems: list[str] = []
        if self.environment is Environment.PRODUCTION:
            problems += _production_problems(self)
        uses_sasl = self.kafka_security_protocol in (
            KafkaSecurityProtocol.SASL_PLAINTEXT,
            KafkaSecurityProtocol.SASL_SSL,
        )
        if uses_sasl and (not self.kafka_sasl_username or self.kafka_sasl_password is None):
            problems.append(
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required with "
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol.value}"
            )
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            problems.append("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE must be set together")
        problems += self._schema_registry_problems()
        if self.rocksdb_write_buffer_bytes > self.rocksdb_memtable_limit_bytes:
            problems.append("ROCKSDB_WRITE_BUFFER_BYTES must not exceed "
                            "ROCKSDB_MEMTABLE_LIMIT_BYTES (the memtables of every database "
                            "together)")
        names = [*self.input_topics, *self.output_topics, self.topic_outcomes]
        if len(set(names)) != len(names):
            problems.append("topic names must all be different")
        return problems


# --- production rules (problems() with ENVIRONMENT=production) --------------------------------

#: Marks of the committed examples' placeholder values, compared case-insensitively: the
#: Kubernetes example secret's CHANGE-ME and every value of .env.example (replace-with-...;
#: tests/test_settings.py refuses each one of that file). Never a real secret.
_PLACEHOLDER_MARKS = ("change-me", "replace-with-")
_OUTPUT_ID_KEY_MIN = 32
_TLS_SSLMODES = frozenset({"require", "verify-ca", "verify-full"})
_LIBPQ_SSLMODES = frozenset({"disable", "allow", "prefer", *_TLS_SSLMODES})


def _secret_or_url_fields() -> list[str]:
    """Settings that hold a secret (SecretStr, API key digests), a URL or a credential."""
    names = []
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        secret = annotation is SecretStr or SecretStr in typing.get_args(annotation)
        if secret or name == "api_keys" or name.endswith(("_url", "_servers", "_username")):
            names.append(name)
    return names


def _text(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _placeholder_problems(settings: Settings) -> list[str]:
    problems = []
    for name in _secret_or_url_fields():
        text = _text(getattr(settings, name)).lower()
        if any(mark in text for mark in _PLACEHOLDER_MARKS):
            problems.append(
                f"{name.upper()} holds a placeholder of the committed examples (CHANGE-ME, "
                "replace-with-...): set the real value from your secret store")
    return problems


def _database_sslmode(url: str) -> str | None:
    """The sslmode a postgresql:// URL asks for (its last one), None when it names none."""
    from urllib.parse import parse_qs, urlsplit

    try:
        modes = parse_qs(urlsplit(url).query).get("sslmode")
    except ValueError:
        return None
    return modes[-1].lower() if modes else None


def _database_problems(settings: Settings) -> list[str]:
    if settings.database_url is None:
        return ["DATABASE_URL must be set when ENVIRONMENT=production"]
    if settings.allow_insecure_database:
        return []
    mode = _database_sslmode(settings.database_url.get_secret_value())
    if mode in _TLS_SSLMODES:
        return []
    now = ("it names no sslmode" if mode is None else f"sslmode={mode}" if mode in
           _LIBPQ_SSLMODES else "its sslmode is not a libpq mode")
    return [f"DATABASE_URL must use TLS when ENVIRONMENT=production ({now}): add "
            "?sslmode=verify-full (with sslrootcert=CA file; or require / verify-ca), or set "
            "ALLOW_INSECURE_DATABASE=true for a database reached only over a trusted network"]


def _production_problems(settings: Settings) -> list[str]:
    problems = []
    if settings.debug:
        problems.append("DEBUG=true is not allowed when ENVIRONMENT=production")
    if settings.api_key is None:
        problems.append("API_KEY must be set when ENVIRONMENT=production")
    elif len(settings.api_key.get_secret_value()) < 16:
        problems.append("API_KEY must be at least 16 characters in production")
    if "*" in settings.cors_origins:
        problems.append("CORS_ORIGINS='*' is not allowed when ENVIRONMENT=production")
    problems += _database_problems(settings)
    if settings.state_store_url.startswith("memory://"):
        problems.append(
            "STATE_STORE_URL=memory:// is not allowed when ENVIRONMENT=production "
            "(state must survive restarts; use rocksdb://)"
        )
    if settings.output_id_key is None:
        problems.append(f"OUTPUT_ID_KEY must be set when ENVIRONMENT=production (at least "
                        f"{_OUTPUT_ID_KEY_MIN} random characters: python -c \"import secrets; "
                        "print(secrets.token_urlsafe(32))\")")
    elif len(settings.output_id_key.get_secret_value()) < _OUTPUT_ID_KEY_MIN:
        problems.append(f"OUTPUT_ID_KEY must be at least {_OUTPUT_ID_KEY_MIN} characters in "
                        "production")
    plaintext = (KafkaSecurityProtocol.PLAINTEXT, KafkaSecurityProtocol.SASL_PLAINTEXT)
    if settings.kafka_security_protocol in plaintext and not settings.allow_plaintext_kafka:
        problems.append(
            f"KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol.value} is not allowed "
            "when ENVIRONMENT=production (records and SASL credentials would cross the "
            "network unencrypted): use SASL_SSL or SSL, or set ALLOW_PLAINTEXT_KAFKA=true")
    problems += _placeholder_problems(settings)
    return problems


def load_settings(**overrides: Any) -> Settings:
    """Read the environment, validate field by field and across fields.

    Raises :class:`ConfigurationError` with every problem found, phrased with the variable names
    an operator sets, never with secret values.
    """
    from pydantic import ValidationError

    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            if not err["loc"]:  # a check across variables names them itself
                problems.append(str(err["msg"]).removeprefix("Value error, "))
                continue
            problems.append(f"{str(err['loc'][0]).upper()}: {err['msg']}")
        raise ConfigurationError(problems) from None
    problems = settings.problems()
    if problems:
        raise ConfigurationError(problems)
    return settings
