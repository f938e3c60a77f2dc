"""Figures of a simulation run: event mix, how stress unfolds, how noisy the signals are.

``simulation_figures(config)`` runs the simulator and measures, from the events it emits and
its ground truth (nothing the bank could not see is used for the signals):

* the **event mix** per customer per 30 days;
* **outcomes by stress kind**: customers, share who miss a payment, share who reach 30 days
  past due (DPD), share of missers who cure below 30 DPD, days from the onset to the missed
  due date that leads to 30 DPD;
* **signals before the miss**: for customers who reach 30 DPD, the share showing each
  signal in the 90 days before the missed due date that led there, and how many days before
  it the signal first showed; for customers who never miss, the share showing the same
  signal at any time (the noise a model must see through);
* **cures and re-defaults** among customers who miss.

``predelinq simulate --summary`` prints them as Markdown; docs/simulator.md quotes a run.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from statistics import median
from typing import Any

from ._bank import BankSimulator
from ._config import STRESS_KINDS, SimulationConfig
from ._customer import CustomerTruth

__all__ = ["SIGNALS", "SimulationFigures", "render_figures", "simulation_figures"]

WINDOW_DAYS = 90


@dataclass
class _Track:
    """Running per-customer facts while the events stream by."""

    salaries: list[int]
    last_salary_day: int = -1
    limit: int = 0
    minimum: int = 0


Signal = Callable[[dict[str, Any], _Track, int], bool]


def _smaller_salary(e: dict[str, Any], t: _Track, day: int) -> bool:
    if e.get("category") != "SALARY" or e.get("direction") != "CREDIT":
        return False
    usual = median(t.salaries[-6:]) if len(t.salaries) >= 2 else None
    return usual is not None and e["amount_minor"] < 0.8 * usual


def _salary_gap(e: dict[str, Any], t: _Track, day: int) -> bool:
    # seen at the first event more than 35 days after the last salary
    return t.last_salary_day >= 0 and day - t.last_salary_day > 35


def _failed_dd(e: dict[str, Any], t: _Track, day: int) -> bool:
    return e.get("channel") == "DIRECT_DEBIT" and e.get("status") == "RETURNED"


def _nsf(e: dict[str, Any], t: _Track, day: int) -> bool:
    return e.get("status") == "DECLINED" and e.get("decline_reason") == "INSUFFICIENT_FUNDS"


def _savings(e: dict[str, Any], t: _Track, day: int) -> bool:
    return e.get("category") == "SAVINGS_TRANSFER" and e.get("direction") == "CREDIT"


def _lending(e: dict[str, Any], t: _Track, day: int) -> bool:
    return e.get("category") == "LENDING_APP" and e.get("direction") == "CREDIT"


def _overdrawn(e: dict[str, Any], t: _Track, day: int) -> bool:
    balance = e.get("balance_after_minor")
    return isinstance(balance, int) and balance < 0


def _high_utilisation(e: dict[str, Any], t: _Track, day: int) -> bool:
    limit = e.get("credit_limit_minor") or 0
    return (e.get("kind") == "STATEMENT_ISSUED" and limit > 0
            and (e.get("statement_balance_minor") or 0) >= 0.8 * limit)


def _minimum_only(e: dict[str, Any], t: _Track, day: int) -> bool:
    return (e.get("kind") == "PAYMENT_RECEIVED" and e.get("product") == "CREDIT_CARD"
            and t.minimum > 0 and e.get("amount_minor") == t.minimum)


def _new_loan(e: dict[str, Any], t: _Track, day: int) -> bool:
    return e.get("kind") == "INSTALMENT_DUE" and str(e.get("account_id", "")).startswith("LN2-")


SIGNALS: dict[str, tuple[str, Signal]] = {
    "salary_smaller": ("a salary at least 20% below the usual", _smaller_salary),
    "salary_gap": ("no salary for more than 35 days", _salary_gap),
    "failed_direct_debit": ("a direct debit returned unpaid", _failed_dd),
    "nsf_decline": ("a payment declined for insufficient funds", _nsf),
    "savings_drawdown": ("money brought in from savings", _savings),
    "lending_app": ("money borrowed from a lending app", _lending),
    "overdrawn": ("a balance below zero", _overdrawn),
    "high_utilisation": ("a card statement at 80% of the limit or more", _high_utilisation),
    "minimum_only": ("a card payment of exactly the minimum", _minimum_only),
    "new_credit": ("a new loan's first instalment notice", _new_loan),
}


@dataclass(frozen=True)
class SimulationFigures:
    config: SimulationConfig
    customers: int
    events_per_customer_month: dict[str, float]
    outcomes: dict[str, dict[str, float]]  # stress kind (or "none") -> figures
    signals_before_miss: dict[str, dict[str, float]]  # signal -> share, median lead, noise
    delinquent: int
    never_missed: int
    missed: int
    cured_within_30: float
    redefaulted: float


def _first_miss(truth: CustomerTruth) -> tuple[int | None, int | None]:
    """(first-ever missed due date, missed due date that led to 30 DPD)."""
    days = truth.dpd_by_day
    if not days:
        return None, None
    first = min(days)
    reached = [d for d, v in days.items() if v >= 30]
    led = min(reached) - days[min(reached)] if reached else None
    return first - days[first], led


def simulation_figures(config: SimulationConfig) -> SimulationFigures:
    simulator = BankSimulator(config)
    mix: Counter[str] = Counter()
    first_seen: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    tracks: dict[str, _Track] = {}
    for day, events in simulator.days():
        for e in events:
            customer = e["customer_id"]
            t = tracks.setdefault(customer, _Track([]))
            if e["type"] == "transaction":
                mix[f"transaction {e['channel']}"] += 1
            else:
                mix[f"payment {e['kind']}"] += 1
            for name, (_, signal) in SIGNALS.items():
                if signal(e, t, day):
                    first_seen[customer][name].append(day)
            if e.get("category") == "SALARY" and e.get("direction") == "CREDIT":
                t.salaries.append(e["amount_minor"])
                t.last_salary_day = day
            if e.get("kind") == "STATEMENT_ISSUED":
                t.minimum = e.get("minimum_due_minor") or 0
    truths = simulator.truths
    months = config.days / 30
    per_month = {k: v / len(truths) / months for k, v in sorted(mix.items())}
    per_month["all transactions"] = sum(v for k, v in per_month.items()
                                        if k.startswith("transaction"))
    per_month["all payment events"] = sum(v for k, v in per_month.items()
                                          if k.startswith("payment"))
    outcomes = _outcomes(truths)
    signals = _signals(truths, first_seen)
    missed = [t for t in truths if t.dpd_by_day]
    cured = sum(1 for t in missed if _cured_within(t, 30))
    redefaulted = sum(1 for t in missed if _episodes(t) >= 2)
    return SimulationFigures(
        config, len(truths), per_month, outcomes, signals,
        sum(1 for t in truths if _first_miss(t)[1] is not None),
        sum(1 for t in truths if not t.dpd_by_day), len(missed),
        cured / len(missed) if missed else 0.0, redefaulted / len(missed) if missed else 0.0)


def _episodes(truth: CustomerTruth) -> int:
    days = sorted(truth.dpd_by_day)
    return sum(1 for i, d in enumerate(days) if i == 0 or d != days[i - 1] + 1)


def _cured_within(truth: CustomerTruth, limit: int) -> bool:
    """The first arrears episode ended before reaching ``limit`` days past due."""
    days = sorted(truth.dpd_by_day)
    episode = [days[0]]
    for d in days[1:]:
        if d != episode[-1] + 1:
            break
        episode.append(d)
    return max(truth.dpd_by_day[d] for d in episode) < limit


def _outcomes(truths: Iterable[CustomerTruth]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[CustomerTruth]] = defaultdict(list)
    for truth in truths:
        groups[truth.stress_kind or "none"].append(truth)
    result: dict[str, dict[str, float]] = {}
    for kind in (*STRESS_KINDS, "none"):
        members = groups.get(kind, [])
        if not members:
            continue
        miss = [t for t in members if t.dpd_by_day]
        delinquent = [t for t in members if _first_miss(t)[1] is not None]
        leads = [led - t.stress_day for t in delinquent
                 if t.stress_day is not None and (led := _first_miss(t)[1]) is not None]
        result[kind] = {
            "customers": len(members),
            "miss": len(miss) / len(members),
            "reach_30_dpd": len(delinquent) / len(members),
            "cure_below_30": (len(miss) - len(delinquent)) / len(miss) if miss else 0.0,
            "onset_to_missed_due_median_days": float(median(leads)) if leads else float("nan"),
            "recovered_in_run": (sum(1 for t in members if t.recovers_day is not None)
                                 / len(members)) if kind != "none" else float("nan"),
        }
    return result


def _signals(truths: Iterable[CustomerTruth],
             first_seen: dict[str, dict[str, list[int]]]) -> dict[str, dict[str, float]]:
    truths = list(truths)
    delinquent = [(t, led) for t in truths if (led := _first_miss(t)[1]) is not None
                  and led >= WINDOW_DAYS]
    clean = [t for t in truths if not t.dpd_by_day]
    result: dict[str, dict[str, float]] = {}
    for name in SIGNALS:
        leads = []
        for truth, led in delinquent:
            days = [d for d in first_seen.get(truth.customer_id, {}).get(name, [])
                    if led - WINDOW_DAYS <= d < led]
            if days:
                leads.append(led - min(days))
        noise = sum(1 for t in clean if first_seen.get(t.customer_id, {}).get(name))
        result[name] = {
            "share_before_miss": len(leads) / len(delinquent) if delinquent else 0.0,
            "median_days_before": float(median(leads)) if leads else float("nan"),
            "share_never_missing": noise / len(clean) if clean else 0.0,
        }
    return result


def render_figures(figures: SimulationFigures) -> str:
    """The figures as Markdown tables."""
    c = figures.config
    lines = [f"# Simulation figures: scenario `{c.scenario}`, {figures.customers:,} customers "
             f"x {c.days} days, seed {c.seed}", "",
             f"{figures.delinquent:,} customers reach 30 days past due "
             f"({figures.delinquent / figures.customers:.1%}); {figures.missed:,} miss a payment "
             f"({figures.missed / figures.customers:.1%}); of those who miss, "
             f"{figures.cured_within_30:.0%} cure their first episode below 30 DPD and "
             f"{figures.redefaulted:.0%} fall behind again after a cure.", "",
             "## Events per customer per 30 days", "", "| event | per customer-month |",
             "| --- | ---: |"]
    lines += [f"| {k} | {v:.2f} |" for k, v in figures.events_per_customer_month.items()]
    lines += ["", "## Outcomes by stress kind", "",
              "| stress | customers | miss | reach 30 DPD | missers who cure < 30 DPD | "
              "onset to missed due date (median days) | episode ends in the run |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for kind, o in figures.outcomes.items():
        lines.append(f"| {kind} | {o['customers']:.0f} | {o['miss']:.1%} | "
                     f"{o['reach_30_dpd']:.1%} | {o['cure_below_30']:.0%} | "
                     f"{_days(o['onset_to_missed_due_median_days'])} | "
                     f"{_share(o['recovered_in_run'])} |")
    lines += ["", f"## Signals in the {WINDOW_DAYS} days before the missed due date", "",
              "Customers who reach 30 DPD (missed due date after day 90): share showing the "
              "signal in the 90 days before the missed due date that led there, and the "
              "median of how many days before it first showed. Noise: share of customers "
              "who never miss a payment showing the same signal at any time.", "",
              "| signal | shown before the miss | median days before | never-missing "
              "customers showing it |", "| --- | ---: | ---: | ---: |"]
    for name, s in figures.signals_before_miss.items():
        lines.append(f"| {SIGNALS[name][0]} | {s['share_before_miss']:.0%} | "
                     f"{_days(s['median_days_before'])} | {s['share_never_missing']:.1%} |")
    return "\n".join(lines) + "\n"


def _days(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0f}"


def _share(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0%}"

