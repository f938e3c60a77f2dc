"""Fixtures shared by the processing tests."""

from __future__ import annotations

from typing import Any

import pytest

from stream_app.simulate import BankSimulator, SimulationConfig


@pytest.fixture(scope="session")
def history() -> list[dict[str, Any]]:
    """A simulated bank's first 120 days (2026), all long before the fake wall clock of the
    processing tests (2027, ``tests.processing.test_processor.NOW_S``)."""
    return list(BankSimulator(SimulationConfig(customers=40, days=120, seed=3)).events())
