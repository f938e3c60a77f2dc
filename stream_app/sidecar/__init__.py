"""The HTTP sidecar of a worker (aiohttp): health, readiness, metrics and the API."""

from ._api import SidecarApi
from ._audit import AuditReader, DatabaseUnavailable
from ._backend import PredictBackend, PredictCall, PredictUnavailable
from ._config import ApiConfig
from ._limits import ServerLimits
from ._server import HealthSource, Sidecar

__all__ = [
    "ApiConfig",
    "AuditReader",
    "DatabaseUnavailable",
    "HealthSource",
    "PredictBackend",
    "PredictCall",
    "PredictUnavailable",
    "ServerLimits",
    "Sidecar",
    "SidecarApi",
]
