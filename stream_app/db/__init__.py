"""PostgreSQL: schema migrations for the audit trail (asyncpg)."""

from ._migrations import (
    Migration,
    MigrationError,
    apply_migrations,
    available_migrations,
    pending_migrations,
)

__all__ = [
    "Migration",
    "MigrationError",
    "apply_migrations",
    "available_migrations",
    "pending_migrations",
]
