"""Schema registry support (Confluent-compatible REST API): input schema ids looked up,
output schemas registered with BACKWARD compatibility. Optional: without
``SCHEMA_REGISTRY_URL`` the ids of ``schemas/registry.json`` are used."""

from ._client import SchemaRegistryClient, SchemaRegistryError
from ._learning import SchemaLearner
from ._outputs import COMPATIBILITY, register_outputs

__all__ = [
    "COMPATIBILITY",
    "SchemaLearner",
    "SchemaRegistryClient",
    "SchemaRegistryError",
    "register_outputs",
]
