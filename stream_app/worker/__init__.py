"""The Faust worker process: agent, table, services."""

from ._runtime import TABLE_NAME, WorkerRuntime

__all__ = ["TABLE_NAME", "WorkerRuntime"]
