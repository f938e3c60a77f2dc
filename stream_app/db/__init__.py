"""PostgreSQL: schema migrations for the audit trail (asyncpg)."""

from ._migrations import (
    LOCK_TIMEOUT_SECONDS,
    Migration,
    MigrationError,
    MigrationLockTimeoutError,
    apply_migrations,
    available_migrations,
    pending_migrations,
)

__all__ = [
    "LOCK_TIMEOUT_SECONDS",
    "Migration",
    "MigrationError",
    "MigrationLockTimeoutError",
    "apply_migrations",
    "available_migrations",
    "pending_migrations",
]
