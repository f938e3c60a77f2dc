"""Configuration of the sidecar's API, usually taken from :class:`~stream_app.settings.Settings`."""

from __future__ import annotations

from dataclasses import dataclass, field

from stream_app.settings import ConfigurationError, Environment, Settings, is_plain_api_prefix

from ._keys import ApiKeyEntry, parse_api_keys

__all__ = ["ApiConfig", "check_prefix"]

def check_prefix(prefix: str) -> str:
    """``prefix`` unchanged, or ``ValueError`` naming ``API_PREFIX`` (never echoing it)."""
    if not is_plain_api_prefix(prefix):
        raise ValueError("API_PREFIX must be '/' or '/'-separated segments of [A-Za-z0-9._~-] "
                         "(no '{', '}', '%', dot segments or trailing '/'), e.g. /api/v1")
    return prefix


@dataclass(frozen=True)
class ApiConfig:
    """What the API needs to know; secrets are kept out of ``repr``."""

    prefix: str = "/api/v1"
    api_key: str | None = field(default=None, repr=False)
    api_keys: tuple[str, ...] = field(default=(), repr=False)  # API_KEYS: name:sha256-hex
    require_key: bool = True  # False only when ENVIRONMENT=development
    cache_ttl: float = 300.0  # seconds a /predict answer is served from the cache (0: never)
    cache_max_entries: int = 10_000
    cors_origins: tuple[str, ...] = ()
    rate_limit_max: int = 100
    rate_limit_window: float = 60.0
    rate_limit_max_clients: int = 10_000  # clients remembered by the limiter (LRU beyond)
    database_url: str | None = field(default=None, repr=False)
    predict_timeout: float = 10.0  # seconds before a /predict call answers 503
    unavailable_retry_after: int = 5  # Retry-After (seconds) of 503 answers
    forward_secret: str | None = field(default=None, repr=False)  # FORWARD_SECRET
    forward_max_skew: float = 30.0  # seconds a signed forwarded call stays valid (both ways)
    metrics_public_info: bool = False  # /metrics without a key (METRICS_PUBLIC_INFO)
    body_read_timeout: float = 10.0  # seconds to receive a request body (SIDECAR_READ_...)
    keys: tuple[ApiKeyEntry, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            check_prefix(self.prefix)
            object.__setattr__(self, "keys", parse_api_keys(self.api_keys,
                                                            api_key=self.api_key))
        except ValueError as exc:
            raise ConfigurationError([str(exc)]) from None
        if self.cache_ttl < 0 or self.rate_limit_max < 1 or self.rate_limit_window <= 0:
            raise ValueError("cache_ttl >= 0, rate_limit_max >= 1, rate_limit_window > 0")
        if self.cache_max_entries < 1 or self.rate_limit_max_clients < 1:
            raise ValueError("cache_max_entries and rate_limit_max_clients must be >= 1")
        if self.predict_timeout <= 0 or self.unavailable_retry_after < 1:
            raise ValueError("predict_timeout > 0 and unavailable_retry_after >= 1")
        if self.forward_max_skew <= 0 or self.body_read_timeout <= 0:
            raise ValueError("forward_max_skew > 0 and body_read_timeout > 0")

    @property
    def base(self) -> str:
        """The prefix to put in front of ``/predict`` etc. (empty when the prefix is ``/``)."""
        return "" if self.prefix == "/" else self.prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiConfig:
        """Raises :class:`ConfigurationError` for a malformed ``API_KEYS`` entry, and in
        production when neither ``API_KEY`` nor ``API_KEYS`` is set: authentication is off
        only with ``ENVIRONMENT=development``."""
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        dsn = (settings.database_url.get_secret_value()
               if settings.database_url is not None else None)
        secret = (settings.forward_secret.get_secret_value()
                  if settings.forward_secret is not None else None)
        config = cls(
            prefix=settings.api_prefix,
            api_key=key or None,
            api_keys=settings.api_keys,
            require_key=settings.environment is not Environment.DEVELOPMENT,
            cache_ttl=float(settings.cache_ttl),
            cors_origins=settings.cors_origins,
            rate_limit_max=settings.rate_limit_max_requests,
            rate_limit_window=float(settings.rate_limit_window),
            database_url=dsn or None,
            forward_secret=secret or None,
            metrics_public_info=settings.metrics_public_info,
            body_read_timeout=settings.sidecar_read_timeout_seconds,
        )
        if settings.environment is Environment.PRODUCTION and not config.keys:
            raise ConfigurationError(["API_KEY or API_KEYS must be set when "
                                      "ENVIRONMENT=production (the API never runs without "
                                      "authentication outside development)"])
        return config
