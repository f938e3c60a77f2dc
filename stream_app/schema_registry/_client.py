"""A small async client of the Confluent Schema Registry REST API (aiohttp).

Only what the worker needs: a schema by global id, registering a subject's schema, and a
subject's compatibility level. Basic auth and a private CA are supported; every call has a
timeout. Errors name the call and the HTTP status, never the credentials.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

if TYPE_CHECKING:
    from stream_app.settings import Settings

__all__ = ["SchemaRegistryClient", "SchemaRegistryError"]

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryError(RuntimeError):
    """The registry refused a call or could not be reached; ``status`` is the HTTP status (0
    when no answer came)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class SchemaRegistryClient:
    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 ca_file: str | None = None, timeout_seconds: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Accept": _CONTENT_TYPE, "Content-Type": _CONTENT_TYPE}
        if username:
            self._headers["Authorization"] = aiohttp.encode_basic_auth(username, password or "")
        self._ssl: ssl.SSLContext | None = (
            ssl.create_default_context(cafile=ca_file) if ca_file else None)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SchemaRegistryClient | None:
        """The client SCHEMA_REGISTRY_* configure; None without SCHEMA_REGISTRY_URL."""
        if not settings.schema_registry_url:
            return None
        password = settings.schema_registry_password
        return cls(settings.schema_registry_url, username=settings.schema_registry_username,
                   password=password.get_secret_value() if password else None,
                   ca_file=settings.schema_registry_ca_file)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        data = orjson.dumps(body) if body is not None else None
        try:
            async with self._session.request(method, self.url + path, data=data,
                                             ssl=self._ssl if self._ssl else True) as reply:
                raw = await reply.read()
                status = reply.status
        except aiohttp.ClientConnectorCertificateError:
            raise SchemaRegistryError(
                f"{method} {path}: the schema registry's TLS certificate is not trusted "
                "(ClientConnectorCertificateError); set SCHEMA_REGISTRY_CA_FILE to the CA "
                "that signed it") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SchemaRegistryError(f"{method} {path}: no usable answer from the schema "
                                      f"registry ({type(exc).__name__})") from None
        try:
            return status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            if status >= 400:  # a proxy's or gateway's own error page (401, 502...)
                return status, None
            raise SchemaRegistryError(f"{method} {path}: the schema registry answered {status} "
                                      "with a body that is not JSON") from None

    @staticmethod
    def _refused(call: str, status: int, payload: Any) -> SchemaRegistryError:
        message = payload.get("message") if isinstance(payload, dict) else None
        return SchemaRegistryError(f"{call}: the schema registry answered {status}"
                                   + (f" ({message})" if message else ""), status)

    async def schema_by_id(self, schema_id: int) -> dict[str, Any] | None:
        """The parsed Avro schema with this global id; None when the registry has no such id
        (or it is not an Avro schema)."""
        status, payload = await self._call("GET", f"/schemas/ids/{schema_id}")
        if status == 404:
            return None
        if status != 200 or not isinstance(payload, dict):
            raise self._refused(f"schema id {schema_id}", status, payload)
        if payload.get("schemaType", "AVRO") != "AVRO":
            return None
        try:
            schema = orjson.loads(payload["schema"])
        except (KeyError, TypeError, orjson.JSONDecodeError):
            raise SchemaRegistryError(f"schema id {schema_id}: not a JSON schema text") from None
        return schema if isinstance(schema, dict) else None

    async def register(self, subject: str, schema: dict[str, Any]) -> int:
        """Register (or find) ``schema`` under ``subject``; its global id. The registry refuses
        a schema incompatible with the subject's level (409)."""
        status, payload = await self._call(
            "POST", f"/subjects/{subject}/versions",
            {"schema": orjson.dumps(schema).decode(), "schemaType": "AVRO"})
        if status != 200 or not isinstance(payload, dict) or "id" not in payload:
            raise self._refused(f"registering under {subject}", status, payload)
        return int(payload["id"])

    async def set_compatibility(self, subject: str, level: str) -> None:
        status, payload = await self._call("PUT", f"/config/{subject}",
                                           {"compatibility": level})
        if status != 200:
            raise self._refused(f"compatibility of {subject}", status, payload)
