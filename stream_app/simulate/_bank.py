"""A synthetic retail bank: customers' current accounts, cards and loans, day by day.

Each customer (:mod:`._customer`) is a small budget model with income, planned outgoings, a
liquid buffer and credit products; a latent stress process (job loss, income shock, expense
shock, over-indebtedness) hits some of them, and noise (fraud bursts refunded later, forgetful
payers, late salaries, holidays, seasonal spending, healthy habits that look like stress)
keeps the task honest. The scenario (:mod:`._config`: ``reference`` or ``hard``) sets how
strong, early and noisy the signals are; docs/simulator.md shows the figures of a run.

Delinquency is mechanical, not drawn: a due amount that the account cannot pay is missed, and
days past due count from the oldest unpaid due date until arrears are cleared. The ground truth
for labels is therefore the same days-past-due the events report.

Deterministic: customer ``i`` of seed ``s`` is the same whatever the number of customers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from ._config import DEFAULT_START_MS, SCENARIOS, STRESS_KINDS, Scenario, SimulationConfig
from ._customer import DAY_MS, HOUR_MS, CustomerTruth, SimCustomer

__all__ = ["DAY_MS", "DEFAULT_START_MS", "HOUR_MS", "SCENARIOS", "STRESS_KINDS",
           "BankSimulator", "CustomerTruth", "Scenario", "SimulationConfig"]


class BankSimulator:
    """Generates the bank's events in event-time order, one simulated day at a time."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self._customers = [SimCustomer(i, config) for i in range(config.customers)]

    @property
    def truths(self) -> list[CustomerTruth]:
        return [c.finish() for c in self._customers]

    def days(self) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """Yield ``(day index, that day's events sorted by occurred_at)``."""
        start = dt.datetime.fromtimestamp(self.config.start_ms / 1000, tz=dt.UTC)
        for d in range(self.config.days):
            date = (start + dt.timedelta(days=d)).date()
            day_ms = self.config.start_ms + d * DAY_MS
            events: list[dict[str, Any]] = []
            for customer in self._customers:
                events.extend(customer.day(d, day_ms, date))
            events.sort(key=lambda e: e["occurred_at"])
            yield d, events

    def events(self) -> Iterator[dict[str, Any]]:
        for _, events in self.days():
            yield from events
