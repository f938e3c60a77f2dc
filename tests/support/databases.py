"""Fresh PostgreSQL databases for tests: one per test, dropped afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import asyncpg

from stream_app.db import apply_migrations


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def fresh_database(server_url: str, *, migrate: bool = True) -> Iterator[str]:
    """A new database on the server of ``server_url`` (with every migration applied unless
    ``migrate`` is false); yields its URL and drops it on exit."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    base, _, _ = server_url.rpartition("/")
    url = f"{base}/{name}"
    try:
        if migrate:
            asyncio.run(apply_migrations(url))
        yield url
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


async def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(query, *args)
        return rows
    finally:
        await conn.close()
