"""The console's aiohttp application: HTTP basic auth with the sidecar's API keys (the
password is the key; :class:`~stream_app.sidecar._auth.ApiKeyAuth` checks it), the pages,
and ``/health`` / ``/ready`` for probes (no data, no auth)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
from aiohttp import BasicAuth, web

from model_registry import (
    RegistryError,
    aliases,
    list_versions,
    open_version,
    validation_auc,
    version_dir,
)
from stream_app.sidecar._auth import ApiKeyAuth
from stream_app.sidecar._keys import ApiKeyEntry, parse_api_keys

from ._pages import customer_page, model_page, models_page, page, portfolio_page
from ._queries import MAX_WINDOW_DAYS, customer_timeline, latest_day, portfolio

__all__ = ["ConsoleConfig", "build_app"]

log = logging.getLogger(__name__)

DEFAULT_WINDOW_DAYS = 30
REALM = 'Basic realm="predelinq console", charset="UTF-8"'
_PUBLIC = frozenset({"/health", "/ready"})
_POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)
_CONFIG: web.AppKey[ConsoleConfig] = web.AppKey("config", object)  # type: ignore[arg-type]
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'",
}


@dataclass(frozen=True)
class ConsoleConfig:
    database_url: str = field(repr=False)
    registry_dir: Path
    keys: tuple[ApiKeyEntry, ...] = field(default=(), repr=False)
    require_key: bool = True  # False only in development with no key configured at all
    window_days: int = DEFAULT_WINDOW_DAYS

    @classmethod
    def from_settings(cls, settings: Any, *, window_days: int = DEFAULT_WINDOW_DAYS
                      ) -> ConsoleConfig:
        """The database, registry and API keys of :class:`~stream_app.settings.Settings`,
        read through the sidecar's :class:`~stream_app.sidecar.ApiConfig` (same keys, same
        production rule: no key, no start). Unlike the API, a configured key is required in
        every environment, development too: the pages show customers' records."""
        from stream_app.sidecar import ApiConfig

        api = ApiConfig.from_settings(settings)
        if api.database_url is None:
            raise ValueError("DATABASE_URL is not set")
        return cls(database_url=api.database_url, registry_dir=Path(settings.model_registry_dir),
                   keys=api.keys, require_key=api.require_key or bool(api.keys),
                   window_days=window_days)

    @classmethod
    def with_key(cls, database_url: str, registry_dir: Path, key: str,
                 **kwargs: Any) -> ConsoleConfig:
        return cls(database_url=database_url, registry_dir=registry_dir,
                   keys=parse_api_keys((), api_key=key), **kwargs)


def offered_key(header: str | None) -> str | None:
    """The password of a ``Basic`` Authorization header (the API key), else ``None``."""
    if not header:
        return None
    try:
        credentials = BasicAuth.decode(header, encoding="utf-8")
    except ValueError:  # another scheme, bad base64 or UTF-8, no colon
        return None
    return str(credentials.password)


