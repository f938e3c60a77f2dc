"""``predelinq console``: a read-only web console over the audit trail (PostgreSQL) and the
model registry, in its own process (never on a worker's event loop). Server-rendered HTML,
inline SVG charts, HTTP basic auth with the sidecar's API keys."""

from ._app import ConsoleConfig, build_app, offered_key
from ._queries import CustomerTimeline, Portfolio, customer_timeline, portfolio

__all__ = ["ConsoleConfig", "CustomerTimeline", "Portfolio", "build_app", "customer_timeline",
           "offered_key", "portfolio"]
