"""Settings: defaults, environment parsing, production rules and the README's table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stream_app.settings import (
    ConfigurationError,
    Environment,
    KafkaSecurityProtocol,
    OutputFormat,
    SaslMechanism,
    Settings,
    load_settings,
)

ENV_NAMES = sorted(name.upper() for name in Settings.model_fields)
STRONG_KEY = "k3y-Of-At-Least-16-Chars"
DB_URL = "postgresql://predelinq:Db-Pa55word@db.internal:5432/predelinq?sslmode=verify-full"
OUTPUT_KEY = "0utput-Id-Key-of-at-least-32-chars-xx"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No setting leaks in from the shell running the tests."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def _production(monkeypatch: pytest.MonkeyPatch) -> None:
    """An acceptable production environment; tests break one rule at a time."""
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("API_KEY", STRONG_KEY)
    monkeypatch.setenv("DATABASE_URL", DB_URL)
    monkeypatch.setenv("CORS_ORIGINS", "https://crm.bank.example")
    monkeypatch.setenv("OUTPUT_ID_KEY", OUTPUT_KEY)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc-predelinq")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "Sasl-Secret-99")


def _problems(**overrides: object) -> list[str]:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(**overrides)
    text = str(caught.value)
    for problem in caught.value.problems:
        assert problem in text  # the message lists every problem
    return caught.value.problems


# --- defaults and parsing ----------------------------------------------------------------------


def test_defaults() -> None:
    settings = load_settings()
    assert settings.auto_trigger_threshold == 80
    assert settings.batch_size == 100
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.debug is False
    assert settings.enable_interventions is False
    assert settings.api_key is None
    assert settings.database_url is None
    assert settings.cors_origins == ()
    assert settings.output_format is OutputFormat.AVRO
    assert settings.kafka_security_protocol is KafkaSecurityProtocol.PLAINTEXT
    assert settings.input_topics == ("bank.transactions.v1", "bank.payments.v1",
                                     "customer.flags.v1")
    assert settings.output_topics == ("risk.scores.v1", "risk.interventions.v1",
                                      "risk.deadletter.v1")
    assert settings.retrain_schedule == "0 3 * * 0"
    assert settings.exactly_once_commit_interval_seconds == 2.8  # faust's commit interval


def test_defaults_of_issue_22() -> None:
    """Interventions off until a deployment turns them on, an hour of /predict cache, 120
    requests per window and client, the model from the registry's champion alias."""
    settings = load_settings()
    assert settings.enable_interventions is False
    assert settings.cache_ttl == 3600
    assert settings.rate_limit_max_requests == 120
    assert settings.model_registry_dir == "var/model_registry"
    assert settings.model_path == "var/model_registry/champion"


