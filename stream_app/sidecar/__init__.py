"""The HTTP sidecar of a worker (aiohttp)."""

from ._server import HealthSource, Sidecar

__all__ = ["HealthSource", "Sidecar"]