def _middleware(auth: ApiKeyAuth) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def guard(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        if request.path not in _PUBLIC and not auth.allows(
                offered_key(request.headers.get("Authorization"))):
            response: web.StreamResponse = web.Response(
                status=401, text="authentication required: the console's user name is "
                                 "free, the password is an API key\n",
                headers={"WWW-Authenticate": REALM})
        else:
            response = await handler(request)
        response.headers.update(_HEADERS)
        return response

    return guard


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _window(request: web.Request) -> tuple[int, dt.date | None]:
    config = request.app[_CONFIG]
    try:
        days = int(request.query.get("days", config.window_days))
        end = (dt.date.fromisoformat(request.query["end"]) if request.query.get("end")
               else None)
    except ValueError:
        raise web.HTTPBadRequest(text="days is a whole number, end a date YYYY-MM-DD\n"
                                 ) from None
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise web.HTTPBadRequest(text=f"days is 1 to {MAX_WINDOW_DAYS}\n")
    return days, end


async def _portfolio(request: web.Request) -> web.Response:
    days, end = _window(request)
    started = time.perf_counter()
    pool = request.app[_POOL]
    if end is None:  # default: the window ends on the day of the newest score
        end = await latest_day(pool) or dt.datetime.now(dt.UTC).date()
    try:
        data = await portfolio(pool, end=end, days=days)
    except asyncpg.UndefinedTableError:
        return _html(page("Database not migrated", "<p>The audit database lacks the daily "
                          "rollups of migration 0007: run <code>predelinq migrate</code>."
                          "</p>"), 503)
    return _html(portfolio_page(data, elapsed_ms=(time.perf_counter() - started) * 1000))


async def _search(request: web.Request) -> web.StreamResponse:
    customer_id = request.query.get("customer_id", "").strip()
    if not customer_id:
        raise web.HTTPFound("/")
    raise web.HTTPFound("/customers/" + quote(customer_id, safe=""))


async def _customer(request: web.Request) -> web.Response:
    customer_id = request.match_info["customer_id"]
    if len(customer_id) > 200:
        raise web.HTTPBadRequest(text="customer id too long\n")
    timeline = await customer_timeline(request.app[_POOL], customer_id)
    return _html(customer_page(timeline), 200 if timeline.found else 404)


def _auc(metadata: dict[str, Any]) -> str:
    value = validation_auc(metadata)
    return "" if value is None or math.isnan(value) else f"{value:.4f}"


def _model_rows(root: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows = []
    for version in list_versions(root):
        path = root / "versions" / version
        row: dict[str, Any] = {"version": version, "report": (path / "report.md").is_file()}
        try:
            metadata = open_version(path).metadata
        except RegistryError:
            row["status"] = "CORRUPT"
        else:
            row.update(status="OK", created=metadata.get("created_at", ""), auc=_auc(metadata))
        rows.append(row)
    rows.sort(key=lambda r: str(r.get("created", "")), reverse=True)
    return rows, aliases(root)


async def _models(request: web.Request) -> web.Response:
    rows, links = await asyncio.to_thread(_model_rows, request.app[_CONFIG].registry_dir)
    return _html(models_page(rows, links))


def _version_path(request: web.Request) -> Path:
    try:
        path = version_dir(request.app[_CONFIG].registry_dir, request.match_info["version"])
    except RegistryError:
        raise web.HTTPNotFound(text="no such version\n") from None
    if not path.is_dir():
        raise web.HTTPNotFound(text="no such version\n")
    return path


def _read_model(path: Path) -> tuple[dict[str, Any] | None, str | None, list[str]]:
    try:
        metadata: dict[str, Any] | None = open_version(path).metadata
    except RegistryError:
        metadata = None
    report_file = path / "report.md"
    report = report_file.read_text(errors="replace") if report_file.is_file() else None
    plots_dir = path / "plots"
    plots = sorted(p.name for p in plots_dir.glob("*.png")) if plots_dir.is_dir() else []
    return metadata, report, plots


async def _model(request: web.Request) -> web.Response:
    path = _version_path(request)
    metadata, report, plots = await asyncio.to_thread(_read_model, path)
    return _html(model_page(path.name, metadata, report, plots))


async def _plot(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = _version_path(request) / "plots" / name
    if "/" in name or name.startswith(".") or not name.endswith(".png") or not path.is_file():
        raise web.HTTPNotFound(text="no such plot\n")
    return web.Response(body=await asyncio.to_thread(path.read_bytes),
                        content_type="image/png")


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


# the newest migration the pages read (0007: the portfolio's daily rollups)
REQUIRED_MIGRATION = 7


async def _migrated(pool: asyncpg.Pool) -> int:
    """The newest migration applied to the database (0: none, no ``schema_migrations``)."""
    if await pool.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return 0
    return int(await pool.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


async def _ready(request: web.Request) -> web.Response:
    try:
        version = await asyncio.wait_for(_migrated(request.app[_POOL]), timeout=2.0)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return web.json_response({"status": "unavailable", "database": False}, status=503)
    if version < REQUIRED_MIGRATION:  # the pages would fail: run `predelinq migrate`
        return web.json_response({"status": "unavailable", "database": True,
                                  "migrations": f"{version} applied, "
                                                f"{REQUIRED_MIGRATION} needed"}, status=503)
    return web.json_response({"status": "ok", "database": True})


async def _not_found(request: web.Request) -> web.Response:
    return _html(page("Not found", "<p>No such page.</p>"), 404)


def build_app(config: ConsoleConfig, *,
              pool_factory: Callable[[str], Awaitable[asyncpg.Pool]] | None = None
              ) -> web.Application:
    """The console application; its connection pool opens on startup, closes on cleanup."""
    auth = ApiKeyAuth(config.keys, required=config.require_key)
    app = web.Application(middlewares=[_middleware(auth)])
    app[_CONFIG] = config

    async def pool_context(app: web.Application) -> Any:
        factory = pool_factory or _default_pool
        app[_POOL] = await factory(config.database_url)
        yield
        await app[_POOL].close()

    app.cleanup_ctx.append(pool_context)
    routes: Sequence[web.RouteDef] = (
        web.get("/", _portfolio),
        web.get("/search", _search),
        web.get("/customers/{customer_id}", _customer),
        web.get("/models", _models),
        web.get("/models/{version}", _model),
        web.get("/models/{version}/plots/{name}", _plot),
        web.get("/health", _health),
        web.get("/ready", _ready),
    )
    app.add_routes(routes)
    return app


async def _default_pool(dsn: str) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=4, command_timeout=30,
        server_settings={"application_name": "predelinq-console",
                         "default_transaction_read_only": "on"})
    return pool