def test_rate_limit_is_read_from_rate_limit_max_requests(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_MAX_REQUESTS", "7")
    assert load_settings().rate_limit_max_requests == 7
    assert "RATE_LIMIT_MAX" not in ENV_NAMES  # the old name: refused, see below


def test_model_path_follows_model_registry_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_REGISTRY_DIR", "/x")
    assert load_settings().model_path == "/x/champion"
    monkeypatch.setenv("MODEL_REGISTRY_DIR", "/srv/registry/")
    assert load_settings().model_path == "/srv/registry/champion"
    assert load_settings(model_registry_dir="/y").model_path == "/y/champion"
    monkeypatch.setenv("MODEL_PATH", "")  # empty means unset
    assert load_settings().model_path == "/srv/registry/champion"


def test_an_explicit_model_path_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_REGISTRY_DIR", "/x")
    monkeypatch.setenv("MODEL_PATH", "/models/v3")
    assert load_settings().model_path == "/models/v3"
    assert load_settings(model_path="/models/v4").model_path == "/models/v4"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTO_TRIGGER_THRESHOLD", "65")
    monkeypatch.setenv("BATCH_SIZE", "250")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9093,k2:9093")
    monkeypatch.setenv("KAFKA_SESSION_TIMEOUT_SECONDS", "12.5")
    monkeypatch.setenv("OUTPUT_FORMAT", "json")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("TOPIC_PAYMENTS", "core.payments.v2")
    monkeypatch.setenv("log_level", "warning")  # names are case-insensitive, level upper-cased
    settings = load_settings()
    assert settings.auto_trigger_threshold == 65
    assert settings.batch_size == 250
    assert settings.kafka_bootstrap_servers == "k1:9093,k2:9093"
    assert settings.kafka_session_timeout_seconds == 12.5
    assert settings.output_format is OutputFormat.JSON
    assert settings.kafka_sasl_mechanism is SaslMechanism.SCRAM_SHA_512
    assert settings.input_topics[1] == "core.payments.v2"
    assert settings.log_level == "WARNING"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://a.example", ("https://a.example",)),
        ("https://a.example,https://b.example", ("https://a.example", "https://b.example")),
        (" https://a.example , https://b.example ,, ", ("https://a.example", "https://b.example")),
        ("*", ("*",)),
    ],
)
def test_cors_origins_is_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", raw)
    assert load_settings().cors_origins == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("1", True), ("yes", True), ("on", True), ("TRUE", True),
     ("false", False), ("0", False), ("no", False), ("off", False)],
)
def test_booleans(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("DEBUG", raw)
    monkeypatch.setenv("ENABLE_INTERVENTIONS", raw)
    settings = load_settings()
    assert settings.debug is expected
    assert settings.enable_interventions is expected


def test_empty_variables_mean_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCH_SIZE", "")
    monkeypatch.setenv("API_KEY", "")
    settings = load_settings()
    assert settings.batch_size == 100
    assert settings.api_key is None


def test_secrets_are_not_shown_by_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", STRONG_KEY)
    monkeypatch.setenv("DATABASE_URL", DB_URL)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "Sasl-Secret-99")
    settings = load_settings()
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == STRONG_KEY
    for text in (repr(settings), str(settings)):
        assert STRONG_KEY not in text
        assert "Db-Pa55word" not in text
        assert "Sasl-Secret-99" not in text


def test_settings_are_immutable() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.batch_size = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value"),
    [("BATCH_SIZE", "0"), ("BATCH_SIZE", "many"), ("AUTO_TRIGGER_THRESHOLD", "101"),
     ("AUTO_TRIGGER_THRESHOLD", "-1"), ("ENVIRONMENT", "prod"), ("DEBUG", "maybe"),
     ("LOG_LEVEL", "VERBOSE"), ("API_PREFIX", "api/v1"), ("API_PREFIX", "/api/v1/"),
     ("STATE_STORE_URL", "redis://localhost"), ("OUTPUT_FORMAT", "xml"),
     ("KAFKA_SECURITY_PROTOCOL", "TLS"), ("SIDECAR_PORT", "70000"),
     ("EXACTLY_ONCE_COMMIT_INTERVAL_SECONDS", "0"),
     ("EXACTLY_ONCE_COMMIT_INTERVAL_SECONDS", "61")],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    problems = _problems()
    assert len(problems) == 1
    assert problems[0].startswith(f"{name}: ")


@pytest.mark.parametrize(
    "cron",
    ["every sunday", "0 3 * *", "0 3 * * 0 2026", "", "61 3 * * 0", "0 24 * * 0",
     "0 3 0 * *", "0 3 32 * *", "0 3 * 13 *", "0 3 * * 8", "*/0 * * * *", "30-10 * * * *",
     "0 3 * * MON", "0,60 3 * * *"],
)
def test_bad_cron_expressions_are_refused(monkeypatch: pytest.MonkeyPatch, cron: str) -> None:
    if cron:
        monkeypatch.setenv("RETRAIN_SCHEDULE", cron)
        problems = _problems()
    else:
        problems = _problems(retrain_schedule=cron)
    assert problems[0].startswith("RETRAIN_SCHEDULE: ")
    assert "cron" in problems[0]


@pytest.mark.parametrize(
    "cron",
    ["0 3 * * 0", "*/15 * * * *", "0 0-23/2 1,15 1-12 1-5", "59 23 31 12 7", "0 0 1 1 0"],
)
def test_good_cron_expressions_are_accepted(monkeypatch: pytest.MonkeyPatch, cron: str) -> None:
    monkeypatch.setenv("RETRAIN_SCHEDULE", cron)
    assert load_settings().retrain_schedule == cron


