"""A synthetic retail bank: customers' current accounts, cards and loans, day by day.

Each customer has an income pattern (monthly, four-weekly or irregular pay), bills paid by
direct debit, card and cash spending, optionally a credit card (statements, minimum payments,
interest) and a personal loan (instalments). A latent stress process (job loss, income shock,
over-indebtedness, medical expense) hits some customers: their balances fall, they borrow from
lending apps, use BNPL and cash, pay only minimums, direct debits bounce and, for a share of
them, arrears reach 30+ days past due weeks later; others recover (new job, one-off shock
absorbed). Confounders (irregular earners, healthy BNPL/lending-app users, one-off big spends,
December spending) keep the task from being trivial.

Delinquency is mechanical, not drawn: a due amount that the account cannot pay is missed, and
days past due count from the oldest unpaid due date until arrears are cleared. The ground truth
for labels is therefore the same days-past-due the events report.

Deterministic: customer ``i`` of seed ``s`` is the same whatever the number of customers.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BankSimulator", "CustomerTruth", "SimulationConfig"]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
DEFAULT_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STRESS_KINDS = ("job_loss", "income_shock", "over_indebtedness", "medical_expense")
EMPLOYERS = ("Northwind Logistics", "Contoso Retail", "Fabrikam Health", "City Council",
             "Tailspin Airlines", "Wide World Importers", "Adventure Works", "Litware Labs",
             "Proseware Care", "Blue Yonder Foods")


@dataclass(frozen=True)
class SimulationConfig:
    customers: int = 1000
    days: int = 180
    seed: int = 7
    start_ms: int = DEFAULT_START_MS
    stress_share: float = 0.22  # customers hit by a latent stress episode
    currency: str = "EUR"
    arrears_statuses: bool = True  # emit DELINQUENCY_STATUS from a daily arrears run


@dataclass
class CustomerTruth:
    """What the simulator knows and the bank does not (for labels and evaluation)."""

    customer_id: str
    stress_kind: str | None = None
    stress_day: int | None = None
    recovers_day: int | None = None
    dpd_by_day: dict[int, int] = field(default_factory=dict)  # day -> max dpd (only > 0 kept)

    def first_day_at_dpd(self, threshold: int, after_day: int = -1) -> int | None:
        days = [d for d, dpd in self.dpd_by_day.items() if dpd >= threshold and d > after_day]
        return min(days) if days else None


def _customer_seed(seed: int, index: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass
class _Due:
    product: str  # "card" or "loan"
    due_day: int
    amount: int  # still unpaid of this due item


class _Customer:
    """Mutable simulation state of one customer (never leaves this module)."""

    def __init__(self, index: int, config: SimulationConfig) -> None:
        rng = self.rng = random.Random(_customer_seed(config.seed, index))
        self.config = config
        self.id = f"CUST-{index:07d}"
        self.account = f"CA-{index:07d}"
        self.card_account = f"CC-{index:07d}"
        self.loan_account = f"LN-{index:07d}"
        self.seq = 0
        self.truth = CustomerTruth(self.id)
        # income
        self.pay_cycle = rng.choices(("monthly", "four_weekly", "irregular"), (0.72, 0.16, 0.12))[0]
        self.salary = int(rng.lognormvariate(8.0, 0.35) * 100)  # ~ 3,000.00 median
        self.payday = rng.randint(1, 28)
        self.pay_offset = rng.randint(0, 27)
        self.benefits = int(self.salary * 0.15) if rng.random() < 0.12 else 0
        self.employed = True
        self.employer = rng.choice(EMPLOYERS)
        self.income_factor = 1.0
        # bills
        self.rent = int(self.salary * rng.uniform(0.18, 0.36))
        self.rent_day = rng.randint(1, 5)
        self.utilities = [(rng.randint(5, 25), int(rng.uniform(40, 160) * 100))
                          for _ in range(rng.randint(2, 4))]
        # spending habits
        self.grocery_p = rng.uniform(0.25, 0.6)
        self.disc_rate = rng.uniform(0.6, 2.2)
        self.disc_scale = self.salary * rng.uniform(0.003, 0.01)
        self.atm_p = rng.uniform(0.02, 0.12)
        self.bnpl_user = rng.random() < 0.18
        self.lending_user = rng.random() < 0.06
        self.gambler = rng.random() < 0.07
        # account
        self.balance = int(self.salary * rng.uniform(0.05, 0.9))
        self.overdraft = int(self.salary * rng.uniform(0.1, 0.5)) if rng.random() < 0.45 else 0
        # credit card
        self.has_card = rng.random() < 0.7
        self.card_limit = int(rng.choice((1000, 2000, 3000, 5000, 8000)) * 100)
        self.card_balance = int(self.card_limit * rng.uniform(0.0, 0.35)) if self.has_card else 0
        self.card_behaviour = rng.choices(("full", "partial", "minimum"), (0.5, 0.35, 0.15))[0]
        self.card_share = rng.uniform(0.2, 0.6)
        self.statement_day = rng.randint(1, 28)
        self.autopay = rng.random() < 0.6  # pays by direct debit; others pay by hand
        self.stressed = False
        # personal loan
        self.has_loan = rng.random() < 0.32
        self.instalment = int(self.salary * rng.uniform(0.04, 0.12)) if self.has_loan else 0
        self.loan_day = rng.randint(1, 28)
        # delinquency bookkeeping
        self.dues: list[_Due] = []
        self.dpd = {"card": 0, "loan": 0}
        self.lending_debt = 0
        self._card_plan: tuple[int, int] | None = None  # (due day, amount this customer pays)
        self._loan_plan: int | None = None  # due day of the pending instalment
        # latent stress
        self.stress_kind: str | None = None
        self.stress_day = 10**9
        self.recover_day = 10**9
        if rng.random() < config.stress_share and config.days > 40:
            self.stress_kind = rng.choice(STRESS_KINDS)
            self.stress_day = rng.randint(20, max(21, config.days - 60))
            if rng.random() < 0.4:
                self.recover_day = self.stress_day + rng.randint(25, 90)
            self.truth.stress_kind = self.stress_kind
            self.truth.stress_day = self.stress_day
            self.truth.recovers_day = self.recover_day if self.recover_day < 10**9 else None
        self.one_off_day = rng.randint(0, config.days) if rng.random() < 0.15 else -1

    # --- helpers ---------------------------------------------------------------------------
    def _eid(self, tag: str) -> str:
        self.seq += 1
        return f"{tag}-{self.id[5:]}-{self.seq:06d}"

    def _tx(self, ts: int, amount: int, direction: str, channel: str, category: str,
            status: str = "POSTED", decline_reason: str | None = None,
            counterparty: str | None = None, mcc: str | None = None) -> dict[str, Any]:
        if status == "POSTED":
            self.balance += amount if direction == "CREDIT" else -amount
        return {
            "type": "transaction",
            "event_id": self._eid("tx"),
            "customer_id": self.id,
            "account_id": self.account,
            "occurred_at": ts,
            "amount_minor": amount,
            "currency": self.config.currency,
            "direction": direction,
            "channel": channel,
            "category": category,
            "merchant_category_code": mcc,
            "status": status,
            "decline_reason": decline_reason,
            "balance_after_minor": self.balance,
            "counterparty": counterparty,
        }

    def _payment(self, ts: int, product: str, account: str, kind: str,
                 **fields: Any) -> dict[str, Any]:
        event = {
            "type": "payment",
            "event_id": self._eid("pm"),
            "customer_id": self.id,
            "account_id": account,
            "occurred_at": ts,
            "product": product,
            "currency": self.config.currency,
            "kind": kind,
            "statement_balance_minor": None,
            "minimum_due_minor": None,
            "credit_limit_minor": None,
            "due_date": None,
            "amount_due_minor": None,
            "amount_minor": None,
            "failure_reason": None,
            "days_past_due": None,
        }
        event.update(fields)
        return event

    def _can_pay(self, amount: int) -> bool:
        return self.balance - amount >= -self.overdraft

    def _spend(self, out: list[dict[str, Any]], ts: int, amount: int, channel: str,
               category: str, mcc: str | None = None) -> None:
        if amount <= 0:
            return
        room = self.balance + self.overdraft
        if (not self.autopay and self.stressed and room < self.salary // 2
                and self.rng.random() < 0.7):
            return  # a manual payer under strain keeps the cash for rent and food
        if self._can_pay(amount):
            out.append(self._tx(ts, amount, "DEBIT", channel, category, mcc=mcc))
        else:
            out.append(self._tx(ts, amount, "DEBIT", channel, category, status="DECLINED",
                                decline_reason="INSUFFICIENT_FUNDS", mcc=mcc))

    def _direct_debit(self, out: list[dict[str, Any]], ts: int, amount: int, category: str,
                      counterparty: str) -> bool:
        if self._can_pay(amount):
            out.append(self._tx(ts, amount, "DEBIT", "DIRECT_DEBIT", category,
                                counterparty=counterparty))
            return True
        out.append(self._tx(ts, amount, "DEBIT", "DIRECT_DEBIT", category, status="RETURNED",
                            decline_reason="INSUFFICIENT_FUNDS", counterparty=counterparty))
        return False

    # --- one day -----------------------------------------------------------------------------
    def day(self, d: int, day_ms: int, month_day: int, month: int) -> list[dict[str, Any]]:
        rng = self.rng
        out: list[dict[str, Any]] = []
        stressed = self.stressed = self.stress_day <= d < self.recover_day
        kind = self.stress_kind if stressed else None
        if d == self.stress_day:
            if kind == "job_loss":
                self.employed = False
            elif kind == "income_shock":
                self.income_factor = rng.uniform(0.35, 0.65)
            elif kind == "over_indebtedness":  # a new loan on top of everything else
                self.has_loan = True
                self.instalment += int(self.salary * rng.uniform(0.2, 0.35))
                self.card_share = 0.9
            elif kind == "medical_expense":
                self._spend(out, day_ms + 11 * HOUR_MS, int(self.salary * rng.uniform(1.2, 2.5)),
                            "CARD", "OTHER", mcc="8062")
        if d == self.recover_day:
            if not self.employed:  # a new job
                self.employer = rng.choice([e for e in EMPLOYERS if e != self.employer])
            self.employed = True
            self.income_factor = 1.0

        # income
        paid_today = False
        if self.pay_cycle == "monthly":
            paid_today = month_day == self.payday
        elif self.pay_cycle == "four_weekly":
            paid_today = (d + self.pay_offset) % 28 == 0
        else:
            paid_today = (d + self.pay_offset) % 30 == 0 or rng.random() < 0.01
        if paid_today and self.employed:
            factor = self.income_factor * (rng.uniform(0.5, 1.5) if self.pay_cycle == "irregular"
                                           else rng.uniform(0.98, 1.02))
            hour = rng.randint(5, 9) if rng.random() > 0.05 else rng.randint(10, 20)
            out.append(self._tx(day_ms + hour * HOUR_MS, int(self.salary * factor), "CREDIT",
                                "TRANSFER", "SALARY", counterparty=self.employer))
        if (self.benefits and month_day == 15) or (
            kind == "job_loss" and month_day == 20 and d > self.stress_day + 20
        ):
            amount = self.benefits or int(self.salary * 0.35)
            out.append(self._tx(day_ms + 8 * HOUR_MS, amount, "CREDIT", "TRANSFER", "BENEFITS"))

        # bills
        if month_day == self.rent_day:
            self._direct_debit(out, day_ms + 7 * HOUR_MS, self.rent, "RENT", "Landlord")
        for util_day, amount in self.utilities:
            if month_day == util_day:
                self._direct_debit(out, day_ms + 7 * HOUR_MS + 1000, amount, "UTILITIES",
                                   "Utility Co")

        # everyday spending (stress changes the mix)
        grocery_p = self.grocery_p
        disc_rate = self.disc_rate * (1.6 if month == 12 else 1.0)
        atm_p, bnpl_p, lend_p, gamble_p = self.atm_p, 0.0, 0.0, 0.0
        if self.bnpl_user:
            bnpl_p = 0.04
        if self.lending_user:
            lend_p = 0.01
        if self.gambler:
            gamble_p = 0.05
        if kind is not None:
            disc_rate *= 0.8 if kind != "over_indebtedness" else 1.8
            atm_p = min(0.6, atm_p * 2.5)
            bnpl_p = max(bnpl_p, 0.08) * 1.8
            lend_p = max(lend_p, 0.03) * 2.5
            if self.gambler or rng.random() < 0.002:
                gamble_p = max(gamble_p, 0.05) * 2.0
        if rng.random() < grocery_p:
            self._spend(out, day_ms + rng.randint(9, 20) * HOUR_MS,
                        int(rng.uniform(10, 70) * 100), "CARD", "GROCERIES", mcc="5411")
        for _ in range(min(8, int(rng.expovariate(1.0) * disc_rate))):
            amount = int(rng.expovariate(1.0) * self.disc_scale) + 100
            if self.has_card and rng.random() < self.card_share:
                self.card_balance = min(self.card_limit, self.card_balance + amount)
            else:
                self._spend(out, day_ms + rng.randint(10, 22) * HOUR_MS + rng.randint(0, 3599999),
                            amount, "CARD", "DISCRETIONARY", mcc="5812")
        if rng.random() < atm_p:
            self._spend(out, day_ms + rng.randint(8, 21) * HOUR_MS,
                        rng.choice((20, 40, 50, 100, 200)) * 100, "ATM", "ATM_CASH", mcc="6011")
        if rng.random() < bnpl_p:
            self._spend(out, day_ms + 13 * HOUR_MS, int(rng.uniform(20, 150) * 100),
                        "DIRECT_DEBIT", "BNPL")
        if rng.random() < gamble_p:
            self._spend(out, day_ms + 22 * HOUR_MS, int(rng.uniform(10, 200) * 100), "CARD",
                        "GAMBLING", mcc="7995")
        if rng.random() < lend_p:
            borrowed = int(rng.uniform(100, 600) * 100)
            self.lending_debt += int(borrowed * 1.25)
            out.append(self._tx(day_ms + 12 * HOUR_MS, borrowed, "CREDIT", "TRANSFER",
                                "LENDING_APP", counterparty="QuickCash App"))
        if self.lending_debt and month_day in (1, 15):
            repay = min(self.lending_debt, int(self.lending_debt * 0.5) + 1)
            if self._direct_debit(out, day_ms + 6 * HOUR_MS, repay, "LENDING_APP",
                                  "QuickCash App"):
                self.lending_debt -= repay
        if d == self.one_off_day:
            self._spend(out, day_ms + 15 * HOUR_MS, int(self.salary * rng.uniform(0.4, 1.0)),
                        "CARD", "DISCRETIONARY", mcc="4722")

        # credit card: statement, then payment on the due date
        if self.has_card and month_day == self.statement_day:
            self.card_balance = int(self.card_balance * 1.018)  # monthly interest
            minimum = min(self.card_balance, max(2500, self.card_balance * 3 // 100))
            due_day = d + 21
            out.append(self._payment(day_ms + 3 * HOUR_MS, "CREDIT_CARD", self.card_account,
                                     "STATEMENT_ISSUED",
                                     statement_balance_minor=self.card_balance,
                                     minimum_due_minor=minimum,
                                     credit_limit_minor=self.card_limit,
                                     due_date=(self.config.start_ms // DAY_MS) + due_day))
            if minimum > 0:
                plan = self.card_behaviour
                if kind is not None:
                    plan = "minimum"
                if plan == "full":
                    amount = self.card_balance
                elif plan == "partial":
                    amount = max(minimum, int(self.card_balance * rng.uniform(0.2, 0.6)))
                else:
                    amount = minimum
                self.dues.append(_Due("card", due_day, minimum))
                self._card_plan = (due_day, amount)
        if self._card_plan is not None and self._card_plan[0] == d:
            _, amount = self._card_plan
            self._card_plan = None
            if not self._can_pay(amount):  # pay what is owed at least, if the account allows
                amount = sum(x.amount for x in self.dues if x.product == "card")
            self._pay(out, day_ms + 6 * HOUR_MS, "card", amount)

        # personal loan: instalment notice 14 days ahead, payment on the due date
        if self.has_loan and month_day == self.loan_day:
            due_day = d + 14
            out.append(self._payment(day_ms + 3 * HOUR_MS, "PERSONAL_LOAN", self.loan_account,
                                     "INSTALMENT_DUE", amount_due_minor=self.instalment,
                                     due_date=(self.config.start_ms // DAY_MS) + due_day))
            self.dues.append(_Due("loan", due_day, self.instalment))
            self._loan_plan = due_day
        if self._loan_plan == d:
            self._loan_plan = None
            self._pay(out, day_ms + 6 * HOUR_MS + 1000, "loan", self.instalment)

        # catch-up: on payday a customer in arrears tries to clear them
        if paid_today and any(due.due_day < d and due.amount > 0 for due in self.dues):
            for product in ("card", "loan"):
                owed = sum(x.amount for x in self.dues if x.product == product and x.due_day < d)
                if owed and self._can_pay(owed) and rng.random() < 0.8:
                    self._pay(out, day_ms + 10 * HOUR_MS, product, owed)

        # daily arrears run (core banking): days past due per product
        self._arrears_run(out, d, day_ms)
        out.sort(key=lambda e: e["occurred_at"])
        return out

    def _pay(self, out: list[dict[str, Any]], ts: int, product: str, amount: int) -> None:
        is_card = product == "card"
        account = self.card_account if is_card else self.loan_account
        label = "CREDIT_CARD" if is_card else "PERSONAL_LOAN"
        if amount <= 0:
            return
        room = self.balance + self.overdraft
        if (not self.autopay and self.stressed and room < self.salary // 2
                and self.rng.random() < 0.7):
            return  # a manual payer under strain keeps the cash for rent and food
        if self._can_pay(amount):
            out.append(self._tx(ts, amount, "DEBIT", "DIRECT_DEBIT", "LOAN_REPAYMENT",
                                counterparty="Own credit product"))
            out.append(self._payment(ts + 1, label, account, "PAYMENT_RECEIVED",
                                     amount_minor=amount))
            if is_card:
                self.card_balance = max(0, self.card_balance - amount)
            remaining = amount
            for due in self.dues:  # oldest first
                if due.product == product and remaining > 0:
                    paid = min(due.amount, remaining)
                    due.amount -= paid
                    remaining -= paid
            self.dues = [due for due in self.dues if due.amount > 0]
        else:
            out.append(self._tx(ts, amount, "DEBIT", "DIRECT_DEBIT", "LOAN_REPAYMENT",
                                status="RETURNED", decline_reason="INSUFFICIENT_FUNDS",
                                counterparty="Own credit product"))
            out.append(self._payment(ts + 1, label, account, "PAYMENT_FAILED",
                                     amount_minor=amount, failure_reason="INSUFFICIENT_FUNDS"))

    def _arrears_run(self, out: list[dict[str, Any]], d: int, day_ms: int) -> None:
        worst = 0
        for product, account, label in (("card", self.card_account, "CREDIT_CARD"),
                                        ("loan", self.loan_account, "PERSONAL_LOAN")):
            overdue = [due.due_day for due in self.dues if due.product == product
                       and due.due_day < d and due.amount > 0]
            dpd = d - min(overdue) if overdue else 0
            previous = self.dpd[product]
            self.dpd[product] = dpd
            worst = max(worst, dpd)
            if self.config.arrears_statuses and (dpd > 0 or previous > 0):
                out.append(self._payment(day_ms + 2 * HOUR_MS, label, account,
                                         "DELINQUENCY_STATUS", days_past_due=dpd))
        if worst > 0:
            self.truth.dpd_by_day[d] = worst


class BankSimulator:
    """Generates the bank's events in event-time order, one simulated day at a time."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self._customers = [_Customer(i, config) for i in range(config.customers)]

    @property
    def truths(self) -> list[CustomerTruth]:
        return [c.truth for c in self._customers]

    def days(self) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """Yield ``(day index, that day's events sorted by occurred_at)``."""
        import datetime as dt

        start = dt.datetime.fromtimestamp(self.config.start_ms / 1000, tz=dt.UTC)
        for d in range(self.config.days):
            date = start + dt.timedelta(days=d)
            day_ms = self.config.start_ms + d * DAY_MS
            events: list[dict[str, Any]] = []
            for customer in self._customers:
                events.extend(customer.day(d, day_ms, date.day, date.month))
            events.sort(key=lambda e: e["occurred_at"])
            yield d, events

    def events(self) -> Iterator[dict[str, Any]]:
        for _, events in self.days():
            yield from events
