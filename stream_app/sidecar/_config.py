"""Configuration of the sidecar's API, usually taken from :class:`~stream_app.settings.Settings`."""

from __future__ import annotations

from dataclasses import dataclass, field

from stream_app.settings import Environment, Settings

__all__ = ["ApiConfig"]


@dataclass(frozen=True)
class ApiConfig:
    """What the API needs to know; secrets are kept out of ``repr``."""

    prefix: str = "/api/v1"
    api_key: str | None = field(default=None, repr=False)
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

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/") or (self.prefix.endswith("/") and self.prefix != "/"):
            raise ValueError("prefix must start with '/' and not end with '/', e.g. /api/v1")
        if self.cache_ttl < 0 or self.rate_limit_max < 1 or self.rate_limit_window <= 0:
            raise ValueError("cache_ttl >= 0, rate_limit_max >= 1, rate_limit_window > 0")
        if self.cache_max_entries < 1 or self.rate_limit_max_clients < 1:
            raise ValueError("cache_max_entries and rate_limit_max_clients must be >= 1")
        if self.predict_timeout <= 0 or self.unavailable_retry_after < 1:
            raise ValueError("predict_timeout > 0 and unavailable_retry_after >= 1")

    @property
    def base(self) -> str:
        """The prefix to put in front of ``/predict`` etc. (empty when the prefix is ``/``)."""
        return "" if self.prefix == "/" else self.prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiConfig:
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        dsn = (settings.database_url.get_secret_value()
               if settings.database_url is not None else None)
        return cls(
            prefix=settings.api_prefix,
            api_key=key or None,
            require_key=settings.environment is not Environment.DEVELOPMENT,
            cache_ttl=float(settings.cache_ttl),
            cors_origins=settings.cors_origins,
            rate_limit_max=settings.rate_limit_max,
            rate_limit_window=float(settings.rate_limit_window),
            database_url=dsn or None,
        )