# --- cross-field rules -----------------------------------------------------------------------


def test_a_sound_production_environment_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch)
    settings = load_settings()
    assert settings.environment is Environment.PRODUCTION
    assert settings.problems() == []


def test_production_lists_every_problem_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("CORS_ORIGINS", "https://crm.bank.example,*")
    monkeypatch.setenv("STATE_STORE_URL", "memory://")
    problems = _problems()
    assert len(problems) == 7
    joined = "\n".join(problems)
    for name in ("DEBUG", "API_KEY", "CORS_ORIGINS", "DATABASE_URL", "STATE_STORE_URL",
                 "OUTPUT_ID_KEY", "KAFKA_SECURITY_PROTOCOL"):
        assert name in joined


@pytest.mark.parametrize(
    ("variable", "value", "mentions"),
    [
        ("DEBUG", "true", "DEBUG"),
        ("API_KEY", None, "API_KEY"),
        ("API_KEY", "short-key-15chr", "API_KEY"),
        ("CORS_ORIGINS", "*", "CORS_ORIGINS"),
        ("DATABASE_URL", None, "DATABASE_URL"),
        ("STATE_STORE_URL", "memory://", "STATE_STORE_URL"),
        ("OUTPUT_ID_KEY", None, "OUTPUT_ID_KEY must be set"),
        ("OUTPUT_ID_KEY", "k" * 31, "OUTPUT_ID_KEY must be at least 32 characters"),
        ("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "ALLOW_PLAINTEXT_KAFKA"),
        ("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT", "KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT"),
        ("SCHEMA_REGISTRY_URL", "http://registry:8081", "SCHEMA_REGISTRY_URL must be an https"),
    ],
)
def test_each_production_rule(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str | None, mentions: str
) -> None:
    _production(monkeypatch)
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    problems = _problems()
    assert len(problems) == 1
    assert mentions in problems[0]


def test_output_id_key_of_32_characters_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch)
    monkeypatch.setenv("OUTPUT_ID_KEY", "k" * 32)
    assert load_settings().problems() == []


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_plaintext_kafka_needs_the_explicit_allow_flag(monkeypatch: pytest.MonkeyPatch,
                                                        protocol: str) -> None:
    _production(monkeypatch)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", protocol)
    (problem,) = _problems()
    assert problem.startswith(f"KAFKA_SECURITY_PROTOCOL={protocol} is not allowed")
    assert "SASL_SSL" in problem
    monkeypatch.setenv("ALLOW_PLAINTEXT_KAFKA", "true")
    assert load_settings().kafka_security_protocol.value == protocol
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")  # TLS without SASL is fine too
    monkeypatch.delenv("ALLOW_PLAINTEXT_KAFKA")
    assert load_settings().problems() == []


_DB = "postgresql://predelinq:Db-Pa55word@db.internal:5432/predelinq"


@pytest.mark.parametrize("url", [
    _DB, f"{_DB}?sslmode=disable", f"{_DB}?sslmode=allow", f"{_DB}?sslmode=prefer",
    f"{_DB}?sslmode=PREFER", f"{_DB}?application_name=x", f"{_DB}?sslmode=require&sslmode=prefer",
    f"{_DB}?sslmode=bogus", "postgresql://predelinq@db.internal/predelinq#sslmode=require",
])
def test_a_database_url_without_tls_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                url: str) -> None:
    _production(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", url)
    (problem,) = _problems()
    assert problem.startswith("DATABASE_URL must use TLS when ENVIRONMENT=production")
    assert "ALLOW_INSECURE_DATABASE=true" in problem
    assert "Db-Pa55word" not in problem
    assert "db.internal" not in problem
    monkeypatch.setenv("ALLOW_INSECURE_DATABASE", "true")
    assert load_settings().problems() == []


@pytest.mark.parametrize("url", [
    f"{_DB}?sslmode=require", f"{_DB}?sslmode=verify-ca", f"{_DB}?sslmode=verify-full",
    f"{_DB}?sslmode=verify-full&sslrootcert=/etc/predelinq/pg-ca.pem",
    f"{_DB}?application_name=predelinq&sslmode=Require",
    "postgres://predelinq:Db-Pa55word@db1.internal,db2.internal/predelinq?sslmode=verify-full",
])
def test_a_database_url_with_tls_loads(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    _production(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", url)
    assert load_settings().problems() == []


def _env_example() -> dict[str, str]:
    lines = (REPO / ".env.example").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert len(values) >= 3
    return values


_SECRET_VARIABLES = ["API_KEY", "OUTPUT_ID_KEY", "KAFKA_SASL_PASSWORD",
                     "SCHEMA_REGISTRY_PASSWORD", "FORWARD_SECRET"]


@pytest.mark.parametrize("variable", _SECRET_VARIABLES)
def test_every_placeholder_of_env_example_is_refused_as_a_secret(
        monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    """Whatever .env.example proposes is a placeholder: copied unchanged into a production
    secret, it is refused, naming the variable and never echoing the value."""
    for placeholder in _env_example().values():
        _production(monkeypatch)
        if variable == "SCHEMA_REGISTRY_PASSWORD":
            monkeypatch.setenv("SCHEMA_REGISTRY_URL", "https://registry:8081")
            monkeypatch.setenv("SCHEMA_REGISTRY_USERNAME", "predelinq")
        monkeypatch.setenv(variable, placeholder + "-and-more-characters-to-be-long")
        problems = _problems()
        assert [p.split(" ", 1)[0] for p in problems] == [variable], problems
        assert "placeholder" in problems[0]
        assert placeholder not in "\n".join(problems)


@pytest.mark.parametrize(("variable", "value"), [
    ("DATABASE_URL", "postgresql://predelinq:CHANGE-ME@db:5432/p?sslmode=require"),
    ("DATABASE_URL", "postgresql://predelinq:{pw}@db:5432/p?sslmode=require"),
    ("API_KEY", "change-me-change-me-change-me"),
    ("KAFKA_SASL_PASSWORD", "Change-Me-now"),
    ("KAFKA_SASL_USERNAME", "svc-CHANGE-ME-x"),
    ("KAFKA_BOOTSTRAP_SERVERS", "change-me.kafka:9093"),
    ("SCHEMA_REGISTRY_URL", "https://CHANGE-ME:8081"),
    ("SIDECAR_ADVERTISED_URL", "https://change-me.internal:8080"),
])
def test_change_me_in_any_secret_or_url_is_refused(
        monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    _production(monkeypatch)
    password = _env_example()["POSTGRES_PASSWORD"]  # as compose substitutes it
    monkeypatch.setenv(variable, value.format(pw=password))
    problems = _problems()
    assert [p for p in problems if "placeholder" in p] == [
        f"{variable} holds a placeholder of the committed examples (CHANGE-ME, "
        "replace-with-...): set the real value from your secret store"]
    text = "\n".join(problems)
    assert value.format(pw=password) not in text
    assert password not in text


def test_placeholders_are_only_a_production_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "CHANGE-ME")
    monkeypatch.setenv("DATABASE_URL", "postgresql://p:CHANGE-ME@localhost/p")
    assert load_settings().api_key is not None


@pytest.mark.parametrize("environment", ["development", "test", "staging"])
def test_production_rules_do_not_apply_elsewhere(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", environment)
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("CORS_ORIGINS", "*")
    monkeypatch.setenv("STATE_STORE_URL", "memory://")
    settings = load_settings()
    assert settings.debug is True


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("given", ["none", "username", "password"])
def test_sasl_needs_both_credentials(
    monkeypatch: pytest.MonkeyPatch, protocol: str, given: str
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", protocol)
    if given == "username":
        monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc-predelinq")
    if given == "password":
        monkeypatch.setenv("KAFKA_SASL_PASSWORD", "Sasl-Secret-99")
    problems = _problems()
    assert len(problems) == 1
    assert "KAFKA_SASL_USERNAME" in problems[0]
    assert protocol in problems[0]
    assert "Sasl-Secret-99" not in problems[0]


def test_sasl_with_credentials_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc-predelinq")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "Sasl-Secret-99")
    settings = load_settings()
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == "Sasl-Secret-99"


def test_ssl_client_certificate_and_key_go_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SSL_CERTFILE", "/etc/kafka/client.pem")
    problems = _problems()
    assert any("KAFKA_SSL_KEYFILE" in p for p in problems)
    monkeypatch.setenv("KAFKA_SSL_KEYFILE", "/etc/kafka/client.key")
    assert load_settings().kafka_ssl_keyfile == "/etc/kafka/client.key"


@pytest.mark.parametrize("given", ["username", "password"])
def test_schema_registry_credentials_go_together(monkeypatch: pytest.MonkeyPatch,
                                                 given: str) -> None:
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "https://registry:8081")
    monkeypatch.setenv(f"SCHEMA_REGISTRY_{given.upper()}", "Registry-Secret-7")
    problems = _problems()
    assert problems == ["SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD must be set "
                        "together"]
    assert "Registry-Secret-7" not in problems[0]


def test_schema_registry_url_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "registry:8081")
    assert _problems() == ["SCHEMA_REGISTRY_URL must be an http:// or https:// URL"]
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "https://registry:8081")
    assert load_settings().schema_registry_url == "https://registry:8081"


@pytest.mark.parametrize(("name", "expected"), [
    ("murmur2", "murmur2"), ("consistent_random", "crc32"), ("CRC32", "crc32")])
def test_kafka_partitioner_takes_librdkafka_names(monkeypatch: pytest.MonkeyPatch, name: str,
                                                  expected: str) -> None:
    monkeypatch.setenv("KAFKA_PARTITIONER", name)
    assert load_settings().kafka_partitioner.value == expected


def test_an_unknown_kafka_partitioner_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_PARTITIONER", "random")
    with pytest.raises(ConfigurationError, match=r"KAFKA_PARTITIONER: .*unknown partitioner"):
        load_settings()


def test_topic_names_must_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPIC_DEADLETTER", "bank.transactions.v1")
    assert any("topic names" in p for p in _problems())


def test_overrides_are_validated_like_the_environment() -> None:
    assert load_settings(batch_size=7).batch_size == 7
    problems = _problems(environment="production", debug=True, api_key=STRONG_KEY,
                         database_url=DB_URL, output_id_key=OUTPUT_KEY,
                         kafka_security_protocol="SSL")
    assert problems == ["DEBUG=true is not allowed when ENVIRONMENT=production"]


def test_error_text_never_contains_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    short_key = "Shh-Key-1234"
    password = "Sasl-Secret-99"
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("API_KEY", short_key)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", password)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert any("API_KEY" in p for p in caught.value.problems)
    # field-level errors too: a bad value next to secrets
    monkeypatch.setenv("DATABASE_URL", DB_URL)
    monkeypatch.setenv("BATCH_SIZE", "Db-Pa55word")
    with pytest.raises(ConfigurationError) as field_level:
        load_settings()
    assert field_level.value.problems[0].startswith("BATCH_SIZE: ")
    for error in (caught.value, field_level.value):
        text = f"{error}\n{error!r}\n" + "\n".join(error.problems)
        for secret in (short_key, password, "Db-Pa55word"):
            assert secret not in text
        assert error.__cause__ is None


# --- the README documents exactly these variables -----------------------------------------

_FIRST_CELL_NAMES = re.compile(r"`([A-Za-z][A-Za-z0-9_]*)`")


def _tables(markdown: str) -> list[list[str]]:
    """Each markdown table as the list of its rows' first cells (header and rule excluded)."""
    tables: list[list[str]] = []
    current: list[str] | None = None
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = stripped.strip("|").split("|")
            if current is None:
                current = []  # the header row
                tables.append(current)
                continue
            first = cells[0].strip()
            if not set(first) <= set("-: "):
                current.append(first)
        else:
            current = None
    return tables


def test_readme_configuration_table_lists_exactly_the_settings(repo_root: Path) -> None:
    readme = repo_root / "README.md"
    assert readme.is_file(), "README.md with the configuration table is missing"
    known = set(ENV_NAMES)
    documented: set[str] = set()
    stray: set[str] = set()
    for table in _tables(readme.read_text(encoding="utf-8")):
        names = [n for cell in table for n in _FIRST_CELL_NAMES.findall(cell)]
        if not known.intersection(names):
            continue  # another table (topics, reason codes, ...)
        documented.update(n for n in names if n in known)
        stray.update(n for n in names if n not in known)
    assert not stray, f"README documents variables that Settings does not read: {sorted(stray)}"
    missing = known - documented
    assert not missing, f"Settings fields missing from the README table: {sorted(missing)}"


# --- issue 20: API_PREFIX and CORS_ORIGINS are validated (sidecar hardening) -----------------
@pytest.mark.parametrize("prefix", ["/api/{x}", "/{tail:.*}", "/api/%7Bx%7D", "/api/v1/",
                                    "api/v1", "/api//v1", "/api/..", "/a b", "/api/*"])
def test_an_api_prefix_with_route_pattern_characters_is_refused(
        monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    monkeypatch.setenv("API_PREFIX", prefix)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert refused.value.problems[0].startswith("API_PREFIX:")


@pytest.mark.parametrize("prefix", ["/", "/api/v1", "/risk-api/v2.1", "/a_b/~c"])
def test_plain_api_prefixes_are_accepted(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    monkeypatch.setenv("API_PREFIX", prefix)
    assert load_settings().api_prefix == prefix


@pytest.mark.parametrize("origins", [
    "https://crm.bank.example", "http://localhost:3000", "https://[::1]:8443",
    "https://a.example,https://b.example:8443", "*", "capacitor://localhost"])
def test_cors_origins_that_are_origins_are_accepted(monkeypatch: pytest.MonkeyPatch,
                                                    origins: str) -> None:
    monkeypatch.setenv("CORS_ORIGINS", origins)
    assert ",".join(load_settings().cors_origins) == origins


@pytest.mark.parametrize("origins", [
    "https://crm.bank.example/", "https://crm.bank.example/app", "crm.bank.example",
    "https://*.bank.example", "https://crm.bank.example,*.example", "https://a.example:0",
    "https://a.example:65536", "https://a..example", "https://a.example?x=1",
    "https://user@a.example", "null"])
def test_cors_origins_that_are_not_origins_are_refused(monkeypatch: pytest.MonkeyPatch,
                                                       origins: str) -> None:
    monkeypatch.setenv("CORS_ORIGINS", origins)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    (problem,) = refused.value.problems
    assert problem.startswith("CORS_ORIGINS:")
    assert "scheme://host[:port]" in problem


def test_a_cors_wildcard_is_still_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch)
    monkeypatch.setenv("CORS_ORIGINS", "https://crm.bank.example,*")
    assert any("CORS_ORIGINS" in p for p in _problems())


@pytest.mark.parametrize("name", ["RATE_LIMIT_MAX", "rate_limit_max"])
def test_a_renamed_variable_is_refused_with_its_new_name(monkeypatch: pytest.MonkeyPatch,
                                                        name: str) -> None:
    # ignored, it would leave the rate limit at the default the deployment did not choose
    monkeypatch.setenv(name, "600")
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    message = str(refused.value)
    assert ("RATE_LIMIT_MAX is no longer read: it was renamed RATE_LIMIT_MAX_REQUESTS"
            in message)
    assert "?" not in message
    assert "600" not in message  # values are never echoed
    monkeypatch.delenv(name)
    monkeypatch.setenv("RATE_LIMIT_MAX_REQUESTS", "600")
    assert load_settings().rate_limit_max_requests == 600


def test_every_retired_variable_names_a_current_one() -> None:
    from stream_app.settings import RETIRED_VARIABLES

    for old, (new, _) in RETIRED_VARIABLES.items():
        assert old not in ENV_NAMES
        assert new in ENV_NAMES
